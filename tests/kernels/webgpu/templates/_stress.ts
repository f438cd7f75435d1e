/**
 * Stress check of the attention and convolution templates at sizes where real GPUs run many
 * workgroups concurrently and many tiles per workgroup (the regime in which a missing
 * `workgroupBarrier`, a tile-size assumption or an out-of-bounds read shows up; the unit tests'
 * small shapes on lavapipe cannot see those). Each case runs the plan twice on the adapter and
 * checks (1) that both runs are bit-identical (the templates have no atomics, so any difference
 * is a race) and (2) sampled outputs against a float64 host computation.
 *
 * Run on the GPU machine (finishes in well under 60 s on an H200):
 *
 *     npx -y deno@2.9.6 run -A tests/kernels/webgpu/templates/_stress.ts
 *
 * Options: `--quick` (small sizes that finish in about a minute on lavapipe), `--only
 * attention,conv`, `--attention H,S,D,causal` (one attention case instead of the list, e.g.
 * `--attention 48,4096,64,0`), `--fwd-only` (skip the attention backward pass), `--no-backend`
 * (skip the forward through the backend: `jit(lax.attention)`, as the bench runs it).
 *
 * Each attention forward runs at the adapter's `maxComputeWorkgroupStorageSize` and at 32 KiB
 * and 16 KiB (other key-tile sizes); the first line of the output names the adapter's limit. Prints one line per case (`PASS`/`FAIL`, the maximum error as a fraction of
 * its tolerance, timings) and exits with status 1 when any case fails.
 *
 * Not a test: the full sizes take minutes on the software adapter.
 *
 * @module
 */

import { device, jit, lax, type NDArray, np, scope } from "../../../../mod.ts";
import { sharedGpu } from "../../../../kernels/webgpu/device.ts";
import type { KernelPlan } from "../../../../kernels/webgpu/kernel.ts";
import {
  attentionBackwardPlan,
  attentionForwardPlan,
  type AttentionSpec,
} from "../../../../kernels/webgpu/templates/attention.ts";
import {
  gpuAttentionBackwardApplies,
  gpuAttentionBackwardPlan,
} from "../../../../kernels/webgpu/templates/attention_gpu_bwd.ts";
import { convPlan, type ConvSpec } from "../../../../kernels/webgpu/templates/conv.ts";
import { convOutputSize } from "../../../../kernels/primitives.ts";
import { bindPlan, kernelTarget, withTimerPolling } from "./_run_plan.ts";

const gpu = await sharedGpu();
if (!gpu) {
  console.error("FAIL no WebGPU adapter (run `deno task setup`)");
  Deno.exit(1);
}
const target = kernelTarget(gpu);
const quick = Deno.args.includes("--quick");
const onlyAt = Deno.args.indexOf("--only");
const only = onlyAt >= 0 ? (Deno.args[onlyAt + 1] ?? "").split(",") : ["attention", "conv"];
const caseAt = Deno.args.indexOf("--attention");
const fwdOnly = Deno.args.includes("--fwd-only");
const backendToo = !Deno.args.includes("--no-backend");
// Forward tiles at the adapter's workgroup-memory limit, and at 32 KiB and 16 KiB where the
// adapter allows more (each limit gives other tile sizes, so other code paths).
const storageLimits = [...new Set([target.maxWorkgroupStorageBytes, 32768, 16384])]
  .filter((b) => b <= target.maxWorkgroupStorageBytes);
console.log(
  `adapter: ${gpu.info.name}; maxComputeWorkgroupStorageSize ${target.maxWorkgroupStorageBytes}`,
);

/** `n` float32 values uniform in `[-amp, amp)` from a seeded mulberry32 stream. */
function randomF32(n: number, seed: number, amp: number): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = amp * (((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1);
  }
  return out;
}

/** A seeded choice of `count` distinct integers in `[0, n)`, plus the `always` ones below n. */
function sample(n: number, count: number, seed: number, always: number[]): number[] {
  const picked = new Set(always.filter((i) => i >= 0 && i < n));
  const r = randomF32(4 * count, seed, 1);
  for (let i = 0; i < r.length && picked.size < Math.min(n, always.length + count); i++) {
    picked.add(Math.min(n - 1, Math.floor(((r[i]! + 1) / 2) * n)));
  }
  return [...picked].sort((a, b) => a - b);
}

/** The largest `|got - want| / tol` of a batch of checks, with where it happened. */
class Worst {
  ratio = 0;
  where = "";
  nonFinite = 0;
  checked = 0;
  /** `tol` is the allowed absolute error of this element. */
  add(got: number, want: number, tol: number, where: () => string): void {
    this.checked++;
    if (!Number.isFinite(got)) {
      if (got === want) return;
      this.nonFinite++;
      this.ratio = Infinity;
      this.where = `${where()}: got ${got}, want ${want}`;
      return;
    }
    const r = Math.abs(got - want) / tol;
    if (r > this.ratio) {
      this.ratio = r;
      this.where = `${where()}: got ${got}, want ${want}, tol ${tol.toExponential(2)}`;
    }
  }
}

/** Runs `plan` twice on fresh output buffers; the outputs of each run as float32. */
async function runTwice(
  plan: KernelPlan,
  inputs: readonly ArrayBufferView[],
  outputBytes: readonly number[],
): Promise<{ runs: Float32Array[][]; ms: number }> {
  const runs: Float32Array[][] = [];
  let ms = Infinity;
  for (let r = 0; r < 2; r++) {
    const bound = await bindPlan(gpu!, plan, inputs, outputBytes);
    try {
      await withTimerPolling(() => gpu!.sync());
      const t0 = performance.now();
      bound.submit();
      await withTimerPolling(() => gpu!.sync());
      ms = Math.min(ms, performance.now() - t0);
      const outs: Float32Array[] = [];
      for (let k = 0; k < outputBytes.length; k++) {
        outs.push(new Float32Array((await bound.readOutput(k)).slice(0, outputBytes[k]!)));
      }
      runs.push(outs);
    } finally {
      bound.destroy();
    }
  }
  return { runs, ms };
}

/** Index of the first element where two runs differ bitwise, or -1. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

let failures = 0;

function report(label: string, worst: Worst, nondeterministic: string[], ms: number): void {
  const ok = worst.ratio <= 1 && nondeterministic.length === 0 && worst.nonFinite === 0;
  if (!ok) failures++;
  const det = nondeterministic.length === 0
    ? "bit-identical reruns"
    : `NONDETERMINISTIC ${nondeterministic.join(", ")}`;
  console.log(
    `${ok ? "PASS" : "FAIL"} ${label}: worst err/tol ${worst.ratio.toPrecision(3)} over ` +
      `${worst.checked} values, ${det}, ${ms.toFixed(0)} ms` +
      (worst.ratio > 1 || worst.nonFinite ? ` (worst at ${worst.where})` : ""),
  );
}

// ---------------------------------------------------------------------------------------------
// Attention (forward and backward), checked on sampled rows of a few heads.

interface AttentionCase {
  heads: number;
  seq: number;
  headDim: number;
  causal: boolean;
}

/** Host float64 softmax row `i` of head `h`: probabilities over keys (0 where masked). */
function hostProbs(
  c: AttentionCase,
  q: Float32Array,
  k: Float32Array,
  h: number,
  i: number,
  scale: number,
): { p: Float64Array; lse: number } {
  const { seq: s, headDim: d } = c;
  const p = new Float64Array(s);
  let max = -Infinity;
  const qo = (h * s + i) * d;
  const last = c.causal ? i : s - 1; // Sq == Sk: key j visible to query i iff j <= i.
  for (let j = 0; j <= last; j++) {
    const ko = (h * s + j) * d;
    let dot = 0;
    for (let t = 0; t < d; t++) dot += q[qo + t]! * k[ko + t]!;
    p[j] = dot * scale;
    if (p[j]! > max) max = p[j]!;
  }
  let sum = 0;
  for (let j = 0; j <= last; j++) sum += p[j] = Math.exp(p[j]! - max);
  for (let j = 0; j <= last; j++) p[j]! /= sum;
  for (let j = last + 1; j < s; j++) p[j] = 0;
  return { p, lse: max + Math.log(sum) };
}

/** Checks sampled forward rows (`out` and `lse`) of `c` against the host into `worst`. */
function checkForwardRows(
  c: AttentionCase,
  inputs: { q: Float32Array; k: Float32Array; v: Float32Array },
  got: { out: Float32Array; lse: Float32Array | null },
  heads: number[],
  rows: number[],
  worst: Worst,
): void {
  const { seq: s, headDim: d } = c;
  const { q, k, v } = inputs;
  for (const h of heads) {
    for (const i of rows) {
      const { p, lse: l } = hostProbs(c, q, k, h, i, 1 / Math.sqrt(d));
      if (got.lse) {
        worst.add(got.lse[h * s + i]!, l, 1e-4 * (1 + Math.abs(l)), () => `lse[h ${h}, row ${i}]`);
      }
      for (let t = 0; t < d; t++) {
        let want = 0, mag = 0;
        for (let j = 0; j < s; j++) {
          const x = p[j]! * v[(h * s + j) * d + t]!;
          want += x;
          mag += Math.abs(x);
        }
        worst.add(
          got.out[(h * s + i) * d + t]!,
          want,
          1e-4 * mag + 1e-6,
          () => `out[h ${h}, row ${i}, col ${t}]`,
        );
      }
    }
  }
}

async function attentionCase(c: AttentionCase, seed: number): Promise<void> {
  const { heads: hN, seq: s, headDim: d, causal } = c;
  const spec: AttentionSpec = {
    batch: 1,
    heads: hN,
    seqQ: s,
    seqK: s,
    headDim: d,
    headDimV: d,
    scale: 1 / Math.sqrt(d),
    causal,
    dtype: "f32",
  };
  const n = hN * s * d;
  // Amplitude 2: softmax rows far from uniform, so wrong keys or a wrong max change the output.
  const q = randomF32(n, seed, 2), k = randomF32(n, seed + 1, 2), v = randomF32(n, seed + 2, 1);
  const dOut = randomF32(n, seed + 3, 1);
  const label = `H=${hN} S=${s} D=${d}${causal ? " causal" : ""}`;
  const heads = [...new Set([0, 1, hN >> 1, hN - 1])].filter((h) => h < hN);
  const edges = [0, 1, 31, 32, 55, 56, 63, 64, 65, s - 2, s - 1];
  const rows = sample(s, quick ? 6 : 14, seed + 4, edges);
  const differences = (runs: Float32Array[][], names: string[]) =>
    runs[1]!.flatMap((o, x) => {
      const at = firstDifference(runs[0]![x]!, o);
      return at < 0 ? [] : [`${names[x]}[${at}]`];
    });

  // Forward, at the adapter's workgroup-memory limit and at smaller ones (other tile sizes).
  let saved: [Float32Array, Float32Array] | null = null;
  for (const storage of storageLimits) {
    const t = { ...target, maxWorkgroupStorageBytes: storage };
    const plan = attentionForwardPlan(spec, t);
    const fwd = await runTwice(plan, [q, k, v], [n * 4, hN * s * 4]);
    const [out, lse] = fwd.runs[0]! as [Float32Array, Float32Array];
    saved ??= [out, lse];
    const fw = new Worst();
    checkForwardRows(c, { q, k, v }, { out, lse }, heads, rows, fw);
    report(
      `attention_fwd ${label} [${plan.kernels[0]?.name}]`,
      fw,
      differences(fwd.runs, ["out", "lse"]),
      fwd.ms,
    );
  }
  const [out, lse] = saved!;

  // The same forward through the backend as the bench runs it (jit, first call, read back):
  // if the plan passes above and this fails, the bug is in the runtime, not the template.
  if (backendToo) {
    device.use("webgpu");
    const f = jit((a: NDArray, b: NDArray, cc: NDArray) =>
      lax.attention(a, b, cc, { scale: spec.scale, causal })[0]
    );
    const shape = [1, hN, s, d];
    const args = [q, k, v].map((x) => np.array(x, { shape }));
    const runs: Float32Array[][] = [];
    const t0 = performance.now();
    for (let r = 0; r < 2; r++) {
      const y = scope(() => f(args[0]!, args[1]!, args[2]!));
      try {
        runs.push([new Float32Array(await y.data())]);
      } finally {
        y.dispose();
      }
    }
    const ms = (performance.now() - t0) / 2;
    for (const a of args) a.dispose();
    const bw = new Worst();
    checkForwardRows(c, { q, k, v }, { out: runs[0]![0]!, lse: null }, heads, rows, bw);
    const vsPlan = firstDifference(runs[0]![0]!, out);
    report(
      `backend jit(lax.attention) ${label}` +
        (vsPlan < 0 ? ", = plan output" : `, differs from the plan output at ${vsPlan}`),
      bw,
      differences(runs, ["out"]),
      ms,
    );
  }
  if (fwdOnly) return;

  // Backward, with the forward's out and lse as its saved inputs (its contract): the portable
  // kernels, and the GPU ones of attention_gpu_bwd.ts where they apply.
  const plans = [attentionBackwardPlan(spec, target)];
  if (gpuAttentionBackwardApplies(spec, target)) plans.push(gpuAttentionBackwardPlan(spec, target));
  for (const plan of plans) {
    await checkBackward(plan);
  }

  async function checkBackward(plan: KernelPlan): Promise<void> {
    const bwd = await runTwice(plan, [q, k, v, out, lse, dOut], [n * 4, n * 4, n * 4]);
    const [dq, dk, dv] = bwd.runs[0]! as [Float32Array, Float32Array, Float32Array];
    const bw = new Worst();
    const keys = sample(s, quick ? 4 : 10, seed + 5, edges);
    for (const h of heads) {
      // delta_i = dOut_i . out_i (the reference's D_i) and p_ij from the saved lse, all rows.
      const delta = new Float64Array(s);
      for (let i = 0; i < s; i++) {
        let acc = 0;
        for (let t = 0; t < d; t++) acc += dOut[(h * s + i) * d + t]! * out[(h * s + i) * d + t]!;
        delta[i] = acc;
      }
      const dot = (a: Float32Array, ai: number, b: Float32Array, bi: number) => {
        let acc = 0;
        for (let t = 0; t < d; t++) acc += a[(h * s + ai) * d + t]! * b[(h * s + bi) * d + t]!;
        return acc;
      };
      const prob = (i: number, j: number) =>
        causal && j > i ? 0 : Math.exp(dot(q, i, k, j) * spec.scale - lse[h * s + i]!);
      // dq rows: dq_i = scale sum_j p_ij (dO_i . v_j - delta_i) k_j.
      for (const i of rows) {
        const want = new Float64Array(d), mag = new Float64Array(d);
        for (let j = 0; j < s; j++) {
          const p = prob(i, j);
          if (p === 0) continue;
          const ds = p * (dot(dOut, i, v, j) - delta[i]!) * spec.scale;
          for (let t = 0; t < d; t++) {
            const x = ds * k[(h * s + j) * d + t]!;
            want[t]! += x;
            mag[t]! += Math.abs(x);
          }
        }
        for (let t = 0; t < d; t++) {
          bw.add(
            dq[(h * s + i) * d + t]!,
            want[t]!,
            2e-4 * mag[t]! + 1e-6,
            () => `dq[h ${h}, row ${i}, col ${t}]`,
          );
        }
      }
      // dk, dv rows: dv_j = sum_i p_ij dO_i; dk_j = scale sum_i p_ij (dO_i . v_j - delta_i) q_i.
      for (const j of keys) {
        const wk = new Float64Array(d), mk = new Float64Array(d);
        const wv = new Float64Array(d), mv = new Float64Array(d);
        for (let i = 0; i < s; i++) {
          const p = prob(i, j);
          if (p === 0) continue;
          const ds = p * (dot(dOut, i, v, j) - delta[i]!) * spec.scale;
          for (let t = 0; t < d; t++) {
            const xk = ds * q[(h * s + i) * d + t]!, xv = p * dOut[(h * s + i) * d + t]!;
            wk[t]! += xk;
            mk[t]! += Math.abs(xk);
            wv[t]! += xv;
            mv[t]! += Math.abs(xv);
          }
        }
        for (let t = 0; t < d; t++) {
          const at = (h * s + j) * d + t;
          bw.add(dk[at]!, wk[t]!, 2e-4 * mk[t]! + 1e-6, () => `dk[h ${h}, key ${j}, col ${t}]`);
          bw.add(dv[at]!, wv[t]!, 2e-4 * mv[t]! + 1e-6, () => `dv[h ${h}, key ${j}, col ${t}]`);
        }
      }
    }
    report(
      `attention_bwd ${label} [${plan.kernels.slice(1).map((k) => k.name).join(", ")}]`,
      bw,
      differences(bwd.runs, ["dq", "dk", "dv"]),
      bwd.ms,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Convolution: the forward conv3d and the two convolutions of its backward pass (as
// autograd/vjp_rules.ts builds them), both strategies, checked on sampled output elements.

/** Host float64 value (and sum of |terms|) of output element `index` of `spec`. */
function hostConvAt(
  spec: ConvSpec,
  x: Float32Array,
  w: Float32Array,
  index: number,
): { value: number; mag: number } {
  const { lhsShape: xs, rhsShape: ws, outShape: os, params: p } = spec;
  const nd = xs.length - 2;
  const outC = os[1]!, cg = ws[1]!, og = outC / p.groups;
  const outSp = os.slice(2), inSp = xs.slice(2), kSp = ws.slice(2);
  // Decode [n, o, ...pos] from the row-major index.
  const pos: number[] = new Array<number>(nd);
  let rest = index;
  for (let a = nd - 1; a >= 0; a--) {
    pos[a] = rest % outSp[a]!;
    rest = Math.floor(rest / outSp[a]!);
  }
  const o = rest % outC, n = Math.floor(rest / outC), g = Math.floor(o / og);
  const kvol = kSp.reduce((a, b) => a * b, 1);
  const inPlane = inSp.reduce((a, b) => a * b, 1);
  let value = 0, mag = 0;
  for (let kp = 0; kp < kvol; kp++) {
    let r = kp, ok = true, at = 0, stride = 1;
    const kpos: number[] = new Array<number>(nd);
    for (let a = nd - 1; a >= 0; a--) {
      kpos[a] = r % kSp[a]!;
      r = Math.floor(r / kSp[a]!);
    }
    for (let a = nd - 1; a >= 0; a--) {
      const qd = pos[a]! * p.strides[a]! + kpos[a]! * p.rhsDilation[a]! - p.padding[a]![0];
      const ld = p.lhsDilation[a]!;
      if (qd < 0 || qd % ld !== 0 || qd / ld >= inSp[a]!) ok = false;
      at += (qd / ld) * stride;
      stride *= inSp[a]!;
    }
    if (!ok) continue;
    for (let c = 0; c < cg; c++) {
      const xv = x[(n * xs[1]! + g * cg + c) * inPlane + at]!;
      const wv = w[(o * cg + c) * kvol + kp]!;
      value += xv * wv;
      mag += Math.abs(xv * wv);
    }
  }
  return { value, mag };
}

async function convCase(label: string, spec: ConvSpec, seed: number): Promise<void> {
  const nx = spec.lhsShape.reduce((a, b) => a * b, 1);
  const nw = spec.rhsShape.reduce((a, b) => a * b, 1);
  const no = spec.outShape.reduce((a, b) => a * b, 1);
  const x = randomF32(nx, seed, 1), w = randomF32(nw, seed + 1, 1);
  const picks = sample(no, quick ? 300 : 1500, seed + 2, [0, 1, 63, 64, no - 1]);
  const expected = picks.map((i) => hostConvAt(spec, x, w, i));
  for (const strategy of ["direct", "tiled"] as const) {
    const full = { ...spec, strategy };
    const { runs, ms } = await runTwice(convPlan(full, target), [x, w], [no * 4]);
    const [y] = runs[0]! as [Float32Array];
    const at = firstDifference(y, runs[1]![0]!);
    const worst = new Worst();
    picks.forEach((i, e) => {
      const { value, mag } = expected[e]!;
      worst.add(y[i]!, value, 1e-5 * mag + 1e-6, () => `y[${i}]`);
    });
    report(`conv ${label} ${strategy}`, worst, at < 0 ? [] : [`y[${at}]`], ms);
  }
}

function convSpec(
  lhsShape: number[],
  rhsShape: number[],
  padding: [number, number][],
  lhsDilation: number[] = lhsShape.slice(2).map(() => 1),
): ConvSpec {
  const nd = lhsShape.length - 2;
  const params = {
    strides: new Array<number>(nd).fill(1),
    padding,
    lhsDilation,
    rhsDilation: new Array<number>(nd).fill(1),
    groups: 1,
  };
  const outShape = [
    lhsShape[0]!,
    rhsShape[0]!,
    ...range(nd).map((a) =>
      convOutputSize(lhsShape[2 + a]!, rhsShape[2 + a]!, 1, padding[a]!, lhsDilation[a]!, 1)
    ),
  ];
  return { lhsShape, rhsShape, outShape, params, dtype: "f32" };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

const t0 = performance.now();
if (only.includes("attention")) {
  const [h, s, d, causal] = (Deno.args[caseAt + 1] ?? "").split(",").map(Number);
  const cases: AttentionCase[] = caseAt >= 0
    ? [{ heads: h!, seq: s!, headDim: d!, causal: causal === 1 }]
    : quick
    ? [
      { heads: 2, seq: 1000, headDim: 64, causal: false },
      { heads: 1, seq: 1000, headDim: 80, causal: true },
    ]
    : [
      { heads: 48, seq: 4096, headDim: 64, causal: false },
      { heads: 48, seq: 4096, headDim: 64, causal: true },
      { heads: 16, seq: 4096, headDim: 80, causal: false },
      { heads: 8, seq: 1000, headDim: 64, causal: true },
      { heads: 24, seq: 1000, headDim: 80, causal: false },
      { heads: 8, seq: 1000, headDim: 80, causal: true },
    ];
  let seed = 100;
  for (const c of cases) await attentionCase(c, seed += 10);
}
if (only.includes("conv")) {
  // [N, C, T, H, W] = [1, 128, 9, 64, 64] with a 3x3x3 kernel, 128 -> 128 channels, padding 1
  // (the quick run uses 32 channels on 5 x 32 x 32).
  const [c, t, hw] = quick ? [32, 5, 32] : [128, 9, 64];
  const x = [1, c, t, hw, hw], w = [c, c, 3, 3, 3];
  const same: [number, number][] = [[1, 1], [1, 1], [1, 1]];
  await convCase(`fwd x[${x}] w[${w}]`, convSpec(x, w, same), 7);
  // Input gradient: the cotangent [1, O, ...] against the flipped, transposed kernel.
  await convCase(`bwd-input ct[${x}] w[${w}]`, convSpec(x, w, same), 8);
  // Kernel gradient: x^T [C, N, ...] against ct^T [O, N, ...] as a whole-clip kernel.
  await convCase(
    `bwd-kernel xT[${[c, 1, t, hw, hw]}] ctT[${[c, 1, t, hw, hw]}]`,
    convSpec([c, 1, t, hw, hw], [c, 1, t, hw, hw], same),
    9,
  );
  // Stride-2 forward and its input gradient (lhs dilation 2), where taps skip positions.
  const strided: ConvSpec = {
    ...convSpec(x, w, same),
    params: { ...convSpec(x, w, same).params, strides: [1, 2, 2] },
    outShape: [1, c, t, hw / 2, hw / 2],
  };
  await convCase(`fwd stride [1,2,2] x[${x}]`, strided, 10);
  await convCase(
    `bwd-input lhsDilation [1,2,2] ct[${[1, c, t, hw / 2, hw / 2]}]`,
    convSpec([1, c, t, hw / 2, hw / 2], w, [[1, 1], [1, 2], [1, 2]], [1, 2, 2]),
    11,
  );
}
console.log(
  `${failures === 0 ? "PASS" : "FAIL"} stress: ${failures} failing case(s), ` +
    `${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
Deno.exit(failures === 0 ? 0 : 1);
