/**
 * Scalar definitions of the elementwise primitives, in float64: the specification that WGSL
 * kernels are checked against. Integer semantics follow WGSL (wrapping arithmetic, truncating
 * division, `x / 0 = x`, shifts modulo 32) so that both backends agree bit for bit on integers.
 *
 * @module
 */

import type { DType } from "../dtype.ts";
import type { BinaryPrimitive, UnaryPrimitive } from "../primitives.ts";

/**
 * The error function, accurate to about 1e-15: Taylor series near 0, a continued fraction for
 * erfc in the tails (Numerical Recipes' Lentz method).
 *
 * @example
 * ```ts
 * import { erf } from "./scalar_math.ts";
 * erf(1); // 0.8427007929497149
 * ```
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // erf x = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax, sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * sum * 2 / Math.sqrt(Math.PI);
  }
  if (ax > 6) return Math.sign(x);
  // erfc x = exp(-x^2)/sqrt(pi) * 1/(x + 1/2 / (x + 1 / (x + 3/2 / (x + ...))))
  const tiny = 1e-300;
  let f = ax, c = ax, d = 0;
  for (let i = 1; i < 300; i++) {
    const a = i / 2;
    d = ax + a * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = ax + a / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/**
 * Rounds half to even, as WGSL's `round` does.
 *
 * @example
 * ```ts
 * import { roundHalfEven } from "./scalar_math.ts";
 * roundHalfEven(2.5); // 2
 * ```
 */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `max` that propagates NaN (as JAX's `lax.max` does). */
function nanMax(a: number, b: number): number {
  return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b);
}

/** `min` that propagates NaN. */
function nanMin(a: number, b: number): number {
  return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b);
}

/** A scalar function of one element, given the element's dtype. */
export type UnaryFn = (x: number) => number;

/**
 * The float64 definition of a unary primitive for `dtype` (the caller rounds to `dtype`).
 *
 * @example
 * ```ts
 * import { unaryFn } from "./scalar_math.ts";
 * unaryFn("neg", "int32")(5); // -5
 * ```
 */
export function unaryFn(prim: UnaryPrimitive, dtype: DType): UnaryFn {
  switch (prim) {
    case "neg":
      return (x) => -x;
    case "recip":
      return (x) => 1 / x;
    case "exp":
      return Math.exp;
    case "log":
      return Math.log;
    case "sqrt":
      return Math.sqrt;
    case "rsqrt":
      return (x) => 1 / Math.sqrt(x);
    case "sin":
      return Math.sin;
    case "cos":
      return Math.cos;
    case "tanh":
      return Math.tanh;
    case "logistic":
      return (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
    case "erf":
      return erf;
    case "abs":
      return Math.abs;
    case "sign":
      return (x) => (Number.isNaN(x) ? NaN : x > 0 ? 1 : x < 0 ? -1 : 0);
    case "floor":
      return Math.floor;
    case "ceil":
      return Math.ceil;
    case "round":
      return roundHalfEven;
    case "logical_not":
      return dtype === "bool" ? (x) => (x ? 0 : 1) : (x) => ~x;
    case "is_nan":
      return (x) => (Number.isNaN(x) ? 1 : 0);
  }
}

/** A scalar function of two elements. */
export type BinaryFn = (a: number, b: number) => number;

/**
 * The definition of a binary primitive for operands of `dtype` (the caller rounds the result).
 * Integer division and remainder truncate toward zero; division by zero returns the dividend,
 * as in WGSL.
 *
 * @example
 * ```ts
 * import { binaryFn } from "./scalar_math.ts";
 * binaryFn("div", "int32")(-7, 2); // -3
 * ```
 */
export function binaryFn(prim: BinaryPrimitive, dtype: DType): BinaryFn {
  const integer = dtype === "int32" || dtype === "uint32";
  switch (prim) {
    case "add":
      return (a, b) => a + b;
    case "sub":
      return (a, b) => a - b;
    case "mul":
      return integer
        ? (dtype === "int32" ? Math.imul : (a, b) => Math.imul(a, b) >>> 0)
        : (a, b) => a * b;
    case "div":
      return integer ? (a, b) => (b === 0 ? a : Math.trunc(a / b)) : (a, b) => a / b;
    case "rem":
      // Truncated remainder (sign of the dividend), as C, WGSL and JavaScript's `%`.
      return integer ? (a, b) => (b === 0 ? 0 : a % b) : (a, b) => a % b;
    case "pow":
      return Math.pow;
    case "max":
      return nanMax;
    case "min":
      return nanMin;
    case "atan2":
      return Math.atan2;
    case "eq":
      return (a, b) => (a === b ? 1 : 0);
    case "ne":
      return (a, b) => (a !== b ? 1 : 0);
    case "lt":
      return (a, b) => (a < b ? 1 : 0);
    case "le":
      return (a, b) => (a <= b ? 1 : 0);
    case "gt":
      return (a, b) => (a > b ? 1 : 0);
    case "ge":
      return (a, b) => (a >= b ? 1 : 0);
    case "and":
      return (a, b) => a & b;
    case "or":
      return (a, b) => a | b;
    case "xor":
      return (a, b) => a ^ b;
    case "shift_left":
      return (a, b) => a << (b & 31);
    case "shift_right":
      // Logical for uint32, arithmetic for int32 (as WGSL's >>).
      return dtype === "uint32" ? (a, b) => a >>> (b & 31) : (a, b) => a >> (b & 31);
  }
}

/**
 * Converts a float64 value to `dtype` as WGSL's conversions do: floats round, float to integer
 * truncates toward zero and saturates (NaN to 0), integer to integer keeps the low 32 bits (two's
 * complement, as `u32(i32)` in WGSL and `astype` in NumPy), anything to bool is `x != 0`. `from`
 * is the source dtype (float when omitted).
 *
 * @example
 * ```ts
 * import { convertScalar } from "./scalar_math.ts";
 * convertScalar(-2.7, "int32"); // -2
 * convertScalar(1e10, "int32"); // 2147483647
 * convertScalar(-1, "uint32", "int32"); // 4294967295
 * ```
 */
export function convertScalar(value: number, dtype: DType, from?: DType): number {
  const fromInteger = from === "int32" || from === "uint32" || from === "bool";
  switch (dtype) {
    case "int32":
      if (fromInteger) return value | 0;
      if (Number.isNaN(value)) return 0;
      return Math.max(-2147483648, Math.min(2147483647, Math.trunc(value)));
    case "uint32":
      if (fromInteger) return value >>> 0;
      if (Number.isNaN(value)) return 0;
      return Math.max(0, Math.min(4294967295, Math.trunc(value)));
    case "bool":
      return value !== 0 ? 1 : 0; // NaN is true, as in NumPy and WGSL (NaN != 0)
    default:
      return value;
  }
}
