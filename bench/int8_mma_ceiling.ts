/**
 * How fast can WGSL's int8 subgroup matrices go on this adapter, and which of the int8
 * attention's habits cost what? Kernels that do nothing but the attention's tile products, in
 * four access patterns, each checked exactly against a CPU product before it is timed
 * (`bench/gpu_int8_mma_ceiling.ts` runs them).
 *
 * Why: the int8 attention (`kernels/webgpu/templates/attention_int8.ts`) reaches 38 TOPS on an
 * H100 at S = 17,776 (205 ms for `4 B H S^2 D` = 7.8e12 integer operations, quantization
 * included), and a naive one-subgroup int8 matmul reached 46 TOPS on an H200. Whether 180 ms
 * (43 TOPS) is near what Dawn's subgroup matrices allow, or far from it, decides where the next
 * kernel work goes: into the products' feeding, or into the softmax around them. Answer (H100,
 * session 8): the products alone run at 850-1010 TOP/s from registers, workgroup memory or
 * storage; the attention now reaches 86 TOP/s (90.5 ms) and spends over half its time in the
 * softmax passes.
 *
 * The source buffer holds, in int8 elements: `16 R` query rows of 64 channels (row-major, row
 * tile `r` and channel half `kk` as the left tile at `1024 r + 32 kk`, stride 64), then one
 * block of 64 keys of 64 channels at {@link ceilingKeysAt} (right tile `(n, kk)`: keys
 * `16n .. 16n + 15`, channels `32 kk ..`, read column-major with stride 64: the attention's
 * `K^T` tiles). Patterns:
 * - `registers`: `R` left and right tiles loaded once from storage; every iteration is `R`
 *   independent products into `R` accumulators. The raw product rate.
 * - `workgroup`: the key block in workgroup memory; every iteration loads one of its 8 tiles and
 *   multiplies it into `R` accumulators (`R` = 1 is the attention's 16-row subgroups, 2 its
 *   `wideRows`).
 * - `storage`: the same products with the key tiles loaded straight from the storage buffer
 *   every time (through the caches), as the attention does without `prefetch`.
 * - `scores`: the attention's score step: per iteration a 16 x 16 score tile per row tile (two
 *   products over the 64 channels) stored to workgroup memory, with a workgroup barrier after
 *   every 4 iterations (one key block) when `barriers` is set.
 *
 * @module
 */

import type { KernelPlan, KernelTarget } from "../kernels/webgpu/kernel.ts";
import {
  type MatrixOps,
  mimicOps,
  nativeOps,
} from "../kernels/webgpu/templates/_int8_matrix_ops.ts";
import {
  declareStorageArrays,
  readBinding,
  writeBinding,
} from "../kernels/webgpu/templates/_wgsl.ts";

/**
 * The access patterns of {@link int8MmaCeilingPlan} (see the module documentation).
 *
 * @example
 * ```ts
 * import type { CeilingPattern } from "./int8_mma_ceiling.ts";
 * const attentionScores: CeilingPattern = "scores";
 * ```
 */
export type CeilingPattern = "registers" | "workgroup" | "storage" | "scores";

/**
 * One ceiling kernel.
 *
 * @example
 * ```ts
 * import type { CeilingCase } from "./int8_mma_ceiling.ts";
 * // The attention's key-tile feeding with wide rows: each loaded tile feeds two products.
 * const wide: CeilingCase = { pattern: "workgroup", subgroups: 4, rowTiles: 2,
 *   iterations: 8192, workgroups: 1056 };
 * ```
 */
export interface CeilingCase {
  readonly pattern: CeilingPattern;
  /** 32-lane subgroups per workgroup: 1, 2, 4 or 8. */
  readonly subgroups: number;
  /** Row tiles (accumulators) per subgroup: 1 to 8 (`scores`: 1 or 2). */
  readonly rowTiles: number;
  /** Loop iterations per subgroup: a multiple of {@link ceilingIterationStep}. */
  readonly iterations: number;
  /** Workgroups launched (at most 65,535). */
  readonly workgroups: number;
  /** `scores` only: a workgroup barrier after every 4 iterations (one 64-key block). */
  readonly barriers?: boolean;
  /**
   * Bytes between consecutive keys of the block in workgroup memory: 64 (packed, the attention's
   * layout) or 80 (each key padded by 16 bytes, so that 8 keys' 16-byte pieces fall in distinct
   * banks). Default 64.
   */
  readonly keyStride?: 64 | 80;
  /**
   * How the right tiles are read: `col_major` (default: the attention's `K^T` tiles, four
   * consecutive channels of a key per word) or `row_major` (the attention's value tiles without
   * `transposedValues`: tile `(n, kk)` is rows `32 kk ..` of the block, columns `16 n ..`, so a
   * lane's four consecutive `k` lie in four rows). Suffix `_rm`.
   */
  readonly rightLayout?: "col_major" | "row_major";
}

/**
 * Int8 element offset of the key block in the source buffer (after 8 row tiles of queries).
 *
 * @example
 * ```ts
 * import { ceilingKeysAt } from "./int8_mma_ceiling.ts";
 * ceilingKeysAt / 64; // 128 query rows of 64 channels come first
 * ```
 */
export const ceilingKeysAt = 8 * 1024;

/**
 * Int8 elements of the source buffer: 128 query rows and 64 keys, 64 channels each.
 *
 * @example
 * ```ts
 * import { ceilingSourceElements } from "./int8_mma_ceiling.ts";
 * const source = new Int8Array(ceilingSourceElements); // 12,288 elements
 * ```
 */
export const ceilingSourceElements = ceilingKeysAt + 64 * 64;

/**
 * A seeded source of {@link ceilingSourceElements} int8 elements within [-2, 2], where every
 * product the ceiling kernels compute stays exact in int32 (see {@link ceilingExpected}).
 *
 * @example
 * ```ts
 * import { ceilingSource } from "./int8_mma_ceiling.ts";
 * ceilingSource(7).every((x) => x >= -2 && x <= 2); // true
 * ```
 */
export function ceilingSource(seed: number): Int8Array {
  let s = seed;
  return Int8Array.from({ length: ceilingSourceElements }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s >> 16) % 5 - 2;
  });
}

/**
 * Loop iterations of one whole pass over a pattern's key tiles: `iterations` must be a multiple.
 *
 * @example
 * ```ts
 * import { ceilingIterationStep } from "./int8_mma_ceiling.ts";
 * ceilingIterationStep.workgroup; // 8: tiles (n, 0) and (n, 1) for n = 0..3
 * ```
 */
export const ceilingIterationStep: Readonly<Record<CeilingPattern, number>> = {
  registers: 1,
  workgroup: 8,
  storage: 8,
  scores: 4,
};

/** Row stride (i32 words) of the score tiles: 1 (mod 32), so rows start in distinct banks. */
const scoreStride = 65;

/**
 * Integer operations of one launch (`2 * 16 * 16 * 32` per product).
 *
 * @example
 * ```ts
 * import { ceilingOps } from "./int8_mma_ceiling.ts";
 * ceilingOps({ pattern: "registers", subgroups: 1, rowTiles: 1, iterations: 1, workgroups: 1 });
 * // 16384
 * ```
 */
export function ceilingOps(c: CeilingCase): number {
  const products = c.pattern === "scores" ? 2 : 1;
  return 16384 * products * c.rowTiles * c.iterations * c.subgroups * c.workgroups;
}

/**
 * Int32 words each subgroup writes to the output: `R` 16 x 16 tiles (`registers`,
 * `workgroup`, `storage`) or `R` 16 x 64 score tiles (`scores`).
 *
 * @example
 * ```ts
 * import { ceilingWordsPerSubgroup } from "./int8_mma_ceiling.ts";
 * ceilingWordsPerSubgroup({ pattern: "scores", subgroups: 4, rowTiles: 2, iterations: 4,
 *   workgroups: 1 }); // 2048
 * ```
 */
export function ceilingWordsPerSubgroup(c: CeilingCase): number {
  return c.rowTiles * (c.pattern === "scores" ? 1024 : 256);
}

function checkCase(c: CeilingCase): void {
  const step = ceilingIterationStep[c.pattern];
  const maxRowTiles = c.pattern === "scores" ? 2 : 8;
  const problems = [
    ![1, 2, 4, 8].includes(c.subgroups) && `subgroups ${c.subgroups} (1, 2, 4 or 8)`,
    (c.rowTiles < 1 || c.rowTiles > maxRowTiles || !Number.isInteger(c.rowTiles)) &&
    `rowTiles ${c.rowTiles} (1 to ${maxRowTiles} for ${c.pattern})`,
    (c.iterations < 1 || !Number.isInteger(c.iterations) || c.iterations % step !== 0) &&
    `iterations ${c.iterations} (a positive multiple of ${step} for ${c.pattern})`,
    (c.workgroups < 1 || c.workgroups > 65535 || !Number.isInteger(c.workgroups)) &&
    `workgroups ${c.workgroups} (1 to 65,535)`,
    ![undefined, 64, 80].includes(c.keyStride) && `keyStride ${c.keyStride} (64 or 80)`,
    ![undefined, "col_major", "row_major"].includes(c.rightLayout) &&
    `rightLayout ${c.rightLayout} (col_major or row_major)`,
  ].filter((p): p is string => typeof p === "string");
  if (problems.length > 0) {
    throw new Error(`int8 MMA ceiling: bad case ${JSON.stringify(c)}: ${problems.join("; ")}`);
  }
}

/**
 * The ceiling kernel of `c`: binds `in0` (the source, packed int8) and `out0` (int32,
 * {@link ceilingWordsPerSubgroup} words per subgroup in launch order). `mode` `native` prints
 * Dawn's subgroup-matrix builtins (the adapter's `int8MatrixUnits` must be known); `mimic`
 * prints the plain-WGSL stand-ins of the attention's tests (exact, slow; keep `iterations`
 * small), so the offsets, strides and expected values are checked on any adapter.
 *
 * @example
 * ```ts ignore
 * import { int8MmaCeilingPlan } from "./int8_mma_ceiling.ts";
 * const plan = int8MmaCeilingPlan({ pattern: "workgroup", subgroups: 4, rowTiles: 1,
 *   iterations: 4096, workgroups: 1056 }, target, "native");
 * plan.kernels[0]!.name; // "int8_ceiling_workgroup_4sg_r1"
 * ```
 */
export function int8MmaCeilingPlan(
  c: CeilingCase,
  target: KernelTarget,
  mode: "native" | "mimic",
): KernelPlan {
  checkCase(c);
  if (mode === "native" && target.int8MatrixUnits === undefined) {
    throw new Error(
      "int8 MMA ceiling: the native kernels need the device probe's int8MatrixUnits " +
        `(subgroupMatrixInt8 ${target.subgroupMatrixInt8 ?? false})`,
    );
  }
  const { pattern, subgroups, rowTiles: rt, iterations } = c;
  const native = mode === "native";
  const maxPairs = pattern === "scores" ? 2 : iterations;
  const ops: MatrixOps = native ? nativeOps(target.int8MatrixUnits!) : mimicOps(
    pattern === "registers" || pattern === "storage" ? ["src"] : ["src", "sB"],
    maxPairs,
    [pattern === "scores" ? "sS" : "dst"],
  );
  const rows = Array.from({ length: rt }, (_, r) => r);
  const left = (r: number, kk: number) =>
    ops.load("left", "row_major", "src", `${1024 * r + 32 * kk}u`, 64);
  // Int8 elements between keys in workgroup memory (storage keeps them packed).
  const ks = c.keyStride ?? 64;
  const rowMajor = c.rightLayout === "row_major";
  // Right tile (n, kk): keys 16n .. by channels 32kk .. (col_major), or rows 32kk .. of the
  // block by its columns 16n .. (row_major); rows are 64 int8 apart in storage, ks in sB.
  const keyTile = (buffer: "src" | "sB", n: string, kk: string) => {
    const row = buffer === "src" ? 64 : ks;
    const at = rowMajor ? `${kk} * ${32 * row}u + ${n} * 16u` : `${n} * ${16 * row}u + ${kk} * 32u`;
    return ops.load(
      "right",
      rowMajor ? "row_major" : "col_major",
      buffer,
      buffer === "src" ? `${ceilingKeysAt}u + ${at}` : at,
      row,
    );
  };
  const words = ceilingWordsPerSubgroup(c);
  const out = `(wid.x * ${subgroups}u + sg) * ${words}u`;
  // Both channel halves of each row tile's queries, the accumulators, and their stores.
  const leftPairs = rows.flatMap((r) => [0, 1].map((kk) => `let a${r}_${kk} = ${left(r, kk)};`))
    .join("\n  ");
  const accumulators = rows.map((r) => `var acc${r} = ${ops.zero};`).join("\n  ");
  const stores = rows.map((r) => ops.store("dst", `${out} + ${256 * r}u`, `acc${r}`, 16))
    .join("\n  ");
  // Key tiles from workgroup memory (the block copied there) or straight from storage.
  const feed = (buffer: "src" | "sB") =>
    `${leftPairs}
  ${accumulators}
  for (var i = 0u; i < ${iterations}u; i += 2u) {
    // Tiles (n, 0) and (n, 1) of the key block: n = (i / 2) % 4.
    let n = (i >> 1u) & 3u;
    { let b = ${keyTile(buffer, "n", "0u")};
      ${rows.map((r) => `acc${r} = ${ops.mma(`a${r}_0`, "b", `acc${r}`)};`).join(" ")} }
    { let b = ${keyTile(buffer, "n", "1u")};
      ${rows.map((r) => `acc${r} = ${ops.mma(`a${r}_1`, "b", `acc${r}`)};`).join(" ")} }
  }
  ${stores}`;
  const body = {
    registers: `${rows.map((r) => `let a${r} = ${left(r, 0)};`).join("\n  ")}
  ${rows.map((r) => `let b${r} = ${keyTile("src", `${r % 4}u`, `${(r >> 2) % 2}u`)};`).join("\n  ")}
  ${accumulators}
  for (var i = 0u; i < ${iterations}u; i++) {
    ${rows.map((r) => `acc${r} = ${ops.mma(`a${r}`, `b${r}`, `acc${r}`)};`).join("\n    ")}
  }
  ${stores}`,
    workgroup: feed("sB"),
    storage: feed("src"),
    scores: `${leftPairs}
  let sBase = sg * ${rt * 16 * scoreStride}u;
  for (var i = 0u; i < ${iterations}u; i++) {
    let n = i & 3u;
    ${
      rows.map((r) =>
        `{ var acc = ${ops.zero};
      acc = ${ops.mma(`a${r}_0`, keyTile("sB", "n", "0u"), "acc")};
      acc = ${ops.mma(`a${r}_1`, keyTile("sB", "n", "1u"), "acc")};
      ${ops.store("sS", `sBase + ${16 * r * scoreStride}u + n * 16u`, "acc", scoreStride)} }`
      ).join("\n    ")
    }
    ${c.barriers ? "if ((i & 3u) == 3u) { workgroupBarrier(); } // one key block done" : ""}
  }
  workgroupBarrier(); // the last score tiles are stored
  for (var e = lane; e < ${words}u; e += 32u) {
    let r = e / 1024u;
    let row = (e / 64u) % 16u;
    dst[${out} + e] = sS[sBase + (r * 16u + row) * ${scoreStride}u + e % 64u];
  }`,
  }[pattern];
  // The key block is copied for every pattern that reads it from workgroup memory.
  const inWorkgroup = pattern === "workgroup" || pattern === "scores";
  const copy = !inWorkgroup ? "" : `for (var w = li; w < 1024u; w += ${32 * subgroups}u) {
    sB[(w / 16u) * ${ks / 4}u + w % 16u] = src[${ceilingKeysAt / 4}u + w];
  }
  workgroupBarrier(); // the key block is in workgroup memory`;
  const code = `${
    native ? "enable chromium_experimental_subgroup_matrix;\nenable subgroups;\n" : ""
  }${
    declareStorageArrays([{ name: "src", type: "i32" }, { name: "dst", type: "i32", write: true }])
  }
${
    !inWorkgroup ? "" : `var<workgroup> sB: array<i32, ${
      // Row-major tiles span 32 rows: Dawn's validator sizes a matrix access in i32 words
      // (see int8TileStrides), so with element units it asks for 32 rows of ks words.
      rowMajor ? 32 * ks : 16 * ks}>; // 64 keys x 64 int8 channels, ${ks} bytes apart`
  }
${
    pattern === "scores"
      ? `var<workgroup> sS: array<i32, ${subgroups * rt * 16 * scoreStride}>;`
      : ""
  }
${native ? "" : ops.prelude}
@compute @workgroup_size(${32 * subgroups})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32${
    native && subgroups > 1
      ? ", @builtin(subgroup_id) sgId: u32, @builtin(subgroup_invocation_id) laneId: u32"
      : ""
  }) {
  ${
    native && subgroups > 1
      ? "let sg = sgId;\n  let lane = laneId;"
      : native
      ? "let sg = 0u;\n  let lane = li;"
      : "let sg = li / 32u;\n  let lane = li % 32u;"
  }
  ${copy}
  ${body}
}
`;
  return {
    scratch: [],
    kernels: [{
      name: `int8_ceiling_${pattern}_${subgroups}sg_r${rt}${c.barriers ? "_bar" : ""}${
        ks === 64 ? "" : `_ks${ks}`
      }${rowMajor ? "_rm" : ""}`,
      code,
      bindings: [readBinding("in0"), writeBinding("out0")],
      workgroups: [c.workgroups, 1, 1],
    }],
  };
}

/**
 * What every subgroup of `c` must write, computed on the CPU from the source's int8 elements
 * (the products are exact in int32 for sources within [-2, 2] and `iterations` up to 2^16).
 *
 * @example
 * ```ts
 * import { ceilingExpected, ceilingSourceElements } from "./int8_mma_ceiling.ts";
 * const zeros = new Int8Array(ceilingSourceElements);
 * ceilingExpected({ pattern: "registers", subgroups: 1, rowTiles: 1, iterations: 3,
 *   workgroups: 1 }, zeros).every((x) => x === 0); // true
 * ```
 */
export function ceilingExpected(c: CeilingCase, source: Int8Array): Int32Array {
  if (source.length !== ceilingSourceElements) {
    throw new Error(
      `int8 MMA ceiling: the source has ${source.length} int8 elements, expected ` +
        `${ceilingSourceElements}`,
    );
  }
  // Query row i (of 16 R), channel d; key j (of 64), channel d.
  const query = (i: number, d: number) => source[i * 64 + d]!;
  const key = (j: number, d: number) => source[ceilingKeysAt + j * 64 + d]!;
  // Element (k, j) of right tile (n, kk): key 16n + j, channel 32kk + k (col_major), or the
  // block's row 32kk + k, column 16n + j (row_major).
  const right = (n: number, kk: number, k: number, j: number) =>
    c.rightLayout === "row_major" ? key(32 * kk + k, 16 * n + j) : key(16 * n + j, 32 * kk + k);
  // The 16 x 16 product of row tile r's channels [32kk, 32kk + 32) with right tile (n, kk).
  const tile = (r: number, n: number, kk: number, i: number, j: number) => {
    let s = 0;
    for (let k = 0; k < 32; k++) s += query(16 * r + i, 32 * kk + k) * right(n, kk, k, j);
    return s;
  };
  const out = new Int32Array(ceilingWordsPerSubgroup(c));
  for (let r = 0; r < c.rowTiles; r++) {
    for (let i = 0; i < 16; i++) {
      if (c.pattern === "scores") {
        for (let j = 0; j < 64; j++) {
          out[r * 1024 + i * 64 + j] = tile(r, j >> 4, 0, i, j & 15) +
            tile(r, j >> 4, 1, i, j & 15);
        }
        continue;
      }
      for (let j = 0; j < 16; j++) {
        let s = 0;
        if (c.pattern === "registers") {
          // Left tile (r, 0) with right tile (r % 4, (r / 4) % 2), every iteration.
          s = c.iterations * (
            Array.from({ length: 32 }, (_, d) => d).reduce(
              (a, d) => a + query(16 * r + i, d) * right(r % 4, (r >> 2) % 2, d, j),
              0,
            )
          );
        } else {
          // Every 8 iterations visit all 8 (n, kk) tiles once.
          for (let n = 0; n < 4; n++) s += tile(r, n, 0, i, j) + tile(r, n, 1, i, j);
          s *= c.iterations / 8;
        }
        out[r * 256 + i * 16 + j] = s;
      }
    }
  }
  return out;
}
