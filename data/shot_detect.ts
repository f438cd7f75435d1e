/**
 * Shot-boundary detection as PySceneDetect's ContentDetector (v0.6) does it: convert frames to
 * 8-bit HSV (OpenCV scaling), score each frame by the mean of the mean absolute differences of
 * H, S and V against the previous frame, and cut where the score reaches `threshold` (27 by
 * default) at least `minSceneLength` frames (15) after the previous cut (or the first frame).
 * Hue differences are not wrapped, as in OpenCV.
 *
 * @module
 */
import type { Frames } from "./frames.ts";
import { hsv, type Plane } from "./image_ops.ts";

/** Options of {@linkcode detectShots}. */
export interface ShotOptions {
  /** Content-difference threshold; 27 (PySceneDetect's default). */
  threshold?: number;
  /** Minimum frames between cuts; 15 (PySceneDetect's default). */
  minSceneLength?: number;
}

/** Detected shots. */
export interface Shots {
  /** Frame indices where a new shot starts (never 0), increasing. */
  cuts: number[];
  /** Shots as half-open frame ranges covering [0, T). */
  shots: { start: number; end: number }[];
  /** Content score of each frame against the previous one (score[0] = 0). */
  scores: number[];
}

function meanAbsDiff(a: Plane, b: Plane): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += Math.abs(a.data[i]! - b.data[i]!);
  return s / a.data.length;
}

/**
 * Finds hard cuts in uint8 frames [T, H, W, 3].
 *
 * @example
 * ```ts
 * import { detectShots } from "./shot_detect.ts";
 * import { randomClipSpec, renderShots } from "./synthetic.ts";
 * const o = { frames: 16, width: 32, height: 32 };
 * detectShots(renderShots([randomClipSpec(1, o), randomClipSpec(2, o)])).cuts; // [16]
 * ```
 */
export function detectShots(frames: Frames, options: ShotOptions = {}): Shots {
  const { threshold = 27, minSceneLength = 15 } = options;
  const t = frames.shape[0];
  const scores = new Array<number>(t).fill(0);
  const cuts: number[] = [];
  let last = 0;
  let prev = t > 0 ? hsv(frames, 0) : null;
  for (let f = 1; f < t; f++) {
    const cur = hsv(frames, f);
    const score = (meanAbsDiff(cur[0], prev![0]) + meanAbsDiff(cur[1], prev![1]) +
      meanAbsDiff(cur[2], prev![2])) / 3;
    scores[f] = score;
    if (score >= threshold && f - last >= minSceneLength) {
      cuts.push(f);
      last = f;
    }
    prev = cur;
  }
  const bounds = [0, ...cuts, t];
  const shots = bounds.slice(0, -1).map((start, i) => ({ start, end: bounds[i + 1]! }));
  return { cuts, shots: t > 0 ? shots : [], scores };
}
