/**
 * Gathering by integer indices: `take`, `takeAlongAxis`, `oneHot`. Out-of-range indices are
 * clamped (as in JAX); negative indices count from the end.
 *
 * @module
 */

import type { DType } from "../../kernels/dtype.ts";
import { normalizeAxis } from "../../kernels/shape.ts";
import type { ArrayLike, NDArray } from "../array.ts";
import * as lax from "../lax.ts";
import { asArray } from "./convert.ts";
import * as ew from "./elementwise.ts";
import { sum } from "./reductions.ts";

function normalizeIndices(indices: ArrayLike, size: number): NDArray {
  const idx = asArray(indices, "int32");
  if (idx.dtype !== "int32") {
    throw new Error(`take: indices must be integers, got ${idx.describe()}`);
  }
  // Negative indices count from the end.
  return ew.where(ew.less(idx, 0), ew.add(idx, size), idx);
}

/**
 * Takes elements along `axis` (flattened when omitted): the result has the indices' shape in
 * place of that axis.
 *
 * @example
 * ```ts ignore
 * np.take(embeddings, tokenIds, 0); // [vocab, D] with [B, T] ids -> [B, T, D]
 * ```
 */
export function take(x: ArrayLike, indices: ArrayLike, axis?: number): NDArray {
  let a = asArray(x);
  if (axis === undefined) {
    a = lax.reshape(a, [a.size]);
    axis = 0;
  }
  const ax = normalizeAxis(axis, a.ndim);
  return lax.take(a, normalizeIndices(indices, a.shape[ax]!), ax);
}

/**
 * Picks one element per position along `axis`: `indices` has `x`'s shape with size `k` on
 * `axis` (NumPy's `take_along_axis`).
 *
 * @example
 * ```ts ignore
 * np.takeAlongAxis(logProbs, np.expandDims(labels, -1), -1); // [B, 1]
 * ```
 */
export function takeAlongAxis(x: ArrayLike, indices: ArrayLike, axis: number): NDArray {
  const a = asArray(x);
  const ax = normalizeAxis(axis, a.ndim);
  const idx = normalizeIndices(indices, a.shape[ax]!);
  if (idx.ndim !== a.ndim) {
    throw new Error(
      `takeAlongAxis: indices ${idx.describe()} must have the rank of ${a.describe()}`,
    );
  }
  // One-hot selection: exact, differentiable, and fusible (a gather with batched indices in disguise).
  const n = a.shape[ax]!;
  const k = idx.shape[ax]!;
  const outShape = a.shape.map((d, i) => (i === ax ? k : Math.max(d, idx.shape[i]!)));
  const expandedShape = [...outShape.slice(0, ax + 1), n, ...outShape.slice(ax + 1)];
  const positions = lax.iota(expandedShape, ax + 1, "int32");
  const idxB = lax.broadcast(idx, expandedShape, idx.shape.map((_, i) => (i <= ax ? i : i + 1)));
  const xB = lax.broadcast(a, expandedShape, a.shape.map((_, i) => (i < ax ? i : i + 1)));
  const mask = lax.binary("eq", positions, idxB);
  const picked = lax.select(mask, xB, lax.full(expandedShape, 0, a.dtype));
  return sum(picked, ax + 1);
}

/**
 * One-hot encoding: `[...] int -> [..., numClasses]` (float32 unless `dtype` given).
 *
 * @example
 * ```ts ignore
 * np.oneHot(labels, 10);
 * ```
 */
export function oneHot(
  indices: ArrayLike,
  numClasses: number,
  options: { dtype?: DType } = {},
): NDArray {
  const idx = asArray(indices, "int32");
  const shape = [...idx.shape, numClasses];
  const classes = lax.iota(shape, idx.ndim, "int32");
  const expanded = lax.broadcast(idx, shape, idx.shape.map((_, i) => i));
  return lax.cast(lax.binary("eq", classes, expanded), options.dtype ?? "float32");
}
