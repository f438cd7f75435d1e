/**
 * Stochastic gradient descent with momentum (PyTorch's `torch.optim.SGD` semantics: the buffer
 * is `momentum * buf + g`, Nesterov uses `g + momentum * buf`, `weightDecay` adds `wd * p` to
 * the gradient). The momentum buffer is float32.
 *
 * @module
 */

import { lax, type NDArray, np } from "../../autograd/mod.ts";
import {
  alignedLeaves,
  checkCount,
  checkRange,
  floatLeaves,
  type LearningRate,
  learningRateAt,
  type Optimizer,
  rebuild,
} from "./types.ts";

/** Options of {@link sgd}. */
export interface SgdOptions {
  readonly lr: LearningRate;
  /** Momentum (default 0: plain SGD). */
  readonly momentum?: number;
  /** Nesterov momentum (default false). */
  readonly nesterov?: boolean;
  /** L2 weight decay added to the gradient (default 0). */
  readonly weightDecay?: number;
}

/** State of SGD: the step count and, with momentum, the float32 buffers. */
export interface SgdState {
  readonly count: NDArray;
  /** Momentum buffers (a tree like the params); absent without momentum. */
  readonly momentum?: unknown;
}

/**
 * SGD (with momentum).
 *
 * @example
 * ```ts ignore
 * const opt = optim.sgd({ lr: 0.1, momentum: 0.9 });
 * let state = opt.init(params);
 * [params, state] = opt.update(grads, state, params);
 * ```
 */
export function sgd(options: SgdOptions): Optimizer<SgdState> {
  const mu = checkRange("sgd", "momentum", options.momentum ?? 0, 0, 1);
  const wd = checkRange("sgd", "weightDecay", options.weightDecay ?? 0, 0, Infinity);
  if (options.nesterov && mu === 0) throw new Error("sgd: nesterov needs a momentum > 0");
  return {
    init<P>(params: P): SgdState {
      const leaves = floatLeaves("sgd", params);
      const count = np.array(0, { dtype: "int32" });
      if (mu === 0) return { count };
      return { count, momentum: rebuild(params, leaves.map(([, p]) => np.zeros(p.shape))) };
    },
    update<P>(grads: P, state: SgdState, params: P): [P, SgdState] {
      const count = checkCount("sgd", state.count);
      const others: Record<string, unknown> = { grads };
      if (mu > 0) others["state.momentum"] = state.momentum;
      const [ps, gs, bufs] = alignedLeaves("sgd", params, others) as [
        NDArray[],
        NDArray[],
        NDArray[]?,
      ];
      const lr = learningRateAt(options.lr, count);
      const newP: NDArray[] = [], newB: NDArray[] = [];
      ps.forEach((p, i) => {
        const p32 = np.astype(p, "float32");
        let g = np.astype(gs[i]!, "float32");
        if (wd > 0) g = np.add(g, np.multiply(p32, wd)); // L2: g + wd p
        if (bufs) {
          const b = np.add(np.multiply(bufs[i]!, mu), g); // buf = mu buf + g
          newB.push(b);
          g = options.nesterov ? np.add(g, np.multiply(b, mu)) : b;
        }
        newP.push(lax.cast(np.subtract(p32, np.multiply(lr, g)), p.dtype));
      });
      const next = np.add(count, 1);
      return [
        rebuild(params, newP),
        bufs ? { count: next, momentum: rebuild(state.momentum, newB) } : { count: next },
      ];
    },
  };
}
