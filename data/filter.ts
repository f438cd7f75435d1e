/**
 * Row filters over clip metadata: quality, duration, frame count, aesthetic score, motion,
 * camera-motion class and caption words. Bounds are inclusive; a bound on a nullable column
 * rejects rows where the value is unknown (null). Filters run column-at-a-time over a
 * {@linkcode ColumnBlock} ({@linkcode filterMask}) or on one row ({@linkcode matchesFilter});
 * both give the same answer.
 *
 * @module
 */
import type { ColumnBlock } from "./arrow_batch.ts";
import type { ClipRow } from "./schema.ts";
import { columnOf } from "./schema.ts";

/** A conjunction of conditions; omitted fields do not constrain. */
export interface ClipFilter {
  minQuality?: number;
  maxQuality?: number;
  /** Seconds. */
  minDuration?: number;
  /** Seconds. */
  maxDuration?: number;
  minFrames?: number;
  minAesthetic?: number;
  /** Mean flow, pixels per frame. */
  minMotion?: number;
  maxMotion?: number;
  /** Allowed camera-motion classes. */
  cameraMotion?: readonly string[];
  /** Words that must all appear in the caption (whole words, case-insensitive). */
  captionWords?: readonly string[];
}

type Bound = { key: keyof ClipRow; min?: number; max?: number };

function bounds(filter: ClipFilter): Bound[] {
  const out: Bound[] = [];
  const add = (key: keyof ClipRow, min: number | undefined, max: number | undefined) => {
    if (min === undefined && max === undefined) return;
    const b: Bound = { key };
    if (min !== undefined) b.min = min;
    if (max !== undefined) b.max = max;
    out.push(b);
  };
  add("qualityScore", filter.minQuality, filter.maxQuality);
  add("duration", filter.minDuration, filter.maxDuration);
  add("frameCount", filter.minFrames, undefined);
  add("aestheticScore", filter.minAesthetic, undefined);
  add("motionMean", filter.minMotion, filter.maxMotion);
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function wordPatterns(words: readonly string[]): RegExp[] {
  return words.map((w) =>
    new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegExp(w)}(?![\\p{L}\\p{N}])`, "iu")
  );
}

/**
 * The stored column names a filter reads.
 *
 * @example
 * ```ts
 * import { filterColumns } from "./filter.ts";
 * filterColumns({ minQuality: 4, captionWords: ["cat"] }); // ["quality_score", "caption"]
 * ```
 */
export function filterColumns(filter: ClipFilter): string[] {
  const keys: (keyof ClipRow)[] = bounds(filter).map((b) => b.key);
  if (filter.cameraMotion) keys.push("cameraMotion");
  if (filter.captionWords && filter.captionWords.length > 0) keys.push("caption");
  return keys.map((k) => columnOf(k).column);
}

/**
 * Evaluates the filter over `n` rows of a column block holding at least
 * {@linkcode filterColumns}; returns a mask (1 = keep).
 *
 * @example
 * ```ts
 * import { filterMask } from "./filter.ts";
 * filterMask({ minQuality: 4 }, { quality_score: new Float64Array([3, 5]) }, 2); // [0, 1]
 * ```
 */
export function filterMask(filter: ClipFilter, block: ColumnBlock, n: number): Uint8Array {
  const mask = new Uint8Array(n).fill(1);
  const column = (key: keyof ClipRow) => {
    const name = columnOf(key).column;
    const values = block[name];
    if (!values) throw new RangeError(`Filter needs column "${name}", which the block lacks`);
    return values;
  };
  for (const { key, min, max } of bounds(filter)) {
    const values = column(key);
    const lo = min ?? -Infinity, hi = max ?? Infinity;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v === null || v === undefined) mask[i] = 0;
      else {
        const x = Number(v);
        if (!(x >= lo && x <= hi)) mask[i] = 0;
      }
    }
  }
  if (filter.cameraMotion) {
    const allowed = new Set<unknown>(filter.cameraMotion);
    const values = column("cameraMotion");
    for (let i = 0; i < n; i++) if (mask[i] && !allowed.has(values[i])) mask[i] = 0;
  }
  if (filter.captionWords && filter.captionWords.length > 0) {
    const patterns = wordPatterns(filter.captionWords);
    const values = column("caption");
    for (let i = 0; i < n; i++) {
      if (!mask[i]) continue;
      const text = values[i];
      if (typeof text !== "string" || !patterns.every((p) => p.test(text))) mask[i] = 0;
    }
  }
  return mask;
}

/**
 * Whether one row passes the filter (the row must hold the filtered fields).
 *
 * @example
 * ```ts
 * import { matchesFilter } from "./filter.ts";
 * matchesFilter({ caption: "A red fox runs." }, { captionWords: ["fox"] }); // true
 * ```
 */
export function matchesFilter(row: Partial<ClipRow>, filter: ClipFilter): boolean {
  for (const { key, min, max } of bounds(filter)) {
    const v = row[key];
    if (typeof v !== "number") return false;
    if (!(v >= (min ?? -Infinity) && v <= (max ?? Infinity))) return false;
  }
  const motion = row.cameraMotion;
  if (
    filter.cameraMotion && !(typeof motion === "string" && filter.cameraMotion.includes(motion))
  ) {
    return false;
  }
  if (filter.captionWords && filter.captionWords.length > 0) {
    const text = row.caption;
    if (typeof text !== "string") return false;
    if (!wordPatterns(filter.captionWords).every((p) => p.test(text))) return false;
  }
  return true;
}
