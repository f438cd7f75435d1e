/**
 * Turning JavaScript values into arrays, and NumPy's implicit rules made explicit: dtype
 * promotion (JAX's, with weakly typed scalars) and broadcasting.
 *
 * @module
 */

import {
  allocHost,
  checkDType,
  type DType,
  type HostArray,
  isFloat,
  promoteTypes,
  weakScalarType,
} from "../../kernels/dtype.ts";
import { floatToBfloat16Bits, floatToHalfBits } from "../../kernels/half.ts";
import { broadcastShapes, fmtShape, type Shape, sizeOf } from "../../kernels/shape.ts";
import { type ArrayLike, NDArray, type NumberList } from "../array.ts";
import { defaultBackend } from "../backends.ts";
import * as lax from "../lax.ts";

/** Nested JavaScript arrays of numbers or booleans. */
export type NestedInput = number | boolean | readonly NestedInput[];

/** Typed arrays accepted as array data. */
export type TypedInput =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray;

/** Anything `np.array` accepts. */
export type ArrayInput = NDArray | NestedInput | TypedInput;

function inferShape(value: NestedInput): number[] {
  const shape: number[] = [];
  let level: NestedInput = value;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0] as NestedInput;
  }
  return shape;
}

function flatten(value: NestedInput, shape: Shape, out: number[], depth = 0): void {
  if (depth === shape.length) {
    if (Array.isArray(value)) {
      throw new Error(`Ragged nested array: expected a number at depth ${depth}`);
    }
    out.push(typeof value === "boolean" ? (value ? 1 : 0) : (value as number));
    return;
  }
  if (!Array.isArray(value) || value.length !== shape[depth]) {
    throw new Error(`Ragged nested array: expected length ${shape[depth]} at depth ${depth}`);
  }
  for (const item of value) flatten(item as NestedInput, shape, out, depth + 1);
}

function defaultDTypeOfTyped(data: TypedInput): DType {
  if (data instanceof Int32Array || data instanceof Int16Array || data instanceof Int8Array) {
    return "int32";
  }
  if (data instanceof Uint32Array || data instanceof Uint16Array) return "uint32";
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return "int32";
  return "float32";
}

/**
 * Converts numbers to host storage of `dtype` (half types as bit patterns, bool as 0/1).
 *
 * @example
 * ```ts ignore
 * toHost([1, 2], "float16"); // Uint16Array [0x3c00, 0x4000]
 * ```
 */
export function toHost(values: NumberList, dtype: DType): HostArray {
  const out = allocHost(dtype, values.length);
  if (dtype === "float16") {
    for (let i = 0; i < values.length; i++) out[i] = floatToHalfBits(values[i]!);
  } else if (dtype === "bfloat16") {
    for (let i = 0; i < values.length; i++) out[i] = floatToBfloat16Bits(values[i]!);
  } else if (dtype === "bool") {
    for (let i = 0; i < values.length; i++) {
      out[i] = values[i] ? 1 : 0;
    }
  } else (out as Float32Array).set(values);
  return out;
}

/**
 * Creates an array from JavaScript data: nested arrays, a typed array (with `shape`), a scalar,
 * or an existing array (converted to `dtype` if given). Numbers default to float32, typed
 * integer arrays to int32/uint32.
 *
 * @example
 * ```ts ignore
 * np.array([[1, 2], [3, 4]]);                               // float32 [2, 2]
 * np.array(new Int32Array(6), { shape: [2, 3] });          // int32 [2, 3]
 * ```
 */
export function array(value: ArrayInput, options: { shape?: Shape; dtype?: DType } = {}): NDArray {
  if (options.dtype !== undefined) checkDType(options.dtype);
  if (value instanceof NDArray) {
    const converted = options.dtype ? lax.cast(value, options.dtype) : value;
    return options.shape ? reshapeChecked(converted, options.shape) : converted;
  }
  let flat: NumberList;
  let shape: Shape;
  let dtype: DType;
  if (ArrayBuffer.isView(value)) {
    flat = value as TypedInput;
    shape = options.shape ?? [flat.length];
    dtype = options.dtype ?? defaultDTypeOfTyped(value as TypedInput);
  } else {
    shape = inferShape(value as NestedInput);
    const out: number[] = [];
    flatten(value as NestedInput, shape, out);
    flat = out;
    if (options.shape) {
      if (sizeOf(options.shape) !== out.length) {
        throw new Error(
          `np.array: ${out.length} values cannot fill shape ${fmtShape(options.shape)}`,
        );
      }
      shape = options.shape;
    }
    dtype = options.dtype ??
      (typeof firstLeaf(value as NestedInput) === "boolean" ? "bool" : "float32");
  }
  if (sizeOf(shape) !== flat.length) {
    throw new Error(`np.array: ${flat.length} values cannot fill shape ${fmtShape(shape)}`);
  }
  const backend = defaultBackend();
  return NDArray.fromBackend(backend.fromHost(toHost(flat, dtype), { shape: [...shape], dtype }));
}

/**
 * Creates an array from host data in storage format, bit for bit: raw 16-bit patterns
 * (`Uint16Array`) for float16/bfloat16, 0/1 bytes (`Uint8Array`) for bool, the matching typed
 * array otherwise. The counterpart of `x.rawData()`, for checkpoint IO.
 *
 * @example
 * ```ts ignore
 * np.fromRaw(new Uint16Array([0x3c00, 0x7e01]), { shape: [2], dtype: "float16" }); // [1, NaN]
 * ```
 */
export function fromRaw(data: HostArray, options: { shape: Shape; dtype: DType }): NDArray {
  checkDType(options.dtype);
  const expected = allocHost(options.dtype, 0).constructor;
  if (data.constructor !== expected) {
    throw new Error(
      `np.fromRaw: ${options.dtype} data must be a ${expected.name}, got ${data.constructor.name}`,
    );
  }
  if (data.length !== sizeOf(options.shape)) {
    throw new Error(
      `np.fromRaw: ${data.length} values cannot fill shape ${fmtShape(options.shape)}`,
    );
  }
  return NDArray.fromBackend(
    defaultBackend().fromHost(data, { shape: [...options.shape], dtype: options.dtype }),
  );
}

function firstLeaf(value: NestedInput): number | boolean | undefined {
  let v: NestedInput | undefined = value;
  while (Array.isArray(v)) v = v[0] as NestedInput | undefined;
  return v as number | boolean | undefined;
}

function reshapeChecked(x: NDArray, shape: Shape): NDArray {
  if (sizeOf(shape) !== x.size) {
    throw new Error(`np.array: cannot view ${x.describe()} as shape ${fmtShape(shape)}`);
  }
  return lax.reshape(x, shape);
}

/**
 * Converts an {@link ArrayLike} to an array; a scalar becomes a 0-d array of `dtype` (or the
 * default type of the value).
 *
 * @example
 * ```ts ignore
 * asArray(2, "int32"); // int32 [] array
 * ```
 */
export function asArray(x: ArrayLike, dtype?: DType): NDArray {
  if (x instanceof NDArray) return dtype && dtype !== x.dtype ? lax.cast(x, dtype) : x;
  const d = dtype ?? (typeof x === "boolean" ? "bool" : "float32");
  return lax.full([], typeof x === "boolean" ? (x ? 1 : 0) : x, d);
}

/**
 * The result dtype of an operation on `args`, with JavaScript scalars weakly typed (they take
 * the arrays' dtype when they can represent the value, as in JAX).
 *
 * @example
 * ```ts ignore
 * resultType(np.zeros([2], { dtype: "float16" }), 3); // "float16"
 * ```
 */
export function resultType(...args: readonly ArrayLike[]): DType {
  let strong: DType | null = null;
  for (const a of args) {
    if (a instanceof NDArray) {
      strong = strong ? promoteTypes(strong, a.dtype) : a.dtype;
    }
  }
  if (strong === null) {
    // Only scalars: floats if any is fractional or all are numbers (JAX: Python floats), bools stay.
    return args.every((a) => typeof a === "boolean") ? "bool" : "float32";
  }
  let out: DType = strong;
  for (const a of args) {
    if (!(a instanceof NDArray)) out = promoteTypes(out, weakScalarType(a, strong));
  }
  return out;
}

/**
 * Broadcasts an array to `shape` (NumPy rules: align trailing axes).
 *
 * @example
 * ```ts ignore
 * broadcastTo(np.ones([3, 1]), [2, 3, 4]).shape; // [2, 3, 4]
 * ```
 */
export function broadcastTo(x: ArrayLike, shape: Shape): NDArray {
  const a = asArray(x);
  const target = broadcastShapes(a.shape, shape);
  if (target.length !== shape.length || target.some((d, i) => d !== shape[i])) {
    throw new Error(`Cannot broadcast ${fmtShape(a.shape)} to ${fmtShape(shape)}`);
  }
  const offset = shape.length - a.shape.length;
  return lax.broadcast(a, shape, a.shape.map((_, i) => i + offset));
}

/**
 * Converts operands to one dtype (promotion with weak scalars) and one broadcast shape.
 *
 * @example
 * ```ts ignore
 * const [a, b] = promoteAndBroadcast(np.ones([3, 1]), 2); // both float32 [3, 1]
 * ```
 */
export function promoteAndBroadcast(args: readonly ArrayLike[], dtype?: DType): NDArray[] {
  const target = dtype ?? resultType(...args);
  const arrays = args.map((a) => asArray(a, target));
  const shape = broadcastShapes(...arrays.map((a) => a.shape));
  return arrays.map((a) => broadcastTo(a, shape));
}

/**
 * The float dtype an operation like `exp` computes in for an input dtype (ints and bool become
 * float32).
 *
 * @example
 * ```ts ignore
 * floatTypeOf("int32"); // "float32"
 * ```
 */
export function floatTypeOf(dtype: DType): DType {
  return isFloat(dtype) ? dtype : "float32";
}
