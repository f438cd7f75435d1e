/**
 * The shape every optimizer has: a pair of pure functions over pytrees (optax's
 * `GradientTransformation`, specialized to return new params). `init(params)` builds the state,
 * `update(grads, state, params)` returns `[newParams, newState]`. State is a pytree of arrays
 * (the step count included), so it jits, vmaps and saves to a checkpoint like params do.
 *
 * @module
 */

import { NDArray, np, tree } from "../../autograd/mod.ts";
import { isFloat } from "../../kernels/dtype.ts";
import { formatKeys } from "../param_tree.ts";

/** An optimizer: `init` and `update`, pure. */
export interface Optimizer<S> {
  /** The initial state for `params`. */
  init<P>(params: P): S;
  /** One step: `[newParams, newState]` (gradients have the params' structure). */
  update<P>(grads: P, state: S, params: P): [P, S];
}

/** A learning-rate (or any hyperparameter) schedule: a function of the step count. */
export type Schedule = (step: NDArray | number) => NDArray;

/** A constant learning rate or a schedule of the step count. */
export type LearningRate = number | Schedule;

/**
 * The learning rate at `count` (float32 scalar array).
 *
 * @example
 * ```ts ignore
 * learningRateAt(1e-3, count); // float32 [] 0.001
 * ```
 */
export function learningRateAt(lr: LearningRate, count: NDArray): NDArray {
  if (typeof lr === "number") {
    if (!Number.isFinite(lr)) throw new Error(`optim: learning rate must be finite, got ${lr}`);
    return np.array(lr);
  }
  return np.astype(lr(count), "float32");
}

/**
 * The float array leaves of a params-like tree with their paths; throws naming non-float
 * leaves (optimizers update float parameters only).
 *
 * @example
 * ```ts ignore
 * floatLeaves("adamw", params);
 * ```
 */
export function floatLeaves(what: string, value: unknown): [string, NDArray][] {
  const pairs = tree.flattenWithPaths(value);
  const bad = pairs.filter(([, x]) => !(x instanceof NDArray && isFloat(x.dtype)));
  if (bad.length > 0) {
    throw new Error(
      `${what}: every leaf must be a float array, got ${
        formatKeys(bad.map(([p, x]) =>
          `${p || "<root>"} (${x instanceof NDArray ? x.describe() : typeof x})`
        ))
      }`,
    );
  }
  return pairs as [string, NDArray][];
}

/**
 * Checks that trees have the paths of `params` (listing what is missing or extra) and returns
 * their leaves in params order.
 *
 * @example
 * ```ts ignore
 * const [g, m] = alignedLeaves("adamw", params, { grads, mu });
 * ```
 */
export function alignedLeaves(
  what: string,
  params: unknown,
  others: Record<string, unknown>,
): NDArray[][] {
  const ref = floatLeaves(what, params);
  const refPaths = ref.map(([p]) => p);
  const out: NDArray[][] = [ref.map(([, x]) => x)];
  for (const [name, other] of Object.entries(others)) {
    const pairs = floatLeaves(`${what} (${name})`, other);
    const got = pairs.map(([p]) => p);
    if (got.length !== refPaths.length || got.some((p, i) => p !== refPaths[i])) {
      const have = new Set(got), want = new Set(refPaths);
      const missing = refPaths.filter((p) => !have.has(p));
      const extra = got.filter((p) => !want.has(p));
      throw new Error(
        `${what}: ${name} do not match the params tree` +
          (missing.length ? `; missing ${formatKeys(missing)}` : "") +
          (extra.length ? `; unexpected ${formatKeys(extra)}` : "") +
          (!missing.length && !extra.length ? "; same paths in a different order" : ""),
      );
    }
    pairs.forEach(([p, x], i) => {
      const r = ref[i]![1];
      if (x.shape.length !== r.shape.length || x.shape.some((d, j) => d !== r.shape[j])) {
        throw new Error(`${what}: ${name} "${p}" is ${x.describe()}, the param is ${r.describe()}`);
      }
    });
    out.push(pairs.map(([, x]) => x));
  }
  return out;
}

/**
 * Rebuilds a tree with the structure of `like` from leaves in its order.
 *
 * @example
 * ```ts ignore
 * const newParams = rebuild(params, updatedLeaves);
 * ```
 */
export function rebuild<T>(like: T, leaves: readonly NDArray[]): T {
  const [, def] = tree.flatten(like);
  return tree.unflatten<T>(def, leaves);
}

/**
 * Reads an optimizer state's step count (int32 scalar) and checks it.
 *
 * @example
 * ```ts ignore
 * const count = checkCount("adamw", state.count);
 * ```
 */
export function checkCount(what: string, count: unknown): NDArray {
  if (!(count instanceof NDArray) || count.size !== 1 || count.dtype !== "int32") {
    throw new Error(
      `${what}: state.count must be an int32 scalar array (from init), got ${String(count)}`,
    );
  }
  return count;
}

/**
 * Checks a hyperparameter lies in `[lo, hi]` (throws naming the optimizer and the value).
 *
 * @example
 * ```ts ignore
 * checkRange("adamw", "b1", 0.9, 0, 1); // 0.9
 * ```
 */
export function checkRange(
  what: string,
  name: string,
  value: number,
  lo: number,
  hi: number,
): number {
  if (!(value >= lo && value <= hi)) {
    throw new Error(`${what}: ${name} must be in [${lo}, ${hi}], got ${value}`);
  }
  return value;
}
