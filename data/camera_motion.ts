/**
 * Camera-motion estimation from optical flow: fit a global affine flow model
 * u = a0 + a1 x + a2 y, v = b0 + b1 x + b2 y (x, y centred and divided by half the width, so each
 * coefficient is a displacement in pixels at the frame border) by weighted least squares on
 * textured pixels, refit without the worst quarter of residuals (moving objects), and read off
 *
 * - pan = a0 and tilt = b0 (translation, px/frame),
 * - zoom = (a1 + b2) / 2 (divergence), roll = (a2 - b1) / 2 (rotation; > 0 = camera rolls
 *   clockwise, content turns counter-clockwise, as y points down),
 * - shear = |(a1 - b2) / 2, (a2 + b1) / 2| and the residual RMS: flow no single camera motion
 *   explains, which is parallax, as when orbiting a subject.
 *
 * The label (see `camera_labels.ts`) is the largest of |pan|, |tilt|, |zoom|, the rigid part of
 * the rotation (|roll| - shear) and the parallax score (shear + residual), or `static` when all
 * are under `staticThreshold`. The flow is computed on the device with array ops (`flow.ts`,
 * every pair of a clip in one call); the fit runs on the host on the read-back flow fields (it
 * is a few sums over a small image and two 3x3 solves per pair).
 *
 * @module
 */
import type { CameraMotion } from "./camera_labels.ts";
import { type Flow, framePairFlows, type PairFlowOptions } from "./flow.ts";
import type { Frames } from "./frames.ts";

/** A fitted global motion, pixels per frame at the analysed resolution. */
export interface GlobalMotion {
  pan: number;
  tilt: number;
  zoom: number;
  roll: number;
  shear: number;
  /** RMS of the flow left unexplained by the affine model on the kept pixels. */
  residual: number;
  /** Mean flow magnitude over all pixels (objects included). */
  displacement: number;
}

/** Solves the 3x3 symmetric system m x = b (Cramer's rule); zeros when singular. */
function solve3(m: number[], b: number[]): [number, number, number] {
  const [a, bb, c, d, e, f, g, h, i] = m as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const det = a * (e * i - f * h) - bb * (d * i - f * g) + c * (d * h - e * g);
  if (Math.abs(det) < 1e-12) return [0, 0, 0];
  const [p, q, r] = b as [number, number, number];
  return [
    (p * (e * i - f * h) - bb * (q * i - f * r) + c * (q * h - e * r)) / det,
    (a * (q * i - f * r) - p * (d * i - f * g) + c * (d * r - q * g)) / det,
    (a * (e * r - q * h) - bb * (d * r - q * g) + p * (d * h - e * g)) / det,
  ];
}

function weightedFit(flow: Flow, weight: Float32Array): { a: number[]; b: number[] } {
  const { w, h } = flow.u;
  const half = w / 2;
  const m = new Array<number>(9).fill(0), bu = [0, 0, 0], bv = [0, 0, 0];
  for (let y = 0; y < h; y++) {
    const yn = (y + 0.5 - h / 2) / half;
    for (let x = 0; x < w; x++) {
      const i = y * w + x, wt = weight[i]!;
      if (wt === 0) continue;
      const xn = (x + 0.5 - w / 2) / half;
      const basis = [1, xn, yn];
      for (let r = 0; r < 3; r++) {
        for (let c = 0; c < 3; c++) m[r * 3 + c]! += wt * basis[r]! * basis[c]!;
        bu[r]! += wt * basis[r]! * flow.u.data[i]!;
        bv[r]! += wt * basis[r]! * flow.v.data[i]!;
      }
    }
  }
  return { a: solve3(m, bu), b: solve3(m, bv) };
}

function residuals(flow: Flow, a: number[], b: number[]): Float32Array {
  const { w, h } = flow.u;
  const half = w / 2;
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const yn = (y + 0.5 - h / 2) / half;
    for (let x = 0; x < w; x++) {
      const xn = (x + 0.5 - w / 2) / half, i = y * w + x;
      const du = flow.u.data[i]! - (a[0]! + a[1]! * xn + a[2]! * yn);
      const dv = flow.v.data[i]! - (b[0]! + b[1]! * xn + b[2]! * yn);
      out[i] = Math.hypot(du, dv);
    }
  }
  return out;
}

/**
 * Fits the global affine model to a flow field, ignoring a border of `margin` pixels and
 * untextured pixels, then refitting without the 25% largest residuals.
 *
 * @example
 * ```ts
 * import { fitGlobalMotion } from "./camera_motion.ts";
 * import { full } from "./image_ops.ts";
 * const m = fitGlobalMotion({ u: full(8, 8, 2), v: full(8, 8, 0), confidence: full(8, 8, 1) });
 * // m.pan ≈ 2, m.tilt ≈ 0
 * ```
 */
export function fitGlobalMotion(flow: Flow, margin = 2): GlobalMotion {
  const { w, h } = flow.u;
  const n = w * h;
  let maxConf = 0, displacement = 0;
  for (let i = 0; i < n; i++) {
    maxConf = Math.max(maxConf, flow.confidence.data[i]!);
    displacement += Math.hypot(flow.u.data[i]!, flow.v.data[i]!);
  }
  displacement /= n;
  const weight = new Float32Array(n);
  for (let y = margin; y < h - margin; y++) {
    for (let x = margin; x < w - margin; x++) {
      const c = flow.confidence.data[y * w + x]!;
      weight[y * w + x] = c > 0.02 * maxConf ? 1 : 0;
    }
  }
  let { a, b } = weightedFit(flow, weight);
  let res = residuals(flow, a, b);
  const kept = Array.from(res.filter((_, i) => weight[i]! > 0)).sort((p, q) => p - q);
  const cutoff = kept[Math.floor(0.75 * (kept.length - 1))] ?? Infinity;
  for (let i = 0; i < n; i++) if (res[i]! > cutoff) weight[i] = 0;
  ({ a, b } = weightedFit(flow, weight));
  res = residuals(flow, a, b);
  let sq = 0, count = 0;
  for (let i = 0; i < n; i++) {
    if (weight[i]! > 0) {
      sq += res[i]! * res[i]!;
      count++;
    }
  }
  return {
    pan: a[0]!,
    tilt: b[0]!,
    zoom: (a[1]! + b[2]!) / 2,
    roll: (a[2]! - b[1]!) / 2,
    shear: Math.hypot((a[1]! - b[2]!) / 2, (a[2]! + b[1]!) / 2),
    residual: count > 0 ? Math.sqrt(sq / count) : 0,
    displacement,
  };
}

/**
 * Averages per-pair motions (componentwise; a segment's camera motion).
 *
 * @example
 * ```ts
 * import { averageMotion } from "./camera_motion.ts";
 * const z = { pan: 0, tilt: 0, zoom: 0, roll: 0, shear: 0, residual: 0, displacement: 0 };
 * averageMotion([{ ...z, pan: 1 }, { ...z, pan: 3 }]).pan; // 2
 * ```
 */
export function averageMotion(motions: readonly GlobalMotion[]): GlobalMotion {
  const out: GlobalMotion = {
    pan: 0,
    tilt: 0,
    zoom: 0,
    roll: 0,
    shear: 0,
    residual: 0,
    displacement: 0,
  };
  if (motions.length === 0) return out;
  for (const m of motions) {
    for (const k of Object.keys(out) as (keyof GlobalMotion)[]) out[k] += m[k];
  }
  for (const k of Object.keys(out) as (keyof GlobalMotion)[]) out[k] /= motions.length;
  return out;
}

/** Options of {@linkcode labelMotion} and {@linkcode classifyCameraMotion}. */
export interface ClassifyOptions {
  /** Below this (px/frame at the analysed resolution) every component counts as still; 0.25. */
  staticThreshold?: number;
  /** Weight of the residual in the parallax (orbit) score; 1 by default. */
  residualWeight?: number;
  /** Flow options (and how many frame pairs go to the device per call). */
  flow?: Omit<PairFlowOptions, "start" | "end">;
}

/**
 * The camera-motion label of a fitted (usually averaged) global motion.
 *
 * @example
 * ```ts
 * import { labelMotion } from "./camera_motion.ts";
 * labelMotion({ pan: 1.5, tilt: 0, zoom: 0, roll: 0, shear: 0, residual: 0.1, displacement: 1.5 });
 * // "pan_left"
 * ```
 */
export function labelMotion(motion: GlobalMotion, options: ClassifyOptions = {}): CameraMotion {
  const { staticThreshold = 0.25, residualWeight = 1 } = options;
  const scores: [CameraMotion, number][] = [
    [motion.pan > 0 ? "pan_left" : "pan_right", Math.abs(motion.pan)],
    [motion.tilt > 0 ? "tilt_up" : "tilt_down", Math.abs(motion.tilt)],
    [motion.zoom > 0 ? "zoom_in" : "zoom_out", Math.abs(motion.zoom)],
    [motion.roll > 0 ? "roll_cw" : "roll_ccw", Math.abs(motion.roll) - motion.shear],
    ["orbit", motion.shear + residualWeight * motion.residual],
  ];
  let best: [CameraMotion, number] = ["static", staticThreshold];
  for (const s of scores) if (s[1] > best[1]) best = s;
  return best[0];
}

/** The per-pair motions of a frame range and their label. */
export interface CameraMotionResult {
  label: CameraMotion;
  /** The averaged motion the label was read from. */
  motion: GlobalMotion;
  /** One motion per adjacent frame pair. */
  pairs: GlobalMotion[];
}

/**
 * Per-pair global motions of frames [start, end) of a stack: the flow of every adjacent pair,
 * computed on the current device in one call per `pairsPerCall` pairs, fitted on the host.
 *
 * @example
 * ```ts ignore
 * import { pairMotions } from "./camera_motion.ts";
 * const motions = await pairMotions(frames); // frames.shape[0] - 1 motions
 * ```
 */
export async function pairMotions(
  frames: Frames,
  start = 0,
  end = frames.shape[0],
  flowOptions: Omit<PairFlowOptions, "start" | "end"> = {},
): Promise<GlobalMotion[]> {
  const flows = await framePairFlows(frames, { ...flowOptions, start, end });
  return flows.map((flow) => fitGlobalMotion(flow));
}

/**
 * Classifies the camera motion of a clip (frames [T, H, W, 3], best at about 32-64 px wide),
 * its optical flow computed on the current device.
 *
 * @example
 * ```ts ignore
 * import { classifyCameraMotion } from "./camera_motion.ts";
 * import { randomClipSpec, renderClip } from "./synthetic.ts";
 * const frames = renderClip(randomClipSpec(1, { camera: "tilt_up", frames: 6 }));
 * (await classifyCameraMotion(frames)).label; // "tilt_up"
 * ```
 */
export async function classifyCameraMotion(
  frames: Frames,
  options: ClassifyOptions = {},
): Promise<CameraMotionResult> {
  if (frames.shape[0] < 2) {
    throw new RangeError(`classifyCameraMotion needs at least 2 frames, got ${frames.shape[0]}`);
  }
  const pairs = await pairMotions(frames, 0, frames.shape[0], options.flow);
  const motion = averageMotion(pairs);
  return { label: labelMotion(motion, options), motion, pairs };
}
