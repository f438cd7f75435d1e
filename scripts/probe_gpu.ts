/**
 * Prints the WebGPU adapter Dawn finds (name and features) and exits 0, or exits 1 when there is
 * none. `scripts/setup_gpu.ts` runs it in a child process.
 *
 * @module
 */
import { acquireGpu } from "../kernels/webgpu/device.ts";

const gpu = await acquireGpu();
if (!gpu) Deno.exit(1);
console.log(`${gpu.info.name} [${gpu.info.features.join(", ")}]`);
gpu.destroy();
Deno.exit(0);
