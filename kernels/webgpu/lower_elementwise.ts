/**
 * Elementwise primitives as IR expressions, with the reference interpreter's semantics per
 * dtype: half-precision results rounded to their dtype after each primitive (values live in
 * f32 registers), integer arithmetic wrapping, float-to-integer casts saturating (integer-to-integer casts wrap), NaN handled by the helpers.
 *
 * @module
 */

import type { DType } from "../dtype.ts";
import type { BinaryOp, Exp, ExpBuilder, ExpType, StorageFormat, UnaryOp } from "./ir.ts";
import type { PrimitiveCall } from "../primitives.ts";

/**
 * The register type holding values of `dtype`.
 *
 * @example
 * ```ts
 * import { registerType } from "./lower_elementwise.ts";
 * registerType("bfloat16"); // "f32"
 * ```
 */
export function registerType(dtype: DType): ExpType {
  switch (dtype) {
    case "float32":
    case "float16":
    case "bfloat16":
      return "f32";
    case "int32":
      return "i32";
    case "uint32":
      return "u32";
    case "bool":
      return "bool";
  }
}

/**
 * The storage layout of `dtype` on a device (`nativeF16`: `shader-f16` is on and packing was
 * not forced).
 *
 * @example
 * ```ts
 * import { storageFormat } from "./lower_elementwise.ts";
 * storageFormat("float16", false); // "f16x2"
 * ```
 */
export function storageFormat(dtype: DType, nativeF16: boolean): StorageFormat {
  switch (dtype) {
    case "float32":
      return "f32";
    case "float16":
      return nativeF16 ? "f16" : "f16x2";
    case "bfloat16":
      return "bf16x2";
    case "int32":
      return "i32";
    case "uint32":
      return "u32";
    case "bool":
      return "bool32";
  }
}

/**
 * Bytes of device storage for `count` elements in `format` (a multiple of 4, at least 4).
 *
 * @example
 * ```ts
 * import { storageBytes } from "./lower_elementwise.ts";
 * storageBytes("f16x2", 3); // 8
 * ```
 */
export function storageBytes(format: StorageFormat, count: number): number {
  const raw = format === "f16" || format === "f16x2" || format === "bf16x2" ? count * 2 : count * 4;
  return Math.max(4, Math.ceil(raw / 4) * 4);
}

/**
 * Rounds an f32 register value to `dtype`'s precision (identity for float32 and non-floats).
 *
 * @example
 * ```ts ignore
 * roundToDtype(b, sum, "bfloat16");
 * ```
 */
export function roundToDtype(b: ExpBuilder, e: Exp, dtype: DType): Exp {
  if (dtype === "float16") return b.unary("round_f16", e);
  if (dtype === "bfloat16") return b.unary("round_bf16", e);
  return e;
}

const binaryOpOf: Record<string, BinaryOp> = {
  add: "add",
  sub: "sub",
  mul: "mul",
  div: "div",
  rem: "rem",
  pow: "pow",
  max: "max",
  min: "min",
  atan2: "atan2",
  eq: "eq",
  ne: "ne",
  lt: "lt",
  le: "le",
  gt: "gt",
  ge: "ge",
  and: "and",
  or: "or",
  xor: "xor",
  shift_left: "shl",
  shift_right: "shr",
};

const exactBinary = new Set<string>(["max", "min", "eq", "ne", "lt", "le", "gt", "ge"]);

/**
 * The expression of one elementwise primitive applied to `args` (register values of
 * `inDtypes`), producing a value of `outDtype`.
 *
 * @example
 * ```ts ignore
 * lowerElementwise(b, { prim: "add", params: {} }, [x, y], ["float16", "float16"], "float16");
 * ```
 */
export function lowerElementwise(
  b: ExpBuilder,
  call: PrimitiveCall,
  args: readonly Exp[],
  inDtypes: readonly DType[],
  outDtype: DType,
): Exp {
  const [a, c] = args;
  const inDtype = inDtypes[0]!;
  switch (call.prim) {
    case "neg":
    case "abs":
    case "sign":
    case "floor":
    case "ceil":
    case "round":
      return b.unary(call.prim, a!);
    case "logical_not":
      return b.unary("not", a!);
    case "is_nan":
      return b.unary("isnan", a!);
    case "recip":
    case "exp":
    case "log":
    case "sqrt":
    case "rsqrt":
    case "sin":
    case "cos":
    case "tanh":
    case "logistic":
    case "erf":
      return roundToDtype(b, b.unary(call.prim as UnaryOp, a!), outDtype);
    case "select":
      return b.where(a!, c!, args[2]!);
    case "stop_gradient":
      return a!;
    case "cast": {
      const to = registerType(outDtype);
      const converted = b.cast(a!, to);
      // Rounding is needed unless the source is exactly representable in the target.
      const exact = outDtype === "float32" && (inDtype === "float16" || inDtype === "bfloat16");
      return exact || inDtype === outDtype ? converted : roundToDtype(b, converted, outDtype);
    }
    case "bitcast": {
      if (inDtype === outDtype) return a!;
      if (inDtype === "float16" && outDtype === "bfloat16") {
        return b.unary("bf16_from_bits", b.unary("f16_bits", a!));
      }
      if (inDtype === "bfloat16" && outDtype === "float16") {
        return b.unary("f16_from_bits", b.unary("bf16_bits", a!));
      }
      return b.bitcast(a!, registerType(outDtype));
    }
    default: {
      const op = binaryOpOf[call.prim];
      if (op === undefined || c === undefined) {
        throw new Error(`Internal: ${call.prim} is not elementwise`);
      }
      const e = b.binary(op, a!, c);
      return exactBinary.has(call.prim) ? e : roundToDtype(b, e, outDtype);
    }
  }
}
