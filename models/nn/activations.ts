/**
 * Activations and dropout. `gelu` and `silu` are the `functions` math with the layer API's
 * names; dropout takes an explicit key (no global RNG state).
 *
 * @module
 */

import { functions, lax, type NDArray, np, random } from "../../autograd/mod.ts";

/**
 * GELU: the tanh approximation by default (what DropletVideo's feed-forward uses,
 * `approximate="tanh"` in PyTorch), or the exact `x * Phi(x)` with `approximate: "erf"`
 * (PyTorch's `F.gelu` default, 2e-4 apart).
 *
 * @example
 * ```ts ignore
 * nn.gelu(x); nn.gelu(x, { approximate: "erf" });
 * ```
 */
export function gelu(x: NDArray, options: { approximate?: "tanh" | "erf" } = {}): NDArray {
  return functions.gelu(x, { approximate: options.approximate ?? "tanh" });
}

/**
 * SiLU (swish): `x * sigmoid(x)`.
 *
 * @example
 * ```ts ignore
 * nn.silu(x);
 * ```
 */
export function silu(x: NDArray): NDArray {
  return functions.silu(x);
}

/**
 * Inverted dropout: zeroes each element with probability `rate` (drawn from `key`) and scales
 * the rest by `1 / (1 - rate)`, so the expectation is unchanged. With `deterministic` (eval
 * mode) or rate 0 it returns `x`.
 *
 * @example
 * ```ts ignore
 * const [k1, k2] = random.split(key);
 * h = nn.dropout(h, 0.1, k1);
 * ```
 */
export function dropout(
  x: NDArray,
  rate: number,
  key: NDArray,
  options: { deterministic?: boolean } = {},
): NDArray {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout: rate must be in [0, 1), got ${rate}`);
  if (options.deterministic || rate === 0) return x;
  const keep = random.bernoulli(key, 1 - rate, x.shape);
  const scaled = np.divide(x, 1 - rate);
  return lax.select(keep, scaled, lax.full(x.shape, 0, scaled.dtype));
}
