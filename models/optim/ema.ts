/**
 * Exponential moving average of weights (Polyak averaging; the EMA copy diffusion models
 * sample with): `avg <- d avg + (1 - d) params`, with an optional warmup
 * `d_t = min(decay, (1 + t) / (10 + t))` (diffusers' `EMAModel`) so early averages are not
 * dominated by the initialization. The average is kept in float32.
 *
 * @module
 */

import { type NDArray, np } from "../../autograd/mod.ts";
import { alignedLeaves, checkCount, checkRange, floatLeaves, rebuild } from "./types.ts";

/** State of {@link ema}: updates taken and the float32 average (a tree like the params). */
export interface EmaState {
  readonly count: NDArray;
  readonly average: unknown;
}

/** The EMA as `{ init, update }`; `update(params, state)` returns `[average, newState]`. */
export interface Ema {
  /** Starts the average at `params` (as float32). */
  init<P>(params: P): EmaState;
  /** Folds `params` into the average; returns `[average, newState]`. */
  update<P>(params: P, state: EmaState): [P, EmaState];
}

/**
 * An exponential moving average of a params tree.
 *
 * @example
 * ```ts ignore
 * const avg = optim.ema({ decay: 0.999, warmup: true });
 * let emaState = avg.init(params);
 * // after each optimizer step:
 * [emaParams, emaState] = avg.update(params, emaState);
 * ```
 */
export function ema(options: { decay: number; warmup?: boolean }): Ema {
  const decay = checkRange("ema", "decay", options.decay, 0, 1);
  return {
    init<P>(params: P): EmaState {
      const leaves = floatLeaves("ema", params);
      return {
        count: np.array(0, { dtype: "int32" }),
        average: rebuild(params, leaves.map(([, p]) => np.astype(p, "float32"))),
      };
    },
    update<P>(params: P, state: EmaState): [P, EmaState] {
      const count = checkCount("ema", state.count);
      const [ps, avgs] = alignedLeaves("ema", params, { "state.average": state.average }) as [
        NDArray[],
        NDArray[],
      ];
      let d: NDArray | number = decay;
      if (options.warmup) {
        const t = np.astype(count, "float32");
        d = np.minimum(decay, np.divide(np.add(t, 1), np.add(t, 10))); // min(decay, (1+t)/(10+t))
      }
      const oneMinus = np.subtract(1, d);
      const next = ps.map((p, i) =>
        np.add(np.multiply(avgs[i]!, d), np.multiply(np.astype(p, "float32"), oneMinus))
      );
      const average = rebuild(state.average, next);
      return [average as P, { count: np.add(count, 1), average }];
    },
  };
}
