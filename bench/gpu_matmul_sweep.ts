/**
 * Sweeps the matmul template's tile configurations on the present adapter for one float32
 * product `[n, n] x [n, n]` (default 4096) and prints, per configuration, device time per
 * product (many products per submit, no readback), TFLOP/s and the worst error of sampled
 * entries against float64 dot products. This is how `chooseTiles`' GPU configuration was
 * picked (the measured table is in bench/README.md); rerun it on a new GPU to retune.
 *
 * Usage: `deno run -A bench/gpu_matmul_sweep.ts [--n 4096] [--reps 15] [--only name,...]`
 * (on a software adapter use `--n 256`). Prints one JSON line per configuration and writes
 * `out/bench/gpu_matmul_sweep.json`.
 *
 * @module
 */

import { sharedGpu } from "../kernels/webgpu/device.ts";
import { flag } from "./args.ts";
import { ExpBuilder } from "../kernels/webgpu/ir.ts";
import {
  type BlockTiles,
  chooseTiles,
  matmulPlan,
  type MatmulTiles,
} from "../kernels/webgpu/templates/matmul.ts";
import {
  bindPlan,
  kernelTarget,
  medianPassMs,
} from "../tests/kernels/webgpu/templates/_run_plan.ts";

const n = Number(flag("n", "4096"));
const reps = Number(flag("reps", "15"));
const only = flag("only", "").split(",").filter((s) => s.length > 0);

const gpu = await sharedGpu();
if (!gpu) throw new Error("No WebGPU adapter: run `deno task setup`");
const target = kernelTarget(gpu);
console.error(`[gpu_matmul_sweep] ${gpu.info.name}, n = ${n}`);
console.error(`[gpu_matmul_sweep] features ${gpu.info.features.join(",")}`);
console.error(`[gpu_matmul_sweep] limits ${JSON.stringify(gpu.info.limits)}`);

const base: MatmulTiles = { wx: 16, wy: 16, tm: 1, tv: 1, splitK: 1, groups: 1 << 20 };
const blocked = (b: Partial<BlockTiles>): MatmulTiles => ({
  ...base,
  blocked: { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, unroll: true, swizzle: 1, ...b },
});
const registers = (wx: number, wy: number, tm: number, tv: number): MatmulTiles => ({
  ...base,
  wx,
  wy,
  tm,
  tv,
});

/** The configurations: workgroup-memory blocks first, then register-only tiles. */
const configs: Record<string, MatmulTiles> = {
  "b128x128k8_8x8": blocked({}),
  "b128x128k8_8x8_loop": blocked({ unroll: false }),
  "b128x128k8_8x8_swz8": blocked({ swizzle: 8 }),
  "b128x128k16_8x8": blocked({ bk: 16 }),
  "b128x128k16_8x8_swz8": blocked({ bk: 16, swizzle: 8 }),
  "b128x128k8_8x4": blocked({ tn: 4 }),
  "b128x128k8_4x8": blocked({ tm: 4 }),
  "b128x128k8_16x8": blocked({ tm: 16 }),
  "b128x128k8_8x16": blocked({ tn: 16 }),
  "b128x128k8_16x8_swz8": blocked({ tm: 16, swizzle: 8 }),
  "b128x128k8_16x8_swz4": blocked({ tm: 16, swizzle: 4 }),
  "b128x128k16_16x8": blocked({ tm: 16, bk: 16 }),
  "b128x128k16_16x8_swz8": blocked({ tm: 16, bk: 16, swizzle: 8 }),
  "b128x128k4_16x8": blocked({ tm: 16, bk: 4 }),
  "b128x128k16_8x16_swz8": blocked({ tn: 16, bk: 16, swizzle: 8 }),
  "b128x64k8_16x8": blocked({ bn: 64, tm: 16 }),
  "b128x64k16_16x8": blocked({ bn: 64, tm: 16, bk: 16 }),
  "b256x64k8_16x8": blocked({ bm: 256, bn: 64, tm: 16 }),
  "b64x128k8_16x8": blocked({ bm: 64, tm: 16 }),
  "b256x128k8_16x16": blocked({ bm: 256, tm: 16, tn: 16 }),
  "b128x128k8_16x16": blocked({ tm: 16, tn: 16 }),
  "b128x128k8_12x8": blocked({ tm: 12, bm: 96 }),
  "b128x128k8_16x8_swz2": blocked({ tm: 16, swizzle: 2 }),
  "b256x128k8_16x8_swz4": blocked({ bm: 256, tm: 16, swizzle: 4 }),
  "b128x256k8_16x8_swz4": blocked({ bn: 256, tm: 16, swizzle: 4 }),
  "b128x128k8_8x16_swz4": blocked({ tn: 16, swizzle: 4 }),
  "b256x64k8_16x8_swz4": blocked({ bm: 256, bn: 64, tm: 16, swizzle: 4 }),
  "b64x128k8_16x8_swz4": blocked({ bm: 64, tm: 16, swizzle: 4 }),
  "b64x128k8_16x8_swz8": blocked({ bm: 64, tm: 16, swizzle: 8 }),
  "b64x128k16_16x8": blocked({ bm: 64, tm: 16, bk: 16 }),
  "b64x128k16_16x8_swz8": blocked({ bm: 64, tm: 16, bk: 16, swizzle: 8 }),
  "b64x256k8_16x8": blocked({ bm: 64, bn: 256, tm: 16 }),
  "b64x128k8_8x16": blocked({ bm: 64, tn: 16 }),
  "b64x64k8_16x8": blocked({ bm: 64, bn: 64, tm: 16 }),
  "b128x64k8_16x8_swz4": blocked({ bn: 64, tm: 16, swizzle: 4 }),
  "b64x128k8_8x8": blocked({ bm: 64 }),
  "b32x128k8_16x8": blocked({ bm: 32, tm: 16 }),
  "b128x64k8_8x8": blocked({ bn: 64 }),
  "b128x64k16_8x8": blocked({ bn: 64, bk: 16 }),
  "b256x128k8_8x8": blocked({ bm: 256 }),
  "b128x256k8_8x8": blocked({ bn: 256 }),
  "b256x128k8_16x8": blocked({ bm: 256, tm: 16 }),
  "b128x256k8_8x16": blocked({ bn: 256, tn: 16 }),
  "b64x64k8_4x4": blocked({ bm: 64, bn: 64, tm: 4, tn: 4 }),
  "b64x64k16_8x8": blocked({ bm: 64, bn: 64, bk: 16 }),
  "r16x4_8x8": registers(16, 4, 8, 2),
  "r16x8_8x8": registers(16, 8, 8, 2),
  "r8x8_8x8": registers(8, 8, 8, 2),
  "r32x4_8x4": registers(32, 4, 8, 1),
  "r16x4_4x8": registers(16, 4, 4, 2),
  "r16x16_4x4": registers(16, 16, 4, 1),
  "default": chooseTiles(1, n, n, n, gpu.info.isSoftware),
};

let seed = 12345;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 1073741824 - 1;
const A = Float32Array.from({ length: n * n }, rand);
const B = Float32Array.from({ length: n * n }, rand);

interface Result {
  config: string;
  tiles: MatmulTiles;
  kernels: string[];
  ms: number;
  tflops: number;
  maxRelError: number;
  error?: string;
}
const results: Result[] = [];
for (const [name, tiles] of Object.entries(configs)) {
  if (only.length > 0 && !only.includes(name)) continue;
  const b = new ExpBuilder();
  const plan = matmulPlan({
    name: `mm_${name}`,
    batch: 1,
    m: n,
    n,
    k: n,
    a: { slot: 0, format: "f32", base: b.idx(0), rowStride: n, kStride: 1 },
    b: { slot: 1, format: "f32", base: b.idx(0), rowStride: 1, kStride: n },
    type: "f32",
    inputs: ["f32", "f32"],
    output: "f32",
    epilogue: b.ref("acc", "f32"),
    builder: b,
    target,
    tiles,
    software: gpu.info.isSoftware,
  });
  const kernels = plan.kernels.map((k) => k.name);
  try {
    const bound = await bindPlan(gpu, plan, [A, B], [n * n * 4]);
    bound.submit(1);
    const C = new Float32Array(await bound.readOutput(0));
    let worst = 0;
    for (let s = 0; s < 48; s++) {
      const i = (s * 7919) % n, j = (s * 104729 + 3 * s) % n;
      let acc = 0;
      for (let q = 0; q < n; q++) acc += A[i * n + q]! * B[q * n + j]!;
      worst = Math.max(worst, Math.abs(C[i * n + j]! - acc) / (Math.abs(acc) + Math.sqrt(n)));
    }
    const ms = await medianPassMs(gpu, bound, reps, 2);
    bound.destroy();
    const row = {
      config: name,
      tiles,
      kernels,
      ms,
      tflops: 2 * n ** 3 / ms / 1e9,
      maxRelError: worst,
    };
    results.push(row);
    console.log(JSON.stringify({ ...row, tiles: undefined }));
  } catch (e) {
    const row = {
      config: name,
      tiles,
      kernels,
      ms: NaN,
      tflops: 0,
      maxRelError: NaN,
      error: String(e),
    };
    results.push(row);
    console.log(JSON.stringify({ ...row, tiles: undefined }));
  }
}
results.sort((x, y) => y.tflops - x.tflops);
console.log(`best: ${results[0]?.config} ${results[0]?.tflops.toFixed(2)} TFLOP/s`);
await Deno.mkdir("out/bench", { recursive: true });
await Deno.writeTextFile(
  "out/bench/gpu_matmul_sweep.json",
  JSON.stringify({ adapter: gpu.info.name, n, reps, results }, null, 2),
);
