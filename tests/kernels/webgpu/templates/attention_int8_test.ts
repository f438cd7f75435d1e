/**
 * The int8 attention (`attention_int8.ts`) against its specification, the reference of
 * `kernels/reference/attention_int8.ts`:
 * - the `emulated` form runs here (lavapipe in CI) on random shapes; it computes the same
 *   integers as the reference up to rounding ties (see `check`);
 * - the `mimic` form is the native kernel's text with the subgroup-matrix builtins replaced by
 *   plain WGSL of the same role, so the native form's offsets, strides and layouts run here too;
 * - the `native` form (int8 subgroup matrices) runs where the adapter has them (NVIDIA), and
 *   is otherwise checked by Dawn's WGSL validator on the null backend, which accepts the
 *   experimental subgroup-matrix extension without a GPU behind it.
 */
import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../../_assert.ts";
import { sharedGpu } from "../../../../kernels/webgpu/device.ts";
import {
  type Int8AblatedPart,
  int8AttentionNative,
  int8AttentionPlan,
  type Int8MatrixMode,
} from "../../../../kernels/webgpu/templates/attention_int8.ts";
import type { Int8AttentionOptions } from "../../../../kernels/webgpu/templates/attention_int8_options.ts";
import type { KernelTarget } from "../../../../kernels/webgpu/kernel.ts";
import { int8AttentionReference } from "../../../../kernels/reference/attention_int8.ts";
import {
  int8MatrixConventions,
  int8ProbeCode,
} from "../../../../kernels/webgpu/int8_matrix_probe.ts";
import { kernelTarget, runPlan } from "./_run_plan.ts";
import { int8NativeTarget, withNullBackend } from "../_null_backend.ts";
import { attentionSpec, randomFloats } from "./_data.ts";

const gpu = await sharedGpu();
const ignore = gpu === null;
if (ignore) console.warn("SKIP int8 attention kernel tests: no WebGPU adapter");
const native = gpu !== null && int8AttentionNative(kernelTarget(gpu));
if (!ignore && !native) {
  console.warn("SKIP int8 attention native-mode runs: the adapter has no int8 subgroup matrices");
}

interface Case {
  batch: number;
  heads: number;
  seqQ: number;
  seqK: number;
  headDim: number;
  headDimV: number;
  causal: boolean;
  /** Subgroups per workgroup; undefined: the plan's default. */
  subgroups: 1 | 2 | 4 | undefined;
  /** The value product in its own workgroup tile (one barrier fewer per key block). */
  separate: boolean;
  /** The key blocks staged in workgroup memory (subgroup-matrix forms). */
  stageKeys: boolean;
  /** The next key and value blocks prefetched (subgroup-matrix forms; default false). */
  prefetch?: boolean;
  /** Scores read again from workgroup memory for the probabilities (default false). */
  recomputeScores?: boolean;
  /** With recomputed scores, the first pass's maximum over int32 scores (default false). */
  integerMax?: boolean;
  /** int32 <-> float32 by float adds and bit casts (default false). */
  fastConvert?: boolean;
  /** Odd row strides and rotated halves for conflict-free workgroup access (default false). */
  conflictFree?: boolean;
  /** With prefetch, key and value rows padded in workgroup memory (default false). */
  padKeyValueRows?: boolean;
  /** With conflictFree, 16-byte aligned tile rows (default false). */
  alignedRows?: boolean;
  /** 32 rows per subgroup, one lane per row (default false). */
  wideRows?: boolean;
  /** Values stored V^T per key block, loaded column-major (default false). */
  transposedValues?: boolean;
  /** With recomputed scores, unmasked constant-offset passes in full blocks (default false). */
  leanSoftmax?: boolean;
  seed: number;
}

/** The plan a case asks for. */
function casePlan(c: Case, mode: Int8MatrixMode) {
  return int8AttentionPlan(attentionSpec(c), kernelTarget(gpu!), {
    mode,
    separateProducts: c.separate,
    stageKeys: c.stageKeys,
    prefetch: c.prefetch ?? false,
    recomputeScores: c.recomputeScores ?? false,
    integerMax: c.integerMax ?? false,
    fastConvert: c.fastConvert ?? false,
    conflictFree: c.conflictFree ?? false,
    wideRows: c.wideRows ?? false,
    alignedRows: c.alignedRows ?? false,
    padKeyValueRows: c.padKeyValueRows ?? false,
    transposedValues: c.transposedValues ?? false,
    leanSoftmax: c.leanSoftmax ?? false,
    ...(c.subgroups === undefined ? {} : { subgroups: c.subgroups }),
  });
}

async function check(c: Case, mode: Int8MatrixMode): Promise<void> {
  const { batch: b, heads: h, seqQ: sq, seqK: sk, headDim: d, headDimV: dv } = c;
  const spec = attentionSpec(c);
  // Keys and values off-center (the means are subtracted before quantizing), values in [-1, 3).
  const q = randomFloats(b * h * sq * d, c.seed).map((x) => 2 * x);
  const k = randomFloats(b * h * sk * d, c.seed + 1).map((x) => 2 * x + 0.5);
  const v = randomFloats(b * h * sk * dv, c.seed + 2).map((x) => 2 * x + 1);
  const plan = casePlan(c, mode);
  const [outBytes, lseBytes] = await runPlan(
    gpu!,
    plan,
    [Float32Array.from(q), Float32Array.from(k), Float32Array.from(v)],
    [b * h * sq * dv * 4, b * h * sq * 4],
  );
  const out = new Float32Array(outBytes!), lse = new Float32Array(lseBytes!);
  const ref = int8AttentionReference(spec, q, k, v);
  // The kernels compute the reference's integers except where float32 division (allowed 2.5
  // ULP in WGSL) or exp2 lands a quantized key, value or probability on the other side of a
  // rounding tie. One such flip moves outputs by at most one value step r_c / 127 (r_c = max
  // |v - mean| of the channel), a key flip by less. So: every output within one value step,
  // and the mean error far below it (outputs here are of order 1).
  const step = new Float64Array(b * h * dv);
  for (let i = 0; i < b * h * sk * dv; i++) {
    const at = Math.floor(i / (sk * dv)) * dv + (i % dv);
    step[at] = Math.max(step[at]!, Math.abs(v[i]! - 1) + 1); // |v - mean| <= |v - 1| + 1
  }
  let total = 0;
  for (let i = 0; i < out.length; i++) {
    const err = Math.abs(out[i]! - ref.out[i]!);
    const at = Math.floor(i / (sq * dv)) * dv + (i % dv);
    assert(
      err <= step[at]! / 127 + 1e-5,
      `${mode} out[${i}] = ${out[i]} vs ${ref.out[i]} for ${JSON.stringify(c)}`,
    );
    total += err;
  }
  const mean = total / Math.max(1, out.length);
  assert(mean <= 2e-4, `${mode}: mean output error ${mean} for ${JSON.stringify(c)}`);
  // A flipped probability changes the row sum by one step of at least 127 (its largest): the
  // log-sum-exp moves by at most 1/127; the rest is float32 rounding.
  let lseTotal = 0;
  for (let i = 0; i < lse.length; i++) {
    const want = ref.lse[i]!;
    const err = want === -Infinity
      ? (lse[i] === -Infinity ? 0 : Infinity)
      : Math.abs(lse[i]! - want);
    assert(err <= 1 / 127, `${mode} lse[${i}] = ${lse[i]} vs ${want} for ${JSON.stringify(c)}`);
    lseTotal += err;
  }
  assert(
    lseTotal / Math.max(1, lse.length) <= 5e-5,
    `${mode}: mean log-sum-exp error ${lseTotal / lse.length} for ${JSON.stringify(c)}`,
  );
}

/** A pinned case: one (batch, head), S = 1, D = Dv = 64, 4 subgroups, no options, but `c`. */
function int8Case(c: Partial<Case>): Case {
  return {
    batch: 1,
    heads: 1,
    seqQ: 1,
    seqK: 1,
    headDim: 64,
    headDimV: 64,
    causal: false,
    subgroups: 4,
    separate: false,
    stageKeys: false,
    seed: 1,
    ...c,
  };
}

/**
 * Pinned: S = 1; a ragged last key block; padded head dims; Sq > Sk causal (masked rows);
 * D = Dv = 128.
 */
const examples: Case[] = [
  int8Case({}),
  int8Case({ heads: 2, seqQ: 70, seqK: 150, stageKeys: true, seed: 2 }),
  int8Case({
    batch: 2,
    seqQ: 45,
    seqK: 70,
    headDim: 12,
    headDimV: 20,
    causal: true,
    subgroups: 2,
    separate: true,
    stageKeys: true,
    seed: 3,
  }),
  int8Case({
    seqQ: 130,
    seqK: 64,
    headDim: 40,
    causal: true,
    subgroups: 1,
    separate: true,
    seed: 4,
  }),
  // Dv = 128 with the default workgroup shape: fewer subgroups where 32 KB is the limit.
  int8Case({
    seqQ: 40,
    seqK: 100,
    headDim: 128,
    headDimV: 128,
    subgroups: undefined,
    stageKeys: true,
    seed: 5,
  }),
  // Prefetched blocks with recomputed scores and float-add conversions: causal, ragged blocks,
  // padded head dims (Dp = 32, Dvp = 48).
  int8Case({
    heads: 2,
    seqQ: 75,
    seqK: 140,
    headDim: 24,
    headDimV: 40,
    causal: true,
    prefetch: true,
    recomputeScores: true,
    integerMax: true,
    fastConvert: true,
    conflictFree: true,
    // Keys padded to 48 bytes apart; values, already 48 apart, not.
    padKeyValueRows: true,
    seed: 6,
  }),
  // The register-light and conversion options without prefetch, one with the separate tile.
  int8Case({
    seqQ: 33,
    seqK: 129,
    subgroups: 2,
    separate: true,
    recomputeScores: true,
    conflictFree: true,
    seed: 7,
  }),
  int8Case({
    seqQ: 20,
    seqK: 65,
    headDimV: 80,
    subgroups: 1,
    stageKeys: true,
    fastConvert: true,
    // Dv / 2 = 40 columns per lane: the rotated columns wrap (in aligned rows of 100 words).
    conflictFree: true,
    alignedRows: true,
    seed: 8,
  }),
  // Wide rows (32 per subgroup, one lane each) with the native defaults' options, causal and
  // ragged; then with the separate tile, a padded Dv and the plain layout.
  int8Case({
    seqQ: 70,
    seqK: 130,
    causal: true,
    subgroups: 1,
    prefetch: true,
    recomputeScores: true,
    fastConvert: true,
    conflictFree: true,
    wideRows: true,
    integerMax: true,
    alignedRows: true,
    padKeyValueRows: true,
    seed: 9,
  }),
  int8Case({
    batch: 2,
    seqQ: 33,
    seqK: 66,
    headDim: 40,
    headDimV: 40,
    subgroups: 1,
    separate: true,
    stageKeys: true,
    wideRows: true,
    seed: 10,
  }),
  // Transposed values: prefetched into padded rows (80 bytes per channel of 64 keys) with a
  // padded Dv (Dvp = 48), causal and ragged; then read straight from storage, wide rows.
  int8Case({
    heads: 2,
    seqQ: 50,
    seqK: 100,
    headDim: 32,
    headDimV: 40,
    causal: true,
    subgroups: 2,
    prefetch: true,
    recomputeScores: true,
    fastConvert: true,
    conflictFree: true,
    alignedRows: true,
    padKeyValueRows: true,
    transposedValues: true,
    // Lean passes in the full blocks: rows rotated by 4 keys (aligned); diagonal blocks masked.
    leanSoftmax: true,
    seed: 11,
  }),
  int8Case({
    seqQ: 40,
    seqK: 70,
    headDimV: 24,
    subgroups: 1,
    recomputeScores: true,
    integerMax: true,
    leanSoftmax: true,
    conflictFree: true,
    wideRows: true,
    transposedValues: true,
    seed: 12,
  }),
  // Lean passes with halves rotated by 16 keys (odd strides), the float maximum, non-causal with
  // three full blocks and a ragged one.
  int8Case({
    seqQ: 36,
    seqK: 200,
    subgroups: 2,
    prefetch: true,
    recomputeScores: true,
    fastConvert: true,
    conflictFree: true,
    leanSoftmax: true,
    seed: 13,
  }),
  // Every option of the native default (session 8's fastest H100 configuration), with the
  // workgroup shape left to the plan: 4 subgroups where 48 KB fit (the H100), 2 on lavapipe.
  // Causal, with two full key blocks before the diagonal and a ragged last one.
  int8Case({
    heads: 2,
    seqQ: 100,
    seqK: 230,
    causal: true,
    subgroups: undefined,
    prefetch: true,
    padKeyValueRows: true,
    conflictFree: true,
    alignedRows: true,
    recomputeScores: true,
    integerMax: true,
    leanSoftmax: true,
    fastConvert: true,
    transposedValues: true,
    seed: 14,
  }),
];

// Wide values leave the workgroup shape to the plan, and separate products take at most two
// subgroups: more do not fit lavapipe's 32 KB of workgroup memory.
const caseArb: fc.Arbitrary<Case> = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  heads: fc.integer({ min: 1, max: 2 }),
  seqQ: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 140 })),
  seqK: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 140 })),
  headDim: fc.constantFrom(8, 32, 64, 72),
  headDimV: fc.constantFrom(16, 24, 64, 128),
  causal: fc.boolean(),
  subgroups: fc.constantFrom(1 as const, 2 as const, 4 as const, undefined),
  separate: fc.boolean(),
  stageKeys: fc.boolean(),
  prefetch: fc.boolean(),
  recomputeScores: fc.boolean(),
  integerMax: fc.boolean(),
  fastConvert: fc.boolean(),
  conflictFree: fc.boolean(),
  alignedRows: fc.boolean(),
  padKeyValueRows: fc.boolean(),
  wideRows: fc.boolean(),
  transposedValues: fc.boolean(),
  leanSoftmax: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
}).map((c) =>
  // The lean passes rewrite the recomputed ones.
  c.recomputeScores ? c : { ...c, leanSoftmax: false }
).map((c) =>
  // Prefetch replaces staged keys and needs the shared product tile; padding needs prefetch.
  c.prefetch ? { ...c, separate: false, stageKeys: false } : { ...c, padKeyValueRows: false }
).map((c) =>
  // Wide rows take twice the workgroup memory per subgroup: with a second tile or key blocks in
  // workgroup memory only one subgroup fits lavapipe's 32 KB.
  // (A wide row of Dv = 128 is 128 accumulators per lane: slow to compile and run on lavapipe.)
  c.wideRows && c.headDimV > 64
    ? { ...c, wideRows: false }
    : c.wideRows && c.subgroups !== undefined && c.subgroups > 1
    ? { ...c, subgroups: c.separate || c.prefetch || c.stageKeys ? 1 as const : 2 as const }
    : c
).map((c) =>
  c.headDimV > 64
    ? { ...c, subgroups: undefined }
    : c.separate && c.subgroups === 4
    ? { ...c, subgroups: 2 as const }
    : c
).filter((c) => {
  // What still does not fit the adapter's workgroup memory (wide rows with a separate tile,
  // staged keys and D > 64) is refused by the plan, as tested below: not drawn here.
  if (ignore) return true;
  try {
    casePlan(c, "mimic");
    return true;
  } catch (e) {
    if (String(e).includes("bytes of workgroup memory")) return false;
    throw e;
  }
});

Deno.test({
  name: "int8AttentionPlan (emulated and mimicked subgroup-matrix products) matches the int8 " +
    "reference on random shapes",
  ignore,
  async fn() {
    // Each distinct shape is a new set of kernels for lavapipe to compile: few random runs
    // (fast-check counts the examples in numRuns).
    // "mimic" runs the native kernel's text (offsets, strides, layouts) with the builtins
    // replaced by plain WGSL, so the native form is checked here too.
    const both = async (c: Case) => {
      await check(c, "emulated");
      await check(c, "mimic");
    };
    await fc.assert(fc.asyncProperty(caseArb, both), {
      numRuns: examples.length + 3,
      examples: examples.map((c) => [c]),
    });
  },
});

Deno.test({
  name: "int8AttentionPlan (native subgroup matrices) matches the int8 reference",
  ignore: ignore || !native,
  async fn() {
    await fc.assert(fc.asyncProperty(caseArb, (c) => check(c, "native")), {
      numRuns: examples.length + 6,
      examples: examples.map((c) => [c]),
    });
  },
});

Deno.test({
  name: "the device's probe identified how int8 subgroup matrices count offsets (native adapters)",
  ignore: ignore || !gpu!.info.features.includes("chromium-experimental-subgroup-matrix"),
  fn() {
    // With the feature enabled, an unidentified convention disables the native products; on a
    // GPU that offers them that is a regression to look at, not a configuration.
    const { int8MatrixUnits, int8MatrixNote } = gpu!.info;
    console.log(`int8 subgroup matrices: ${int8MatrixNote}`);
    assert(int8MatrixUnits !== null, int8MatrixNote);
  },
});

Deno.test({
  name: "int8AttentionPlan's native kernels pass Dawn's WGSL validation (null backend)",
  ignore: "Bun" in globalThis,
  async fn() {
    await withNullBackend(async (errorsOf) => {
      const valid = async (name: string, code: string) => {
        const errors = await errorsOf(code);
        assert(errors.length === 0, `${name}: ${errors.join("; ")}`);
      };
      for (const layout of ["col_major", "row_major"] as const) {
        await valid(`probe ${layout}`, int8ProbeCode(layout));
      }
      // Every convention the probe may find: word offsets are divided in WGSL, word strides at
      // generation, and both must still validate.
      for (const units of int8MatrixConventions) {
        const target = int8NativeTarget(units);
        for (const c of examples) {
          // The plan's own defaults for this convention (prefetch only with word units).
          const defaults = int8AttentionPlan(attentionSpec(c), target).kernels.at(-1)!;
          await valid(defaults.name, defaults.code);
          // The timing-only ablations of the defaults (the sweep times them on GPUs).
          for (const ablate of ablations) {
            const kernel = int8AttentionPlan(attentionSpec(c), target, { ablate }).kernels.at(-1)!;
            assert(kernel.name.endsWith(ablate.map((p) => `_x${p}`).join("")), kernel.name);
            await valid(kernel.name, kernel.code);
          }
          for (
            const [subgroups, separate, stageKeys, prefetch, wideRows] of [
              [1, false, false, false, false],
              [4, false, true, false, false],
              [8, false, false, false, false],
              [1, true, true, false, false],
              [2, true, false, false, false],
              [8, false, false, true, false],
              [2, false, false, true, false],
              [2, false, false, true, true],
              [1, true, true, false, true],
            ] as const
          ) {
            // Prefetch is refused with element offsets or strides (see int8AttentionPlan).
            if (prefetch && (units.offset !== 4 || units.stride !== 4)) continue;
            // Shapes that do not fit 48 KB at D = Dv = 128 are refused by the plan (tested below).
            let plan;
            try {
              plan = int8AttentionPlan(attentionSpec(c), target, {
                subgroups,
                separateProducts: separate,
                stageKeys,
                prefetch,
                wideRows,
                // The conversion and register options change only plain WGSL: on for half.
                recomputeScores: prefetch || separate,
                integerMax: separate,
                alignedRows: subgroups === 2,
                padKeyValueRows: prefetch && subgroups === 2,
                transposedValues: subgroups === 8 || wideRows,
                leanSoftmax: prefetch || separate,
                fastConvert: prefetch || stageKeys,
                // (Eight subgroups with prefetched blocks fill 48 KB without the padding.)
                conflictFree: subgroups !== 8,
              });
            } catch (e) {
              if (String(e).includes("bytes of workgroup memory") && c.headDimV > 64) continue;
              throw e;
            }
            const main = plan.kernels.at(-1)!;
            assert(main.code.includes("subgroupMatrixMultiplyAccumulate"), "native products");
            for (const kernel of plan.kernels) {
              await valid(`${kernel.name} (${JSON.stringify(units)})`, kernel.code);
            }
          }
        }
      }
    });
  },
});

/** The ablation sets the sweep times (the `_x` parts of bench/int8_sweep_configs.ts). */
const ablations: readonly (readonly Int8AblatedPart[])[] = [
  ["softmax"],
  ["fold"],
  ["values"],
  ["scores", "softmax"],
];

Deno.test({
  name: "int8AttentionPlan's timing ablations still run and change the output (mimic)",
  ignore,
  async fn() {
    // Timing-only kernels: each must still run, and must change the output (a part that is
    // "left out" without effect would make the sweep's attribution wrong).
    const c = examples[1]!;
    const spec = attentionSpec(c);
    const n = c.batch * c.heads;
    const q = Float32Array.from(randomFloats(n * c.seqQ * c.headDim, c.seed));
    const k = Float32Array.from(randomFloats(n * c.seqK * c.headDim, c.seed + 1));
    const v = Float32Array.from(randomFloats(n * c.seqK * c.headDimV, c.seed + 2));
    const outBytes = [n * c.seqQ * c.headDimV * 4, n * c.seqQ * 4];
    const run = async (ablate: readonly Int8AblatedPart[]) => {
      const plan = int8AttentionPlan(spec, kernelTarget(gpu!), {
        mode: "mimic",
        recomputeScores: true,
        fastConvert: true,
        conflictFree: true,
        ablate,
      });
      const [out] = await runPlan(gpu!, plan, [q, k, v], outBytes);
      return new Float32Array(out!);
    };
    const full = await run([]);
    for (const ablate of ablations) {
      const got = await run(ablate);
      // Outputs start as NaN (runPlan): a kernel that wrote nothing would differ everywhere.
      assert(got.every(Number.isFinite), `ablating ${ablate} left outputs unwritten`);
      assert(
        got.some((x, i) => !(Math.abs(x - full[i]!) <= 1e-6 * (1 + Math.abs(full[i]!)))),
        `ablating ${ablate} left the output unchanged`,
      );
    }
  },
});

Deno.test({
  name: "int8AttentionPlan's native defaults are the fastest H100 configuration, where they apply",
  fn() {
    // Session 8's sweep (B = 2, H = 48, S = 17,776, D = 64): 4sg_pf_pkv_cf_al_rc_im_ls_fc_tv,
    // 90.5 ms against 100.6 without `_ls` and 126.4 without `_tv` as well.
    const spec = attentionSpec(int8Case({ seqQ: 17776, seqK: 17776, heads: 48, batch: 2 }));
    const nameOf = (target: KernelTarget, options: Int8AttentionOptions = {}) =>
      int8AttentionPlan(spec, target, options).kernels.at(-1)!.name;
    const words = int8NativeTarget({ offset: 4, stride: 4 });
    assertEquals(nameOf(words), "attn_i8_fwd_native_4sg_pf_rc_im_fc_cf_al_pkv_tv_ls");
    // Without recomputed scores the integer maximum and the lean passes have nothing to act on.
    assertEquals(
      nameOf(words, { recomputeScores: false }),
      "attn_i8_fwd_native_4sg_pf_fc_cf_al_pkv_tv",
    );
    // Element units rule out prefetch (see int8AttentionPlan), and with it the padded rows.
    assertEquals(
      nameOf(int8NativeTarget({ offset: 1, stride: 1 })),
      "attn_i8_fwd_native_4sg_rc_im_fc_cf_al_tv_ls",
    );
    // Dv = 128 does not fit four subgroups' padded blocks in 48 KB: the plan takes fewer.
    const wide = { ...spec, headDim: 128, headDimV: 128 };
    const fewer = int8AttentionPlan(wide, words).kernels.at(-1)!.name;
    assert(/^attn_i8_fwd_native_[12]sg_pf_rc_im_fc_cf_al_pkv_tv_ls$/.test(fewer), fewer);
  },
});

Deno.test({
  name: "int8AttentionPlan refuses what it cannot run, naming the values",
  ignore,
  fn() {
    const spec = attentionSpec(examples[1]!);
    const target = kernelTarget(gpu!);
    assertThrows(
      () => int8AttentionPlan({ ...spec, dtype: "f16" }, target),
      Error,
      'got dtype "f16"',
    );
    assertThrows(() => int8AttentionPlan(spec, target, { subgroups: 3 }), Error, "got 3");
    assertThrows(
      () =>
        int8AttentionPlan(spec, target, { mode: "mimic", prefetch: false, padKeyValueRows: true }),
      Error,
      "padKeyValueRows pads the prefetched key and value blocks and needs prefetch; got prefetch " +
        "false",
    );
    assertThrows(
      () => int8AttentionPlan(spec, target, { mode: "mimic", leanSoftmax: true }),
      Error,
      "leanSoftmax rewrites the passes over recomputed scores and needs recomputeScores; got " +
        "recomputeScores off by default in the mimic mode",
    );
    assertThrows(
      () => int8AttentionPlan(spec, { ...target, subgroups: false }),
      Error,
      "subgroups feature",
    );
    assertThrows(
      () => int8AttentionPlan(spec, { ...target, subgroupMatrixInt8: false }, { mode: "native" }),
      Error,
      "subgroupMatrixInt8 false",
    );
    assertThrows(
      () => int8AttentionPlan(spec, { ...target, maxWorkgroupStorageBytes: 4096 }),
      Error,
      "bytes of workgroup memory",
    );
    assertThrows(
      () => int8AttentionPlan(spec, target, { prefetch: true, separateProducts: true }),
      Error,
      "separateProducts true",
    );
  },
});
