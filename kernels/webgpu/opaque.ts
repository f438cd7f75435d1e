/**
 * Plans for the primitives that get kernels of their own (conv, attention and its backward
 * pass, scatter_add).
 *
 * Where every operand is in a layout the template contract covers (all `f32`, or all native
 * `f16`), the contract's plan functions are used: `attentionForwardPlan`,
 * `attentionBackwardPlan` (FlashAttention-2 style, `templates/attention.ts`) and `convPlan`
 * (implicit GEMM, `templates/conv.ts`). Other layouts (bfloat16, float16 packed two per u32 on
 * adapters without `shader-f16`) use the layout-generic kernels of `lower_fallback.ts`.
 *
 * @module
 */

import type { PrimitiveCall } from "../primitives.ts";
import type { StorageFormat } from "./ir.ts";
import type { KernelTarget } from "./kernel.ts";
import type { RuntimePlan } from "./schedule.ts";
import {
  attentionBackwardKernels,
  attentionForwardKernels,
  type AttentionSpec,
  convKernel,
  type PlanOperand,
  scatterKernels,
} from "./lower_fallback.ts";
import { attentionBackwardPlan, attentionForwardPlan } from "./templates/attention.ts";
import { gpuAttentionForwardApplies, gpuAttentionForwardPlan } from "./templates/attention_gpu.ts";
import {
  gpuAttentionBackwardApplies,
  gpuAttentionBackwardPlan,
} from "./templates/attention_gpu_bwd.ts";
import { int8AttentionPlan } from "./templates/attention_int8.ts";
import { convPlan } from "./templates/conv.ts";

/** The contract dtype when every operand (float32 side outputs aside) is in layout f32 or f16. */
function contractDtype(formats: readonly StorageFormat[]): "f32" | "f16" | null {
  const first = formats[0];
  if ((first === "f32" || first === "f16") && formats.every((f) => f === first)) return first;
  return null;
}

/**
 * The plan of an opaque primitive on inputs and outputs in the given layouts.
 *
 * @example
 * ```ts ignore
 * opaquePlan({ prim: "conv", params }, [x, w], [out], target);
 * ```
 *
 * `software` (the adapter is a CPU implementation) lets the attention templates pick kernels
 * shaped for lavapipe.
 */
export function opaquePlan(
  call: PrimitiveCall,
  inputs: readonly PlanOperand[],
  outputs: readonly PlanOperand[],
  target: KernelTarget,
  software = false,
): RuntimePlan {
  switch (call.prim) {
    case "conv": {
      const [x, w] = inputs as [PlanOperand, PlanOperand];
      const out = outputs[0]!;
      const dtype = contractDtype([x.format, w.format, out.format]);
      if (dtype) {
        return convPlan({
          lhsShape: x.aval.shape,
          rhsShape: w.aval.shape,
          outShape: out.aval.shape,
          params: call.params,
          dtype,
        }, target);
      }
      return {
        scratch: [],
        kernels: [
          convKernel(x.aval.shape, w.aval.shape, out.aval.shape, call.params, {
            x: x.format,
            w: w.format,
            out: out.format,
          }, target),
        ],
      };
    }
    case "attention":
    case "attention_bwd": {
      const [q, k, v] = inputs as [PlanOperand, PlanOperand, PlanOperand];
      const [b, h, sq, d] = q.aval.shape as [number, number, number, number];
      // The log-sum-exp is float32 whatever the dtype; it is not part of the layout test.
      const lseIndex = call.prim === "attention" ? -1 : 4;
      const layouts = [
        ...inputs.filter((_, i) => i !== lseIndex).map((x) => x.format),
        ...(call.prim === "attention" ? [outputs[0]!.format] : outputs.map((x) => x.format)),
      ];
      const dtype = contractDtype(layouts);
      const spec: AttentionSpec = {
        batch: b,
        heads: h,
        seqQ: sq,
        seqK: k.aval.shape[2]!,
        headDim: d,
        headDimV: v.aval.shape[3]!,
        scale: call.params.scale,
        causal: call.params.causal,
        dtype: dtype ?? "f32",
      };
      if (call.prim === "attention") {
        if (call.params.quantization === "int8") {
          if (dtype !== "f32") {
            throw new Error(
              `attention: quantization "int8" takes float32 storage, got layouts ${
                layouts.join(", ")
              }`,
            );
          }
          return int8AttentionPlan(spec, target);
        }
        if (dtype) {
          // GPUs get the register-blocked kernel where it applies (float32, Dv 32 or 64).
          return !software && gpuAttentionForwardApplies(spec, target)
            ? gpuAttentionForwardPlan(spec, target)
            : attentionForwardPlan({ ...spec, software }, target);
        }
        return {
          scratch: [],
          kernels: [
            attentionForwardKernels(spec, {
              q: q.format,
              k: k.format,
              v: v.format,
              out: outputs[0]!.format,
            }, target),
          ],
        };
      }
      if (dtype) {
        // GPUs get the register-blocked kernels where they apply (float32, D and Dv 32 or 64).
        return !software && gpuAttentionBackwardApplies(spec, target)
          ? gpuAttentionBackwardPlan(spec, target)
          : attentionBackwardPlan({ ...spec, software }, target);
      }
      return {
        scratch: [{ name: "rowdot", bytes: b * h * sq * 4 }],
        kernels: attentionBackwardKernels(spec, {
          q: q.format,
          k: k.format,
          v: v.format,
          o: inputs[3]!.format,
          dOut: inputs[5]!.format,
          grad: outputs[0]!.format,
        }, target),
      };
    }
    case "scatter_add":
      return scatterKernels(inputs[0]!, inputs[1]!, outputs[0]!, call.params.axis, target);
    default:
      throw new Error(`Internal: ${call.prim} has no opaque plan`);
  }
}
