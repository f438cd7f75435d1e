/**
 * Differentiable building-block functions composed from primitives (the `jax.nn` functions):
 * activations, softmax, normalization math and unfused attention. Layers with parameters live
 * in `models/nn`; these are their math.
 *
 * @module
 */

import { normalizeAxes } from "../kernels/shape.ts";
import type { ArrayLike, NDArray } from "./array.ts";
import * as lax from "./lax.ts";
import * as np from "./numpy.ts";

/**
 * Softmax along `axis` (max-subtracted for stability; the shift's gradient is stopped because
 * softmax does not depend on it).
 *
 * @example
 * ```ts ignore
 * softmax(logits, -1);
 * ```
 */
export function softmax(x: ArrayLike, axis: number | readonly number[] = -1): NDArray {
  const a = np.asArray(x);
  const m = lax.stopGradient(np.max(a, axis, { keepdims: true }));
  const e = np.exp(np.subtract(a, m));
  return np.divide(e, np.sum(e, axis, { keepdims: true }));
}

/**
 * `log(softmax(x))` along `axis`, computed as `(x - max) - log(sum(exp(x - max)))`.
 *
 * @example
 * ```ts ignore
 * logSoftmax(logits, -1);
 * ```
 */
export function logSoftmax(x: ArrayLike, axis: number | readonly number[] = -1): NDArray {
  const a = np.asArray(x);
  // Shift by the (gradient-stopped) max first, as jax.nn.log_softmax: x - logsumexp(x) subtracts
  // two large, nearly equal numbers and loses the low bits (1000 - 1000.31326 in float32 is off
  // by 3e-5). A row of -inf has no finite max; shift it by 0.
  const m = lax.stopGradient(np.max(a, axis, { keepdims: true }));
  const shifted = np.subtract(a, np.where(np.isfinite(m), m, 0));
  return np.subtract(shifted, np.log(np.sum(np.exp(shifted), axis, { keepdims: true })));
}

/**
 * GELU: `x * Phi(x)` exactly (`approximate: "erf"`), or the tanh approximation
 * `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` (the default, as DropletVideo's feed-forward
 * uses; Hendrycks & Gimpel 2016).
 *
 * @example
 * ```ts ignore
 * gelu(x); gelu(x, { approximate: "erf" });
 * ```
 */
export function gelu(x: ArrayLike, options: { approximate?: "tanh" | "erf" } = {}): NDArray {
  const a = np.asArray(x);
  if ((options.approximate ?? "tanh") === "erf") {
    return np.multiply(np.multiply(a, 0.5), np.add(np.erf(np.multiply(a, Math.SQRT1_2)), 1));
  }
  const inner = np.multiply(
    np.add(a, np.multiply(np.multiply(np.square(a), a), 0.044715)),
    Math.sqrt(2 / Math.PI),
  );
  return np.multiply(np.multiply(a, 0.5), np.add(np.tanh(inner), 1));
}

/**
 * SiLU (swish): `x * sigmoid(x)`.
 *
 * @example
 * ```ts ignore
 * silu(x);
 * ```
 */
export function silu(x: ArrayLike): NDArray {
  const a = np.asArray(x);
  return np.multiply(a, np.sigmoid(a));
}

/**
 * ReLU: `max(x, 0)`, with derivative 0 at 0.
 *
 * @example
 * ```ts ignore
 * relu(x);
 * ```
 */
export function relu(x: ArrayLike): NDArray {
  // A select, not max(x, 0): its derivative at 0 is 0 (as jax.nn.relu), not the tie's 1/2.
  const a = np.asArray(x);
  return np.where(np.greater(a, 0), a, 0);
}

/**
 * Softplus: `log(1 + e^x)`, computed stably as `max(x, 0) + log1p(e^-|x|)`.
 *
 * @example
 * ```ts ignore
 * softplus(x);
 * ```
 */
export function softplus(x: ArrayLike): NDArray {
  const a = np.asArray(x);
  return np.add(np.maximum(a, 0), np.log1p(np.exp(np.negative(np.abs(a)))));
}

/**
 * Normalizes over `axis` to zero mean and unit variance: `(x - mean) / sqrt(var + eps)`.
 * Statistics are computed in float32 for half-precision inputs.
 *
 * @example
 * ```ts ignore
 * standardize(x, -1, 1e-5);
 * ```
 */
export function standardize(
  x: ArrayLike,
  axis: number | readonly number[] = -1,
  eps = 1e-5,
): NDArray {
  const a = np.asArray(x);
  const f = a.dtype === "float32" ? a : np.astype(a, "float32");
  const axes = normalizeAxes(axis, f.ndim);
  const mean = np.mean(f, axes, { keepdims: true });
  const centered = np.subtract(f, mean);
  const variance = np.mean(np.square(centered), axes, { keepdims: true });
  const out = np.multiply(centered, np.rsqrt(np.add(variance, eps)));
  return out.dtype === a.dtype ? out : np.astype(out, a.dtype);
}

/**
 * Layer normalization over the last axis (Ba et al. 2016): `standardize(x) * weight + bias`.
 *
 * @example
 * ```ts ignore
 * layerNorm(x, { weight, bias, eps: 1e-5 }); // x [..., C], weight/bias [C]
 * ```
 */
export function layerNorm(
  x: ArrayLike,
  options: { weight?: NDArray | null; bias?: NDArray | null; eps?: number } = {},
): NDArray {
  let out = standardize(x, -1, options.eps ?? 1e-5);
  if (options.weight) out = np.multiply(out, options.weight);
  if (options.bias) out = np.add(out, options.bias);
  return out;
}

/**
 * Group normalization (Wu & He 2018): channels (axis 1 of `[N, C, ...]`) split into `groups`,
 * each normalized over its channels and all spatial positions, then per-channel affine.
 *
 * @example
 * ```ts ignore
 * groupNorm(x, 32, { weight, bias, eps: 1e-6 }); // x [B, C, T, H, W]
 * ```
 */
export function groupNorm(
  x: ArrayLike,
  groups: number,
  options: { weight?: NDArray | null; bias?: NDArray | null; eps?: number } = {},
): NDArray {
  const a = np.asArray(x);
  const [n, c] = [a.shape[0]!, a.shape[1]!];
  if (a.ndim < 2 || c % groups !== 0) {
    throw new Error(
      `groupNorm: ${c} channels of ${a.describe()} do not split into ${groups} groups`,
    );
  }
  const rest = a.shape.slice(2);
  const grouped = np.reshape(a, [n, groups, -1]); // [N, G, C/G * spatial]
  const normed = np.reshape(standardize(grouped, -1, options.eps ?? 1e-5), a.shape);
  const perChannel = [1, c, ...rest.map(() => 1)];
  let out = normed;
  if (options.weight) out = np.multiply(out, np.reshape(options.weight, perChannel));
  if (options.bias) out = np.add(out, np.reshape(options.bias, perChannel));
  return out;
}

/**
 * RMS normalization (Zhang & Sennrich 2019): `x / sqrt(mean(x^2) + eps) * weight` over the last
 * axis.
 *
 * @example
 * ```ts ignore
 * rmsNorm(x, { weight, eps: 1e-6 });
 * ```
 */
export function rmsNorm(
  x: ArrayLike,
  options: { weight?: NDArray | null; eps?: number } = {},
): NDArray {
  const a = np.asArray(x);
  const f = a.dtype === "float32" ? a : np.astype(a, "float32");
  const ms = np.mean(np.square(f), -1, { keepdims: true });
  let out = np.multiply(f, np.rsqrt(np.add(ms, options.eps ?? 1e-6)));
  if (out.dtype !== a.dtype) out = np.astype(out, a.dtype);
  return options.weight ? np.multiply(out, options.weight) : out;
}

/**
 * Scaled dot-product attention composed from matmul and softmax (materializes the scores):
 * `softmax(q k^T * scale + mask) v` with q `[..., Sq, D]`, k `[..., Sk, D]`, v `[..., Sk, Dv]`.
 * The reference against which the fused kernel is tested.
 *
 * @example
 * ```ts ignore
 * dotProductAttention(q, k, v, { scale: 1 / 8 });
 * ```
 */
export function dotProductAttention(
  q: NDArray,
  k: NDArray,
  v: NDArray,
  options: { scale?: number; causal?: boolean; mask?: NDArray | null } = {},
): NDArray {
  const d = q.shape[q.ndim - 1]!;
  const scale = options.scale ?? 1 / Math.sqrt(d);
  let scores = np.multiply(np.matmul(q, np.swapaxes(k, -1, -2)), scale); // [..., Sq, Sk]
  const [sq, sk] = [q.shape[q.ndim - 2]!, k.shape[k.ndim - 2]!];
  if (options.causal) {
    scores = np.where(np.tri(sq, sk, { k: sk - sq, dtype: "bool" }), scores, -Infinity);
  }
  if (options.mask) scores = np.where(options.mask, scores, -Infinity);
  return np.matmul(softmax(scores, -1), v);
}
