/**
 * Frame samplers for training clips.
 *
 * MAG (Motion Adaptive Generation, DropletVideo section 3): trim the first and last 10% of a
 * clip's frames, take N indices uniformly across what remains, and condition the model on
 * M = N * fps / clip_n, the frame rate of the resampled clip.
 *
 * clip_n (marked UNVERIFIED in the spec) is taken as the clip's total frame count, before the
 * trim: the released code derives M from the video's own frame count and fps, and the trimmed
 * length is an internal detail of the sampler. {@linkcode sample} reports both lengths so a
 * caller can recompute M under the other reading.
 *
 * Index rule: the trim is `floor(0.1 * clipFrames)` at each end; the usable range is
 * [trim, clipFrames - trim); indices are `trim + floor(i * (usable - 1) / (N - 1))`, i.e.
 * NumPy's `linspace(first, last, N, dtype=int)` as CogVideoX-Fun samples frames, so both ends
 * of the usable range are always taken (N = 1 takes its middle frame).
 *
 * @module
 */
import { type Key, randomInt } from "./hash.ts";

/** Options of {@linkcode sample}. */
export interface MagOptions {
  /** Frames in the clip (clip_n), an integer >= 1. */
  clipFrames: number;
  /** Source frame rate, > 0. */
  fps: number;
  /** Frames to sample (N: 85 in phase 2, 49 in phase 1), an integer >= 1. */
  n: number;
  /** Fraction trimmed at each end; 0.1 by default (the paper's 10%). */
  trim?: number;
  /**
   * When fewer than N frames remain after the trim: `false` (default) throws; `true` samples
   * with repeated indices (non-decreasing), never fewer than N.
   */
  allowRepeats?: boolean;
}

/** What {@linkcode sample} and {@linkcode strideWindow} return. */
export interface FrameSample {
  /** N frame indices into the clip, increasing (non-decreasing when repeats were allowed). */
  indices: number[];
  /** The motion value M fed to the model's FpsEmb: frames per second of the resampled clip. */
  m: number;
  /** First usable frame (inclusive). */
  rangeStart: number;
  /** End of the usable range (exclusive). */
  rangeEnd: number;
}

function checkCommon(clipFrames: number, fps: number, n: number): void {
  if (!Number.isInteger(clipFrames) || clipFrames < 1) {
    throw new RangeError(`clipFrames must be an integer >= 1, got ${clipFrames}`);
  }
  if (!(fps > 0) || !Number.isFinite(fps)) {
    throw new RangeError(`fps must be a finite number > 0, got ${fps}`);
  }
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be an integer >= 1, got ${n}`);
}

/**
 * The MAG sampler: N frame indices spread uniformly over the clip less 10% at each end, and
 * M = N * fps / clipFrames. Pure. Throws when fewer than N frames remain (unless
 * `allowRepeats`).
 *
 * @example
 * ```ts
 * import { sample } from "./mag.ts";
 * const { indices, m } = sample({ clipFrames: 219, fps: 30, n: 49 });
 * // indices: 49 increasing frames in [21, 198); m = 49 * 30 / 219 ≈ 6.71
 * ```
 */
export function sample(options: MagOptions): FrameSample {
  const { clipFrames, fps, n, trim = 0.1, allowRepeats = false } = options;
  checkCommon(clipFrames, fps, n);
  if (!(trim >= 0 && trim < 0.5)) throw new RangeError(`trim must be in [0, 0.5), got ${trim}`);
  const cut = Math.floor(trim * clipFrames);
  const rangeStart = cut, rangeEnd = clipFrames - cut;
  const usable = rangeEnd - rangeStart;
  if (usable < n && !allowRepeats) {
    throw new RangeError(
      `Clip of ${clipFrames} frames has ${usable} frames after trimming ${cut} at each end, ` +
        `fewer than the ${n} requested (pass allowRepeats to sample with repeats)`,
    );
  }
  const indices = new Array<number>(n);
  if (n === 1) indices[0] = rangeStart + Math.floor((usable - 1) / 2);
  else {
    for (let i = 0; i < n; i++) indices[i] = rangeStart + Math.floor((i * (usable - 1)) / (n - 1));
  }
  return { indices, m: (n * fps) / clipFrames, rangeStart, rangeEnd };
}

/** Options of {@linkcode strideWindow}. */
export interface StrideOptions {
  /** Frames in the clip, an integer >= 1. */
  clipFrames: number;
  /** Source frame rate, > 0. */
  fps: number;
  /** Frames to sample, an integer >= 1. */
  n: number;
  /** Step between sampled frames, an integer >= 1. */
  stride: number;
  /** Key choosing the window start (see `hash.ts`). */
  key: Key;
}

/**
 * The pre-MAG sampler, for ablations: a window of N frames at a fixed stride starting at a
 * uniformly random frame chosen by `key`. M is reported as fps / stride (the frame rate of the
 * sampled frames), so both samplers feed the same conditioning. Pure.
 *
 * @example
 * ```ts
 * import { strideWindow } from "./mag.ts";
 * const { indices } = strideWindow({ clipFrames: 100, fps: 24, n: 16, stride: 3, key: 7 });
 * // indices[i + 1] - indices[i] === 3; last index < 100
 * ```
 */
export function strideWindow(options: StrideOptions): FrameSample {
  const { clipFrames, fps, n, stride, key } = options;
  checkCommon(clipFrames, fps, n);
  if (!Number.isInteger(stride) || stride < 1) {
    throw new RangeError(`stride must be an integer >= 1, got ${stride}`);
  }
  const span = (n - 1) * stride + 1;
  if (span > clipFrames) {
    throw new RangeError(
      `Clip of ${clipFrames} frames is shorter than a window of ${n} frames at stride ${stride} ` +
        `(${span} frames)`,
    );
  }
  const start = randomInt(key, 0, clipFrames - span + 1);
  const indices = Array.from({ length: n }, (_, i) => start + i * stride);
  return { indices, m: fps / stride, rangeStart: start, rangeEnd: start + span };
}
