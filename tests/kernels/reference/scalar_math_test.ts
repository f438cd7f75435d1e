/**
 * The scalar definitions behind the interpreter: erf accuracy against known values, round half
 * to even, and the WGSL-style integer semantics.
 */
import fc from "fast-check";
import {
  binaryFn,
  convertScalar,
  erf,
  roundHalfEven,
  unaryFn,
} from "../../../kernels/reference/scalar_math.ts";
import { assert, assertEquals } from "../../_assert.ts";
import { property } from "../../_arbitraries.ts";

/** erf at points on both sides of the series / continued-fraction switch (CPython's math.erf). */
const erfTable: [number, number][] = [
  [0.1, 0.1124629160182849],
  [0.5, 0.5204998778130465],
  [1, 0.8427007929497149],
  [1.5, 0.9661051464753108],
  [2, 0.9953222650189527],
  [2.4999, 0.9995928300996666],
  [2.5, 0.999593047982555],
  [3, 0.9999779095030014],
  [3.5, 0.9999992569016276],
  [4, 0.9999999845827421],
  [5, 0.9999999999984626],
  [-0.7, -0.6778011938374184],
  [-2.7, -0.9998656672600594],
];

Deno.test("erf matches known values to 1e-14", () => {
  // The series loses a few digits to cancellation just below 2.5 (worst about 6e-15 on a 1e-3
  // grid of [0, 8)); results are rounded to float32 or float16 anyway.
  for (const [x, want] of erfTable) {
    assert(Math.abs(erf(x) - want) <= 1e-14, `erf(${x}) = ${erf(x)}, expected ${want}`);
  }
  assertEquals(erf(0), 0);
  assertEquals(erf(Infinity), 1);
  assertEquals(erf(-Infinity), -1);
  assert(Number.isNaN(erf(NaN)));
  // The tails: 1 - erf(x) = erfc(x) to ~1e-16 absolute.
  assert(Math.abs(1 - erf(6) - 2.15e-17) < 1e-16);
});

Deno.test("erf is odd, increasing, bounded and continuous across its branch points", () => {
  property(fc.double({ min: -8, max: 8, noNaN: true }), (x) => {
    assertEquals(erf(-x), -erf(x));
    assert(Math.abs(erf(x)) <= 1);
    const y = x + 1e-3;
    assert(erf(y) >= erf(x), `erf decreases between ${x} and ${y}`);
  }, { numRuns: 500 });
  for (const at of [2.5, 6]) {
    const below = erf(at * (1 - 1e-12)), above = erf(at * (1 + 1e-12));
    assert(Math.abs(above - below) < 1e-12, `erf jumps at ${at}: ${below} vs ${above}`);
  }
});

Deno.test("roundHalfEven rounds ties to the even neighbour and others to nearest", () => {
  assertEquals([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5].map(roundHalfEven), [0, 2, 2, 4, -0, -2, -2]);
  assertEquals([0.49999999999999994, 1.4, 1.6, -1.6, 2 ** 52 + 1].map(roundHalfEven), [
    0,
    1,
    2,
    -2,
    2 ** 52 + 1,
  ]);
  property(fc.integer({ min: -1e6, max: 1e6 }), (k) => {
    const r = roundHalfEven(k + 0.5);
    assert(r === k || r === k + 1);
    assertEquals(Math.abs(r % 2), 0);
  }, { numRuns: 200 });
});

Deno.test("integer semantics follow WGSL: truncating division, x / 0 = x, x % 0 = 0", () => {
  const div = binaryFn("div", "int32"), rem = binaryFn("rem", "int32");
  property(
    fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -50, max: 50 })),
    ([a, b]) => {
      if (b === 0) {
        assertEquals(div(a, b), a);
        assertEquals(rem(a, b), 0);
        return;
      }
      const q = div(a, b), r = rem(a, b);
      assertEquals(q, Math.trunc(a / b));
      assertEquals(q * b + r, a); // the division identity
      assert(r === 0 || Math.sign(r) === Math.sign(a), `sign of ${a} rem ${b}`);
    },
    { numRuns: 300 },
  );
  assertEquals(unaryFn("logical_not", "int32")(0), -1);
  assertEquals(convertScalar(-1, "uint32", "int32"), 4294967295);
  assertEquals(convertScalar(-1.5, "uint32"), 0);
});
