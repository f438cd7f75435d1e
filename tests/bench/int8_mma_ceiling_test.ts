/**
 * The int8 subgroup-matrix ceiling kernels (`bench/int8_mma_ceiling.ts`): their mimicked form
 * (the native text with plain-WGSL stand-ins for the builtins) computes exactly what
 * `ceilingExpected` says on the test adapter, and the native text of every configuration the
 * bench times passes Dawn's WGSL validator (null backend) under every load-unit convention.
 */

import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { sharedGpu } from "../../kernels/webgpu/device.ts";
import { int8MatrixConventions } from "../../kernels/webgpu/int8_matrix_probe.ts";
import {
  type CeilingCase,
  ceilingExpected,
  ceilingIterationStep,
  ceilingOps,
  ceilingSource,
  ceilingWordsPerSubgroup,
  int8MmaCeilingPlan,
} from "../../bench/int8_mma_ceiling.ts";
import { ceilingConfigs } from "../../bench/gpu_int8_mma_ceiling.ts";
import { kernelTarget, runPlan } from "../kernels/webgpu/templates/_run_plan.ts";
import { int8NativeTarget, withNullBackend } from "../kernels/webgpu/_null_backend.ts";

const gpu = await sharedGpu();
if (gpu === null) console.warn("SKIP int8 MMA ceiling kernel runs: no WebGPU adapter");

const caseArb = fc.record({
  pattern: fc.constantFrom("registers", "workgroup", "storage", "scores") as fc.Arbitrary<
    CeilingCase["pattern"]
  >,
  subgroups: fc.constantFrom(1, 2),
  rowTiles: fc.integer({ min: 1, max: 2 }),
  steps: fc.integer({ min: 1, max: 2 }),
  workgroups: fc.integer({ min: 1, max: 2 }),
  barriers: fc.boolean(),
  keyStride: fc.constantFrom(64 as const, 80 as const),
  rightLayout: fc.constantFrom("col_major" as const, "row_major" as const),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
}).map(({ steps, seed, ...c }): [CeilingCase, number] => [{
  ...c,
  // Whole passes over the pattern's tiles, kept short: the mimicked products are slow.
  iterations: steps * ceilingIterationStep[c.pattern],
}, seed]);

Deno.test({
  name: "int8 MMA ceiling kernels (mimicked products) compute the CPU product exactly",
  ignore: gpu === null,
  async fn() {
    await fc.assert(
      fc.asyncProperty(caseArb, async ([c, seed]) => {
        const src = ceilingSource(seed);
        const plan = int8MmaCeilingPlan(c, kernelTarget(gpu!), "mimic");
        const words = ceilingWordsPerSubgroup(c);
        const subgroupsAll = c.subgroups * c.workgroups;
        const [out] = await runPlan(gpu!, plan, [src], [subgroupsAll * words * 4]);
        const got = new Int32Array(out!);
        const expected = ceilingExpected(c, src);
        assert(expected.some((x) => x !== 0), "a product of random tiles is not all zeros");
        for (let sg = 0; sg < subgroupsAll; sg++) {
          assertEquals(
            Array.from(got.subarray(sg * words, (sg + 1) * words)),
            Array.from(expected),
            `${plan.kernels[0]!.name}, subgroup ${sg}`,
          );
        }
      }),
      {
        numRuns: 14,
        // Every pattern with each right-tile layout at least once, whatever the draws.
        examples: (["registers", "workgroup", "storage", "scores"] as const).flatMap((
          pattern,
          k,
        ): [[CeilingCase, number]][] =>
          (["col_major", "row_major"] as const).map((rightLayout, m) => [[{
            pattern,
            subgroups: 2,
            rowTiles: 2,
            iterations: { registers: 2, workgroup: 8, storage: 8, scores: 4 }[pattern],
            workgroups: 2,
            barriers: true,
            keyStride: (k + m) % 2 === 0 ? 80 : 64,
            rightLayout,
          }, 2 * k + m + 1]])
        ),
      },
    );
  },
});

Deno.test("ceilingExpected: register products scale with iterations, scores do not", () => {
  const src = ceilingSource(3);
  const base = { subgroups: 1, rowTiles: 1, workgroups: 1 } as const;
  const once = ceilingExpected({ ...base, pattern: "registers", iterations: 1 }, src);
  const thrice = ceilingExpected({ ...base, pattern: "registers", iterations: 3 }, src);
  assertEquals(Array.from(thrice), Array.from(once, (x) => 3 * x));
  const scores4 = ceilingExpected({ ...base, pattern: "scores", iterations: 4 }, src);
  const scores8 = ceilingExpected({ ...base, pattern: "scores", iterations: 8 }, src);
  assertEquals(Array.from(scores8), Array.from(scores4));
  assertEquals(ceilingOps({ ...base, pattern: "scores", iterations: 4 }), 4 * 2 * 16384);
});

Deno.test("int8MmaCeilingPlan refuses bad cases, naming the values", () => {
  const target = {
    shaderF16: false,
    subgroups: true,
    maxWorkgroupsPerDimension: 65535,
    maxWorkgroupStorageBytes: 49152,
    maxInvocationsPerWorkgroup: 1024,
    maxStorageBuffersPerStage: 10,
  };
  const ok: CeilingCase = {
    pattern: "workgroup",
    subgroups: 4,
    rowTiles: 1,
    iterations: 8,
    workgroups: 1,
  };
  assertThrows(
    () => int8MmaCeilingPlan({ ...ok, iterations: 12 }, target, "mimic"),
    Error,
    "iterations 12",
  );
  assertThrows(
    () => int8MmaCeilingPlan({ ...ok, subgroups: 3 }, target, "mimic"),
    Error,
    "subgroups 3",
  );
  assertThrows(
    () => int8MmaCeilingPlan({ ...ok, pattern: "scores", rowTiles: 3 }, target, "mimic"),
    Error,
    "rowTiles 3",
  );
  assertThrows(() => int8MmaCeilingPlan(ok, target, "native"), Error, "int8MatrixUnits");
  assertThrows(() => ceilingExpected(ok, new Int8Array(5)), Error, "has 5 int8 elements");
  assertThrows(
    // @ts-expect-error: a stride the bench does not lay out
    () => int8MmaCeilingPlan({ ...ok, keyStride: 72 }, target, "mimic"),
    Error,
    "keyStride 72",
  );
  assertThrows(
    // @ts-expect-error: a layout WGSL does not have
    () => int8MmaCeilingPlan({ ...ok, rightLayout: "diagonal" }, target, "mimic"),
    Error,
    "rightLayout diagonal",
  );
});

Deno.test({
  name: "the int8 MMA ceiling bench's native kernels pass Dawn's WGSL validation (null backend)",
  ignore: "Bun" in globalThis,
  async fn() {
    await withNullBackend(async (errorsOf) => {
      for (const units of int8MatrixConventions) {
        for (const config of ceilingConfigs) {
          const kernel = int8MmaCeilingPlan(
            { ...config, workgroups: 1056 },
            int8NativeTarget(units),
            "native",
          ).kernels[0]!;
          const errors = await errorsOf(kernel.code);
          assert(errors.length === 0, `${kernel.name} (${JSON.stringify(units)}): ${errors}`);
        }
      }
    });
  },
});
