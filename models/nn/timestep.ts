/**
 * Sinusoidal timestep embedding (Vaswani et al. 2017 positions; diffusers'
 * `get_timestep_embedding`, architecture spec section 2 item 2): frequencies
 * `f_i = exp(-ln(max_period) * i / (half - shift))`, `i < half = dim/2`, arguments `t * f_i` in
 * float32, output `[sin | cos]`, or `[cos | sin]` with `flipSinToCos`. DropletVideo embeds both
 * the timestep and the motion value M this way with `flipSinToCos: true, shift: 0`, the
 * defaults here.
 *
 * @module
 */

import { lax, type NDArray, np } from "../../autograd/mod.ts";

/** Options of {@link timestepEmbedding}. */
export interface TimestepEmbeddingOptions {
  /** Output `[cos | sin]` instead of `[sin | cos]` (default true, as CogVideoX). */
  readonly flipSinToCos?: boolean;
  /** diffusers' `downscale_freq_shift` (default 0, as CogVideoX; diffusers' own default is 1). */
  readonly shift?: number;
  /** Multiplies the arguments (default 1). */
  readonly scale?: number;
  /** The longest period (default 10000). */
  readonly maxPeriod?: number;
}

/**
 * The float32 frequencies `exp(-ln(maxPeriod) * i / (half - shift))`, each step rounded to
 * float32 as PyTorch computes them.
 *
 * @example
 * ```ts
 * import { timestepFrequencies } from "./timestep.ts";
 * timestepFrequencies(4)[0]; // 1
 * ```
 */
export function timestepFrequencies(
  dim: number,
  options: TimestepEmbeddingOptions = {},
): Float32Array {
  const half = Math.floor(dim / 2);
  const shift = options.shift ?? 0;
  if (!Number.isInteger(dim) || dim < 2 || half - shift === 0) {
    throw new Error(`timestepEmbedding: dim ${dim} with shift ${shift} gives no frequencies`);
  }
  const f = Math.fround;
  const c = f(-Math.log(options.maxPeriod ?? 10000));
  // exponent = -ln(P) * arange(half) (float32), / (half - shift), exp: each op in float32.
  return Float32Array.from({ length: half }, (_, i) => f(Math.exp(f(f(c * i) / (half - shift)))));
}

/**
 * Embeds timesteps `t` `[N]` (any numeric dtype) into `[N, dim]` float32 sinusoids.
 *
 * @example
 * ```ts ignore
 * nn.timestepEmbedding(np.array([999, 500]), 3072).shape; // [2, 3072], [cos | sin]
 * ```
 */
export function timestepEmbedding(
  t: NDArray,
  dim: number,
  options: TimestepEmbeddingOptions = {},
): NDArray {
  if (t.ndim !== 1) throw new Error(`timestepEmbedding: t must be [N], got ${t.describe()}`);
  const n = t.shape[0]!;
  const freqs = timestepFrequencies(dim, options);
  const half = freqs.length;
  const tf = np.astype(t, "float32");
  // [N, 1] * [1, half] -> [N, half] arguments, scaled, in float32.
  let args = np.multiply(lax.reshape(tf, [n, 1]), np.array(freqs, { shape: [1, half] }));
  if ((options.scale ?? 1) !== 1) args = np.multiply(args, options.scale!);
  const sin = np.sin(args), cos = np.cos(args);
  const parts = (options.flipSinToCos ?? true) ? [cos, sin] : [sin, cos];
  if (dim % 2 === 1) parts.push(np.zeros([n, 1])); // odd dims pad one zero column, as diffusers
  return lax.concatenate(parts, 1); // [N, dim]
}
