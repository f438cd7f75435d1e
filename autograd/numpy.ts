/**
 * `np`: the NumPy-compatible array API (names and semantics of `jax.numpy`, in camelCase).
 *
 * @example
 * ```ts ignore
 * import { np } from "../mod.ts";
 * const x = np.arange(6).reshape([2, 3]);
 * await np.sum(x, 1).toArray(); // [3, 12]
 * ```
 *
 * @module
 */
export { array, asArray, broadcastTo, fromRaw, resultType } from "./numpy/convert.ts";
export type { ArrayInput, NestedInput, TypedInput } from "./numpy/convert.ts";
export * from "./numpy/creation.ts";
export * from "./numpy/elementwise.ts";
export * from "./numpy/reductions.ts";
export * from "./numpy/shape_ops.ts";
export * from "./numpy/linalg.ts";
export * from "./numpy/indexing.ts";
export { NDArray } from "./array.ts";
export type { ArrayLike } from "./array.ts";
export type { DType } from "../kernels/dtype.ts";
