/**
 * The fused attention backward pass for real GPUs (FlashAttention-2, Dao 2023, Algorithm 2),
 * with the register blocking of the GPU forward kernel (`attention_gpu.ts`): every
 * workgroup-memory read is a `vec4`, and each invocation owns a slab of every tile product it
 * takes part in. Like the portable plan (`attention.ts`) it recomputes the probabilities
 * `p = 2^(s scale log2 e - lse log2 e)` from the saved log-sum-exp and uses
 * `delta_i = dO_i . O_i` (the same first kernel, `attentionDeltaKernel`), then:
 *
 * - **dK and dV**, one workgroup of 128 invocations `(ty, tx) = (lid / 8, lid % 8)` per tile
 *   of 64 keys, looping over tiles of 64 queries. Invocation `(ty, tx)` owns keys `4 ty + i`
 *   (`i < 4`), queries `4 (tx + 8 h) + c` (`h < 2`) of `S^T`/`dP^T`, and gradient columns
 *   `4 (tx + 8 u) + c`. Per query tile: `Q^T` and `dO^T` to workgroup memory; `S^T = K Q^T`
 *   (key rows read as `vec4`s from storage, shared by the 8 invocations of a `ty`) and
 *   `P^T`; `P` replaces `Q^T` (`P[query][key / 4]`, one `vec4` per invocation and query);
 *   `dV += P^T dO` (`dO` rows from storage); `dP^T = V dO^T`, `dS^T = P^T (dP^T - delta)`
 *   over `P`; `dK += dS^T Q`. Six barriers per query tile.
 * - **dQ**, one workgroup of 64 invocations per tile of 64 queries (the forward kernel's
 *   layout: rows `4 (ty + 8 g) + r`, keys `4 (tx + 8 h) + c`), looping over tiles of 64 keys:
 *   `K^T` and `V^T` to workgroup memory; `S = Q K^T`, `P`, `dP = dO V^T` (two halves of the
 *   key tile, to bound registers) and `dS`; then `dS^T` replaces `V^T` and `K` (key-major)
 *   replaces `K^T`, and `dQ += dS K`. Four barriers per key tile.
 *
 * Workgroup memory: dK/dV `(max(D, 64) + Dv) * 64 * 4` bytes, dQ `(D + max(Dv, 64)) * 64 * 4`:
 * 32 KB at `D = Dv = 64`, so it fits every adapter that allows 32 KB (lavapipe included, where
 * the tests run it). Float32 storage, `D` and `Dv` 32 or 64 (see
 * {@link gpuAttentionBackwardApplies}); other cases use `attentionBackwardPlan`. Inputs and
 * outputs are those of `attentionBackwardPlan`: `in0..in2 = q, k, v`, `in3 = out`,
 * `in4 = lse`, `in5 = dOut`; `out0..out2 = dq, dk, dv`.
 *
 * @module
 */

import type { Kernel, KernelPlan, KernelTarget } from "../kernel.ts";
import { attentionDeltaKernel, type AttentionSpec, attentionStatsBuffer } from "./attention.ts";
import {
  attentionBackwardBindings,
  checkBindings,
  f32Literal,
  linearGrid,
  range,
} from "./_wgsl.ts";

/** Keys and queries per tile, in both kernels. */
const tile = 64;
const q4 = ["x", "y", "z", "w"];

/** Workgroup memory bytes of the dK/dV and the dQ kernels. */
function sharedBytes(spec: AttentionSpec): { dkdv: number; dq: number } {
  const { headDim: d, headDimV: dv } = spec;
  return {
    dkdv: (Math.max(d, tile) + dv) * tile * 4,
    dq: (d + Math.max(dv, tile)) * tile * 4,
  };
}

/**
 * Whether {@link gpuAttentionBackwardPlan} handles a spec on a target: float32 storage, `D` and
 * `Dv` 32 or 64, both kernels' workgroup memory within the limit, 128 invocations per workgroup
 * and 7 storage buffers.
 *
 * @example
 * ```ts
 * import { gpuAttentionBackwardApplies } from "./attention_gpu_bwd.ts";
 * const spec = { batch: 1, heads: 1, seqQ: 8, seqK: 8, headDim: 64, headDimV: 64,
 *   scale: 0.125, causal: false, dtype: "f32" as const };
 * gpuAttentionBackwardApplies(spec, { shaderF16: false, subgroups: false,
 *   maxWorkgroupsPerDimension: 65535, maxWorkgroupStorageBytes: 32768,
 *   maxInvocationsPerWorkgroup: 256, maxStorageBuffersPerStage: 8 }); // true
 * ```
 */
export function gpuAttentionBackwardApplies(spec: AttentionSpec, target: KernelTarget): boolean {
  const bytes = sharedBytes(spec);
  return spec.dtype === "f32" && (spec.headDim === 32 || spec.headDim === 64) &&
    (spec.headDimV === 32 || spec.headDimV === 64) && spec.seqQ > 0 && spec.seqK > 0 &&
    Math.max(bytes.dkdv, bytes.dq) <= target.maxWorkgroupStorageBytes &&
    target.maxInvocationsPerWorkgroup >= 128 && target.maxStorageBuffersPerStage >= 7;
}

/**
 * The GPU backward kernels (see the module documentation): `delta`, dK/dV, dQ, with the
 * `delta`/`lse` scratch. Throws when {@link gpuAttentionBackwardApplies} is false.
 *
 * @example
 * ```ts ignore
 * import { gpuAttentionBackwardPlan } from "./attention_gpu_bwd.ts";
 * const plan = gpuAttentionBackwardPlan({
 *   batch: 2, heads: 48, seqQ: 17776, seqK: 17776, headDim: 64, headDimV: 64,
 *   scale: 0.125, causal: false, dtype: "f32",
 * }, target);
 * // plan.kernels: attention_bwd_delta_..., attention_bwd_dkdv_gpu_..., attention_bwd_dq_gpu_...
 * ```
 */
export function gpuAttentionBackwardPlan(spec: AttentionSpec, target: KernelTarget): KernelPlan {
  if (!gpuAttentionBackwardApplies(spec, target)) {
    const bytes = sharedBytes(spec);
    throw new Error(
      `gpuAttentionBackwardPlan: needs float32, headDim and headDimV 32 or 64, ` +
        `${Math.max(bytes.dkdv, bytes.dq)} bytes of workgroup memory and 128 invocations; got ` +
        `dtype "${spec.dtype}", headDim ${spec.headDim}, headDimV ${spec.headDimV}, seqQ ` +
        `${spec.seqQ}, seqK ${spec.seqK}, adapter limits ${target.maxWorkgroupStorageBytes} ` +
        `bytes and ${target.maxInvocationsPerWorkgroup} invocations`,
    );
  }
  checkBindings("attention_bwd_dkdv_gpu", 7, target);
  const rows = spec.batch * spec.heads * spec.seqQ;
  return {
    scratch: [{ name: attentionStatsBuffer, bytes: Math.max(4, 8 * rows) }],
    kernels: [
      attentionDeltaKernel(spec, target, rows),
      dkdvKernel(spec, target),
      dqKernel(spec, target),
    ],
  };
}

/** `name` as WGSL: a `vec4<f32>` storage array (read-only unless `write`). */
function vec4Storage(binding: number, name: string, write = false): string {
  return `@group(0) @binding(${binding}) var<storage, ${
    write ? "read_write" : "read"
  }> ${name}: array<vec4<f32>>;`;
}

const header = (outputs: string[]) =>
  [
    vec4Storage(0, "q"),
    vec4Storage(1, "k"),
    vec4Storage(2, "v"),
    vec4Storage(3, "dout"),
    "// delta per query row, then lse log2(e) per query row.",
    "@group(0) @binding(4) var<storage, read> stats: array<f32>;",
    ...outputs.map((name, i) => vec4Storage(5 + i, name, true)),
  ].join("\n");

/** dK and dV per tile of 64 keys (see the module documentation). */
function dkdvKernel(spec: AttentionSpec, target: KernelTarget): Kernel {
  const { batch, heads, seqQ: sq, seqK: sk, headDim: d, headDimV: dv } = spec;
  const bh = batch * heads, rows = bh * sq;
  const d4 = d / 4, dv4 = dv / 4, nd = d / 32, nv = dv / 32;
  const kTiles = Math.ceil(sk / tile);
  const layout = linearGrid(bh * kTiles, target.maxWorkgroupsPerDimension);
  const scoreScale = f32Literal(spec.scale * Math.LOG2E);
  const keys = range(4), queries = range(8);
  const keyOf = (i: number) => `(key0 + ty * 4u + ${i}u)`;
  /** The local index of query j (0..63) and its global index. */
  const qLocal = (j: number) => `((tx + ${8 * (j >> 2)}u) * 4u + ${j & 3}u)`;
  const qOf = (j: number) => `(q0 + ${qLocal(j)})`;
  const visible = (i: number, j: number) => {
    const bounds = `${qOf(j)} < ${sq}u && ${keyOf(i)} < ${sk}u`;
    return spec.causal ? `${bounds} && ${keyOf(i)} + ${sq}u <= ${qOf(j)} + ${sk}u` : bounds;
  };
  const transposedTile = (src: string, dst: string, width4: number) =>
    [
      `let at = (bh * ${sq}u + min(q0 + e, ${sq - 1}u)) * ${width4}u;`,
      ...range(width4).map((w) =>
        `let x${w} = select(vec4<f32>(0.0f), ${src}[at + ${w}u], q0 + e < ${sq}u);`
      ),
      ...range(width4).flatMap((w) =>
        range(4).map((c) =>
          `${dst}[${(4 * w + c) * (tile / 4)}u + e / 4u][e % 4u] = x${w}.${q4[c]};`
        )
      ),
    ].join("\n      ");
  const code = `${header(["dk", "dv"])}
// Q^T [d][query / 4] for the score tile; then P, and later dS, as [query][key / 4].
var<workgroup> qp: array<vec4<f32>, ${Math.max(d, tile) * (tile / 4)}>;
// dO^T [e][query / 4].
var<workgroup> ot: array<vec4<f32>, ${dv * (tile / 4)}>;

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${layout.prologue}
  ${
    spec.causal
      ? `// Causal: the first key tiles are seen by the most queries; schedule them first.
  let bh = wgIndex % ${bh}u;
  let key0 = (wgIndex / ${bh}u) * ${tile}u;`
      : `let bh = wgIndex / ${kTiles}u;
  let key0 = (wgIndex % ${kTiles}u) * ${tile}u;`
  }
  let ty = lid / 8u;
  let tx = lid % 8u;
  // This invocation's keys (clamped copies past Sk compute and store nothing).
  ${
    keys.map((i) => `let kr${i} = (bh * ${sk}u + min(${keyOf(i)}, ${sk - 1}u)) * ${d4}u;`).join(" ")
  }
  ${
    keys.map((i) => `let vr${i} = (bh * ${sk}u + min(${keyOf(i)}, ${sk - 1}u)) * ${dv4}u;`).join(
      " ",
    )
  }
  ${keys.map((i) => range(4 * nd).map((c) => `var gk${i}_${c} = 0.0f;`).join(" ")).join("\n  ")}
  ${keys.map((i) => range(4 * nv).map((c) => `var gv${i}_${c} = 0.0f;`).join(" ")).join("\n  ")}
  // The first query that sees key0: i >= j - (Sk - Sq).
  let qStart = ${spec.causal ? `u32(max(i32(key0) + ${sq - sk}, 0))` : "0u"};
  for (var q0 = qStart; q0 < ${sq}u; q0 += ${tile}u) {
    workgroupBarrier(); // the previous tile's dS reads are done
    // Q^T and dO^T: invocation e < 64 takes query e's q row, e >= 64 query e - 64's dO row.
    if (lid < ${tile}u) {
      let e = lid;
      ${transposedTile("q", "qp", d4)}
    } else {
      let e = lid - ${tile}u;
      ${transposedTile("dout", "ot", dv4)}
    }
    workgroupBarrier();
    // S^T = K Q^T for keys 4 ty + i and queries 4 (tx + 8 h) + c.
    ${keys.map((i) => queries.map((j) => `var s${i}_${j} = 0.0f;`).join(" ")).join("\n    ")}
    for (var w = 0u; w < ${d4}u; w++) {
      ${keys.map((i) => `let kv${i} = k[kr${i} + w];`).join(" ")}
      ${
    range(4).map((dd) =>
      [
        `{ let qa = qp[(w * 4u + ${dd}u) * ${tile / 4}u + tx]; let qb = qp[(w * 4u + ${dd}u) * ${
          tile / 4
        }u + tx + 8u];`,
        ...keys.flatMap((i) =>
          queries.map((j) =>
            `s${i}_${j} = fma(kv${i}.${q4[dd]}, ${j < 4 ? "qa" : "qb"}.${q4[j & 3]}, s${i}_${j});`
          )
        ),
        "}",
      ].join("\n      ")
    ).join("\n      ")
  }
    }
    ${
    queries.map((j) => `let lq${j} = stats[${rows}u + bh * ${sq}u + min(${qOf(j)}, ${sq - 1}u)];`)
      .join("\n    ")
  }
    ${
    keys.flatMap((i) =>
      queries.map((j) =>
        `let p${i}_${j} = select(0.0f, exp2(fma(s${i}_${j}, ${scoreScale}, -lq${j})), ${
          visible(i, j)
        });`
      )
    ).join("\n    ")
  }
    workgroupBarrier(); // Q^T is no longer read: P replaces it
    ${
    queries.map((j) =>
      `qp[${qLocal(j)} * 16u + ty] = vec4<f32>(${keys.map((i) => `p${i}_${j}`).join(", ")});`
    ).join("\n    ")
  }
    workgroupBarrier();
    // dV += P^T dO over the tile's queries (dO rows from storage; rows past Sq have p = 0).
    let qn = min(${tile}u, ${sq}u - q0);
    for (var t = 0u; t < qn; t++) {
      let pv = qp[t * 16u + ty];
      let orow = (bh * ${sq}u + q0 + t) * ${dv4}u;
      ${range(nv).map((u) => `let o${u} = dout[orow + tx + ${8 * u}u];`).join(" ")}
      ${
    keys.flatMap((i) =>
      range(4 * nv).map((c) =>
        `gv${i}_${c} = fma(pv.${q4[i]}, o${c >> 2}.${q4[c & 3]}, gv${i}_${c});`
      )
    ).join("\n      ")
  }
    }
    workgroupBarrier(); // P is no longer read: dS replaces it
    // dP^T = V dO^T in two halves of the queries, then dS^T = P^T (dP^T - delta).
    ${
    range(2).map((h) =>
      `{
      ${keys.map((i) => range(4).map((c) => `var g${i}_${c} = 0.0f;`).join(" ")).join("\n      ")}
      for (var w = 0u; w < ${dv4}u; w++) {
        ${keys.map((i) => `let vv${i} = v[vr${i} + w];`).join(" ")}
        ${
        range(4).map((dd) =>
          [
            `{ let oa = ot[(w * 4u + ${dd}u) * ${tile / 4}u + tx + ${8 * h}u];`,
            ...keys.flatMap((i) =>
              range(4).map((c) => `g${i}_${c} = fma(vv${i}.${q4[dd]}, oa.${q4[c]}, g${i}_${c});`)
            ),
            "}",
          ].join("\n        ")
        ).join("\n        ")
      }
      }
      ${
        range(4).map((c) => {
          const j = 4 * h + c;
          return `{ let dl = stats[bh * ${sq}u + min(${qOf(j)}, ${sq - 1}u)];
        qp[${qLocal(j)} * 16u + ty] = vec4<f32>(${
            keys.map((i) => `p${i}_${j} * (g${i}_${c} - dl)`).join(", ")
          }); }`;
        }).join("\n      ")
      }
    }`
    ).join("\n    ")
  }
    workgroupBarrier();
    // dK += dS^T Q over the tile's queries (q rows from storage).
    for (var t = 0u; t < qn; t++) {
      let dsv = qp[t * 16u + ty];
      let qrow = (bh * ${sq}u + q0 + t) * ${d4}u;
      ${range(nd).map((u) => `let qq${u} = q[qrow + tx + ${8 * u}u];`).join(" ")}
      ${
    keys.flatMap((i) =>
      range(4 * nd).map((c) =>
        `gk${i}_${c} = fma(dsv.${q4[i]}, qq${c >> 2}.${q4[c & 3]}, gk${i}_${c});`
      )
    ).join("\n      ")
  }
    }
  }
  ${
    keys.map((i) =>
      `if (${keyOf(i)} < ${sk}u) {
    let kAt = (bh * ${sk}u + ${keyOf(i)}) * ${d4}u;
    let vAt = (bh * ${sk}u + ${keyOf(i)}) * ${dv4}u;
    ${
        range(nd).map((u) =>
          `dk[kAt + tx + ${8 * u}u] = vec4<f32>(${
            range(4).map((c) => `gk${i}_${4 * u + c}`).join(", ")
          }) * ${f32Literal(spec.scale)};`
        ).join("\n    ")
      }
    ${
        range(nv).map((u) =>
          `dv[vAt + tx + ${8 * u}u] = vec4<f32>(${
            range(4).map((c) => `gv${i}_${4 * u + c}`).join(", ")
          });`
        ).join("\n    ")
      }
  }`
    ).join("\n  ")
  }
}
`;
  return {
    name: `attention_bwd_dkdv_gpu_${spec.causal ? "causal_" : ""}d${d}_dv${dv}`,
    code,
    bindings: attentionBackwardBindings("dkdv", attentionStatsBuffer),
    workgroups: layout.workgroups,
  };
}

/** dQ per tile of 64 queries (see the module documentation). */
function dqKernel(spec: AttentionSpec, target: KernelTarget): Kernel {
  const { batch, heads, seqQ: sq, seqK: sk, headDim: d, headDimV: dv } = spec;
  const bh = batch * heads, rows = bh * sq;
  const d4 = d / 4, dv4 = dv / 4, nd = d / 32;
  const qTiles = Math.ceil(sq / tile);
  const layout = linearGrid(bh * qTiles, target.maxWorkgroupsPerDimension);
  const scoreScale = f32Literal(spec.scale * Math.LOG2E);
  const rowsOf = range(8), keys = range(8);
  const rowOf = (i: number) => `(row0 + (ty + ${8 * (i >> 2)}u) * 4u + ${i & 3}u)`;
  /** The local index of key j (0..63) and its global index. */
  const kLocal = (j: number) => `((tx + ${8 * (j >> 2)}u) * 4u + ${j & 3}u)`;
  const keyOf = (j: number) => `(kt0 + ${kLocal(j)})`;
  const keyEnd = spec.causal
    ? `u32(clamp(i32(min(row0 + ${tile}u, ${sq}u)) + ${sk - sq}, 0, ${sk}))`
    : `${sk}u`;
  const visible = (i: number, j: number) =>
    spec.causal
      ? `${keyOf(j)} < ${sk}u && ${keyOf(j)} + ${sq}u <= ${rowOf(i)} + ${sk}u`
      : `${keyOf(j)} < ${sk}u`;
  const code = `${header(["dq"])}
// K^T [d][key / 4] for the score tile; then K [key][d / 4] for dQ += dS K.
var<workgroup> kt: array<vec4<f32>, ${d * (tile / 4)}>;
// V^T [e][key / 4] for dP; then dS^T [key][row / 4].
var<workgroup> vt: array<vec4<f32>, ${Math.max(dv, tile) * (tile / 4)}>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${layout.prologue}
  ${
    spec.causal
      ? `// Causal: the last query tiles see the most keys; schedule them first.
  let bh = wgIndex % ${bh}u;
  let row0 = (${qTiles - 1}u - wgIndex / ${bh}u) * ${tile}u;`
      : `let bh = wgIndex / ${qTiles}u;
  let row0 = (wgIndex % ${qTiles}u) * ${tile}u;`
  }
  let ty = lid / 8u;
  let tx = lid % 8u;
  // Rows past Sq compute on copies of the last row and store nothing.
  ${rowsOf.map((i) => `let ri${i} = bh * ${sq}u + min(${rowOf(i)}, ${sq - 1}u);`).join(" ")}
  ${
    rowsOf.map((i) => `let lse${i} = stats[${rows}u + ri${i}]; let dl${i} = stats[ri${i}];`).join(
      "\n  ",
    )
  }
  ${rowsOf.map((i) => range(4 * nd).map((c) => `var gq${i}_${c} = 0.0f;`).join(" ")).join("\n  ")}
  let keyEnd = ${keyEnd};
  for (var kt0 = 0u; kt0 < keyEnd; kt0 += ${tile}u) {
    workgroupBarrier(); // the previous tile's dS^T and K reads are done
    // K^T and V^T: invocation lid takes key lid (zero past Sk).
    let kOk = kt0 + lid < ${sk}u;
    let kRow = (bh * ${sk}u + min(kt0 + lid, ${sk - 1}u)) * ${d4}u;
    let vRow = (bh * ${sk}u + min(kt0 + lid, ${sk - 1}u)) * ${dv4}u;
    ${
    range(d4).map((w) => `let kv${w} = select(vec4<f32>(0.0f), k[kRow + ${w}u], kOk);`).join(
      "\n    ",
    )
  }
    ${
    range(dv4).map((w) => `let vv${w} = select(vec4<f32>(0.0f), v[vRow + ${w}u], kOk);`).join(
      "\n    ",
    )
  }
    ${
    range(d4).flatMap((w) =>
      range(4).map((c) =>
        `kt[${(4 * w + c) * (tile / 4)}u + lid / 4u][lid % 4u] = kv${w}.${q4[c]};`
      )
    ).join("\n    ")
  }
    ${
    range(dv4).flatMap((w) =>
      range(4).map((c) =>
        `vt[${(4 * w + c) * (tile / 4)}u + lid / 4u][lid % 4u] = vv${w}.${q4[c]};`
      )
    ).join("\n    ")
  }
    workgroupBarrier();
    // S = Q K^T (q rows from storage), then P.
    ${rowsOf.map((i) => keys.map((j) => `var s${i}_${j} = 0.0f;`).join(" ")).join("\n    ")}
    for (var w = 0u; w < ${d4}u; w++) {
      ${rowsOf.map((i) => `let qv${i} = q[ri${i} * ${d4}u + w];`).join(" ")}
      ${
    range(4).map((dd) =>
      [
        `{ let ka = kt[(w * 4u + ${dd}u) * ${tile / 4}u + tx]; let kb = kt[(w * 4u + ${dd}u) * ${
          tile / 4
        }u + tx + 8u];`,
        ...rowsOf.flatMap((i) =>
          keys.map((j) =>
            `s${i}_${j} = fma(qv${i}.${q4[dd]}, ${j < 4 ? "ka" : "kb"}.${q4[j & 3]}, s${i}_${j});`
          )
        ),
        "}",
      ].join("\n      ")
    ).join("\n      ")
  }
    }
    ${
    rowsOf.flatMap((i) =>
      keys.map((j) =>
        `let p${i}_${j} = select(0.0f, exp2(fma(s${i}_${j}, ${scoreScale}, -lse${i})), ${
          visible(i, j)
        });`
      )
    ).join("\n    ")
  }
    // dP = dO V^T in two halves of the keys (dO rows from storage), then dS = P (dP - delta).
    ${
    range(2).map((h) =>
      `${
        rowsOf.map((i) => range(4).map((c) => `var g${h}_${i}_${c} = 0.0f;`).join(" ")).join(
          "\n    ",
        )
      }
    for (var w = 0u; w < ${dv4}u; w++) {
      ${rowsOf.map((i) => `let ov${i} = dout[ri${i} * ${dv4}u + w];`).join(" ")}
      ${
        range(4).map((dd) =>
          [
            `{ let va = vt[(w * 4u + ${dd}u) * ${tile / 4}u + tx + ${8 * h}u];`,
            ...rowsOf.flatMap((i) =>
              range(4).map((c) =>
                `g${h}_${i}_${c} = fma(ov${i}.${q4[dd]}, va.${q4[c]}, g${h}_${i}_${c});`
              )
            ),
            "}",
          ].join("\n      ")
        ).join("\n      ")
      }
    }
    ${
        rowsOf.flatMap((i) =>
          range(4).map((c) =>
            `let ds${i}_${4 * h + c} = p${i}_${4 * h + c} * (g${h}_${i}_${c} - dl${i});`
          )
        ).join("\n    ")
      }`
    ).join("\n    ")
  }
    workgroupBarrier(); // K^T and V^T are no longer read
    // dS^T [key][row / 4] over V^T; K, key-major, over K^T.
    ${
    keys.flatMap((j) =>
      range(2).map((g) =>
        `vt[${kLocal(j)} * 16u + ty + ${8 * g}u] = vec4<f32>(${
          range(4).map((r) => `ds${4 * g + r}_${j}`).join(", ")
        });`
      )
    ).join("\n    ")
  }
    ${
    range(d4).map((w) =>
      `kt[lid * ${d4}u + ${w}u] = select(vec4<f32>(0.0f), k[kRow + ${w}u], kOk);`
    ).join("\n    ")
  }
    workgroupBarrier();
    // dQ += dS K (columns 4 (tx + 8 u) + c).
    for (var kb = 0u; kb < ${tile}u; kb++) {
      let da = vt[kb * 16u + ty];
      let db = vt[kb * 16u + ty + 8u];
      ${range(nd).map((u) => `let kk${u} = kt[kb * ${d4}u + tx + ${8 * u}u];`).join(" ")}
      ${
    rowsOf.flatMap((i) =>
      range(4 * nd).map((c) =>
        `gq${i}_${c} = fma(${i < 4 ? "da" : "db"}.${q4[i & 3]}, kk${c >> 2}.${
          q4[c & 3]
        }, gq${i}_${c});`
      )
    ).join("\n      ")
  }
    }
  }
  ${
    rowsOf.map((i) =>
      `if (${rowOf(i)} < ${sq}u) {
    ${
        range(nd).map((u) =>
          `dq[ri${i} * ${d4}u + tx + ${8 * u}u] = vec4<f32>(${
            range(4).map((c) => `gq${i}_${4 * u + c}`).join(", ")
          }) * ${f32Literal(spec.scale)};`
        ).join("\n    ")
      }
  }`
    ).join("\n  ")
  }
}
`;
  return {
    name: `attention_bwd_dq_gpu_${spec.causal ? "causal_" : ""}d${d}_dv${dv}`,
    code,
    bindings: attentionBackwardBindings("dq", attentionStatsBuffer),
    workgroups: layout.workgroups,
  };
}
