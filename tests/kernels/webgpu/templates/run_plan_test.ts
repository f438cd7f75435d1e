/**
 * The plan executor's shared-input mode (`_run_plan.ts`), which the int8 sweep times with: plans
 * bound to inputs uploaded once compute what plans with their own inputs compute, unfilled
 * outputs are cleared to zeros, and destroying a bound plan leaves the shared inputs usable.
 */

import { assertEquals, assertRejects } from "../../../_assert.ts";
import { sharedGpu } from "../../../../kernels/webgpu/device.ts";
import type { KernelPlan } from "../../../../kernels/webgpu/kernel.ts";
import { bindPlan, runPlan, uploadInputs, withTimerPolling } from "./_run_plan.ts";

const gpu = await sharedGpu();

/** out0[i] = in0[i] * factor + in1[i] for the first `written` of `n` elements. */
function axpyPlan(factor: number, written: number): KernelPlan {
  return {
    scratch: [],
    kernels: [{
      name: `axpy_${factor}`,
      code: `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < ${written}u) { out[id.x] = x[id.x] * ${factor.toFixed(1)} + y[id.x]; }
}`,
      bindings: [
        { buffer: "in0", access: "read" },
        { buffer: "in1", access: "read" },
        { buffer: "out0", access: "read_write" },
      ],
      workgroups: [Math.ceil(written / 64), 1, 1],
    }],
  };
}

Deno.test({
  name: "bindPlan with shared inputs matches runPlan, and leaves the inputs to their owner",
  ignore: gpu === null,
  async fn() {
    const n = 300;
    const x = Float32Array.from({ length: n }, (_, i) => i * 0.5);
    const y = Float32Array.from({ length: n }, (_, i) => 100 - i);
    const inputs = uploadInputs(gpu!, [x, y]);
    try {
      for (const factor of [2, 3]) {
        const [expected] = await runPlan(gpu!, axpyPlan(factor, n), [x, y], [n * 4]);
        const bound = await bindPlan(gpu!, axpyPlan(factor, n), [], [n * 4], {
          shared: inputs,
          fill: false,
        });
        bound.submit();
        const got = await bound.readOutput(0);
        // Destroying the bound plan must not destroy the shared inputs: the next factor reuses them.
        bound.destroy();
        assertEquals(Array.from(new Float32Array(got)), Array.from(new Float32Array(expected!)));
      }
      // Without the NaN fill, elements a kernel leaves unwritten read as zeros: cleared on the
      // GPU, not whatever the last freed buffer held (the device turns lazy clearing off, and the
      // buffers freed above held this size's outputs).
      const partial = await bindPlan(gpu!, axpyPlan(2, 64), [], [n * 4], {
        shared: inputs,
        fill: false,
      });
      partial.submit();
      const out = new Float32Array(await partial.readOutput(0));
      partial.destroy();
      assertEquals(out[63], 63 * 0.5 * 2 + 100 - 63);
      assertEquals(Array.from(out.subarray(64)), new Array(n - 64).fill(0));
      await assertRejects(
        () => bindPlan(gpu!, axpyPlan(2, n), [x], [n * 4], { shared: inputs }),
        Error,
        'Buffer "in0" is both shared and created',
      );
    } finally {
      await withTimerPolling(() => gpu!.sync());
      for (const buffer of inputs.values()) buffer.destroy();
    }
  },
});
