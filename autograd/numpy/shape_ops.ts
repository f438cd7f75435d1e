/**
 * Shape manipulation: reshape, transpose, expand/squeeze, concatenate/stack/split, pad, flip,
 * slicing, tile and repeat. All are views or copies expressed with movement primitives, which
 * compiled kernels turn into index arithmetic.
 *
 * @module
 */

import {
  broadcastShapes,
  checkPermutation,
  fmtShape,
  normalizeAxes,
  normalizeAxis,
  resolveReshape,
  type Shape,
} from "../../kernels/shape.ts";
import type { ArrayLike, NDArray } from "../array.ts";
import * as lax from "../lax.ts";
import { asArray, broadcastTo, promoteAndBroadcast, resultType } from "./convert.ts";

/**
 * Reshapes to `shape` (one `-1` is inferred).
 *
 * @example
 * ```ts ignore
 * np.reshape(x, [2, -1]);
 * ```
 */
export function reshape(x: ArrayLike, shape: readonly number[]): NDArray {
  const a = asArray(x);
  return lax.reshape(a, resolveReshape(a.shape, shape));
}

/**
 * Permutes axes (reverses them when `axes` is omitted).
 *
 * @example
 * ```ts ignore
 * np.transpose(x, [0, 2, 1]);
 * ```
 */
export function transpose(x: ArrayLike, axes?: readonly number[]): NDArray {
  const a = asArray(x);
  const perm = axes
    ? axes.map((ax) => normalizeAxis(ax, a.ndim))
    : a.shape.map((_, i) => a.ndim - 1 - i);
  checkPermutation(perm, a.ndim);
  return lax.transpose(a, perm);
}

/**
 * Swaps two axes.
 *
 * @example
 * ```ts ignore
 * np.swapaxes(x, -1, -2);
 * ```
 */
export function swapaxes(x: ArrayLike, axis1: number, axis2: number): NDArray {
  const a = asArray(x);
  const i = normalizeAxis(axis1, a.ndim), j = normalizeAxis(axis2, a.ndim);
  const perm = a.shape.map((_, k) => (k === i ? j : k === j ? i : k));
  return lax.transpose(a, perm);
}

/**
 * Moves axis `source` to position `destination`.
 *
 * @example
 * ```ts ignore
 * np.moveaxis(x, 0, -1);
 * ```
 */
export function moveaxis(x: ArrayLike, source: number, destination: number): NDArray {
  const a = asArray(x);
  const s = normalizeAxis(source, a.ndim), d = normalizeAxis(destination, a.ndim);
  const rest = a.shape.map((_, i) => i).filter((i) => i !== s);
  rest.splice(d, 0, s);
  return lax.transpose(a, rest);
}

/**
 * Inserts size-1 axes at `axis` (positions in the result).
 *
 * @example
 * ```ts ignore
 * np.expandDims(x, 0).shape; // [1, ...x.shape]
 * ```
 */
export function expandDims(x: ArrayLike, axis: number | readonly number[]): NDArray {
  const a = asArray(x);
  const list = typeof axis === "number" ? [axis] : axis;
  const rank = a.ndim + list.length;
  const axes = normalizeAxes(list, rank);
  const shape: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) shape.push(axes.includes(i) ? 1 : a.shape[k++]!);
  return lax.reshape(a, shape);
}

/**
 * Removes size-1 axes (`axis` given: only those, which must have size 1).
 *
 * @example
 * ```ts ignore
 * np.squeeze(np.zeros([1, 3, 1])).shape; // [3]
 * ```
 */
export function squeeze(x: ArrayLike, axis?: number | readonly number[]): NDArray {
  const a = asArray(x);
  const axes = axis === undefined
    ? a.shape.flatMap((d, i) => (d === 1 ? [i] : []))
    : normalizeAxes(axis, a.ndim);
  for (const i of axes) {
    if (a.shape[i] !== 1) {
      throw new Error(`np.squeeze: axis ${i} of ${a.describe()} has size ${a.shape[i]}, not 1`);
    }
  }
  return lax.reshape(a, a.shape.filter((_, i) => !axes.includes(i)));
}

/**
 * Joins arrays along an existing axis (dtypes promoted).
 *
 * @example
 * ```ts ignore
 * np.concatenate([a, b], 0);
 * ```
 */
export function concatenate(xs: readonly ArrayLike[], axis = 0): NDArray {
  if (xs.length === 0) throw new Error("np.concatenate: needs at least one array");
  const dtype = resultType(...xs);
  const arrays = xs.map((x) => asArray(x, dtype));
  const rank = arrays[0]!.ndim;
  if (rank === 0) throw new Error("np.concatenate: zero-dimensional arrays cannot be concatenated");
  const ax = normalizeAxis(axis, rank);
  for (const a of arrays) {
    if (a.ndim !== rank || a.shape.some((d, i) => i !== ax && d !== arrays[0]!.shape[i])) {
      throw new Error(
        `np.concatenate: shapes ${
          arrays.map((b) => fmtShape(b.shape)).join(", ")
        } differ off axis ${ax}`,
      );
    }
  }
  return lax.concatenate(arrays, ax);
}

/**
 * Joins arrays of one shape along a new axis.
 *
 * @example
 * ```ts ignore
 * np.stack([a, b], 0).shape; // [2, ...a.shape]
 * ```
 */
export function stack(xs: readonly ArrayLike[], axis = 0): NDArray {
  if (xs.length === 0) throw new Error("np.stack: needs at least one array");
  const arrays = promoteAndBroadcastSame(xs);
  const ax = normalizeAxis(axis, arrays[0]!.ndim + 1);
  return lax.concatenate(arrays.map((a) => expandDims(a, ax)), ax);
}

function promoteAndBroadcastSame(xs: readonly ArrayLike[]): NDArray[] {
  const arrays = xs.map((x) => asArray(x));
  const first = arrays[0]!.shape;
  for (const a of arrays) {
    if (a.shape.length !== first.length || a.shape.some((d, i) => d !== first[i])) {
      throw new Error(`np.stack: shapes ${arrays.map((b) => fmtShape(b.shape)).join(", ")} differ`);
    }
  }
  return promoteAndBroadcast(arrays);
}

/**
 * Splits along `axis` into `sections` equal parts, or at the given indices.
 *
 * @example
 * ```ts ignore
 * const [a, b, c] = np.split(x, 3, 0);
 * ```
 */
export function split(x: ArrayLike, sections: number | readonly number[], axis = 0): NDArray[] {
  const a = asArray(x);
  const ax = normalizeAxis(axis, a.ndim);
  const n = a.shape[ax]!;
  let cuts: number[];
  if (typeof sections === "number") {
    if (!Number.isInteger(sections) || sections <= 0 || n % sections !== 0) {
      throw new Error(
        `np.split: axis ${ax} of size ${n} does not split into ${sections} equal parts`,
      );
    }
    cuts = Array.from({ length: sections - 1 }, (_, i) => ((i + 1) * n) / sections);
  } else {
    cuts = [...sections];
  }
  const bounds = [0, ...cuts.map((c) => Math.max(0, Math.min(n, c))), n];
  const out: NDArray[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const lo = bounds[i]!, hi = Math.max(lo, bounds[i + 1]!);
    out.push(sliceAxis(a, ax, lo, hi));
  }
  return out;
}

/**
 * `x[start:stop:step]` along one axis (Python slice semantics, negatives count from the end).
 *
 * @example
 * ```ts ignore
 * np.sliceAxis(x, -1, 0, null, 2); // every other column
 * ```
 */
export function sliceAxis(
  x: ArrayLike,
  axis: number,
  start: number | null = null,
  stop: number | null = null,
  step = 1,
): NDArray {
  const a = asArray(x);
  const ax = normalizeAxis(axis, a.ndim);
  const n = a.shape[ax]!;
  if (!Number.isInteger(step) || step === 0) {
    throw new Error(`np.sliceAxis: step must be a non-zero integer, got ${step}`);
  }
  const norm = (v: number | null, dflt: number, lo: number, hi: number) => {
    if (v === null) return dflt;
    const w = v < 0 ? v + n : v;
    return Math.max(lo, Math.min(hi, w));
  };
  if (step > 0) {
    const s = norm(start, 0, 0, n), e = Math.max(s, norm(stop, n, 0, n));
    const lo = a.shape.map((_, i) => (i === ax ? s : 0));
    const hi = a.shape.map((d, i) => (i === ax ? e : d));
    const st = a.shape.map((_, i) => (i === ax ? step : 1));
    return lax.slice(a, lo, hi, st);
  }
  // Negative steps: flip, then slice forward.
  const s = norm(start, n - 1, -1, n - 1), e = norm(stop, -1, -1, n - 1);
  const flipped = lax.flip(a, [ax]);
  const fs = n - 1 - s, fe = Math.max(fs, n - 1 - e);
  const lo = a.shape.map((_, i) => (i === ax ? fs : 0));
  const hi = a.shape.map((d, i) => (i === ax ? fe : d));
  const st = a.shape.map((_, i) => (i === ax ? -step : 1));
  return lax.slice(flipped, lo, hi, st);
}

/** One entry of an index expression: an integer (drops the axis), a slice, or `null` (all). */
export type IndexSpec = number | null | {
  start?: number | null;
  stop?: number | null;
  step?: number;
};

/**
 * Basic indexing: `np.index(x, [0, { start: 1, stop: 3 }, null])` is `x[0, 1:3, :]`.
 *
 * @example
 * ```ts ignore
 * np.index(frames, [null, { stop: 8 }]); // the first 8 rows of every frame
 * ```
 */
export function index(x: ArrayLike, specs: readonly IndexSpec[]): NDArray {
  let a = asArray(x);
  if (specs.length > a.ndim) {
    throw new Error(`np.index: ${specs.length} indices for ${a.describe()}`);
  }
  const drop: number[] = [];
  specs.forEach((spec, axis) => {
    if (spec === null) return;
    if (typeof spec === "number") {
      const n = a.shape[axis]!;
      const i = spec < 0 ? spec + n : spec;
      if (!Number.isInteger(i) || i < 0 || i >= n) {
        throw new Error(`np.index: index ${spec} is out of bounds for axis ${axis} with size ${n}`);
      }
      a = sliceAxis(a, axis, i, i + 1);
      drop.push(axis);
      return;
    }
    a = sliceAxis(a, axis, spec.start ?? null, spec.stop ?? null, spec.step ?? 1);
  });
  return drop.length > 0 ? lax.reshape(a, a.shape.filter((_, i) => !drop.includes(i))) : a;
}

/**
 * Pads with a constant: `padWidth` is `[before, after]` per axis (or one pair for all axes).
 *
 * @example
 * ```ts ignore
 * np.pad(x, [[0, 0], [1, 1]], { constantValue: 0 });
 * ```
 */
export function pad(
  x: ArrayLike,
  padWidth: readonly (readonly [number, number])[] | readonly [number, number] | number,
  options: { constantValue?: number; mode?: "constant" | "edge" } = {},
): NDArray {
  const a = asArray(x);
  let pairs: (readonly [number, number])[];
  if (typeof padWidth === "number") pairs = a.shape.map(() => [padWidth, padWidth] as const);
  else if (typeof padWidth[0] === "number") {
    pairs = a.shape.map(() => padWidth as readonly [number, number]);
  } else pairs = [...(padWidth as readonly (readonly [number, number])[])];
  if (
    pairs.length !== a.ndim ||
    pairs.some(([l, h]) => !(Number.isInteger(l) && Number.isInteger(h) && l >= 0 && h >= 0))
  ) {
    throw new Error(`np.pad: pad width ${JSON.stringify(padWidth)} does not fit ${a.describe()}`);
  }
  if ((options.mode ?? "constant") === "edge") {
    let out = a;
    pairs.forEach(([lo, hi], axis) => {
      const parts: NDArray[] = [];
      if (lo > 0) parts.push(repeatEdge(out, axis, 0, lo));
      parts.push(out);
      if (hi > 0) parts.push(repeatEdge(out, axis, out.shape[axis]! - 1, hi));
      out = parts.length > 1 ? lax.concatenate(parts, axis) : out;
    });
    return out;
  }
  return lax.pad(
    a,
    pairs.map((p) => p[0]),
    pairs.map((p) => p[1]),
    undefined,
    options.constantValue ?? 0,
  );
}

function repeatEdge(x: NDArray, axis: number, at: number, count: number): NDArray {
  const edge = sliceAxis(x, axis, at, at + 1);
  return broadcastTo(edge, x.shape.map((d, i) => (i === axis ? count : d)));
}

/**
 * Reverses the order of elements along `axis` (all axes when omitted).
 *
 * @example
 * ```ts ignore
 * np.flip(x, 0);
 * ```
 */
export function flip(x: ArrayLike, axis?: number | readonly number[]): NDArray {
  const a = asArray(x);
  return lax.flip(a, normalizeAxes(axis, a.ndim));
}

/**
 * Repeats the whole array `reps` times per axis.
 *
 * @example
 * ```ts ignore
 * np.tile(x, [2, 1]);
 * ```
 */
export function tile(x: ArrayLike, reps: readonly number[]): NDArray {
  let a = asArray(x);
  const rank = Math.max(a.ndim, reps.length);
  a = lax.reshape(a, [...Array(rank - a.ndim).fill(1), ...a.shape]);
  const r = [...Array(rank - reps.length).fill(1), ...reps];
  // [r0, d0, r1, d1, ...] then merge each pair.
  const expanded: number[] = [];
  const dims: number[] = [];
  a.shape.forEach((d, i) => {
    expanded.push(r[i]!, d);
    dims.push(2 * i + 1);
  });
  const b = lax.broadcast(a, expanded, dims);
  return lax.reshape(b, a.shape.map((d, i) => d * r[i]!));
}

/**
 * Repeats each element `repeats` times along `axis` (flattened when omitted).
 *
 * @example
 * ```ts ignore
 * np.repeat(x, 2, 0); // nearest-neighbour upsampling along axis 0
 * ```
 */
export function repeat(x: ArrayLike, repeats: number, axis?: number): NDArray {
  let a = asArray(x);
  if (axis === undefined) {
    a = lax.reshape(a, [a.size]);
    axis = 0;
  }
  const ax = normalizeAxis(axis, a.ndim);
  const shape = [...a.shape.slice(0, ax + 1), repeats, ...a.shape.slice(ax + 1)];
  const dims = a.shape.map((_, i) => (i <= ax ? i : i + 1));
  const b = lax.broadcast(a, shape, dims);
  return lax.reshape(b, a.shape.map((d, i) => (i === ax ? d * repeats : d)));
}

/**
 * Broadcasts every array to one common shape.
 *
 * @example
 * ```ts ignore
 * const [a, b] = np.broadcastArrays(x, y);
 * ```
 */
export function broadcastArrays(...xs: readonly ArrayLike[]): NDArray[] {
  const arrays = xs.map((x) => asArray(x));
  const shapes: Shape[] = arrays.map((a) => a.shape);
  const shape = broadcastShapes(...shapes);
  return arrays.map((a) => broadcastTo(a, shape));
}
