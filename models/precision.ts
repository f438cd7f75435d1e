/**
 * Mixed precision (Micikevicius et al. 2018): float32 master params, float16 compute where the
 * device has float16 arithmetic (WebGPU's `shader-f16` feature; the CPU reference device
 * emulates it), float32 losses and optimizer state. A policy casts trees between the three;
 * loss scaling lives in `optim` (`optim.withLossScale`).
 *
 * @module
 */

import { device, lax, NDArray, tree } from "../autograd/mod.ts";
import { type DType, isFloat } from "../kernels/dtype.ts";

/**
 * True when the current device computes in float16: always on the reference device, on WebGPU
 * when the adapter has `shader-f16`.
 *
 * @example
 * ```ts ignore
 * precision.supportsFloat16(); // true on lavapipe (shader-f16)
 * ```
 */
export function supportsFloat16(): boolean {
  const info = device.info();
  return info.backend === "reference" || info.features.includes("shader-f16");
}

/**
 * The compute dtype for a preference: `"auto"` gives float16 where supported, else float32;
 * `"float16"` throws where the device lacks it.
 *
 * @example
 * ```ts ignore
 * precision.computeDtype("auto"); // "float16" or "float32"
 * ```
 */
export function computeDtype(preference: "auto" | "float16" | "float32" = "auto"): DType {
  if (preference === "float32") return "float32";
  if (supportsFloat16()) return "float16";
  if (preference === "float16") {
    throw new Error(
      `precision: the ${device.info().backend} device (${device.info().adapter}) has no float16 arithmetic (shader-f16)`,
    );
  }
  return "float32";
}

/** Casts every float array leaf of a tree to `dtype` (other leaves unchanged). */
function castFloats<T>(value: T, dtype: DType): T {
  return tree.map<T>(
    (x: unknown) => (x instanceof NDArray && isFloat(x.dtype) ? lax.cast(x, dtype) : x),
    value,
  );
}

/** A mixed-precision policy: where params live, what compute runs in, what outputs return as. */
export interface Policy {
  readonly paramDtype: DType;
  readonly computeDtype: DType;
  readonly outputDtype: DType;
  /** Casts float leaves (params, inputs) to the compute dtype. */
  castToCompute<T>(value: T): T;
  /** Casts float leaves (e.g. gradients) to the param dtype. */
  castToParam<T>(value: T): T;
  /** Casts float leaves (e.g. the loss) to the output dtype. */
  castToOutput<T>(value: T): T;
}

/**
 * A mixed-precision policy (float32 params and outputs, `"auto"` compute by default).
 *
 * @example
 * ```ts ignore
 * const mp = precision.policy({ compute: "auto" });
 * const loss = (p, x) => mp.castToOutput(model(mp.castToCompute(p), mp.castToCompute(x)));
 * ```
 */
export function policy(
  options: { param?: DType; compute?: "auto" | "float16" | "float32"; output?: DType } = {},
): Policy {
  const paramDtype = options.param ?? "float32";
  const outputDtype = options.output ?? "float32";
  for (const [name, d] of [["param", paramDtype], ["output", outputDtype]] as const) {
    if (!isFloat(d)) {
      throw new Error(`precision.policy: ${name} dtype must be a float type, got ${d}`);
    }
  }
  const compute = computeDtype(options.compute ?? "auto");
  return {
    paramDtype,
    computeDtype: compute,
    outputDtype,
    castToCompute: (value) => castFloats(value, compute),
    castToParam: (value) => castFloats(value, paramDtype),
    castToOutput: (value) => castFloats(value, outputDtype),
  };
}
