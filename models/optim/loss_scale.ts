/**
 * Dynamic loss scaling for float16 training (Micikevicius et al. 2018, "Mixed precision
 * training"; PyTorch's `GradScaler` rules): the loss is multiplied by a large scale so small
 * float16 gradients do not flush to zero; gradients are unscaled in float32 before the update.
 * If any gradient is not finite, the step is skipped (params and optimizer state are kept) and
 * the scale shrinks by `backoffFactor`; after `growthInterval` finite steps in a row it grows
 * by `growthFactor`. Everything is a pure function of arrays (no host sync), so a jitted step
 * stays one program.
 *
 * @module
 */

import { lax, NDArray, np, tree } from "../../autograd/mod.ts";
import { isFloat } from "../../kernels/dtype.ts";
import { floatLeaves, type Optimizer, rebuild } from "./types.ts";

/** Options of {@link dynamicLossScale}. */
export interface LossScaleOptions {
  /** Starting scale (default 2^15). */
  readonly initScale?: number;
  /** Multiplier after `growthInterval` finite steps (default 2). */
  readonly growthFactor?: number;
  /** Multiplier on overflow (default 0.5). */
  readonly backoffFactor?: number;
  /** Finite steps in a row before growing (default 2000). */
  readonly growthInterval?: number;
  /** The scale never goes below this (default 1). */
  readonly minScale?: number;
  /** The scale never goes above this (default 2^24). */
  readonly maxScale?: number;
}

/** State of a dynamic loss scale: the scale (float32 scalar) and finite steps in a row (int32). */
export interface LossScaleState {
  readonly scale: NDArray;
  readonly goodSteps: NDArray;
}

/**
 * True (bool scalar) when every float leaf of `value` is finite.
 *
 * @example
 * ```ts ignore
 * await optim.allFinite(grads).item(); // 1
 * ```
 */
export function allFinite(value: unknown): NDArray {
  let ok: NDArray = np.array(true);
  for (const leaf of tree.leaves(value)) {
    if (leaf instanceof NDArray && isFloat(leaf.dtype)) {
      ok = np.logicalAnd(ok, np.all(np.isfinite(leaf)));
    }
  }
  return ok;
}

/**
 * Picks `onTrue` or `onFalse` leaf by leaf by a bool scalar (trees of one structure): how a
 * skipped step keeps the old params and state without leaving the device.
 *
 * @example
 * ```ts ignore
 * const kept = optim.selectTree(finite, newParams, params);
 * ```
 */
export function selectTree<T>(cond: NDArray, onTrue: T, onFalse: T): T {
  if (cond.dtype !== "bool" || cond.size !== 1) {
    throw new Error(`selectTree: condition must be a bool scalar, got ${cond.describe()}`);
  }
  return tree.map<T>(
    (a: unknown, b: unknown) => {
      if (!(a instanceof NDArray) || !(b instanceof NDArray)) return a;
      return lax.select(lax.broadcast(lax.reshape(cond, []), a.shape, []), a, b);
    },
    onTrue,
    onFalse,
  );
}

/** A dynamic loss scale as pure functions. */
export interface DynamicLossScale {
  /** The starting state. */
  init(): LossScaleState;
  /** `loss * scale` in float32 (differentiate this). */
  scale(loss: NDArray, state: LossScaleState): NDArray;
  /** Gradients of the scaled loss, divided by the scale, in float32. */
  unscale<G>(grads: G, state: LossScaleState): G;
  /** The next state given whether this step's gradients were finite (bool scalar). */
  adjust(state: LossScaleState, finite: NDArray): LossScaleState;
}

/**
 * A dynamic loss scale (see the module doc for the rules).
 *
 * @example
 * ```ts ignore
 * const ls = optim.dynamicLossScale({ growthInterval: 1000 });
 * let lsState = ls.init();
 * const grads = ls.unscale(grad((p) => ls.scale(loss(p), lsState))(params), lsState);
 * const finite = optim.allFinite(grads);
 * lsState = ls.adjust(lsState, finite);
 * ```
 */
export function dynamicLossScale(options: LossScaleOptions = {}): DynamicLossScale {
  const init = options.initScale ?? 2 ** 15;
  const growth = options.growthFactor ?? 2;
  const backoff = options.backoffFactor ?? 0.5;
  const interval = options.growthInterval ?? 2000;
  const minScale = options.minScale ?? 1, maxScale = options.maxScale ?? 2 ** 24;
  if (!(init > 0) || !(growth >= 1) || !(backoff > 0 && backoff < 1) || !(minScale > 0)) {
    throw new Error(
      `dynamicLossScale: need initScale > 0, growthFactor >= 1, 0 < backoffFactor < 1, minScale > 0; got ${
        JSON.stringify(options)
      }`,
    );
  }
  if (!Number.isInteger(interval) || interval < 1) {
    throw new Error(`dynamicLossScale: growthInterval must be a positive integer, got ${interval}`);
  }
  return {
    init: () => ({ scale: np.array(init), goodSteps: np.array(0, { dtype: "int32" }) }),
    scale: (loss, state) => np.multiply(np.astype(loss, "float32"), state.scale),
    unscale<G>(grads: G, state: LossScaleState): G {
      const inv = np.divide(1, state.scale);
      return rebuild(
        grads,
        floatLeaves("unscale", grads).map(([, g]) => np.multiply(np.astype(g, "float32"), inv)),
      );
    },
    adjust(state, finite) {
      const good = np.where(finite, np.add(state.goodSteps, 1), 0); // finite steps in a row
      const grow = np.greaterEqual(good, interval);
      const grown = np.minimum(np.multiply(state.scale, growth), maxScale);
      const shrunk = np.maximum(np.multiply(state.scale, backoff), minScale);
      const scale = np.where(finite, np.where(grow, grown, state.scale), shrunk);
      return { scale, goodSteps: np.astype(np.where(grow, 0, good), "int32") };
    },
  };
}

/** State of {@link withLossScale}: the wrapped optimizer's state and the loss scale. */
export interface LossScaledState<S> {
  readonly inner: S;
  readonly lossScale: LossScaleState;
}

/**
 * Wraps an optimizer for float16 training: `update` takes the gradients of the *scaled* loss
 * (`lossScale.scale(loss, state.lossScale)`), unscales them, applies the inner update only if
 * they are all finite (else keeps params and inner state), and adjusts the scale.
 *
 * @example
 * ```ts ignore
 * const opt = optim.withLossScale(optim.adamw({ lr: 1e-4 }));
 * let state = opt.init(params);
 * const scaled = grad((p) => opt.lossScale.scale(lossFn(p), state.lossScale))(params);
 * [params, state] = opt.update(scaled, state, params);
 * ```
 */
export function withLossScale<S>(
  inner: Optimizer<S>,
  options: LossScaleOptions = {},
): Optimizer<LossScaledState<S>> & { readonly lossScale: DynamicLossScale } {
  const ls = dynamicLossScale(options);
  return {
    lossScale: ls,
    init<P>(params: P): LossScaledState<S> {
      return { inner: inner.init(params), lossScale: ls.init() };
    },
    update<P>(grads: P, state: LossScaledState<S>, params: P): [P, LossScaledState<S>] {
      const unscaled = ls.unscale(grads, state.lossScale);
      const finite = allFinite(unscaled);
      // Non-finite gradients would poison the moments; zero them before the (discarded) update.
      const safe = rebuild(
        unscaled,
        floatLeaves("withLossScale", unscaled).map(([, g]) => np.where(np.isfinite(g), g, 0)),
      );
      const [newParams, newInner] = inner.update(safe, state.inner, params);
      return [selectTree(finite, newParams, params), {
        inner: selectTree(finite, newInner, state.inner),
        lossScale: ls.adjust(state.lossScale, finite),
      }];
    },
  };
}
