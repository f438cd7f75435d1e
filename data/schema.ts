/**
 * The DropletVideo-10M metadata schema: one row per clip.
 *
 * Released columns (section 7 of the spec): `url`, `fps`, `framestamp` (`"(start, end)"`),
 * `quality_score`, and a caption (its column name is UNVERIFIED; importers accept aliases).
 * Derived columns are ours: clip id, frame count, duration, aesthetic and motion statistics,
 * camera-motion class, the MAG value M, and a local file path where the clip has one.
 *
 * Frame ranges are half-open: frames `startFrame .. endFrame - 1`, so `frameCount = end - start`
 * (the download scripts cut `[start, end)`; an assumption, as the scripts do not say).
 * Stored column names are snake_case (what pandas and DuckDB users expect); TypeScript fields are
 * camelCase; {@linkcode clipColumns} maps one to the other.
 *
 * @module
 */
import { Field, Float64, Int32, Schema, Utf8 } from "apache-arrow";

/** One clip's metadata. Nullable fields are `null` when unknown (never NaN or ""). */
export interface ClipRow {
  /** `{ytid}--{start:06d}_{end:06d}`: unique per (video, frame range). */
  clipId: string;
  /** Source video URL. */
  url: string;
  /** Source frame rate, > 0. */
  fps: number;
  /** First frame of the clip in the source video (inclusive). */
  startFrame: number;
  /** End of the clip in the source video (exclusive), > startFrame. */
  endFrame: number;
  /** endFrame - startFrame. */
  frameCount: number;
  /** Seconds: frameCount / fps. */
  duration: number;
  /** The released quality score (DOVER-like); for curated clips our technical score in [0, 1]. */
  qualityScore: number;
  /** Long caption (about 206 words on average in DropletVideo-10M). */
  caption: string;
  /** LAION-style aesthetic score, when known. */
  aestheticScore: number | null;
  /** Mean optical-flow displacement, pixels per frame at the analysis resolution, when known. */
  motionMean: number | null;
  /** Camera-motion class (`camera_motion.ts` labels), when known. */
  cameraMotion: string | null;
  /** MAG motion value M = N * fps / frameCount for the N recorded in the file's metadata. */
  m: number;
  /** Local video file holding the clip's frames (frame range as above), when there is one. */
  path: string | null;
}

/** Storage type of a column. */
export type ColumnType = "string" | "float64" | "int32";

/** One column: TypeScript key, stored name, type, nullability. */
export interface ColumnSpec {
  key: keyof ClipRow;
  column: string;
  type: ColumnType;
  nullable: boolean;
}

/** The columns in stored order. */
export const clipColumns: readonly ColumnSpec[] = [
  { key: "clipId", column: "clip_id", type: "string", nullable: false },
  { key: "url", column: "url", type: "string", nullable: false },
  { key: "fps", column: "fps", type: "float64", nullable: false },
  { key: "startFrame", column: "start_frame", type: "int32", nullable: false },
  { key: "endFrame", column: "end_frame", type: "int32", nullable: false },
  { key: "frameCount", column: "frame_count", type: "int32", nullable: false },
  { key: "duration", column: "duration", type: "float64", nullable: false },
  { key: "qualityScore", column: "quality_score", type: "float64", nullable: false },
  { key: "caption", column: "caption", type: "string", nullable: false },
  { key: "aestheticScore", column: "aesthetic_score", type: "float64", nullable: true },
  { key: "motionMean", column: "motion_mean", type: "float64", nullable: true },
  { key: "cameraMotion", column: "camera_motion", type: "string", nullable: true },
  { key: "m", column: "m", type: "float64", nullable: false },
  { key: "path", column: "path", type: "string", nullable: true },
];

/** The N used for the `m` column unless an importer is told otherwise (phase-2 training). */
export const defaultMagN = 85;

/**
 * The column spec of a TypeScript key; throws on an unknown key.
 *
 * @example
 * ```ts
 * import { columnOf } from "./schema.ts";
 * columnOf("qualityScore").column; // "quality_score"
 * ```
 */
export function columnOf(key: string): ColumnSpec {
  const spec = clipColumns.find((c) => c.key === key);
  if (!spec) {
    throw new RangeError(
      `Unknown clip column "${key}"; known: ${clipColumns.map((c) => c.key).join(", ")}`,
    );
  }
  return spec;
}

/**
 * The Arrow schema of clip rows, restricted to `keys` (all columns by default), with the stored
 * (snake_case) field names and optional schema metadata.
 *
 * @example
 * ```ts
 * import { arrowSchema } from "./schema.ts";
 * arrowSchema(["clipId", "fps"]).fields.map((f) => f.name); // ["clip_id", "fps"]
 * ```
 */
export function arrowSchema(
  keys?: readonly (keyof ClipRow)[],
  metadata?: Map<string, string>,
): Schema {
  const specs = keys ? keys.map(columnOf) : clipColumns;
  const fields = specs.map((s) => {
    const type = s.type === "string"
      ? new Utf8()
      : s.type === "int32"
      ? new Int32()
      : new Float64();
    return new Field(s.column, type, s.nullable);
  });
  return metadata ? new Schema(fields, metadata) : new Schema(fields);
}

/** A frame range parsed from a framestamp. */
export interface FrameRange {
  start: number;
  end: number;
}

/**
 * Parses a released `framestamp` such as `"(120, 339)"` (also `[a, b]` or `a,b`); `null` when it
 * is not two integers.
 *
 * @example
 * ```ts
 * import { parseFramestamp } from "./schema.ts";
 * parseFramestamp("(120, 339)"); // { start: 120, end: 339 }
 * parseFramestamp("(1.5, x)"); // null
 * ```
 */
export function parseFramestamp(text: string): FrameRange | null {
  const match = /^\s*[([]?\s*(-?\d+)\s*,\s*(-?\d+)\s*[)\]]?\s*$/.exec(text);
  if (!match) return null;
  const start = Number(match[1]), end = Number(match[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return null;
  return { start, end };
}

/**
 * The YouTube id of a URL (`watch?v=`, `youtu.be/`, `shorts/`, `embed/`), or for other URLs a
 * stable 8-hex-digit digest of it.
 *
 * @example
 * ```ts
 * import { videoId } from "./schema.ts";
 * videoId("https://www.youtube.com/watch?v=dQw4w9WgXcQ"); // "dQw4w9WgXcQ"
 * ```
 */
export function videoId(url: string): string {
  const match = /(?:[?&]v=|youtu\.be\/|\/shorts\/|\/embed\/)([A-Za-z0-9_-]{6,})/.exec(url);
  if (match) return match[1]!;
  let h = 0x811c9dc5;
  for (let i = 0; i < url.length; i++) h = Math.imul(h ^ url.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

/**
 * The clip id `{ytid}--{start:06d}_{end:06d}` (the released clip file name without the quality
 * suffix and extension).
 *
 * @example
 * ```ts
 * import { clipIdOf } from "./schema.ts";
 * clipIdOf("https://youtu.be/abcdefghijk", 12, 345); // "abcdefghijk--000012_000345"
 * ```
 */
export function clipIdOf(url: string, start: number, end: number): string {
  const pad = (v: number) => String(v).padStart(6, "0");
  return `${videoId(url)}--${pad(start)}_${pad(end)}`;
}

/** A raw record from a released file: values as read (strings from CSV, numbers from Parquet). */
export interface RawClipRecord {
  url?: unknown;
  fps?: unknown;
  framestamp?: unknown;
  quality_score?: unknown;
  caption?: unknown;
}

/** Why a raw record was rejected. */
export type RejectReason =
  | "missing url"
  | "unparseable fps"
  | "fps <= 0"
  | "unparseable framestamp"
  | "end <= start"
  | "unparseable quality_score"
  | "wrong field count";

/** The result of validating one raw record. */
export type ValidatedRecord = { ok: true; row: ClipRow } | { ok: false; reason: RejectReason };

function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && value.trim() !== "") return Number(value);
  return NaN;
}

/**
 * Validates a released record and derives our columns; the first failing check names the
 * reason (checked in the order url, fps, framestamp, range, quality_score).
 *
 * @example
 * ```ts
 * import { validateRecord } from "./schema.ts";
 * const r = validateRecord({ url: "https://youtu.be/abcdefghijk", fps: "30",
 *   framestamp: "(0, 90)", quality_score: "4.2", caption: "A cat." });
 * // r.ok === true; r.row.duration === 3
 * ```
 */
export function validateRecord(raw: RawClipRecord, magN = defaultMagN): ValidatedRecord {
  const url = typeof raw.url === "string" ? raw.url.trim() : "";
  if (url === "") return { ok: false, reason: "missing url" };
  const fps = toNumber(raw.fps);
  if (Number.isNaN(fps) || !Number.isFinite(fps)) return { ok: false, reason: "unparseable fps" };
  if (fps <= 0) return { ok: false, reason: "fps <= 0" };
  const range = typeof raw.framestamp === "string" ? parseFramestamp(raw.framestamp) : null;
  if (!range) return { ok: false, reason: "unparseable framestamp" };
  if (range.end <= range.start) return { ok: false, reason: "end <= start" };
  const qualityScore = toNumber(raw.quality_score);
  if (!Number.isFinite(qualityScore)) return { ok: false, reason: "unparseable quality_score" };
  const frameCount = range.end - range.start;
  return {
    ok: true,
    row: {
      clipId: clipIdOf(url, range.start, range.end),
      url,
      fps,
      startFrame: range.start,
      endFrame: range.end,
      frameCount,
      duration: frameCount / fps,
      qualityScore,
      caption: typeof raw.caption === "string" ? raw.caption : "",
      aestheticScore: null,
      motionMean: null,
      cameraMotion: null,
      m: (magN * fps) / frameCount,
      path: null,
    },
  };
}
