/**
 * Droplet: a JAX-like array, autodiff and WGSL compiler core in TypeScript, with DropletVideo
 * models and data tools built on it.
 *
 * @module
 */
export { acquireGpu, sharedGpu } from "./kernels/webgpu/device.ts";
export type { AdapterReport } from "./kernels/webgpu/device.ts";
