/**
 * Int8 attention: the quantized forward pass of the `attention` primitive when its params say
 * `quantization: "int8"`, after SageAttention (Zhang et al., ICLR 2025): both products of the
 * attention, `Q K^T` and `P V`, run on 8-bit integers with exact 32-bit accumulation, so that
 * GPUs whose only matrix units reachable from WGSL are int8 subgroup matrices (NVIDIA through
 * Dawn's Vulkan path) can use them. This file is the specification: the WGSL kernels of
 * `kernels/webgpu/templates/attention_int8.ts` compute the same integers. Means, scales, scores
 * and probabilities are rounded to float32 here where the kernels compute in float32, so the two
 * differ only where a GPU's division (2.5 ULP in WGSL) or `exp2` lands a value on the other side
 * of a rounding tie, worth at most one quantization step of that value.
 *
 * Per (batch, head), with `B_K = 64`-key blocks `t`:
 * - **Keys** are smoothed, `k' = k - mean_j(k_j)` (a per-channel mean over all keys, summed in
 *   float32 block by block as the kernels do; softmax is
 *   invariant to adding `q . c` to every score of a row, SageAttention section 3.2), then
 *   quantized per block: `s_t = max |k'| / 127` over the block, `k8 = round(k' / s_t)`.
 * - **Queries** are quantized per row: `s_i = max_d |q_id| / 127`, `q8 = round(q / s_i)`.
 * - **Values** are centered per channel, `v' = v - mu_c`, and quantized per channel:
 *   `r_c = max_j |v'_jc| / 127`, `v8 = round(v' / r_c)`; since each probability row sums to
 *   one, `out = (P v') + mu`.
 * - **Scores** in log2 units: `x_ij = (q8_i . k8_j) s_i s_t scale log2(e)`.
 * - **Probabilities** are quantized per block and row against the block's own row maximum
 *   `b_it = max_j x_ij` (so a block far below the running maximum keeps its 7 bits):
 *   `p8_ij = round(127 * 2^(x_ij - b_it))`.
 * - **Online softmax** (FlashAttention-2): `m' = max(m, b)`, `alpha = 2^(m - m')`,
 *   `f = 2^(b - m')`, `acc = alpha acc + f (p8 . v8)`, `l = alpha l + f sum_j p8_ij`; at the end
 *   `out_c = r_c acc_c / l + mu_c` and `lse = ln 2 (m + log2(l / 127)) + scale q_i . mu_k` (the
 *   smoothing's shift of the row's scores added back, so `lse` is that of the true scores).
 *
 * Rounding is to nearest, ties to even (WGSL's `round`). Masked keys (causal, `j > i + Sk -
 * Sq`) get `p8 = 0`; a row with every key masked gives `out = 0`, `lse = -inf`, as the float
 * kernels do.
 *
 * @module
 */

/** Keys per quantization block (and per key tile of the kernel): the block scales `s_t`. */
export const int8KeyBlock = 64;

/** Rounds to the nearest integer, ties to even (WGSL `round`). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Quantizes `x * inverse` to an int8 in [-127, 127] (float32 product, as the kernels do). */
function quantize(x: number, inverse: number): number {
  return Math.max(-127, Math.min(127, roundHalfEven(Math.fround(x * inverse))));
}

/** `127 / amax` in float32, or 0 for an all-zero group (which quantizes to zeros). */
function inverseScale(amax: number): number {
  return amax > 0 ? Math.fround(127 / amax) : 0;
}

/**
 * The mean of `n` values `x[at + j * stride]` summed as the kernels sum them: in float32, in
 * order within each block of {@link int8KeyBlock}, then the block sums in order, then divided
 * by `n` (so that the quantized keys and values agree bit for bit).
 */
function blockedMean(x: ArrayLike<number>, at: number, stride: number, n: number): number {
  let total = 0;
  for (let j0 = 0; j0 < n; j0 += int8KeyBlock) {
    let block = 0;
    for (let j = j0; j < Math.min(n, j0 + int8KeyBlock); j++) {
      block = Math.fround(block + x[at + j * stride]!);
    }
    total = Math.fround(total + block);
  }
  return Math.fround(total / n);
}

/** Shapes and options of {@link int8AttentionReference}. */
export interface Int8AttentionShape {
  readonly batch: number;
  readonly heads: number;
  readonly seqQ: number;
  readonly seqK: number;
  readonly headDim: number;
  readonly headDimV: number;
  readonly scale: number;
  readonly causal: boolean;
}

/**
 * The int8 attention of q `[B, H, Sq, D]`, k `[B, H, Sk, D]`, v `[B, H, Sk, Dv]` (flat,
 * row-major): `{ out [B, H, Sq, Dv], lse [B, H, Sq] }` in float64 (see the module
 * documentation for the algorithm).
 *
 * @example
 * ```ts
 * import { int8AttentionReference } from "./attention_int8.ts";
 * const shape = { batch: 1, heads: 1, seqQ: 1, seqK: 2, headDim: 1, headDimV: 1, scale: 1,
 *   causal: false };
 * const { out } = int8AttentionReference(shape, [1], [0, 0], [1, 3]);
 * out[0]; // 2: equal scores average the values
 * ```
 */
export function int8AttentionReference(
  shape: Int8AttentionShape,
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
): { out: Float64Array; lse: Float64Array } {
  const { batch, heads, seqQ: sq, seqK: sk, headDim: d, headDimV: dv, scale, causal } = shape;
  const out = new Float64Array(batch * heads * sq * dv);
  const lse = new Float64Array(batch * heads * sq);
  const blocks = Math.ceil(sk / int8KeyBlock);
  const k8 = new Int8Array(sk * d), v8 = new Int8Array(sk * dv), q8 = new Int8Array(d);
  const blockScale = new Float64Array(blocks);
  const mu = new Float64Array(dv), range = new Float64Array(dv);
  const muK = new Float64Array(d);
  const xs = new Float64Array(int8KeyBlock), p8 = new Int32Array(int8KeyBlock);
  const acc = new Float64Array(dv);
  for (let bh = 0; bh < batch * heads; bh++) {
    const qAt = bh * sq * d, kAt = bh * sk * d, vAt = bh * sk * dv;
    // Keys: per-channel means, then per-block scales.
    for (let c = 0; c < d; c++) muK[c] = blockedMean(k, kAt + c, d, sk);
    for (let t = 0; t < blocks; t++) {
      const end = Math.min(sk, (t + 1) * int8KeyBlock);
      let amax = 0;
      for (let j = t * int8KeyBlock; j < end; j++) {
        for (let c = 0; c < d; c++) {
          amax = Math.max(amax, Math.abs(Math.fround(k[kAt + j * d + c]! - muK[c]!)));
        }
      }
      const inverse = inverseScale(amax);
      blockScale[t] = Math.fround(amax / 127);
      for (let j = t * int8KeyBlock; j < end; j++) {
        for (let c = 0; c < d; c++) {
          k8[j * d + c] = quantize(Math.fround(k[kAt + j * d + c]! - muK[c]!), inverse);
        }
      }
    }
    // Values: per-channel means and ranges.
    for (let c = 0; c < dv; c++) {
      let lo = Infinity, hi = -Infinity;
      for (let j = 0; j < sk; j++) {
        const x = v[vAt + j * dv + c]!;
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
      }
      mu[c] = blockedMean(v, vAt + c, dv, sk);
      range[c] = Math.max(Math.fround(hi - mu[c]!), Math.fround(mu[c]! - lo));
      const inverse = inverseScale(range[c]!);
      for (let j = 0; j < sk; j++) {
        v8[j * dv + c] = quantize(Math.fround(v[vAt + j * dv + c]! - mu[c]!), inverse);
      }
    }
    for (let i = 0; i < sq; i++) {
      let amax = 0;
      for (let c = 0; c < d; c++) amax = Math.max(amax, Math.abs(q[qAt + i * d + c]!));
      const inverse = inverseScale(amax);
      for (let c = 0; c < d; c++) q8[c] = quantize(q[qAt + i * d + c]!, inverse);
      const rowScale = Math.fround(Math.fround(amax / 127) * Math.fround(scale * Math.LOG2E));
      // The smoothing shifted this row's scores by -scale q . mu_k; the log-sum-exp adds it back.
      let shift = 0;
      for (let c = 0; c < d; c++) shift = Math.fround(shift + q[qAt + i * d + c]! * muK[c]!);
      shift = Math.fround(shift * Math.fround(scale));
      const keyEnd = causal ? Math.min(sk, i + 1 + sk - sq) : sk;
      let m = -Infinity, l = 0;
      acc.fill(0);
      for (let t = 0; t * int8KeyBlock < keyEnd; t++) {
        const j0 = t * int8KeyBlock, n = Math.min(keyEnd, j0 + int8KeyBlock) - j0;
        let b = -Infinity;
        for (let jj = 0; jj < n; jj++) {
          let dot = 0;
          for (let c = 0; c < d; c++) dot += q8[c]! * k8[(j0 + jj) * d + c]!;
          // float32 as the kernel computes it: one scale per row and block, then the product.
          xs[jj] = Math.fround(dot * Math.fround(rowScale * blockScale[t]!));
          b = Math.max(b, xs[jj]!);
        }
        let pSum = 0;
        for (let jj = 0; jj < n; jj++) {
          p8[jj] = roundHalfEven(
            Math.fround(127 * Math.fround(Math.pow(2, Math.fround(xs[jj]! - b)))),
          );
          pSum += p8[jj]!;
        }
        const mNew = Math.max(m, b);
        const alpha = m === -Infinity ? 0 : Math.pow(2, m - mNew);
        const f = Math.pow(2, b - mNew);
        for (let c = 0; c < dv; c++) {
          let dot = 0;
          for (let jj = 0; jj < n; jj++) dot += p8[jj]! * v8[(j0 + jj) * dv + c]!;
          acc[c] = alpha * acc[c]! + f * dot;
        }
        l = alpha * l + f * pSum;
        m = mNew;
      }
      const row = bh * sq + i;
      lse[row] = l > 0 ? Math.LN2 * (m + Math.log2(l / 127)) + shift : -Infinity;
      for (let c = 0; c < dv; c++) {
        out[row * dv + c] = l > 0 ? (range[c]! / 127) * acc[c]! / l + mu[c]! : 0;
      }
    }
  }
  return { out, lse };
}
