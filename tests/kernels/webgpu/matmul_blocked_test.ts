/**
 * The workgroup-memory tiled matmul kernel that real GPUs get (`chooseTiles(..., false)`),
 * run directly on whatever adapter is present (lavapipe in CI), so its indexing, masking,
 * double buffering and split-K are checked here even though the software adapter itself is
 * scheduled onto the register-tiled kernel.
 */
import { assert } from "../../_assert.ts";
import { sharedGpu } from "../../../kernels/webgpu/device.ts";
import { createWebgpuBackend } from "../../../kernels/webgpu/backend.ts";
import { ExpBuilder, type StorageFormat } from "../../../kernels/webgpu/ir.ts";
import {
  chooseTiles,
  matmulPlan,
  type MatmulTiles,
} from "../../../kernels/webgpu/templates/matmul.ts";
import { runMatmulPlan } from "./_matmul_plan.ts";

const gpu = await sharedGpu();
const backend = createWebgpuBackend(gpu);
const ignore = gpu === null || backend === null;

interface Case {
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** A stored `[B, K, M]` (read transposed) instead of `[B, M, K]`. */
  readonly aT: boolean;
  /** B stored `[B, N, K]` (read transposed) instead of `[B, K, N]`. */
  readonly bT: boolean;
  readonly tiles?: MatmulTiles;
}

Deno.test({
  name:
    "blocked matmul kernel matches a float64 product for odd sizes, layouts, split-K and a bias epilogue",
  ignore,
  async fn() {
    const device = gpu!.device;
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
        tiles: { wx: 16, wy: 16, tm: 1, tv: 1, splitK: 1, groups: 3, blocked: 2 },
      },
    ];
    let seed = 3;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5;
    for (const c of cases) {
      const { batch, m, n, k } = c;
      const A = Float32Array.from({ length: batch * m * k }, rand);
      const B = Float32Array.from({ length: batch * k * n }, rand);
      const bias = Float32Array.from({ length: n }, rand);
      const b = new ExpBuilder();
      const bt = b.variable("bt", batch), j = b.variable("j", n);
      const tiles = c.tiles ?? chooseTiles(batch, m, n, k, false);
      assert(tiles.blocked !== undefined, `case ${JSON.stringify(c)} is not blocked`);
      const formats: StorageFormat[] = ["f32", "f32", "f32"];
      const plan = matmulPlan({
        name: "mm_test",
        batch,
        m,
        n,
        k,
        a: {
          slot: 0,
          format: "f32",
          base: b.mul(bt, b.idx(m * k)),
          rowStride: c.aT ? 1 : k,
          kStride: c.aT ? m : 1,
        },
        b: {
          slot: 1,
          format: "f32",
          base: b.mul(bt, b.idx(k * n)),
          rowStride: c.bT ? k : 1,
          kStride: c.bT ? 1 : n,
        },
        type: "f32",
        inputs: formats,
        output: "f32",
        epilogue: b.add(b.ref("acc", "f32"), b.load(2, "f32", j)),
        builder: b,
        target,
        tiles,
        software: false,
      });
      const got = await runMatmulPlan(device, plan, [A, B, bias], batch * m * n);
      for (let t = 0; t < batch; t++) {
        for (let i = 0; i < m; i++) {
          for (let jj = 0; jj < n; jj++) {
            let s = 0;
            for (let q = 0; q < k; q++) {
              const av = A[t * m * k + (c.aT ? q * m + i : i * k + q)]!;
              const bv = B[t * k * n + (c.bT ? jj * k + q : q * n + jj)]!;
              s += av * bv;
            }
            s += bias[jj]!;
            const g = got[(t * m + i) * n + jj]!;
            assert(
              Math.abs(g - s) <= 1e-4 * Math.sqrt(k) + 1e-5 * Math.abs(s),
              `case ${JSON.stringify(c)} tiles ${
                JSON.stringify(tiles)
              }: out[${t}, ${i}, ${jj}] = ${g}, expected ${s}`,
            );
          }
        }
      }
    }
  },
});
