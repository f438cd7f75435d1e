/**
 * The workgroup-memory tiled matmul kernel that real GPUs get (`chooseTiles(..., false)`),
 * run directly on whatever adapter is present (lavapipe in CI), so its indexing, masking,
 * double buffering and split-K are checked here even though the software adapter itself is
 * scheduled onto the register-tiled kernel.
 */
import { assert, assertThrows } from "../../_assert.ts";
import { sharedGpu } from "../../../kernels/webgpu/device.ts";
import { createWebgpuBackend } from "../../../kernels/webgpu/backend.ts";
import { ExpBuilder } from "../../../kernels/webgpu/ir.ts";
import {
  chooseTiles,
  largeBlock,
  matmulPlan,
  type MatmulTiles,
} from "../../../kernels/webgpu/templates/matmul.ts";
import { checkBiasMatmul, type MatmulCase } from "./_matmul_case.ts";

const gpu = await sharedGpu();
const backend = createWebgpuBackend(gpu);
const ignore = gpu === null || backend === null;

interface Case extends MatmulCase {
  readonly tiles?: MatmulTiles;
}

Deno.test({
  name:
    "blocked matmul kernel matches a float64 product for odd sizes, layouts, split-K and a bias epilogue",
  ignore,
  async fn() {
    const target = backend!.runtime.target;
    const cases: Case[] = [
      { batch: 2, m: 130, n: 70, k: 45, aT: false, bT: false },
      { batch: 1, m: 97, n: 131, k: 52, aT: true, bT: true },
      { batch: 1, m: 72, n: 68, k: 40, aT: false, bT: true },
      { batch: 1, m: 200, n: 136, k: 1100, aT: false, bT: false },
      // 128 x 128 tiles, 3 workgroups looping over 6 tiles (the buffers are reused across them).
      {
        batch: 1,
        m: 150,
        n: 260,
        k: 36,
        aT: false,
        bT: false,
        tiles: { wx: 16, wy: 16, tm: 1, tv: 1, splitK: 1, groups: 3, blocked: largeBlock },
      },
      // Sizes the blocks tile exactly (no clamps), one block per workgroup (no loop).
      {
        batch: 2,
        m: 128,
        n: 192,
        k: 64,
        aT: false,
        bT: false,
        tiles: {
          wx: 16,
          wy: 16,
          tm: 1,
          tv: 1,
          splitK: 1,
          groups: 1 << 20,
          blocked: { bm: 64, bn: 64, bk: 8, tm: 8, tn: 4, unroll: false, swizzle: 2 },
        },
      },
      // Rectangular blocks and thread tiles, a K loop instead of unrolled steps, swizzled block
      // order with a short last group (5 block rows in groups of 3), split-K.
      {
        batch: 2,
        m: 300,
        n: 260,
        k: 70,
        aT: true,
        bT: false,
        tiles: {
          wx: 16,
          wy: 16,
          tm: 1,
          tv: 1,
          splitK: 2,
          groups: 1 << 20,
          blocked: { bm: 64, bn: 128, bk: 16, tm: 8, tn: 4, unroll: false, swizzle: 3 },
        },
      },
      {
        batch: 1,
        m: 260,
        n: 200,
        k: 33,
        aT: false,
        bT: true,
        tiles: {
          wx: 16,
          wy: 16,
          tm: 1,
          tv: 1,
          splitK: 1,
          groups: 7,
          blocked: { bm: 128, bn: 64, bk: 4, tm: 4, tn: 8, unroll: true, swizzle: 2 },
        },
      },
    ];
    let seed = 3;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5;
    for (const c of cases) {
      const { batch, m, n, k } = c;
      const A = Float32Array.from({ length: batch * m * k }, rand);
      const B = Float32Array.from({ length: batch * k * n }, rand);
      const bias = Float32Array.from({ length: n }, rand);
      // GPUs get unrolled K-steps; a loop checks the same indexing here at a fraction of
      // lavapipe's compile time (the unrolled form is covered by the last case).
      const chosen = chooseTiles(batch, m, n, k, false);
      const tiles = c.tiles ??
        (chosen.blocked ? { ...chosen, blocked: { ...chosen.blocked, unroll: false } } : chosen);
      assert(tiles.blocked !== undefined, `case ${JSON.stringify(c)} is not blocked`);
      await checkBiasMatmul(gpu!, target, c, tiles, "f32", false, A, B, bias);
    }
  },
});

Deno.test({
  name: "blocked matmul tiles that cannot be tiled in vec4 quads are refused, naming them",
  ignore,
  fn() {
    const target = backend!.runtime.target;
    const b = new ExpBuilder();
    const bad = { bm: 64, bn: 128, bk: 8, tm: 6, tn: 8, unroll: true, swizzle: 1 };
    const err = assertThrows(() =>
      matmulPlan({
        name: "mm_bad",
        batch: 1,
        m: 64,
        n: 128,
        k: 32,
        a: { slot: 0, format: "f32", base: b.idx(0), rowStride: 32, kStride: 1 },
        b: { slot: 1, format: "f32", base: b.idx(0), rowStride: 1, kStride: 128 },
        type: "f32",
        inputs: ["f32", "f32"],
        output: "f32",
        epilogue: b.ref("acc", "f32"),
        builder: b,
        target,
        tiles: { wx: 16, wy: 16, tm: 1, tv: 1, splitK: 1, groups: 1, blocked: bad },
        software: false,
      })
    );
    assert(err.message.includes("tm 6"), err.message);
  },
});
