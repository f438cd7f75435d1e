import fc from "fast-check";
import { assert, assertThrows } from "../../../_assert.ts";
import { abstractEval, type ConvParams } from "../../../../kernels/primitives.ts";
import { sharedGpu } from "../../../../kernels/webgpu/device.ts";
import type { KernelTarget } from "../../../../kernels/webgpu/kernel.ts";
import { convPlan, type ConvSpec } from "../../../../kernels/webgpu/templates/conv.ts";
import { kernelTarget, runPlan } from "./_run_plan.ts";
import { expectClose, fromStorage, randomFloats, reference, roundAs, toStorage } from "./_data.ts";

const gpu = await sharedGpu();
const ignore = gpu === null;
if (ignore) console.warn("SKIP conv template GPU tests: no WebGPU adapter (run `deno task setup`)");

/** A convolution case: lhs and rhs shapes, params, strategy and data seed. */
interface Case {
  lhsShape: number[];
  rhsShape: number[];
  params: ConvParams;
  strategy: "direct" | "tiled";
  seed: number;
}

/** Random convolutions with 1-3 spatial dims and every parameter in play. */
const caseArb: fc.Arbitrary<Case> = fc.integer({ min: 1, max: 3 }).chain((nd) =>
  fc.record({
    batch: fc.integer({ min: 1, max: 2 }),
    groups: fc.integer({ min: 1, max: 3 }),
    cPerGroup: fc.constantFrom(1, 2, 3, 9),
    oPerGroup: fc.constantFrom(1, 3, 17),
    spatial: fc.array(fc.integer({ min: 1, max: nd === 3 ? 5 : 9 }), {
      minLength: nd,
      maxLength: nd,
    }),
    kernel: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: nd, maxLength: nd }),
    strides: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: nd, maxLength: nd }),
    padding: fc.array(fc.tuple(fc.integer({ min: -1, max: 2 }), fc.integer({ min: -1, max: 2 })), {
      minLength: nd,
      maxLength: nd,
    }),
    lhsDilation: fc.array(fc.integer({ min: 1, max: 2 }), { minLength: nd, maxLength: nd }),
    rhsDilation: fc.array(fc.integer({ min: 1, max: 2 }), { minLength: nd, maxLength: nd }),
    strategy: fc.constantFrom("direct" as const, "tiled" as const),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  }).map((r) => ({
    lhsShape: [r.batch, r.groups * r.cPerGroup, ...r.spatial],
    rhsShape: [r.groups * r.oPerGroup, r.cPerGroup, ...r.kernel],
    params: {
      strides: r.strides,
      padding: r.padding,
      lhsDilation: r.lhsDilation,
      rhsDilation: r.rhsDilation,
      groups: r.groups,
    },
    strategy: r.strategy,
    seed: r.seed,
  }))
);

const ones = (n: number) => Array.from({ length: n }, () => 1);
const same3d: ConvParams = {
  strides: [1, 1, 1],
  padding: [[1, 1], [1, 1], [1, 1]],
  lhsDilation: [1, 1, 1],
  rhsDilation: [1, 1, 1],
  groups: 1,
};

/**
 * Pinned examples: a VAE-like 3x3x3 "same" conv with enough channels for the channels-inner
 * path and more than one tile of output channels in both strategies; a transposed 2-D conv
 * (input gradient of a stride-2 conv); a weight-gradient-like conv with a large kernel.
 */
const examples: Case[] = [
  {
    lhsShape: [1, 16, 3, 5, 6],
    rhsShape: [20, 16, 3, 3, 3],
    params: same3d,
    strategy: "direct",
    seed: 1,
  },
  {
    lhsShape: [1, 8, 3, 5, 6],
    rhsShape: [70, 8, 3, 3, 3],
    params: same3d,
    strategy: "tiled",
    seed: 2,
  },
  {
    lhsShape: [2, 4, 5, 4],
    rhsShape: [6, 2, 3, 3],
    params: {
      strides: [1, 1],
      padding: [[2, 3], [1, 2]],
      lhsDilation: [2, 2],
      rhsDilation: [1, 1],
      groups: 2,
    },
    strategy: "direct",
    seed: 3,
  },
  {
    lhsShape: [3, 2, 12],
    rhsShape: [5, 2, 10],
    params: { strides: [1], padding: [[0, 0]], lhsDilation: [1], rhsDilation: ones(1), groups: 1 },
    strategy: "direct",
    seed: 4,
  },
];

async function check(c: Case, dtype: "f32" | "f16", target: KernelTarget): Promise<void> {
  const refDtype = dtype === "f32" ? "float32" : "float16";
  const [out] = abstractEval("conv", [
    { shape: c.lhsShape, dtype: refDtype },
    { shape: c.rhsShape, dtype: refDtype },
  ], c.params);
  const outShape = out!.shape;
  const n = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);
  const spec: ConvSpec = { ...c, outShape, dtype };
  const plan = convPlan(spec, target);
  if (n(outShape) === 0) {
    assert(plan.kernels.length === 0, `an empty output ${outShape} should need no kernel`);
    return;
  }
  const x = roundAs(randomFloats(n(c.lhsShape), c.seed), dtype);
  const w = roundAs(randomFloats(n(c.rhsShape), c.seed + 1), dtype);
  const [bytes] = await runPlan(
    gpu!,
    plan,
    [toStorage(x, dtype), toStorage(w, dtype)],
    [n(outShape) * (dtype === "f32" ? 4 : 2)],
  );
  const [expected] = reference("conv", c.params, [
    { shape: c.lhsShape, data: x, dtype: refDtype },
    { shape: c.rhsShape, data: w, dtype: refDtype },
  ], [{ shape: outShape, dtype: refDtype }]);
  const [rtol, atol] = dtype === "f32" ? [1e-4, 1e-5] : [2e-3, 4e-3];
  expectClose(`conv ${JSON.stringify(c)}`, fromStorage(bytes!, dtype), expected!, rtol, atol);
}

Deno.test({
  name: "convPlan matches the reference conv for random 1-3D strides, paddings, dilations, groups",
  ignore,
  async fn() {
    const target = kernelTarget(gpu!);
    await fc.assert(
      fc.asyncProperty(caseArb, (c) => check(c, "f32", target)),
      { numRuns: 12, examples: examples.map((c) => [c]) },
    );
  },
});

Deno.test({
  name: "convPlan with f16 storage matches the reference in float16",
  ignore: ignore || !gpu?.has("shader-f16"),
  async fn() {
    await check(examples[2]!, "f16", kernelTarget(gpu!));
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

Deno.test("convPlan rejects inconsistent shapes and params, naming them", () => {
  const good: ConvSpec = {
    lhsShape: [1, 4, 8, 8],
    rhsShape: [6, 2, 3, 3],
    outShape: [1, 6, 8, 8],
    params: {
      strides: [1, 1],
      padding: [[1, 1], [1, 1]],
      lhsDilation: [1, 1],
      rhsDilation: [1, 1],
      groups: 2,
    },
    dtype: "f32",
  };
  assert(convPlan(good, cpuTarget).kernels.length === 1);
  assertThrows(
    () => convPlan({ ...good, outShape: [1, 6, 7, 8] }, cpuTarget),
    Error,
    "out [1, 6, 7, 8] should be [1, 6, 8, 8]",
  );
  assertThrows(
    () => convPlan({ ...good, params: { ...good.params, groups: 3 } }, cpuTarget),
    Error,
    "channels do not match",
  );
  assertThrows(
    () => convPlan({ ...good, params: { ...good.params, strides: [0, 1] } }, cpuTarget),
    Error,
    "strides [0,1]",
  );
  assertThrows(() => convPlan({ ...good, dtype: "f16" }, cpuTarget), Error, "shader-f16");
});

Deno.test("convPlan lays out the VAE conv3d within the workgroup grid limit", () => {
  const spec: ConvSpec = {
    lhsShape: [1, 128, 9, 64, 64],
    rhsShape: [128, 128, 3, 3, 3],
    outShape: [1, 128, 9, 64, 64],
    params: same3d,
    dtype: "f32",
  };
  for (const strategy of ["direct", "tiled"] as const) {
    const [kernel] =
      convPlan({ ...spec, strategy }, { ...cpuTarget, maxWorkgroupsPerDimension: 256 })
        .kernels;
    assert(
      kernel !== undefined && kernel.workgroups.every((n) => n <= 256),
      String(kernel?.workgroups),
    );
    assert(kernel.code.includes("workgroupBarrier") === (strategy === "tiled"), kernel.name);
  }
});
