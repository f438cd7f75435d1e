/**
 * Finds how the present Dawn reads int8 subgroup-matrix loads, before any kernel relies on it.
 *
 * The int8 attention (`templates/attention_int8.ts`) loads int8 tiles from packed `array<i32>`
 * memory with `subgroupMatrixLoad(&array, offset, stride)`. What one unit of `offset` and of
 * `stride` spans there has changed between Dawn versions: Dawn's SPIR-V writer used to count
 * both in int8 elements (dividing them by 4 for the `i32` pointer, except the stride on drivers
 * that read it in matrix elements), and newer versions index the array itself, counting i32
 * words; the WGSL validator of the Dawn we ship already sizes accesses in words. Rather than
 * trust either reading, the device runs one 16x16x32 product on known data at start-up (both
 * layouts of the right matrix, as the attention uses them), compares it with the product each
 * convention implies, and records the one that matches. None matching disables the native int8
 * products (the int8 attention then emulates them with `dot4I8Packed`).
 *
 * @module
 */

import type { Int8MatrixUnits } from "./kernel.ts";

/**
 * The probe's tile placement, in the units under test (all multiples of 4).
 *
 * @example
 * ```ts
 * import { int8ProbePlacement } from "./int8_matrix_probe.ts";
 * int8ProbePlacement.strideA; // 96: 96 int8 elements or 96 i32 words between rows of A
 * ```
 */
export const int8ProbePlacement = {
  /** Left 16 x 32 tile, row-major: row `i` starts at `offsetA + i * strideA`. */
  offsetA: 64,
  strideA: 96,
  /** Right 32 x 16 tile: column (col-major) or row (row-major) `j` at `offsetB + j * strideB`. */
  offsetB: 32,
  strideB: 80,
} as const;

/**
 * Bytes of each probe operand: room for the farthest element under any convention.
 *
 * @example
 * ```ts
 * import { int8ProbeBytes } from "./int8_matrix_probe.ts";
 * int8ProbeBytes / 4; // 4096 i32 words per operand
 * ```
 */
export const int8ProbeBytes = 16384;

/**
 * The conventions tried, the most likely first (the Dawn we ship indexes i32 words).
 *
 * @example
 * ```ts
 * import { int8MatrixConventions } from "./int8_matrix_probe.ts";
 * int8MatrixConventions[0]; // { offset: 4, stride: 4 }
 * ```
 */
export const int8MatrixConventions: readonly Int8MatrixUnits[] = [
  { offset: 4, stride: 4 },
  { offset: 1, stride: 1 },
  { offset: 4, stride: 1 },
  { offset: 1, stride: 4 },
];

/**
 * The right-matrix layouts the int8 attention loads (`K^T` col-major, `V` row-major).
 *
 * @example
 * ```ts
 * import type { RightLayout } from "./int8_matrix_probe.ts";
 * const keys: RightLayout = "col_major";
 * ```
 */
export type RightLayout = "col_major" | "row_major";

/**
 * The probe's operands: fixed pseudo-random int8 values over the whole range, so that
 * products read from different places differ.
 *
 * @example
 * ```ts
 * import { int8ProbeOperands } from "./int8_matrix_probe.ts";
 * int8ProbeOperands().a.length; // 16384
 * ```
 */
export function int8ProbeOperands(): { a: Int8Array; b: Int8Array } {
  return {
    a: Int8Array.from({ length: int8ProbeBytes }, (_, i) => ((i * 37 + 11) % 255) - 127),
    b: Int8Array.from({ length: int8ProbeBytes }, (_, i) => ((i * 53 + 5) % 251) - 125),
  };
}

/**
 * The probe kernel: one subgroup computes `A B` (16 x 32 by 32 x 16, int8 -> int32) with the
 * placement constants written as they are, and stores it row-major (i32 stores are unambiguous).
 *
 * @example
 * ```ts
 * import { int8ProbeCode } from "./int8_matrix_probe.ts";
 * int8ProbeCode("col_major").includes("subgroupMatrixMultiplyAccumulate"); // true
 * ```
 */
export function int8ProbeCode(rightLayout: RightLayout): string {
  const { offsetA, strideA, offsetB, strideB } = int8ProbePlacement;
  return `enable chromium_experimental_subgroup_matrix;
enable subgroups;
@group(0) @binding(0) var<storage, read> a: array<i32>;
@group(0) @binding(1) var<storage, read> b: array<i32>;
@group(0) @binding(2) var<storage, read_write> c: array<i32>;
@compute @workgroup_size(32)
fn main() {
  let l = subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>, row_major>(&a, ${offsetA}u, ${strideA}u);
  let r = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, ${rightLayout}>(&b, ${offsetB}u, ${strideB}u);
  var acc = subgroup_matrix_result<i32, 16, 16>();
  acc = subgroupMatrixMultiplyAccumulate(l, r, acc);
  subgroupMatrixStore<row_major>(&c, 0u, acc, 16u);
}
`;
}

/**
 * The 16 x 16 product (row-major) the probe kernel computes when the adapter reads its offsets
 * and strides in `units`.
 *
 * @example
 * ```ts
 * import { expectedInt8Product, int8ProbeOperands } from "./int8_matrix_probe.ts";
 * const { a, b } = int8ProbeOperands();
 * expectedInt8Product({ offset: 4, stride: 4 }, "col_major", a, b).length; // 256
 * ```
 */
export function expectedInt8Product(
  units: Int8MatrixUnits,
  rightLayout: RightLayout,
  a: Int8Array,
  b: Int8Array,
): Int32Array {
  const { offsetA, strideA, offsetB, strideB } = int8ProbePlacement;
  const out = new Int32Array(256);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let acc = 0;
      for (let t = 0; t < 32; t++) {
        const left = a[units.offset * offsetA + units.stride * strideA * i + t]!;
        const at = rightLayout === "col_major"
          ? units.offset * offsetB + units.stride * strideB * j + t
          : units.offset * offsetB + units.stride * strideB * t + j;
        acc += left * b[at]!;
      }
      out[i * 16 + j] = acc;
    }
  }
  return out;
}

/**
 * The convention under which both probe products come out as computed, or null (with what was
 * seen) when none does.
 *
 * @example
 * ```ts
 * import { expectedInt8Product, identifyInt8Units, int8ProbeOperands } from "./int8_matrix_probe.ts";
 * const { a, b } = int8ProbeOperands();
 * const words = { offset: 4, stride: 4 } as const;
 * identifyInt8Units({
 *   col_major: expectedInt8Product(words, "col_major", a, b),
 *   row_major: expectedInt8Product(words, "row_major", a, b),
 * }, a, b).units; // { offset: 4, stride: 4 }
 * ```
 */
export function identifyInt8Units(
  products: Readonly<Record<RightLayout, Int32Array>>,
  a: Int8Array,
  b: Int8Array,
): { units: Int8MatrixUnits | null; detail: string } {
  const same = (x: Int32Array, y: Int32Array) => x.every((v, e) => v === y[e]);
  for (const units of int8MatrixConventions) {
    const fits = (layout: RightLayout) =>
      same(products[layout], expectedInt8Product(units, layout, a, b));
    if (fits("col_major") && fits("row_major")) {
      return {
        units,
        detail: `offsets in ${unitName(units.offset)}, strides in ${unitName(units.stride)}`,
      };
    }
  }
  const first = products.col_major.slice(0, 4).join(", ");
  return {
    units: null,
    detail: `no known convention reproduces the probe product (col-major c[0][0..3] = ${first})`,
  };
}

function unitName(unit: 1 | 4): string {
  return unit === 1 ? "int8 elements" : "i32 words";
}

/**
 * What the device needs to run the probe (a subset of `GpuContext`).
 *
 * @example
 * ```ts ignore
 * const probe: ProbeDevice = await sharedGpu(); // a GpuContext is one
 * ```
 */
export interface ProbeDevice {
  readonly device: GPUDevice;
  compile(kernelName: string, code: string): Promise<GPUComputePipeline>;
  read(buffer: GPUBuffer, size: number): Promise<ArrayBuffer>;
}

/**
 * Runs the probe on a device with `chromium-experimental-subgroup-matrix` enabled and returns
 * the convention it follows; any failure (compilation, validation, a mismatch) gives null and
 * says why in `detail`.
 *
 * @example
 * ```ts ignore
 * const { units, detail } = await probeInt8MatrixUnits(gpu);
 * console.log(units ?? "native int8 products disabled", detail);
 * ```
 */
export async function probeInt8MatrixUnits(
  gpu: ProbeDevice,
): Promise<{ units: Int8MatrixUnits | null; detail: string }> {
  const device = gpu.device;
  const { a, b } = int8ProbeOperands();
  const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const buffers: GPUBuffer[] = [];
  const upload = (data: Int8Array) => {
    const buffer = device.createBuffer({ size: data.byteLength, usage: storage });
    buffers.push(buffer);
    device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  };
  try {
    const [bufA, bufB] = [upload(a), upload(b)];
    const products = {} as Record<RightLayout, Int32Array>;
    for (const layout of ["col_major", "row_major"] as const) {
      const pipeline = await gpu.compile(`int8_matrix_probe_${layout}`, int8ProbeCode(layout));
      const out = device.createBuffer({ size: 1024, usage: storage });
      buffers.push(out);
      const group = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [bufA, bufB, out].map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(1);
      pass.end();
      device.queue.submit([encoder.finish()]);
      products[layout] = new Int32Array(await gpu.read(out, 1024));
    }
    return identifyInt8Units(products, a, b);
  } catch (error) {
    return {
      units: null,
      detail: `the probe failed: ${error instanceof Error ? error.message : error}`,
    };
  } finally {
    for (const buffer of buffers) buffer.destroy();
  }
}
