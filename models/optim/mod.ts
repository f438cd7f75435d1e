/**
 * `optim`: optimizers as `{ init(params), update(grads, state, params) -> [newParams, newState] }`
 * pairs of pure functions over pytrees (SGD with momentum, Adam, AdamW), gradient clipping by
 * global norm, learning-rate schedules of the step count, an exponential moving average of
 * weights, and dynamic loss scaling for float16 training. States are pytrees of arrays, so they
 * save with `models.saveSafetensors` and jit like params.
 *
 * @example
 * ```ts ignore
 * import { grad, optim } from "../../mod.ts";
 * const opt = optim.adamw({
 *   lr: optim.warmupCosine({ peak: 1e-3, warmupSteps: 10, decaySteps: 200 }),
 *   weightDecay: 1e-2,
 * });
 * let state = opt.init(params);
 * for (const batch of batches) {
 *   const [clipped] = optim.clipByGlobalNorm(grad(loss)(params, batch), 1.0);
 *   [params, state] = opt.update(clipped, state, params);
 * }
 * ```
 *
 * @module
 */
export { adam, adamw } from "./adam.ts";
export type { AdamOptions, AdamState } from "./adam.ts";
export { sgd } from "./sgd.ts";
export type { SgdOptions, SgdState } from "./sgd.ts";
export { clipByGlobalNorm, globalNorm } from "./clip.ts";
export { constant, cosineDecay, linearWarmup, warmupCosine } from "./schedules.ts";
export { ema } from "./ema.ts";
export type { Ema, EmaState } from "./ema.ts";
export { allFinite, dynamicLossScale, selectTree, withLossScale } from "./loss_scale.ts";
export type {
  DynamicLossScale,
  LossScaledState,
  LossScaleOptions,
  LossScaleState,
} from "./loss_scale.ts";
export type { LearningRate, Optimizer, Schedule } from "./types.ts";
