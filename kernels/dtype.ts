/**
 * Element types, their host storage, and NumPy/JAX-style type promotion.
 *
 * Half-precision values (`float16`, `bfloat16`) are stored on the host as their raw 16-bit
 * patterns in a `Uint16Array`, so no precision is lost on the way to or from the GPU; reading
 * them back through `data()` widens them to `Float32Array`.
 *
 * @module
 */

/** The element types of arrays. */
export type DType = "float32" | "float16" | "bfloat16" | "int32" | "uint32" | "bool";

/** Every dtype, in promotion order within its kind. */
export const dtypes: readonly DType[] = [
  "bool",
  "uint32",
  "int32",
  "float16",
  "bfloat16",
  "float32",
];

/**
 * True for the floating-point dtypes (the ones that carry gradients).
 *
 * @example
 * ```ts
 * import { isFloat } from "./dtype.ts";
 * isFloat("float16"); // true
 * isFloat("int32"); // false
 * ```
 */
export function isFloat(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float16" || dtype === "bfloat16";
}

/**
 * True for the integer dtypes (not bool).
 *
 * @example
 * ```ts
 * import { isInteger } from "./dtype.ts";
 * isInteger("uint32"); // true
 * ```
 */
export function isInteger(dtype: DType): boolean {
  return dtype === "int32" || dtype === "uint32";
}

/**
 * Bytes per element on the device.
 *
 * @example
 * ```ts
 * import { byteSize } from "./dtype.ts";
 * byteSize("float16"); // 2
 * ```
 */
export function byteSize(dtype: DType): number {
  switch (dtype) {
    case "float16":
    case "bfloat16":
      return 2;
    case "bool":
      return 1;
    default:
      return 4;
  }
}

/** The host-side typed array of each dtype (raw bit patterns for the half types). */
export interface HostArrayOf {
  float32: Float32Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  bool: Uint8Array;
}

/** Any host typed array an array's data can live in. */
export type HostArray = HostArrayOf[DType];

/** What `data()` returns for each dtype: half types are widened to float32. */
export interface ReadArrayOf {
  float32: Float32Array;
  float16: Float32Array;
  bfloat16: Float32Array;
  int32: Int32Array;
  uint32: Uint32Array;
  bool: Uint8Array;
}

/**
 * Allocates a zeroed host array for `size` elements of `dtype`.
 *
 * @example
 * ```ts
 * import { allocHost } from "./dtype.ts";
 * allocHost("int32", 3); // Int32Array [0, 0, 0]
 * ```
 */
export function allocHost<D extends DType>(dtype: D, size: number): HostArrayOf[D] {
  switch (dtype) {
    case "float32":
      return new Float32Array(size) as HostArrayOf[D];
    case "float16":
    case "bfloat16":
      return new Uint16Array(size) as HostArrayOf[D];
    case "int32":
      return new Int32Array(size) as HostArrayOf[D];
    case "uint32":
      return new Uint32Array(size) as HostArrayOf[D];
    case "bool":
      return new Uint8Array(size) as HostArrayOf[D];
  }
  throw new Error(`Unknown dtype "${String(dtype)}"`);
}

const kindRank: Record<DType, number> = {
  bool: 0,
  uint32: 1,
  int32: 1,
  float16: 2,
  bfloat16: 2,
  float32: 2,
};

/**
 * The dtype of a binary operation on arrays of dtypes `a` and `b` (both strongly typed), as in
 * JAX with 64-bit types disabled: bool < integers < floats; within floats, the wider wins and
 * float16 with bfloat16 gives float32; int32 with uint32 gives int32.
 *
 * @example
 * ```ts
 * import { promoteTypes } from "./dtype.ts";
 * promoteTypes("int32", "float16"); // "float16"
 * promoteTypes("float16", "bfloat16"); // "float32"
 * ```
 */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  const ka = kindRank[a], kb = kindRank[b];
  if (ka !== kb) return ka > kb ? a : b;
  if (ka === 1) return "int32";
  // Two different float types: float32 wins; float16 with bfloat16 has no common 16-bit type.
  return "float32";
}

/**
 * The dtype a JavaScript number takes next to an array of dtype `other` (JAX "weak" typing: the
 * scalar adapts to the array unless it cannot represent it).
 *
 * @example
 * ```ts
 * import { weakScalarType } from "./dtype.ts";
 * weakScalarType(2, "float16"); // "float16"
 * weakScalarType(2.5, "int32"); // "float32"
 * ```
 */
export function weakScalarType(value: number | boolean, other: DType): DType {
  if (typeof value === "boolean") return other;
  if (isFloat(other)) return other;
  if (!Number.isInteger(value)) return "float32";
  if (other === "bool") return "int32";
  return other;
}

/**
 * The dtype of a JavaScript value used on its own (JAX defaults: float32, int32, bool).
 *
 * @example
 * ```ts
 * import { defaultTypeOf } from "./dtype.ts";
 * defaultTypeOf(1); // "float32" (numbers are floats unless you ask for an integer dtype)
 * ```
 */
export function defaultTypeOf(value: number | boolean): DType {
  return typeof value === "boolean" ? "bool" : "float32";
}

/**
 * Throws unless `dtype` is one of {@link dtypes}.
 *
 * @example
 * ```ts
 * import { checkDType } from "./dtype.ts";
 * checkDType("float32"); // ok
 * ```
 */
export function checkDType(dtype: string): asserts dtype is DType {
  if (!(dtypes as readonly string[]).includes(dtype)) {
    throw new Error(`Unknown dtype "${dtype}"; expected one of ${dtypes.join(", ")}`);
  }
}
