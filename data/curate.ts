/**
 * The curation pipeline, after DropletVideo-10M's (section 7 of the spec): decode a video at a
 * low analysis resolution; split it into shots (HSV content difference, `shot_detect.ts`); split
 * shots further where the optical flow jumps between adjacent frame pairs or exceeds an upper
 * bound; keep segments long enough and moving enough; label each segment's camera motion from
 * its fitted global flow model (`camera_motion.ts`, the flow computed with array ops on the
 * current device, the fit on the host); score technical quality (`quality.ts`); and
 * write accepted segments as clip rows (frame ranges into the source file) to sharded metadata.
 * Every rejected segment is counted by reason and listed in `rejects.jsonl`.
 *
 * Not reproduced: the Video Swin camera-motion classifier, LAION aesthetics, DOVER and the
 * InternVL2 captioner (model-based; rows carry `aestheticScore: null` and the given caption).
 * Motion statistics are in pixels per frame at the analysis width (64 by default).
 *
 * @module
 */
import { averageMotion, type ClassifyOptions, labelMotion, pairMotions } from "./camera_motion.ts";
import { ClipWriter, type ClipWriterOptions } from "./clip_writer.ts";
import { qualityScores } from "./quality.ts";
import { type ClipRow, defaultMagN } from "./schema.ts";
import { detectShots, type ShotOptions, type Shots } from "./shot_detect.ts";
import { decode, probe } from "./video.ts";

/** Options of {@linkcode curateVideo} and {@linkcode curate}. */
export interface CurateOptions {
  /** Width frames are analysed at (height keeps the aspect ratio); 64. */
  analysisWidth?: number;
  /** Shot detection options (threshold 27, minimum 15 frames). */
  shots?: ShotOptions;
  /** Keep segments whose mean flow is at least this (px/frame); 0.02 (drops frozen video). */
  minDisplacement?: number;
  /** Cut at frame pairs whose mean flow exceeds this (px/frame); 8. */
  maxDisplacement?: number;
  /** Cut where the mean flow of adjacent pairs differs by more than this (px/frame); 2. */
  jumpThreshold?: number;
  /** Keep segments of at least this many frames; 16. */
  minFrames?: number;
  /** Keep segments whose combined quality score is at least this; 0.3. */
  minQuality?: number;
  /** Camera-motion classification options. */
  classify?: ClassifyOptions;
  /** N for the `m` column; 85. */
  magN?: number;
  /** URL recorded in the rows; `file://` + the path by default. */
  url?: string;
  /** Caption recorded in the rows; "" by default (captioning is a separate, model-based step). */
  caption?: string;
}

/** Why a segment was not kept. */
export type CurateRejectReason = "too short" | "too little motion" | "low quality";

/** A rejected segment. */
export interface RejectedSegment {
  start: number;
  end: number;
  reason: CurateRejectReason;
}

/** What curating one video found. */
export interface CuratedVideo {
  rows: ClipRow[];
  rejected: RejectedSegment[];
  shots: Shots;
}

function basename(path: string): string {
  return (path.split("/").pop() ?? path).replace(/\.[^.]+$/, "");
}

/**
 * Curates one video file: shots, motion segments, labels, quality, rows.
 *
 * @example
 * ```ts ignore
 * import { curateVideo } from "./curate.ts";
 * const { rows, rejected, shots } = await curateVideo("raw/video.mp4");
 * rows.map((r) => [r.startFrame, r.endFrame, r.cameraMotion]);
 * ```
 */
export async function curateVideo(
  path: string,
  options: CurateOptions = {},
): Promise<CuratedVideo> {
  const {
    analysisWidth = 64,
    minDisplacement = 0.02,
    maxDisplacement = 8,
    jumpThreshold = 2,
    minFrames = 16,
    minQuality = 0.3,
    magN = defaultMagN,
  } = options;
  const info = await probe(path);
  const height = Math.max(2, 2 * Math.round((analysisWidth * info.height) / info.width / 2));
  const { frames, fps } = await decode(path, { size: { width: analysisWidth, height } });
  const shots = detectShots(frames, options.shots);
  const rows: ClipRow[] = [];
  const rejected: RejectedSegment[] = [];
  const stem = basename(path);
  const absolute = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  // The flow of every adjacent pair of the video at once (pair k: frames k, k + 1); pairs that
  // straddle a cut are computed too and never read.
  const allMotions = await pairMotions(frames, 0, frames.shape[0], options.classify?.flow);
  for (const shot of shots.shots) {
    const motions = allMotions.slice(shot.start, shot.end - 1); // pair k: start + k, start + k + 1
    const segments: { start: number; end: number }[] = [];
    let a = shot.start;
    motions.forEach((m, k) => {
      const f = shot.start + k;
      const prev = k > 0 && f > a ? motions[k - 1]! : null;
      const jump = prev !== null && Math.abs(m.displacement - prev.displacement) > jumpThreshold;
      if (m.displacement > maxDisplacement || jump) {
        segments.push({ start: a, end: f + 1 });
        a = f + 1;
      }
    });
    segments.push({ start: a, end: shot.end });
    for (const seg of segments) {
      if (seg.end - seg.start < minFrames) {
        if (seg.end > seg.start) rejected.push({ ...seg, reason: "too short" });
        continue;
      }
      const own = motions.slice(seg.start - shot.start, seg.end - shot.start - 1);
      const motion = averageMotion(own);
      if (motion.displacement < minDisplacement) {
        rejected.push({ ...seg, reason: "too little motion" });
        continue;
      }
      const quality = qualityScores(frames, seg.start, seg.end);
      if (quality.score < minQuality) {
        rejected.push({ ...seg, reason: "low quality" });
        continue;
      }
      const frameCount = seg.end - seg.start;
      const pad = (v: number) => String(v).padStart(6, "0");
      rows.push({
        clipId: `${stem}--${pad(seg.start)}_${pad(seg.end)}`,
        url: options.url ?? `file://${absolute}`,
        fps,
        startFrame: seg.start,
        endFrame: seg.end,
        frameCount,
        duration: frameCount / fps,
        qualityScore: quality.score,
        caption: options.caption ?? "",
        aestheticScore: null,
        motionMean: motion.displacement,
        cameraMotion: labelMotion(motion, options.classify),
        m: (magN * fps) / frameCount,
        path: absolute,
      });
    }
  }
  return { rows, rejected, shots };
}

/** What {@linkcode curate} did. */
export interface CurateResult {
  rows: number;
  rejected: Partial<Record<CurateRejectReason, number>>;
  shards: string[];
  rejectsPath: string;
}

/**
 * Curates many videos into metadata shards under `outDir` (plus `rejects.jsonl`).
 *
 * @example
 * ```ts ignore
 * import { curate } from "./curate.ts";
 * const { rows, rejected } = await curate(["a.mp4", "b.mp4"], "out/curated");
 * ```
 */
export async function curate(
  paths: readonly string[],
  outDir: string,
  options: CurateOptions & ClipWriterOptions = {},
): Promise<CurateResult> {
  const writer = await ClipWriter.create(outDir, {
    ...options,
    prefix: options.prefix ?? "curated",
  });
  const lines: string[] = [];
  const counts: Partial<Record<CurateRejectReason, number>> = {};
  let rows = 0;
  for (const path of paths) {
    const result = await curateVideo(path, options);
    for (const row of result.rows) await writer.write(row);
    rows += result.rows.length;
    for (const r of result.rejected) {
      counts[r.reason] = (counts[r.reason] ?? 0) + 1;
      lines.push(JSON.stringify({ source: path, ...r }));
    }
  }
  const rejectsPath = `${outDir}/rejects.jsonl`;
  await Deno.writeTextFile(rejectsPath, lines.length > 0 ? lines.join("\n") + "\n" : "");
  return { rows, rejected: counts, shards: await writer.close(), rejectsPath };
}
