/**
 * Scaled dot-product attention over `[B, H, S, D]` (Vaswani et al. 2017):
 * `softmax(q k^T * scale) v`. By default it binds the fused `attention` primitive, which never
 * materializes the `Sq x Sk` scores (a flash-attention kernel on the GPU); `{ fused: false }` or
 * a mask composes it from matmul and softmax (`functions.dotProductAttention`), which can be
 * differentiated twice.
 *
 * @module
 */

import { functions, lax, type NDArray } from "../../autograd/mod.ts";

/** Options of {@link attention}. */
export interface AttentionOptions {
  /** Score scale (default `1 / sqrt(D)`). */
  readonly scale?: number;
  /** Hide later keys from each query (aligned to the end when Sq != Sk). */
  readonly causal?: boolean;
  /** Bool mask broadcastable to `[B, H, Sq, Sk]`, true = attend; forces the unfused path. */
  readonly mask?: NDArray | null;
  /** Use the fused primitive (default true unless a mask is given). */
  readonly fused?: boolean;
  /**
   * `"int8"`: both products on int8 values with float32 scales, after SageAttention (Zhang et
   * al. 2025; see `kernels/reference/attention_int8.ts`), for GPUs whose only WGSL-reachable
   * matrix units are int8 (NVIDIA through Dawn; `device.info().features` then lists
   * `chromium-experimental-subgroup-matrix`). Other adapters emulate the int8 products, which
   * is slower than float32 attention there. About 2e-2 relative L2 error on random
   * inputs (bfloat16 inputs: 3e-3); fused path only; float16 and bfloat16 operands are widened to
   * float32 for it; the gradient is the float one at the quantized output (straight-through).
   * Default `"none"`.
   */
  readonly quantization?: "none" | "int8";
}

/**
 * Attention of q `[B, H, Sq, D]` over k `[B, H, Sk, D]`, v `[B, H, Sk, Dv]` -> `[B, H, Sq, Dv]`.
 *
 * @example
 * ```ts ignore
 * nn.attention(q, k, v);                      // fused, scale 1/sqrt(D)
 * nn.attention(q, k, v, { fused: false });    // matmul + softmax
 * nn.attention(q, k, v, { mask });            // mask [B, 1, Sq, Sk] (unfused)
 * nn.attention(q, k, v, { quantization: "int8" }); // int8 products (float32 q, k, v)
 * ```
 */
export function attention(
  q: NDArray,
  k: NDArray,
  v: NDArray,
  options: AttentionOptions = {},
): NDArray {
  const ok = q.ndim === 4 && k.ndim === 4 && v.ndim === 4 && q.shape[0] === k.shape[0] &&
    q.shape[1] === k.shape[1] && k.shape[0] === v.shape[0] && k.shape[1] === v.shape[1] &&
    q.shape[3] === k.shape[3] && k.shape[2] === v.shape[2];
  if (!ok) {
    throw new Error(
      `attention: expected q [B, H, Sq, D], k [B, H, Sk, D], v [B, H, Sk, Dv], got q ${q.describe()}, k ${k.describe()}, v ${v.describe()}`,
    );
  }
  if (q.dtype !== k.dtype || k.dtype !== v.dtype) {
    throw new Error(
      `attention: q, k and v must share a float dtype, got ${q.dtype}, ${k.dtype}, ${v.dtype}`,
    );
  }
  const scale = options.scale ?? 1 / Math.sqrt(q.shape[3]!);
  const causal = options.causal ?? false;
  const mask = options.mask ?? null;
  if (mask && mask.dtype !== "bool") {
    throw new Error(`attention: mask must be bool (true = attend), got ${mask.describe()}`);
  }
  if (mask && options.fused === true) {
    throw new Error("attention: the fused kernel takes no mask; drop `fused: true` or the mask");
  }
  const quantization = options.quantization ?? "none";
  if (quantization !== "none" && quantization !== "int8") {
    throw new Error(`attention: quantization must be "none" or "int8", got "${quantization}"`);
  }
  if (quantization === "int8" && (mask || options.fused === false)) {
    throw new Error('attention: quantization "int8" needs the fused path (no mask, fused)');
  }
  if (mask || options.fused === false) {
    return functions.dotProductAttention(q, k, v, { scale, causal, mask });
  }
  if (quantization === "int8") {
    // The int8 kernels read float32: half-precision inputs are widened for them (a cast per
    // operand) and the output narrowed back.
    const wide = (x: NDArray) => x.dtype === "float32" ? x : x.astype("float32");
    const [out] = lax.attention(wide(q), wide(k), wide(v), { scale, causal, quantization });
    return out.dtype === q.dtype ? out : out.astype(q.dtype);
  }
  const [out] = lax.attention(q, k, v, { scale, causal });
  return out;
}

/**
 * Splits the feature axis into heads: `[B, S, H*D] -> [B, H, S, D]`.
 *
 * @example
 * ```ts ignore
 * nn.splitHeads(q, 48).shape; // [B, 48, S, 64] from [B, S, 3072]
 * ```
 */
export function splitHeads(x: NDArray, heads: number): NDArray {
  const [b, s, f] = x.shape as [number, number, number];
  if (x.ndim !== 3 || !Number.isInteger(heads) || heads < 1 || f % heads !== 0) {
    throw new Error(`splitHeads: cannot split ${x.describe()} into ${heads} heads`);
  }
  const split = lax.reshape(x, [b, s, heads, f / heads]); // [B, S, H, D]
  return lax.transpose(split, [0, 2, 1, 3]); // [B, H, S, D]
}

/**
 * Merges heads back into the feature axis: `[B, H, S, D] -> [B, S, H*D]`.
 *
 * @example
 * ```ts ignore
 * nn.mergeHeads(o).shape; // [B, S, 3072] from [B, 48, S, 64]
 * ```
 */
export function mergeHeads(x: NDArray): NDArray {
  if (x.ndim !== 4) throw new Error(`mergeHeads: needs [B, H, S, D], got ${x.describe()}`);
  const [b, h, s, d] = x.shape as [number, number, number, number];
  const moved = lax.transpose(x, [0, 2, 1, 3]); // [B, S, H, D]
  return lax.reshape(moved, [b, s, h * d]); // [B, S, H*D]
}
