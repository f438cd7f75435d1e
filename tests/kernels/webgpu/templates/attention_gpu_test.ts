/**
 * The GPU forward attention kernel (`attention_gpu.ts`), run on whatever adapter is present
 * (lavapipe in CI) so its tiling, masking and online softmax are checked against the reference
 * interpreter even where the backend itself would pick the software-tuned kernel.
 */
import fc from "fast-check";
import { assert, assertThrows } from "../../../_assert.ts";
import { sharedGpu } from "../../../../kernels/webgpu/device.ts";
import {
  gpuAttentionForwardApplies,
  gpuAttentionForwardPlan,
} from "../../../../kernels/webgpu/templates/attention_gpu.ts";
import { kernelTarget, runPlan } from "./_run_plan.ts";
import {
  attentionShapes,
  attentionSpec,
  expectClose,
  fromStorage,
  type GpuAttentionCase,
  gpuAttentionCase,
  gpuAttentionCases,
  randomFloats,
  reference,
  toStorage,
} from "./_data.ts";

const gpu = await sharedGpu();
const ignore = gpu === null;
if (ignore) {
  console.warn("SKIP GPU attention kernel tests: no WebGPU adapter (run `deno task setup`)");
}

type Case = GpuAttentionCase;

async function checkForward(c: Case): Promise<void> {
  const { batch: b, heads: h, seqQ: sq } = c;
  const spec = attentionSpec(c);
  const target = kernelTarget(gpu!, { maxWorkgroupsPerDimension: c.maxWorkgroupsPerDimension });
  assert(gpuAttentionForwardApplies(spec, target), `case ${JSON.stringify(c)} is not handled`);
  const shapes = attentionShapes(spec);
  const n = (s: number[]) => s.reduce((x, y) => x * y, 1);
  // Values in [-2, 2) so that softmax rows are far from uniform.
  const data = (s: number[], k: number) => randomFloats(n(s), c.seed + k).map((v) => 2 * v);
  const [q, k, v] = [data(shapes.q, 0), data(shapes.k, 1), data(shapes.v, 2)];
  const [outBytes, lseBytes] = await runPlan(
    gpu!,
    gpuAttentionForwardPlan(spec, target),
    [toStorage(q, "f32"), toStorage(k, "f32"), toStorage(v, "f32")],
    [n(shapes.out) * 4, b * h * sq * 4],
  );
  const [out, lse] = reference("attention", { scale: spec.scale, causal: c.causal }, [
    { shape: shapes.q, data: q, dtype: "float32" },
    { shape: shapes.k, data: k, dtype: "float32" },
    { shape: shapes.v, data: v, dtype: "float32" },
  ], [{ shape: shapes.out, dtype: "float32" }, { shape: [b, h, sq], dtype: "float32" }]);
  expectClose(`out of ${JSON.stringify(c)}`, fromStorage(outBytes!, "f32"), out!, 1e-4, 1e-5);
  expectClose(`lse of ${JSON.stringify(c)}`, fromStorage(lseBytes!, "f32"), lse!, 1e-5, 1e-5);
}

/** Pinned: S = 1; several key tiles with a ragged last one; Sq > Sk causal (fully masked rows). */
const examples: Case[] = [
  gpuAttentionCase({}),
  gpuAttentionCase({ heads: 2, seqQ: 130, seqK: 150, seed: 2, maxWorkgroupsPerDimension: 3 }),
  gpuAttentionCase({
    batch: 2,
    seqQ: 70,
    seqK: 45,
    headDim: 12,
    headDimV: 32,
    causal: true,
    seed: 3,
  }),
];

Deno.test({
  name: "gpuAttentionForwardPlan matches the reference attention on random shapes",
  ignore,
  async fn() {
    const caseArb = gpuAttentionCases([4, 32, 64], [32, 64]);
    // Each distinct shape is a new kernel for lavapipe to compile: few random runs (fast-check
    // counts the examples in numRuns, so 3 alone ran the examples only).
    await fc.assert(fc.asyncProperty(caseArb, checkForward), {
      numRuns: examples.length + 3,
      examples: examples.map((c) => [c]),
    });
  },
});

Deno.test({
  name: "gpuAttentionForwardPlan refuses what it does not handle, naming the values",
  ignore,
  fn() {
    const target = kernelTarget(gpu!);
    const spec = attentionSpec({ ...examples[0]!, headDimV: 64 });
    assert(gpuAttentionForwardApplies(spec, target), "d = dv = 64 float32 is handled");
    for (const bad of [{ headDimV: 80 }, { dtype: "f16" as const }, { headDim: 6 }]) {
      const s = { ...spec, ...bad };
      assert(!gpuAttentionForwardApplies(s, target), `${JSON.stringify(bad)} is refused`);
      assertThrows(() => gpuAttentionForwardPlan(s, target), Error, "headDimV");
    }
    const tiny = { ...target, maxWorkgroupStorageBytes: 16384 };
    assert(!gpuAttentionForwardApplies(spec, tiny), "32 KB of workgroup memory must not fit 16 KB");
  },
});
