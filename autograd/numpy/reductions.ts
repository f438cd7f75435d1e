/**
 * Reductions with NumPy's `axis` and `keepdims`: sum, mean, max, min, argmax, argmin, prod,
 * logsumexp, var, std, all, any, cumsum.
 *
 * @module
 */

import { normalizeAxes, normalizeAxis } from "../../kernels/shape.ts";
import type { ArrayLike, NDArray } from "../array.ts";
import * as lax from "../lax.ts";
import { asArray, broadcastTo, floatTypeOf } from "./convert.ts";
import * as ew from "./elementwise.ts";

/** Options of reductions. */
export interface ReduceOptions {
  /** Keep reduced axes with size 1 (so the result broadcasts against the input). */
  readonly keepdims?: boolean;
}

function keep(
  x: NDArray,
  reduced: NDArray,
  axes: readonly number[],
  keepdims: boolean | undefined,
): NDArray {
  if (!keepdims) return reduced;
  return lax.reshape(reduced, x.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
}

/**
 * Sum over `axis` (all axes when omitted). Bool and integer sums are int32.
 *
 * @example
 * ```ts ignore
 * np.sum(x, 1, { keepdims: true });
 * ```
 */
export function sum(
  x: ArrayLike,
  axis?: number | readonly number[],
  options: ReduceOptions = {},
): NDArray {
  let a = asArray(x);
  if (a.dtype === "bool") a = lax.cast(a, "int32");
  const axes = normalizeAxes(axis, a.ndim);
  return keep(a, lax.reduceSum(a, axes), axes, options.keepdims);
}

/**
 * Arithmetic mean over `axis` (float result).
 *
 * @example
 * ```ts ignore
 * np.mean(x, 0);
 * ```
 */
export function mean(
  x: ArrayLike,
  axis?: number | readonly number[],
  options: ReduceOptions = {},
): NDArray {
  const a = asArray(x);
  const f = lax.cast(a, floatTypeOf(a.dtype));
  const axes = normalizeAxes(axis, a.ndim);
  const count = axes.reduce((n, i) => n * a.shape[i]!, 1);
  return ew.divide(sum(f, axes, options), count);
}

/**
 * Maximum over `axis` (NaN propagates).
 *
 * @example
 * ```ts ignore
 * np.max(x, -1);
 * ```
 */
export function max(
  x: ArrayLike,
  axis?: number | readonly number[],
  options: ReduceOptions = {},
): NDArray {
  const a = asArray(x);
  const axes = normalizeAxes(axis, a.ndim);
  for (const i of axes) {
    if (a.shape[i] === 0) throw new Error(`np.max: axis ${i} of ${a.describe()} is empty`);
  }
  return keep(a, lax.reduceMax(a, axes), axes, options.keepdims);
}

/**
 * Minimum over `axis` (NaN propagates).
 *
 * @example
 * ```ts ignore
 * np.min(x, -1);
 * ```
 */
export function min(
  x: ArrayLike,
  axis?: number | readonly number[],
  options: ReduceOptions = {},
): NDArray {
  const a = asArray(x);
  const axes = normalizeAxes(axis, a.ndim);
  for (const i of axes) {
    if (a.shape[i] === 0) throw new Error(`np.min: axis ${i} of ${a.describe()} is empty`);
  }
  return keep(a, lax.reduceMin(a, axes), axes, options.keepdims);
}

function argReduce(
  prim: "argmax" | "argmin",
  x: ArrayLike,
  axis: number | undefined,
  options: ReduceOptions,
): NDArray {
  let a = asArray(x);
  const input = a;
  if (axis === undefined) {
    a = lax.reshape(a, [a.size]);
    axis = 0;
  }
  const ax = normalizeAxis(axis, a.ndim);
  if (a.dtype === "bool") a = lax.cast(a, "int32");
  const out = lax.argReduce(prim, a, ax);
  // Without an axis, keepdims keeps every axis of the input as size 1 (NumPy), not of the
  // flattened view.
  if (input.ndim !== a.ndim) {
    return options.keepdims ? lax.reshape(out, input.shape.map(() => 1)) : out;
  }
  return keep(a, out, [ax], options.keepdims);
}

/**
 * Index of the maximum along `axis` (flattened when omitted); first occurrence wins.
 *
 * @example
 * ```ts ignore
 * np.argmax(logits, -1);
 * ```
 */
export function argmax(x: ArrayLike, axis?: number, options: ReduceOptions = {}): NDArray {
  return argReduce("argmax", x, axis, options);
}

/**
 * Index of the minimum along `axis` (flattened when omitted).
 *
 * @example
 * ```ts ignore
 * np.argmin(distances, -1);
 * ```
 */
export function argmin(x: ArrayLike, axis?: number, options: ReduceOptions = {}): NDArray {
  return argReduce("argmin", x, axis, options);
}

/**
 * `log(sum(exp(x)))` over `axis`, computed stably (the max is subtracted first and its
 * gradient stopped, since the result does not depend on it).
 *
 * @example
 * ```ts ignore
 * np.logsumexp(logits, -1);
 * ```
 */
export function logsumexp(
  x: ArrayLike,
  axis?: number | readonly number[],
  options: ReduceOptions = {},
): NDArray {
  const a = asArray(x);
  const f = lax.cast(a, floatTypeOf(a.dtype));
  const axes = normalizeAxes(axis, f.ndim);
  const m = lax.stopGradient(max(f, axes, { keepdims: true }));
  // A row of -inf would give -inf - -inf = NaN; use 0 as the shift there.
  const safe = ew.where(ew.isfinite(m), m, 0);
  const shifted = ew.subtract(f, broadcastTo(safe, f.shape));
  const out = ew.add(ew.log(sum(ew.exp(shifted), axes, { keepdims: true })), safe);
  return options.keepdims ? out : lax.reshape(out, f.shape.filter((_, i) => !axes.includes(i)));
}

/**
 * Product over `axis` (by repeated multiplication along each axis; exact for zeros and signs).
 *
 * @example
 * ```ts ignore
 * np.prod(x, 0);
 * ```
 */
export function prod(
  x: ArrayLike,
  axis?: number | readonly number[],
  options: ReduceOptions = {},
): NDArray {
  const a = asArray(x);
  const axes = normalizeAxes(axis, a.ndim);
  let out = a;
  // Reduce the highest axis first so lower axis numbers stay valid.
  for (const ax of [...axes].reverse()) {
    const n = out.shape[ax]!;
    let acc = lax.full(out.shape.filter((_, i) => i !== ax), 1, out.dtype);
    for (let i = 0; i < n; i++) {
      const start = out.shape.map((_, d) => (d === ax ? i : 0));
      const limit = out.shape.map((s, d) => (d === ax ? i + 1 : s));
      acc = lax.binary("mul", acc, lax.reshape(lax.slice(out, start, limit), acc.shape));
    }
    out = acc;
  }
  return keep(a, out, axes, options.keepdims);
}

/**
 * Variance over `axis` (`ddof` subtracted from the count, as NumPy).
 *
 * @example
 * ```ts ignore
 * np.variance(x, -1);
 * ```
 */
export function variance(
  x: ArrayLike,
  axis?: number | readonly number[],
  options: ReduceOptions & { ddof?: number } = {},
): NDArray {
  const a = asArray(x);
  const f = lax.cast(a, floatTypeOf(a.dtype));
  const axes = normalizeAxes(axis, f.ndim);
  const count = axes.reduce((n, i) => n * f.shape[i]!, 1) - (options.ddof ?? 0);
  const centered = ew.subtract(f, broadcastTo(mean(f, axes, { keepdims: true }), f.shape));
  return ew.divide(sum(ew.square(centered), axes, { keepdims: options.keepdims ?? false }), count);
}

/**
 * Standard deviation over `axis`.
 *
 * @example
 * ```ts ignore
 * np.std(x, -1);
 * ```
 */
export function std(
  x: ArrayLike,
  axis?: number | readonly number[],
  options: ReduceOptions & { ddof?: number } = {},
): NDArray {
  return ew.sqrt(variance(x, axis, options));
}

/**
 * True where all elements along `axis` are true (non-zero).
 *
 * @example
 * ```ts ignore
 * np.all(np.isfinite(x));
 * ```
 */
export function all(
  x: ArrayLike,
  axis?: number | readonly number[],
  options: ReduceOptions = {},
): NDArray {
  const a = asArray(x);
  const asInt = lax.cast(ew.notEqual(a, 0), "int32");
  return lax.cast(min(asInt, axis, options), "bool");
}

/**
 * True where any element along `axis` is true (non-zero).
 *
 * @example
 * ```ts ignore
 * np.any(np.isnan(x));
 * ```
 */
export function any(
  x: ArrayLike,
  axis?: number | readonly number[],
  options: ReduceOptions = {},
): NDArray {
  const a = asArray(x);
  const asInt = lax.cast(ew.notEqual(a, 0), "int32");
  return lax.cast(max(asInt, axis, options), "bool");
}

/**
 * Cumulative sum along `axis` (flattened when omitted).
 *
 * @example
 * ```ts ignore
 * np.cumsum(x, 0);
 * ```
 */
export function cumsum(x: ArrayLike, axis?: number, options: { reverse?: boolean } = {}): NDArray {
  let a = asArray(x);
  if (a.dtype === "bool") a = lax.cast(a, "int32");
  if (axis === undefined) {
    a = lax.reshape(a, [a.size]);
    axis = 0;
  }
  return lax.cumsum(a, normalizeAxis(axis, a.ndim), options.reverse ?? false);
}
