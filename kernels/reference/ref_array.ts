/**
 * The reference interpreter's array: values held as float64 (floats, already rounded to their
 * dtype's precision) or exact integers, so every operation computes in float64 and rounds once,
 * the way a careful GPU kernel accumulating in float32 approximates.
 *
 * @module
 */

import type { Backend, BackendArray } from "../backend.ts";
import { allocHost, type DType, type HostArray, isFloat } from "../dtype.ts";
import {
  bfloat16BitsToFloat,
  floatToBfloat16Bits,
  floatToHalfBits,
  halfBitsToFloat,
  roundBfloat16,
  roundHalf,
} from "../half.ts";
import type { Aval } from "../primitives.ts";
import { sizeOf } from "../shape.ts";

/** Element storage of the reference interpreter, by dtype kind. */
export type RefData = Float64Array | Int32Array | Uint32Array | Uint8Array;

/** An array of the reference backend. */
export class RefArray implements BackendArray {
  constructor(
    readonly aval: Aval,
    /** Row-major elements: float64 for float dtypes, exact for int32/uint32/bool. */
    readonly data: RefData,
    readonly backend: Backend,
  ) {
    if (data.length !== sizeOf(aval.shape)) {
      throw new Error(`RefArray: ${data.length} elements for shape [${aval.shape}]`);
    }
  }
}

/**
 * Rounds a float64 value to the precision of a float dtype; wraps integers into their range.
 *
 * @example
 * ```ts
 * import { roundTo } from "./ref_array.ts";
 * roundTo(0.1, "float32"); // 0.10000000149011612
 * roundTo(2 ** 31, "int32"); // -2147483648
 * ```
 */
export function roundTo(value: number, dtype: DType): number {
  switch (dtype) {
    case "float32":
      return Math.fround(value);
    case "float16":
      return roundHalf(value);
    case "bfloat16":
      return roundBfloat16(value);
    case "int32":
      return value | 0;
    case "uint32":
      return value >>> 0;
    case "bool":
      return value ? 1 : 0;
  }
}

/**
 * Allocates storage for `size` elements of `dtype` in the interpreter's representation.
 *
 * @example
 * ```ts
 * import { allocRef } from "./ref_array.ts";
 * allocRef("float16", 2); // Float64Array [0, 0]
 * ```
 */
export function allocRef(dtype: DType, size: number): RefData {
  if (isFloat(dtype)) return new Float64Array(size);
  if (dtype === "int32") return new Int32Array(size);
  if (dtype === "uint32") return new Uint32Array(size);
  return new Uint8Array(size);
}

/**
 * Converts host data (raw bits for half types) to the interpreter's representation.
 *
 * @example
 * ```ts
 * import { hostToRef } from "./ref_array.ts";
 * hostToRef(new Uint16Array([0x3c00]), "float16"); // Float64Array [1]
 * ```
 */
export function hostToRef(data: HostArray, dtype: DType): RefData {
  const n = data.length;
  switch (dtype) {
    case "float32":
      return Float64Array.from(data as Float32Array);
    case "float16": {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = halfBitsToFloat(data[i]!);
      return out;
    }
    case "bfloat16": {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = bfloat16BitsToFloat(data[i]!);
      return out;
    }
    case "int32":
      return Int32Array.from(data as Int32Array);
    case "uint32":
      return Uint32Array.from(data as Uint32Array);
    case "bool":
      return Uint8Array.from(data as Uint8Array, (v) => (v ? 1 : 0));
  }
}

/**
 * Converts interpreter storage to host data of `dtype` (raw bits for half types).
 *
 * @example
 * ```ts
 * import { refToHost } from "./ref_array.ts";
 * refToHost(new Float64Array([1]), "float16"); // Uint16Array [0x3c00]
 * ```
 */
export function refToHost(data: RefData, dtype: DType): HostArray {
  const out = allocHost(dtype, data.length);
  switch (dtype) {
    case "float16":
      for (let i = 0; i < data.length; i++) out[i] = floatToHalfBits(data[i]!);
      return out;
    case "bfloat16":
      for (let i = 0; i < data.length; i++) out[i] = floatToBfloat16Bits(data[i]!);
      return out;
    default:
      (out as Float32Array).set(data as ArrayLike<number>);
      return out;
  }
}
