/**
 * Gradient clipping by global norm (Pascanu et al. 2013): when the L2 norm of all gradients
 * together exceeds `maxNorm`, every gradient is scaled by `maxNorm / norm` (optax's
 * `clip_by_global_norm`; no epsilon, since the scale applies only when norm > maxNorm > 0).
 *
 * @module
 */

import { lax, type NDArray, np } from "../../autograd/mod.ts";
import { floatLeaves, rebuild } from "./types.ts";

/**
 * The L2 norm of all leaves of a tree together, float32 scalar (`sqrt(sum_i sum(g_i^2))`).
 *
 * @example
 * ```ts ignore
 * await optim.globalNorm(grads).item();
 * ```
 */
export function globalNorm(grads: unknown): NDArray {
  const leaves = floatLeaves("globalNorm", grads);
  let total: NDArray = np.array(0);
  for (const [, g] of leaves) total = np.add(total, np.sum(np.square(np.astype(g, "float32"))));
  return np.sqrt(total);
}

/**
 * Scales `grads` so that their global norm is at most `maxNorm`; returns `[clipped, norm]`
 * (the norm before clipping, for logging).
 *
 * @example
 * ```ts ignore
 * const [clipped, norm] = optim.clipByGlobalNorm(grads, 1.0);
 * ```
 */
export function clipByGlobalNorm<T>(grads: T, maxNorm: number): [T, NDArray] {
  if (!(maxNorm > 0)) throw new Error(`clipByGlobalNorm: maxNorm must be positive, got ${maxNorm}`);
  const norm = globalNorm(grads);
  // scale = maxNorm / norm where norm > maxNorm, else 1 (the division is guarded by the select).
  const scale = np.where(
    np.greater(norm, maxNorm),
    np.divide(maxNorm, np.maximum(norm, maxNorm)),
    1,
  );
  const clipped = floatLeaves("clipByGlobalNorm", grads).map(([, g]) =>
    lax.cast(np.multiply(np.astype(g, "float32"), scale), g.dtype)
  );
  return [rebuild(grads, clipped), norm];
}
