import fc from "fast-check";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import * as device from "../../autograd/device.ts";
import { type NDArray, np } from "../../autograd/mod.ts";
import {
  lumaOf,
  separable,
  separableOp,
  smallerEigenvalue,
  solveStructure,
  structureTensor,
  warpBilinear,
  warpGrid,
} from "../../data/flow_ops.ts";
import { framesToArray, makeFrames } from "../../data/frames.ts";
import { hash32 } from "../../data/hash.ts";
import { luma, type Plane } from "../../data/image_ops.ts";
import {
  compose,
  convolutionMatrix,
  differenceMatrix,
  gaussianKernel,
  identityMatrix,
  resizeMatrix,
} from "../../data/image_operators.ts";
import * as oracle from "./_flow_oracle.ts";

device.use("reference");

/** A stack of `p` pseudo-random planes [p, h, w] in 0..255, and the same planes on the host. */
function randomStack(seed: number, p: number, h: number, w: number): [NDArray, Plane[]] {
  const data = Float32Array.from({ length: p * h * w }, (_, i) => hash32(seed, i) % 256);
  const planes = Array.from({ length: p }, (_, k) => ({
    data: data.slice(k * h * w, (k + 1) * h * w),
    h,
    w,
  }));
  return [np.array(data, { shape: [p, h, w] }), planes];
}

/** Plane k of a [P, H, W] result. */
function planeOf(x: NDArray, k: number): Float32Array {
  const [, h, w] = x.shape as [number, number, number];
  return (x.dataSync() as Float32Array).slice(k * h * w, (k + 1) * h * w);
}

Deno.test("operator rows sum to 1 for blurs and resizes and to 0 for differences", () => {
  const rowSums = (m: { data: Float64Array; rows: number; cols: number }) =>
    Array.from({ length: m.rows }, (_, i) => m.data.slice(i * m.cols, (i + 1) * m.cols))
      .map((row) => row.reduce((a, b) => a + b, 0));
  assertClose(rowSums(convolutionMatrix(7, gaussianKernel(2))), new Array(7).fill(1), {
    atol: 1e-12,
  });
  assertClose(rowSums(resizeMatrix(9, 5)), new Array(5).fill(1), { atol: 1e-12 });
  assertClose(rowSums(resizeMatrix(5, 9)), new Array(9).fill(1), { atol: 1e-12 });
  assertClose(rowSums(differenceMatrix(6)), new Array(6).fill(0), { atol: 1e-12 });
  assertEquals(compose(resizeMatrix(9, 5), identityMatrix(9)).data, resizeMatrix(9, 5).data);
  assertThrows(
    () => compose(resizeMatrix(9, 5), identityMatrix(5)),
    RangeError,
    "inner sizes 9 and 5",
  );
});

Deno.test("separable blur, gradients and resize equal the oracle's loops on [P, H, W]", () => {
  const [x, planes] = randomStack(11, 2, 12, 9); // H != W catches swapped row/column operators
  const g = gaussianKernel(2);
  const blurred = separable(x, separableOp(convolutionMatrix(12, g), convolutionMatrix(9, g)));
  const dx = separable(x, separableOp(identityMatrix(12), differenceMatrix(9)));
  const dy = separable(x, separableOp(differenceMatrix(12), identityMatrix(9)));
  const resized = separable(x, separableOp(resizeMatrix(12, 5), resizeMatrix(9, 14)));
  assertEquals(resized.shape, [2, 5, 14]);
  planes.forEach((plane, k) => {
    const tol = { atol: 1e-3, rtol: 1e-5 };
    assertClose(planeOf(blurred, k), oracle.blur(plane, oracle.gaussianKernel(2)).data, tol);
    assertClose(planeOf(dx, k), oracle.gradX(plane).data, tol);
    assertClose(planeOf(dy, k), oracle.gradY(plane).data, tol);
    assertClose(planeOf(resized, k), oracle.resize(plane, 5, 14).data, tol);
  });
  assertThrows(
    () => separable(x, separableOp(identityMatrix(9), identityMatrix(12))),
    RangeError,
    "planes [2,12,9] do not match operators [9, 9] and [12, 12]",
  );
});

Deno.test("warpBilinear equals the oracle warp, displacements in and outside the image", () => {
  const p = 2, h = 7, w = 9;
  const [images, planes] = randomStack(5, p, h, w);
  const grid = warpGrid(p, h, w);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
      // Displacements up to 6 px push samples past every border (clamped, edge replicated).
      const flow = (salt: number) =>
        Float32Array.from(
          { length: p * h * w },
          (_, i) => (hash32(seed + salt, i) / 2 ** 32 - 0.5) * 12,
        );
      const u = flow(0), v = flow(1);
      const out = warpBilinear(
        images,
        np.array(u, { shape: [p, h, w] }),
        np.array(v, { shape: [p, h, w] }),
        grid,
      );
      planes.forEach((plane, k) => {
        const view = (a: Float32Array) => ({ data: a.slice(k * h * w, (k + 1) * h * w), h, w });
        const expected = oracle.warp(plane, view(u), view(v)).data;
        assertClose(planeOf(out, k), expected, { atol: 2e-3, rtol: 1e-5 });
      });
    }),
    { numRuns: 8 },
  );
});

Deno.test("warpBilinear by whole pixels is an exact, edge-replicating shift per plane", () => {
  const [images, planes] = randomStack(9, 3, 5, 6);
  const out = warpBilinear(
    images,
    np.full([3, 5, 6], 2),
    np.full([3, 5, 6], -1),
    warpGrid(3, 5, 6),
  );
  planes.forEach((plane, k) => {
    const got = planeOf(out, k);
    for (let y = 0; y < 5; y++) {
      for (let x = 0; x < 6; x++) {
        const src = Math.max(0, y - 1) * 6 + Math.min(5, x + 2);
        assertEquals(got[y * 6 + x], plane.data[src], `plane ${k} (${y}, ${x})`);
      }
    }
  });
  assertThrows(
    () => warpBilinear(images, np.zeros([3, 5, 5]), np.zeros([3, 5, 6]), warpGrid(3, 5, 6)),
    RangeError,
    "u [3,5,5]",
  );
});

Deno.test("solveStructure solves the regularized 2x2 system and smallerEigenvalue is its texture", () => {
  // Per pixel: a random symmetric PSD tensor (g g^T + k k^T) and right-hand side.
  const n = 64;
  const r = (salt: number) =>
    Float32Array.from({ length: n }, (_, i) => (hash32(salt, i) / 2 ** 32 - 0.5) * 20);
  const [g1, g2, k1, k2, bxs, bys] = [1, 2, 3, 4, 5, 6].map(r) as Float32Array[];
  const wxx = g1!.map((a, i) => a * a + k1![i]! * k1![i]!);
  const wyy = g2!.map((a, i) => a * a + k2![i]! * k2![i]!);
  const wxy = g1!.map((a, i) => a * g2![i]! + k1![i]! * k2![i]!);
  const arr = (a: Float32Array) => np.array(a, { shape: [1, 8, 8] });
  const reg = np.array(new Float32Array([1]), { shape: [1, 1, 1] });
  const s = structureTensor(arr(wxx), arr(wxy), arr(wyy), reg);
  const [du, dv] = solveStructure(s, arr(bxs!), arr(bys!));
  const u = du.dataSync(), v = dv.dataSync(), lam = smallerEigenvalue(s, reg, np.zeros([1, 1, 1]));
  const lambda = lam.dataSync();
  for (let i = 0; i < n; i++) {
    const sxx = wxx[i]! + 1, syy = wyy[i]! + 1, sxy = wxy[i]!;
    const scale = Math.abs(bxs![i]!) + Math.abs(bys![i]!) + 1;
    assertClose(sxx * u[i]! + sxy * v[i]!, -bxs![i]!, { atol: 1e-3 * scale });
    assertClose(sxy * u[i]! + syy * v[i]!, -bys![i]!, { atol: 1e-3 * scale });
    const half = (wxx[i]! + wyy[i]!) / 2;
    const exact = half - Math.hypot((wxx[i]! - wyy[i]!) / 2, wxy[i]!);
    assertClose(lambda[i]!, Math.max(0, exact), { atol: 1e-3 * (1 + half), rtol: 1e-4 });
  }
  assert(lambda.every((x) => x >= 0), "texture is never negative");
});

Deno.test("lumaOf of int32 and float32 frames equals the host luma in 0..255", () => {
  const frames = makeFrames(
    Uint8Array.from({ length: 2 * 3 * 4 * 3 }, (_, i) => hash32(3, i) % 256),
    2,
    3,
    4,
  );
  const expected = [...luma(frames, 0).data, ...luma(frames, 1).data];
  const fromInt = lumaOf(framesToArray(frames, { dtype: "int32" }));
  const fromFloat = lumaOf(framesToArray(frames, { dtype: "float32" }));
  assertEquals(fromInt.shape, [2, 3, 4]);
  assertClose(fromInt.dataSync(), expected, { atol: 1e-4 });
  assertClose(fromFloat.dataSync(), expected, { atol: 1e-3 });
  assertThrows(() => lumaOf(np.zeros([2, 3, 4])), RangeError, "[T, H, W, 3], got [2,3,4]");
});
