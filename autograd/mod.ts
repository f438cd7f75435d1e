/**
 * The array and autodiff core: `np`, transformations, pytrees, randomness, devices, memory.
 *
 * @module
 */
export * as np from "./numpy.ts";
export { NDArray } from "./array.ts";
export type { ArrayLike, NestedArray } from "./array.ts";
export { checkpoint, customVjp, grad, valueAndGrad, vjp } from "./vjp.ts";
export type { GradOptions } from "./vjp.ts";
export { jvp } from "./jvp.ts";
export { vmap } from "./vmap.ts";
export type { VmapOptions } from "./vmap.ts";
export { jit, makeJaxpr } from "./jit.ts";
export type { JitOptions, TracedProgram } from "./jit.ts";
export { stopGradient } from "./lax.ts";
export * as lax from "./lax.ts";
export * as random from "./random.ts";
export * as tree from "./tree.ts";
export * as device from "./device.ts";
export * as functions from "./functions.ts";
export { scope } from "./memory.ts";
export { setWebgpuFactory } from "./backends.ts";
