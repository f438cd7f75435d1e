/**
 * Array creation: `zeros`, `ones`, `full`, `arange`, `linspace`, `eye` and the `*Like` forms.
 * They bind the `full` and `iota` primitives, so they cost no host-to-device copy.
 *
 * @module
 */

import type { DType } from "../../kernels/dtype.ts";
import { checkDType } from "../../kernels/dtype.ts";
import type { Shape } from "../../kernels/shape.ts";
import type { NDArray } from "../array.ts";
import * as lax from "../lax.ts";

function checkShape(shape: Shape, what: string): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(
      `${what}: shape ${JSON.stringify(shape)} must be a list of non-negative integers`,
    );
  }
}

/**
 * An array of `shape` filled with `value`.
 *
 * @example
 * ```ts ignore
 * np.full([2, 2], 7, { dtype: "int32" });
 * ```
 */
export function full(
  shape: Shape,
  value: number | boolean,
  options: { dtype?: DType } = {},
): NDArray {
  checkShape(shape, "np.full");
  const dtype = options.dtype ?? (typeof value === "boolean" ? "bool" : "float32");
  checkDType(dtype);
  return lax.full([...shape], typeof value === "boolean" ? (value ? 1 : 0) : value, dtype);
}

/**
 * Zeros of `shape` (float32 unless `dtype` is given).
 *
 * @example
 * ```ts ignore
 * np.zeros([2, 3]);
 * ```
 */
export function zeros(shape: Shape, options: { dtype?: DType } = {}): NDArray {
  return full(shape, 0, { dtype: options.dtype ?? "float32" });
}

/**
 * Ones of `shape` (float32 unless `dtype` is given).
 *
 * @example
 * ```ts ignore
 * np.ones([4]);
 * ```
 */
export function ones(shape: Shape, options: { dtype?: DType } = {}): NDArray {
  return full(shape, 1, { dtype: options.dtype ?? "float32" });
}

/**
 * Zeros with the shape and dtype of `x`.
 *
 * @example
 * ```ts ignore
 * np.zerosLike(x);
 * ```
 */
export function zerosLike(x: NDArray, options: { dtype?: DType } = {}): NDArray {
  return lax.full(x.shape, 0, options.dtype ?? x.dtype);
}

/**
 * Ones with the shape and dtype of `x`.
 *
 * @example
 * ```ts ignore
 * np.onesLike(x);
 * ```
 */
export function onesLike(x: NDArray, options: { dtype?: DType } = {}): NDArray {
  return lax.full(x.shape, 1, options.dtype ?? x.dtype);
}

/**
 * `value` with the shape and dtype of `x`.
 *
 * @example
 * ```ts ignore
 * np.fullLike(x, 0.5);
 * ```
 */
export function fullLike(x: NDArray, value: number, options: { dtype?: DType } = {}): NDArray {
  return lax.full(x.shape, value, options.dtype ?? x.dtype);
}

/**
 * Evenly spaced values in `[start, stop)` with `step` (NumPy's `arange`; one argument means
 * `[0, n)`). Integer arguments give int32, otherwise float32.
 *
 * @example
 * ```ts ignore
 * np.arange(5);          // int32 [0, 1, 2, 3, 4]
 * np.arange(0, 1, 0.25); // float32 [0, 0.25, 0.5, 0.75]
 * ```
 */
export function arange(
  start: number,
  stop?: number,
  step = 1,
  options: { dtype?: DType } = {},
): NDArray {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error("np.arange: step must not be 0");
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const integral = [start, stop, step].every(Number.isInteger);
  const dtype = options.dtype ?? (integral ? "int32" : "float32");
  const index = lax.iota([n], 0, dtype === "int32" || dtype === "uint32" ? dtype : "float32");
  let out = index;
  if (step !== 1) out = lax.binary("mul", out, lax.full([n], step, out.dtype));
  if (start !== 0) out = lax.binary("add", out, lax.full([n], start, out.dtype));
  return lax.cast(out, dtype);
}

/**
 * `num` evenly spaced values from `start` to `stop` (inclusive unless `endpoint: false`).
 *
 * @example
 * ```ts ignore
 * np.linspace(0, 1, 5); // [0, 0.25, 0.5, 0.75, 1]
 * ```
 */
export function linspace(
  start: number,
  stop: number,
  num = 50,
  options: { endpoint?: boolean; dtype?: DType } = {},
): NDArray {
  if (!Number.isInteger(num) || num < 0) {
    throw new Error(`np.linspace: num must be >= 0, got ${num}`);
  }
  const endpoint = options.endpoint ?? true;
  const div = endpoint ? num - 1 : num;
  const step = div > 0 ? (stop - start) / div : 0;
  const index = lax.iota([num], 0, "float32");
  let out = lax.binary(
    "add",
    lax.binary("mul", index, lax.full([num], step, "float32")),
    lax.full([num], start, "float32"),
  );
  if (endpoint && num > 1) {
    // Pin the last value to `stop` exactly, as NumPy does.
    const isLast = lax.binary("eq", lax.iota([num], 0, "int32"), lax.full([num], num - 1, "int32"));
    out = lax.select(isLast, lax.full([num], stop, "float32"), out);
  }
  return lax.cast(out, options.dtype ?? "float32");
}

/**
 * The `n x m` identity-like matrix with ones on diagonal `k`.
 *
 * @example
 * ```ts ignore
 * np.eye(3);
 * ```
 */
export function eye(n: number, m = n, options: { k?: number; dtype?: DType } = {}): NDArray {
  const rows = lax.iota([n, m], 0, "int32");
  const cols = lax.iota([n, m], 1, "int32");
  const k = options.k ?? 0;
  const onDiagonal = lax.binary("eq", lax.binary("add", rows, lax.full([n, m], k, "int32")), cols);
  return lax.cast(onDiagonal, options.dtype ?? "float32");
}

/**
 * Lower-triangular ones: `out[i, j] = j <= i + k`.
 *
 * @example
 * ```ts ignore
 * np.tri(3); // causal mask
 * ```
 */
export function tri(n: number, m = n, options: { k?: number; dtype?: DType } = {}): NDArray {
  const rows = lax.iota([n, m], 0, "int32");
  const cols = lax.iota([n, m], 1, "int32");
  const below = lax.binary(
    "le",
    cols,
    lax.binary("add", rows, lax.full([n, m], options.k ?? 0, "int32")),
  );
  return lax.cast(below, options.dtype ?? "float32");
}
