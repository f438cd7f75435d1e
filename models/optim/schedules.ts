/**
 * Learning-rate schedules as functions of the step count (optax's formulas). They take the
 * count as a number or an array (the optimizer passes its int32 state count, so a jitted step
 * stays traceable) and return a float32 scalar array.
 *
 * @module
 */

import { type NDArray, np } from "../../autograd/mod.ts";
import type { Schedule } from "./types.ts";

function stepOf(step: NDArray | number): NDArray {
  return np.astype(typeof step === "number" ? np.array(step) : step, "float32");
}

function checkSteps(what: string, name: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`${what}: ${name} must be an integer >= 0, got ${n}`);
  }
}

/**
 * A constant value.
 *
 * @example
 * ```ts ignore
 * optim.constant(1e-3)(10); // 0.001
 * ```
 */
export function constant(value: number): Schedule {
  return (step) => np.add(np.multiply(stepOf(step), 0), value);
}

/**
 * Linear warmup from `init` to `peak` over `warmupSteps`, then `peak`.
 *
 * @example
 * ```ts ignore
 * optim.linearWarmup({ peak: 1e-3, warmupSteps: 100 })(50); // 5e-4
 * ```
 */
export function linearWarmup(
  options: { init?: number; peak: number; warmupSteps: number },
): Schedule {
  const { peak, warmupSteps } = options;
  const init = options.init ?? 0;
  checkSteps("linearWarmup", "warmupSteps", warmupSteps);
  return (step) => {
    const s = stepOf(step);
    if (warmupSteps === 0) return np.add(np.multiply(s, 0), peak);
    const frac = np.minimum(np.divide(s, warmupSteps), 1); // min(step / warmup, 1)
    return np.add(init, np.multiply(frac, peak - init));
  };
}

/**
 * Cosine decay from `init` to `alpha * init` over `decaySteps` (Loshchilov & Hutter 2017):
 * `init * ((1 - alpha) * (1 + cos(pi * min(step, decay) / decay)) / 2 + alpha)`.
 *
 * @example
 * ```ts ignore
 * optim.cosineDecay({ init: 1e-3, decaySteps: 1000 })(500); // 5e-4
 * ```
 */
export function cosineDecay(
  options: { init: number; decaySteps: number; alpha?: number },
): Schedule {
  const { init, decaySteps } = options;
  const alpha = options.alpha ?? 0;
  checkSteps("cosineDecay", "decaySteps", decaySteps);
  if (decaySteps === 0) throw new Error("cosineDecay: decaySteps must be positive");
  return (step) => {
    const t = np.divide(np.minimum(stepOf(step), decaySteps), decaySteps);
    const cosine = np.multiply(np.add(np.cos(np.multiply(t, Math.PI)), 1), 0.5);
    return np.multiply(np.add(np.multiply(cosine, 1 - alpha), alpha), init);
  };
}

/**
 * Linear warmup from `init` to `peak` over `warmupSteps`, then cosine decay to `end` at
 * `decaySteps` (the total, warmup included, as optax's `warmup_cosine_decay_schedule`).
 *
 * @example
 * ```ts ignore
 * optim.warmupCosine({ peak: 1e-3, warmupSteps: 100, decaySteps: 1000 })(100); // 1e-3
 * ```
 */
export function warmupCosine(
  options: { init?: number; peak: number; warmupSteps: number; decaySteps: number; end?: number },
): Schedule {
  const { peak, warmupSteps, decaySteps } = options;
  const init = options.init ?? 0, end = options.end ?? 0;
  checkSteps("warmupCosine", "warmupSteps", warmupSteps);
  checkSteps("warmupCosine", "decaySteps", decaySteps);
  if (decaySteps <= warmupSteps) {
    throw new Error(
      `warmupCosine: decaySteps (${decaySteps}) must exceed warmupSteps (${warmupSteps})`,
    );
  }
  const warm = linearWarmup({ init, peak, warmupSteps });
  const span = decaySteps - warmupSteps;
  return (step) => {
    const s = stepOf(step);
    const t = np.divide(np.clip(np.subtract(s, warmupSteps), 0, span), span);
    const cosine = np.multiply(np.add(np.cos(np.multiply(t, Math.PI)), 1), 0.5);
    const decayed = np.add(end, np.multiply(cosine, peak - end));
    return np.where(np.less(s, warmupSteps), warm(s), decayed);
  };
}
