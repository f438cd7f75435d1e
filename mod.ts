/**
 * Droplet: a JAX-like array, autodiff and WGSL compiler core in TypeScript, with DropletVideo
 * models and data tools built on it.
 *
 * Importing this module selects the device: the GPU through Dawn when an adapter exists, the
 * CPU reference interpreter when `DROPLET_DEVICE=reference`; with neither, creating an array
 * throws and says how to get one.
 *
 * @example
 * ```ts ignore
 * import { grad, np } from "./mod.ts";
 * const f = (x: np.NDArray) => np.sum(np.tanh(x));
 * console.log(await grad(f)(np.array([0, 1, 2])).toArray());
 * ```
 *
 * @module
 */
import { device } from "./autograd/mod.ts";

export {
  checkpoint,
  customVjp,
  device,
  functions,
  grad,
  jit,
  jvp,
  lax,
  makeJaxpr,
  NDArray,
  np,
  random,
  scope,
  stopGradient,
  tree,
  valueAndGrad,
  vjp,
  vmap,
} from "./autograd/mod.ts";
export type {
  ArrayLike,
  GradOptions,
  JitOptions,
  NestedArray,
  TracedProgram,
  VmapOptions,
} from "./autograd/mod.ts";
export * as data from "./data/mod.ts";
export * as models from "./models/mod.ts";
export { nn, optim } from "./models/mod.ts";
export { acquireGpu, sharedGpu } from "./kernels/webgpu/device.ts";
export type { AdapterReport } from "./kernels/webgpu/device.ts";

await device.init();
