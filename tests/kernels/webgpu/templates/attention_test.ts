import fc from "fast-check";
import { assert, assertThrows } from "../../../_assert.ts";
import { sharedGpu } from "../../../../kernels/webgpu/device.ts";
import type { KernelTarget } from "../../../../kernels/webgpu/kernel.ts";
import {
  attentionBackwardPlan,
  attentionForwardPlan,
  type AttentionSpec,
} from "../../../../kernels/webgpu/templates/attention.ts";
import { kernelTarget, runPlan } from "./_run_plan.ts";
import { checkAttentionBackward } from "./_attention_backward.ts";
import {
  attentionShapes,
  attentionSpec,
  expectClose,
  fromStorage,
  randomFloats,
  reference,
  roundAs,
  toStorage,
} from "./_data.ts";

const gpu = await sharedGpu();
const ignore = gpu === null;
if (ignore) {
  console.warn("SKIP attention template GPU tests: no WebGPU adapter (run `deno task setup`)");
}

/** A shape case plus the device limits it runs under (small limits force 2-D grids, small tiles). */
interface Case {
  batch: number;
  heads: number;
  seqQ: number;
  seqK: number;
  headDim: number;
  headDimV: number;
  causal: boolean;
  seed: number;
  maxWorkgroupsPerDimension: number;
  maxWorkgroupStorageBytes: number;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  heads: fc.integer({ min: 1, max: 2 }),
  seqQ: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 40 })),
  seqK: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 80 })),
  headDim: fc.constantFrom(32, 64, 80, 5),
  headDimV: fc.constantFrom(32, 64, 80, 3),
  causal: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  maxWorkgroupsPerDimension: fc.constantFrom(65535, 4),
  maxWorkgroupStorageBytes: fc.constantFrom(32768, 16384),
});

/** Pinned examples: S = 1; S past one tile; Sq > Sk causal (fully masked rows); head dims. */
const examples: Case[] = [
  {
    batch: 1,
    heads: 1,
    seqQ: 1,
    seqK: 1,
    headDim: 64,
    headDimV: 64,
    causal: false,
    seed: 1,
    maxWorkgroupsPerDimension: 65535,
    maxWorkgroupStorageBytes: 32768,
  },
  {
    batch: 2,
    heads: 2,
    seqQ: 70,
    seqK: 45,
    headDim: 80,
    headDimV: 80,
    causal: true,
    seed: 2,
    maxWorkgroupsPerDimension: 65535,
    maxWorkgroupStorageBytes: 32768,
  },
  {
    batch: 1,
    heads: 3,
    seqQ: 33,
    seqK: 130,
    headDim: 32,
    headDimV: 64,
    causal: true,
    seed: 3,
    maxWorkgroupsPerDimension: 4,
    maxWorkgroupStorageBytes: 32768,
  },
];

function targetOf(c: Case): KernelTarget {
  return kernelTarget(gpu!, {
    maxWorkgroupsPerDimension: c.maxWorkgroupsPerDimension,
    maxWorkgroupStorageBytes: c.maxWorkgroupStorageBytes,
  });
}

/** Inputs, rounded to `dtype`, and the shapes of q, k, v, out, lse. */
function inputsOf(c: Case, dtype: "f32" | "f16") {
  const shapes = attentionShapes(c);
  const n = (s: number[]) => s.reduce((x, y) => x * y, 1);
  // Values in [-2, 2) so that softmax rows are far from uniform.
  const data = (s: number[], k: number) =>
    roundAs(randomFloats(n(s), c.seed + k).map((v) => 2 * v), dtype);
  return { shapes, q: data(shapes.q, 0), k: data(shapes.k, 1), v: data(shapes.v, 2), n };
}

async function checkForward(c: Case, dtype: "f32" | "f16"): Promise<void> {
  const spec = attentionSpec(c, dtype);
  const { shapes, q, k, v, n } = inputsOf(c, dtype);
  const plan = attentionForwardPlan(spec, targetOf(c));
  const bytes = dtype === "f32" ? 4 : 2;
  const [outBytes, lseBytes] = await runPlan(
    gpu!,
    plan,
    [toStorage(q, dtype), toStorage(k, dtype), toStorage(v, dtype)],
    [n(shapes.out) * bytes, n(shapes.lse) * 4],
  );
  const refDtype = dtype === "f32" ? "float32" : "float16";
  const [out, lse] = reference("attention", { scale: spec.scale, causal: c.causal }, [
    { shape: shapes.q, data: q, dtype: refDtype },
    { shape: shapes.k, data: k, dtype: refDtype },
    { shape: shapes.v, data: v, dtype: refDtype },
  ], [{ shape: shapes.out, dtype: refDtype }, { shape: shapes.lse, dtype: "float32" }]);
  const tol = dtype === "f32" ? { rtol: 1e-4, atol: 1e-5 } : { rtol: 2e-3, atol: 2e-3 };
  expectClose(
    `out of ${JSON.stringify(c)}`,
    fromStorage(outBytes!, dtype),
    out!,
    tol.rtol,
    tol.atol,
  );
  expectClose(`lse of ${JSON.stringify(c)}`, fromStorage(lseBytes!, "f32"), lse!, 1e-5, 1e-5);
}

Deno.test({
  name: "attentionForwardPlan matches the reference attention on random shapes",
  ignore,
  async fn() {
    await fc.assert(
      fc.asyncProperty(caseArb, (c) => checkForward(c, "f32")),
      { numRuns: 6, examples: examples.map((c) => [c]) },
    );
  },
});

Deno.test({
  name: "attentionForwardPlan with f16 storage matches the reference in float16",
  ignore: ignore || !gpu?.has("shader-f16"),
  async fn() {
    await checkForward({ ...examples[1]!, batch: 1, heads: 1 }, "f16");
  },
});

Deno.test({
  name: "attentionBackwardPlan matches the reference attention_bwd on random shapes",
  ignore,
  async fn() {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const spec = attentionSpec(c, "f32");
        const { shapes, q, k, v, n } = inputsOf(c, "f32");
        const dOut = randomFloats(n(shapes.out), c.seed + 3);
        const plan = attentionBackwardPlan(spec, targetOf(c));
        await checkAttentionBackward(gpu!, spec, plan, { q, k, v, dOut }, JSON.stringify(c));
      }),
      { numRuns: 4, examples: examples.map((c) => [c]) },
    );
  },
});

const cpuTarget: KernelTarget = {
  shaderF16: false,
  subgroups: false,
  maxWorkgroupsPerDimension: 65535,
  maxWorkgroupStorageBytes: 32768,
  maxInvocationsPerWorkgroup: 256,
  maxStorageBuffersPerStage: 8,
};

Deno.test("attention plans reject f16 without shader-f16 and bad sizes, naming them", () => {
  const spec: AttentionSpec = {
    batch: 1,
    heads: 2,
    seqQ: 8,
    seqK: 8,
    headDim: 64,
    headDimV: 64,
    scale: 0.125,
    causal: false,
    dtype: "f16",
  };
  assertThrows(() => attentionForwardPlan(spec, cpuTarget), Error, "shader-f16");
  assertThrows(
    () => attentionBackwardPlan({ ...spec, dtype: "f32", headDim: 0 }, cpuTarget),
    Error,
    "headDim must be an integer >= 1, got 0",
  );
  assertThrows(
    () => attentionForwardPlan({ ...spec, dtype: "f32", headDim: 4096 }, cpuTarget),
    Error,
    "workgroup memory",
  );
});

Deno.test("attention plans bind q, k, v, out, lse and respect the workgroup grid limit", () => {
  const spec: AttentionSpec = {
    batch: 8,
    heads: 8,
    seqQ: 100,
    seqK: 50,
    headDim: 64,
    headDimV: 32,
    scale: 0.125,
    causal: true,
    dtype: "f32",
  };
  const target = { ...cpuTarget, maxWorkgroupsPerDimension: 6 };
  const forward = attentionForwardPlan(spec, target);
  assert(forward.kernels.length === 1);
  const backward = attentionBackwardPlan(spec, target);
  assert(
    backward.kernels.length === 3,
    `expected 3 backward kernels, got ${backward.kernels.length}`,
  );
  for (const kernel of [...forward.kernels, ...backward.kernels]) {
    assert(kernel.workgroups.every((n) => n <= 6), `${kernel.name}: ${kernel.workgroups}`);
    assert(kernel.code.includes("fn main("), `${kernel.name} has no entry point`);
  }
  assert(
    forward.kernels[0]!.bindings.map((b) => b.buffer).join() === "in0,in1,in2,out0,out1",
  );
  const scratch = backward.scratch.map((s) => s.name);
  for (const kernel of backward.kernels) {
    for (const { buffer } of kernel.bindings) {
      assert(/^(in[0-5]|out[0-2])$/.test(buffer) || scratch.includes(buffer), buffer);
    }
  }
  assert(attentionForwardPlan({ ...spec, seqQ: 0 }, target).kernels.length === 0);
  // 8 * 8 * 2 query tiles of 64 rows cannot fit 5 x 5 x 5 workgroups.
  assertThrows(
    () => attentionForwardPlan(spec, { ...target, maxWorkgroupsPerDimension: 5 }),
    Error,
    "Cannot lay out 128 workgroups",
  );
});
