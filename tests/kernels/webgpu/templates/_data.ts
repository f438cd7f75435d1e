/**
 * Test data for the kernel-template tests: seeded random arrays, float16 packing, and a bridge to
 * the reference interpreter.
 *
 * @module
 */

import fc from "fast-check";
import type { DType } from "../../../../kernels/dtype.ts";
import { floatToHalfBits, halfBitsToFloat } from "../../../../kernels/half.ts";
import type { Params, Primitive } from "../../../../kernels/primitives.ts";
import type { AttentionSpec } from "../../../../kernels/webgpu/templates/attention.ts";
import { evaluatePrimitive } from "../../../../kernels/reference/interpreter.ts";

/**
 * `n` floats uniform in [-1, 1) from a mulberry32 stream seeded by `seed`, already float32.
 *
 * @example
 * ```ts
 * import { randomFloats } from "./_data.ts";
 * randomFloats(3, 7).length; // 3
 * ```
 */
export function randomFloats(n: number, seed: number): Float64Array {
  let state = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = Math.fround(((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1);
  }
  return out;
}

/**
 * The storage bytes of `values` as `dtype` ("f32" or "f16" bits).
 *
 * @example
 * ```ts
 * import { toStorage } from "./_data.ts";
 * toStorage([1], "f16"); // Uint16Array [0x3c00]
 * ```
 */
export function toStorage(
  values: ArrayLike<number>,
  dtype: "f32" | "f16",
): Float32Array | Uint16Array {
  if (dtype === "f32") return Float32Array.from(values);
  return Uint16Array.from(Array.from(values, (v) => floatToHalfBits(v)));
}

/**
 * `values` rounded as `dtype` stores them.
 *
 * @example
 * ```ts
 * import { roundAs } from "./_data.ts";
 * roundAs(new Float64Array([0.1]), "f32")[0]; // 0.10000000149011612
 * ```
 */
export function roundAs(values: Float64Array, dtype: "f32" | "f16"): Float64Array {
  return dtype === "f32"
    ? values.map((v) => Math.fround(v))
    : values.map((v) => halfBitsToFloat(floatToHalfBits(v)));
}

/**
 * Numbers from storage bytes of `dtype`.
 *
 * @example
 * ```ts
 * import { fromStorage } from "./_data.ts";
 * fromStorage(new Uint16Array([0x3c00]).buffer, "f16")[0]; // 1
 * ```
 */
export function fromStorage(bytes: ArrayBuffer, dtype: "f32" | "f16"): Float64Array {
  return dtype === "f32"
    ? Float64Array.from(new Float32Array(bytes))
    : Float64Array.from(new Uint16Array(bytes), (bits) => halfBitsToFloat(bits));
}

/**
 * The reference interpreter's outputs of `prim` on float inputs of the given shapes.
 *
 * @example
 * ```ts
 * import { reference } from "./_data.ts";
 * const [y] = reference("exp", {}, [{ shape: [1], data: new Float64Array([0]), dtype: "float32" }], [
 *   { shape: [1], dtype: "float32" },
 * ]); // y[0] === 1
 * ```
 */
export function reference<P extends Primitive>(
  prim: P,
  params: Params<P>,
  inputs: readonly { shape: readonly number[]; data: Float64Array; dtype: DType }[],
  outs: readonly { shape: readonly number[]; dtype: DType }[],
): Float64Array[] {
  const results = evaluatePrimitive(
    prim,
    params,
    inputs.map(({ shape, data, dtype }) => ({ aval: { shape, dtype }, data })),
    outs,
  );
  return results.map((r) => Float64Array.from(r));
}

/**
 * Throws unless `actual` and `expected` agree within `atol + rtol * |expected|` everywhere
 * (infinities must match exactly); the message names `what`, the index and the values.
 *
 * @example
 * ```ts
 * import { expectClose } from "./_data.ts";
 * expectClose("y", new Float64Array([1]), new Float64Array([1 + 1e-9]), 1e-6, 0);
 * ```
 */
export function expectClose(
  what: string,
  actual: Float64Array,
  expected: Float64Array,
  rtol: number,
  atol: number,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: ${actual.length} elements, expected ${expected.length}`);
  }
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    const ok = Number.isFinite(e) ? Math.abs(a - e) <= atol + rtol * Math.abs(e) : a === e;
    if (!ok) {
      throw new Error(`${what}: element ${i} is ${a}, expected ${e} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

/** The sizes of an attention test case: a spec without its scale, dtype and adapter kind. */
export type AttentionSizes = Omit<AttentionSpec, "scale" | "dtype" | "software">;

/** A case of the GPU attention kernel tests: sizes, a seed and the grid limit to lay out under. */
export interface GpuAttentionCase extends AttentionSizes {
  readonly seed: number;
  /** 65535, or a small limit that forces 2-D and 3-D workgroup grids. */
  readonly maxWorkgroupsPerDimension: number;
}

/**
 * A pinned GPU attention case: one batch and head of S = 1, D = Dv = 64, not causal, seed 1,
 * the full grid, except where `c` says otherwise.
 *
 * @example
 * ```ts
 * import { gpuAttentionCase } from "./_data.ts";
 * gpuAttentionCase({ seqQ: 130, seqK: 150, maxWorkgroupsPerDimension: 3 }).heads; // 1
 * ```
 */
export function gpuAttentionCase(c: Partial<GpuAttentionCase>): GpuAttentionCase {
  return {
    batch: 1,
    heads: 1,
    seqQ: 1,
    seqK: 1,
    headDim: 64,
    headDimV: 64,
    causal: false,
    seed: 1,
    maxWorkgroupsPerDimension: 65535,
    ...c,
  };
}

/**
 * Random GPU attention cases with the given head dimensions: 1-2 batches and heads, sequences of
 * 1 (often) to 140 (several 64-row tiles, the last ragged), causal or not, grids of up to 65535 or
 * 4 workgroups per dimension.
 *
 * @example
 * ```ts
 * import fc from "fast-check";
 * import { gpuAttentionCases } from "./_data.ts";
 * fc.sample(gpuAttentionCases([32, 64], [64]), 1)[0]!.headDimV; // 64
 * ```
 */
export function gpuAttentionCases(
  headDims: readonly number[],
  headDimsV: readonly number[],
): fc.Arbitrary<GpuAttentionCase> {
  const length = fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 140 }));
  return fc.record({
    batch: fc.integer({ min: 1, max: 2 }),
    heads: fc.integer({ min: 1, max: 2 }),
    seqQ: length,
    seqK: length,
    headDim: fc.constantFrom(...headDims),
    headDimV: fc.constantFrom(...headDimsV),
    causal: fc.boolean(),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    maxWorkgroupsPerDimension: fc.constantFrom(65535, 4),
  });
}

/**
 * The template spec of an attention test case: scale `1 / sqrt(D)`, float32 unless given.
 *
 * @example
 * ```ts
 * import { attentionSpec } from "./_data.ts";
 * attentionSpec({ batch: 1, heads: 1, seqQ: 4, seqK: 4, headDim: 16, headDimV: 16,
 *   causal: false }).scale; // 0.25
 * ```
 */
export function attentionSpec(c: AttentionSizes, dtype: "f32" | "f16" = "f32"): AttentionSpec {
  return {
    batch: c.batch,
    heads: c.heads,
    seqQ: c.seqQ,
    seqK: c.seqK,
    headDim: c.headDim,
    headDimV: c.headDimV,
    scale: 1 / Math.sqrt(c.headDim),
    causal: c.causal,
    dtype,
  };
}

/**
 * The operand shapes of an attention case: q `[B, H, Sq, D]`, k `[B, H, Sk, D]`,
 * v `[B, H, Sk, Dv]`, out `[B, H, Sq, Dv]` and lse `[B, H, Sq]`.
 *
 * @example
 * ```ts
 * import { attentionShapes } from "./_data.ts";
 * attentionShapes({ batch: 1, heads: 2, seqQ: 3, seqK: 4, headDim: 8, headDimV: 6,
 *   causal: false }).out; // [1, 2, 3, 6]
 * ```
 */
export function attentionShapes(
  c: AttentionSizes,
): Record<"q" | "k" | "v" | "out" | "lse", number[]> {
  const { batch: b, heads: h, seqQ: sq, seqK: sk, headDim: d, headDimV: dv } = c;
  return {
    q: [b, h, sq, d],
    k: [b, h, sk, d],
    v: [b, h, sk, dv],
    out: [b, h, sq, dv],
    lse: [b, h, sq],
  };
}
