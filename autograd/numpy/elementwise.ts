/**
 * Elementwise functions with NumPy semantics: broadcasting, dtype promotion with weakly typed
 * scalars, integer inputs to transcendental functions computed in float32.
 *
 * @module
 */

import type { DType } from "../../kernels/dtype.ts";
import { isFloat } from "../../kernels/dtype.ts";
import type { BinaryPrimitive, UnaryPrimitive } from "../../kernels/primitives.ts";
import type { ArrayLike, NDArray } from "../array.ts";
import * as lax from "../lax.ts";
import { asArray, floatTypeOf, promoteAndBroadcast, resultType } from "./convert.ts";

function binaryOp(prim: BinaryPrimitive, a: ArrayLike, b: ArrayLike, dtype?: DType): NDArray {
  const [x, y] = promoteAndBroadcast([a, b], dtype);
  return lax.binary(prim, x!, y!);
}

function floatUnary(prim: UnaryPrimitive, x: ArrayLike): NDArray {
  const a = asArray(x);
  return lax.unary(prim, lax.cast(a, floatTypeOf(a.dtype)));
}

/**
 * `a + b`, elementwise with broadcasting.
 *
 * @example
 * ```ts ignore
 * np.add(x, 1);
 * ```
 */
export function add(a: ArrayLike, b: ArrayLike): NDArray {
  // NumPy: bool + bool is logical or.
  return binaryOp(resultType(a, b) === "bool" ? "or" : "add", a, b);
}

/**
 * `a - b`.
 *
 * @example
 * ```ts ignore
 * np.subtract(x, y);
 * ```
 */
export function subtract(a: ArrayLike, b: ArrayLike): NDArray {
  return binaryOp("sub", a, b);
}

/**
 * `a * b`.
 *
 * @example
 * ```ts ignore
 * np.multiply(x, 2);
 * ```
 */
export function multiply(a: ArrayLike, b: ArrayLike): NDArray {
  // NumPy: bool * bool is logical and.
  return binaryOp(resultType(a, b) === "bool" ? "and" : "mul", a, b);
}

/**
 * True division `a / b` (integers are divided as float32, as NumPy does).
 *
 * @example
 * ```ts ignore
 * np.divide(x, 4);
 * ```
 */
export function divide(a: ArrayLike, b: ArrayLike): NDArray {
  return binaryOp("div", a, b, floatTypeOf(resultType(a, b)));
}

/**
 * Floor division `a // b`.
 *
 * @example
 * ```ts ignore
 * np.floorDivide(7, 2); // 3
 * ```
 */
export function floorDivide(a: ArrayLike, b: ArrayLike): NDArray {
  const dtype = resultType(a, b);
  if (isFloat(dtype)) return lax.unary("floor", binaryOp("div", a, b, dtype));
  // Integers: truncating division, corrected toward -infinity when signs differ with remainder.
  const [x, y] = promoteAndBroadcast([a, b], dtype);
  const q = lax.binary("div", x!, y!);
  const r = lax.binary("rem", x!, y!);
  const zero = lax.full(q.shape, 0, dtype);
  const fix = lax.binary(
    "and",
    lax.binary("ne", r, zero),
    lax.binary("ne", lax.binary("lt", r, zero), lax.binary("lt", y!, zero)),
  );
  return lax.select(fix, lax.binary("sub", q, lax.full(q.shape, 1, dtype)), q);
}

/**
 * NumPy's `remainder` (`mod`): the result has the sign of the divisor.
 *
 * @example
 * ```ts ignore
 * np.remainder(-1, 3); // 2
 * ```
 */
export function remainder(a: ArrayLike, b: ArrayLike): NDArray {
  const [x, y] = promoteAndBroadcast([a, b]);
  const r = lax.binary("rem", x!, y!);
  const zero = lax.full(r.shape, 0, r.dtype);
  const fix = lax.binary(
    "and",
    lax.binary("ne", r, zero),
    lax.binary("ne", lax.binary("lt", r, zero), lax.binary("lt", y!, zero)),
  );
  return lax.select(fix, lax.binary("add", r, y!), r);
}

/**
 * `a ** b` (integer operands give integers, exact and wrapping on overflow as in NumPy; negative
 * integer exponents truncate the real result toward zero).
 *
 * @example
 * ```ts ignore
 * np.power(x, 2);
 * ```
 */
export function power(a: ArrayLike, b: ArrayLike): NDArray {
  const dtype = resultType(a, b);
  if (isFloat(dtype)) return binaryOp("pow", a, b, dtype);
  const viaFloat = lax.cast(lax.unary("round", binaryOp("pow", a, b, "float32")), dtype);
  if (dtype !== "int32" && dtype !== "uint32") return viaFloat;
  // Binary exponentiation in wrapping integer arithmetic: float32 pow is inexact past 2^24
  // (3^16 came out 43046720) and saturates instead of wrapping. One step per exponent bit.
  const [x, y] = promoteAndBroadcast([a, b], dtype);
  const one = lax.full(x!.shape, 1, dtype), zero = lax.full(x!.shape, 0, dtype);
  let acc = one, base = x!, e = y!;
  for (let bit = 0; bit < (dtype === "int32" ? 31 : 32); bit++) {
    const odd = lax.binary("ne", lax.binary("and", e, one), zero);
    acc = lax.select(odd, lax.binary("mul", acc, base), acc);
    base = lax.binary("mul", base, base);
    e = lax.binary("shift_right", e, one);
  }
  return dtype === "int32" ? lax.select(lax.binary("lt", y!, zero), viaFloat, acc) : acc;
}

/**
 * Elementwise maximum (NaN propagates).
 *
 * @example
 * ```ts ignore
 * np.maximum(x, 0);
 * ```
 */
export function maximum(a: ArrayLike, b: ArrayLike): NDArray {
  return binaryOp("max", a, b);
}

/**
 * Elementwise minimum (NaN propagates).
 *
 * @example
 * ```ts ignore
 * np.minimum(x, 1);
 * ```
 */
export function minimum(a: ArrayLike, b: ArrayLike): NDArray {
  return binaryOp("min", a, b);
}

/**
 * `atan2(a, b)`.
 *
 * @example
 * ```ts ignore
 * np.arctan2(y, x);
 * ```
 */
export function arctan2(a: ArrayLike, b: ArrayLike): NDArray {
  return binaryOp("atan2", a, b, floatTypeOf(resultType(a, b)));
}

/**
 * `-x`.
 *
 * @example
 * ```ts ignore
 * np.negative(x);
 * ```
 */
export function negative(x: ArrayLike): NDArray {
  return lax.unary("neg", asArray(x));
}

/**
 * `1 / x`.
 *
 * @example
 * ```ts ignore
 * np.reciprocal(x);
 * ```
 */
export function reciprocal(x: ArrayLike): NDArray {
  return floatUnary("recip", x);
}

/**
 * `e^x`.
 *
 * @example
 * ```ts ignore
 * np.exp(x);
 * ```
 */
export function exp(x: ArrayLike): NDArray {
  return floatUnary("exp", x);
}

/**
 * Natural logarithm.
 *
 * @example
 * ```ts ignore
 * np.log(x);
 * ```
 */
export function log(x: ArrayLike): NDArray {
  return floatUnary("log", x);
}

/**
 * Square root.
 *
 * @example
 * ```ts ignore
 * np.sqrt(x);
 * ```
 */
export function sqrt(x: ArrayLike): NDArray {
  return floatUnary("sqrt", x);
}

/**
 * `1 / sqrt(x)`.
 *
 * @example
 * ```ts ignore
 * np.rsqrt(x);
 * ```
 */
export function rsqrt(x: ArrayLike): NDArray {
  return floatUnary("rsqrt", x);
}

/**
 * Hyperbolic tangent.
 *
 * @example
 * ```ts ignore
 * np.tanh(x);
 * ```
 */
export function tanh(x: ArrayLike): NDArray {
  return floatUnary("tanh", x);
}

/**
 * Sine.
 *
 * @example
 * ```ts ignore
 * np.sin(x);
 * ```
 */
export function sin(x: ArrayLike): NDArray {
  return floatUnary("sin", x);
}

/**
 * Cosine.
 *
 * @example
 * ```ts ignore
 * np.cos(x);
 * ```
 */
export function cos(x: ArrayLike): NDArray {
  return floatUnary("cos", x);
}

/**
 * Tangent (`sin / cos`).
 *
 * @example
 * ```ts ignore
 * np.tan(x);
 * ```
 */
export function tan(x: ArrayLike): NDArray {
  return divide(sin(x), cos(x));
}

/**
 * The error function.
 *
 * @example
 * ```ts ignore
 * np.erf(x);
 * ```
 */
export function erf(x: ArrayLike): NDArray {
  return floatUnary("erf", x);
}

/**
 * The logistic sigmoid `1 / (1 + e^-x)`.
 *
 * @example
 * ```ts ignore
 * np.sigmoid(x);
 * ```
 */
export function sigmoid(x: ArrayLike): NDArray {
  return floatUnary("logistic", x);
}

/**
 * Absolute value.
 *
 * @example
 * ```ts ignore
 * np.abs(x);
 * ```
 */
export function abs(x: ArrayLike): NDArray {
  return lax.unary("abs", asArray(x));
}

/**
 * Sign (-1, 0, 1).
 *
 * @example
 * ```ts ignore
 * np.sign(x);
 * ```
 */
export function sign(x: ArrayLike): NDArray {
  return lax.unary("sign", asArray(x));
}

/**
 * Floor (integers pass through).
 *
 * @example
 * ```ts ignore
 * np.floor(x);
 * ```
 */
export function floor(x: ArrayLike): NDArray {
  const a = asArray(x);
  return isFloat(a.dtype) ? lax.unary("floor", a) : a;
}

/**
 * Ceiling (integers pass through).
 *
 * @example
 * ```ts ignore
 * np.ceil(x);
 * ```
 */
export function ceil(x: ArrayLike): NDArray {
  const a = asArray(x);
  return isFloat(a.dtype) ? lax.unary("ceil", a) : a;
}

/**
 * Rounds half to even (integers pass through).
 *
 * @example
 * ```ts ignore
 * np.round(x);
 * ```
 */
export function round(x: ArrayLike): NDArray {
  const a = asArray(x);
  return isFloat(a.dtype) ? lax.unary("round", a) : a;
}

/**
 * `x * x`.
 *
 * @example
 * ```ts ignore
 * np.square(x);
 * ```
 */
export function square(x: ArrayLike): NDArray {
  const a = asArray(x);
  return lax.binary("mul", a, a);
}

/**
 * `log(1 + x)`.
 *
 * @example
 * ```ts ignore
 * np.log1p(x);
 * ```
 */
export function log1p(x: ArrayLike): NDArray {
  return log(add(x, 1));
}

/**
 * `e^x - 1`.
 *
 * @example
 * ```ts ignore
 * np.expm1(x);
 * ```
 */
export function expm1(x: ArrayLike): NDArray {
  return subtract(exp(x), 1);
}

/**
 * Base-2 logarithm.
 *
 * @example
 * ```ts ignore
 * np.log2(x);
 * ```
 */
export function log2(x: ArrayLike): NDArray {
  return multiply(log(x), 1 / Math.LN2);
}

/**
 * Base-10 logarithm.
 *
 * @example
 * ```ts ignore
 * np.log10(x);
 * ```
 */
export function log10(x: ArrayLike): NDArray {
  return multiply(log(x), 1 / Math.LN10);
}

/**
 * Clamps into `[lo, hi]` (either bound may be omitted with `undefined`).
 *
 * @example
 * ```ts ignore
 * np.clip(x, 0, 1);
 * ```
 */
export function clip(x: ArrayLike, lo?: ArrayLike, hi?: ArrayLike): NDArray {
  let out = asArray(x);
  if (lo !== undefined) out = maximum(out, lo);
  if (hi !== undefined) out = minimum(out, hi);
  return out;
}

/**
 * Picks from `a` where `cond` is true, else from `b` (broadcast together).
 *
 * @example
 * ```ts ignore
 * np.where(np.greater(x, 0), x, 0);
 * ```
 */
export function where(cond: ArrayLike, a: ArrayLike, b: ArrayLike): NDArray {
  const dtype = resultType(a, b);
  const [c, x, y] = promoteAndBroadcast(
    [asBool(cond), asArray(a, dtype), asArray(b, dtype)],
    dtype,
  );
  return lax.select(lax.cast(c!, "bool"), x!, y!);
}
function asBool(x: ArrayLike): NDArray {
  const a = asArray(x);
  return a.dtype === "bool" ? a : lax.binary("ne", a, lax.full(a.shape, 0, a.dtype));
}

/**
 * `a == b` (bool).
 *
 * @example
 * ```ts ignore
 * np.equal(x, 0);
 * ```
 */
export function equal(a: ArrayLike, b: ArrayLike): NDArray {
  return binaryOp("eq", a, b);
}

/**
 * `a != b` (bool).
 *
 * @example
 * ```ts ignore
 * np.notEqual(x, 0);
 * ```
 */
export function notEqual(a: ArrayLike, b: ArrayLike): NDArray {
  return binaryOp("ne", a, b);
}

/**
 * `a < b` (bool).
 *
 * @example
 * ```ts ignore
 * np.less(x, 0);
 * ```
 */
export function less(a: ArrayLike, b: ArrayLike): NDArray {
  return binaryOp("lt", a, b);
}

/**
 * `a <= b` (bool).
 *
 * @example
 * ```ts ignore
 * np.lessEqual(x, 0);
 * ```
 */
export function lessEqual(a: ArrayLike, b: ArrayLike): NDArray {
  return binaryOp("le", a, b);
}

/**
 * `a > b` (bool).
 *
 * @example
 * ```ts ignore
 * np.greater(x, 0);
 * ```
 */
export function greater(a: ArrayLike, b: ArrayLike): NDArray {
  return binaryOp("gt", a, b);
}

/**
 * `a >= b` (bool).
 *
 * @example
 * ```ts ignore
 * np.greaterEqual(x, 0);
 * ```
 */
export function greaterEqual(a: ArrayLike, b: ArrayLike): NDArray {
  return binaryOp("ge", a, b);
}

/**
 * Logical and of truth values.
 *
 * @example
 * ```ts ignore
 * np.logicalAnd(m1, m2);
 * ```
 */
export function logicalAnd(a: ArrayLike, b: ArrayLike): NDArray {
  return binaryOp("and", asBool(a), asBool(b), "bool");
}

/**
 * Logical or.
 *
 * @example
 * ```ts ignore
 * np.logicalOr(m1, m2);
 * ```
 */
export function logicalOr(a: ArrayLike, b: ArrayLike): NDArray {
  return binaryOp("or", asBool(a), asBool(b), "bool");
}

/**
 * Logical xor.
 *
 * @example
 * ```ts ignore
 * np.logicalXor(m1, m2);
 * ```
 */
export function logicalXor(a: ArrayLike, b: ArrayLike): NDArray {
  return binaryOp("xor", asBool(a), asBool(b), "bool");
}

/**
 * Logical not.
 *
 * @example
 * ```ts ignore
 * np.logicalNot(mask);
 * ```
 */
export function logicalNot(a: ArrayLike): NDArray {
  return lax.unary("logical_not", asBool(a));
}

/**
 * True where NaN.
 *
 * @example
 * ```ts ignore
 * np.isnan(x);
 * ```
 */
export function isnan(x: ArrayLike): NDArray {
  const a = asArray(x);
  return isFloat(a.dtype) ? lax.unary("is_nan", a) : lax.full(a.shape, 0, "bool");
}

/**
 * True where +-infinity.
 *
 * @example
 * ```ts ignore
 * np.isinf(x);
 * ```
 */
export function isinf(x: ArrayLike): NDArray {
  const a = asArray(x);
  return isFloat(a.dtype) ? equal(abs(a), Infinity) : lax.full(a.shape, 0, "bool");
}

/**
 * True where finite (not NaN, not infinite).
 *
 * @example
 * ```ts ignore
 * np.isfinite(x);
 * ```
 */
export function isfinite(x: ArrayLike): NDArray {
  return logicalNot(logicalOr(isnan(x), isinf(x)));
}

/**
 * Converts to `dtype`.
 *
 * @example
 * ```ts ignore
 * np.astype(x, "float16");
 * ```
 */
export function astype(x: ArrayLike, dtype: DType): NDArray {
  return lax.cast(asArray(x), dtype);
}
