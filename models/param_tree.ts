/**
 * Helpers over parameter trees: plain nested objects and lists whose leaves are arrays and whose
 * dotted paths are checkpoint key names (`transformer_blocks.0.attn1.to_q.weight`). Built on
 * `tree.flattenWithPaths`; they list, count, map and cast parameters without caring how a model
 * nests them.
 *
 * @module
 */

import { lax, NDArray, tree } from "../autograd/mod.ts";
import { byteSize, type DType, isFloat } from "../kernels/dtype.ts";

/** One parameter as {@link list} reports it. */
export interface ParamInfo {
  readonly path: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
}

/**
 * Formats a list of names for an error message, showing at most `max` and counting the rest.
 *
 * @example
 * ```ts
 * import { formatKeys } from "./param_tree.ts";
 * formatKeys(["a", "b", "c"], 2); // "a, b (and 1 more)"
 * ```
 */
export function formatKeys(keys: readonly string[], max = 20): string {
  const shown = keys.slice(0, max).join(", ");
  return keys.length > max ? `${shown} (and ${keys.length - max} more)` : shown;
}

/**
 * The `[path, array]` pairs of a parameter tree, in tree order. Throws, naming the paths, when
 * a leaf is not an array (a stray number or null usually means a wrong tree).
 *
 * @example
 * ```ts ignore
 * params.entries({ to_q: { weight: w, bias: b } }); // [["to_q.weight", w], ["to_q.bias", b]]
 * ```
 */
export function entries(params: unknown): [string, NDArray][] {
  const pairs = tree.flattenWithPaths(params);
  const bad = pairs.filter(([, leaf]) => !(leaf instanceof NDArray)).map(([p, leaf]) =>
    `${p || "<root>"} (${leaf === null ? "null" : typeof leaf})`
  );
  if (bad.length > 0) {
    throw new Error(`Parameter tree has leaves that are not arrays: ${formatKeys(bad)}`);
  }
  return pairs as [string, NDArray][];
}

/**
 * The dotted paths of a parameter tree (its checkpoint key names), in tree order.
 *
 * @example
 * ```ts ignore
 * params.paths(nn.Linear.init(key, { inFeatures: 2, outFeatures: 3 })); // ["weight", "bias"]
 * ```
 */
export function paths(params: unknown): string[] {
  return entries(params).map(([p]) => p);
}

/**
 * Every parameter's path, shape, dtype and size, in tree order.
 *
 * @example
 * ```ts ignore
 * for (const p of params.list(tree)) console.log(p.path, p.shape, p.dtype);
 * ```
 */
export function list(params: unknown): ParamInfo[] {
  return entries(params).map(([path, x]) => ({
    path,
    shape: x.shape,
    dtype: x.dtype,
    size: x.size,
  }));
}

/**
 * The total number of parameter elements.
 *
 * @example
 * ```ts ignore
 * params.count(nn.Linear.init(key, { inFeatures: 4, outFeatures: 8 })); // 40
 * ```
 */
export function count(params: unknown): number {
  return entries(params).reduce((n, [, x]) => n + x.size, 0);
}

/**
 * The total bytes the parameters occupy on the device.
 *
 * @example
 * ```ts ignore
 * params.bytes(tree) / 2 ** 20; // MiB
 * ```
 */
export function bytes(params: unknown): number {
  return entries(params).reduce((n, [, x]) => n + x.size * byteSize(x.dtype), 0);
}

/**
 * Applies `f(array, path)` to every leaf, keeping the tree's structure.
 *
 * @example
 * ```ts ignore
 * params.map(tree, (x, path) => path.endsWith(".bias") ? np.zerosLike(x) : x);
 * ```
 */
export function map<T>(params: T, f: (x: NDArray, path: string) => NDArray): T {
  const pairs = entries(params);
  const [, def] = tree.flatten(params);
  return tree.unflatten<T>(def, pairs.map(([path, x]) => f(x, path)));
}

/**
 * Casts the float leaves to `dtype` (integer and bool leaves are kept): params to float16 for
 * compute, back to float32 for the optimizer.
 *
 * @example
 * ```ts ignore
 * const half = params.cast(p, "float16");
 * ```
 */
export function cast<T>(params: T, dtype: DType): T {
  if (!isFloat(dtype)) throw new Error(`params.cast: target must be a float dtype, got ${dtype}`);
  return map(params, (x) => (isFloat(x.dtype) ? lax.cast(x, dtype) : x));
}

/**
 * The shape and dtype of every parameter keyed by path: the expected layout of a checkpoint
 * (what `loadInto` takes) without holding any data.
 *
 * @example
 * ```ts ignore
 * params.specs(p); // { "weight": { shape: [8, 4], dtype: "float32" }, ... }
 * ```
 */
export function specs(params: unknown): Record<string, { shape: number[]; dtype: DType }> {
  const out: Record<string, { shape: number[]; dtype: DType }> = {};
  for (const [path, x] of entries(params)) out[path] = { shape: [...x.shape], dtype: x.dtype };
  return out;
}

/**
 * Frees every array of a tree now (e.g. an old copy of params after a step).
 *
 * @example
 * ```ts ignore
 * params.dispose(oldParams);
 * ```
 */
export function dispose(params: unknown): void {
  for (const leaf of tree.leaves(params)) if (leaf instanceof NDArray) leaf.dispose();
}
