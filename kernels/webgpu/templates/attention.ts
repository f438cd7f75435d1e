/**
 * Fused scaled-dot-product attention as WGSL kernel plans: the forward pass with an online
 * softmax and its backward pass, neither of which materializes the `Sq x Sk` score matrix.
 *
 * The algorithm is FlashAttention-2 (Dao, 2023, "FlashAttention-2: Faster Attention with Better
 * Parallelism and Work Partitioning", Algorithms 1 and 2). The forward pass gives each workgroup
 * a tile of query rows, streams key/value tiles through workgroup memory and keeps, per row, a
 * running maximum `m` and sum `l` (the online softmax):
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
 * Every matrix product inside a tile (`Q K^T`, `P V`, `dO V^T`, `P^T dO`, `dS^T Q`, `dS K`) is an
 * 8 x 8 grid of invocations each owning a register tile of named accumulators (see
 * `_tile_gemm.ts`): on the software adapter loads per FMA decide the speed, and each load in
 * the source also costs JIT time. Tiles that must be shared between invocations (`P`, `dS`, the
 * row maxima and sums) go through workgroup memory.
 *
 * Causal masking is aligned to the end, as in the reference interpreter: key `j` is visible to
 * query `i` iff `j <= i + Sk - Sq`. A query that sees no key gets a zero output and `lse = -inf`.
 *
 * @module
 */

import type { Kernel, KernelPlan, KernelTarget } from "../kernel.ts";
import { declareTile, tileCells, tileGemm } from "./_tile_gemm.ts";
import { streamAttentionForwardKernel, streamRowsPerLane } from "./attention_stream.ts";
import { streamDkdvKernel, streamDqKernel, useStreamDkdv } from "./attention_stream_bwd.ts";
import {
  attentionBackwardBindings,
  attentionForwardBindings,
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
  /**
   * The adapter is a CPU implementation (lavapipe): large forward passes then use the
   * barrier-free streaming kernel of `attention_stream.ts` (see `streamRowsPerLane`).
   */
  readonly software?: boolean;
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
 * Causal workgroups stop at the last key their rows can see. On a software adapter
 * (`spec.software`), large problems get the streaming kernel of `attention_stream.ts` instead.
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
  const streamRows = streamRowsPerLane(spec, target);
  if (streamRows !== null) {
    const enable = enableFor(dtype, target, what);
    return {
      scratch: [],
      kernels: [streamAttentionForwardKernel(spec, target, streamRows, enable)],
    };
  }
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
  ${
    spec.causal
      ? `// Causal: the last query tiles see the most keys; schedule them first (for every head)
  // so that the light tiles fill the tail.
  let bh = wgIndex % ${bh}u;
  let row0 = (${qTiles - 1}u - wgIndex / ${bh}u) * ${br}u;`
      : `let bh = wgIndex / ${qTiles}u;
  let row0 = (wgIndex % ${qTiles}u) * ${br}u;`
  }
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
      bindings: attentionForwardBindings,
      workgroups: layout.workgroups,
    }],
  };
}

/**
 * `delta_i = sum_d dO_id O_id` and `lse_i log2(e)` per query row into the scratch `stats`
 * (`[2, B*H*Sq]` f32; a fully masked row's `-inf` becomes `+3e38`, so `exp2(s - lse)` is 0).
 * The first kernel of every backward plan (this module's and `attention_gpu_bwd.ts`).
 *
 * @example
 * ```ts ignore
 * const delta = attentionDeltaKernel(spec, target, spec.batch * spec.heads * spec.seqQ);
 * // bindings: in3 (out), in4 (lse), in5 (dOut), attentionStatsBuffer
 * ```
 */
export function attentionDeltaKernel(
  spec: AttentionSpec,
  target: KernelTarget,
  rows: number,
): Kernel {
  const { headDimV: dv, dtype } = spec;
  const layout = linearGrid(Math.ceil(rows / threads), target.maxWorkgroupsPerDimension);
  const code = `${enableFor(dtype, target, "attentionBackwardPlan")}${
    declareStorage(0, "o", dtype, false)
  }
${declareStorage(1, "lse", "u32", false)}
${declareStorage(2, "dout", dtype, false)}
${declareStorage(3, "stats", "f32", true)}

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${layout.prologue}
  let row = wgIndex * ${threads}u + lid;
  if (row >= ${rows}u) { return; }
  var acc = 0.0;
  for (var c = 0u; c < ${dv}u; c++) {
    acc = fma(f32(dout[row * ${dv}u + c]), f32(o[row * ${dv}u + c]), acc);
  }
  stats[row] = acc;
  let bits = lse[row];
  stats[${rows}u + row] = select(bitcast<f32>(bits) * ${
    f32Literal(log2e)
  }, 3.0e38, bits == ${negativeInfinityBits});
}
`;
  return {
    name: `attention_bwd_delta_dv${dv}_${dtype}`,
    code,
    bindings: [
      { buffer: "in3", access: "read" },
      { buffer: "in4", access: "read" },
      { buffer: "in5", access: "read" },
      { buffer: statsBuffer, access: "read_write" },
    ],
    workgroups: layout.workgroups,
  };
}

/**
 * The backward plans' scratch: `delta` then `lse log2 e` per query row (float32).
 *
 * @example
 * ```ts
 * import { attentionStatsBuffer } from "./attention.ts";
 * attentionStatsBuffer; // "attention_stats", the name kernels bind it by
 * ```
 */
export const attentionStatsBuffer = "attention_stats";
const statsBuffer = attentionStatsBuffer;

/** `p = exp2(s * scale log2 e - lse2)` where visible, and `ds = p (dp - delta)`, per tile cell. */
function probabilities(
  rows: number,
  cols: number,
  scoreScale: string,
  visible: (i: number, j: number) => string,
  lse2: (i: number, j: number) => string,
  delta: (i: number, j: number) => string,
): string {
  return tileCells(rows, cols).map(([i, j]) =>
    `let p${i}_${j} = select(0.0, exp2(fma(s${i}_${j}, ${scoreScale}, -${lse2(i, j)})), ${
      visible(i, j)
    });
    let ds${i}_${j} = p${i}_${j} * (dp${i}_${j} - ${delta(i, j)});`
  ).join("\n    ");
}

/**
 * dK and dV: one workgroup per tile of 32 keys (invocation rows `tr * 4 + i`), looping over
 * query tiles (FlashAttention-2, Algorithm 2): the transposed query and output-gradient tiles
 * feed both the recomputed `S^T`, `dP^T` tiles and, with `P^T` and `dS^T` in workgroup memory,
 * the `dV += P^T dO` and `dK += dS^T Q` tiles (columns `tc + 8h`).
 */
function dkdvKernel(spec: AttentionSpec, target: KernelTarget): Kernel {
  const what = "attentionBackwardPlan";
  const { batch, heads, seqQ: sq, seqK: sk, headDim: d, headDimV: dv, dtype } = spec;
  const bh = batch * heads;
  const rk = 4, bk = grid * rk;
  // Workgroup memory (f32): qt [D * BQ], dot [Dv * BQ], pt and dst [BQ * BK], st [2 * BQ].
  const bq = fitRows(4 * (d + dv + 2 * bk + 2), 0, sq, target, what);
  const rn = bq / grid;
  const rd = Math.ceil(d / grid), rv = Math.ceil(dv / grid);
  const kTiles = Math.ceil(sk / bk);
  const layout = linearGrid(bh * kTiles, target.maxWorkgroupsPerDimension);
  const query = (j: number) => `(qt0 + tc + ${grid * j}u)`;
  const visible = (i: number, j: number) => {
    const bounds = `${query(j)} < ${sq}u && kb + ${i}u < ${sk}u`;
    return spec.causal ? `${bounds} && kb + ${i + sq}u <= ${query(j)} + ${sk}u` : bounds;
  };
  const tile = { rowBase: `bh * ${sq}u`, first: "qt0", rows: bq, limit: sq, threads };
  const code = `${enableFor(dtype, target, what)}${declareStorage(0, "q", dtype, false)}
${declareStorage(1, "k", dtype, false)}
${declareStorage(2, "v", dtype, false)}
${declareStorage(3, "dout", dtype, false)}
${declareStorage(4, "stats", "f32", false)}
${declareStorage(5, "dk", dtype, true)}
${declareStorage(6, "dv", dtype, true)}
var<workgroup> qt: array<f32, ${d * bq}>;
var<workgroup> dOT: array<f32, ${dv * bq}>;
var<workgroup> pt: array<f32, ${bq * bk}>;
var<workgroup> dst: array<f32, ${bq * bk}>;
var<workgroup> st: array<f32, ${2 * bq}>;

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${layout.prologue}
  let bh = wgIndex / ${kTiles}u;
  let key0 = (wgIndex % ${kTiles}u) * ${bk}u;
  let tr = lid / ${grid}u;
  let tc = lid % ${grid}u;
  // This invocation's keys kb + i (clamped copies past Sk compute and store nothing).
  let kb = key0 + tr * ${rk}u;
  ${
    range(rk).map((i) => `let kr${i} = (bh * ${sk}u + ${clampIndex(`kb + ${i}u`, sk)}) * ${d}u;`)
      .join(" ")
  }
  ${
    range(rk).map((i) => `let vr${i} = (bh * ${sk}u + ${clampIndex(`kb + ${i}u`, sk)}) * ${dv}u;`)
      .join(" ")
  }
  ${declareTile("gk", rk, rd)}
  ${declareTile("gv", rk, rv)}
  // The first query that sees key0: i >= j - (Sk - Sq).
  let qStart = ${spec.causal ? `u32(max(i32(key0) + ${sq - sk}, 0))` : "0u"};
  for (var qt0 = qStart; qt0 < ${sq}u; qt0 += ${bq}u) {
    ${copyTile({ ...tile, dst: "qt", src: "q", width: d, transpose: true })}
    ${copyTile({ ...tile, dst: "dOT", src: "dout", width: dv, transpose: true })}
    for (var e = lid; e < ${bq}u; e += ${threads}u) {
      let r = ${clampIndex("qt0 + e", sq)};
      st[e] = stats[bh * ${sq}u + r];
      st[${bq}u + e] = stats[${bh * sq}u + bh * ${sq}u + r];
    }
    workgroupBarrier();
    // S^T = K Q^T and dP^T = V dO^T for keys kb + i and queries qt0 + tc + 8j.
    ${declareTile("s", rk, rn)}
    ${
    tileGemm("s", rk, rn, (i, t) =>
      `f32(k[kr${i} + ${t}])`, (j, t) =>
      `qt[${t} * ${bq}u + tc + ${grid * j}u]`, `${d}u`)
  }
    ${declareTile("dp", rk, rn)}
    ${
    tileGemm("dp", rk, rn, (i, t) =>
      `f32(v[vr${i} + ${t}])`, (j, t) =>
      `dOT[${t} * ${bq}u + tc + ${grid * j}u]`, `${dv}u`)
  }
    ${
    probabilities(
      rk,
      rn,
      f32Literal(spec.scale * log2e),
      visible,
      (_i, j) => `st[${bq}u + tc + ${grid * j}u]`,
      (_i, j) => `st[tc + ${grid * j}u]`,
    )
  }
    ${
    tileCells(rk, rn).map(([i, j]) =>
      `pt[(tc + ${grid * j}u) * ${bk}u + tr * ${rk}u + ${i}u] = p${i}_${j}; dst[(tc + ${
        grid * j
      }u) * ${bk}u + tr * ${rk}u + ${i}u] = ds${i}_${j};`
    ).join("\n    ")
  }
    workgroupBarrier();
    // dV += P^T dO and dK += dS^T Q over the tile's queries (columns tc + 8h).
    ${
    tileGemm(
      "gv",
      rk,
      rv,
      (i, r) => `pt[${r} * ${bk}u + tr * ${rk}u + ${i}u]`,
      (h, r) => `dOT[${clampIndex(`tc + ${grid * h}u`, dv)} * ${bq}u + ${r}]`,
      `min(${bq}u, ${sq}u - qt0)`,
    )
  }
    ${
    tileGemm(
      "gk",
      rk,
      rd,
      (i, r) => `dst[${r} * ${bk}u + tr * ${rk}u + ${i}u]`,
      (h, r) => `qt[${clampIndex(`tc + ${grid * h}u`, d)} * ${bq}u + ${r}]`,
      `min(${bq}u, ${sq}u - qt0)`,
    )
  }
    workgroupBarrier();
  }
  ${
    range(rk).map((i) =>
      `if (kb + ${i}u < ${sk}u) {
    let kAt = (bh * ${sk}u + kb + ${i}u) * ${d}u;
    let vAt = (bh * ${sk}u + kb + ${i}u) * ${dv}u;
    ${
        range(rd).map((h) =>
          `if (tc + ${grid * h}u < ${d}u) { dk[kAt + tc + ${grid * h}u] = ${dtype}(gk${i}_${h} * ${
            f32Literal(spec.scale)
          }); }`
        ).join("\n    ")
      }
    ${
        range(rv).map((h) =>
          `if (tc + ${grid * h}u < ${dv}u) { dv[vAt + tc + ${grid * h}u] = ${dtype}(gv${i}_${h}); }`
        ).join("\n    ")
      }
  }`
    ).join("\n  ")
  }
}
`;
  return {
    name: `attention_bwd_dkdv_${
      spec.causal ? "causal_" : ""
    }d${d}_dv${dv}_bk${bk}_bq${bq}_${dtype}`,
    code,
    bindings: attentionBackwardBindings("dkdv", statsBuffer),
    workgroups: layout.workgroups,
  };
}

/**
 * dQ: one workgroup per tile of 32 queries (invocation rows `tr * 4 + i`), looping over key
 * tiles: recomputes `S` and `dP` against the transposed key and value tiles, puts `dS` in
 * workgroup memory and accumulates `dQ += dS K` (columns `tc + 8h`) from the key tile.
 */
function dqKernel(spec: AttentionSpec, target: KernelTarget): Kernel {
  const what = "attentionBackwardPlan";
  const { batch, heads, seqQ: sq, seqK: sk, headDim: d, headDimV: dv, dtype } = spec;
  const bh = batch * heads;
  const rm = rowsPerThread(sq), br = grid * rm;
  // Workgroup memory (f32): kt [D * BK], vt [Dv * BK], dst [BK * BR].
  const bk = fitRows(4 * (d + dv + br), 0, sk, target, what);
  const rn = bk / grid;
  const rd = Math.ceil(d / grid);
  const qTiles = Math.ceil(sq / br);
  const layout = linearGrid(bh * qTiles, target.maxWorkgroupsPerDimension);
  const keyEnd = spec.causal
    ? `u32(clamp(i32(min(row0 + ${br}u, ${sq}u)) + ${sk - sq}, 0, ${sk}))`
    : `${sk}u`;
  const visible = (i: number, j: number) => {
    const key = `(kt0 + tc + ${grid * j}u)`;
    return spec.causal
      ? `${key} < ${sk}u && ${key} + ${sq}u <= rb + ${i + sk}u`
      : `${key} < ${sk}u`;
  };
  const tile = { rowBase: `bh * ${sk}u`, first: "kt0", rows: bk, limit: sk, threads };
  const code = `${enableFor(dtype, target, what)}${declareStorage(0, "q", dtype, false)}
${declareStorage(1, "k", dtype, false)}
${declareStorage(2, "v", dtype, false)}
${declareStorage(3, "dout", dtype, false)}
${declareStorage(4, "stats", "f32", false)}
${declareStorage(5, "dq", dtype, true)}
var<workgroup> kt: array<f32, ${d * bk}>;
var<workgroup> vt: array<f32, ${dv * bk}>;
var<workgroup> dst: array<f32, ${bk * br}>;

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${layout.prologue}
  ${
    spec.causal
      ? `// Causal: the last query tiles see the most keys; schedule them first (for every head)
  // so that the light tiles fill the tail.
  let bh = wgIndex % ${bh}u;
  let row0 = (${qTiles - 1}u - wgIndex / ${bh}u) * ${br}u;`
      : `let bh = wgIndex / ${qTiles}u;
  let row0 = (wgIndex % ${qTiles}u) * ${br}u;`
  }
  let tr = lid / ${grid}u;
  let tc = lid % ${grid}u;
  let rb = row0 + tr * ${rm}u;
  ${range(rm).map((i) => `let ri${i} = bh * ${sq}u + ${clampIndex(`rb + ${i}u`, sq)};`).join(" ")}
  ${
    range(rm).map((i) =>
      `let delta${i} = stats[ri${i}]; let lse${i} = stats[${bh * sq}u + ri${i}];`
    ).join("\n  ")
  }
  ${declareTile("gq", rm, rd)}
  let keyEnd = ${keyEnd};
  for (var kt0 = 0u; kt0 < keyEnd; kt0 += ${bk}u) {
    ${copyTile({ ...tile, dst: "kt", src: "k", width: d, transpose: true })}
    ${copyTile({ ...tile, dst: "vt", src: "v", width: dv, transpose: true })}
    workgroupBarrier();
    // S = Q K^T and dP = dO V^T for rows rb + i and keys kt0 + tc + 8j.
    ${declareTile("s", rm, rn)}
    ${
    tileGemm("s", rm, rn, (i, t) =>
      `f32(q[ri${i} * ${d}u + ${t}])`, (j, t) =>
      `kt[${t} * ${bk}u + tc + ${grid * j}u]`, `${d}u`)
  }
    ${declareTile("dp", rm, rn)}
    ${
    tileGemm("dp", rm, rn, (i, t) =>
      `f32(dout[ri${i} * ${dv}u + ${t}])`, (j, t) =>
      `vt[${t} * ${bk}u + tc + ${grid * j}u]`, `${dv}u`)
  }
    ${
    probabilities(
      rm,
      rn,
      f32Literal(spec.scale * log2e),
      visible,
      (i) => `lse${i}`,
      (i) => `delta${i}`,
    )
  }
    ${
    tileCells(rm, rn).map(([i, j]) =>
      `dst[(tc + ${grid * j}u) * ${br}u + tr * ${rm}u + ${i}u] = ds${i}_${j};`
    )
      .join("\n    ")
  }
    workgroupBarrier();
    // dQ += dS K over the tile's keys (columns tc + 8h).
    ${
    tileGemm(
      "gq",
      rm,
      rd,
      (i, key) => `dst[${key} * ${br}u + tr * ${rm}u + ${i}u]`,
      (h, key) => `kt[${clampIndex(`tc + ${grid * h}u`, d)} * ${bk}u + ${key}]`,
      `min(${bk}u, keyEnd - kt0)`,
    )
  }
    workgroupBarrier();
  }
  ${
    range(rm).map((i) =>
      `if (rb + ${i}u < ${sq}u) {
    ${
        range(rd).map((h) =>
          `if (tc + ${grid * h}u < ${d}u) { dq[ri${i} * ${d}u + tc + ${
            grid * h
          }u] = ${dtype}(gq${i}_${h} * ${f32Literal(spec.scale)}); }`
        ).join("\n    ")
      }
  }`
    ).join("\n  ")
  }
}
`;
  return {
    name: `attention_bwd_dq_${spec.causal ? "causal_" : ""}d${d}_dv${dv}_br${br}_bk${bk}_${dtype}`,
    code,
    bindings: attentionBackwardBindings("dq", statsBuffer),
    workgroups: layout.workgroups,
  };
}

/**
 * The kernels of the fused attention backward pass (FlashAttention-2, Algorithm 2).
 *
 * Inputs `in0 = q [B, H, Sq, D]`, `in1 = k [B, H, Sk, D]`, `in2 = v [B, H, Sk, Dv]`,
 * `in3 = out [B, H, Sq, Dv]` and `in4 = lse [B, H, Sq]` (float32) as produced by
 * {@link attentionForwardPlan} for the same spec, and `in5 = dOut [B, H, Sq, Dv]`; outputs
 * `out0 = dq`, `out1 = dk`, `out2 = dv` shaped like q, k and v, as the reference interpreter's
 * `attention_bwd`. (`out` enters only through `delta_i = dO_i . O_i`, which equals the
 * reference's `sum_j p_ij dP_ij` when `out` is the forward output.)
 *
 * Three kernels: `delta` and `lse log2 e` per query row into a scratch buffer; dK/dV per key
 * tile looping over query tiles; dQ per query tile looping over key tiles. Every output element
 * is written by exactly one invocation (no atomics, no `Sq x Sk` buffer); the scores are
 * recomputed in both of the last two kernels instead. On a software adapter (`spec.software`),
 * large problems get the streaming dK/dV and dQ kernels of `attention_stream_bwd.ts`.
 *
 * @example
 * ```ts ignore
 * import { attentionBackwardPlan } from "./attention.ts";
 * const plan = attentionBackwardPlan({
 *   batch: 1, heads: 8, seqQ: 1024, seqK: 1024, headDim: 64, headDimV: 64,
 *   scale: 1 / 8, causal: true, dtype: "f32",
 * }, target);
 * // plan.kernels: attention_bwd_delta_..., attention_bwd_dkdv_..., attention_bwd_dq_...
 * ```
 */
export function attentionBackwardPlan(spec: AttentionSpec, target: KernelTarget): KernelPlan {
  const what = "attentionBackwardPlan";
  checkSpec(spec, target, what);
  const { batch, heads, seqQ: sq, seqK: sk } = spec;
  const rows = batch * heads * sq;
  checkBindings("attention_bwd_dkdv", 7, target);
  const kernels: Kernel[] = [];
  if (rows > 0) kernels.push(attentionDeltaKernel(spec, target, rows));
  if (batch * heads * sk > 0) {
    kernels.push(
      useStreamDkdv(spec, target)
        ? streamDkdvKernel(spec, target, statsBuffer, enableFor(spec.dtype, target, what))
        : dkdvKernel(spec, target),
    );
  }
  if (rows > 0) {
    kernels.push(
      useStreamDkdv(spec, target)
        ? streamDqKernel(spec, target, statsBuffer, enableFor(spec.dtype, target, what))
        : dqKernel(spec, target),
    );
  }
  return {
    scratch: kernels.length > 0 ? [{ name: statsBuffer, bytes: Math.max(4, 8 * rows) }] : [],
    kernels,
  };
}
