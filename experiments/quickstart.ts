/**
 * The main job's entry point (`deno task quickstart`): reports the WebGPU adapter and runs a real
 * computation on it, checked against the host.
 *
 * @module
 */
import { acquireGpu } from "../kernels/webgpu/device.ts";

const gpu = await acquireGpu();
if (!gpu) {
  console.error(
    "No WebGPU adapter: run `deno task setup` (installs Mesa's lavapipe on Debian 12).",
  );
  Deno.exit(1);
}
console.log(`adapter:  ${gpu.info.name} (${gpu.info.isSoftware ? "software" : "hardware"})`);
console.log(`runtime:  ${gpu.info.runtime}`);
console.log(`features: ${gpu.info.features.join(", ")}`);
console.log(
  `limits:   maxBufferSize ${gpu.info.limits["maxBufferSize"]}, ` +
    `maxStorageBufferBindingSize ${gpu.info.limits["maxStorageBufferBindingSize"]}`,
);
gpu.destroy();
await import("../scripts/gpu_smoke.ts");
