/**
 * Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019, decoupled weight decay), with
 * PyTorch's semantics: bias-corrected moments, `eps` added outside the square root, Adam's
 * `weightDecay` as an L2 term in the gradient, AdamW's as `p <- p (1 - lr wd)` before the step.
 * Moments are float32 whatever the param dtype; the new param is cast back to its dtype.
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

/** Options of {@link adam} and {@link adamw}. */
export interface AdamOptions {
  /** Learning rate or schedule of the step count (evaluated at the count before the step). */
  readonly lr: LearningRate;
  /** First-moment decay (default 0.9). */
  readonly b1?: number;
  /** Second-moment decay (default 0.999). */
  readonly b2?: number;
  /** Added to `sqrt(v_hat)` (default 1e-8). */
  readonly eps?: number;
  /** Weight decay (adam: L2 in the gradient, default 0; adamw: decoupled, default 1e-2). */
  readonly weightDecay?: number;
  /** Which params decay (default all); e.g. `(path) => !path.endsWith("bias")`. */
  readonly decayMask?: (path: string, param: NDArray) => boolean;
}

/** State of Adam/AdamW: step count and float32 moments shaped like the params. */
export interface AdamState {
  /** Steps taken (int32 scalar). */
  readonly count: NDArray;
  /** First moments (a tree like the params). */
  readonly mu: unknown;
  /** Second moments. */
  readonly nu: unknown;
}

function makeAdam(name: string, options: AdamOptions, decoupled: boolean): Optimizer<AdamState> {
  const b1 = checkRange(name, "b1", options.b1 ?? 0.9, 0, 1 - Number.EPSILON);
  const b2 = checkRange(name, "b2", options.b2 ?? 0.999, 0, 1 - Number.EPSILON);
  const eps = checkRange(name, "eps", options.eps ?? 1e-8, 0, Infinity);
  const wd = checkRange(
    name,
    "weightDecay",
    options.weightDecay ?? (decoupled ? 1e-2 : 0),
    0,
    Infinity,
  );
  const mask = options.decayMask ?? (() => true);
  return {
    init<P>(params: P): AdamState {
      const leaves = floatLeaves(name, params);
      const zeros = leaves.map(([, p]) => np.zeros(p.shape)); // float32 moments
      return {
        count: np.array(0, { dtype: "int32" }),
        mu: rebuild(params, zeros),
        nu: rebuild(params, leaves.map(([, p]) => np.zeros(p.shape))),
      };
    },
    update<P>(grads: P, state: AdamState, params: P): [P, AdamState] {
      const count = checkCount(name, state.count);
      const [ps, gs, ms, vs] = alignedLeaves(name, params, {
        grads,
        "state.mu": state.mu,
        "state.nu": state.nu,
      }) as [NDArray[], NDArray[], NDArray[], NDArray[]];
      const paths = floatLeaves(name, params).map(([p]) => p);
      const lr = learningRateAt(options.lr, count);
      const t = np.astype(np.add(count, 1), "float32"); // this step's number, 1-based
      const bc1 = np.subtract(1, np.power(b1, t)); // 1 - b1^t
      const bc2 = np.subtract(1, np.power(b2, t)); // 1 - b2^t
      const newP: NDArray[] = [], newM: NDArray[] = [], newV: NDArray[] = [];
      ps.forEach((p, i) => {
        const p32 = np.astype(p, "float32");
        const decays = wd > 0 && mask(paths[i]!, p);
        let g = np.astype(gs[i]!, "float32");
        if (!decoupled && decays) g = np.add(g, np.multiply(p32, wd)); // L2: g + wd p
        const m = np.add(np.multiply(ms[i]!, b1), np.multiply(g, 1 - b1)); // b1 m + (1 - b1) g
        const v = np.add(np.multiply(vs[i]!, b2), np.multiply(np.square(g), 1 - b2)); // b2 v + (1 - b2) g^2
        const mHat = np.divide(m, bc1), vHat = np.divide(v, bc2);
        const step = np.divide(mHat, np.add(np.sqrt(vHat), eps)); // m_hat / (sqrt(v_hat) + eps)
        let q = p32;
        if (decoupled && decays) q = np.multiply(q, np.subtract(1, np.multiply(lr, wd))); // p (1 - lr wd)
        q = np.subtract(q, np.multiply(lr, step));
        newP.push(lax.cast(q, p.dtype));
        newM.push(m);
        newV.push(v);
      });
      return [rebuild(params, newP), {
        count: np.add(count, 1),
        mu: rebuild(state.mu, newM),
        nu: rebuild(state.nu, newV),
      }];
    },
  };
}

/**
 * Adam with PyTorch's `torch.optim.Adam` semantics (`weightDecay` adds `wd * p` to the gradient).
 *
 * @example
 * ```ts ignore
 * const opt = optim.adam({ lr: 1e-3 });
 * let state = opt.init(params);
 * [params, state] = opt.update(grads, state, params);
 * ```
 */
export function adam(options: AdamOptions): Optimizer<AdamState> {
  return makeAdam("adam", options, false);
}

/**
 * AdamW: Adam with decoupled weight decay, `p <- p (1 - lr wd) - lr m_hat / (sqrt(v_hat) + eps)`
 * (PyTorch's `torch.optim.AdamW`; default `weightDecay` 1e-2).
 *
 * @example
 * ```ts ignore
 * // DropletVideo's training: lr 2e-5, weight decay 3e-2, eps 1e-10.
 * const opt = optim.adamw({ lr: 2e-5, weightDecay: 3e-2, eps: 1e-10 });
 * ```
 */
export function adamw(options: AdamOptions): Optimizer<AdamState> {
  return makeAdam("adamw", options, true);
}
