/**
 * Resampling in space and time on `[B, C, ...spatial]` (`[B, C, T, H, W]` for video): average
 * pooling, nearest-neighbour upsampling by integer factors, and nearest resizing to a size with
 * PyTorch's index rule (`F.interpolate(mode="nearest")`: source `floor(dst * (in / out))` with the
 * ratio and product in float32), which the VAE's SpatialNorm relies on.
 *
 * @module
 */

import { lax, type NDArray, np } from "../../autograd/mod.ts";
import { type Padding, perAxis, resolvePadding } from "./conv.ts";

function spatialRank(layer: string, x: NDArray): number {
  if (x.ndim < 3) throw new Error(`${layer}: needs [B, C, ...spatial], got ${x.describe()}`);
  return x.ndim - 2;
}

/** Options of {@link avgPool}. */
export interface AvgPoolOptions {
  /** Stride per spatial axis (default: the window, i.e. non-overlapping windows). */
  readonly stride?: number | readonly number[];
  /** Zero padding, counted in the average (PyTorch's `count_include_pad=True`). */
  readonly padding?: Padding;
}

/**
 * Average pooling over the spatial axes of `[B, C, ...spatial]` with `window` (one size for
 * all axes or one per axis; 1 leaves an axis alone). Windows that do not fit are dropped (floor
 * mode). Non-overlapping unpadded windows reduce a reshaped view; other cases run one
 * depthwise convolution with a constant kernel.
 *
 * @example
 * ```ts ignore
 * nn.avgPool(x, [2, 1, 1]); // average pairs of frames: [B, C, T, H, W] -> [B, C, T/2, H, W]
 * nn.avgPool(x, 2);         // 2x2x2 windows
 * ```
 */
export function avgPool(
  x: NDArray,
  window: number | readonly number[],
  options: AvgPoolOptions = {},
): NDArray {
  const nd = spatialRank("avgPool", x);
  const win = perAxis("avgPool", "window", window, nd);
  const stride = options.stride === undefined
    ? win
    : perAxis("avgPool", "stride", options.stride, nd);
  const pads = resolvePadding("avgPool", options.padding, win, win.map(() => 1), stride);
  const spatial = x.shape.slice(2);
  spatial.forEach((size, i) => {
    if (size + pads[i]![0] + pads[i]![1] < win[i]!) {
      throw new Error(
        `avgPool: window [${win}] does not fit input ${x.describe()} (padding ${
          JSON.stringify(pads)
        })`,
      );
    }
  });
  const plain = pads.every(([lo, hi]) => lo === 0 && hi === 0) &&
    stride.every((s, i) => s === win[i]);
  if (plain) {
    const outSizes = spatial.map((size, i) => Math.floor(size / win[i]!));
    // Drop the remainder that no window covers: [B, C, ...out * win].
    const fitted = lax.slice(
      x,
      x.shape.map(() => 0),
      [x.shape[0]!, x.shape[1]!, ...outSizes.map((n, i) => n * win[i]!)],
    );
    // [B, C, o0, w0, o1, w1, ...]: each window on its own axis, then averaged away.
    const split = lax.reshape(fitted, [
      x.shape[0]!,
      x.shape[1]!,
      ...outSizes.flatMap((n, i) => [n, win[i]!]),
    ]);
    const windowAxes = outSizes.map((_, i) => 3 + 2 * i);
    const summed = lax.reduceSum(split, windowAxes); // [B, C, o0, o1, ...]
    return np.divide(summed, win.reduce((a, b) => a * b, 1));
  }
  const c = x.shape[1]!;
  const count = win.reduce((a, b) => a * b, 1);
  const kernel = lax.full([c, 1, ...win], 1 / count, x.dtype); // depthwise mean kernel [C, 1, ...win]
  return lax.conv(x, kernel, {
    strides: stride,
    padding: pads,
    lhsDilation: win.map(() => 1),
    rhsDilation: win.map(() => 1),
    groups: c,
  });
}

/**
 * Nearest-neighbour upsampling of the spatial axes of `[B, C, ...spatial]` by integer
 * `factors` (one for all axes or one per axis; 1 leaves an axis alone): every element is
 * repeated `factor` times along its axis.
 *
 * @example
 * ```ts ignore
 * nn.upsampleNearest(x, [1, 2, 2]); // [B, C, T, H, W] -> [B, C, T, 2H, 2W]
 * ```
 */
export function upsampleNearest(x: NDArray, factors: number | readonly number[]): NDArray {
  const nd = spatialRank("upsampleNearest", x);
  const f = perAxis("upsampleNearest", "factors", factors, nd);
  let out = x;
  f.forEach((factor, i) => {
    if (factor > 1) out = np.repeat(out, factor, 2 + i); // each element `factor` times along axis
  });
  return out;
}

/**
 * The source index PyTorch's `nearest` mode reads for output index `dst` when resizing an axis
 * from `inSize` to `outSize`: identity when equal, `dst >> 1` when doubling, else
 * `min(floor(dst * f32(in / out)), in - 1)` in float32.
 *
 * @example
 * ```ts
 * import { nearestSourceIndex } from "./resample.ts";
 * nearestSourceIndex(5, 4, 7); // 2
 * ```
 */
export function nearestSourceIndex(dst: number, inSize: number, outSize: number): number {
  if (outSize === inSize) return dst;
  if (outSize === 2 * inSize) return dst >> 1;
  const scale = Math.fround(inSize / outSize);
  return Math.min(Math.floor(Math.fround(dst * scale)), inSize - 1);
}

/**
 * Nearest resizing of the spatial axes of `[B, C, ...spatial]` to `size` (one per spatial axis),
 * with PyTorch's index rule ({@link nearestSourceIndex}); a gather per resized axis.
 *
 * @example
 * ```ts ignore
 * nn.resizeNearest(zq, [9, 60, 90]); // zq [B, 16, 3, 30, 45] to a feature map's size
 * ```
 */
export function resizeNearest(x: NDArray, size: readonly number[]): NDArray {
  const nd = spatialRank("resizeNearest", x);
  const target = perAxis("resizeNearest", "size", size, nd);
  let out = x;
  target.forEach((n, i) => {
    const inSize = x.shape[2 + i]!;
    if (n === inSize) return;
    const idx = Int32Array.from({ length: n }, (_, d) => nearestSourceIndex(d, inSize, n));
    out = lax.take(out, np.array(idx, { dtype: "int32" }), 2 + i); // gather along axis 2+i
  });
  return out;
}
