/**
 * The check shared by the attention backward kernel tests: run a backward plan on float32
 * operands and compare dq, dk and dv with the reference interpreter's `attention_bwd`, fed the
 * reference forward's output and log-sum-exp (as the backward pass expects).
 *
 * @module
 */

import type { GpuContext } from "../../../../kernels/webgpu/device.ts";
import type { KernelPlan } from "../../../../kernels/webgpu/kernel.ts";
import type { AttentionSpec } from "../../../../kernels/webgpu/templates/attention.ts";
import { attentionShapes, expectClose, fromStorage, reference } from "./_data.ts";
import { runPlan } from "./_run_plan.ts";

/** Float32 operands of a backward check (row-major, shapes from the spec). */
export interface BackwardOperands {
  /** `[B, H, Sq, D]`. */
  readonly q: Float64Array;
  /** `[B, H, Sk, D]`. */
  readonly k: Float64Array;
  /** `[B, H, Sk, Dv]`. */
  readonly v: Float64Array;
  /** `[B, H, Sq, Dv]`. */
  readonly dOut: Float64Array;
}

/**
 * Runs `plan` (inputs q, k, v, out, lse, dOut; outputs dq, dk, dv) and asserts each gradient
 * within 1e-4 relative, 2e-5 absolute of the reference, naming `label` on failure.
 *
 * @example
 * ```ts ignore
 * await checkAttentionBackward(gpu, spec, attentionBackwardPlan(spec, target), ops, "case 1");
 * ```
 */
export async function checkAttentionBackward(
  gpu: GpuContext,
  spec: AttentionSpec,
  plan: KernelPlan,
  { q, k, v, dOut }: BackwardOperands,
  label: string,
): Promise<void> {
  const shapes = attentionShapes(spec);
  const n = (s: number[]) => s.reduce((x, y) => x * y, 1);
  const f32 = "float32" as const;
  const params = { scale: spec.scale, causal: spec.causal };
  const ins = [
    { shape: shapes.q, data: q, dtype: f32 },
    { shape: shapes.k, data: k, dtype: f32 },
    { shape: shapes.v, data: v, dtype: f32 },
  ];
  const [out, lse] = reference("attention", params, ins, [
    { shape: shapes.out, dtype: f32 },
    { shape: shapes.lse, dtype: f32 },
  ]);
  const [dq, dk, dvRef] = reference("attention_bwd", params, [
    ...ins,
    { shape: shapes.out, data: out!, dtype: f32 },
    { shape: shapes.lse, data: lse!, dtype: f32 },
    { shape: shapes.out, data: dOut, dtype: f32 },
  ], [shapes.q, shapes.k, shapes.v].map((shape) => ({ shape, dtype: f32 })));
  const got = await runPlan(
    gpu,
    plan,
    [q, k, v, out!, lse!, dOut].map((x) => Float32Array.from(x)),
    [n(shapes.q) * 4, n(shapes.k) * 4, n(shapes.v) * 4],
  );
  expectClose(`dq of ${label}`, fromStorage(got[0]!, "f32"), dq!, 1e-4, 2e-5);
  expectClose(`dk of ${label}`, fromStorage(got[1]!, "f32"), dk!, 1e-4, 2e-5);
  expectClose(`dv of ${label}`, fromStorage(got[2]!, "f32"), dvRef!, 1e-4, 2e-5);
}
