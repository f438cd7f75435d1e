/**
 * The int8 attention main kernel's workgroup-memory layout (`attention_int8.ts`): row strides
 * of its int32 and probability tiles, the rows of its prefetched key and value blocks, and the
 * bytes it all takes, for each choice of {@link Int8KernelShape}.
 *
 * @module
 */

import { int8KeyBlock } from "../../reference/attention_int8.ts";
import type { AttentionSpec } from "./attention.ts";
import type { Int8AblatedPart } from "./attention_int8_options.ts";

/** Keys per block: the quantization block of the reference and the kernel's key tile. */
const bc = int8KeyBlock;

/**
 * `D` padded to whole 32-byte steps of the score product and `Dv` to whole 16-column tiles of
 * the value product.
 *
 * @example
 * ```ts
 * import { int8PaddedDims } from "./attention_int8_layout.ts";
 * int8PaddedDims({ batch: 1, heads: 1, seqQ: 8, seqK: 8, headDim: 40, headDimV: 40,
 *   scale: 0.15, causal: false, dtype: "f32" }); // { dp: 64, dvp: 48 }
 * ```
 */
export function int8PaddedDims(spec: AttentionSpec): { dp: number; dvp: number } {
  return { dp: Math.ceil(spec.headDim / 32) * 32, dvp: Math.ceil(spec.headDimV / 16) * 16 };
}

/**
 * Query rows each subgroup owns: 16 (two lanes per row), or 32 with wide rows (one lane each).
 *
 * @example
 * ```ts
 * import { int8RowsPerSubgroup } from "./attention_int8_layout.ts";
 * int8RowsPerSubgroup({ wide: true }); // 32
 * ```
 */
export function int8RowsPerSubgroup(shape: Pick<Int8KernelShape, "wide">): number {
  return shape.wide ? 32 : 16;
}

/**
 * The main kernel's workgroup arrays, in int32 words (0 where the shape has none): per subgroup
 * an int32 tile of {@link int8RowsPerSubgroup} rows of stride `max(64, Dvp)` (`scores`; with
 * separate products, scores of stride 64 and a `products` tile of stride `Dvp`), two staged key
 * blocks or one prefetched key block (`keys`) and value block (`values`), and the int8
 * probabilities (at least 4 KB where they are padded for element units, see
 * `int8TileStrides`). The kernel declares its arrays from these, and
 * {@link int8SharedBytes} adds them up.
 *
 * @example
 * ```ts
 * import { int8WorkgroupWords } from "./attention_int8_layout.ts";
 * // Session 5's H100 default (4sg_pf_cf_rc_fc) at D = Dv = 64.
 * int8WorkgroupWords(64, 64, 4, { separate: false, stageKeys: false,
 *   prefetch: true, recompute: true, integerMax: false, fastConvert: true, conflictFree: true,
 *   alignedRows: false, padKeyValueRows: false, transposedValues: false, leanSoftmax: false,
 *   wide: false, padProbabilities: false, ablate: [] });
 * // { scores: 4160, products: 0, keys: 1024, values: 1024, probabilities: 1088 }
 * ```
 */
export function int8WorkgroupWords(
  dp: number,
  dvp: number,
  subgroups: number,
  shape: Int8KernelShape,
): { scores: number; products: number; keys: number; values: number; probabilities: number } {
  const { sw, ow, pWords } = int8TileStrides(dvp, subgroups, shape);
  const rows = subgroups * int8RowsPerSubgroup(shape);
  const { kRow, vRow } = int8BlockRows(dp, dvp, shape);
  const fetched = shape.prefetch && !shape.stageKeys;
  return {
    scores: rows * sw,
    products: shape.separate ? rows * ow : 0,
    keys: shape.stageKeys ? (2 * bc * dp) / 4 : fetched ? (bc * kRow) / 4 : 0,
    // Transposed: Dvp rows of 64 keys; else 64 rows of Dvp columns.
    values: fetched ? ((shape.transposedValues ? dvp : bc) * vRow) / 4 : 0,
    probabilities: pWords,
  };
}

/**
 * Bytes of workgroup memory the main kernel declares ({@link int8WorkgroupWords}).
 *
 * @example
 * ```ts
 * import { int8SharedBytes } from "./attention_int8_layout.ts";
 * // Session 5's H100 default (4sg_pf_cf_rc_fc) at D = Dv = 64: scores 16,640 + probabilities
 * // 4,352 + one key and one value block 8,192 bytes (the session 8 default: 33,792).
 * int8SharedBytes({ batch: 1, heads: 1, seqQ: 64, seqK: 64, headDim: 64, headDimV: 64,
 *   scale: 0.125, causal: false, dtype: "f32" }, 4, { separate: false, stageKeys: false,
 *   prefetch: true, recompute: true, integerMax: false, fastConvert: true, conflictFree: true,
 *   alignedRows: false, padKeyValueRows: false, transposedValues: false, leanSoftmax: false,
 *   wide: false, padProbabilities: false, ablate: [] }); // 29184
 * ```
 */
export function int8SharedBytes(
  spec: AttentionSpec,
  subgroups: number,
  shape: Int8KernelShape,
): number {
  const { dp, dvp } = int8PaddedDims(spec);
  const w = int8WorkgroupWords(dp, dvp, subgroups, shape);
  return 4 * (w.scores + w.products + w.keys + w.values + w.probabilities);
}

/**
 * Int8 elements between consecutive rows of the prefetched key and value blocks in workgroup
 * memory: packed (`Dp`, `Dvp`; 64 keys per value row with `transposedValues`), or padded to an
 * odd multiple of 16 bytes (`padKeyValueRows`).
 *
 * @example
 * ```ts
 * import { int8BlockRows } from "./attention_int8_layout.ts";
 * int8BlockRows(64, 48, { separate: false, stageKeys: false,
 *   prefetch: true, recompute: true, integerMax: false, fastConvert: true, conflictFree: true,
 *   alignedRows: false, padKeyValueRows: true, transposedValues: false, leanSoftmax: false,
 *   wide: false, padProbabilities: false, ablate: [] });
 * // { kRow: 80, vRow: 48 }: 48 bytes is already an odd number of 16-byte pieces
 * ```
 */
export function int8BlockRows(
  dp: number,
  dvp: number,
  shape: Int8KernelShape,
): { kRow: number; vRow: number } {
  // Transposed values: a row is one channel's 64 keys.
  const values = shape.transposedValues ? bc : dvp;
  if (!shape.padKeyValueRows) return { kRow: dp, vRow: values };
  // 16 bytes are one unit; an odd number of units apart, 8 rows cover 8 distinct units mod 8.
  const odd = (x: number) => (x / 16) % 2 === 1 ? x : x + 16;
  return { kRow: odd(dp), vRow: odd(values) };
}

/**
 * Row strides (in words) of the main kernel's workgroup tiles: `sw` of the scores, `ow` of the
 * value product (the same tile unless separate), `pStride` of the packed probabilities, and the
 * probabilities' array length `pWords`. Dawn's validator sizes an int8 matrix access with a
 * constant offset in i32 words (Dawn 0.6.2: 16 rows of stride 64 "need" 3,872 bytes); where the
 * device's probe found loads counting int8 elements (`shape.padProbabilities`), one subgroup's
 * probabilities are padded to 16 (or 32) rows of `4 pStride` words so that its element offsets
 * and strides pass. With word units the validator sees the true words and no padding is needed.
 *
 * @example
 * ```ts
 * import { int8TileStrides } from "./attention_int8_layout.ts";
 * int8TileStrides(64, 4, { separate: false, stageKeys: false,
 *   prefetch: true, recompute: true, integerMax: false, fastConvert: true, conflictFree: true,
 *   alignedRows: false, padKeyValueRows: false, transposedValues: false, leanSoftmax: false,
 *   wide: false, padProbabilities: false, ablate: [] });
 * // { sw: 65, ow: 65, pStride: 17, pWords: 1088 }
 * ```
 */
export function int8TileStrides(
  dvp: number,
  subgroups: number,
  shape: Int8KernelShape,
): { sw: number; ow: number; pStride: number; pWords: number } {
  // The next stride of 1 (mod 32) words: row r then starts in bank r; aligned, of 4 (mod 32)
  // words: rows r .. r + 7 start in distinct groups of four banks.
  // Two lanes per row: 8 (mod 32) words, which also spreads the product tiles' 64-bit stores
  // over all banks; one lane per row: 4 (see Int8AttentionOptions.alignedRows).
  const residue = shape.alignedRows ? (shape.wide ? 4 : 8) : 1;
  const odd = (x: number) => shape.conflictFree ? x + (32 + residue - (x % 32)) % 32 : x;
  const sw = odd(shape.separate ? bc : Math.max(bc, dvp));
  const ow = shape.separate ? odd(dvp) : sw;
  const pPad = shape.alignedRows ? 4 : 1;
  const pStride = bc / 4 + (shape.conflictFree ? pPad : 0);
  const rows = int8RowsPerSubgroup(shape);
  const padded = shape.padProbabilities ? rows * 4 * pStride : 0;
  return { sw, ow, pStride, pWords: Math.max(subgroups * rows * pStride, padded) };
}

/**
 * The main kernel's layout choices, settled by `int8AttentionPlan` from its options (see
 * `Int8AttentionOptions` in `attention_int8_options.ts`).
 *
 * @example
 * ```ts
 * import type { Int8KernelShape } from "./attention_int8_layout.ts";
 * const plain: Int8KernelShape = { separate: false, stageKeys: false, prefetch: false,
 *   recompute: false, integerMax: false, fastConvert: false, conflictFree: false,
 *   alignedRows: false, padKeyValueRows: false, transposedValues: false, leanSoftmax: false,
 *   wide: false, padProbabilities: false, ablate: [] };
 * ```
 */
export interface Int8KernelShape {
  readonly separate: boolean;
  readonly stageKeys: boolean;
  readonly prefetch: boolean;
  readonly recompute: boolean;
  /** With recompute, the maximum over int32 scores (see Int8AttentionOptions.integerMax). */
  readonly integerMax: boolean;
  readonly fastConvert: boolean;
  readonly conflictFree: boolean;
  /** With conflictFree, 16-byte aligned rows (see Int8AttentionOptions.alignedRows). */
  readonly alignedRows: boolean;
  /** Prefetched key and value rows padded (see Int8AttentionOptions.padKeyValueRows). */
  readonly padKeyValueRows: boolean;
  /** Values stored `V^T` per key block (see Int8AttentionOptions.transposedValues). */
  readonly transposedValues: boolean;
  /** Unmasked, constant-offset softmax passes in full blocks (Int8AttentionOptions.leanSoftmax). */
  readonly leanSoftmax: boolean;
  /** 32 rows per subgroup, one lane each (see Int8AttentionOptions.wideRows). */
  readonly wide: boolean;
  /** Native loads counting int8 elements: the probabilities are padded for Dawn's validator. */
  readonly padProbabilities: boolean;
  /** Parts left out, for timing (see Int8AttentionOptions.ablate). */
  readonly ablate: readonly Int8AblatedPart[];
}
