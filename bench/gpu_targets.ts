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
import { setPollSchedule } from "../kernels/webgpu/gpu_wait.ts";
import { attentionBackwardPlan } from "../kernels/webgpu/templates/attention.ts";
import {
  gpuAttentionBackwardApplies,
  gpuAttentionBackwardPlan,
} from "../kernels/webgpu/templates/attention_gpu_bwd.ts";
import {
  kernelTarget,
  timePlan,
  withTimerPolling,
} from "../tests/kernels/webgpu/templates/_run_plan.ts";
import { attentionSpec } from "../tests/kernels/webgpu/templates/_data.ts";

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
// The backend's device: its report, and the plans timed directly below.
const gpu = (await sharedGpu())!;
console.error(`[gpu_targets] int8 subgroup matrices: ${gpu.info.int8MatrixNote}`);

/**
 * Median seconds per call of `run` over `iters` samples after one warm-up. Each sample is
 * `callsPerSync` calls and one device synchronization: 1 measures a call's latency (submit,
 * GPU time, completion), more measures device throughput with the queue kept busy. `sync` is
 * how a sample waits (default: the device's poll schedule).
 */
async function time(
  run: () => NDArray[],
  iters: number,
  callsPerSync = 1,
  sync: () => Promise<void> = () => device.sync(),
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
  await sync();
  const first = (performance.now() - t) / 1e3;
  const samples: number[] = [];
  for (let i = 0; i < iters; i++) {
    t = performance.now();
    for (let c = 0; c < callsPerSync; c++) call();
    await sync();
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

/**
 * Rows 0 and S - 1 of dq, dk and dv of head (0, 0) against float64 sums on the host, from the
 * forward's out and lse (the backward's saved inputs): `p_ij = exp(scale q_i . k_j - lse_i)`,
 * `delta_i = dO_i . o_i`, `dq_i = scale sum_j p_ij (dO_i . v_j - delta_i) k_j`,
 * `dk_j = scale sum_i p_ij (dO_i . v_j - delta_i) q_i`, `dv_j = sum_i p_ij dO_i`. Returns the
 * worst `|got - want|` over the sum of the terms' magnitudes (float32 accumulation: ~1e-6).
 */
function checkAttentionBackwardRows(
  head: Readonly<Record<"q" | "k" | "v" | "o" | "lse" | "g", Float32Array>>,
  got: Readonly<Record<"dq" | "dk" | "dv", Float32Array>>,
  s: number,
  d: number,
  scale: number,
): number {
  const { q, k, v, o, lse, g } = head;
  const dot = (a: Float32Array, i: number, b: Float32Array, j: number) => {
    let acc = 0;
    for (let t = 0; t < d; t++) acc += a[i * d + t]! * b[j * d + t]!;
    return acc;
  };
  const delta = Float64Array.from({ length: s }, (_, i) => dot(g, i, o, i));
  const p = (i: number, j: number) => Math.exp(scale * dot(q, i, k, j) - lse[i]!);
  let worst = 0;
  const compare = (gotRow: Float32Array, row: number, want: Float64Array, mag: Float64Array) => {
    for (let t = 0; t < d; t++) {
      worst = Math.max(worst, Math.abs(gotRow[row * d + t]! - want[t]!) / (mag[t]! + 1e-30));
    }
  };
  for (const i of [0, s - 1]) {
    const want = new Float64Array(d), mag = new Float64Array(d);
    for (let j = 0; j < s; j++) {
      const ds = p(i, j) * (dot(g, i, v, j) - delta[i]!) * scale;
      for (let t = 0; t < d; t++) {
        want[t]! += ds * k[j * d + t]!;
        mag[t]! += Math.abs(ds * k[j * d + t]!);
      }
    }
    compare(got.dq, i, want, mag);
  }
  for (const j of [0, s - 1]) {
    const wk = new Float64Array(d), mk = new Float64Array(d);
    const wv = new Float64Array(d), mv = new Float64Array(d);
    for (let i = 0; i < s; i++) {
      const pij = p(i, j);
      const ds = pij * (dot(g, i, v, j) - delta[i]!) * scale;
      for (let t = 0; t < d; t++) {
        wk[t]! += ds * q[i * d + t]!;
        mk[t]! += Math.abs(ds * q[i * d + t]!);
        wv[t]! += pij * g[i * d + t]!;
        mv[t]! += Math.abs(pij * g[i * d + t]!);
      }
    }
    compare(got.dk, j, wk, mk);
    compare(got.dv, j, wv, mv);
  }
  return worst;
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
    // Head (0, 0) of the gradients, sliced on the device (the whole arrays are 437 MB each).
    const headOf = (x: NDArray) => lax.slice(x, [0, 0, 0, 0], [1, 1, s, d]);
    const grads = scope(() => bwd(q!, k!, v!, out, lse, dOut!).map(headOf));
    const [dqh, dkh, dvh] = await Promise.all(grads.map((x) => x.data())) as Float32Array[];
    for (const x of grads) x.dispose();
    const headIn = await Promise.all(
      [q!, k!, v!, out, dOut!].map((x) => scope(() => headOf(x)).data()),
    ) as Float32Array[];
    const lseHead = await scope(() => lax.slice(lse, [0, 0, 0], [1, 1, s])).data() as Float32Array;
    const backwardError = checkAttentionBackwardRows(
      { q: headIn[0]!, k: headIn[1]!, v: headIn[2]!, o: headIn[3]!, lse: lseHead, g: headIn[4]! },
      { dq: dqh!, dk: dkh!, dv: dvh! },
      s,
      d,
      params.scale,
    );
    const tb = await time(() => bwd(q!, k!, v!, out, lse, dOut!), small ? 3 : 3);
    report({
      row: "attention_bwd_f32",
      shape: `B=${b} H=${h} S=${s} D=${d}`,
      seconds: tb.median,
      firstSeconds: tb.first,
      tflops: (2.5 * flops) / tb.median / 1e12,
      // Worst error of head (0, 0)'s first and last dq, dk, dv rows over their terms' magnitudes.
      maxRelError: backwardError,
      target: "(reported; FLOPs counted as 2.5x forward)",
    });
    // Both backward plans side by side where the backend has a choice: the portable kernels and,
    // on GPUs, the register-blocked ones it picks (kernel time only, many workgroups per call).
    const target = kernelTarget(gpu);
    const spec = attentionSpec({
      batch: b,
      heads: h,
      seqQ: s,
      seqK: s,
      headDim: d,
      headDimV: d,
      causal: false,
    });
    const plans = [attentionBackwardPlan({ ...spec, software: gpu.info.isSoftware }, target)];
    if (gpuAttentionBackwardApplies(spec, target)) {
      plans.push(gpuAttentionBackwardPlan(spec, target));
    }
    if (plans.length > 1) {
      const saved = [...host, await out.data(), await lse.data(), await dOut!.data()];
      for (const plan of plans) {
        const outputBytes = [0, 1, 2].map(() => b * h * s * d * 4);
        const { wallMs } = await timePlan(gpu, plan, saved as Float32Array[], outputBytes);
        const seconds = wallMs / 1e3;
        report({
          row: `attention_bwd_f32_plan_${plan.kernels.slice(1).map((k) => k.name).join("+")}`,
          shape: `B=${b} H=${h} S=${s} D=${d}`,
          seconds,
          firstSeconds: NaN,
          tflops: (2.5 * flops) / seconds / 1e12,
          maxRelError: NaN,
          target: "(kernel time of one backward plan; correctness in _stress.ts and the tests)",
        });
      }
    }
  }
  if (only.includes("attention_int8")) {
    // Int8 products (templates/attention_int8.ts): on subgroup matrices where the adapter has
    // the 16x16x32 int8 configuration, emulated otherwise.
    const native = gpu.info.subgroupMatrixInt8;
    const int8 = { ...params, quantization: "int8" as const };
    const fwd = jit((q: NDArray, k: NDArray, v: NDArray) => lax.attention(q, k, v, int8));
    const [out] = fwd(q!, k!, v!);
    const { relL2 } = checkAttentionRows([...host, await out.data() as Float32Array], s, d, 0.125);
    const reportInt8 = (suffix: string, note: string, t: { median: number; first: number }) =>
      report({
        row: `attention_fwd_int8_${native ? "native" : "emulated"}${suffix}`,
        shape: `B=${b} H=${h} S=${s} D=${d}${note}`,
        seconds: t.median,
        firstSeconds: t.first,
        tflops: flops / t.median / 1e12,
        // Relative L2 error of two rows against float64 (bfloat16 SDPA: about 3e-3).
        maxRelError: relL2,
        target: "within 10x of PyTorch bf16 SDPA forward: <= 180 ms (maxRelError is relative L2)",
      });
    reportInt8("", "", await time(() => fwd(q!, k!, v!), small ? 3 : 5));
    // Calls queued back to back, as the layers of a model run: on the H100 (and on lavapipe) the
    // one-call-per-sync row above was ~9% slower than the sweep's five passes per submit
    // (233 vs 214 ms), with the same five kernels.
    reportInt8(
      "_throughput",
      ", 3 calls per sync",
      await time(() => fwd(q!, k!, v!), small ? 2 : 3, 3),
    );
    // The sweep waits with 1 ms timers alone (withTimerPolling around the device's own wait),
    // this file with the device's poll schedule, which polls more often. On lavapipe (S = 512,
    // same process, interleaved) one run gave 104-108 ms with the schedule against 97-98 ms with
    // timers, a second was too noisy to tell; this row says whether the polls cost anything on a
    // GPU. The schedule is set aside ("native") for it, or its sleeps would come on top of the
    // timers (as in session 8's H100 row: 97.0 ms against 96.2 with the schedule).
    const timerSync = async () => {
      setPollSchedule("native");
      try {
        await withTimerPolling(() => device.sync());
      } finally {
        setPollSchedule(null);
      }
    };
    reportInt8(
      "_timer_polling",
      ", 3 calls per sync, 1 ms timer polls",
      await time(() => fwd(q!, k!, v!), small ? 2 : 3, 3, timerSync),
    );
  }
}

await Deno.mkdir("out/bench", { recursive: true });
await Deno.writeTextFile(
  "out/bench/gpu_targets.json",
  JSON.stringify({ adapter: info.adapter, rows }, null, 2),
);
