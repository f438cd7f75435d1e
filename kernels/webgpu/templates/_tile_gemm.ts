/**
 * WGSL for one invocation's register tile of a small matrix product, `acc[i][j] += sum_k
 * A[i][k] B[k][j]` for `i < m`, `j < n`: per step of `k`, `m + n` scalar loads feed `m * n`
 * fused multiply-adds.
 *
 * Why this shape: on the software adapter (lavapipe) a kernel's run time is its loads (each a
 * gather or a broadcast across the SIMD lanes) and its first-dispatch LLVM compile time grows by
 * ~12 ms (workgroup memory) to ~25 ms (storage) per scalar load or store in the source, vec4
 * accesses counting four times. A loop over single `k` steps with an `m x n` tile of named
 * accumulators keeps both small; GPUs want the same register blocking. Accumulators are named
 * scalars (`acc3_5`), never private arrays, which lavapipe spills to per-lane scratch memory.
 *
 * @module
 */

import { range } from "./_wgsl.ts";

/**
 * `var acc{i}_{j} = 0.0;` for the tile.
 *
 * @example
 * ```ts
 * import { declareTile } from "./_tile_gemm.ts";
 * declareTile("s", 1, 2); // "var s0_0 = 0.0; var s0_1 = 0.0;"
 * ```
 */
export function declareTile(acc: string, m: number, n: number): string {
  return tileCells(m, n).map(([i, j]) => `var ${acc}${i}_${j} = 0.0;`).join(" ");
}

/**
 * Every `(i, j)` of an `m x n` tile, row by row.
 *
 * @example
 * ```ts
 * import { tileCells } from "./_tile_gemm.ts";
 * tileCells(1, 2); // [[0, 0], [0, 1]]
 * ```
 */
export function tileCells(m: number, n: number): [number, number][] {
  return range(m).flatMap((i) => range(n).map((j) => [i, j] as [number, number]));
}

/**
 * A loop over `k < kEnd` accumulating `A B` into the tile `acc` (see {@link declareTile}):
 * `a(i, k)` and `b(j, k)` give the WGSL `f32` of `A[i][k]` and `B[k][j]`.
 *
 * @example
 * ```ts
 * import { tileGemm } from "./_tile_gemm.ts";
 * const code = tileGemm("s", 1, 1, (i, k) => `qs[${k}]`, (j, k) => `ks[${k}]`, "16u");
 * code.includes("s0_0 = fma(a0, b0, s0_0);"); // true
 * ```
 */
export function tileGemm(
  acc: string,
  m: number,
  n: number,
  a: (i: number, k: string) => string,
  b: (j: number, k: string) => string,
  kEnd: string,
): string {
  const k = `${acc}K`;
  const body = [
    ...range(m).map((i) => `let a${i} = ${a(i, k)};`),
    ...range(n).map((j) => `let b${j} = ${b(j, k)};`),
    ...tileCells(m, n).map(([i, j]) => `${acc}${i}_${j} = fma(a${i}, b${j}, ${acc}${i}_${j});`),
  ];
  return `for (var ${k} = 0u; ${k} < ${kEnd}; ${k}++) {
      ${body.join("\n      ")}
    }`;
}
