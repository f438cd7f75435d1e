/**
 * The fused attention forward pass for real GPUs: FlashAttention-2 (Dao, 2023, Algorithm 1)
 * with the register blocking of the GPU matmul kernel (`matmul.ts`, `blockedKernel`): every
 * workgroup-memory read is a `vec4`, each invocation owns an 8-row slab of both the score tile
 * and the output tile, and the row statistics never leave registers except for one exchange of
 * partial maxima per key tile.
 *
 * One workgroup of 64 invocations `(ty, tx) = (lid / 8, lid % 8)` per tile of `BR = 64` query
 * rows of one (batch, head). Invocation `(ty, tx)` owns rows `4 (ty + 8 g) + r` (`g < 2`,
 * `r < 4`), score columns (keys) `4 (tx + 8 h) + c` (`h < 2`) and output columns
 * `4 (tx + 8 u) + c` (`u < Dv / 32`). Per key tile of `BC = 64` keys:
 *
 * 1. the key tile is copied transposed into workgroup memory, `kt[d][key]` (and, when the
 *    memory allows, the value tile to `vs[key][col]`), every load issued before any store so
 *    that their latencies overlap;
 * 2. scores `s = q . k` (q read as `vec4`s straight from storage: the 8 invocations sharing a
 *    row read the same address, a broadcast, and the block's 16 KB of q stay in L1), scaled to
 *    log2 units and masked;
 * 3. each invocation's row maxima go to workgroup memory, and every invocation reduces the 8
 *    partial maxima of its rows: the online softmax's new maximum `m'` and factor `2^(m - m')`;
 * 4. probabilities `p = 2^(s - m')` are stored as `P^T[key][row]` over the key tile (no longer
 *    read);
 * 5. `o = o 2^(m - m') + P V`. The row sums `l` stay per invocation (partial over its keys, all
 *    rescaled by the same factors) and are reduced once at the end.
 *
 * Four barriers per key tile, all in uniform control flow. Workgroup memory: `kt`/`P^T`
 * `max(D, BR) * BC * 4` bytes, `vs` `BC * Dv * 4` and the maxima `8 * BR * 4`: 34 KB at
 * `D = Dv = 64`. Where only 32 KB are available (lavapipe) the maxima borrow the value tile's
 * memory and the value tile is loaded after they are read, behind a fifth barrier. Float32
 * storage only, `D % 4 == 0`, `Dv` 32 or 64 (see
 * {@link gpuAttentionForwardApplies}); other cases use `attention.ts`. Outputs match
 * `attentionForwardPlan`: `out0 = out [B, H, Sq, Dv]`, `out1 = lse [B, H, Sq]` (natural log,
 * float32 bits, `-inf` where every key is masked).
 *
 * @module
 */

import type { KernelPlan, KernelTarget } from "../kernel.ts";
import type { AttentionSpec } from "./attention.ts";
import {
  attentionForwardBindings,
  checkBindings,
  f32Literal,
  linearGrid,
  negativeInfinityBits,
  negativeSentinel,
  range,
} from "./_wgsl.ts";

/** Query rows per workgroup. */
const br = 64;
/** Keys per tile. */
const bc = 64;
const threads = 64;

/** Workgroup memory bytes the kernel needs for a spec. */
function sharedBytes(spec: AttentionSpec): number {
  return (Math.max(spec.headDim, br) * bc + bc * spec.headDimV) * 4;
}

/**
 * Whether {@link gpuAttentionForwardPlan} handles a spec on a target: float32 storage,
 * `D % 4 == 0` and `D <= 256`, `Dv` 32 or 64, and the workgroup memory fits.
 *
 * @example
 * ```ts
 * import { gpuAttentionForwardApplies } from "./attention_gpu.ts";
 * const spec = { batch: 1, heads: 1, seqQ: 8, seqK: 8, headDim: 64, headDimV: 64,
 *   scale: 0.125, causal: false, dtype: "f32" as const };
 * gpuAttentionForwardApplies(spec, { shaderF16: false, subgroups: false,
 *   maxWorkgroupsPerDimension: 65535, maxWorkgroupStorageBytes: 49152,
 *   maxInvocationsPerWorkgroup: 256, maxStorageBuffersPerStage: 8 }); // true
 * ```
 */
export function gpuAttentionForwardApplies(spec: AttentionSpec, target: KernelTarget): boolean {
  return spec.dtype === "f32" && spec.headDim % 4 === 0 && spec.headDim <= 256 &&
    (spec.headDimV === 32 || spec.headDimV === 64) && spec.seqK > 0 &&
    sharedBytes(spec) <= target.maxWorkgroupStorageBytes &&
    target.maxInvocationsPerWorkgroup >= threads && target.maxStorageBuffersPerStage >= 5;
}

/**
 * The GPU forward kernel (see the module documentation). Throws when
 * {@link gpuAttentionForwardApplies} is false.
 *
 * @example
 * ```ts ignore
 * import { gpuAttentionForwardPlan } from "./attention_gpu.ts";
 * const plan = gpuAttentionForwardPlan({
 *   batch: 2, heads: 48, seqQ: 17776, seqK: 17776, headDim: 64, headDimV: 64,
 *   scale: 0.125, causal: false, dtype: "f32",
 * }, target);
 * // plan.kernels[0].bindings: in0 (q), in1 (k), in2 (v), out0 (out), out1 (lse)
 * ```
 */
export function gpuAttentionForwardPlan(spec: AttentionSpec, target: KernelTarget): KernelPlan {
  if (!gpuAttentionForwardApplies(spec, target)) {
    throw new Error(
      `gpuAttentionForwardPlan: needs float32, headDim % 4 == 0 (<= 256), headDimV 32 or 64 ` +
        `and ${sharedBytes(spec)} bytes of workgroup memory; got dtype "${spec.dtype}", ` +
        `headDim ${spec.headDim}, headDimV ${spec.headDimV}, adapter limit ` +
        `${target.maxWorkgroupStorageBytes} bytes`,
    );
  }
  const { batch, heads, seqQ: sq, seqK: sk, headDim: d, headDimV: dv } = spec;
  const bh = batch * heads;
  if (bh * sq === 0) return { scratch: [], kernels: [] };
  checkBindings("attention_fwd_gpu", 5, target);
  const d4 = d / 4, dv4 = dv / 4, nd = dv / 32; // output column quads per invocation
  const qTiles = Math.ceil(sq / br);
  const layout = linearGrid(bh * qTiles, target.maxWorkgroupsPerDimension);
  const scoreScale = f32Literal(spec.scale * Math.LOG2E);
  const neg = negativeSentinel;
  const q4 = ["x", "y", "z", "w"];
  // Local row index i = 4 g + r; local key index j = 4 h + c; output column quad u.
  const rows = range(8), keys = range(8);
  const rowOf = (i: number) => `(row0 + (ty + ${8 * (i >> 2)}u) * 4u + ${i & 3}u)`;
  const keyOf = (j: number) => `(kt + (tx + ${8 * (j >> 2)}u) * 4u + ${j & 3}u)`;
  const keyEnd = spec.causal
    ? `u32(clamp(i32(min(row0 + ${br}u, ${sq}u)) + ${sk - sq}, 0, ${sk}))`
    : `${sk}u`;
  const visible = (i: number, j: number) =>
    spec.causal
      ? `${keyOf(j)} < keyEnd && ${keyOf(j)} + ${sq}u <= ${rowOf(i)} + ${sk}u`
      : `${keyOf(j)} < ${sk}u`;
  const scoreStep = (dd: number) =>
    [
      `{ let ka = kt4[(dq * 4u + ${dd}u) * ${bc / 4}u + tx]; ` +
      `let kb = kt4[(dq * 4u + ${dd}u) * ${bc / 4}u + tx + 8u];`,
      ...rows.flatMap((i) =>
        keys.map((j) =>
          `s${i}_${j} = fma(qv${i}.${q4[dd]}, ${j < 4 ? "ka" : "kb"}.${q4[j & 3]}, s${i}_${j});`
        )
      ),
      "}",
    ].join("\n      ");
  const valueStep = (kk: number) =>
    [
      `{ let pa = kt4[(kb4 * 4u + ${kk}u) * ${br / 4}u + ty]; ` +
      `let pb = kt4[(kb4 * 4u + ${kk}u) * ${br / 4}u + ty + 8u];`,
      ...range(nd).map((u) => `let v${u} = vs[(kb4 * 4u + ${kk}u) * ${dv4}u + tx + ${8 * u}u];`),
      ...rows.flatMap((i) =>
        range(4 * nd).map((c) =>
          `o${i}_${c} = fma(${i < 4 ? "pa" : "pb"}.${q4[i & 3]}, v${c >> 2}.${
            q4[c & 3]
          }, o${i}_${c});`
        )
      ),
      "}",
    ].join("\n      ");
  // With 2 KB to spare the maxima get their own memory and the value tile is loaded with the
  // key tile; otherwise it replaces the maxima after one more barrier.
  const fused = sharedBytes(spec) + 8 * br * 4 <= target.maxWorkgroupStorageBytes;
  const red = fused ? "red" : "vs";
  // The value tile, vs[key][col / 4], unit e = lid + 64 s: key e / (Dv / 4), column quad e % (Dv / 4).
  const loadValues = [
    ...range(dv4).map((u) => {
      const key = `(lid + ${threads * u}u) / ${dv4}u`;
      return `let vv${u} = v[select(0u, (bh * ${sk}u + kt + ${key}) * ${dv4}u + lid % ${dv4}u, kt + ${key} < ${sk}u)];`;
    }),
    ...range(dv4).map((u) =>
      `vs[lid + ${threads * u}u] = select(vv${u}, vec4<f32>(0.0f), kt + (lid + ${
        threads * u
      }u) / ${dv4}u >= ${sk}u);`
    ),
  ].join("\n    ");
  const code = `@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> o: array<vec4<f32>>;
// The log-sum-exp as float32 bits: -inf is stored as a bit pattern (WGSL cannot compute it).
@group(0) @binding(4) var<storage, read_write> lse: array<u32>;
// The key tile transposed, kt[d][key / 4], later P^T[key][row / 4]; the value tile, whose
// memory also carries the exchange of row maxima and sums, vs[tx][row / 4], when it is free.
var<workgroup> kt4: array<vec4<f32>, ${Math.max(d, br) * bc / 4}>;
var<workgroup> vs: array<vec4<f32>, ${bc * dv4}>;
${fused ? `var<workgroup> red: array<vec4<f32>, ${8 * br / 4}>;` : ""}

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${layout.prologue}
  ${
    spec.causal
      ? `// Causal: the last query tiles see the most keys; schedule them first.
  let bh = wgIndex % ${bh}u;
  let row0 = (${qTiles - 1}u - wgIndex / ${bh}u) * ${br}u;`
      : `let bh = wgIndex / ${qTiles}u;
  let row0 = (wgIndex % ${qTiles}u) * ${br}u;`
  }
  let ty = lid / 8u;
  let tx = lid % 8u;
  // Rows past Sq compute on copies of the last row and store nothing.
  ${
    rows.map((i) => `let qr${i} = (bh * ${sq}u + min(${rowOf(i)}, ${sq - 1}u)) * ${d4}u;`).join(
      "\n  ",
    )
  }
  ${rows.map((i) => `var m${i} = ${neg}; var l${i} = 0.0f;`).join("\n  ")}
  ${rows.map((i) => range(4 * nd).map((c) => `var o${i}_${c} = 0.0f;`).join(" ")).join("\n  ")}
  let keyEnd = ${keyEnd};
  for (var kt = 0u; kt < keyEnd; kt += ${bc}u) {
    workgroupBarrier(); // the previous tile's P^T and V reads are done
    // Keys past Sk read as zero (their p is 0, and 0 * NaN would not be).
    let kRow = select(0u, (bh * ${sk}u + kt + lid) * ${d4}u, kt + lid < ${sk}u);
    // Key tile, transposed: invocation lid takes key lid (consecutive invocations, consecutive
    // banks); every load is issued before the first store, so their latencies overlap.
    ${range(d4).map((dq) => `let kv${dq} = k[kRow + ${dq}u];`).join("\n    ")}
    ${
    range(d4).flatMap((dq) =>
      range(4).map((c) => `kt4[${(4 * dq + c) * bc / 4}u + lid / 4u][lid % 4u] = kv${dq}.${q4[c]};`)
    ).join("\n    ")
  }
    ${fused ? loadValues : ""}
    workgroupBarrier();
    ${rows.map((i) => keys.map((j) => `var s${i}_${j} = 0.0f;`).join(" ")).join("\n    ")}
    for (var dq = 0u; dq < ${d4}u; dq++) {
      ${rows.map((i) => `let qv${i} = q[qr${i} + dq];`).join(" ")}
      ${range(4).map(scoreStep).join("\n      ")}
    }
    // Scaled to log2 units and masked; this invocation's partial row maxima to vs[tx][row / 4].
    ${
    rows.flatMap((i) =>
      keys.map((j) =>
        `let x${i}_${j} = select(${neg}, s${i}_${j} * ${scoreScale}, ${visible(i, j)});`
      )
    ).join("\n    ")
  }
    ${
    range(2).map((g) =>
      `${red}[tx * ${br / 4}u + ty + ${8 * g}u] = vec4<f32>(${
        range(4).map((r) =>
          keys.map((j) => `x${4 * g + r}_${j}`).reduce((a, b) => `max(${a}, ${b})`)
        ).join(", ")
      });`
    ).join("\n    ")
  }
    workgroupBarrier(); // the maxima are written and the key tile is no longer read
    ${
    range(2).map((g) =>
      `var mx${g} = ${red}[ty + ${8 * g}u];
    for (var t = 1u; t < 8u; t++) { mx${g} = max(mx${g}, ${red}[t * ${br / 4}u + ty + ${
        8 * g
      }u]); }`
    ).join("\n    ")
  }
    ${
    rows.map((i) =>
      `let mn${i} = max(m${i}, mx${i >> 2}.${
        q4[i & 3]
      }); let cr${i} = exp2(m${i} - mn${i}); m${i} = mn${i};`
    ).join("\n    ")
  }
    ${
    rows.flatMap((i) =>
      keys.map((j) =>
        `let p${i}_${j} = select(0.0f, exp2(x${i}_${j} - mn${i}), x${i}_${j} != ${neg});`
      )
    ).join("\n    ")
  }
    ${
    rows.map((i) => `l${i} = fma(l${i}, cr${i}, ${keys.map((j) => `p${i}_${j}`).join(" + ")});`)
      .join("\n    ")
  }
    ${rows.map((i) => range(4 * nd).map((c) => `o${i}_${c} *= cr${i};`).join(" ")).join("\n    ")}
    // P^T[key][row / 4] over the key tile's memory.
    ${
    keys.flatMap((j) =>
      range(2).map((g) =>
        `kt4[(tx * 4u + ${32 * (j >> 2) + (j & 3)}u) * ${br / 4}u + ty + ${8 * g}u] = vec4<f32>(${
          range(4).map((r) => `p${4 * g + r}_${j}`).join(", ")
        });`
      )
    ).join("\n    ")
  }
    ${
    fused ? "" : `workgroupBarrier(); // the maxima are read: the value tile may replace them
    ${loadValues}`
  }
    workgroupBarrier();
    for (var kb4 = 0u; kb4 < ${bc / 4}u; kb4++) {
      ${range(4).map(valueStep).join("\n      ")}
    }
  }
  // Row sums: the 8 invocations sharing a row each hold the sum over their keys.
  workgroupBarrier();
  ${
    range(2).map((g) =>
      `${red}[tx * ${br / 4}u + ty + ${8 * g}u] = vec4<f32>(${
        range(4).map((r) => `l${4 * g + r}`).join(", ")
      });`
    ).join("\n  ")
  }
  workgroupBarrier();
  ${
    range(2).map((g) =>
      `var ls${g} = ${red}[ty + ${8 * g}u];
  for (var t = 1u; t < 8u; t++) { ls${g} += ${red}[t * ${br / 4}u + ty + ${8 * g}u]; }`
    ).join("\n  ")
  }
  ${
    rows.map((i) =>
      `if (${rowOf(i)} < ${sq}u) {
    let l = ls${i >> 2}.${q4[i & 3]};
    let inv = select(0.0f, 1.0f / l, l > 0.0f);
    let at = (bh * ${sq}u + ${rowOf(i)}) * ${dv4}u;
    ${
        range(nd).map((u) =>
          `o[at + tx + ${8 * u}u] = vec4<f32>(${
            range(4).map((c) => `o${i}_${4 * u + c}`).join(", ")
          }) * inv;`
        ).join("\n    ")
      }
    if (tx == 0u) {
      lse[bh * ${sq}u + ${
        rowOf(i)
      }] = select(${negativeInfinityBits}, bitcast<u32>((m${i} + log2(l)) * ${
        f32Literal(Math.LN2)
      }), l > 0.0f);
    }
  }`
    ).join("\n  ")
  }
}
`;
  return {
    scratch: [],
    kernels: [{
      name: `attention_fwd_gpu_${spec.causal ? "causal_" : ""}d${d}_dv${dv}`,
      code,
      bindings: attentionForwardBindings,
      workgroups: layout.workgroups,
    }],
  };
}
