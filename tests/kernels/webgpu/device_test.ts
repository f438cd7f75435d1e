import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { sharedGpu, WgslCompileError } from "../../../kernels/webgpu/device.ts";

const gpu = await sharedGpu();
const ignore = gpu === null;
if (ignore) console.warn("SKIP webgpu device tests: no WebGPU adapter (run `deno task setup`)");

Deno.test({
  name: "acquireGpu reports adapter name, features and limits",
  ignore,
  fn() {
    const info = gpu!.info;
    assert(info.name.length > 0, "adapter name is empty");
    assert(info.limits["maxStorageBufferBindingSize"]! >= 128 << 20, "binding limit below 128 MiB");
    assert(Array.isArray(info.features));
  },
});

Deno.test({
  name: "a WGSL kernel dispatched through Dawn computes on the GPU",
  ignore,
  async fn() {
    const device = gpu!.device;
    const n = 1000;
    const pipeline = await gpu!.compile(
      "axpy_test",
      `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i < arrayLength(&y)) { y[i] = 3.0 * x[i] + y[i]; }
}`,
    );
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const y = Float32Array.from({ length: n }, (_, i) => i * 0.25);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const xb = device.createBuffer({ size: n * 4, usage });
    const yb = device.createBuffer({ size: n * 4, usage });
    device.queue.writeBuffer(xb, 0, x);
    device.queue.writeBuffer(yb, 0, y);
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: xb } }, { binding: 1, resource: { buffer: yb } }],
    });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.ceil(n / 64));
    pass.end();
    device.queue.submit([encoder.finish()]);
    const out = new Float32Array(await gpu!.read(yb, n * 4));
    for (let i = 0; i < n; i++) {
      // Drivers may contract `3.0 * x + y` into one fused multiply-add (NVIDIA does): accept
      // the separately rounded result or the fused one.
      const separate = Math.fround(Math.fround(3 * x[i]!) + y[i]!);
      const fused = Math.fround(3 * x[i]! + y[i]!);
      assert(
        out[i] === separate || out[i] === fused,
        `element ${i}: ${out[i]} is neither ${separate} nor ${fused}`,
      );
    }
    xb.destroy();
    yb.destroy();
  },
});

Deno.test({
  name: "a WGSL syntax error names the kernel and the line, and does not hang",
  ignore,
  async fn() {
    const source = `@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  y[id.x] = 1.0 +* 2.0;
}`;
    const error = await assertRejects(
      () => gpu!.compile("broken_kernel", source),
      WgslCompileError,
    );
    assert(error.message.includes('"broken_kernel"'), error.message);
    assertEquals(error.messages[0]?.line, 3);
    assert(error.message.includes("y[id.x] = 1.0 +* 2.0;"), error.message);
    // The device is still usable afterwards.
    await gpu!.compile("fine_after_error", `@compute @workgroup_size(1) fn main() {}`);
  },
});
