/**
 * Runs matmul plans directly on the Dawn device for the matmul kernel tests. Matmul kernels
 * declare a scalar and a `vec4` view of the same input buffer, so bind group layouts are
 * written out here: an automatic layout would drop the view a kernel does not use.
 *
 * @module
 */
import type { RuntimePlan } from "../../../kernels/webgpu/schedule.ts";

/**
 * Runs a plan's kernels on raw buffers (input `i` is binding name `in{i}`); returns buffer
 * `out0` as float32 bits (an integer output reads through `new Int32Array(out.buffer)`).
 *
 * @example
 * ```ts ignore
 * const out = await runMatmulPlan(gpu.device, plan, [A, B], m * n);
 * ```
 */
export async function runMatmulPlan(
  device: GPUDevice,
  plan: RuntimePlan,
  inputs: readonly (Float32Array | Int32Array)[],
  outCount: number,
): Promise<Float32Array> {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const buffers = new Map<string, GPUBuffer>();
  inputs.forEach((data, i) => {
    const buf = device.createBuffer({ size: Math.max(16, data.byteLength), usage });
    device.queue.writeBuffer(buf, 0, data);
    buffers.set(`in${i}`, buf);
  });
  for (const s of plan.scratch) buffers.set(s.name, device.createBuffer({ size: s.bytes, usage }));
  buffers.set("out0", device.createBuffer({ size: outCount * 4, usage }));
  const encoder = device.createCommandEncoder();
  for (const kernel of plan.kernels) {
    const module = device.createShaderModule({ code: kernel.code });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === "error");
    if (errors.length > 0) {
      throw new Error(
        `${kernel.name}: ${errors.map((e) => `${e.lineNum}: ${e.message}`).join("; ")}`,
      );
    }
    const layout = device.createBindGroupLayout({
      entries: kernel.bindings.map((b, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: b.access === "read" ? "read-only-storage" as const : "storage" as const },
      })),
    });
    const pipeline = device.createComputePipeline({
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: "main" },
    });
    const group = device.createBindGroup({
      layout,
      entries: kernel.bindings.map((b, binding) => ({
        binding,
        resource: { buffer: buffers.get(b.buffer)! },
      })),
    });
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(...kernel.workgroups);
    pass.end();
  }
  const staging = device.createBuffer({
    size: outCount * 4,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  encoder.copyBufferToBuffer(buffers.get("out0")!, 0, staging, 0, outCount * 4);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  for (const b of buffers.values()) b.destroy();
  return out;
}
