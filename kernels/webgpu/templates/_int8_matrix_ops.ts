/**
 * The subgroup-matrix operations of the int8 attention kernel (`attention_int8.ts`), spelled two
 * ways: `nativeOps(units)` prints Dawn's `chromium_experimental_subgroup_matrix` builtins (int8 16x32
 * left, 32x16 right, int32 16x16 result), and `mimicOps` prints plain WGSL functions of the same
 * roles, so that the native kernel's text runs (exactly, slowly) on any adapter in tests.
 *
 * @module
 */

import type { Int8MatrixUnits } from "../kernel.ts";

/**
 * How the main kernel spells subgroup-matrix operations (`native` or `mimic`).
 *
 * @example
 * ```ts
 * import { nativeOps } from "./_int8_matrix_ops.ts";
 * nativeOps({ offset: 4, stride: 4 }).mma("a", "b", "acc");
 * // "subgroupMatrixMultiplyAccumulate(a, b, acc)"
 * ```
 */
export interface MatrixOps {
  /** A zero int32 result tile. */
  readonly zero: string;
  /** Loads a left (16 x 32) or right (32 x 16) int8 tile from `buffer` (packed `array<i32>`). */
  load(
    kind: "left" | "right",
    layout: Layout8,
    buffer: string,
    offset: string,
    stride: number,
  ): string;
  /** `acc + a b`. */
  mma(a: string, b: string, acc: string): string;
  /** Stores a result tile row-major into an int32 workgroup array (a statement). */
  store(array: string, offset: string, acc: string, stride: number): string;
  /** WGSL declarations the operations need. */
  readonly prelude: string;
}

/**
 * The layout of an int8 tile in memory (WGSL's `row_major` / `col_major` template argument).
 *
 * @example
 * ```ts
 * import type { Layout8 } from "./_int8_matrix_ops.ts";
 * const keys: Layout8 = "col_major"; // K^T read from row-major keys
 * ```
 */
export type Layout8 = "row_major" | "col_major";

/**
 * Dawn's subgroup-matrix builtins. The kernel computes every load offset and stride in int8
 * elements; `units` (found by the device's probe, `int8_matrix_probe.ts`) says what the adapter
 * counts instead, and the text is scaled to it: word offsets are divided by 4 in WGSL (the
 * kernel's offsets are multiples of 4), word strides at generation.
 *
 * @example
 * ```ts
 * import { nativeOps } from "./_int8_matrix_ops.ts";
 * nativeOps({ offset: 4, stride: 4 }).load("right", "col_major", "k8", "off", 64);
 * // "subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, col_major>(&k8, (off) / 4u, 16u)"
 * ```
 */
export function nativeOps(units: Int8MatrixUnits): MatrixOps {
  return {
    zero: "subgroup_matrix_result<i32, 16, 16>()",
    load: (kind, layout, buffer, offset, stride) => {
      if (stride % units.stride !== 0) {
        throw new Error(
          `An int8 matrix stride of ${stride} elements is not a whole number of ${units.stride}-element units`,
        );
      }
      const at = units.offset === 1 ? offset : `(${offset}) / ${units.offset}u`;
      return `subgroupMatrixLoad<${
        kind === "left" ? "subgroup_matrix_left<i8, 32, 16>" : "subgroup_matrix_right<i8, 16, 32>"
      }, ${layout}>(&${buffer}, ${at}, ${stride / units.stride}u)`;
    },
    mma: (a, b, acc) => `subgroupMatrixMultiplyAccumulate(${a}, ${b}, ${acc})`,
    // int32 results into int32 memory: offsets and strides count the same elements everywhere.
    store: (array, offset, acc, stride) =>
      `subgroupMatrixStore<row_major>(&${array}, ${offset}, ${acc}, ${stride}u);`,
    prelude: "",
  };
}

/**
 * The `mimic` operations: a loaded tile is only a description of where it lies (buffer, offset,
 * stride, layout), a product appends the pair of tiles to the accumulator, and the store sums
 * the pairs from memory, each of the 32 lanes computing 8 of the 256 elements. Exact, and cheap
 * enough for tests on a software adapter; valid because every tile's memory stays unchanged
 * between its load and the store that consumes it (true of this kernel).
 *
 * @example
 * ```ts
 * import { mimicOps } from "./_int8_matrix_ops.ts";
 * const ops = mimicOps(["q8", "k8", "sP", "v8"], 2, ["sS"]);
 * ops.load("left", "row_major", "q8", "0u", 64); // "SmTile(0u, 0u, 64u, 0u)"
 * ```
 */
export function mimicOps(
  buffers: readonly string[],
  maxPairs: number,
  targets: readonly string[],
): MatrixOps {
  const layouts = { row_major: 0, col_major: 1 };
  return {
    zero: "SmAcc()",
    load: (_kind, layout, buffer, offset, stride) =>
      `SmTile(${buffers.indexOf(buffer)}u, ${offset}, ${stride}u, ${layouts[layout]}u)`,
    mma: (a, b, acc) => `sm_mma(${a}, ${b}, ${acc})`,
    store: (array, offset, acc, stride) =>
      `sm_store_${array}(${offset}, ${acc}, ${stride}u, lane);`,
    prelude: `struct SmTile { buffer: u32, off: u32, stride: u32, colMajor: u32 }
struct SmAcc { n: u32, a: array<SmTile, ${maxPairs}>, b: array<SmTile, ${maxPairs}> }
// Element (row, col) of a tile: int8 element off + row * stride + col (row-major).
fn sm_element(t: SmTile, row: u32, col: u32) -> i32 {
  let e = select(t.off + row * t.stride + col, t.off + col * t.stride + row, t.colMajor == 1u);
  var word = 0i;
  switch t.buffer {
    ${buffers.map((b, i) => `case ${i}u: { word = ${b}[e / 4u]; }`).join("\n    ")}
    default: {}
  }
  return unpack4xI8(bitcast<u32>(word))[e % 4u];
}
fn sm_mma(a: SmTile, b: SmTile, c: SmAcc) -> SmAcc {
  var r = c;
  r.a[r.n] = a;
  r.b[r.n] = b;
  r.n += 1u;
  return r;
}
fn sm_sum(m: SmAcc, e: u32) -> i32 {
  var s = 0i;
  for (var t = 0u; t < m.n; t++) {
    for (var k = 0u; k < 32u; k++) {
      s += sm_element(m.a[t], e / 16u, k) * sm_element(m.b[t], k, e % 16u);
    }
  }
  return s;
}
${
      targets.map((array) =>
        `fn sm_store_${array}(off: u32, m: SmAcc, stride: u32, lane: u32) {
  for (var e = lane * 8u; e < lane * 8u + 8u; e++) { ${array}[off + (e / 16u) * stride + e % 16u] = sm_sum(m, e); }
}`
      ).join("\n")
    }
`,
  };
}
