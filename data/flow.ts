/**
 * Dense optical flow in the core's array ops: pyramidal Lucas-Kanade with iterative warping
 * (Lucas and Kanade 1981; the pyramid of Bouguet 2001), over stacks of frame pairs [P, H, W], so
 * one call computes the flow of every adjacent pair of a clip, on whichever device `np` runs.
 *
 * Per pyramid level (coarse to fine) the work is one jitted program, compiled once per shape:
 * pre-smooth both images (Gaussian sigma 0.7), take central-difference gradients, window the
 * gradient products (Gaussian sigma `window`) into the structure tensor, then `iterations`
 * times warp the second image by the current flow (bilinear gather), window the products of
 * the gradients with the temporal difference and add the per-pixel 2x2 solve. The blurs,
 * gradients and resizes are matmuls with small banded operator matrices (`image_operators.ts`).
 *
 * Meant for low resolution (about 32-64 px wide): with 3 levels it follows motions up to about
 * 8 px per frame. Flow (u, v) is the displacement of content from `prev` to `next`, in pixels,
 * x to the right and y down. The plain-TypeScript loops this was ported from are the test
 * oracle (`tests/data/_flow_oracle.ts`).
 *
 * @module
 */
import { jit, type NDArray, np, scope } from "../autograd/mod.ts";
import { type Frames, framesToArray, makeFrames } from "./frames.ts";
import {
  batchedOp,
  expandGrid,
  lumaOf,
  separable,
  type SeparableOp,
  separableOp,
  smallerEigenvalue,
  solveStructure,
  structureTensor,
  uploadMatrix,
  warpBilinear,
  type WarpGrid,
  warpGrid,
} from "./flow_ops.ts";
import {
  compose,
  convolutionMatrix,
  differenceMatrix,
  gaussianKernel,
  resizeMatrix,
  scaleMatrix,
  transposeMatrix,
} from "./image_operators.ts";
import type { Plane } from "./image_ops.ts";

/** Options of {@linkcode opticalFlow}. */
export interface FlowOptions {
  /** Pyramid levels (1 = no pyramid; a level is added while the previous is >= 16 px); 3. */
  levels?: number;
  /** Warping iterations per level; 4 by default. */
  iterations?: number;
  /** Gaussian window sigma of the local least squares, pixels; 2 by default. */
  window?: number;
  /** Tikhonov term added to the structure tensor (in squared intensity units); 1 by default. */
  regularization?: number;
}

/** Dense flow fields of a stack of frame pairs, on device. */
export interface FlowArrays {
  /** Horizontal displacement [P, H, W], pixels. */
  u: NDArray;
  /** Vertical displacement [P, H, W], pixels. */
  v: NDArray;
  /** Smaller eigenvalue of the windowed structure tensor [P, H, W]: texture strength. */
  confidence: NDArray;
}

/** The flow of one frame pair, read back to the host. */
export interface Flow {
  /** Horizontal displacement [H, W], pixels. */
  u: Plane;
  /** Vertical displacement [H, W], pixels. */
  v: Plane;
  /** Smaller eigenvalue of the windowed structure tensor [H, W]: texture strength. */
  confidence: Plane;
}

/** Device operators of one pyramid level [H, W]. */
interface LevelOperators {
  /** Pre-smoothing, Gaussian sigma 0.7. */
  smooth: SeparableOp;
  /** The least-squares window, Gaussian sigma `window`. */
  window: SeparableOp;
  /** Central differences along x (transposed, [W, W]) and along y ([H, H]). */
  dxT: NDArray;
  dy: NDArray;
}

/** Device constants of one level (arguments, not literals: see `flow_ops.ts`). */
interface LevelConstants {
  grid: WarpGrid;
  /** The regularizer, [1, 1, 1]. */
  reg: NDArray;
}

function levelOperators(h: number, w: number, window: number): LevelOperators {
  const smooth = gaussianKernel(0.7), win = gaussianKernel(window);
  return {
    smooth: separableOp(convolutionMatrix(h, smooth), convolutionMatrix(w, smooth)),
    window: separableOp(convolutionMatrix(h, win), convolutionMatrix(w, win)),
    dxT: uploadMatrix(transposeMatrix(differenceMatrix(w))),
    dy: uploadMatrix(differenceMatrix(h)),
  };
}

/** Half resolution [ceil(H / 2), ceil(W / 2)]: Gaussian blur (sigma 1), then bilinear resize. */
function downsampleOperator(h: number, w: number): SeparableOp {
  const g = gaussianKernel(1);
  return separableOp(
    compose(resizeMatrix(h, Math.ceil(h / 2)), convolutionMatrix(h, g)),
    compose(resizeMatrix(w, Math.ceil(w / 2)), convolutionMatrix(w, g)),
  );
}

/** Bilinear upsampling of u and v from [hc, wc] to [h, w], each scaled to the new pixel size. */
function upsampleOperators(hc: number, wc: number, h: number, w: number) {
  const rows = resizeMatrix(hc, h), cols = resizeMatrix(wc, w);
  return {
    u: separableOp(rows, scaleMatrix(cols, w / wc)),
    v: separableOp(scaleMatrix(rows, h / hc), cols),
  };
}

/** One level of warped Lucas-Kanade: refines (u, v) [P, H, W] between raw planes i1 and i2. */
function refineLevel(
  images: { i1: NDArray; i2: NDArray },
  flow: { u: NDArray; v: NDArray },
  ops: LevelOperators,
  consts: LevelConstants,
  iterations: number,
): FlowArrays {
  const [p, h, w] = images.i1.shape as [number, number, number];
  // Broadcasts hoisted out of the loop: row operators [P, H, H], grid members [P, H, W].
  const smooth = batchedOp(ops.smooth, p), window = batchedOp(ops.window, p);
  const grid = expandGrid(consts.grid, [p, h, w]);
  const i1 = separable(images.i1, smooth), i2 = separable(images.i2, smooth);
  // [P, H, W] viewed as [P H, W] so the x difference is one matmul from the right.
  const ix = np.reshape(np.matmul(np.reshape(i1, [-1, w]), ops.dxT), [p, h, w]);
  const iy = np.matmul(ops.dy, i1); // [H, H] broadcast over P: [P, H, W]
  const s = structureTensor(
    separable(np.multiply(ix, ix), window),
    separable(np.multiply(ix, iy), window),
    separable(np.multiply(iy, iy), window),
    consts.reg,
  );
  let { u, v } = flow;
  for (let k = 0; k < iterations; k++) {
    // Temporal difference after warping the second image back by the current estimate.
    const it = np.subtract(warpBilinear(i2, u, v, grid), i1);
    const bx = separable(np.multiply(ix, it), window);
    const by = separable(np.multiply(iy, it), window);
    const [du, dv] = solveStructure(s, bx, by);
    u = np.add(u, du);
    v = np.add(v, dv);
  }
  return { u, v, confidence: smallerEigenvalue(s, consts.reg, grid.zero) };
}

// One compiled program per level shape (and iteration count); the operators are arguments.
const refineJit = jit(refineLevel);
const separableJit = jit(separable);
const upsampleJit = jit((u: NDArray, v: NDArray, ops: { u: SeparableOp; v: SeparableOp }) => ({
  u: separable(u, ops.u),
  v: separable(v, ops.v),
}));

function checkOptions(levels: number, iterations: number, window: number, reg: number): void {
  if (!Number.isInteger(levels) || levels < 1) {
    throw new RangeError(`opticalFlow: levels must be an integer >= 1, got ${levels}`);
  }
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new RangeError(`opticalFlow: iterations must be an integer >= 1, got ${iterations}`);
  }
  if (!(window > 0)) throw new RangeError(`opticalFlow: window must be > 0, got ${window}`);
  if (!(reg > 0)) throw new RangeError(`opticalFlow: regularization must be > 0, got ${reg}`);
}

/**
 * Dense flow from each plane of `prev` to the same plane of `next` (both float [P, H, W],
 * intensities 0..255). Intermediate arrays are freed; the result lives on the inputs' device.
 *
 * @example
 * ```ts ignore
 * import { opticalFlow } from "./flow.ts";
 * const { u, v, confidence } = opticalFlow(prev, next); // each [P, H, W]
 * ```
 */
export function opticalFlow(prev: NDArray, next: NDArray, options: FlowOptions = {}): FlowArrays {
  const { levels = 3, iterations = 4, window = 2, regularization = 1 } = options;
  checkOptions(levels, iterations, window, regularization);
  if (prev.ndim !== 3 || prev.shape.join() !== next.shape.join()) {
    throw new RangeError(
      `opticalFlow: prev [${prev.shape}] and next [${next.shape}] must be equal [P, H, W]`,
    );
  }
  if (prev.dtype !== "float32" || next.dtype !== "float32") {
    throw new TypeError(
      `opticalFlow: planes must be float32, got ${prev.describe()} and ${next.describe()}`,
    );
  }
  return scope(() => {
    const p = prev.shape[0]!;
    const pyramid1 = [prev], pyramid2 = [next];
    for (let l = 1; l < levels; l++) {
      const [, h, w] = pyramid1[l - 1]!.shape as [number, number, number];
      if (Math.min(h, w) < 16) break;
      const down = downsampleOperator(h, w);
      pyramid1.push(separableJit(pyramid1[l - 1]!, down));
      pyramid2.push(separableJit(pyramid2[l - 1]!, down));
    }
    const coarsest = pyramid1.at(-1)!.shape as [number, number, number];
    let flow: FlowArrays = {
      u: np.zeros(coarsest),
      v: np.zeros(coarsest),
      confidence: np.zeros(coarsest),
    };
    const reg = np.array(new Float32Array([regularization]), { shape: [1, 1, 1] });
    for (let l = pyramid1.length - 1; l >= 0; l--) {
      const [, h, w] = pyramid1[l]!.shape as [number, number, number];
      const [, hc, wc] = flow.u.shape as [number, number, number];
      const start = hc === h && wc === w
        ? flow
        : upsampleJit(flow.u, flow.v, upsampleOperators(hc, wc, h, w));
      flow = refineJit(
        { i1: pyramid1[l]!, i2: pyramid2[l]! },
        { u: start.u, v: start.v },
        levelOperators(h, w, window),
        { grid: warpGrid(p, h, w), reg },
        iterations,
      );
    }
    return flow;
  });
}

/**
 * The flow of every adjacent pair (t, t + 1) of a clip: `frames` are RGB [T, H, W, 3] (as
 * `framesToArray` makes them) or luma planes [T, H, W] in 0..255; the result is [T - 1, H, W].
 *
 * @example
 * ```ts ignore
 * import { clipFlow } from "./flow.ts";
 * import { framesToArray } from "./frames.ts";
 * const flow = clipFlow(framesToArray(frames, { dtype: "float32" })); // u: [T - 1, H, W]
 * ```
 */
export function clipFlow(frames: NDArray, options: FlowOptions = {}): FlowArrays {
  if (frames.ndim !== 3 && frames.ndim !== 4) {
    throw new RangeError(
      `clipFlow: frames must be [T, H, W, 3] or [T, H, W], got [${frames.shape}]`,
    );
  }
  const t = frames.shape[0]!;
  if (t < 2) throw new RangeError(`clipFlow needs at least 2 frames, got ${t}`);
  return scope(() => {
    const luma = frames.ndim === 4 ? lumaOf(frames) : np.astype(frames, "float32"); // [T, H, W]
    return opticalFlow(np.sliceAxis(luma, 0, 0, t - 1), np.sliceAxis(luma, 0, 1, t), options);
  });
}

/**
 * Reads flow fields [P, H, W] back to the host as one {@linkcode Flow} per pair (planes are views
 * of three buffers).
 *
 * @example
 * ```ts ignore
 * import { clipFlow, readFlow } from "./flow.ts";
 * const flows = await readFlow(clipFlow(frameArray)); // flows[t].u.data: Float32Array [H W]
 * ```
 */
export async function readFlow(flow: FlowArrays): Promise<Flow[]> {
  const [p, h, w] = flow.u.shape as [number, number, number];
  const read = async (x: NDArray) => {
    const data = await x.data();
    return data instanceof Float32Array ? data : Float32Array.from(data);
  };
  const [u, v, c] = await Promise.all([read(flow.u), read(flow.v), read(flow.confidence)]);
  const plane = (data: Float32Array, i: number): Plane => ({
    data: data.subarray(i * h * w, (i + 1) * h * w),
    h,
    w,
  });
  return Array.from({ length: p }, (_, i) => ({
    u: plane(u, i),
    v: plane(v, i),
    confidence: plane(c, i),
  }));
}

/** Options of {@linkcode framePairFlows}. */
export interface PairFlowOptions extends FlowOptions {
  /** First frame; 0. */
  start?: number;
  /** End frame (exclusive); T. */
  end?: number;
  /** Frame pairs per device call (bounds device memory); 64. */
  pairsPerCall?: number;
}

/**
 * Host frames in, host flows out: the flow of each adjacent pair (t, t + 1) of frames
 * [start, end) of uint8 frames [T, H, W, 3], computed on the current device `pairsPerCall`
 * pairs at a time. Device arrays are freed before it returns.
 *
 * @example
 * ```ts ignore
 * import { framePairFlows } from "./flow.ts";
 * const flows = await framePairFlows(frames); // frames.shape[0] - 1 flows
 * ```
 */
export async function framePairFlows(
  frames: Frames,
  options: PairFlowOptions = {},
): Promise<Flow[]> {
  const [t, h, w] = frames.shape;
  const { start = 0, end = t, pairsPerCall = 64, ...flowOptions } = options;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > t || end < start) {
    throw new RangeError(`framePairFlows: frame range [${start}, ${end}) is outside [0, ${t})`);
  }
  if (!Number.isInteger(pairsPerCall) || pairsPerCall < 1) {
    throw new RangeError(
      `framePairFlows: pairsPerCall must be an integer >= 1, got ${pairsPerCall}`,
    );
  }
  const frameBytes = h * w * 3;
  const out: Flow[] = [];
  for (let a = start; a < end - 1; a += pairsPerCall) {
    const b = Math.min(end - 1, a + pairsPerCall); // pairs a .. b - 1 use frames a .. b
    const chunk = makeFrames(
      frames.data.subarray(a * frameBytes, (b + 1) * frameBytes),
      b + 1 - a,
      h,
      w,
    );
    const flow = scope(() => clipFlow(framesToArray(chunk, { dtype: "float32" }), flowOptions));
    try {
      out.push(...await readFlow(flow));
    } finally {
      flow.u.dispose();
      flow.v.dispose();
      flow.confidence.dispose();
    }
  }
  return out;
}
