/**
 * The int8 attention's lean softmax passes (`Int8AttentionOptions.leanSoftmax`): the two passes
 * a lane makes over its half of a key block's scores (`attention_int8.ts`, recomputed scores),
 * written for blocks whose keys all lie within the lane's row limit.
 *
 * Why: in the general passes every score pays for its key mask (an add, a compare and a select,
 * and in the second pass a second select that keeps masked keys at zero) and, in the
 * conflict-free layouts, for a lane-dependent rotation of its index (`j ^ hs`, `(j + hs) & 31`)
 * that keeps the address out of the load's immediate offset. Away from the last key block (and,
 * when causal, the diagonal) no key is masked, so these passes drop the masks and read every
 * score at a constant offset from one of two per-lane bases: rotating a half of `K` scores by
 * `R` is reading score `j` at `lo + j` for `j < K - R` and at `lo - K + j` after, with
 * `lo = row + R` for the rotated lane. The addresses, and so the bank pattern, are those of the
 * general passes; only their arithmetic moves out of the loop.
 *
 * @module
 */

import { maxTree, range } from "./_wgsl.ts";

/**
 * What the lean passes need from the main kernel: the lane's keys per block half (`keys`), the
 * rotation of the lane's half (`rotation` keys, 0 when none), and the kernel's int32 <-> float32
 * conversions.
 *
 * @example
 * ```ts
 * import type { LeanSoftmaxShape } from "./attention_int8_softmax.ts";
 * // Two lanes per row with the odd-stride conflict-free layout: halves of 32 keys, rotated 16.
 * const shape: LeanSoftmaxShape = { keys: 32, rotation: 16, integerMax: true,
 *   toFloat: (x) => `f32(${x})`, toInt: (x) => `i32(round(${x}))` };
 * ```
 */
export interface LeanSoftmaxShape {
  /** Keys of the block that one lane covers (32 with two lanes per row, 64 with one). */
  readonly keys: number;
  /** How far the lane's half is rotated (for lane `2r + 1`; `half` is 0 or 1 in WGSL). */
  readonly rotation: number;
  /** The first pass's maximum over int32 scores (see `Int8AttentionOptions.integerMax`). */
  readonly integerMax: boolean;
  readonly toFloat: (x: string) => string;
  readonly toInt: (x: string) => string;
}

/**
 * WGSL of the lean passes. Expects in scope: `sS` (scores), `sP` (probabilities), `sRow` (the
 * lane's first score, unrotated), `pRow` (its first probability word, unrotated), `half`,
 * `scale`; declares `sLo`, `sHi`, `pLo`, `pHi` in `bases`. `passOne` is an expression, the
 * lane's block maximum (scaled); `passTwo` is statements that store the probabilities against
 * `b` and add them to `pSum`. Probabilities are `round(127 exp2(x - b))` as in the general pass.
 *
 * @example
 * ```ts
 * import { leanSoftmaxPasses } from "./attention_int8_softmax.ts";
 * const { passOne } = leanSoftmaxPasses({ keys: 4, rotation: 0, integerMax: true,
 *   toFloat: (x) => `f32(${x})`, toInt: (x) => `i32(round(${x}))` });
 * passOne; // "f32(max(max(sS[sLo + 0u], sS[sLo + 1u]), max(sS[sLo + 2u], sS[sLo + 3u]))) * scale"
 * ```
 */
export function leanSoftmaxPasses(
  shape: LeanSoftmaxShape,
): { bases: string; passOne: string; passTwo: string } {
  const { keys, rotation, toFloat, toInt } = shape;
  if (keys % 4 !== 0 || rotation % 4 !== 0 || rotation < 0 || rotation >= keys) {
    throw new Error(
      `lean softmax: keys ${keys} and rotation ${rotation} must be multiples of 4, with ` +
        `0 <= rotation < keys`,
    );
  }
  const words = keys / 4, wordRotation = rotation / 4;
  // Score j of the rotated half, at a constant offset from one of the two bases.
  const score = (j: number) => `sS[${j < keys - rotation ? "sLo" : "sHi"} + ${j}u]`;
  const word = (w: number) => `sP[${w < words - wordRotation ? "pLo" : "pHi"} + ${w}u]`;
  const bases = rotation === 0
    ? "let sLo = sRow;\n    let sHi = sRow;\n    let pLo = pRow;\n    let pHi = pRow;"
    : `let sLo = sRow + half * ${rotation}u;
    let sHi = sLo - half * ${keys}u;
    let pLo = pRow + half * ${wordRotation}u;
    let pHi = pLo - half * ${words}u;`;
  // Exact either way: the scale is never negative and float32 rounding is monotone.
  const passOne = shape.integerMax
    ? `${toFloat(maxTree(range(keys).map(score)))} * scale`
    : maxTree(range(keys).map((j) => `${toFloat(score(j))} * scale`));
  const probability = (j: number) => toInt(`127.0f * exp2(${toFloat(score(j))} * scale - b)`);
  const passTwo = range(words).map((w) =>
    `{ let pw = vec4<i32>(${range(4).map((i) => probability(4 * w + i)).join(",\n        ")});
      ${word(w)} = bitcast<i32>(pack4xI8(pw));
      pSum += pw.x + pw.y + pw.z + pw.w; }`
  ).join("\n      ");
  return { bases, passOne, passTwo };
}
