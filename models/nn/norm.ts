/**
 * Normalization layers: layer norm (Ba et al. 2016), group norm (Wu & He 2018) with optional
 * per-chunk statistics along time (the CogVideoX VAE normalizes each chunk of frames on its own,
 * architecture spec section 9 item 9), and RMS norm (Zhang & Sennrich 2019). Statistics are
 * computed in float32 for half-precision inputs (`functions.standardize`). Parameter names are
 * PyTorch's (`weight`, `bias`).
 *
 * @module
 */

import { functions, lax, type NDArray, np } from "../../autograd/mod.ts";
import { checkParamDType, checkPositive, ones, type ParamDType, zeros } from "./init.ts";

function checkAffine(layer: string, x: NDArray, p: NDArray | null | undefined, size: number) {
  if (p && (p.ndim !== 1 || p.shape[0] !== size || p.dtype !== x.dtype)) {
    throw new Error(
      `${layer}: parameter ${p.describe()} does not match ${size} channels of input ${x.describe()}`,
    );
  }
}

/**
 * Layer normalization over the last axis: `(x - mean) / sqrt(var + eps) * weight + bias`
 * (x `[..., C]`, weight and bias `[C]` or null).
 *
 * @example
 * ```ts ignore
 * nn.layerNorm(x, w, b, { eps: 1e-5 }); // x [B, S, C]
 * ```
 */
export function layerNorm(
  x: NDArray,
  weight?: NDArray | null,
  bias?: NDArray | null,
  options: { eps?: number } = {},
): NDArray {
  const c = x.shape[x.ndim - 1] ?? 0;
  if (x.ndim < 1) throw new Error(`layerNorm: needs an input of rank >= 1, got ${x.describe()}`);
  checkAffine("layerNorm", x, weight, c);
  checkAffine("layerNorm", x, bias, c);
  return functions.layerNorm(x, {
    weight: weight ?? null,
    bias: bias ?? null,
    eps: options.eps ?? 1e-5,
  });
}

/** Options of {@link groupNorm}. */
export interface GroupNormOptions {
  /** Number of channel groups (default 32, as the CogVideoX VAE). */
  readonly groups?: number;
  /** Added to the variance (default 1e-5, PyTorch's; the VAE uses 1e-6). */
  readonly eps?: number;
  /**
   * Frame counts of consecutive chunks along axis 2 (time of `[B, C, T, H, W]`), each
   * normalized with its own statistics; they must sum to T. Omitted: one chunk (the whole clip).
   */
  readonly chunks?: readonly number[];
}

/**
 * Group normalization of `[B, C, ...]`: channels split into `groups`, each normalized over its
 * channels and all positions, then a per-channel affine. With `chunks`, statistics are computed
 * per chunk of frames (as the VAE's chunked passes do), in one call.
 *
 * @example
 * ```ts ignore
 * nn.groupNorm(x, w, b, { groups: 32, eps: 1e-6 });               // x [B, C, T, H, W]
 * nn.groupNorm(x, w, b, { groups: 32, eps: 1e-6, chunks: [1, 4] }); // T = 5: frames 0 | 1-4
 * ```
 */
export function groupNorm(
  x: NDArray,
  weight?: NDArray | null,
  bias?: NDArray | null,
  options: GroupNormOptions = {},
): NDArray {
  const groups = options.groups ?? 32;
  if (x.ndim < 2) throw new Error(`groupNorm: needs [B, C, ...], got ${x.describe()}`);
  const c = x.shape[1]!;
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) {
    throw new Error(
      `groupNorm: ${c} channels of ${x.describe()} do not split into ${groups} groups`,
    );
  }
  checkAffine("groupNorm", x, weight, c);
  checkAffine("groupNorm", x, bias, c);
  const norm = (part: NDArray) =>
    functions.groupNorm(part, groups, {
      weight: weight ?? null,
      bias: bias ?? null,
      eps: options.eps ?? 1e-5,
    });
  const chunks = options.chunks;
  if (!chunks || chunks.length <= 1) {
    if (chunks && chunks[0] !== x.shape[2]) {
      throw new Error(
        `groupNorm: chunks [${chunks}] do not sum to the ${x.shape[2]} frames of ${x.describe()}`,
      );
    }
    return norm(x);
  }
  const total = chunks.reduce((a, b) => a + b, 0);
  if (x.ndim < 3 || chunks.some((n) => !Number.isInteger(n) || n < 1) || total !== x.shape[2]) {
    throw new Error(
      `groupNorm: chunks [${chunks}] must be positive and sum to axis 2 of ${x.describe()}`,
    );
  }
  const parts: NDArray[] = [];
  let start = 0;
  for (const n of chunks) {
    parts.push(norm(np.sliceAxis(x, 2, start, start + n))); // [B, C, n, ...] with its own stats
    start += n;
  }
  return lax.concatenate(parts, 2);
}

/**
 * RMS normalization over the last axis: `x / sqrt(mean(x^2) + eps) * weight`.
 *
 * @example
 * ```ts ignore
 * nn.rmsNorm(x, w, { eps: 1e-6 }); // x [..., C], w [C]
 * ```
 */
export function rmsNorm(
  x: NDArray,
  weight?: NDArray | null,
  options: { eps?: number } = {},
): NDArray {
  if (x.ndim < 1) throw new Error(`rmsNorm: needs an input of rank >= 1, got ${x.describe()}`);
  checkAffine("rmsNorm", x, weight, x.shape[x.ndim - 1]!);
  return functions.rmsNorm(x, { weight: weight ?? null, eps: options.eps ?? 1e-6 });
}

/** Parameters of a norm layer (absent when it is not affine). */
export interface NormParams {
  readonly weight?: NDArray;
  readonly bias?: NDArray;
}

/** Configuration of {@link LayerNorm}. */
export interface LayerNormConfig {
  /** Size of the normalized (last) axis. */
  readonly dim: number;
  readonly eps?: number;
  /** Learnable weight and bias (PyTorch's `elementwise_affine`, default true). */
  readonly affine?: boolean;
  /** With a bias when affine (default true). */
  readonly bias?: boolean;
  readonly dtype?: ParamDType;
}

/**
 * Layer norm as `{ init, apply }` (weight 1, bias 0).
 *
 * @example
 * ```ts ignore
 * const p = nn.LayerNorm.init(key, { dim: 64, eps: 1e-6 });
 * nn.LayerNorm.apply(p, x, { eps: 1e-6 });
 * ```
 */
export const LayerNorm = {
  /** `{ weight [dim], bias [dim] }`, or `{}` when not affine. */
  init(_key: NDArray | null, config: LayerNormConfig): NormParams {
    const d = checkPositive("LayerNorm", "dim", config.dim);
    const dtype = checkParamDType("LayerNorm", config.dtype ?? "float32");
    if (config.affine === false) return {};
    if (config.bias === false) return { weight: ones([d], dtype) };
    return { weight: ones([d], dtype), bias: zeros([d], dtype) };
  },
  /** `x [..., dim] -> [..., dim]`. */
  apply(params: NormParams, x: NDArray, options: { eps?: number } = {}): NDArray {
    return layerNorm(x, params.weight ?? null, params.bias ?? null, options);
  },
};

/** Configuration of {@link GroupNorm}. */
export interface GroupNormConfig {
  readonly channels: number;
  readonly groups?: number;
  readonly eps?: number;
  readonly affine?: boolean;
  readonly dtype?: ParamDType;
}

/**
 * Group norm as `{ init, apply }` (weight 1, bias 0).
 *
 * @example
 * ```ts ignore
 * const p = nn.GroupNorm.init(key, { channels: 128 });
 * nn.GroupNorm.apply(p, x, { groups: 32, eps: 1e-6 }); // x [B, 128, T, H, W]
 * ```
 */
export const GroupNorm = {
  /** `{ weight [C], bias [C] }`, or `{}` when not affine. */
  init(_key: NDArray | null, config: GroupNormConfig): NormParams {
    const c = checkPositive("GroupNorm", "channels", config.channels);
    const groups = config.groups ?? 32;
    if (c % groups !== 0) {
      throw new Error(`GroupNorm: ${c} channels do not split into ${groups} groups`);
    }
    const dtype = checkParamDType("GroupNorm", config.dtype ?? "float32");
    if (config.affine === false) return {};
    return { weight: ones([c], dtype), bias: zeros([c], dtype) };
  },
  /** `x [B, C, ...] -> [B, C, ...]`. */
  apply(params: NormParams, x: NDArray, options: GroupNormOptions = {}): NDArray {
    return groupNorm(x, params.weight ?? null, params.bias ?? null, options);
  },
};

/** Configuration of {@link RMSNorm}. */
export interface RMSNormConfig {
  readonly dim: number;
  readonly eps?: number;
  readonly affine?: boolean;
  readonly dtype?: ParamDType;
}

/**
 * RMS norm as `{ init, apply }` (weight 1).
 *
 * @example
 * ```ts ignore
 * const p = nn.RMSNorm.init(key, { dim: 64 });
 * nn.RMSNorm.apply(p, x);
 * ```
 */
export const RMSNorm = {
  /** `{ weight [dim] }`, or `{}` when not affine. */
  init(_key: NDArray | null, config: RMSNormConfig): NormParams {
    const d = checkPositive("RMSNorm", "dim", config.dim);
    const dtype = checkParamDType("RMSNorm", config.dtype ?? "float32");
    return config.affine === false ? {} : { weight: ones([d], dtype) };
  },
  /** `x [..., dim] -> [..., dim]`. */
  apply(params: NormParams, x: NDArray, options: { eps?: number } = {}): NDArray {
    return rmsNorm(x, params.weight ?? null, options);
  },
};
