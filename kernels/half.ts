/**
 * Conversions between numbers and the 16-bit float formats (IEEE binary16 and bfloat16), with
 * round-to-nearest-even, as the GPU does them. Written out rather than relying on
 * `Math.f16round`/`Float16Array`, which Node 20 lacks.
 *
 * @module
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Floor of log2 of a positive finite number, exactly (Math.log2 can be off by one near powers
 * of two).
 */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}

/**
 * The bits (without sign) of the binary floating-point format with `mant` stored mantissa bits,
 * exponent `bias` and `expBits` exponent bits nearest to the positive finite `a`, rounding once
 * from float64 (ties to even; overflow to infinity; subnormals kept). Rounding through float32
 * first would round twice and break ties (1 + 2^-11 + 2^-24 is not a float16 tie, but its
 * float32 rounding is).
 */
function encodeMagnitude(a: number, mant: number, bias: number, expBits: number): number {
  const infinity = ((1 << expBits) - 1) << mant;
  let e = Math.max(exponentOf(a), 1 - bias); // subnormals share the minimum normal exponent
  const q = a * 2 ** (mant - e); // the significand in units of the last place (exact scaling)
  const f = Math.floor(q);
  const r = q - f;
  let m = r > 0.5 || (r === 0.5 && f % 2 === 1) ? f + 1 : f;
  if (m === 2 ** (mant + 1)) {
    e += 1; // rounding carried into the next binade
    m = 2 ** mant;
  }
  if (m < 2 ** mant) return m; // subnormal (or zero)
  const biased = e + bias;
  if (biased >= (1 << expBits) - 1) return infinity;
  return (biased << mant) | (m - 2 ** mant);
}

/**
 * The binary16 bit pattern nearest to `value` (ties to even; overflow to infinity; NaN kept).
 *
 * @example
 * ```ts
 * import { floatToHalfBits } from "./half.ts";
 * floatToHalfBits(1); // 0x3c00
 * ```
 */
export function floatToHalfBits(value: number): number {
  if (Number.isNaN(value)) {
    f32[0] = value;
    return ((u32[0]! >>> 16) & 0x8000) | 0x7e00;
  }
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  return sign | encodeMagnitude(a, 10, 15, 5);
}

/**
 * The number a binary16 bit pattern stands for.
 *
 * @example
 * ```ts
 * import { halfBitsToFloat } from "./half.ts";
 * halfBitsToFloat(0x3c00); // 1
 * ```
 */
export function halfBitsToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/**
 * The bfloat16 bit pattern nearest to `value` (the top 16 bits of float32, ties to even).
 *
 * @example
 * ```ts
 * import { floatToBfloat16Bits } from "./half.ts";
 * floatToBfloat16Bits(1); // 0x3f80
 * ```
 */
export function floatToBfloat16Bits(value: number): number {
  if (Number.isNaN(value)) {
    f32[0] = value;
    return (u32[0]! >>> 16) | 0x40;
  }
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (a === Infinity) return sign | 0x7f80;
  if (a === 0) return sign;
  return sign | encodeMagnitude(a, 7, 127, 8);
}

/**
 * The number a bfloat16 bit pattern stands for (exact: bfloat16 is truncated float32).
 *
 * @example
 * ```ts
 * import { bfloat16BitsToFloat } from "./half.ts";
 * bfloat16BitsToFloat(0x3f80); // 1
 * ```
 */
export function bfloat16BitsToFloat(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}

/**
 * Rounds `value` to the nearest float16 (as a number).
 *
 * @example
 * ```ts
 * import { roundHalf } from "./half.ts";
 * roundHalf(1 / 3); // 0.333251953125
 * ```
 */
export function roundHalf(value: number): number {
  return halfBitsToFloat(floatToHalfBits(value));
}

/**
 * Rounds `value` to the nearest bfloat16 (as a number).
 *
 * @example
 * ```ts
 * import { roundBfloat16 } from "./half.ts";
 * roundBfloat16(1 / 3); // 0.333984375
 * ```
 */
export function roundBfloat16(value: number): number {
  return bfloat16BitsToFloat(floatToBfloat16Bits(value));
}
