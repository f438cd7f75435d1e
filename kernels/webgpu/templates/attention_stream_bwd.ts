/**
 * The dK/dV kernel of the fused attention backward pass for software adapters (lavapipe), in
 * the streaming form of `attention_stream.ts`: every invocation owns one key row (its `k`, `v`
 * and the `dK`, `dV` accumulators in named registers), and each subgroup streams blocks of 8
 * query rows through subgroup broadcasts (lane `l` loads query `qt + l`; one storage access per
 * lane moves 8 distinct values, which lavapipe otherwise loads lane by lane).
 *
 * The arithmetic is FlashAttention-2's backward pass (Dao, 2023, Algorithm 2) with the
 * probabilities recomputed from the saved log-sum-exp, in base 2 (`k` prescaled by
 * `scale * log2(e)`, `lse2 = lse * log2(e)` and `delta_i = dO_i . O_i` from the scratch
 * `stats` of `attention.ts`'s delta kernel):
 *
 *     p_ij = 2^(q_i . k_j - lse2_i);  dS_ij = p_ij (dO_i . v_j - delta_i);
 *     dV_j = sum_i p_ij dO_i;  dK_j = scale sum_i dS_ij q_i.
 *
 * @module
 */

import type { Kernel, KernelTarget } from "../kernel.ts";
import type { AttentionSpec } from "./attention.ts";
import { minStreamWork } from "./attention_stream.ts";
import {
  attentionBackwardBindings,
  declareStorage,
  f32Literal,
  linearGrid,
  range,
} from "./_wgsl.ts";

/** Queries per block: the subgroup lanes that each load one query row (the smallest subgroup). */
const queriesPerBlock = 8;
/** Invocations per workgroup, one key row each. */
const lanes = 64;

/**
 * Whether the backward pass's dK/dV kernel should be the streaming one: a software adapter with
 * subgroups of at least 8 invocations, `D + Dv <= 128` (four rows of registers per lane) and a
 * problem large enough to repay its compile time (`minStreamWork`).
 *
 * @example
 * ```ts ignore
 * useStreamDkdv({ ...spec, software: true }, target); // true at S = 1024, D = Dv = 64
 * ```
 */
export function useStreamDkdv(spec: AttentionSpec, target: KernelTarget): boolean {
  const { batch, heads, seqQ: sq, seqK: sk, headDim: d, headDimV: dv } = spec;
  return (spec.software ?? false) && target.subgroups &&
    (target.subgroupMinSize ?? 0) >= queriesPerBlock &&
    target.maxInvocationsPerWorkgroup >= lanes && d + dv <= 128 &&
    batch * heads * sq * sk * (d + dv) >= minStreamWork;
}

/**
 * The bindings and entry point both backward kernels share: `q, k, v, dout` (`dtype`), `stats`
 * (float32) and the gradient `outputs` (`dtype`), one subgroup-sized workgroup.
 */
function header(enable: string, dtype: string, outputs: readonly string[]): string {
  return `enable subgroups;
${enable}${declareStorage(0, "q", dtype, false)}
${declareStorage(1, "k", dtype, false)}
${declareStorage(2, "v", dtype, false)}
${declareStorage(3, "dout", dtype, false)}
${declareStorage(4, "stats", "f32", false)}
${outputs.map((name, i) => declareStorage(5 + i, name, dtype, true)).join("\n")}

@compute @workgroup_size(${lanes})
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) sl: u32,
) {`;
}

/**
 * What the two streaming kernels share: the size check, one workgroup per `lanes` keys (dK/dV)
 * or queries (dQ) of each (batch, head), and the WGSL helpers over the 8 rows of a block:
 * `each` repeats a statement per row `j`, `broadcast` loads one column element per lane
 * (lane `l` reads row `l`) and gives every lane all 8 as `b0..b7`.
 */
function streamSetup(what: string, spec: AttentionSpec, target: KernelTarget, tiled: number) {
  const { seqQ: sq, seqK: sk } = spec;
  if (sk < 1 || sq < 1) throw new Error(`${what}: needs Sq, Sk >= 1, got Sq=${sq}, Sk=${sk}`);
  const tiles = Math.ceil(tiled / lanes);
  const layout = linearGrid(spec.batch * spec.heads * tiles, target.maxWorkgroupsPerDimension);
  const rows = range(queriesPerBlock);
  const each = (f: (j: number) => string, sep = " ") => rows.map(f).join(sep);
  const broadcast = (src: string, at: string) =>
    `let e = f32(${src}[${at}]); ${each((j) => `let b${j} = subgroupBroadcast(e, ${j}u);`)}`;
  return { tiles, layout, rows, each, broadcast };
}

/**
 * The streaming dK/dV kernel, with the bindings of `attention.ts`'s tiled one: `in0` = q,
 * `in1` = k, `in2` = v, `in5` = dOut, `stats` (`[2, B*H*Sq]`: delta, then lse2 with `+3e38` for
 * fully masked rows), `out1` = dk, `out2` = dv. Needs subgroups of at least 8 invocations.
 *
 * @example
 * ```ts ignore
 * import { streamDkdvKernel } from "./attention_stream_bwd.ts";
 * const kernel = streamDkdvKernel(spec, target, "attention_stats", "");
 * ```
 */
export function streamDkdvKernel(
  spec: AttentionSpec,
  target: KernelTarget,
  stats: string,
  enable: string,
): Kernel {
  const { batch, heads, seqQ: sq, seqK: sk, headDim: d, headDimV: dv, dtype } = spec;
  const qb = queriesPerBlock;
  const bh = batch * heads;
  const { tiles: kTiles, layout, rows: queries, each, broadcast } = streamSetup(
    "streamDkdvKernel",
    spec,
    target,
    sk,
  );
  const prologue = layout.prologue;
  // Query qt + j sees this lane's key iff key + Sq <= query + Sk (causal, aligned to the end).
  const visible = (j: number) => {
    const bounds = `qt + ${j}u < ${sq}u && key < ${sk}u`;
    return spec.causal ? `${bounds} && key + ${sq}u <= qt + ${j + sk}u` : bounds;
  };
  const scoreScale = f32Literal(spec.scale * Math.LOG2E);
  const code = `${header(enable, dtype, ["dk", "dv"])}
  ${prologue}
  let bh = wgIndex / ${kTiles}u;
  let key0 = (wgIndex % ${kTiles}u) * ${lanes}u;
  // This invocation's key; keys past Sk compute on a clamped copy and store nothing.
  let key = key0 + lid;
  let kr = bh * ${sk}u + min(key, ${sk - 1}u);
  // k prescaled so that q . k is a base-2 exponent.
  ${range(d).map((c) => `let k${c} = f32(k[kr * ${d}u + ${c}u]) * ${scoreScale};`).join(" ")}
  ${range(dv).map((c) => `let v${c} = f32(v[kr * ${dv}u + ${c}u]);`).join(" ")}
  ${range(d).map((c) => `var gk${c} = 0.0;`).join(" ")}
  ${range(dv).map((c) => `var gv${c} = 0.0;`).join(" ")}
  // The first query that sees key0: i >= j - (Sk - Sq).
  let qStart = ${spec.causal ? `u32(max(i32(key0) + ${sq - sk}, 0))` : "0u"};
  for (var qt = qStart; qt < ${sq}u; qt += ${qb}u) {
    // The query row this lane loads: qt + sl, clamped; queries past Sq are masked.
    let qr = bh * ${sq}u + min(qt + sl, ${sq - 1}u);
    let qa = qr * ${d}u;
    let oa = qr * ${dv}u;
    ${each((j) => `var l${j}: f32; var dl${j}: f32;`)}
    { ${broadcast("stats", `${bh * sq}u + qr`)} ${each((j) => `l${j} = b${j};`)} }
    { ${broadcast("stats", "qr")} ${each((j) => `dl${j} = b${j};`)} }
    // s_j = q_(qt+j) . k and dp_j = dO_(qt+j) . v.
    ${each((j) => `var s${j} = 0.0; var dp${j} = 0.0;`)}
    ${
    range(d).map((c) =>
      `{ ${broadcast("q", `qa + ${c}u`)} ${each((j) => `s${j} = fma(b${j}, k${c}, s${j});`)} }`
    ).join("\n    ")
  }
    ${
    range(dv).map((c) =>
      `{ ${broadcast("dout", `oa + ${c}u`)} ${each((j) => `dp${j} = fma(b${j}, v${c}, dp${j});`)} }`
    ).join("\n    ")
  }
    ${each((j) => `let p${j} = select(0.0, exp2(s${j} - l${j}), ${visible(j)});`, "\n    ")}
    ${each((j) => `let ds${j} = p${j} * (dp${j} - dl${j});`, "\n    ")}
    // dV += sum_j p_j dO_(qt+j) and dK += sum_j dS_j q_(qt+j).
    ${
    range(dv).map((c) =>
      `{ ${broadcast("dout", `oa + ${c}u`)} gv${c} = ${
        queries.reduce((a, j) => `fma(p${j}, b${j}, ${a})`, `gv${c}`)
      }; }`
    ).join("\n    ")
  }
    ${
    range(d).map((c) =>
      `{ ${broadcast("q", `qa + ${c}u`)} gk${c} = ${
        queries.reduce((a, j) => `fma(ds${j}, b${j}, ${a})`, `gk${c}`)
      }; }`
    ).join("\n    ")
  }
  }
  if (key < ${sk}u) {
    ${
    range(d).map((c) => `dk[kr * ${d}u + ${c}u] = ${dtype}(gk${c} * ${f32Literal(spec.scale)});`)
      .join(" ")
  }
    ${range(dv).map((c) => `dv[kr * ${dv}u + ${c}u] = ${dtype}(gv${c});`).join(" ")}
  }
}
`;
  return {
    name: `attention_bwd_dkdv_stream_${spec.causal ? "causal_" : ""}d${d}_dv${dv}_${dtype}`,
    code,
    bindings: attentionBackwardBindings("dkdv", stats),
    workgroups: layout.workgroups,
  };
}

/**
 * The streaming dQ kernel, with the bindings of `attention.ts`'s tiled one: `in0` = q,
 * `in1` = k, `in2` = v, `in5` = dOut, `stats`, `out0` = dq. Every invocation owns one query row
 * (`q` prescaled, `dO` and the `dQ` accumulators in named registers; its `lse2` and `delta`)
 * and each subgroup streams blocks of 8 key rows (`dQ_i = scale sum_j dS_ij k_j`). Needs
 * subgroups of at least 8 invocations; chosen with the dK/dV one ({@link useStreamDkdv}).
 *
 * @example
 * ```ts ignore
 * import { streamDqKernel } from "./attention_stream_bwd.ts";
 * const kernel = streamDqKernel(spec, target, "attention_stats", "");
 * ```
 */
export function streamDqKernel(
  spec: AttentionSpec,
  target: KernelTarget,
  stats: string,
  enable: string,
): Kernel {
  const { batch, heads, seqQ: sq, seqK: sk, headDim: d, headDimV: dv, dtype } = spec;
  const kb = queriesPerBlock;
  const bh = batch * heads;
  const { tiles: qTiles, layout, rows: keys, each, broadcast } = streamSetup(
    "streamDqKernel",
    spec,
    target,
    sq,
  );
  const prologue = layout.prologue;
  // Key kt + j is visible to this lane's query iff key + Sq <= query + Sk (causal).
  const visible = (j: number) => {
    const key = `kt + ${j}u`;
    return spec.causal ? `${key} < ${sk}u && ${key} + ${sq}u <= row + ${sk}u` : `${key} < ${sk}u`;
  };
  const keyEnd = spec.causal
    ? `u32(clamp(i32(min(row0 + ${lanes}u, ${sq}u)) + ${sk - sq}, 0, ${sk}))`
    : `${sk}u`;
  const code = `${header(enable, dtype, ["dq"])}
  ${prologue}
  let bh = wgIndex / ${qTiles}u;
  let row0 = (wgIndex % ${qTiles}u) * ${lanes}u;
  // This invocation's query; rows past Sq compute on a clamped copy and store nothing.
  let row = row0 + lid;
  let qr = bh * ${sq}u + min(row, ${sq - 1}u);
  // q prescaled so that q . k is a base-2 exponent.
  ${
    range(d).map((c) =>
      `let q${c} = f32(q[qr * ${d}u + ${c}u]) * ${f32Literal(spec.scale * Math.LOG2E)};`
    ).join(" ")
  }
  ${range(dv).map((c) => `let o${c} = f32(dout[qr * ${dv}u + ${c}u]);`).join(" ")}
  let delta = stats[qr];
  let lse2 = stats[${bh * sq}u + qr];
  ${range(d).map((c) => `var gq${c} = 0.0;`).join(" ")}
  let keyEnd = ${keyEnd};
  for (var kt = 0u; kt < keyEnd; kt += ${kb}u) {
    // The key row this lane loads: kt + sl, clamped; keys past Sk are masked.
    let kr = bh * ${sk}u + min(kt + sl, ${sk - 1}u);
    let ka = kr * ${d}u;
    let va = kr * ${dv}u;
    // s_j = q . k_(kt+j) and dp_j = dO . v_(kt+j).
    ${each((j) => `var s${j} = 0.0; var dp${j} = 0.0;`)}
    ${
    range(d).map((c) =>
      `{ ${broadcast("k", `ka + ${c}u`)} ${each((j) => `s${j} = fma(q${c}, b${j}, s${j});`)} }`
    ).join("\n    ")
  }
    ${
    range(dv).map((c) =>
      `{ ${broadcast("v", `va + ${c}u`)} ${each((j) => `dp${j} = fma(o${c}, b${j}, dp${j});`)} }`
    ).join("\n    ")
  }
    ${
    each(
      (j) => `let ds${j} = select(0.0, exp2(s${j} - lse2), ${visible(j)}) * (dp${j} - delta);`,
      "\n    ",
    )
  }
    // dQ += sum_j dS_j k_(kt+j).
    ${
    range(d).map((c) =>
      `{ ${broadcast("k", `ka + ${c}u`)} gq${c} = ${
        keys.reduce((a, j) => `fma(ds${j}, b${j}, ${a})`, `gq${c}`)
      }; }`
    ).join("\n    ")
  }
  }
  if (row < ${sq}u) {
    ${
    range(d).map((c) => `dq[qr * ${d}u + ${c}u] = ${dtype}(gq${c} * ${f32Literal(spec.scale)});`)
      .join(" ")
  }
  }
}
`;
  return {
    name: `attention_bwd_dq_stream_${spec.causal ? "causal_" : ""}d${d}_dv${dv}_${dtype}`,
    code,
    bindings: attentionBackwardBindings("dq", stats),
    workgroups: layout.workgroups,
  };
}
