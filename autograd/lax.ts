/**
 * Thin typed wrappers over the primitives, with `jax.lax` semantics: no broadcasting, no type
 * promotion, operands must already agree. Transformation rules are written with these (and the
 * `np` layer), so that derivatives of derivatives come for free.
 *
 * @module
 */

import type { DType } from "../kernels/dtype.ts";
import type { BinaryPrimitive, ConvParams, Params, UnaryPrimitive } from "../kernels/primitives.ts";
import type { Shape } from "../kernels/shape.ts";
import { bind, bind1, type NDArray } from "./array.ts";

/**
 * Applies a unary elementwise primitive.
 *
 * @example
 * ```ts ignore
 * unary("exp", x);
 * ```
 */
export function unary(prim: UnaryPrimitive, x: NDArray): NDArray {
  return bind1(prim, {}, [x]);
}

/**
 * Applies a binary elementwise primitive to operands of one shape and dtype.
 *
 * @example
 * ```ts ignore
 * binary("add", x, y);
 * ```
 */
export function binary(prim: BinaryPrimitive, a: NDArray, b: NDArray): NDArray {
  return bind1(prim, {}, [a, b]);
}

/** `where(cond, a, b)` on operands of one shape. */
export function select(cond: NDArray, a: NDArray, b: NDArray): NDArray {
  return bind1("select", {}, [cond, a, b]);
}

/** Converts elements to `dtype` (floats round, floats to integers truncate and saturate). */
export function cast(x: NDArray, dtype: DType): NDArray {
  return x.dtype === dtype ? x : bind1("cast", { dtype }, [x]);
}

/** Reinterprets the bits of each element as `dtype` (same width). */
export function bitcast(x: NDArray, dtype: DType): NDArray {
  return x.dtype === dtype ? x : bind1("bitcast", { dtype }, [x]);
}

/** Identity whose derivative is zero. */
export function stopGradient(x: NDArray): NDArray {
  return bind1("stop_gradient", {}, [x]);
}

/** Sums over `axes` (removed from the shape). */
export function reduceSum(x: NDArray, axes: readonly number[]): NDArray {
  return axes.length === 0 ? x : bind1("reduce_sum", { axes }, [x]);
}

/** Maximum over `axes` (removed). */
export function reduceMax(x: NDArray, axes: readonly number[]): NDArray {
  return axes.length === 0 ? x : bind1("reduce_max", { axes }, [x]);
}

/** Minimum over `axes` (removed). */
export function reduceMin(x: NDArray, axes: readonly number[]): NDArray {
  return axes.length === 0 ? x : bind1("reduce_min", { axes }, [x]);
}

/** Index of the maximum (`argmax`) or minimum (`argmin`) along `axis`, as int32. */
export function argReduce(prim: "argmax" | "argmin", x: NDArray, axis: number): NDArray {
  return bind1(prim, { axis }, [x]);
}

/** Reshapes (sizes must agree; no -1). */
export function reshape(x: NDArray, shape: Shape): NDArray {
  const same = shape.length === x.shape.length && shape.every((d, i) => d === x.shape[i]);
  return same ? x : bind1("reshape", { shape }, [x]);
}

/** Permutes axes: output axis `i` is input axis `perm[i]`. */
export function transpose(x: NDArray, perm: readonly number[]): NDArray {
  return perm.every((p, i) => p === i) ? x : bind1("transpose", { perm }, [x]);
}

/** Broadcasts: operand axis `i` becomes output axis `dims[i]`. */
export function broadcast(x: NDArray, shape: Shape, dims: readonly number[]): NDArray {
  const same = shape.length === x.shape.length && shape.every((d, i) => d === x.shape[i]);
  return same ? x : bind1("broadcast", { shape, dims }, [x]);
}

/** Strided slice `x[start:limit:strides]` per axis. */
export function slice(
  x: NDArray,
  start: readonly number[],
  limit: readonly number[],
  strides: readonly number[] = start.map(() => 1),
): NDArray {
  return bind1("slice", { start, limit, strides }, [x]);
}

/** Pads with `value` (`lo`/`hi` may be negative to crop; `interior` between elements). */
export function pad(
  x: NDArray,
  lo: readonly number[],
  hi: readonly number[],
  interior: readonly number[] = lo.map(() => 0),
  value = 0,
): NDArray {
  const noop = lo.every((v) => v === 0) && hi.every((v) => v === 0) &&
    interior.every((v) => v === 0);
  return noop ? x : bind1("pad", { lo, hi, interior, value }, [x]);
}

/** Reverses `axes`. */
export function flip(x: NDArray, axes: readonly number[]): NDArray {
  return axes.length === 0 ? x : bind1("flip", { axes }, [x]);
}

/** Joins along `axis` (operands agree elsewhere). */
export function concatenate(xs: readonly NDArray[], axis: number): NDArray {
  return xs.length === 1 ? xs[0]! : bind1("concatenate", { axis }, xs);
}

/** Gathers along `axis` with int32 indices (clamped). */
export function take(x: NDArray, indices: NDArray, axis: number): NDArray {
  return bind1("take", { axis }, [x, indices]);
}

/** Adds `updates` into zeros of length `size` along `axis` at `indices` (transpose of take). */
export function scatterAdd(
  updates: NDArray,
  indices: NDArray,
  axis: number,
  size: number,
): NDArray {
  return bind1("scatter_add", { axis, size }, [updates, indices]);
}

/** Batched matrix product of operands with equal batch dims. */
export function matmul(a: NDArray, b: NDArray): NDArray {
  return bind1("matmul", {}, [a, b]);
}

/** General convolution (see {@link ConvParams}). */
export function conv(x: NDArray, w: NDArray, params: ConvParams): NDArray {
  return bind1("conv", params, [x, w]);
}

/** Cumulative sum along `axis`. */
export function cumsum(x: NDArray, axis: number, reverse = false): NDArray {
  return bind1("cumsum", { axis, reverse }, [x]);
}

/** Fused attention: returns `[out, logsumexp]`. */
export function attention(
  q: NDArray,
  k: NDArray,
  v: NDArray,
  params: Params<"attention">,
): [NDArray, NDArray] {
  const [out, lse] = bind("attention", params, [q, k, v]);
  return [out!, lse!];
}

/** The backward pass of fused attention: returns `[dq, dk, dv]`. */
export function attentionBackward(
  q: NDArray,
  k: NDArray,
  v: NDArray,
  out: NDArray,
  lse: NDArray,
  dOut: NDArray,
  params: Params<"attention_bwd">,
): [NDArray, NDArray, NDArray] {
  const [dq, dk, dv] = bind("attention_bwd", params, [q, k, v, out, lse, dOut]);
  return [dq!, dk!, dv!];
}

/** Indices along `axis` broadcast to `shape`. */
export function iota(shape: Shape, axis: number, dtype: DType = "int32"): NDArray {
  return bind1("iota", { shape, axis, dtype }, []);
}

/** An array of `shape` filled with `value`. */
export function full(shape: Shape, value: number, dtype: DType): NDArray {
  return bind1("full", { shape, value, dtype }, []);
}

/** Threefry-2x32 on uint32 operands of one shape. */
export function threefry2x32(
  k0: NDArray,
  k1: NDArray,
  x0: NDArray,
  x1: NDArray,
): [NDArray, NDArray] {
  const [y0, y1] = bind("threefry2x32", {}, [k0, k1, x0, x1]);
  return [y0!, y1!];
}
