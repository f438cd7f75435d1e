/**
 * Times the attention and convolution templates on the current adapter against naive WGSL
 * compositions (one invocation per output element, no tiling), and prints GFLOP/s.
 *
 * Run: `npx -y deno@2.9.6 run -A tests/kernels/webgpu/templates/_measure.ts [--quick]`.
 * Not a test: it takes a few minutes on the software adapter.
 *
 * @module
 */

import { sharedGpu } from "../../../../kernels/webgpu/device.ts";
import type { KernelPlan, KernelTarget } from "../../../../kernels/webgpu/kernel.ts";
import {
  attentionBackwardPlan,
  attentionForwardPlan,
} from "../../../../kernels/webgpu/templates/attention.ts";
import { convPlan, type ConvSpec } from "../../../../kernels/webgpu/templates/conv.ts";
import { linearGrid } from "../../../../kernels/webgpu/templates/_wgsl.ts";
import { kernelTarget, timePlan } from "./_run_plan.ts";

const gpu = await sharedGpu();
if (!gpu) throw new Error("No WebGPU adapter: run `deno task setup`");
const target = kernelTarget(gpu);
const quick = Deno.args.includes("--quick");
console.log(`adapter: ${gpu.info.name}`);

const filled = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5);

async function report(
  label: string,
  plan: KernelPlan,
  inputs: Float32Array[],
  outs: number[],
  flops: number,
) {
  const t = await timePlan(gpu!, plan, inputs, outs, quick ? 1 : 3);
  console.log(
    `${label.padEnd(58)} ${t.wallMs.toFixed(0).padStart(7)} ms  ${
      (flops / t.wallMs / 1e6).toFixed(2).padStart(6)
    } GFLOP/s` +
      `  (worker CPU ${t.cpuMs.toFixed(0)} ms)`,
  );
}

/** Naive attention: S = scale Q K^T, row softmax, O = P V; one invocation per element or row. */
function naiveAttention(
  bh: number,
  s: number,
  d: number,
  scale: number,
  t: KernelTarget,
): KernelPlan {
  const ew = (count: number) => linearGrid(Math.ceil(count / 64), t.maxWorkgroupsPerDimension);
  const head = (names: string[]) =>
    names.map((n, i) =>
      `@group(0) @binding(${i}) var<storage, ${
        i === names.length - 1 ? "read_write" : "read"
      }> ${n}: array<f32>;`
    ).join("\n");
  const scores = ew(bh * s * s), rows = ew(bh * s), out = ew(bh * s * d);
  const entry = (g: { prologue: string }) =>
    `@compute @workgroup_size(64) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${g.prologue}
  let i = wgIndex * 64u + lid;`;
  return {
    scratch: [{ name: "p", bytes: bh * s * s * 4 }],
    kernels: [
      {
        name: "naive_scores",
        code: `${head(["q", "k", "p"])}
${entry(scores)}
  if (i >= ${bh * s * s}u) { return; }
  let b = i / ${s * s}u; let r = (i / ${s}u) % ${s}u; let c = i % ${s}u;
  var acc = 0.0;
  for (var t = 0u; t < ${d}u; t++) { acc += q[(b * ${s}u + r) * ${d}u + t] * k[(b * ${s}u + c) * ${d}u + t]; }
  p[i] = acc * ${scale};
}`,
        bindings: [{ buffer: "in0", access: "read" }, { buffer: "in1", access: "read" }, {
          buffer: "p",
          access: "read_write",
        }],
        workgroups: scores.workgroups,
      },
      {
        name: "naive_softmax",
        code: `${head(["p"])}
${entry(rows)}
  if (i >= ${bh * s}u) { return; }
  var m = -3.0e38;
  for (var c = 0u; c < ${s}u; c++) { m = max(m, p[i * ${s}u + c]); }
  var l = 0.0;
  for (var c = 0u; c < ${s}u; c++) { let e = exp(p[i * ${s}u + c] - m); p[i * ${s}u + c] = e; l += e; }
  for (var c = 0u; c < ${s}u; c++) { p[i * ${s}u + c] /= l; }
}`,
        bindings: [{ buffer: "p", access: "read_write" }],
        workgroups: rows.workgroups,
      },
      {
        name: "naive_pv",
        code: `${head(["p", "v", "o"])}
${entry(out)}
  if (i >= ${bh * s * d}u) { return; }
  let r = i / ${d}u; let c = i % ${d}u; let b = r / ${s}u;
  var acc = 0.0;
  for (var j = 0u; j < ${s}u; j++) { acc += p[r * ${s}u + j] * v[(b * ${s}u + j) * ${d}u + c]; }
  o[i] = acc;
}`,
        bindings: [{ buffer: "p", access: "read" }, { buffer: "in2", access: "read" }, {
          buffer: "out0",
          access: "read_write",
        }],
        workgroups: out.workgroups,
      },
    ],
  };
}

/** Naive 3x3x3 "same" conv3d: one invocation per output element. */
function naiveConv3d(c: number, o: number, dims: number[], t: KernelTarget): KernelPlan {
  const [tt, h, w] = dims as [number, number, number];
  const plane = tt * h * w;
  const g = linearGrid(Math.ceil((o * plane) / 64), t.maxWorkgroupsPerDimension);
  return {
    scratch: [],
    kernels: [{
      name: "naive_conv3d",
      code: `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${g.prologue}
  let i = wgIndex * 64u + lid;
  if (i >= ${o * plane}u) { return; }
  let oc = i / ${plane}u; let p = i % ${plane}u;
  let z = i32(p / ${h * w}u); let yy = i32((p / ${w}u) % ${h}u); let xx = i32(p % ${w}u);
  var acc = 0.0;
  for (var ci = 0u; ci < ${c}u; ci++) {
    for (var k = 0u; k < 27u; k++) {
      let a = z + i32(k / 9u) - 1; let b = yy + i32((k / 3u) % 3u) - 1; let e = xx + i32(k % 3u) - 1;
      if (a >= 0 && a < ${tt} && b >= 0 && b < ${h} && e >= 0 && e < ${w}) {
        acc += x[ci * ${plane}u + u32(a) * ${
        h * w
      }u + u32(b) * ${w}u + u32(e)] * wt[(oc * ${c}u + ci) * 27u + k];
      }
    }
  }
  y[i] = acc;
}`,
      bindings: [{ buffer: "in0", access: "read" }, { buffer: "in1", access: "read" }, {
        buffer: "out0",
        access: "read_write",
      }],
      workgroups: g.workgroups,
    }],
  };
}

// Attention: S = 1024, 8 heads of 64, batch 1 (the software-adapter size).
{
  const [b, h, s, d] = [1, 8, quick ? 256 : 1024, 64];
  const n = b * h * s * d;
  const [q, k, v, dOut] = [
    filled(n),
    filled(n + 1).subarray(1),
    filled(n + 2).subarray(2),
    filled(n + 3).subarray(3),
  ];
  const fwdFlops = 4 * b * h * s * s * d;
  for (const causal of [false, true]) {
    const spec = {
      batch: b,
      heads: h,
      seqQ: s,
      seqK: s,
      headDim: d,
      headDimV: d,
      scale: 1 / 8,
      causal,
      dtype: "f32" as const,
    };
    const scale = causal ? 0.5 : 1;
    const tag = `attention S=${s} H=${h} D=${d}${causal ? " causal" : ""}`;
    await report(`${tag} forward (fused)`, attentionForwardPlan(spec, target), [q, k, v], [
      n * 4,
      b * h * s * 4,
    ], fwdFlops * scale);
    const lse = filled(b * h * s).map((x) => x + 8);
    // Backward FLOPs counted as 2.5x forward (5 matmuls; the kernels recompute S and dP twice).
    await report(
      `${tag} backward (fused, 3 kernels)`,
      attentionBackwardPlan(spec, target),
      [q, k, v, v, lse, dOut],
      [n * 4, n * 4, n * 4],
      2.5 * fwdFlops * scale,
    );
  }
  await report(
    `attention S=${s} H=${h} D=${d} forward (naive: QK^T, softmax, PV)`,
    naiveAttention(b * h, s, d, 1 / 8, target),
    [q, k, v],
    [n * 4],
    fwdFlops,
  );
}

// conv3d of the VAE: [1, 128, 9, 64, 64] with 3x3x3 kernels, stride 1, padding 1.
{
  const [c, o, dims] = quick ? [32, 32, [9, 32, 32]] : [128, 128, [9, 64, 64]];
  const plane = dims.reduce((a, b) => a * b, 1);
  const same = {
    strides: [1, 1, 1],
    padding: [[1, 1], [1, 1], [1, 1]] as [number, number][],
    lhsDilation: [1, 1, 1],
    rhsDilation: [1, 1, 1],
    groups: 1,
  };
  const x = filled(c * plane), w = filled(o * c * 27);
  const flops = 2 * o * plane * c * 27;
  const fwd: ConvSpec = {
    lhsShape: [1, c, ...dims],
    rhsShape: [o, c, 3, 3, 3],
    outShape: [1, o, ...dims],
    params: same,
    dtype: "f32",
  };
  const tag = `conv3d [1,${c},${dims}] 3x3x3 -> ${o}`;
  await report(`${tag} forward (direct)`, convPlan(fwd, target), [x, w], [o * plane * 4], flops);
  await report(`${tag} forward (tiled)`, convPlan({ ...fwd, strategy: "tiled" }, target), [x, w], [
    o * plane * 4,
  ], flops);
  // The kernel gradient as the vjp rule lowers it: x^T [C, 1, ...] (*) dy^T [O, 1, ...] -> [C, O, 3, 3, 3].
  const dw: ConvSpec = {
    lhsShape: [c, 1, ...dims],
    rhsShape: [o, 1, ...dims],
    outShape: [c, o, 3, 3, 3],
    params: same,
    dtype: "f32",
  };
  const dy = filled(o * plane);
  await report(
    `${tag} kernel gradient (direct)`,
    convPlan(dw, target),
    [x, dy],
    [c * o * 27 * 4],
    flops,
  );
  await report(
    `${tag} forward (naive)`,
    naiveConv3d(c, o, dims, target),
    [x, w],
    [o * plane * 4],
    flops,
  );
}
