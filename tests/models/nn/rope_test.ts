import fc from "fast-check";
import { device, np } from "../../../autograd/mod.ts";
import {
  applyRope,
  linspaceFloat32,
  rope3d,
  rope3dTables,
  ropeAxisPositions,
  ropeCropRegion,
  roundHalfEven,
} from "../../../models/nn/rope.ts";
import { assertClose, assertEquals, assertThrows } from "../../_assert.ts";
import { checkGradients, host, randn, weightedSum } from "../_check.ts";

device.use("reference");

Deno.test("roundHalfEven rounds ties to the even neighbour like Python's round", () => {
  assertEquals([0.5, 1.5, 2.5, 11.5, 22.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven), [
    0,
    2,
    2,
    12,
    22,
    0,
    -2,
    2,
    3,
  ]);
});

Deno.test("ropeCropRegion resizes into the 30x45 base grid and centres with half-even rounding", () => {
  // 15x22 tokens: resized to 30x44, left = round(0.5) = 0 (Math.round would say 1).
  assertEquals(ropeCropRegion(15, 22), { top: 0, left: 0, bottom: 30, right: 44 });
  // 4x3 tokens: width round(22.5) = 22, left round(11.5) = 12 (Math.round: 23 wide, left 11).
  assertEquals(ropeCropRegion(4, 3), { top: 0, left: 12, bottom: 30, right: 34 });
  // The base grid itself, and DropletVideo's 896x896 phase 2 (56x56 tokens): left round(7.5) = 8.
  assertEquals(ropeCropRegion(30, 45), { top: 0, left: 0, bottom: 30, right: 45 });
  assertEquals(ropeCropRegion(56, 56), { top: 0, left: 8, bottom: 30, right: 38 });
  // Wide grids fill the width and centre vertically.
  assertEquals(ropeCropRegion(10, 60), { top: 11, left: 0, bottom: 19, right: 45 });
});

Deno.test("ropeAxisPositions is linspace(start, stop (n-1)/n, n) in float32", () => {
  assertEquals(
    Array.from(ropeAxisPositions(0, 44, 22)),
    Array.from({ length: 22 }, (_, i) => 2 * i),
  );
  assertEquals(Array.from(ropeAxisPositions(0, 5, 5)), [0, 1, 2, 3, 4]);
  // 4x3 grid columns: linspace(12, 34 * 2 / 3, 3); float32 step 5.333333, the middle counted back.
  const w = ropeAxisPositions(12, 34, 3);
  assertEquals(Array.from(w), [12, Math.fround(17.333332), Math.fround(22.666666)]);
  assertEquals(Array.from(linspaceFloat32(3, 3, 1)), [3]);
});

Deno.test("rope3d tables match hand-computed cos and sin on a 2x2x3 grid", () => {
  // head dim 16: time 4, height 6, width 6. Grid 2x3 fills the base grid: h at [0, 15],
  // w at [0, 15, 30], t at [0, 1].
  const { cos, sin, tokens } = rope3dTables({
    frames: 2,
    gridHeight: 2,
    gridWidth: 3,
    headDim: 16,
  });
  assertEquals(tokens, 12);
  const ft = [1, 0.01];
  const fs = [1, Math.pow(10000, -1 / 3), Math.pow(10000, -2 / 3)];
  const row = (t: number, h: number, w: number) =>
    [...ft.map((f) => t * f), ...fs.map((f) => h * f), ...fs.map((f) => w * f)].flatMap((
      a,
    ) => [a, a]);
  const positions = [0, 15];
  const cols = [0, 15, 30];
  for (let f = 0; f < 2; f++) {
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 3; x++) {
        const token = (f * 2 + y) * 3 + x;
        const angles = row(f, positions[y]!, cols[x]!);
        assertClose(Array.from(cos.subarray(token * 16, token * 16 + 16)), angles.map(Math.cos), {
          atol: 2e-6,
          message: `cos token ${token}`,
        });
        assertClose(Array.from(sin.subarray(token * 16, token * 16 + 16)), angles.map(Math.sin), {
          atol: 2e-6,
          message: `sin token ${token}`,
        });
      }
    }
  }
});

Deno.test("rope3d uses the half-even crop: a 4x3 grid's first column sits at position 12", () => {
  const { cos } = rope3dTables({ frames: 1, gridHeight: 4, gridWidth: 3, headDim: 16 });
  // Width part of token (0, 0, 0) starts at 4 + 6 = 10; its first frequency is 1.
  assertClose(cos[10]!, Math.cos(12), { atol: 1e-6 });
  assertEquals(Math.abs(cos[10]! - Math.cos(11)) > 0.1, true);
  const arrays = rope3d({ frames: 1, gridHeight: 4, gridWidth: 3, headDim: 16 });
  assertEquals(arrays.cos.shape, [12, 16]);
  assertThrows(
    () => rope3dTables({ frames: 1, gridHeight: 2, gridWidth: 2, headDim: 24 }),
    Error,
    "16",
  );
});

Deno.test("applyRope rotates interleaved pairs: x cos + [-x1, x0, ...] sin", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 0, max: 2 }), (seed, start) => {
      const rope = rope3d({ frames: 1, gridHeight: 1, gridWidth: 2, headDim: 16 });
      const x = randn(seed, [1, 2, start + 3, 16]);
      const y = applyRope(x, rope, { start });
      const xs = host(x), cs = host(rope.cos), ss = host(rope.sin);
      const s = start + 3;
      const expected = xs.map((v, i) => {
        const d = i % 16, tok = Math.floor(i / 16) % s;
        const r = tok - start;
        if (r < 0 || r >= 2) return v; // outside the rotated span
        const partner = d % 2 === 0 ? -xs[i + 1]! : xs[i - 1]!;
        return v * cs[r * 16 + d]! + partner * ss[r * 16 + d]!;
      });
      assertClose(host(y), expected, { rtol: 1e-5, atol: 1e-6 });
    }),
    { numRuns: 6 },
  );
});

Deno.test("applyRope gradients match finite differences; float16 input keeps its dtype", () => {
  const rope = rope3d({ frames: 2, gridHeight: 1, gridWidth: 1, headDim: 16 });
  const x = randn(3, [1, 1, 3, 16]);
  checkGradients((x) => weightedSum(applyRope(x!, rope, { start: 1 }), 4), [x]);
  assertEquals(applyRope(np.astype(x, "float16"), rope, { start: 1 }).dtype, "float16");
  assertThrows(() => applyRope(x, rope, { start: 2 }), Error, "do not fit");
});
