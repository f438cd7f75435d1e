/**
 * The GPU backward attention kernels (`attention_gpu_bwd.ts`), run on whatever adapter is
 * present (lavapipe in CI) so that their tiling, masking and workgroup-memory reuse are checked
 * against the reference interpreter's `attention_bwd` even where the backend itself would pick
 * the portable kernels.
 */
import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../../_assert.ts";
import { sharedGpu } from "../../../../kernels/webgpu/device.ts";
import {
  gpuAttentionBackwardApplies,
  gpuAttentionBackwardPlan,
} from "../../../../kernels/webgpu/templates/attention_gpu_bwd.ts";
import { kernelTarget } from "./_run_plan.ts";
import {
  attentionShapes,
  attentionSpec,
  type GpuAttentionCase,
  gpuAttentionCase,
  gpuAttentionCases,
  randomFloats,
} from "./_data.ts";
import { checkAttentionBackward } from "./_attention_backward.ts";

const gpu = await sharedGpu();
const ignore = gpu === null;
if (ignore) {
  console.warn("SKIP GPU attention backward kernel tests: no WebGPU adapter");
}

type Case = GpuAttentionCase;

async function checkBackward(c: Case): Promise<void> {
  const spec = attentionSpec(c);
  const target = kernelTarget(gpu!, { maxWorkgroupsPerDimension: c.maxWorkgroupsPerDimension });
  assert(gpuAttentionBackwardApplies(spec, target), `case ${JSON.stringify(c)} is not handled`);
  const shapes = attentionShapes(spec);
  const n = (s: number[]) => s.reduce((x, y) => x * y, 1);
  // Values in [-2, 2) so that softmax rows are far from uniform.
  const data = (s: number[], k: number) => randomFloats(n(s), c.seed + k).map((v) => 2 * v);
  await checkAttentionBackward(gpu!, spec, gpuAttentionBackwardPlan(spec, target), {
    q: data(shapes.q, 0),
    k: data(shapes.k, 1),
    v: data(shapes.v, 2),
    dOut: data(shapes.out, 3),
  }, JSON.stringify(c));
}

/**
 * Pinned: S = 1; several tiles with ragged last ones both ways and a 2-D grid; causal with
 * Sq > Sk (queries that see no key) and Sq < Sk; the 32-wide head dimensions.
 */
const examples: Case[] = [
  gpuAttentionCase({}),
  gpuAttentionCase({ heads: 2, seqQ: 130, seqK: 150, seed: 2, maxWorkgroupsPerDimension: 3 }),
  gpuAttentionCase({ batch: 2, seqQ: 90, seqK: 45, headDim: 32, causal: true, seed: 3 }),
  gpuAttentionCase({ seqQ: 40, seqK: 131, headDimV: 32, causal: true, seed: 4 }),
];

Deno.test({
  name: "gpuAttentionBackwardPlan matches the reference attention_bwd on random shapes",
  ignore,
  async fn() {
    const caseArb = gpuAttentionCases([32, 64], [32, 64]);
    // Each distinct shape is a new pair of kernels for lavapipe to compile: few random runs
    // (fast-check counts the examples in numRuns).
    await fc.assert(fc.asyncProperty(caseArb, checkBackward), {
      numRuns: examples.length + 1,
      examples: examples.map((c) => [c]),
    });
  },
});

Deno.test({
  name: "gpuAttentionBackwardPlan refuses what it does not handle, naming the values",
  ignore,
  fn() {
    const target = kernelTarget(gpu!);
    const spec = attentionSpec(examples[1]!);
    assert(gpuAttentionBackwardApplies(spec, target), "d = dv = 64 float32 is handled");
    const plan = gpuAttentionBackwardPlan(spec, target);
    assertEquals(plan.kernels.map((k) => k.name), [
      "attention_bwd_delta_dv64_f32",
      "attention_bwd_dkdv_gpu_d64_dv64",
      "attention_bwd_dq_gpu_d64_dv64",
    ]);
    for (const bad of [{ headDimV: 80 }, { dtype: "f16" as const }, { headDim: 48 }]) {
      const s = { ...spec, ...bad };
      assert(!gpuAttentionBackwardApplies(s, target), `${JSON.stringify(bad)} is refused`);
      assertThrows(() => gpuAttentionBackwardPlan(s, target), Error, "headDim");
    }
    const small = { ...target, maxWorkgroupStorageBytes: 16384 };
    assert(
      !gpuAttentionBackwardApplies(spec, small),
      "32 KB of workgroup memory must not fit 16 KB",
    );
    assertThrows(() => gpuAttentionBackwardPlan(spec, small), Error, "16384 bytes");
  },
});
