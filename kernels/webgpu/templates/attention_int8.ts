/**
 * Int8 attention forward (`attention` with `quantization: "int8"`): SageAttention-style
 * quantization (Zhang et al., ICLR 2025) so that both products of the attention run on 8-bit
 * integers. The algorithm, with its exact rounding, is specified by
 * `kernels/reference/attention_int8.ts`; this file computes the same integers.
 *
 * Why: NVIDIA GPUs reached through Dawn's Vulkan path have no `shader-f16`, and the only matrix
 * units WGSL can reach there are int8 subgroup matrices (`chromium_experimental_subgroup_matrix`,
 * 16x16x32, int8 x int8 -> int32; measured on an H200). The float32 kernel
 * (`attention_gpu.ts`) is bound by float32 FMA throughput.
 *
 * Five kernels, in order (per (batch, head) `bh`; key blocks `t` of `B_K = 64` keys): four that
 * quantize q, k and v (`attention_int8_quant.ts`: statistics, means and ranges, packed int8 keys
 * and values with per-block key scales, packed int8 queries with per-row scales), then
 * `attn_i8_fwd`: one workgroup of `32 * subgroups` invocations per `16 * subgroups` query rows.
 * Each 32-lane subgroup owns 16 rows, lanes `2r` and `2r + 1` row `r` with 32 keys and `Dvp / 2`
 * output columns each. Per key block: `S = Q8 K8^T` (16 x 64, int32) to workgroup memory; the
 * lanes turn their scores into int8 probabilities against the block's row maximum (one
 * `subgroupShuffleXor` joins the pair) and store them packed; `P8 V8` (16 x Dvp, int32) to
 * workgroup memory; the lanes fold it into float32 accumulators with the online-softmax factors.
 * Options (`Int8AttentionOptions`) change where the key and value tiles are read from, how the
 * values are stored (`transposedValues`), how the workgroup tiles are laid out, how the softmax
 * passes address the scores (`leanSoftmax`, `attention_int8_softmax.ts`) and how many rows a
 * subgroup owns; on an H100 (B = 2, H = 48, S = 17,776, D = 64) they took the kernel from 264 ms
 * to 90.5 ms (the native default; 112 ms through the backend with quantization, one call per
 * sync, 96 ms with three calls per sync).
 *
 * The integer products come in three forms that store the same int32 tiles:
 * - `native`: `subgroupMatrixMultiplyAccumulate` on `subgroup_matrix_left<i8, 32, 16>` (Q or P,
 *   row-major), `subgroup_matrix_right<i8, 16, 32>` (K column-major, V row-major, or
 *   column-major from `V^T` with `transposedValues`) into
 *   `subgroup_matrix_result<i32, 16, 16>`; needs the adapter's 16x16x32 int8 configuration and
 *   32-lane subgroups ({@link int8AttentionNative}).
 * - `emulated`: each lane computes its share of the tile with `dot4I8Packed` (scores, and
 *   values with `transposedValues`, the default) or unpacked bytes (row-major values). It runs
 *   on any adapter with subgroups (lavapipe in the tests), so everything around the products (quantization, masking, softmax, the online update and the
 *   memory layouts the matrices are stored in) is checked against the reference there.
 * - `mimic` (for tests): the `native` kernel's text with each subgroup-matrix builtin replaced
 *   by a WGSL function of the same role (see `mimicOps`), so the native form's offsets, strides
 *   and layouts are checked on any adapter; only the builtins' own semantics are left to the
 *   adapters that have them (the device's start-up probe, `int8_matrix_probe.ts`, finds how
 *   they count offsets and strides, and `nativeOps` scales the kernel's element offsets to it).
 *
 * @module
 */

import type { KernelPlan, KernelTarget } from "../kernel.ts";
import { int8KeyBlock } from "../../reference/attention_int8.ts";
import type { AttentionSpec } from "./attention.ts";
import { mimicOps, nativeOps } from "./_int8_matrix_ops.ts";
import {
  int8BlockRows,
  type Int8KernelShape,
  int8RowsPerSubgroup,
  int8SharedBytes,
  int8TileStrides,
  int8WorkgroupWords,
} from "./attention_int8_layout.ts";
import type {
  Int8AblatedPart,
  Int8AttentionOptions,
  Int8MatrixMode,
} from "./attention_int8_options.ts";
export type {
  Int8AblatedPart,
  Int8AttentionOptions,
  Int8MatrixMode,
} from "./attention_int8_options.ts";
import { leanSoftmaxPasses } from "./attention_int8_softmax.ts";
import {
  type Int8Layout,
  int8Layout,
  int8QuantizationKernels,
  int8Scratch,
} from "./attention_int8_quant.ts";
import {
  checkBindings,
  checkSizes,
  declareStorageArrays,
  f32Literal,
  linearGrid,
  maxTree,
  negativeInfinityBits,
  negativeSentinel,
  range,
  readBinding,
  writeBinding,
} from "./_wgsl.ts";

/** Keys per block: the quantization block of the reference and the kernel's key tile. */
const bc = int8KeyBlock;

/**
 * Whether the target runs the `native` form: int8 subgroup matrices of 16x16x32 with int32
 * results, on 32-lane subgroups, whose offset and stride units the device's probe identified.
 *
 * @example
 * ```ts
 * import { int8AttentionNative } from "./attention_int8.ts";
 * int8AttentionNative({ shaderF16: false, subgroups: true, subgroupSize: 32,
 *   subgroupMatrixInt8: true, int8MatrixUnits: { offset: 4, stride: 4 },
 *   maxWorkgroupsPerDimension: 65535, maxWorkgroupStorageBytes: 49152,
 *   maxInvocationsPerWorkgroup: 1024, maxStorageBuffersPerStage: 10 }); // true
 * ```
 */
export function int8AttentionNative(target: KernelTarget): boolean {
  return target.subgroups && target.subgroupMatrixInt8 === true && target.subgroupSize === 32 &&
    target.int8MatrixUnits !== undefined;
}

/** Kernel 5: the attention proper (see the module documentation). */
function mainKernel(
  l: Int8Layout,
  spec: AttentionSpec,
  target: KernelTarget,
  mode: Int8MatrixMode,
  subgroups: number,
  shape: Int8KernelShape,
): KernelPlan["kernels"][number] {
  const { separate, stageKeys, prefetch, recompute, fastConvert, conflictFree, wide } = shape;
  // Values stored V^T per key block: Dvp rows of 64 keys (see transposedValues).
  const tv = shape.transposedValues;
  const without = (part: Int8AblatedPart) => shape.ablate.includes(part);
  // Rows per subgroup, lanes per row, keys and value columns per lane, 16-row tiles.
  const rowsPerSg = int8RowsPerSubgroup(shape), lpr = wide ? 1 : 2;
  const kpl = bc / lpr, rowTiles = rowsPerSg / 16;
  // With one lane per row, odd strides alone put the 32 lanes in 32 banks.
  const rotate = conflictFree && lpr === 2;
  const native = mode === "native";
  // The value product goes over the scores (row stride max(64, Dvp)) or to its own tile sO.
  const { sw, ow, pStride } = int8TileStrides(l.dvp, subgroups, shape);
  const words = int8WorkgroupWords(l.dp, l.dvp, subgroups, shape);
  const oName = separate ? "sO" : "sS";
  // The subgroup-matrix forms (native, and mimic for tests) share one kernel text.
  const matrices = mode !== "emulated";
  // Staged keys: the block's keys at sK[key * Dp + d] (int8 elements). The plan keeps staging
  // and prefetch off for the emulated form, whose products read storage.
  // Prefetched blocks: keys as staged (one buffer), values at sV[key * vRow + c] (transposed:
  // sV[c * vRow + key]).
  const fetched = prefetch && l.nkb > 0;
  const { kRow, vRow } = int8BlockRows(l.dp, l.dvp, shape);
  const ops = native ? nativeOps(target.int8MatrixUnits!) : mimicOps(
    ["q8", "k8", "sP", "v8", ...(stageKeys || fetched ? ["sK"] : []), ...(fetched ? ["sV"] : [])],
    Math.max(l.dp / 32, bc / 32),
    [...new Set(["sS", oName])],
  );
  const grid = linearGrid(l.bh * l.qTiles, target.maxWorkgroupsPerDimension);
  const sgTile = rowsPerSg * sw, oTile = rowsPerSg * ow;
  const dp4 = l.dp / 4, dvp4 = l.dvp / 4, cpl = l.dvp / lpr;
  const neg = negativeSentinel;
  const keyEnd = spec.causal
    ? `u32(clamp(i32(min(tile * ${l.rowsPerGroup}u + ${l.rowsPerGroup}u, ${l.sq}u)) + ${
      l.sk - l.sq
    }, 0, ${l.sk}))`
    : `${l.sk}u`;
  const rowLimit = spec.causal
    ? `u32(clamp(i32(row) + ${1 + l.sk - l.sq}, 0, ${l.sk}))`
    : `${l.sk}u`;
  // Row tile rt of a subgroup's rows: its accumulator acc<rt>, Q tiles q<rt>_<kk>, probability
  // tiles p<rt>_<kk>. Every key or value tile loaded feeds each row tile's product.
  const rts = range(rowTiles);
  const products = (
    left: string,
    kSteps: number,
    tileOf: (kk: number) => string,
    store: (rt: number) => string,
  ) =>
    [
      `{ ${rts.map((rt) => `var acc${rt} = ${ops.zero};`).join(" ")}`,
      ...range(kSteps).map((kk) =>
        `{ let mt = ${tileOf(kk)};
        ${
          rts.map((rt) => `acc${rt} = ${ops.mma(`${left}${rt}_${kk}`, "mt", `acc${rt}`)};`).join(
            " ",
          )
        } }`
      ),
      `${rts.map(store).join("\n      ")} }`,
    ].join("\n      ");
  const scores = matrices
    ? range(bc / 16).map((n) =>
      products(
        "q",
        l.dp / 32,
        (kk) =>
          ops.load(
            "right",
            "col_major",
            stageKeys || fetched ? "sK" : "k8",
            stageKeys
              ? `kBuf + ${16 * n * l.dp + 32 * kk}u`
              : fetched
              ? `${16 * n * kRow + 32 * kk}u`
              : `(bh * ${l.skp}u + kt + ${16 * n}u) * ${l.dp}u + ${32 * kk}u`,
            fetched ? kRow : l.dp,
          ),
        (rt) => ops.store("sS", `sBase + ${16 * rt * sw + 16 * n}u`, `acc${rt}`, sw),
      )
    ).join("\n    ")
    : `for (var jj = 0u; jj < ${kpl}u; jj++) {
      let key = half * ${kpl}u + jj;
      let kRow = (bh * ${l.skp}u + kt + key) * ${dp4}u;
      var acc = 0i;
      ${
      range(dp4).map((w) =>
        `acc += dot4I8Packed(bitcast<u32>(q8[qRow + ${w}u]), bitcast<u32>(k8[kRow + ${w}u]));`
      ).join("\n      ")
    }
      sS[sBase + r * ${sw}u + key] = acc;
    }`;
  // The probabilities' 16 x 32 tiles are loaded once for all Dvp / 16 value tiles.
  const values = matrices
    ? [
      ...rts.flatMap((rt) =>
        range(bc / 32).map((kk) =>
          `let p${rt}_${kk} = ${
            ops.load(
              "left",
              "row_major",
              "sP",
              rt === 0
                ? `pBase * 4u + ${32 * kk}u`
                : `(pBase + ${16 * rt * pStride}u) * 4u + ${32 * kk}u`,
              4 * pStride,
            )
          };`
        )
      ),
      ...range(l.dvp / 16).map((n) =>
        products(
          "p",
          bc / 32,
          (kk) => {
            // Keys 32kk .. by columns 16n ..: rows of keys (row-major), or from V^T rows of
            // channels (column-major, like the key tiles).
            const row = fetched ? vRow : tv ? bc : l.dvp;
            const inBlock = tv ? 16 * n * row + 32 * kk : 32 * kk * row + 16 * n;
            return ops.load(
              "right",
              tv ? "col_major" : "row_major",
              fetched ? "sV" : "v8",
              fetched ? `${inBlock}u` : `(bh * ${l.skp}u + kt) * ${l.dvp}u + ${inBlock}u`,
              row,
            );
          },
          (rt) => ops.store(oName, `oBase + ${16 * rt * ow + 16 * n}u`, `acc${rt}`, ow),
        )
      ),
    ].join("\n    ")
    : tv
    ? `for (var cc = 0u; cc < ${cpl}u; cc++) {
      let col = half * ${cpl}u + cc;
      // Four keys of the probability row and of value column col per word (V^T).
      let vCol = (bh * ${l.skp}u + kt) * ${dvp4}u + col * ${bc / 4}u;
      var acc = 0i;
      for (var kw = 0u; kw < ${bc / 4}u; kw++) {
        acc += dot4I8Packed(bitcast<u32>(sP[pBase + r * ${pStride}u + kw]), bitcast<u32>(v8[vCol + kw]));
      }
      ${oName}[oBase + r * ${ow}u + col] = acc;
    }`
    : `for (var cc = 0u; cc < ${cpl}u; cc++) {
      let col = half * ${cpl}u + cc;
      var acc = 0i;
      for (var kw = 0u; kw < ${bc / 4}u; kw++) {
        let p = unpack4xI8(bitcast<u32>(sP[pBase + r * ${pStride}u + kw]));
        for (var bi = 0u; bi < 4u; bi++) {
          let vw = unpack4xI8(bitcast<u32>(v8[(bh * ${l.skp}u + kt + kw * 4u + bi) * ${dvp4}u + col / 4u]));
          acc += p[bi] * vw[col % 4u];
        }
      }
      ${oName}[oBase + r * ${ow}u + col] = acc;
    }`;
  // int32 -> float32 and float32 -> nearest int32 (see Int8AttentionOptions.fastConvert).
  const toFloat = (x: string) =>
    fastConvert ? `(bitcast<f32>(${x} + ${0x4b400000}i) - 12582912.0f)` : `f32(${x})`;
  const toInt = (x: string) =>
    fastConvert ? `(bitcast<i32>(${x} + 12582912.0f) - ${0x4b400000}i)` : `i32(round(${x}))`;
  const xs = range(kpl);
  const aligned = shape.alignedRows;
  // Lane 2r + 1 walks its half from another point: 16 keys (XOR) in the odd-stride layout, 4
  // keys on (mod 32) in the aligned one (see Int8AttentionOptions.alignedRows).
  const keyRotation = !rotate ? 0 : aligned ? 4 : 16;
  const at = (j: string) => rotate ? `((${j}) ^ hs)` : j;
  // The score of rotated key index `idx` of the lane's half, masked past the row's last key.
  const scoreAt = (idx: string) =>
    `select(${neg}, ${toFloat(`sS[sRow + ${idx}]`)} * scale, k0 + ${idx} < limit)`;
  const score = (j: string) => scoreAt(at(j));
  // Key 4w + i of the half, rotated (`j4` = 4w). Aligned rows keep a word's four keys adjacent
  // in the index expression, so that the compiler may read them as one 128-bit access.
  const keyAt = (j4: string, i: number) =>
    aligned
      ? (rotate ? `((${j4} + hs) & ${kpl - 1}u) + ${i}u` : `${j4} + ${i}u`)
      : at(`${j4} + ${i}u`);
  const wordMax = (of: (i: number) => string) => maxTree(range(4).map(of));
  const pWord = (w: string) =>
    `sP[pBase + r * ${pStride}u + half * ${kpl / 4}u + ${
      !rotate ? w : aligned ? `((${w} + half) & ${kpl / 4 - 1}u)` : `(${w} ^ (hs >> 2u))`
    }]`;
  // Value-product columns: lane 2r + 1 starts `rot` columns in (mod Dv / 2), which puts its
  // reads 16 banks from lane 2r's: `Dvp / 2 + rot = 16 (mod 32)`; aligned, 4 columns (one
  // 16-byte piece) on.
  const rot = !rotate ? 0 : aligned ? 4 : ((16 - (cpl % 32) + 32) % 32) % cpl;
  const column = (c: number) => rot === 0 ? `${c}u` : `((${c}u + oRot) % ${cpl}u)`;
  // Below every int32 score (|score| <= Dp * 127 * 127: a few million).
  const maskedInt = "-2000000000i";
  const probability = (x: string) =>
    `select(0i, ${toInt(`127.0f * exp2(${x} - b)`)}, ${x} > ${neg})`;
  // Prefetch: each invocation moves these words of the next key and value blocks.
  const lanes = 32 * subgroups;
  const kWords = fetched ? (bc * dp4) / lanes : 0, vWords = fetched ? (bc * dvp4) / lanes : 0;
  const fetchBlock = (block: string, into: (kind: "k" | "v", i: number, value: string) => string) =>
    [
      ...range(kWords).map((i) =>
        into("k", i, `k8[(bh * ${l.nkb}u + ${block}) * ${bc * dp4}u + li + ${i * lanes}u]`)
      ),
      ...range(vWords).map((i) =>
        into("v", i, `v8[(bh * ${l.nkb}u + ${block}) * ${bc * dvp4}u + li + ${i * lanes}u]`)
      ),
    ].join("\n    ");
  // Word li + i * lanes of the packed block, at its (possibly padded) row in workgroup memory.
  // A value block's rows are a key's Dvp channels, or (V^T) a channel's 64 keys.
  const tileOf = (kind: "k" | "v", i: number) => {
    const [name, packed, row] = kind === "k"
      ? ["sK", dp4, kRow / 4]
      : ["sV", tv ? bc / 4 : dvp4, vRow / 4];
    const w = `li + ${i * lanes}u`;
    return packed === row
      ? `${name}[${w}]`
      : `${name}[((${w}) / ${packed}u) * ${row}u + (${w}) % ${packed}u]`;
  };
  // The general passes over a block's scores (recomputed), with key masks: the first assigns
  // the lane's block maximum to `own` (declaring it, or into the lean form's `var own`).
  const maskedPassOne = (declareOwn: boolean) =>
    shape.integerMax
      ? `// The block maximum over int32 scores (masked keys below every score), scaled once.
    var ownInt = ${maskedInt};
    ${
        aligned
          ? `for (var w = 0u; w < ${kpl / 4}u; w++) {
      let j = 4u * w;
      ownInt = max(ownInt, ${
            wordMax((i) =>
              `select(${maskedInt}, sS[sRow + ${keyAt("j", i)}], k0 + ${keyAt("j", i)} < limit)`
            )
          });
    }`
          : `for (var j = 0u; j < ${kpl}u; j++) {
      ownInt = max(ownInt, select(${maskedInt}, sS[sRow + ${at("j")}], k0 + ${at("j")} < limit));
    }`
      }
    ${declareOwn ? "let own" : "own"} = select(${neg}, ${
        toFloat("ownInt")
      } * scale, ownInt != ${maskedInt});`
      : `${declareOwn ? `var own = ${neg};\n    ` : ""}${
        aligned
          ? `for (var w = 0u; w < ${kpl / 4}u; w++) {
      let j = 4u * w;
      own = max(own, ${wordMax((i) => scoreAt(keyAt("j", i)))});
    }`
          : `for (var j = 0u; j < ${kpl}u; j++) { own = max(own, ${score("j")}); }`
      }`;
  const maskedPassTwo = `for (var w = 0u; w < ${kpl / 4}u; w++) {
      let j = 4u * w;
      let pw = vec4<i32>(${
    range(4).map((i) => probability(scoreAt(keyAt("j", i)))).join(",\n        ")
  });
      ${pWord("w")} = bitcast<i32>(pack4xI8(pw));
      pSum += pw.x + pw.y + pw.z + pw.w;
    }`;
  // Lean passes for blocks with no masked key (see Int8AttentionOptions.leanSoftmax).
  const lean = shape.leanSoftmax
    ? leanSoftmaxPasses({
      keys: kpl,
      rotation: keyRotation,
      integerMax: shape.integerMax,
      toFloat,
      toInt,
    })
    : null;
  const code = `${native ? "enable chromium_experimental_subgroup_matrix;\n" : ""}enable subgroups;
${
    declareStorageArrays([
      { name: "q8", type: "i32" },
      { name: "qs", type: "f32" },
      { name: "k8", type: "i32" },
      { name: "ks", type: "f32" },
      { name: "v8", type: "i32" },
      { name: "stat", type: "f32" },
      { name: "o", type: "f32", write: true },
      { name: "lse", type: "u32", write: true },
    ])
  }
// Per subgroup: its ${rowsPerSg} x 64 int32 scores (row stride ${sw}); its ${rowsPerSg} x Dvp int32
// value product (in ${oName}, row stride ${ow}); its ${rowsPerSg} x 64 int8 probabilities, four
// per word (row stride ${pStride}).
var<workgroup> sS: array<i32, ${words.scores}>;
${separate ? `var<workgroup> sO: array<i32, ${words.products}>;` : ""}
${stageKeys ? `var<workgroup> sK: array<i32, ${words.keys}>;` : ""}
${
    fetched
      ? `var<workgroup> sK: array<i32, ${words.keys}>;
var<workgroup> sV: array<i32, ${words.values}>;`
      : ""
  }
var<workgroup> sP: array<i32, ${words.probabilities}>;
${matrices ? ops.prelude : ""}
@compute @workgroup_size(${32 * subgroups})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32${
    native && subgroups > 1
      ? ", @builtin(subgroup_id) sgId: u32, @builtin(subgroup_invocation_id) laneId: u32"
      : ""
  }) {
  ${grid.prologue}
  let bh = wgIndex / ${l.qTiles}u;
  let tile = wgIndex % ${l.qTiles}u;
  ${
    // Native offsets must be subgroup-uniform: from subgroup_id (li / 32 is not, to WGSL's
    // uniformity analysis). One subgroup per workgroup needs neither builtin.
    native && subgroups > 1
      ? "let sg = sgId;\n  let lane = laneId;"
      : native
      ? "let sg = 0u;\n  let lane = li;"
      : `// Virtual 32-lane subgroups${
        lpr === 2
          ? ": lanes 2r and 2r + 1 share a hardware subgroup of any size."
          : " (one lane per row: no lane exchanges)."
      }\n  let sg = li / 32u;\n  let lane = li % 32u;`}
  let row0 = tile * ${l.rowsPerGroup}u + sg * ${rowsPerSg}u;
  ${lpr === 2 ? "let r = lane >> 1u;\n  let half = lane & 1u;" : "let r = lane;\n  let half = 0u;"}
  let row = row0 + r;
  let rowScale = qs[(bh * ${l.sqp}u + row) * 2u];
  let sBase = sg * ${sgTile}u;
  let oBase = sg * ${oTile}u;
  let pBase = sg * ${rowsPerSg * pStride}u;
  ${rotate ? `let hs = half * ${keyRotation}u;` : ""}
  ${rot === 0 ? "" : `let oRot = half * ${rot}u;`}
  ${
    matrices
      ? range(rowTiles).flatMap((rt) =>
        range(l.dp / 32).map((kk) =>
          `let q${rt}_${kk} = ${
            ops.load(
              "left",
              "row_major",
              "q8",
              `(bh * ${l.sqp}u + row0${rt === 0 ? "" : ` + ${16 * rt}u`}) * ${l.dp}u + ${32 * kk}u`,
              l.dp,
            )
          };`
        )
      ).join("\n  ")
      : `let qRow = (bh * ${l.sqp}u + row) * ${dp4}u;`
  }
  let limit = ${rowLimit};
  var m = ${neg};
  var l = 0.0f;
  ${range(cpl).map((c) => `var o${c} = 0.0f;`).join(" ")}
  let keyEnd = ${keyEnd};
  ${
    stageKeys
      ? `if (keyEnd > 0u) {
    for (var w = li; w < ${bc * dp4}u; w += ${32 * subgroups}u) {
      sK[w] = k8[bh * ${l.skp * dp4}u + w];
    }
  }
  workgroupBarrier(); // the first key block is staged`
      : fetched
      ? `if (keyEnd > 0u) {
    ${fetchBlock("0u", (kind, i, value) => `${tileOf(kind, i)} = ${value};`)}
  }
  workgroupBarrier(); // the first key and value blocks are in workgroup memory`
      : ""
  }
  for (var t = 0u; t * ${bc}u < keyEnd; t++) {
    let kt = t * ${bc}u;
    ${
    stageKeys
      ? `// Block t + 1 goes to the other half of sK while this block's half is read; it was last
    // read in block t - 1 (before two barriers), and the next barrier publishes it.
    if (kt + ${bc}u < keyEnd) {
      let next = ((t + 1u) % 2u) * ${bc * dp4}u;
      for (var w = li; w < ${bc * dp4}u; w += ${32 * subgroups}u) {
        sK[next + w] = k8[(bh * ${l.skp}u + kt + ${bc}u) * ${dp4}u + w];
      }
    }
    let kBuf = (t % 2u) * ${bc * l.dp}u; // this block's half of sK, in int8 elements`
      : fetched
      ? `// The next block (or this one again, at the end) into registers; stored after the value
    // product has been read, where its latency has passed.
    let nextBlock = min(t + 1u, ${l.nkb - 1}u);
    ${fetchBlock("nextBlock", (kind, i, value) => `let ${kind}Next${i} = ${value};`)}`
      : ""
  }
    ${without("scores") ? "// (score products ablated)" : scores}
    workgroupBarrier(); // the score tile is stored
    ${
    without("softmax")
      ? `// (softmax ablated)
    let alpha = 1.0f;
    let f = 1.0f;
    let mNew = m;`
      : `let scale = rowScale * ks[bh * ${l.nkb}u + t];
    let sRow = sBase + r * ${sw}u + half * ${kpl}u;
    let k0 = kt + half * ${kpl}u;
    ${
        lean
          ? `// Every key of the lane's half within its row's limit: the lean passes, no masks.
    let full = k0 + ${kpl}u <= limit;
    let pRow = pBase + r * ${pStride}u + half * ${kpl / 4}u;
    ${lean.bases}
    var own = ${neg};
    if (full) {
      own = ${lean.passOne};
    } else {
      ${maskedPassOne(false)}
    }`
          : recompute
          ? maskedPassOne(true)
          : `${
            xs.map((j) =>
              `let x${j} = ${aligned ? scoreAt(keyAt(`${4 * (j >> 2)}u`, j & 3)) : score(`${j}u`)};`
            ).join("\n    ")
          }
    let own = ${maxTree(xs.map((j) => `x${j}`))};`
      }
    let b = ${lpr === 2 ? "max(own, subgroupShuffleXor(own, 1u))" : "own"};
    let mNew = max(m, b);
    let alpha = exp2(m - mNew);
    let f = exp2(b - mNew);
    ${
        recompute
          ? `// The scores again, from workgroup memory: four probabilities per packed word.
    var pSum = 0i;
    ${
            lean
              ? `if (full) {
      ${lean.passTwo}
    } else {
      ${maskedPassTwo}
    }`
              : maskedPassTwo
          }`
          : `${xs.map((j) => `let p${j} = ${probability(`x${j}`)};`).join("\n    ")}
    ${
            range(kpl / 4).map((w) =>
              `${pWord(`${w}u`)} = bitcast<i32>(pack4xI8(vec4<i32>(${
                range(4).map((i) => `p${4 * w + i}`).join(", ")
              })));`
            ).join("\n    ")
          }
    let pSum = ${xs.map((j) => `p${j}`).join(" + ")};`
      }
    l = l * alpha + f * f32(pSum);`
  }
    workgroupBarrier(); // the probabilities are stored and the scores read
    ${without("values") ? "// (value products ablated)" : values}
    workgroupBarrier(); // the value product is stored
    ${
    without("fold") || without("values")
      ? "// (fold ablated)"
      : `let oRow = oBase + r * ${ow}u + half * ${cpl}u;
    ${
        rot === 0 ? "" : `// Columns c + rot past Dv / 2 wrap to the start of the half.
    let oA = oRow + oRot;
    let oB = oA - half * ${cpl}u;`
      }
    ${
        range(cpl).map((c) =>
          `o${c} = o${c} * alpha + f * ${
            toFloat(`${oName}[${rot === 0 ? "oRow" : c < cpl - rot ? "oA" : "oB"} + ${c}u]`)
          };`
        ).join("\n    ")
      }`
  }
    m = mNew;
    ${
    fetched
      ? `// Every subgroup has read this block's keys and values (before the last barrier); the
    // next barrier publishes the next block's.
    ${range(kWords).map((i) => `${tileOf("k", i)} = kNext${i};`).join("\n    ")}
    ${range(vWords).map((i) => `${tileOf("v", i)} = vNext${i};`).join("\n    ")}`
      : ""
  }
    ${
    separate
      ? "// The next scores go to sS, read before the last barrier: no barrier needed here."
      : "workgroupBarrier(); // the value product is read before the next scores overwrite it"
  }
  }
  let total = ${lpr === 2 ? "l + subgroupShuffleXor(l, 1u)" : "l"};
  if (row < ${l.sq}u) {
    let sb = bh * ${l.statWidth}u + ${l.dp}u;
    let oAt = (bh * ${l.sq}u + row) * ${l.dv}u;
    let c0 = half * ${cpl}u;
    ${
    range(cpl).map((c) =>
      `{ let col = c0 + ${
        column(c)
      }; if (col < ${l.dv}u) { o[oAt + col] = select(0.0f, stat[sb + col] / 127.0f * o${c} / total + stat[sb + ${l.dvp}u + col], total > 0.0f); } }`
    ).join("\n    ")
  }
    if (half == 0u) {
      lse[bh * ${l.sq}u + row] = select(${negativeInfinityBits}, bitcast<u32>(${
    f32Literal(Math.LN2)
  } * (m + log2(total / 127.0f)) + qs[(bh * ${l.sqp}u + row) * 2u + 1u]), total > 0.0f);
    }
  }
}
`;
  return {
    name: `attn_i8_fwd_${mode}_${subgroups}sg${wide ? "_w" : ""}${separate ? "_sep" : ""}${
      stageKeys ? "_stk" : ""
    }${fetched ? "_pf" : ""}${recompute ? "_rc" : ""}${shape.integerMax ? "_im" : ""}${
      fastConvert ? "_fc" : ""
    }${conflictFree ? "_cf" : ""}${aligned ? "_al" : ""}${shape.padKeyValueRows ? "_pkv" : ""}${
      tv ? "_tv" : ""
    }${lean ? "_ls" : ""}${shape.ablate.map((part) => `_x${part}`).join("")}`,
    code,
    bindings: [
      readBinding("i8_q"),
      readBinding("i8_qs"),
      readBinding("i8_k"),
      readBinding("i8_ks"),
      readBinding("i8_v"),
      readBinding("i8_stat"),
      writeBinding("out0"),
      writeBinding("out1"),
    ],
    workgroups: grid.workgroups,
  };
}

/**
 * The int8 attention forward plan: inputs `in0` q `[B, H, Sq, D]`, `in1` k `[B, H, Sk, D]`,
 * `in2` v `[B, H, Sk, Dv]` (float32), outputs `out0` `[B, H, Sq, Dv]` (float32) and `out1` the
 * log-sum-exp `[B, H, Sq]` (natural log, float32 bits), like `attentionForwardPlan`. Throws
 * with the offending values when the spec is not float32 or the adapter lacks subgroups.
 *
 * @example
 * ```ts ignore
 * import { int8AttentionPlan } from "./attention_int8.ts";
 * const plan = int8AttentionPlan({ batch: 2, heads: 48, seqQ: 17776, seqK: 17776,
 *   headDim: 64, headDimV: 64, scale: 0.125, causal: false, dtype: "f32" }, target);
 * plan.kernels.at(-1)!.name; // "attn_i8_fwd_native_4sg_pf_rc_im_fc_cf_al_pkv_tv_ls" (word units)
 * ```
 */
export function int8AttentionPlan(
  spec: AttentionSpec,
  target: KernelTarget,
  options: Int8AttentionOptions = {},
): KernelPlan {
  const mode = options.mode ?? (int8AttentionNative(target) ? "native" : "emulated");
  // Native defaults: the fastest configuration of the H100 sweeps (session 8, B = 2, H = 48,
  // S = 17,776, D = 64): 4 subgroups, prefetched blocks in padded rows, conflict-free aligned
  // layout, recomputed scores with an integer maximum and lean softmax passes, float-add
  // conversions and transposed value tiles, 90.5 ms (100.6 without the lean passes, 126.4 also
  // with row-major value tiles; session 5's default, without pkv/al/im/tv/ls, 201.5 ms; the plain
  // 4-subgroup kernel took 264 ms). Prefetch needs word units (see below).
  const native = mode === "native";
  const wordUnits = target.int8MatrixUnits?.offset === 4 && target.int8MatrixUnits.stride === 4;
  const separate = options.separateProducts ?? false;
  const prefetch = (options.prefetch ?? (native && wordUnits && !separate && !options.stageKeys)) &&
    mode !== "emulated";
  const recompute = options.recomputeScores ?? native;
  const conflictFree = options.conflictFree ?? native;
  const shape: Int8KernelShape = {
    separate,
    // The emulated products read keys straight from storage: nothing to stage.
    stageKeys: (options.stageKeys ?? false) && mode !== "emulated",
    prefetch,
    recompute,
    // Only with recomputed scores, and aligned rows only in the conflict-free layout: settled
    // here, so the kernel and its name read one flag each.
    integerMax: (options.integerMax ?? native) && recompute,
    fastConvert: options.fastConvert ?? native,
    conflictFree,
    alignedRows: (options.alignedRows ?? native) && conflictFree,
    // Like prefetch, off for the emulated form.
    padKeyValueRows: (options.padKeyValueRows ?? native) && prefetch,
    // Faster in both modes; the measurements are in Int8AttentionOptions.transposedValues.
    transposedValues: options.transposedValues ?? true,
    // Only with recomputed scores: an explicit recomputeScores: false keeps it off.
    leanSoftmax: options.leanSoftmax ?? (native && recompute),
    wide: options.wideRows ?? false,
    padProbabilities: native && !wordUnits,
    ablate: options.ablate ?? [],
  };
  // Dawn's validator sizes a constant-offset matrix access in i32 words; with element offsets
  // or strides the single-buffered tiles would have to be padded four-fold (see int8TileStrides).
  if (shape.prefetch && native && !wordUnits) {
    throw new Error(
      `int8 attention: prefetch needs subgroup-matrix offsets and strides counted in i32 words; this ` +
        `adapter's probe found ${JSON.stringify(target.int8MatrixUnits ?? null)}`,
    );
  }
  if (options.padKeyValueRows && !prefetch && mode !== "emulated") {
    throw new Error(
      `int8 attention: padKeyValueRows pads the prefetched key and value blocks and needs ` +
        `prefetch; got prefetch ${options.prefetch ?? `off by default`} in the ${mode} mode`,
    );
  }
  if (shape.leanSoftmax && !shape.recompute) {
    throw new Error(
      `int8 attention: leanSoftmax rewrites the passes over recomputed scores and needs ` +
        `recomputeScores; got recomputeScores ${options.recomputeScores ?? `off by default`} in ` +
        `the ${mode} mode`,
    );
  }
  if (options.prefetch && (shape.separate || options.stageKeys)) {
    throw new Error(
      `int8 attention: prefetch stores the next block after the fourth barrier and replaces ` +
        `stageKeys; got separateProducts ${shape.separate}, stageKeys ${options.stageKeys}`,
    );
  }
  // By default 4 subgroups, or fewer where a wide Dv would not fit the workgroup memory.
  const fits = (n: number) =>
    int8SharedBytes(spec, n, shape) <= target.maxWorkgroupStorageBytes &&
    32 * n <= target.maxInvocationsPerWorkgroup;
  const subgroups = options.subgroups ?? [4, 2, 1].find(fits) ?? 1;
  checkSizes("int8 attention", {
    batch: spec.batch,
    heads: spec.heads,
    seqQ: spec.seqQ,
    seqK: spec.seqK,
    headDim: spec.headDim,
    headDimV: spec.headDimV,
  }, ["batch", "heads", "seqQ", "seqK"]);
  if (spec.dtype !== "f32") {
    throw new Error(`int8 attention: takes float32 q, k and v, got dtype "${spec.dtype}"`);
  }
  if (![1, 2, 4, 8].includes(subgroups)) {
    throw new Error(`int8 attention: subgroups must be 1, 2, 4 or 8, got ${subgroups}`);
  }
  if (!target.subgroups) {
    throw new Error(
      "int8 attention: needs the adapter's subgroups feature (the lanes of a row exchange " +
        'maxima and sums); use quantization "none" on this adapter',
    );
  }
  if (mode === "native" && !int8AttentionNative(target)) {
    throw new Error(
      `int8 attention: the native mode needs 16x16x32 int8 subgroup matrices on 32-lane ` +
        `subgroups, with offset and stride units identified by the device's probe; this ` +
        `adapter has subgroupMatrixInt8 ${target.subgroupMatrixInt8 ?? false}, subgroup size ` +
        `${target.subgroupSize ?? "varying"}, units ${
          JSON.stringify(target.int8MatrixUnits ?? null)
        }`,
    );
  }
  const l = int8Layout(spec, subgroups, int8RowsPerSubgroup(shape));
  if (!fits(subgroups)) {
    throw new Error(
      `int8 attention: ${subgroups} subgroups need ${
        int8SharedBytes(spec, subgroups, shape)
      } bytes of workgroup memory (Dv ${spec.headDimV}) and ` +
        `${32 * subgroups} invocations; the adapter allows ${target.maxWorkgroupStorageBytes} ` +
        `and ${target.maxInvocationsPerWorkgroup}`,
    );
  }
  if (l.bh * l.sq === 0) return { scratch: [], kernels: [] };
  checkBindings("attn_i8_fwd", 8, target);
  return {
    scratch: int8Scratch(l),
    kernels: [
      ...int8QuantizationKernels(l, spec, target, shape.transposedValues),
      mainKernel(l, spec, target, mode, subgroups, shape),
    ],
  };
}
