/**
 * A small GPU computation that runs unchanged under Deno, Bun and Node: a softplus-of-sum kernel
 * over 4096 floats, dispatched through Dawn and checked against the same math on the host.
 * Prints `smoke ok <runtime> <adapter>`; exits 1 on a wrong result or a missing adapter.
 *
 * Uses no runtime-specific API, so Node runs it bundled (`deno bundle`), Bun and Deno directly.
 *
 * @module
 */
import { acquireGpu } from "../kernels/webgpu/device.ts";

const n = 4096;
const gpu = await acquireGpu();
if (!gpu) {
  console.error("smoke failed: no WebGPU adapter");
  (globalThis as { process?: { exit(code: number): never } }).process?.exit(1);
  throw new Error("no WebGPU adapter");
}
const pipeline = await gpu.compile(
  "smoke_softplus_sum",
  `@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i < arrayLength(&out)) { out[i] = log(1.0 + exp(a[i] + b[i])); }
}`,
);
const a = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 3);
const b = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.11));
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const buffers = [a, b, new Float32Array(n)].map((data) => {
  const buffer = gpu.device.createBuffer({ size: data.byteLength, usage });
  gpu.device.queue.writeBuffer(buffer, 0, data);
  return buffer;
});
const encoder = gpu.device.createCommandEncoder();
const pass = encoder.beginComputePass();
pass.setPipeline(pipeline);
pass.setBindGroup(
  0,
  gpu.device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  }),
);
pass.dispatchWorkgroups(n / 64);
pass.end();
gpu.device.queue.submit([encoder.finish()]);
const out = new Float32Array(await gpu.read(buffers[2]!, n * 4));
let worst = 0;
for (let i = 0; i < n; i++) {
  const expected = Math.log1p(Math.exp(a[i]! + b[i]!));
  worst = Math.max(worst, Math.abs(out[i]! - expected) / (1e-6 + Math.abs(expected)));
}
gpu.destroy();
if (!(worst < 1e-4)) {
  console.error(`smoke failed on ${gpu.info.runtime}: worst relative error ${worst}`);
  (globalThis as { process?: { exit(code: number): never } }).process?.exit(1);
}
console.log(
  `smoke ok ${gpu.info.runtime} ${gpu.info.name} (worst relative error ${worst.toExponential(2)})`,
);
