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
 * The binary16 bit pattern nearest to `value` (ties to even; overflow to infinity; NaN kept).
 *
 * @example
 * ```ts
 * import { floatToHalfBits } from "./half.ts";
 * floatToHalfBits(1); // 0x3c00
 * ```
 */
export function floatToHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // inf or NaN
  // Rebias 127 -> 15. Work from the float32 bits so rounding is done once, correctly.
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // Subnormal half (or zero): shift the full mantissa (with the hidden bit) right.
    if (e < -10) return sign; // underflows to zero (even the largest value rounds to 0)
    mant |= 0x800000;
    const shift = 14 - e; // 14..24
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    const rounded = rest > halfway || (rest === halfway && (half & 1) === 1) ? half + 1 : half;
    return sign | rounded;
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // Round to nearest even; a carry out of the mantissa correctly bumps the exponent.
  const rounded = rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1) ? half + 1 : half;
  e = rounded >>> 10;
  return sign | (e >= 0x1f ? 0x7c00 : rounded);
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
  f32[0] = value;
  const x = u32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return (x >>> 16) | 0x40; // NaN
  const lsb = (x >>> 16) & 1;
  return ((x + 0x7fff + lsb) >>> 16) & 0xffff;
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
