/**
 * Fused scaled-dot-product attention as WGSL kernel plans: the forward pass with an online
 * softmax and its backward pass, neither of which materializes the `Sq x Sk` score matrix.
 *
 * The algorithm is FlashAttention-2 (Dao, 2023, "FlashAttention-2: Faster Attention with Better
 * Parallelism and Work Partitioning", Algorithms 1 and 2). The forward pass gives each workgroup
 * a tile of query rows (one row per invocation, its `q` and output accumulator in registers),
 * streams key/value tiles through workgroup memory and keeps a running maximum `m` and sum `l`:
 *
 *     m' = max(m, max_j s_j);  l' = l * 2^(m - m') + sum_j 2^(s_j - m');
 *     o' = o * 2^(m - m') + sum_j 2^(s_j - m') v_j;   out = o / l;  lse = (m + log2 l) ln 2,
 *
 * with scores `s = (q . k) * scale * log2(e)` in base 2 (one `exp2` per score). The backward pass
 * recomputes the probabilities from the saved log-sum-exp, `p_ij = exp(s_ij - lse_i)`, with
 * `delta_i = sum_d dO_id O_id` precomputed (FlashAttention-2, Algorithm 2, line 4):
 *
 *     dV_j = sum_i p_ij dO_i;  dS_ij = p_ij (dO_i . v_j - delta_i);
 *     dK_j = scale sum_i dS_ij q_i;  dQ_i = scale sum_j dS_ij k_j.
 *
 * dK/dV iterate over query tiles per key tile and dQ over key tiles per query tile, so no
 * atomics are needed (the scores are recomputed in both kernels instead).
 *
 * Keys are processed in chunks of {@link keyChunk} inside a tile: the chunk's scores live in
 * named registers, which keeps every workgroup-memory read uniform across the invocations of a
 * workgroup (a broadcast on GPUs, a scalar load on the software adapter) and the code unrolled.
 *
 * Causal masking is aligned to the end, as in the reference interpreter: key `j` is visible to
 * query `i` iff `j <= i + Sk - Sq`. A query that sees no key gets a zero output and `lse = -inf`.
 *
 * @module
 */

import type { KernelPlan, KernelTarget } from "../kernel.ts";
import { declareTile, tileCells, tileGemm } from "./_tile_gemm.ts";
import {
  checkBindings,
  checkSizes,
  copyTile,
  declareStorage,
  enableFor,
  f32Literal,
  type FloatStorage,
  linearGrid,
  negativeInfinityBits,
  negativeSentinel,
  range,
} from "./_wgsl.ts";

/** The static description of one attention call (all sizes are baked into the kernels). */
export interface AttentionSpec {
  /** `B`. */
  readonly batch: number;
  /** `H`. */
  readonly heads: number;
  /** `Sq`, the number of queries. */
  readonly seqQ: number;
  /** `Sk`, the number of keys and values. */
  readonly seqK: number;
  /** `D`, the query/key head dimension. */
  readonly headDim: number;
  /** `Dv`, the value head dimension. */
  readonly headDimV: number;
  /** Multiplies `q . k` before the softmax (usually `1 / sqrt(D)`). */
  readonly scale: number;
  /** Hide key `j` from query `i` when `j > i + Sk - Sq`. */
  readonly causal: boolean;
  /** Storage type of q, k, v, out and the gradients; arithmetic is always float32. */
  readonly dtype: FloatStorage;
}

/** Invocations per workgroup, as an 8 x 8 grid `(tr, tc) = (lid / 8, lid % 8)`. */
const threads = 64;
const grid = 8;
const log2e = Math.LOG2E;

function checkSpec(spec: AttentionSpec, target: KernelTarget, what: string): void {
  const { batch, heads, seqQ, seqK, headDim, headDimV } = spec;
  checkSizes(what, { batch, heads, seqQ, seqK, headDim, headDimV }, [
    "batch",
    "heads",
    "seqQ",
    "seqK",
  ]);
  if (!Number.isFinite(spec.scale)) {
    throw new Error(`${what}: scale must be finite, got ${spec.scale}`);
  }
  if (spec.dtype !== "f32" && spec.dtype !== "f16") {
    throw new Error(`${what}: dtype must be "f32" or "f16", got "${String(spec.dtype)}"`);
  }
  enableFor(spec.dtype, target, what);
  if (target.maxInvocationsPerWorkgroup < threads) {
    throw new Error(
      `${what}: needs ${threads} invocations per workgroup, the adapter allows ` +
        `${target.maxInvocationsPerWorkgroup}`,
    );
  }
}

/**
 * The largest tile of `rows` (a multiple of 8, at most 64 and at most `wanted` rounded up to 8)
 * whose workgroup memory, `bytesPerRow * rows + fixedBytes`, fits the target.
 */
function fitRows(
  bytesPerRow: number,
  fixedBytes: number,
  wanted: number,
  target: KernelTarget,
  what: string,
): number {
  const fit = Math.floor((target.maxWorkgroupStorageBytes - fixedBytes) / bytesPerRow / 8) * 8;
  if (fit < 8) {
    throw new Error(
      `${what}: the head dimensions need ${bytesPerRow * 8 + fixedBytes} bytes of workgroup ` +
        `memory for the smallest tile; the adapter has ${target.maxWorkgroupStorageBytes}`,
    );
  }
  return Math.min(fit, 64, Math.max(8, Math.ceil(wanted / 8) * 8));
}

/** Rows per invocation along the query (or key) axis: 4 for short sequences, else 8. */
function rowsPerThread(n: number): number {
  return n <= 4 * grid ? 4 : 8;
}

/** `x` as the WGSL `u32` of its row-major index within `[count]`, clamped to the last one. */
function clampIndex(x: string, count: number): string {
  return `min(${x}, ${Math.max(0, count - 1)}u)`;
}

/**
 * The kernels of the fused attention forward pass.
 *
 * Inputs `in0 = q [B, H, Sq, D]`, `in1 = k [B, H, Sk, D]`, `in2 = v [B, H, Sk, Dv]` (row-major,
 * `spec.dtype`); outputs `out0 = out [B, H, Sq, Dv]` (`spec.dtype`) and
 * `out1 = lse [B, H, Sq]` (float32, the natural log-sum-exp of the scaled scores of each query,
 * `-inf` where causal masking hides every key), as the reference interpreter's `attention`.
 *
 * One workgroup of 64 invocations (an 8 x 8 grid `(tr, tc)`) per tile of `BR` = 64 query rows
 * (32 when `Sq <= 32`) of one (batch, head). Per key tile of `BC` keys (up to 64, as many as
 * workgroup memory allows): invocation `(tr, tc)` computes the scores of rows `tr * BR/8 + i`
 * against keys `tc + 8j` (a `BR/8 x BC/8` register tile, `q` read from storage, `k` from the
 * transposed key tile), the row maxima are reduced through workgroup memory, the probabilities
 * go to workgroup memory as `P[key][row]`, and the same invocation accumulates output rows
 * `tr * BR/8 + i`, columns `tc + 8h` from `P` and the value tile (which replaces the key tile).
 * Causal workgroups stop at the last key their rows can see.
 *
 * @example
 * ```ts ignore
 * import { attentionForwardPlan } from "./attention.ts";
 * const plan = attentionForwardPlan({
 *   batch: 1, heads: 8, seqQ: 1024, seqK: 1024, headDim: 64, headDimV: 64,
 *   scale: 1 / 8, causal: false, dtype: "f32",
 * }, target);
 * // plan.kernels[0].bindings: in0, in1, in2, out0, out1
 * ```
 */
export function attentionForwardPlan(spec: AttentionSpec, target: KernelTarget): KernelPlan {
  const what = "attentionForwardPlan";
  checkSpec(spec, target, what);
  const { batch, heads, seqQ: sq, seqK: sk, headDim: d, headDimV: dv, dtype } = spec;
  const bh = batch * heads;
  if (bh * sq === 0) return { scratch: [], kernels: [] };
  checkBindings("attention_fwd", 5, target);
  const rm = rowsPerThread(sq), br = grid * rm;
  // Workgroup memory (f32): kv [BC * max(D, Dv)], pt [BC * BR], red [8 * BR], stat [2 * BR].
  const bc = fitRows(4 * (Math.max(d, dv) + br), 4 * (grid + 2) * br, sk, target, what);
  const rn = bc / grid;
  const rv = Math.ceil(dv / grid); // output columns per invocation: tc + 8h
  const qTiles = Math.ceil(sq / br);
  const layout = linearGrid(bh * qTiles, target.maxWorkgroupsPerDimension);
  const scoreScale = f32Literal(spec.scale * log2e);
  const neg = negativeSentinel;
  const keyEnd = spec.causal
    ? `u32(clamp(i32(min(row0 + ${br}u, ${sq}u)) + ${sk - sq}, 0, ${sk}))`
    : `${sk}u`;
  const visible = (i: number, j: number) => {
    const key = `(kt + tc + ${grid * j}u)`;
    return spec.causal
      ? `${key} < ${sk}u && ${key} + ${sq}u <= rb + ${i + sk}u`
      : `${key} < ${sk}u`;
  };
  const tile = { rowBase: `bh * ${sk}u`, first: "kt", rows: bc, limit: sk, threads };
  const code = `${enableFor(dtype, target, what)}${declareStorage(0, "q", dtype, false)}
${declareStorage(1, "k", dtype, false)}
${declareStorage(2, "v", dtype, false)}
${declareStorage(3, "o", dtype, true)}
// The log-sum-exp as float32 bits: -inf is stored as a bit pattern (WGSL cannot compute it).
${declareStorage(4, "lse", "u32", true)}
var<workgroup> kv: array<f32, ${bc * Math.max(d, dv)}>;
var<workgroup> pt: array<f32, ${bc * br}>;
var<workgroup> red: array<f32, ${grid * br}>;
var<workgroup> stat: array<f32, ${2 * br}>;

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${layout.prologue}
  let bh = wgIndex / ${qTiles}u;
  let row0 = (wgIndex % ${qTiles}u) * ${br}u;
  let tr = lid / ${grid}u;
  let tc = lid % ${grid}u;
  // This invocation's rows rb + i; rows past Sq compute on clamped copies and store nothing.
  let rb = row0 + tr * ${rm}u;
  ${
    range(rm).map((i) => `let qr${i} = (bh * ${sq}u + ${clampIndex(`rb + ${i}u`, sq)}) * ${d}u;`)
      .join(" ")
  }
  var mRow = ${neg}; // running max (log2 units) of row row0 + lid, for lid < BR
  ${declareTile("o", rm, rv)}
  ${range(rm).map((i) => `var lp${i} = 0.0;`).join(" ")}
  let keyEnd = ${keyEnd};
  for (var kt = 0u; kt < keyEnd; kt += ${bc}u) {
    // Key tile, transposed: kv[t * BC + key].
    ${copyTile({ ...tile, dst: "kv", src: "k", width: d, transpose: true })}
    workgroupBarrier();
    // Scores s = q . k of rows rb + i and keys kt + tc + 8j, masked, in log2 units.
    ${declareTile("s", rm, rn)}
    ${
    tileGemm("s", rm, rn, (i, t) =>
      `f32(q[qr${i} + ${t}])`, (j, t) =>
      `kv[${t} * ${bc}u + tc + ${grid * j}u]`, `${d}u`)
  }
    ${
    tileCells(rm, rn).map(([i, j]) =>
      `let x${i}_${j} = select(${neg}, s${i}_${j} * ${scoreScale}, ${visible(i, j)});`
    ).join("\n    ")
  }
    ${
    range(rm).map((i) =>
      `red[tc * ${br}u + tr * ${rm}u + ${i}u] = ${
        range(rn).map((j) => `x${i}_${j}`).reduce((a, b) =>
          `max(${a}, ${b})`
        )
      };`
    ).join("\n    ")
  }
    workgroupBarrier();
    // Row maxima over the 8 partial maxima: the new max and the rescale factor 2^(m - m').
    if (lid < ${br}u) {
      var mt = mRow;
      for (var c = 0u; c < ${grid}u; c++) { mt = max(mt, red[c * ${br}u + lid]); }
      stat[lid] = mt;
      stat[${br}u + lid] = exp2(mRow - mt);
      mRow = mt;
    }
    // The value tile replaces the key tile, which is no longer read: kv[key * Dv + c].
    ${copyTile({ ...tile, dst: "kv", src: "v", width: dv, transpose: false })}
    workgroupBarrier();
    ${
    range(rm).map((i) =>
      `let mn${i} = stat[tr * ${rm}u + ${i}u]; let cr${i} = stat[${br}u + tr * ${rm}u + ${i}u];`
    ).join("\n    ")
  }
    ${
    tileCells(rm, rn).map(([i, j]) =>
      `let p${i}_${j} = select(0.0, exp2(x${i}_${j} - mn${i}), x${i}_${j} != ${neg});`
    ).join("\n    ")
  }
    ${
    range(rm).map((i) =>
      `lp${i} = fma(lp${i}, cr${i}, ${range(rn).map((j) => `p${i}_${j}`).join(" + ")});`
    )
      .join("\n    ")
  }
    ${
    tileCells(rm, rn).map(([i, j]) =>
      `pt[(tc + ${grid * j}u) * ${br}u + tr * ${rm}u + ${i}u] = p${i}_${j};`
    )
      .join("\n    ")
  }
    ${tileCells(rm, rv).map(([i, h]) => `o${i}_${h} *= cr${i};`).join(" ")}
    workgroupBarrier();
    ${
    tileGemm(
      "o",
      rm,
      rv,
      (i, key) => `pt[${key} * ${br}u + tr * ${rm}u + ${i}u]`,
      (h, key) => `kv[${key} * ${dv}u + ${clampIndex(`tc + ${grid * h}u`, dv)}]`,
      `min(${bc}u, keyEnd - kt)`,
    )
  }
    workgroupBarrier();
  }
  // Row sums: the 8 invocations sharing a row each hold the sum over their keys.
  ${range(rm).map((i) => `red[tc * ${br}u + tr * ${rm}u + ${i}u] = lp${i};`).join(" ")}
  workgroupBarrier();
  if (lid < ${br}u) {
    var l = 0.0;
    for (var c = 0u; c < ${grid}u; c++) { l += red[c * ${br}u + lid]; }
    stat[lid] = l;
    if (row0 + lid < ${sq}u) {
      lse[bh * ${sq}u + row0 + lid] = select(${negativeInfinityBits}, bitcast<u32>((mRow + log2(l)) * ${
    f32Literal(Math.LN2)
  }), l > 0.0);
    }
  }
  workgroupBarrier();
  ${
    range(rm).map((i) =>
      `if (rb + ${i}u < ${sq}u) {
    let l = stat[tr * ${rm}u + ${i}u];
    let inv = select(0.0, 1.0 / l, l > 0.0);
    let at = (bh * ${sq}u + rb + ${i}u) * ${dv}u;
    ${
        range(rv).map((h) =>
          `if (tc + ${grid * h}u < ${dv}u) { o[at + tc + ${
            grid * h
          }u] = ${dtype}(o${i}_${h} * inv); }`
        ).join("\n    ")
      }
  }`
    ).join("\n  ")
  }
}
`;
  return {
    scratch: [],
    kernels: [{
      name: `attention_fwd_${spec.causal ? "causal_" : ""}d${d}_dv${dv}_br${br}_bc${bc}_${dtype}`,
      code,
      bindings: [
        { buffer: "in0", access: "read" },
        { buffer: "in1", access: "read" },
        { buffer: "in2", access: "read" },
        { buffer: "out0", access: "read_write" },
        { buffer: "out1", access: "read_write" },
      ],
      workgroups: layout.workgroups,
    }],
  };
}
