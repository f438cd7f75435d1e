/**
 * Rounding to each dtype (`roundTo`, the once-per-result rounding of the interpreter) and the
 * 16-bit float conversions behind it, checked against independent oracles: `Math.f16round`
 * (correctly rounded float64 -> float16, available in Deno) and the defining property of
 * round-to-nearest-even for bfloat16.
 */
import fc from "fast-check";
import {
  bfloat16BitsToFloat,
  floatToBfloat16Bits,
  floatToHalfBits,
  halfBitsToFloat,
} from "../../../kernels/half.ts";
import { hostToRef, refToHost, roundTo } from "../../../kernels/reference/ref_array.ts";
import { assert, assertEquals } from "../../_assert.ts";
import { property } from "../../_arbitraries.ts";

const f16round = (Math as unknown as { f16round(x: number): number }).f16round;

Deno.test("roundTo float16 equals Math.f16round (correct rounding from float64)", () => {
  property(
    fc.oneof(
      fc.double({ min: -70000, max: 70000, noNaN: true }),
      fc.double({ min: -1e-3, max: 1e-3, noNaN: true }),
      // Values at and near float16 ties in [1, 2) (spacing 2^-10): (2j + 1) / 2048 + tiny.
      fc.tuple(fc.integer({ min: 1024, max: 2047 }), fc.integer({ min: -3, max: 3 }))
        .map(([j, t]) => (2 * j + 1) / 2048 + t * 2 ** -40),
    ),
    (v) => {
      const got = roundTo(v, "float16");
      assert(
        Object.is(got, f16round(v)),
        `roundTo(${v}, float16) = ${got}, expected ${f16round(v)}`,
      );
    },
    { numRuns: 3000 },
  );
});

Deno.test("float16 ties round to even, overflow to infinity, subnormals are kept", () => {
  const cases: [number, number][] = [
    [1 + 2 ** -11, 0x3c00], // tie between 1 and 1 + 2^-10: even (1)
    [1 + 3 * 2 ** -11, 0x3c02], // tie: even (1 + 2^-9)
    [1 + 2 ** -11 + 2 ** -30, 0x3c01], // just above the tie (below float32 precision)
    [65504, 0x7bff],
    [65519.99, 0x7bff],
    [65520, 0x7c00], // tie between 65504 and 65536 (out of range): even -> infinity
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie between 0 and 2^-24: even (0)
    [2 ** -25 * (1 + 2 ** -30), 0x0001], // just above that tie
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 subnormal units: even (2)
    [-0, 0x8000],
    [-2, 0xc000],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
  ];
  for (const [v, bits] of cases) {
    assertEquals(floatToHalfBits(v).toString(16), bits.toString(16), `floatToHalfBits(${v})`);
  }
  assert(Number.isNaN(halfBitsToFloat(floatToHalfBits(NaN))), "NaN is kept");
});

Deno.test("every float16 bit pattern round-trips through halfBitsToFloat and floatToHalfBits", () => {
  for (let bits = 0; bits < 0x10000; bits++) {
    const v = halfBitsToFloat(bits);
    if (Number.isNaN(v)) {
      assert(Number.isNaN(halfBitsToFloat(floatToHalfBits(v))));
      continue;
    }
    if (floatToHalfBits(v) !== bits) {
      throw new Error(`0x${bits.toString(16)} -> ${v} -> 0x${floatToHalfBits(v).toString(16)}`);
    }
    assert(Object.is(v, f16round(v)), `halfBitsToFloat(0x${bits.toString(16)}) = ${v}`);
  }
});

/** The two bfloat16 values next to a bfloat16 bit pattern (same sign side). */
function neighbours(bits: number): [number, number] {
  return [bits === 0 ? 0 : bfloat16BitsToFloat(bits - 1), bfloat16BitsToFloat(bits + 1)];
}

Deno.test("roundTo bfloat16 returns the nearest bfloat16, ties to even", () => {
  property(
    fc.oneof(
      fc.double({ min: -1e30, max: 1e30, noNaN: true, noDefaultInfinity: true }),
      fc.double({ min: -4, max: 4, noNaN: true }),
      // At and near bfloat16 ties in [1, 2) (spacing 2^-7): (2j + 1) / 256 + tiny.
      fc.tuple(fc.integer({ min: 128, max: 255 }), fc.integer({ min: -2, max: 2 }))
        .map(([j, t]) => (2 * j + 1) / 256 + t * 2 ** -40),
    ),
    (v) => {
      if (v === 0) return;
      const bits = floatToBfloat16Bits(Math.abs(v));
      const r = bfloat16BitsToFloat(bits);
      const [below, above] = neighbours(bits);
      const a = Math.abs(v);
      const d = Math.abs(a - r);
      assert(d <= Math.abs(a - below) && d <= Math.abs(a - above), `${v} -> ${r} is not nearest`);
      if (d > 0 && (d === Math.abs(a - below) || d === Math.abs(a - above))) {
        assert((bits & 1) === 0, `tie ${v} -> ${r} is not even`);
      }
      assertEquals(roundTo(v, "bfloat16"), v < 0 ? -r : r);
    },
    { numRuns: 3000 },
  );
});

Deno.test("bfloat16 rounding is done once from float64", () => {
  assertEquals(floatToBfloat16Bits(1 + 2 ** -8), 0x3f80); // tie: even
  assertEquals(floatToBfloat16Bits(1 + 3 * 2 ** -8), 0x3f82); // tie: even
  assertEquals(floatToBfloat16Bits(1 + 2 ** -8 + 2 ** -40), 0x3f81); // above the tie
  assertEquals(floatToBfloat16Bits(3.5e38), 0x7f80); // overflow
  assertEquals(floatToBfloat16Bits(-0), 0x8000);
});

Deno.test("roundTo wraps integers and rounds floats to float32", () => {
  assertEquals(roundTo(0.1, "float32"), Math.fround(0.1));
  assertEquals(roundTo(2 ** 31, "int32"), -(2 ** 31));
  assertEquals(roundTo(-1, "uint32"), 2 ** 32 - 1);
  assertEquals(roundTo(2 ** 32 + 3, "uint32"), 3);
  assertEquals(roundTo(-2, "bool"), 1);
  assertEquals(roundTo(0, "bool"), 0);
});

Deno.test("hostToRef and refToHost round-trip every dtype (raw bits for half types)", () => {
  const half = new Uint16Array([0x3c00, 0x8001, 0x7bff]);
  assertEquals(Array.from(hostToRef(half, "float16")), [1, -(2 ** -24), 65504]);
  assertEquals(Array.from(refToHost(hostToRef(half, "float16"), "float16")), Array.from(half));
  const bf = new Uint16Array([0x3f80, 0xc040]);
  assertEquals(Array.from(hostToRef(bf, "bfloat16")), [1, -3]);
  assertEquals(Array.from(refToHost(hostToRef(bf, "bfloat16"), "bfloat16")), Array.from(bf));
  const ints = new Int32Array([-1, 2 ** 31 - 1]);
  assertEquals(Array.from(refToHost(hostToRef(ints, "int32"), "int32")), [-1, 2 ** 31 - 1]);
  assertEquals(Array.from(hostToRef(new Uint8Array([0, 2]), "bool")), [0, 1]);
});
