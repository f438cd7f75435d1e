/**
 * Dawn's null backend, for validating native int8 subgroup-matrix WGSL where no adapter has the
 * feature (lavapipe): it accepts `chromium-experimental-subgroup-matrix` and runs Dawn's full
 * WGSL validator (types, uniformity, the sizes of matrix accesses), but executes nothing.
 *
 * @module
 */

import { loadGpu } from "../../../kernels/webgpu/binding.ts";
import type { Int8MatrixUnits, KernelTarget } from "../../../kernels/webgpu/kernel.ts";

/**
 * Runs `check` with a validator on a null-backend device with subgroups and int8 subgroup
 * matrices, then destroys the device. Where this Dawn build has no such backend, warns and skips
 * `check` (returns false).
 *
 * @example
 * ```ts ignore
 * await withNullBackend(async (errorsOf) => {
 *   assertEquals(await errorsOf(kernel.code), []);
 * });
 * ```
 */
export async function withNullBackend(
  check: (errorsOf: (code: string) => Promise<string[]>) => Promise<void>,
): Promise<boolean> {
  const nullGpu = await loadGpu(["backend=null", "enable-dawn-features=allow_unsafe_apis"]);
  const adapter = await nullGpu.requestAdapter();
  const feature = "chromium-experimental-subgroup-matrix" as GPUFeatureName;
  if (!adapter || !adapter.features.has(feature)) {
    console.warn("SKIP native WGSL validation: this Dawn build has no null backend");
    return false;
  }
  const device = await adapter.requestDevice({ requiredFeatures: [feature, "subgroups"] });
  try {
    await check(async (code) =>
      (await device.createShaderModule({ code }).getCompilationInfo()).messages
        .filter((m) => m.type === "error")
        .map((m) => `line ${m.lineNum}: ${m.message}`)
    );
    return true;
  } finally {
    device.destroy();
  }
}

/**
 * A kernel target with native int8 subgroup matrices counting `units` (the H100's, i32 words,
 * by default) and 48 KB of workgroup memory, as generators see an NVIDIA GPU through Dawn.
 *
 * @example
 * ```ts ignore
 * const plan = int8AttentionPlan(spec, int8NativeTarget({ offset: 1, stride: 1 }));
 * ```
 */
export function int8NativeTarget(units: Int8MatrixUnits = { offset: 4, stride: 4 }): KernelTarget {
  return {
    shaderF16: false,
    subgroups: true,
    subgroupSize: 32,
    subgroupMatrixInt8: true,
    int8MatrixUnits: units,
    maxWorkgroupsPerDimension: 65535,
    maxWorkgroupStorageBytes: 49152,
    maxInvocationsPerWorkgroup: 1024,
    maxStorageBuffersPerStage: 10,
  };
}
