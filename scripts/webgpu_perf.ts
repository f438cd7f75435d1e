/**
 * Measures the WebGPU backend: matmul GFLOP/s (256-2048 square, skinny [4096x64]x[64x4096]),
 * a 10-op fused elementwise chain on 16M floats (GB/s), softmax and layer norm rows, and the
 * cost of waiting on the GPU with dawn.node's native polling versus ours.
 *
 * Usage: `deno run -A scripts/webgpu_perf.ts [--quick]`
 *
 * @module
 */
import { sharedGpu } from "../kernels/webgpu/device.ts";
import { createWebgpuBackend, type WebgpuBackend } from "../kernels/webgpu/backend.ts";
import type { BackendArray } from "../kernels/backend.ts";
import { setPollSchedule } from "../kernels/webgpu/gpu_wait.ts";
import type { Aval, PrimitiveCall } from "../kernels/primitives.ts";
import { abstractEval } from "../kernels/primitives.ts";

const quick = Deno.args.includes("--quick");
const gpu = await sharedGpu();
if (!gpu) {
  console.error("no WebGPU adapter");
  Deno.exit(1);
}
const backend = createWebgpuBackend(gpu)!;
console.log(`adapter: ${gpu.info.name}`);

/** Arrays created by `op` since the last `releaseCreated` (the script's own scope). */
let created: BackendArray[] = [];

function op(b: WebgpuBackend, call: PrimitiveCall, xs: BackendArray[]): BackendArray {
  const avals: Aval[] = abstractEval(call.prim, xs.map((x) => x.aval), call.params as never);
  const y = b.execute(call.prim, call.params as never, xs, avals)[0]!;
  created.push(y);
  return y;
}

function releaseCreated(): void {
  for (const x of created) backend.release(x);
  created = [];
}

function random(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 12.9898) * 0.5;
  return a;
}

/**
 * Median time of one `build()` result, computed `inner` at a time in one submit (so a GPU's
 * wait latency is not counted once per kernel), over `reps` rounds after a warm-up round.
 */
async function timeIt(build: () => BackendArray, reps: number, inner = 1): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < reps + 1; r++) {
    await backend.sync();
    const ys = Array.from({ length: inner }, build);
    const t0 = performance.now();
    backend.realize(ys.map((y) => backend.node(y)));
    await backend.runtime.sync();
    times.push((performance.now() - t0) / inner);
    releaseCreated();
  }
  times.shift(); // the first run compiles the pipeline
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const results: Record<string, number> = {};
const software = gpu.info.isSoftware;
const sizes = quick ? [256, 1024] : software ? [256, 512, 1024, 2048] : [1024, 2048, 4096];
for (const n of sizes) {
  const a = backend.fromHost(random(n * n), { shape: [n, n], dtype: "float32" });
  const b = backend.fromHost(random(n * n), { shape: [n, n], dtype: "float32" });
  const ms = await timeIt(
    () => op(backend, { prim: "matmul", params: {} }, [a, b]),
    n >= 2048 ? 2 : 4,
  );
  results[`matmul_${n}_gflops`] = (2 * n ** 3) / (ms * 1e6);
  console.log(
    `matmul ${n}x${n}x${n}: ${ms.toFixed(1)} ms, ${(2 * n ** 3 / (ms * 1e6)).toFixed(1)} GFLOP/s`,
  );
  backend.release(a);
  backend.release(b);
}
{
  const a = backend.fromHost(random(4096 * 64), { shape: [4096, 64], dtype: "float32" });
  const b = backend.fromHost(random(64 * 4096), { shape: [64, 4096], dtype: "float32" });
  const ms = await timeIt(() => op(backend, { prim: "matmul", params: {} }, [a, b]), 3);
  const gflops = (2 * 4096 * 4096 * 64) / (ms * 1e6);
  results["matmul_skinny_gflops"] = gflops;
  console.log(`matmul [4096x64]x[64x4096]: ${ms.toFixed(1)} ms, ${gflops.toFixed(1)} GFLOP/s`);
}
{
  const n = quick ? 1 << 22 : 1 << 24;
  const x = backend.fromHost(random(n), { shape: [n], dtype: "float32" });
  const chain = () => {
    let y = x;
    const c = (v: number) =>
      op(backend, { prim: "full", params: { shape: [n], value: v, dtype: "float32" } }, []);
    const ops: PrimitiveCall[] = [
      { prim: "mul", params: {} },
      { prim: "tanh", params: {} },
      { prim: "add", params: {} },
      { prim: "exp", params: {} },
      { prim: "sub", params: {} },
      { prim: "sin", params: {} },
      { prim: "mul", params: {} },
      { prim: "abs", params: {} },
      { prim: "sqrt", params: {} },
      { prim: "neg", params: {} },
    ];
    for (const call of ops) {
      const binary = call.prim === "mul" || call.prim === "add" || call.prim === "sub";
      y = op(backend, call, binary ? [y, c(0.75)] : [y]);
    }
    return y;
  };
  const ms = await timeIt(chain, 3);
  const gbs = (n * 8) / (ms * 1e6);
  results["chain10_16M_gbs"] = gbs;
  console.log(
    `10-op chain on ${n} floats: ${ms.toFixed(1)} ms, ${gbs.toFixed(2)} GB/s, ${
      (n / ms / 1e3).toFixed(0)
    } Melem/s`,
  );
}
for (const [rows, cols] of [[quick ? 1024 : 4096, 3072]] as [number, number][]) {
  const x = backend.fromHost(random(rows * cols), { shape: [rows, cols], dtype: "float32" });
  const softmax = () => {
    const m = op(backend, { prim: "reduce_max", params: { axes: [1] } }, [x]);
    const mb = op(backend, { prim: "broadcast", params: { shape: [rows, cols], dims: [0] } }, [m]);
    const e = op(backend, { prim: "exp", params: {} }, [
      op(backend, { prim: "sub", params: {} }, [x, mb]),
    ]);
    const s = op(backend, { prim: "reduce_sum", params: { axes: [1] } }, [e]);
    const sb = op(backend, { prim: "broadcast", params: { shape: [rows, cols], dims: [0] } }, [s]);
    return op(backend, { prim: "div", params: {} }, [e, sb]);
  };
  const ms = await timeIt(softmax, 3);
  const gbs = (rows * cols * 8) / (ms * 1e6);
  results["softmax_gbs"] = gbs;
  console.log(
    `softmax [${rows}, ${cols}]: ${ms.toFixed(1)} ms, ${gbs.toFixed(2)} GB/s (one kernel)`,
  );
}
// Waiting: 200 small kernels each followed by a readback, native polling versus ours.
for (const mode of ["native", "polite"] as const) {
  setPollSchedule(mode === "native" ? "native" : null);
  const x = backend.fromHost(random(1024), { shape: [1024], dtype: "float32" });
  const t0 = performance.now();
  for (let i = 0; i < (quick ? 50 : 200); i++) {
    const y = op(backend, { prim: "exp", params: {} }, [x]);
    await backend.read(y);
    releaseCreated();
  }
  const perRead = (performance.now() - t0) / (quick ? 50 : 200);
  results[`readback_${mode}_ms`] = perRead;
  console.log(`small kernel + readback, ${mode} polling: ${perRead.toFixed(2)} ms each`);
  const a = backend.fromHost(random(1024 * 1024), { shape: [1024, 1024], dtype: "float32" });
  const t1 = performance.now();
  for (let i = 0; i < 3; i++) {
    const y = op(backend, { prim: "matmul", params: {} }, [a, a]);
    await backend.read(y);
    releaseCreated();
  }
  const perMatmul = (performance.now() - t1) / 3;
  results[`matmul1024_readback_${mode}_ms`] = perMatmul;
  console.log(`matmul 1024 + readback, ${mode} polling: ${perMatmul.toFixed(1)} ms each`);
}
setPollSchedule(null);
console.log(JSON.stringify(results));
Deno.exit(0);
