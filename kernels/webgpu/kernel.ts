/**
 * The contract between WGSL kernel generators (generated elementwise/reduction code and the
 * hand-written templates for matmul, convolution and attention) and the runtime that
 * dispatches them.
 *
 * A primitive (or a fused group of primitives) lowers to a {@link KernelPlan}: kernels in
 * dispatch order, whose bindings name the plan's inputs (`in0`, `in1`, ...), outputs (`out0`,
 * ...) or scratch buffers the plan declares. Sizes are baked into the WGSL as constants, so the
 * runtime caches one pipeline per distinct source text.
 *
 * @module
 */

/** Element type of a storage binding as WGSL sees it. */
export type StorageType = "f32" | "f16" | "i32" | "u32";

/** One storage buffer binding of `@group(0)`, at `@binding(i)` for the i-th entry. */
export interface KernelBinding {
  /** `in<k>` (plan input k), `out<k>` (plan output k), or the name of a declared scratch buffer. */
  readonly buffer: string;
  readonly access: "read" | "read_write";
}

/** A compute kernel ready to dispatch. */
export interface Kernel {
  /** Stable, descriptive name (`matmul_64x64_f32`), used for pipelines, debug output and timing. */
  readonly name: string;
  /** The WGSL source; its entry point is `main`. */
  readonly code: string;
  /** Bindings in `@binding` order. */
  readonly bindings: readonly KernelBinding[];
  /** Workgroup counts (each at most the adapter's `maxComputeWorkgroupsPerDimension`). */
  readonly workgroups: readonly [number, number, number];
}

/** Kernels that together compute one primitive (or fused group), with their scratch memory. */
export interface KernelPlan {
  /** Temporary buffers the kernels share, freed after the plan runs. */
  readonly scratch: readonly { readonly name: string; readonly bytes: number }[];
  /** Dispatched in order; later kernels see earlier kernels' writes. */
  readonly kernels: readonly Kernel[];
}

/**
 * The int8 elements one unit of an int8 subgroup-matrix load's `offset` and `stride` spans when
 * the matrix is read from packed `array<i32>` memory: 1 (int8 elements, as Dawn's SPIR-V writer
 * once defined them) or 4 (the array's i32 words, as newer Dawn versions index the array).
 *
 * @example
 * ```ts
 * import type { Int8MatrixUnits } from "./kernel.ts";
 * const words: Int8MatrixUnits = { offset: 4, stride: 4 };
 * ```
 */
export interface Int8MatrixUnits {
  readonly offset: 1 | 4;
  readonly stride: 1 | 4;
}

/** Device capabilities a generator may specialize on. */
export interface KernelTarget {
  /** `shader-f16` is enabled: f16 arithmetic and `array<f16>` storage are allowed. */
  readonly shaderF16: boolean;
  /** `subgroups` is enabled. */
  readonly subgroups: boolean;
  /** The smallest subgroup size the adapter may use (absent or 0 when unknown). */
  readonly subgroupMinSize?: number;
  /**
   * The subgroup size when the adapter reports a single one (its minimum equals its maximum,
   * e.g. 8 on lavapipe with 256-bit vectors); absent when it varies or is unknown.
   */
  readonly subgroupSize?: number;
  /**
   * `chromium-experimental-subgroup-matrix` is enabled with a 16x16x32 int8 x int8 -> int32
   * configuration (NVIDIA through Dawn's Vulkan path): the int8 attention uses it.
   */
  readonly subgroupMatrixInt8?: boolean;
  /**
   * How this adapter's Dawn reads the offsets and strides of int8 subgroup-matrix loads from
   * packed `array<i32>` memory, found by the device's probe (`int8_matrix_probe.ts`); absent
   * where there are no int8 subgroup matrices or the probe recognised no convention.
   */
  readonly int8MatrixUnits?: Int8MatrixUnits;
  /** `maxComputeWorkgroupsPerDimension` (dispatches beyond it must use 2-D/3-D grids). */
  readonly maxWorkgroupsPerDimension: number;
  /** `maxComputeWorkgroupStorageSize` in bytes. */
  readonly maxWorkgroupStorageBytes: number;
  /** `maxComputeInvocationsPerWorkgroup`. */
  readonly maxInvocationsPerWorkgroup: number;
  /** `maxStorageBuffersPerShaderStage`. */
  readonly maxStorageBuffersPerStage: number;
}

/**
 * Splits `count` workgroups into a grid that respects the per-dimension limit (x first, then y,
 * then z); kernels recover the linear index as `x + y * gridX + z * gridX * gridY` and must
 * ignore indices past `count`.
 *
 * @example
 * ```ts
 * import { workgroupGrid } from "./kernel.ts";
 * workgroupGrid(100_000, 65_535); // [50000, 2, 1]
 * ```
 */
export function workgroupGrid(count: number, maxPerDimension: number): [number, number, number] {
  if (count <= maxPerDimension) return [Math.max(1, count), 1, 1];
  const y = Math.ceil(count / maxPerDimension);
  if (y <= maxPerDimension) return [Math.ceil(count / y), y, 1];
  const z = Math.ceil(y / maxPerDimension);
  const yy = Math.ceil(y / z);
  return [Math.ceil(count / (yy * z)), yy, z];
}
