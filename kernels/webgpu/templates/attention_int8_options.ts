/**
 * The options of the int8 attention (`attention_int8.ts`): how its tile products are computed,
 * the workgroup layouts and register choices a GPU sweep picks among, and timing-only ablations.
 *
 * @module
 */

/**
 * How the int8 tile products are computed (see `attention_int8.ts`).
 *
 * @example
 * ```ts
 * import type { Int8MatrixMode } from "./attention_int8_options.ts";
 * const forTests: Int8MatrixMode = "mimic"; // the native text with plain-WGSL stand-ins
 * ```
 */
export type Int8MatrixMode = "native" | "emulated" | "mimic";

/**
 * Tuning and mode of `int8AttentionPlan` (`attention_int8.ts`).
 *
 * @example
 * ```ts
 * import type { Int8AttentionOptions } from "./attention_int8_options.ts";
 * // The H100 sweep's best (session 8: 90.5 ms at B = 2, H = 48, S = 17,776), the native
 * // default, spelled out.
 * const best: Int8AttentionOptions = { subgroups: 4, prefetch: true, padKeyValueRows: true,
 *   conflictFree: true, alignedRows: true, recomputeScores: true, integerMax: true,
 *   leanSoftmax: true, fastConvert: true, transposedValues: true };
 * ```
 */
export interface Int8AttentionOptions {
  /**
   * Integer products on subgroup matrices (`native`), emulated, or the native text mimicked for
   * tests (default: `native` where `int8AttentionNative`, else `emulated`).
   */
  readonly mode?: Int8MatrixMode;
  /**
   * 32-lane subgroups per workgroup, each owning 16 query rows: 1, 2, 4 or 8 (default 4, or
   * fewer where the workgroup memory is too small for a wide `Dv`).
   */
  readonly subgroups?: number;
  /**
   * Store the value product in its own workgroup tile instead of over the scores: one barrier
   * fewer per key block (3 instead of 4) for `16 Dvp 4` more bytes per subgroup (default false).
   */
  readonly separateProducts?: boolean;
  /**
   * Copy each block's int8 keys into workgroup memory once per workgroup, where every subgroup
   * reads its key tiles (subgroup-matrix forms only): fewer global loads for `2 * 64 Dp` bytes
   * (double-buffered: block t + 1 is copied while block t is used, so no barrier is added).
   * Default false.
   */
  readonly stageKeys?: boolean;
  /**
   * Read the next key block's int8 keys and values from storage into registers at the start of
   * each block, and write them to single-buffered workgroup tiles once the block's value product
   * has been read (subgroup-matrix forms only; not with `separateProducts` or `stageKeys`): the
   * storage latency hides behind the block's softmax, and every subgroup reads its key and value
   * tiles from workgroup memory, for `64 (Dp + Dvp)` bytes. Needs the device's probe to have
   * found offsets and strides counted in i32 words. Default: true in the native mode with word
   * units, unless `separateProducts` or `stageKeys` is asked for.
   */
  readonly prefetch?: boolean;
  /**
   * Hold no row of scores in registers: the probability pass reads the scores from workgroup
   * memory again after the row maximum (fewer registers per lane, more workgroup reads).
   * Default: true in the native mode.
   */
  readonly recomputeScores?: boolean;
  /**
   * With `recomputeScores`: take each row's block maximum over the int32 scores and scale only
   * the maximum, instead of converting and scaling every score first (3 fewer operations per
   * score in the first pass). Exact: the score scale is never negative and float32 rounding is
   * monotone, so `max_j round(s_j * scale) = round((max_j s_j) * scale)`. Default: true in the
   * native mode.
   */
  readonly integerMax?: boolean;
  /**
   * Convert between int32 and float32 by float adds of 1.5 * 2^23 and bit casts instead of
   * conversion instructions (exact: scores, value products and probabilities all lie within
   * 2^22; rounding to the nearest even like WGSL's `round`, on adapters whose float adds round to
   * nearest, as every GPU and lavapipe do). Default: true in the native mode.
   */
  readonly fastConvert?: boolean;
  /**
   * Lay the int32 product tiles out with row strides of 1 (mod 32) words, the probability rows
   * with 17 words, and let the two lanes of a row walk their halves from opposite ends, so that
   * the 32 lanes' workgroup reads and writes of one step fall in 32 different banks. With the
   * plain layout (stride 64, halves 32 words apart) every lane of a subgroup reads the same
   * bank: a 32-way conflict on every score and product read. Default: true in the native mode.
   */
  readonly conflictFree?: boolean;
  /**
   * With `conflictFree`: keep every row of the workgroup tiles 16-byte aligned, so that a lane's
   * four consecutive scores (or value-product columns) can be read as one 128-bit access. Odd
   * strides put rows off alignment, which forces 32-bit accesses: a likely reason why, on an
   * H100, `conflictFree` made one subgroup per workgroup slower (260 -> 291 ms) while it helped
   * four (264 -> 223 ms). Layout: int32 tiles with row strides of 8 (mod 32) words (4 with
   * `wideRows`), probability rows of 20 words, and lane 2r + 1 starting its half 4 keys, 4
   * columns and 1 probability word on (mod its half) instead of 16 keys (XOR). Counted for
   * 128-bit reads served a quarter subgroup at a time and for NVIDIA's mma fragments (an
   * assumption: Dawn does not say how the driver lowers subgroup matrices): no bank shared
   * within a quarter subgroup on the lanes' reads, none within a half on the 64-bit stores of
   * result tiles, none on the 32-bit loads of probability tiles, 2-way on the lanes' 32-bit
   * probability writes (the odd-stride layout: 4-way stores, 2-way probability loads). Default:
   * true in the native mode (H100, with the other defaults: 133.7 -> 101.8 ms without `_ls`,
   * session 8).
   */
  readonly alignedRows?: boolean;
  /**
   * With `prefetch`: lay the key and value blocks out in workgroup memory with rows an odd
   * multiple of 16 bytes apart (keys of 64 channels 80 bytes instead of 64), so that the 16-byte
   * pieces of 8 consecutive rows, which one phase of a matrix load gathers, fall in 8 distinct
   * groups of banks instead of 2 (a 4-way conflict). Each subgroup loads 16 key and value tiles
   * per block from there. Default: true in the native mode wherever `prefetch` is on.
   */
  readonly padKeyValueRows?: boolean;
  /**
   * Store each key block's int8 values transposed, channel by channel with the block's 64 keys
   * contiguous (`V^T`, `Dvp x 64` per block), and read the value product's right tiles
   * column-major, like the keys. The expected reason: the int8 matrix product takes its right
   * operand as four consecutive `k` (here: keys) per lane and register (NVIDIA's `mma.m16n8k32`
   * fragments), and sm_90 has no transposing matrix load for 8-bit elements (`ldmatrix .trans`
   * moves 16-bit ones), so a row-major value tile (keys in rows, columns contiguous) must be
   * gathered byte by byte, where a column-major one loads as whole words, as the key tiles do
   * (an assumption: Dawn does not say how the driver lowers subgroup matrices). In the emulated
   * form the value product becomes `dot4I8Packed` of a probability word and a value word, as the
   * scores are. With `prefetch`, the block lies in workgroup memory as `Dvp` rows of 64 keys (80
   * bytes apart with `padKeyValueRows`). Default true: on lavapipe (emulated) 1.4-1.6x faster at
   * B = 1, H = 4, S = 1024, D = 64; on an H100 (native, B = 2, H = 48, S = 17,776) 126.4 -> 100.6
   * ms and 201.5 -> 149.6 ms in two configurations (session 8). The reason remains open: the
   * ceiling bench's `_rm` rows ran row-major right tiles as fast as column-major ones (848-957
   * against 859-1012 TOP/s) in loops of products alone. Leaving the value product and fold out
   * (`_xvalues`) took session 5's default from 201.5 to 105.0 ms, and the default without
   * `leanSoftmax` from 100.6 to 77.5 ms.
   */
  readonly transposedValues?: boolean;
  /**
   * With `recomputeScores`: in key blocks where all of a lane's keys lie within its row's limit
   * (every block but the last, and when causal, the diagonal ones), make the two passes over its
   * scores without key masks and with every score read at a constant offset from one of two
   * per-lane bases, instead of masking each score (two selects, a compare, an add) and rotating
   * its index per access (`attention_int8_softmax.ts`). Same addresses, same float operations on
   * the unmasked scores, so the same integers. Default: true in the native mode with
   * `recomputeScores` (H100, session 8: 100.6 -> 90.5 ms).
   */
  readonly leanSoftmax?: boolean;
  /**
   * Each subgroup owns 32 query rows, one lane per row, instead of 16 rows with two lanes each:
   * every key and value tile loaded feeds two products (one per 16-row tile), the barriers per
   * row halve, and no lane pair exchanges maxima or sums; each lane holds all `Dvp` output
   * columns of its row. Default false.
   */
  readonly wideRows?: boolean;
  /**
   * For timing only, the results are wrong: leave parts of each key block's work out of the
   * main kernel, keeping its barriers, memory and launch, so that a sweep can tell what each
   * part costs on a GPU. `scores`: the score products and their stores; `softmax`: the lanes'
   * pass over the scores (maxima, probabilities, sums); `values`: the value products (and the
   * fold that reads them); `fold`: the lanes' folding of the value product into their
   * accumulators. The kernel's name then ends in `_x<part>`. Default: none.
   */
  readonly ablate?: readonly Int8AblatedPart[];
}

/**
 * A part of the int8 attention's per-block work that {@link Int8AttentionOptions.ablate} can
 * leave out.
 *
 * @example
 * ```ts
 * import type { Int8AblatedPart } from "./attention_int8_options.ts";
 * const parts: Int8AblatedPart[] = ["softmax"]; // time the products and barriers alone
 * ```
 */
export type Int8AblatedPart = "scores" | "softmax" | "values" | "fold";
