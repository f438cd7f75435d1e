import { assert } from "../../../_assert.ts";
import { sharedGpu } from "../../../../kernels/webgpu/device.ts";
import type { KernelTarget } from "../../../../kernels/webgpu/kernel.ts";
import {
  attentionBackwardPlan,
  attentionForwardPlan,
  type AttentionSpec,
} from "../../../../kernels/webgpu/templates/attention.ts";
import {
  streamAttentionForwardKernel,
  streamRowsPerLane,
} from "../../../../kernels/webgpu/templates/attention_stream.ts";
import {
  streamDkdvKernel,
  streamDqKernel,
  useStreamDkdv,
} from "../../../../kernels/webgpu/templates/attention_stream_bwd.ts";
import { kernelTarget, runPlan } from "./_run_plan.ts";
import { checkAttentionBackward } from "./_attention_backward.ts";
import {
  attentionShapes,
  expectClose,
  fromStorage,
  randomFloats,
  reference,
  roundAs,
  toStorage,
} from "./_data.ts";

const gpu = await sharedGpu();
const subgroupsOf8 = gpu !== null && gpu.has("subgroups") && gpu.info.subgroupMinSize >= 8;
if (!subgroupsOf8) {
  console.warn(
    "SKIP streaming attention GPU tests: no WebGPU adapter with subgroups of at least 8 " +
      "invocations (lavapipe has them; run `deno task setup`)",
  );
}

interface Case {
  spec: AttentionSpec;
  rowsPerLane: number;
  seed: number;
  /** Forces a 2-D grid with padding workgroups (the masked prologue). */
  maxWorkgroupsPerDimension?: number;
}

const base: AttentionSpec = {
  batch: 1,
  heads: 1,
  seqQ: 1,
  seqK: 1,
  headDim: 5,
  headDimV: 3,
  scale: 1 / Math.sqrt(5),
  causal: false,
  dtype: "f32",
};

/**
 * S = 1; S past one block and one workgroup and not a multiple of 8; causal with Sq > Sk
 * (fully masked rows) and Sq < Sk; several heads; a padded 2-D grid; both row counts.
 */
const cases: Case[] = [
  { spec: base, rowsPerLane: 2, seed: 1 },
  {
    spec: { ...base, batch: 2, heads: 2, seqQ: 70, seqK: 45, headDim: 16, headDimV: 24 },
    rowsPerLane: 1,
    seed: 2,
  },
  {
    spec: { ...base, seqQ: 150, seqK: 37, headDim: 8, headDimV: 8, causal: true },
    rowsPerLane: 2,
    seed: 3,
  },
  {
    spec: { ...base, heads: 7, seqQ: 33, seqK: 130, headDim: 12, headDimV: 4, causal: true },
    rowsPerLane: 1,
    seed: 4,
    // 7 (forward, dQ) and 21 (dK/dV) workgroups on 5 x 5 grids: padding workgroups.
    maxWorkgroupsPerDimension: 5,
  },
];

async function check(c: Case): Promise<void> {
  const { spec } = c;
  const { batch: b, heads: h, seqQ: sq, dtype } = spec;
  const shapes = attentionShapes(spec);
  const n = (s: number[]) => s.reduce((x, y) => x * y, 1);
  // Values in [-2, 2) so that softmax rows are far from uniform.
  const data = (s: number[], k: number) =>
    roundAs(randomFloats(n(s), c.seed + k).map((x) => 2 * x), dtype);
  const [q, k, v] = [data(shapes.q, 0), data(shapes.k, 1), data(shapes.v, 2)];
  const target = kernelTarget(gpu!, {
    maxWorkgroupsPerDimension: c.maxWorkgroupsPerDimension ?? 65535,
  });
  const enable = dtype === "f16" ? "enable f16;\n" : "";
  const kernel = streamAttentionForwardKernel(spec, target, c.rowsPerLane, enable);
  const bytes = dtype === "f32" ? 4 : 2;
  const [outBytes, lseBytes] = await runPlan(
    gpu!,
    { scratch: [], kernels: [kernel] },
    [toStorage(q, dtype), toStorage(k, dtype), toStorage(v, dtype)],
    [n(shapes.out) * bytes, b * h * sq * 4],
  );
  const refDtype = dtype === "f32" ? "float32" : "float16";
  const [out, lse] = reference("attention", { scale: spec.scale, causal: spec.causal }, [
    { shape: shapes.q, data: q, dtype: refDtype },
    { shape: shapes.k, data: k, dtype: refDtype },
    { shape: shapes.v, data: v, dtype: refDtype },
  ], [{ shape: shapes.out, dtype: refDtype }, { shape: [b, h, sq], dtype: "float32" }]);
  const tol = dtype === "f32" ? { rtol: 1e-4, atol: 1e-5 } : { rtol: 2e-3, atol: 2e-3 };
  const name = `${kernel.name} on ${JSON.stringify(c)}`;
  expectClose(`out of ${name}`, fromStorage(outBytes!, dtype), out!, tol.rtol, tol.atol);
  expectClose(`lse of ${name}`, fromStorage(lseBytes!, "f32"), lse!, 1e-5, 1e-5);
}

Deno.test({
  name: "streamAttentionForwardKernel matches the reference attention (masks, tails, grids)",
  ignore: !subgroupsOf8,
  async fn() {
    for (const c of cases) await check(c);
  },
});

Deno.test({
  name: "streamAttentionForwardKernel with f16 storage matches the reference in float16",
  ignore: !subgroupsOf8 || !gpu?.has("shader-f16"),
  async fn() {
    await check({ ...cases[2]!, spec: { ...cases[2]!.spec, dtype: "f16" } });
  },
});

/**
 * The streaming dK/dV and dQ kernels after the tiled plan's delta kernel (the plan with the
 * tiled kernels replaced), against the reference `attention_bwd`.
 */
async function checkBackward(c: Case): Promise<void> {
  const spec = c.spec;
  const shapes = attentionShapes(spec);
  const n = (s: number[]) => s.reduce((x, y) => x * y, 1);
  const data = (s: number[], k: number) => randomFloats(n(s), c.seed + k).map((x) => 2 * x);
  const [q, k, v, dOut] = [
    data(shapes.q, 0),
    data(shapes.k, 1),
    data(shapes.v, 2),
    data(shapes.out, 3),
  ];
  const target = kernelTarget(gpu!, {
    maxWorkgroupsPerDimension: c.maxWorkgroupsPerDimension ?? 65535,
  });
  // Only the delta kernel and the scratch are taken from the tiled plan (at the full grid limit).
  const tiled = attentionBackwardPlan(spec, kernelTarget(gpu!));
  const stats = tiled.scratch[0]!.name;
  const plan = {
    scratch: tiled.scratch,
    kernels: [
      tiled.kernels[0]!,
      streamDkdvKernel(spec, target, stats, ""),
      streamDqKernel(spec, target, stats, ""),
    ],
  };
  await checkAttentionBackward(gpu!, spec, plan, { q, k, v, dOut }, JSON.stringify(c));
}

Deno.test({
  name: "streamDkdvKernel and streamDqKernel match the reference attention_bwd",
  ignore: !subgroupsOf8,
  async fn() {
    for (const c of cases) await checkBackward(c);
  },
});

Deno.test({
  name: "streaming backward kernels with f16 storage agree with the tiled float32 kernels",
  ignore: !subgroupsOf8 || !gpu?.has("shader-f16"),
  async fn() {
    const spec: AttentionSpec = {
      ...base,
      heads: 2,
      seqQ: 20,
      seqK: 13,
      headDim: 8,
      headDimV: 4,
      causal: true,
      dtype: "f16",
    };
    const target = kernelTarget(gpu!);
    const tiled16 = attentionBackwardPlan(spec, target);
    const tiled32 = attentionBackwardPlan({ ...spec, dtype: "f32" }, target);
    const stats = tiled16.scratch[0]!.name;
    const enable = "enable f16;\n";
    const plan = {
      scratch: tiled16.scratch,
      kernels: [
        tiled16.kernels[0]!,
        streamDkdvKernel(spec, target, stats, enable),
        streamDqKernel(spec, target, stats, enable),
      ],
    };
    const [nq, nk, nv, no] = [2 * 20 * 8, 2 * 13 * 8, 2 * 13 * 4, 2 * 20 * 4];
    // q, k, v, out, lse (float32, shifted so rows are not saturated), dOut; rounded to f16.
    const sizes = [nq, nk, nv, no, 2 * 20, no];
    const ins = sizes.map((n, i) =>
      roundAs(
        randomFloats(n, 10 + i).map((x) => 2 * x + (i === 4 ? 3 : 0)),
        i === 4 ? "f32" : "f16",
      )
    );
    const got = await runPlan(
      gpu!,
      plan,
      ins.map((x, i) => i === 4 ? Float32Array.from(x) : toStorage(x, "f16")),
      [nq * 2, nk * 2, nv * 2],
    );
    const want = await runPlan(gpu!, tiled32, ins.map((x) => Float32Array.from(x)), [
      nq * 4,
      nk * 4,
      nv * 4,
    ]);
    for (const [o, what] of ["dq", "dk", "dv"].entries()) {
      expectClose(
        `${what} (f16 streaming vs f32 tiled)`,
        fromStorage(got[o]!, "f16"),
        fromStorage(want[o]!, "f32"),
        2e-3,
        2e-3,
      );
    }
  },
});

const lavapipeLike: KernelTarget = {
  shaderF16: true,
  subgroups: true,
  subgroupMinSize: 8,
  maxWorkgroupsPerDimension: 65535,
  maxWorkgroupStorageBytes: 32768,
  maxInvocationsPerWorkgroup: 256,
  maxStorageBuffersPerStage: 8,
};

Deno.test("attention plans stream only large problems on software adapters with subgroups", () => {
  const big: AttentionSpec = {
    ...base,
    heads: 8,
    seqQ: 1024,
    seqK: 1024,
    headDim: 64,
    headDimV: 64,
    scale: 0.125,
    software: true,
  };
  assert(streamRowsPerLane(big, lavapipeLike) === 2);
  assert(streamRowsPerLane({ ...big, headDim: 128, headDimV: 128 }, lavapipeLike) === 1);
  const name = (spec: AttentionSpec, target: KernelTarget) =>
    attentionForwardPlan(spec, target).kernels[0]!.name;
  assert(name(big, lavapipeLike).startsWith("attention_fwd_stream_"), name(big, lavapipeLike));
  // GPUs, small problems, subgroups that may be narrower than 8 and huge heads keep the tiles.
  for (
    const [spec, target] of [
      [{ ...big, software: false }, lavapipeLike],
      [{ ...big, seqQ: 64, seqK: 64 }, lavapipeLike],
      [big, { ...lavapipeLike, subgroupMinSize: 4 }],
      [big, { ...lavapipeLike, subgroups: false }],
      [{ ...big, headDim: 200, headDimV: 64 }, lavapipeLike],
    ] as [AttentionSpec, KernelTarget][]
  ) {
    assert(!name(spec, target).startsWith("attention_fwd_stream_"), JSON.stringify(spec));
    assert(!useStreamDkdv(spec, target), JSON.stringify(spec));
  }
  const backward = attentionBackwardPlan(big, lavapipeLike).kernels.map((k) => k.name);
  assert(backward[1]!.startsWith("attention_bwd_dkdv_stream_"), backward.join());
  assert(backward[2]!.startsWith("attention_bwd_dq_stream_"), backward.join());
  assert(!useStreamDkdv({ ...big, headDim: 128, headDimV: 64 }, lavapipeLike));
});
