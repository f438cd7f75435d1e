/**
 * The int8 sweep's configuration names (`bench/int8_sweep_configs.ts`): every default parses to
 * the options it names, unknown parts are refused by name, and every default's native kernel at
 * the sweep's size builds and passes Dawn's WGSL validation (null backend), so that a GPU run
 * does not spend its minutes on a configuration that cannot run.
 */

import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { int8NativeTarget, withNullBackend } from "../kernels/webgpu/_null_backend.ts";
import { int8AttentionPlan } from "../../kernels/webgpu/templates/attention_int8.ts";
import {
  int8SweepDefaults,
  int8SweepOptions,
  int8SweepSpec,
} from "../../bench/int8_sweep_configs.ts";

Deno.test("int8SweepOptions turns a configuration name into the options it names", () => {
  assertEquals(int8SweepOptions("2sg_w_pf_pkv_cf_al_rc_im_ls_fc_tv"), {
    subgroups: 2,
    separateProducts: false,
    stageKeys: false,
    prefetch: true,
    padKeyValueRows: true,
    recomputeScores: true,
    integerMax: true,
    fastConvert: true,
    conflictFree: true,
    alignedRows: true,
    transposedValues: true,
    leanSoftmax: true,
    wideRows: true,
    ablate: [],
  });
  assertEquals(int8SweepOptions("4sg_xsoftmax_xscores").ablate, ["scores", "softmax"]);
  assertThrows(() => int8SweepOptions("4sg_pf_zz"), Error, "unknown parts: zz");
  assertThrows(() => int8SweepOptions("sg4_pf"), Error, 'unknown configuration "sg4_pf"');
  assertThrows(() => int8SweepOptions("4sg_xeverything"), Error, "unknown parts: xeverything");
  assertEquals(new Set(int8SweepDefaults).size, int8SweepDefaults.length, "no repeats");
});

Deno.test({
  name: "every default sweep configuration builds a native kernel that Dawn validates",
  ignore: "Bun" in globalThis,
  async fn() {
    // The H100's convention (offsets and strides in i32 words) and the sweep's size.
    const spec = int8SweepSpec();
    await withNullBackend(async (errorsOf) => {
      const names = new Set<string>();
      // Quantization kernels are shared by most configurations: each validated once.
      const validated = new Set<string>();
      for (const config of int8SweepDefaults) {
        const plan = int8AttentionPlan(spec, int8NativeTarget(), int8SweepOptions(config));
        const kernel = plan.kernels.at(-1)!;
        names.add(kernel.name);
        assert(kernel.code.includes("subgroupMatrixMultiplyAccumulate"), `${config}: native`);
        for (const k of plan.kernels) {
          if (validated.has(k.code)) continue;
          validated.add(k.code);
          const errors = await errorsOf(k.code);
          assert(errors.length === 0, `${config} (${k.name}): ${errors.join("; ")}`);
        }
      }
      // Distinct names: each configuration is a distinct kernel (no option silently dropped).
      assertEquals(names.size, int8SweepDefaults.length);
    });
  },
});
