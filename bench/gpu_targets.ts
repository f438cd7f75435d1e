/**
 * The real-GPU targets, measured as device throughput (no readback in the timed loop):
 * float32 matmul 4096 (target 40 TFLOP/s) and fused attention at DropletVideo-5B's 17,776 tokens,
 * 48 heads of 64, batch 2 (target within 10x of PyTorch's bf16 SDPA, 18 ms), forward and
 * backward, and the int8 attention forward (`quantization: "int8"`). Each result is checked
 * against a float64 host computation on sampled entries first.
 *
 * Usage: `deno run -A bench/gpu_targets.ts [--small]` (`--small` shrinks sizes for a software
 * adapter). Prints one JSON line per row and writes `out/bench/gpu_targets.json`.
 *
 * @module
 */

import { device, jit, lax, type NDArray, np, random, scope } from "../mod.ts";
import { sharedGpu } from "../kernels/webgpu/device.ts";

const small = Deno.args.includes("--small");
const onlyAt = Deno.args.indexOf("--only");
/** Rows to run (`--only matmul,attention,attention_int8`); all by default. */
const only = onlyAt >= 0
  ? (Deno.args[onlyAt + 1] ?? "").split(",")
  : ["matmul", "attention", "attention_int8"];
const info = device.info();
if (info.backend !== "webgpu") {
  throw new Error(`gpu_targets needs the webgpu device, got ${info.backend}`);
}
console.error(`[gpu_targets] ${info.adapter}`);
const adapterReport = (await sharedGpu())?.info;
if (adapterReport) {
  console.error(`[gpu_targets] int8 subgroup matrices: ${adapterReport.int8MatrixNote}`);
}

/**
 * Median seconds per call of `run` over `iters` samples after one warm-up. Each sample is
 * `callsPerSync` calls and one device synchronization: 1 measures a call's latency (submit,
 * GPU time, completion), more measures device throughput with the queue kept busy.
 */
async function time(
  run: () => NDArray[],
  iters: number,
  callsPerSync = 1,
): Promise<{ first: number; median: number }> {
  // Outputs are freed at once, so each call gets the previous call's buffers back from the pool
  // as a training loop does. Dropped, they waited for garbage collection, and every call
  // created (and Dawn zeroed) a fresh output buffer: on lavapipe that tripled the host time of a
  // small jitted matmul (160-250 us -> 50-73 us per call, 1 buffer created per call -> none).
  const call = () => {
    for (const x of scope(run)) x.dispose();
  };
  let t = performance.now();
  call();
  await device.sync();
  const first = (performance.now() - t) / 1e3;
  const samples: number[] = [];
  for (let i = 0; i < iters; i++) {
    t = performance.now();
    for (let c = 0; c < callsPerSync; c++) call();
    await device.sync();
    samples.push((performance.now() - t) / 1e3 / callsPerSync);
  }
  samples.sort((a, b) => a - b);
  return { first, median: samples[Math.floor(samples.length / 2)]! };
}

interface Row {
  row: string;
  shape: string;
  seconds: number;
  firstSeconds: number;
  tflops: number;
  maxRelError: number;
  target: string;
}

const rows: Row[] = [];
function report(row: Row): void {
  rows.push(row);
  console.log(JSON.stringify(row));
}

// Matmul: [n, n] x [n, n] float32.
if (only.includes("matmul")) {
  const n = small ? 512 : 4096;
  const [ka, kb] = random.split(random.key(1));
  const a = random.normal(ka!, [n, n]), b = random.normal(kb!, [n, n]);
  const f = jit((x: NDArray, y: NDArray) => np.matmul(x, y));
  const c = f(a, b);
  // Check 64 sampled entries against float64 dot products.
  const [ah, bh, ch] = [await a.data(), await b.data(), await c.data()] as Float32Array[];
  let worst = 0;
  for (let s = 0; s < 64; s++) {
    const i = (s * 7919) % n, j = (s * 104729) % n;
    let acc = 0;
    for (let k = 0; k < n; k++) acc += ah![i * n + k]! * bh![k * n + j]!;
    worst = Math.max(worst, Math.abs(ch![i * n + j]! - acc) / (Math.abs(acc) + Math.sqrt(n)));
  }
  c.dispose();
  const t = await time(() => [f(a, b)], small ? 5 : 20);
  report({
    row: "matmul_f32",
    shape: `[${n}x${n}]x[${n}x${n}]`,
    seconds: t.median,
    firstSeconds: t.first,
    tflops: (2 * n ** 3) / t.median / 1e12,
    maxRelError: worst,
    target: ">= 40 TFLOP/s on an H100/H200 (PyTorch f32 without TF32: 51)",
  });
  const tp = await time(() => [f(a, b)], small ? 3 : 10, 10);
  report({
    row: "matmul_f32_throughput",
    shape: `[${n}x${n}]x[${n}x${n}], 10 calls per sync`,
    seconds: tp.median,
    firstSeconds: tp.first,
    tflops: (2 * n ** 3) / tp.median / 1e12,
    maxRelError: worst,
    target: ">= 40 TFLOP/s on an H100/H200 (PyTorch f32 without TF32: 51)",
  });
}

/**
 * Rows 0 and S - 1 of head (0, 0) of an attention output against float64 softmax attention on
 * the host: the worst `|o - want| / (|want| + 1e-2)` and the relative L2 error of those rows.
 */
function checkAttentionRows(
  [qh, kh, vh, oh]: readonly Float32Array[],
  s: number,
  d: number,
  scale: number,
): { worst: number; relL2: number } {
  let worst = 0, err = 0, norm = 0;
  for (const i of [0, s - 1]) {
    const scores = new Float64Array(s);
    let m = -Infinity;
    for (let j = 0; j < s; j++) {
      let dot = 0;
      for (let t = 0; t < d; t++) dot += qh![i * d + t]! * kh![j * d + t]!;
      scores[j] = dot * scale;
      m = Math.max(m, scores[j]!);
    }
    let sum = 0;
    for (let j = 0; j < s; j++) sum += Math.exp(scores[j]! - m);
    for (let t = 0; t < d; t++) {
      let acc = 0;
      for (let j = 0; j < s; j++) acc += (Math.exp(scores[j]! - m) / sum) * vh![j * d + t]!;
      const diff = oh![i * d + t]! - acc;
      worst = Math.max(worst, Math.abs(diff) / (Math.abs(acc) + 1e-2));
      err += diff * diff;
      norm += acc * acc;
    }
  }
  return { worst, relL2: Math.sqrt(err / norm) };
}

// Attention: q, k, v [B, H, S, D] float32, no mask, scale 1/8.
if (only.includes("attention") || only.includes("attention_int8")) {
  const [b, h, s, d] = small ? [1, 4, 512, 64] : [2, 48, 17776, 64];
  const keys = random.split(random.key(2), 4);
  const [q, k, v, dOut] = keys.map((key) => random.normal(key, [b, h, s, d]));
  const params = { scale: 1 / Math.sqrt(d), causal: false };
  const flops = 4 * b * h * s * s * d;
  const host = [await q!.data(), await k!.data(), await v!.data()] as Float32Array[];
  if (only.includes("attention")) {
    const fwd = jit((q: NDArray, k: NDArray, v: NDArray) => lax.attention(q, k, v, params));
    const [out, lse] = fwd(q!, k!, v!);
    const { worst } = checkAttentionRows([...host, await out.data() as Float32Array], s, d, 0.125);
    const tf = await time(() => fwd(q!, k!, v!), small ? 3 : 5);
    report({
      row: "attention_fwd_f32",
      shape: `B=${b} H=${h} S=${s} D=${d}`,
      seconds: tf.median,
      firstSeconds: tf.first,
      tflops: flops / tf.median / 1e12,
      maxRelError: worst,
      target: "within 10x of PyTorch bf16 SDPA forward (18 ms for B=2 at S=17776): <= 180 ms",
    });
    const bwd = jit((q: NDArray, k: NDArray, v: NDArray, o: NDArray, l: NDArray, g: NDArray) =>
      lax.attentionBackward(q, k, v, o, l, g, params)
    );
    const tb = await time(() => bwd(q!, k!, v!, out, lse, dOut!), small ? 3 : 3);
    report({
      row: "attention_bwd_f32",
      shape: `B=${b} H=${h} S=${s} D=${d}`,
      seconds: tb.median,
      firstSeconds: tb.first,
      tflops: (2.5 * flops) / tb.median / 1e12,
      maxRelError: NaN,
      target: "(reported; FLOPs counted as 2.5x forward)",
    });
  }
  if (only.includes("attention_int8")) {
    // Int8 products (templates/attention_int8.ts): on subgroup matrices where the adapter has
    // the 16x16x32 int8 configuration, emulated otherwise.
    const native = info.features.includes("chromium-experimental-subgroup-matrix");
    const int8 = { ...params, quantization: "int8" as const };
    const fwd = jit((q: NDArray, k: NDArray, v: NDArray) => lax.attention(q, k, v, int8));
    const [out] = fwd(q!, k!, v!);
    const { relL2 } = checkAttentionRows([...host, await out.data() as Float32Array], s, d, 0.125);
    const t8 = await time(() => fwd(q!, k!, v!), small ? 3 : 5);
    report({
      row: `attention_fwd_int8_${native ? "native" : "emulated"}`,
      shape: `B=${b} H=${h} S=${s} D=${d}`,
      seconds: t8.median,
      firstSeconds: t8.first,
      tflops: flops / t8.median / 1e12,
      // Relative L2 error of two rows against float64 (bfloat16 SDPA: about 3e-3).
      maxRelError: relL2,
      target: "within 10x of PyTorch bf16 SDPA forward: <= 180 ms (maxRelError is relative L2)",
    });
  }
}

await Deno.mkdir("out/bench", { recursive: true });
await Deno.writeTextFile(
  "out/bench/gpu_targets.json",
  JSON.stringify({ adapter: info.adapter, rows }, null, 2),
);
