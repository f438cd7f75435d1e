/**
 * The quantization kernels of the int8 attention forward (`attention_int8.ts`), and the padded
 * layout all of its kernels share. They compute the integers `kernels/reference/attention_int8.ts`
 * specifies, in the order of its sums (the means must agree bit for bit):
 * 1. `attn_i8_stats` (one workgroup per key block of 64): per-channel partial sums of k and v,
 *    and partial minima and maxima of v.
 * 2. `attn_i8_finalize` (one per (batch, head)): key means `mu_k`, value means `mu_v` and value
 *    ranges `r = max |v - mu_v|`.
 * 3. `attn_i8_quant_kv` (one per key block): the block's scale `max |k - mu_k| / 127` and the
 *    packed int8 keys and values (four per `i32`, rows padded to `Dp = 32 ceil(D / 32)` and
 *    `Dvp = 16 ceil(Dv / 16)` bytes, keys padded to a multiple of 64 with zeros; with
 *    `transposedValues`, `attn_i8_quant_kv_tv` stores each block's values as `Dvp` rows of its
 *    64 keys instead).
 * 4. `attn_i8_quant_q` (one per `64 / (Dp / 4)` rows): per-row scales (times `scale * log2 e`),
 *    int8 rows, and the row's score shift `scale q . mu_k` from the key smoothing (for the
 *    log-sum-exp).
 *
 * @module
 */

import type { KernelPlan, KernelTarget } from "../kernel.ts";
import { int8KeyBlock } from "../../reference/attention_int8.ts";
import type { AttentionSpec } from "./attention.ts";
import { int8PaddedDims } from "./attention_int8_layout.ts";
import {
  declareStorageArrays,
  f32Literal,
  linearGrid,
  negativeSentinel,
  range,
  readBinding,
  writeBinding,
} from "./_wgsl.ts";

/** Keys per block: the quantization block of the reference and the kernels' key tile. */
const bc = int8KeyBlock;

/**
 * Padded sizes shared by the int8 attention's kernels.
 *
 * @example
 * ```ts
 * import { int8Layout } from "./attention_int8_quant.ts";
 * const l = int8Layout({ batch: 1, heads: 2, seqQ: 100, seqK: 70, headDim: 40, headDimV: 40,
 *   scale: 0.15, causal: false, dtype: "f32" }, 4, 16);
 * [l.dp, l.dvp, l.nkb, l.sqp]; // [64, 48, 2, 128]
 * ```
 */
export interface Int8Layout {
  readonly bh: number;
  readonly sq: number;
  readonly sk: number;
  readonly d: number;
  readonly dv: number;
  /** `D` padded to whole 32-byte steps of the score product. */
  readonly dp: number;
  /** `Dv` padded to whole 16-column tiles of the value product. */
  readonly dvp: number;
  /** Key blocks. */
  readonly nkb: number;
  /** Keys padded to whole blocks: `nkb * 64`, the key rows per (batch, head) of the int8 keys. */
  readonly skp: number;
  /** Query rows per workgroup of the main kernel. */
  readonly rowsPerGroup: number;
  readonly qTiles: number;
  /** `Sq` padded to whole workgroups. */
  readonly sqp: number;
  /** Floats per (bh) of the statistics: `mu_k [Dp]`, ranges `[Dvp]`, `mu_v [Dvp]`. */
  readonly statWidth: number;
  /** Floats per key block of the partial statistics: sums of k `[D]`, of v, min v, max v `[Dv]`. */
  readonly partWidth: number;
}

/**
 * The layout of an int8 attention over `spec` whose main kernel runs `subgroups` subgroups of
 * `rowsPerSubgroup` query rows per workgroup.
 *
 * @example
 * ```ts
 * import { int8Layout } from "./attention_int8_quant.ts";
 * int8Layout({ batch: 2, heads: 48, seqQ: 17776, seqK: 17776, headDim: 64, headDimV: 64,
 *   scale: 0.125, causal: false, dtype: "f32" }, 4, 16).qTiles; // 278
 * ```
 */
export function int8Layout(
  spec: AttentionSpec,
  subgroups: number,
  rowsPerSubgroup: number,
): Int8Layout {
  const bh = spec.batch * spec.heads;
  const { dp, dvp } = int8PaddedDims(spec);
  const nkb = Math.ceil(spec.seqK / bc);
  const rowsPerGroup = rowsPerSubgroup * subgroups;
  const qTiles = Math.ceil(spec.seqQ / rowsPerGroup);
  return {
    bh,
    sq: spec.seqQ,
    sk: spec.seqK,
    d: spec.headDim,
    dv: spec.headDimV,
    dp,
    dvp,
    nkb,
    skp: nkb * bc,
    rowsPerGroup,
    qTiles,
    sqp: qTiles * rowsPerGroup,
    statWidth: dp + 2 * dvp,
    partWidth: spec.headDim + 3 * spec.headDimV,
  };
}

/** Kernel 1: per key block, partial per-channel sums of k and v and the extremes of v. */
function statsKernel(l: Int8Layout, target: KernelTarget): KernelPlan["kernels"][number] {
  const grid = linearGrid(l.bh * l.nkb, target.maxWorkgroupsPerDimension);
  const code = `${
    declareStorageArrays([{ name: "k", type: "f32" }, { name: "v", type: "f32" }, {
      name: "part",
      type: "f32",
      write: true,
    }])
  }

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${grid.prologue}
  let bh = wgIndex / ${l.nkb}u;
  let j0 = (wgIndex % ${l.nkb}u) * ${bc}u;
  let n = min(${bc}u, ${l.sk}u - j0);
  let base = wgIndex * ${l.partWidth}u;
  for (var c = lid; c < ${l.d + l.dv}u; c += 64u) {
    if (c < ${l.d}u) {
      var s = 0.0f;
      for (var j = 0u; j < n; j++) { s += k[(bh * ${l.sk}u + j0 + j) * ${l.d}u + c]; }
      part[base + c] = s;
    } else {
      let cv = c - ${l.d}u;
      var s = 0.0f;
      var lo = 3.0e38f;
      var hi = ${negativeSentinel};
      for (var j = 0u; j < n; j++) {
        let x = v[(bh * ${l.sk}u + j0 + j) * ${l.dv}u + cv];
        s += x;
        lo = min(lo, x);
        hi = max(hi, x);
      }
      part[base + c] = s;
      part[base + ${l.dv}u + c] = lo;
      part[base + ${2 * l.dv}u + c] = hi;
    }
  }
}
`;
  return {
    name: "attn_i8_stats",
    code,
    bindings: [readBinding("in1"), readBinding("in2"), writeBinding("i8_part")],
    workgroups: grid.workgroups,
  };
}

/** Kernel 2: per (bh), the key means, value ranges and value means from the partials. */
function finalizeKernel(l: Int8Layout, target: KernelTarget): KernelPlan["kernels"][number] {
  const grid = linearGrid(l.bh, target.maxWorkgroupsPerDimension);
  const code = `${
    declareStorageArrays([{ name: "part", type: "f32" }, {
      name: "stat",
      type: "f32",
      write: true,
    }])
  }

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${grid.prologue}
  let bh = wgIndex;
  let out = bh * ${l.statWidth}u;
  let first = bh * ${l.nkb}u * ${l.partWidth}u;
  for (var c = lid; c < ${l.dp + l.dvp}u; c += 64u) {
    if (c < ${l.dp}u) {
      var s = 0.0f;
      if (c < ${l.d}u) {
        for (var t = 0u; t < ${l.nkb}u; t++) { s += part[first + t * ${l.partWidth}u + c]; }
      }
      stat[out + c] = s / ${f32Literal(Math.max(l.sk, 1))};
    } else {
      let cv = c - ${l.dp}u;
      var r = 0.0f;
      var mu = 0.0f;
      if (cv < ${l.dv}u) {
        let at = first + ${l.d}u + cv;
        var s = 0.0f;
        var lo = 3.0e38f;
        var hi = ${negativeSentinel};
        for (var t = 0u; t < ${l.nkb}u; t++) {
          s += part[at + t * ${l.partWidth}u];
          lo = min(lo, part[at + t * ${l.partWidth}u + ${l.dv}u]);
          hi = max(hi, part[at + t * ${l.partWidth}u + ${2 * l.dv}u]);
        }
        mu = s / ${f32Literal(Math.max(l.sk, 1))};
        r = max(hi - mu, mu - lo);
      }
      stat[out + ${l.dp}u + cv] = r;
      stat[out + ${l.dp + l.dvp}u + cv] = mu;
    }
  }
}
`;
  return {
    name: "attn_i8_finalize",
    code,
    bindings: [readBinding("i8_part"), writeBinding("i8_stat")],
    workgroups: grid.workgroups,
  };
}

/** WGSL that packs four quantized values `x * inv` (rounded, clamped to +-127) into an i32. */
function packQuads(values: readonly string[], inverse: readonly string[]): string {
  const q = values.map((x, i) => `i32(clamp(round(${x} * ${inverse[i]}), -127.0f, 127.0f))`);
  return `bitcast<i32>(pack4xI8(vec4<i32>(${q.join(", ")})))`;
}

/**
 * Kernel 3: per key block, its key scale and the packed int8 keys and values. The 64
 * invocations walk the block's packed words in order (word `w` of key `j` is item `j * Dp / 4 +
 * w`), so neighbouring invocations read neighbouring floats and write neighbouring words.
 */
function quantKvKernel(
  l: Int8Layout,
  target: KernelTarget,
  transposedValues: boolean,
): KernelPlan["kernels"][number] {
  const grid = linearGrid(l.bh * l.nkb, target.maxWorkgroupsPerDimension);
  const kWords = l.dp / 4, vWords = l.dvp / 4;
  // Channels past D (or Dv) quantize to zero; their index is clamped so that no load leaves the
  // row (WGSL's select evaluates both operands, and robustness is off).
  const kVal = (c: string) =>
    `select(0.0f, k[kRow + min(${c}, ${l.d - 1}u)] - stat[sb + ${c}], valid && ${c} < ${l.d}u)`;
  const vVal = (c: string) =>
    `select(0.0f, v[vRow + min(${c}, ${l.dv - 1}u)] - stat[sb + ${
      l.dp + l.dvp
    }u + ${c}], valid && ${c} < ${l.dv}u)`;
  const vInv = (c: string) => `vInverse(stat[sb + ${l.dp}u + ${c}])`;
  const valueLoop = `for (var i = lid; i < ${bc * vWords}u; i += 64u) {
    let key = t * ${bc}u + i / ${vWords}u;
    let c = 4u * (i % ${vWords}u);
    let valid = key < ${l.sk}u;
    let vRow = select(0u, (bh * ${l.sk}u + key) * ${l.dv}u, valid);
    v8[(bh * ${l.skp}u + key) * ${vWords}u + i % ${vWords}u] = ${
    packQuads(range(4).map((u) => vVal(`(c + ${u}u)`)), range(4).map((u) => vInv(`(c + ${u}u)`)))
  };
  }`;
  // Transposed (V^T per block: channel c's keys 4j .. 4j + 3 in word c * 16 + j): neighbouring
  // invocations take neighbouring channels of the same four keys, so the float reads stay
  // contiguous; each word packs one channel of four keys.
  const vValAt = (u: number) =>
    `select(0.0f, v[select(0u, (bh * ${l.sk}u + key0 + ${u}u) * ${l.dv}u, key0 + ${u}u < ${l.sk}u) + min(c, ${
      l.dv - 1
    }u)] - stat[sb + ${l.dp + l.dvp}u + c], key0 + ${u}u < ${l.sk}u && c < ${l.dv}u)`;
  const transposedValueLoop = `for (var i = lid; i < ${bc * vWords}u; i += 64u) {
    let c = i % ${l.dvp}u;
    let quad = i / ${l.dvp}u;
    let key0 = t * ${bc}u + 4u * quad;
    let inv = vInverse(stat[sb + ${l.dp}u + c]);
    v8[(bh * ${l.nkb}u + t) * ${bc * vWords}u + c * ${bc / 4}u + quad] = ${
    packQuads(range(4).map(vValAt), ["inv", "inv", "inv", "inv"])
  };
  }`;
  const code = `${
    declareStorageArrays([
      { name: "k", type: "f32" },
      { name: "v", type: "f32" },
      { name: "stat", type: "f32" },
      { name: "k8", type: "i32", write: true },
      { name: "ks", type: "f32", write: true },
      { name: "v8", type: "i32", write: true },
    ])
  }
var<workgroup> red: array<f32, 64>;

fn vInverse(r: f32) -> f32 { return select(0.0f, 127.0f / r, r > 0.0f); }

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${grid.prologue}
  let bh = wgIndex / ${l.nkb}u;
  let t = wgIndex % ${l.nkb}u;
  let sb = bh * ${l.statWidth}u;
  var amax = 0.0f;
  for (var i = lid; i < ${bc * kWords}u; i += 64u) {
    let key = t * ${bc}u + i / ${kWords}u;
    let c0 = 4u * (i % ${kWords}u);
    if (key < ${l.sk}u) {
      let kRow = (bh * ${l.sk}u + key) * ${l.d}u;
      for (var c = c0; c < min(c0 + 4u, ${l.d}u); c++) {
        amax = max(amax, abs(k[kRow + c] - stat[sb + c]));
      }
    }
  }
  red[lid] = amax;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let blockMax = red[0];
  let inv = select(0.0f, 127.0f / blockMax, blockMax > 0.0f);
  if (lid == 0u) { ks[bh * ${l.nkb}u + t] = blockMax / 127.0f; }
  for (var i = lid; i < ${bc * kWords}u; i += 64u) {
    let key = t * ${bc}u + i / ${kWords}u;
    let c = 4u * (i % ${kWords}u);
    let valid = key < ${l.sk}u;
    let kRow = select(0u, (bh * ${l.sk}u + key) * ${l.d}u, valid);
    k8[(bh * ${l.skp}u + key) * ${kWords}u + i % ${kWords}u] = ${
    packQuads(range(4).map((u) => kVal(`(c + ${u}u)`)), ["inv", "inv", "inv", "inv"])
  };
  }
  ${transposedValues ? transposedValueLoop : valueLoop}
}
`;
  return {
    name: transposedValues ? "attn_i8_quant_kv_tv" : "attn_i8_quant_kv",
    code,
    bindings: [
      readBinding("in1"),
      readBinding("in2"),
      readBinding("i8_stat"),
      writeBinding("i8_k"),
      writeBinding("i8_ks"),
      writeBinding("i8_v"),
    ],
    workgroups: grid.workgroups,
  };
}

/**
 * Kernel 4: per query row, its scale (in log2 score units) and packed int8 row. `Dp / 4`
 * neighbouring invocations share a row, one packed word each (up to 64, then each takes every
 * 64th word), so that loads and stores are contiguous; the row's maximum and score shift are
 * joined in workgroup memory.
 */
function quantQKernel(
  l: Int8Layout,
  spec: AttentionSpec,
  target: KernelTarget,
): KernelPlan["kernels"][number] {
  const words = l.dp / 4;
  const perRow = Math.min(words, 64), rows = Math.floor(64 / perRow);
  const tiles = Math.ceil(l.sqp / rows);
  const grid = linearGrid(l.bh * tiles, target.maxWorkgroupsPerDimension);
  const qVal = (c: string) =>
    `select(0.0f, q[qRow + min(${c}, ${l.d - 1}u)], valid && ${c} < ${l.d}u)`;
  const code = `${
    declareStorageArrays([
      { name: "q", type: "f32" },
      { name: "stat", type: "f32" },
      { name: "q8", type: "i32", write: true },
      { name: "qs", type: "f32", write: true },
    ])
  }
var<workgroup> redMax: array<f32, 64>;
var<workgroup> redShift: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${grid.prologue}
  let bh = wgIndex / ${tiles}u;
  let rr = lid / ${perRow}u;
  let wi = lid % ${perRow}u;
  let row = (wgIndex % ${tiles}u) * ${rows}u + rr;
  let inRange = rr < ${rows}u && row < ${l.sqp}u;
  let valid = inRange && row < ${l.sq}u;
  let qRow = select(0u, (bh * ${l.sq}u + row) * ${l.d}u, valid);
  var amax = 0.0f;
  // The key smoothing shifts this row's scores by -scale q . mu_k: kept for the log-sum-exp.
  var shift = 0.0f;
  if (valid) {
    for (var w = wi; w < ${words}u; w += ${perRow}u) {
      for (var c = 4u * w; c < min(4u * w + 4u, ${l.d}u); c++) {
        amax = max(amax, abs(q[qRow + c]));
        shift += q[qRow + c] * stat[bh * ${l.statWidth}u + c];
      }
    }
  }
  redMax[lid] = amax;
  redShift[lid] = shift;
  workgroupBarrier();
  if (inRange && wi == 0u) {
    var a = 0.0f;
    var sh = 0.0f;
    for (var u = 0u; u < ${perRow}u; u++) {
      a = max(a, redMax[lid + u]);
      sh += redShift[lid + u];
    }
    redMax[lid] = a;
    redShift[lid] = sh;
  }
  workgroupBarrier();
  if (!inRange) { return; }
  let rowMax = redMax[rr * ${perRow}u];
  let inv = select(0.0f, 127.0f / rowMax, rowMax > 0.0f);
  if (wi == 0u) {
    qs[(bh * ${l.sqp}u + row) * 2u] = (rowMax / 127.0f) * ${
    f32Literal(Math.fround(spec.scale * Math.LOG2E))
  };
    qs[(bh * ${l.sqp}u + row) * 2u + 1u] = redShift[rr * ${perRow}u] * ${
    f32Literal(Math.fround(spec.scale))
  };
  }
  let out = (bh * ${l.sqp}u + row) * ${words}u;
  for (var w = wi; w < ${words}u; w += ${perRow}u) {
    let c = 4u * w;
    q8[out + w] = ${
    packQuads(range(4).map((i) => qVal(`(c + ${i}u)`)), ["inv", "inv", "inv", "inv"])
  };
  }
}
`;
  return {
    name: "attn_i8_quant_q",
    code,
    bindings: [
      readBinding("in0"),
      readBinding("i8_stat"),
      writeBinding("i8_q"),
      writeBinding("i8_qs"),
    ],
    workgroups: grid.workgroups,
  };
}

/**
 * The quantization kernels, in order (none of the key kernels when `Sk = 0`), for a layout;
 * `transposedValues` stores each key block's int8 values channel by channel (`V^T`, see
 * `Int8AttentionOptions.transposedValues`).
 *
 * @example
 * ```ts ignore
 * import { int8Layout, int8QuantizationKernels } from "./attention_int8_quant.ts";
 * int8QuantizationKernels(int8Layout(spec, 4, 16), spec, target).map((k) => k.name);
 * // ["attn_i8_stats", "attn_i8_finalize", "attn_i8_quant_kv", "attn_i8_quant_q"]
 * ```
 */
export function int8QuantizationKernels(
  l: Int8Layout,
  spec: AttentionSpec,
  target: KernelTarget,
  transposedValues = false,
): KernelPlan["kernels"] {
  return [
    ...(l.nkb > 0
      ? [
        statsKernel(l, target),
        finalizeKernel(l, target),
        quantKvKernel(l, target, transposedValues),
      ]
      : []),
    quantQKernel(l, spec, target),
  ];
}

/**
 * The scratch buffers the int8 attention's kernels share: partial and final statistics, the
 * packed int8 q, k and v, and their scales.
 *
 * @example
 * ```ts
 * import { int8Layout, int8Scratch } from "./attention_int8_quant.ts";
 * int8Scratch(int8Layout({ batch: 1, heads: 1, seqQ: 16, seqK: 64, headDim: 64, headDimV: 64,
 *   scale: 0.125, causal: false, dtype: "f32" }, 1, 16)).map((s) => s.name);
 * // ["i8_part", "i8_stat", "i8_q", "i8_qs", "i8_k", "i8_ks", "i8_v"]
 * ```
 */
export function int8Scratch(l: Int8Layout): KernelPlan["scratch"] {
  return [
    { name: "i8_part", bytes: Math.max(1, l.bh * l.nkb * l.partWidth) * 4 },
    { name: "i8_stat", bytes: l.bh * l.statWidth * 4 },
    { name: "i8_q", bytes: l.bh * l.sqp * l.dp },
    { name: "i8_qs", bytes: l.bh * l.sqp * 8 },
    { name: "i8_k", bytes: Math.max(4, l.bh * l.skp * l.dp) },
    { name: "i8_ks", bytes: Math.max(1, l.bh * l.nkb) * 4 },
    { name: "i8_v", bytes: Math.max(4, l.bh * l.skp * l.dvp) },
  ];
}
