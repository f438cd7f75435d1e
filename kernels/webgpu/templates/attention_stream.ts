/**
 * The fused attention forward pass for software adapters (lavapipe): a barrier-free kernel in
 * which every invocation owns whole query rows, held in named registers, and each subgroup
 * streams blocks of 8 key and value rows through subgroup broadcasts.
 *
 * Why a second kernel. Lavapipe runs a workgroup's invocations 8 at a time as the SIMD lanes of
 * one CPU thread (a subgroup), and it executes every storage access (and every workgroup-memory access in a loop)
 * lane by lane: a bounds check, a branch and a scalar load per active lane, ~8 x 15
 * instructions, even when the address is the same in every lane. Only register arithmetic is
 * vectorized. So the cost of a loop body is its number of memory accesses, and the tiled kernel
 * of `attention.ts` (right for GPUs: tiles shared through workgroup memory) pays ~4 accesses
 * per 16 lane-FMAs. Here one access brings 8 distinct values: lane `l` of a subgroup loads
 * element `c` of key row `kt + l`, and `subgroupBroadcast(x, j)` (a register shuffle) hands key
 * `kt + j`'s element to every lane, where it feeds one FMA per query row of the lane (16
 * lane-FMAs per access at two rows per lane). The query rows are loaded once, before the loop.
 *
 * The query rows (prescaled by `scale * log2(e)`), the output accumulators and the 8 scores of
 * a block are named scalars (a private array would live in per-lane scratch memory); the head
 * dimensions are unrolled, which bounds them (LLVM compile time grows with the live values:
 * ~7 s at one row of D = Dv = 64 per lane, ~18 s at two rows, ~25 s at three, which ran no
 * faster; Mesa's shader cache brings a repeated compile down to ~0.5 s).
 *
 * The arithmetic is the online softmax of FlashAttention (Dao et al., 2022; Dao, 2023,
 * Algorithm 1) per block of 8 keys, in base 2:
 *
 *     m' = max(m, max_j s_j);  l' = l * 2^(m - m') + sum_j 2^(s_j - m');
 *     o' = o * 2^(m - m') + sum_j 2^(s_j - m') v_j;   out = o / l;  lse = (m + log2 l) ln 2.
 *
 * @module
 */

import type { Kernel, KernelTarget } from "../kernel.ts";
import type { AttentionSpec } from "./attention.ts";
import {
  attentionForwardBindings,
  declareStorage,
  f32Literal,
  linearGrid,
  negativeInfinityBits,
  negativeSentinel,
  range,
} from "./_wgsl.ts";

/** Keys per block: the subgroup lanes that each load one key row (the smallest subgroup). */
const keysPerBlock = 8;
/** Invocations per workgroup (a multiple of every subgroup size of at least 8 up to 64). */
const lanes = 64;
/**
 * Least `B*H*Sq*Sk*(D+Dv)` multiply-adds for which the streaming kernels are chosen (S = 1024
 * with 8 heads of 64): their first compile takes ~18 s (forward) and ~45 s (backward) uncached
 * against ~0.5 s, which only pays off on problems where the tiled kernels take ~0.5 s (forward)
 * and ~2 s (backward) a call; Mesa's shader cache then makes later compiles cheap.
 *
 * @example
 * ```ts
 * import { minStreamWork } from "./attention_stream.ts";
 * 1 * 8 * 1024 * 1024 * (64 + 64) >= minStreamWork; // true
 * ```
 */
export const minStreamWork = 2 ** 30;

/**
 * Query rows per invocation for the streaming forward kernel, or `null` where the tiled kernel
 * of `attention.ts` is used instead: on GPUs (`spec.software` unset), without subgroups of at
 * least 8 invocations, for head dimensions past 256 together (compile time), and for problems
 * too small to repay the streaming kernel's compile time.
 *
 * @example
 * ```ts ignore
 * streamRowsPerLane({ ...spec, software: true }, target); // 2 at S = 1024, D = Dv = 64
 * ```
 */
export function streamRowsPerLane(spec: AttentionSpec, target: KernelTarget): 1 | 2 | null {
  const { batch, heads, seqQ: sq, seqK: sk, headDim: d, headDimV: dv } = spec;
  if (!(spec.software ?? false) || !target.subgroups) return null;
  if ((target.subgroupMinSize ?? 0) < keysPerBlock) return null;
  if (target.maxInvocationsPerWorkgroup < lanes || d + dv > 256) return null;
  if (batch * heads * sq * sk * (d + dv) < minStreamWork) return null;
  return d + dv <= 128 ? 2 : 1;
}

/**
 * The streaming forward kernel for a software adapter, with the bindings and outputs of
 * `attentionForwardPlan` (`in0..in2` = q, k, v; `out0` = out, `out1` = lse as float32 bits).
 * Needs the `subgroups` feature with subgroups of at least 8 invocations (`Sk >= 1`).
 *
 * Workgroup `g` takes query rows `row0 + i * 64 + lid` (`i < rowsPerLane`) of one (batch,
 * head); every subgroup loops over blocks of 8 keys up to the last key its workgroup's rows can
 * see (causal), masking per row.
 *
 * @example
 * ```ts ignore
 * import { streamAttentionForwardKernel } from "./attention_stream.ts";
 * const kernel = streamAttentionForwardKernel(spec, target, 2, "");
 * // kernel.bindings: in0, in1, in2, out0, out1
 * ```
 */
export function streamAttentionForwardKernel(
  spec: AttentionSpec,
  target: KernelTarget,
  rowsPerLane: number,
  enable: string,
): Kernel {
  const { batch, heads, seqQ: sq, seqK: sk, headDim: d, headDimV: dv, dtype } = spec;
  if (sk < 1 || sq < 1) {
    throw new Error(`streamAttentionForwardKernel: needs Sq, Sk >= 1, got Sq=${sq}, Sk=${sk}`);
  }
  const rq = rowsPerLane, kb = keysPerBlock;
  const bh = batch * heads;
  const rowsPerGroup = lanes * rq;
  const qTiles = Math.ceil(sq / rowsPerGroup);
  const count = bh * qTiles;
  const layout = linearGrid(count, target.maxWorkgroupsPerDimension);
  const prologue = layout.prologue;
  const neg = negativeSentinel;
  const rows = range(rq), keys = range(kb);
  const cells = (f: (i: number, j: number) => string, sep = "\n    ") =>
    rows.flatMap((i) => keys.map((j) => f(i, j))).join(sep);
  // Causal: key j is visible to query i iff j + Sq <= i + Sk (aligned to the end).
  const visible = (i: number, j: number) => {
    const key = `kt + ${j}u`;
    return spec.causal ? `${key} < ${sk}u && ${key} + ${sq}u <= r${i} + ${sk}u` : `${key} < ${sk}u`;
  };
  const keyEnd = spec.causal
    ? `u32(clamp(i32(min(row0 + ${rowsPerGroup}u, ${sq}u)) + ${sk - sq}, 0, ${sk}))`
    : `${sk}u`;
  const maxOf = (xs: string[]) => xs.reduce((a, b) => `max(${a}, ${b})`);
  // One column of keys (or values): lane l loads row kt + l, broadcasts give every lane all 8.
  const broadcast = (src: string, at: string) =>
    `let e = f32(${src}[${at}]); ${
      keys.map((j) => `let b${j} = subgroupBroadcast(e, ${j}u);`).join(" ")
    }`;
  const code = `enable subgroups;
${enable}${declareStorage(0, "q", dtype, false)}
${declareStorage(1, "k", dtype, false)}
${declareStorage(2, "v", dtype, false)}
${declareStorage(3, "o", dtype, true)}
// The log-sum-exp as float32 bits: -inf is stored as a bit pattern (WGSL cannot compute it).
${declareStorage(4, "lse", "u32", true)}

@compute @workgroup_size(${lanes})
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) sl: u32,
) {
  ${prologue}
  ${
    spec.causal
      ? `// Causal: the last query tiles see the most keys; schedule them first (for every head)
  // so that the light tiles fill the tail.
  let bh = wgIndex % ${bh}u;
  let row0 = (${qTiles - 1}u - wgIndex / ${bh}u) * ${rowsPerGroup}u;`
      : `let bh = wgIndex / ${qTiles}u;
  let row0 = (wgIndex % ${qTiles}u) * ${rowsPerGroup}u;`
  }
  // This invocation's query rows; rows past Sq compute on a clamped copy and store nothing.
  ${rows.map((i) => `let r${i} = row0 + ${i * lanes}u + lid;`).join(" ")}
  ${rows.map((i) => `let qa${i} = (bh * ${sq}u + min(r${i}, ${sq - 1}u)) * ${d}u;`).join(" ")}
  // Query rows in registers, prescaled so that the scores are base-2 exponents.
  ${
    rows.flatMap((i) =>
      range(d).map((c) =>
        `let q${i}_${c} = f32(q[qa${i} + ${c}u]) * ${f32Literal(spec.scale * Math.LOG2E)};`
      )
    ).join("\n  ")
  }
  ${rows.map((i) => `var m${i} = ${neg}; var l${i} = 0.0;`).join(" ")}
  ${rows.flatMap((i) => range(dv).map((c) => `var o${i}_${c} = 0.0;`)).join(" ")}
  let keyEnd = ${keyEnd};
  for (var kt = 0u; kt < keyEnd; kt += ${kb}u) {
    // The key (and value) row this lane loads: kt + sl, clamped; keys past Sk are masked.
    let kr = bh * ${sk}u + min(kt + sl, ${sk - 1}u);
    let ka = kr * ${d}u;
    let va = kr * ${dv}u;
    // Scores s_ij = q_i . k_(kt+j).
    ${cells((i, j) => `var s${i}_${j} = 0.0;`, " ")}
    ${
    range(d).map((c) =>
      `{ ${broadcast("k", `ka + ${c}u`)} ${
        cells((i, j) => `s${i}_${j} = fma(q${i}_${c}, b${j}, s${i}_${j});`, " ")
      } }`
    ).join("\n    ")
  }
    ${cells((i, j) => `let x${i}_${j} = select(${neg}, s${i}_${j}, ${visible(i, j)});`)}
    ${
    rows.map((i) =>
      `let mn${i} = ${maxOf([`m${i}`, ...keys.map((j) => `x${i}_${j}`)])}; ` +
      `let cr${i} = exp2(m${i} - mn${i}); m${i} = mn${i};`
    ).join("\n    ")
  }
    ${
    cells((i, j) =>
      `let p${i}_${j} = select(0.0, exp2(x${i}_${j} - mn${i}), x${i}_${j} != ${neg});`
    )
  }
    ${
    rows.map((i) => `l${i} = fma(l${i}, cr${i}, ${keys.map((j) => `p${i}_${j}`).join(" + ")});`)
      .join("\n    ")
  }
    // o_i = o_i 2^(m - m') + sum_j p_ij v_(kt+j).
    ${
    range(dv).map((c) =>
      `{ ${broadcast("v", `va + ${c}u`)} ${
        rows.map((i) =>
          `o${i}_${c} = ${
            keys.reduce((a, j) => `fma(p${i}_${j}, b${j}, ${a})`, `o${i}_${c} * cr${i}`)
          };`
        ).join(" ")
      } }`
    ).join("\n    ")
  }
  }
  ${
    rows.map((i) =>
      `if (r${i} < ${sq}u) {
    let inv = select(0.0, 1.0 / l${i}, l${i} > 0.0);
    let at = (bh * ${sq}u + r${i}) * ${dv}u;
    ${range(dv).map((c) => `o[at + ${c}u] = ${dtype}(o${i}_${c} * inv);`).join(" ")}
    lse[bh * ${sq}u + r${i}] = select(${negativeInfinityBits}, bitcast<u32>((m${i} + log2(l${i})) * ${
        f32Literal(Math.LN2)
      }), l${i} > 0.0);
  }`
    ).join("\n  ")
  }
}
`;
  return {
    name: `attention_fwd_stream_${spec.causal ? "causal_" : ""}d${d}_dv${dv}_r${rq}_${dtype}`,
    code,
    bindings: attentionForwardBindings,
    workgroups: layout.workgroups,
  };
}
