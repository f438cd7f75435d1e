/**
 * The int8 attention sweep's configurations (`bench/gpu_attention_int8_sweep.ts`), by name:
 * `<subgroups>sg` then any of `_sep` (separate product tile), `_stk` (staged keys), `_pf`
 * (prefetched key and value blocks), `_pkv` (with `_pf`: key and value rows padded in workgroup
 * memory), `_rc` (recomputed scores), `_im` (with `_rc`: the first pass's maximum over int32
 * scores), `_ls` (with `_rc`: unmasked constant-offset softmax passes in full blocks), `_fc`
 * (float-add conversions), `_cf` (conflict-free workgroup layout), `_al` (with
 * `_cf`: 16-byte aligned rows), `_tv` (values stored transposed, their tiles loaded
 * column-major), `_w` (32 rows per subgroup, one lane each), and for timing only
 * `_x<part>` (`_xscores`, `_xsoftmax`, `_xvalues`, `_xfold`: that part of each key block's work
 * left out, see `Int8AttentionOptions.ablate`; the time saved is what the part costs). Separate
 * from the sweep so that the tests can validate every default configuration's kernel before a
 * scarce GPU run spends time on it.
 *
 * H100 (Dawn, 2026-11-26): 8sg_stk 232 ms, 2sg 257, 1sg 260, 4sg 264, 8sg 285, 2sg_stk 288,
 * 4sg_stk 291, 2sg_sep 329, 4sg_sep 349; second run: 4sg_pf_cf_rc 216, 8sg_pf 221, 4sg_cf 223,
 * 8sg_stk 233, 8sg_cf_fc 242, 8sg_cf 245, 4sg_pf_cf_fc 247, 4sg_pf_cf 251, 2sg_cf 254, 2sg_pf_cf
 * 257, 1sg_cf 291, 4sg_stk_cf 295; third: 4sg_pf_cf_rc_fc 205, 4sg_cf_rc 208, 4sg_pf_cf_rc 214,
 * 8sg_pf 215, 2sg_pf_cf_rc 218, 8sg_pf_rc 231, 8sg_stk_rc 242 (every relative L2 1.02e-2).
 * Session 8 (H100): 4sg_pf_pkv_cf_al_rc_im_fc_tv 100.6, 4sg_pf_cf_rc_im_ls_fc_tv 116.8,
 * 4sg_pf_pkv_cf_al_rc_im_fc 126.4, 4sg_pf_cf_rc_fc_tv 149.6, 4sg_pf_cf_al_rc_im_fc 161.5,
 * 4sg_pf_pkv_cf_rc_fc 164.2, 1sg_cf_al_rc_fc 174.3, 4sg_pf_cf_al_rc_fc 178.8, 4sg_pf_cf_rc_im_fc
 * 185.6, 4sg_pf_cf_rc_fc 201.5 (201.6 again at the end), 4sg_cf_rc_im_ls_fc_tv 202.2,
 * 4sg_cf_rc_fc 204.6, 1sg_cf_rc_fc 209.5, 1sg_w_pf_cf_rc_fc 213.1, 4sg_cf_rc_fc_tv 214.7,
 * 2sg_w_cf_rc_fc 222.3, 4sg_w_cf_rc_fc 224.0, 4sg_pf_cf_rc_ls_fc 224.1, 2sg_w_pf_pkv_cf_al_rc_im_fc
 * 268.1, 2sg_w_pf_cf_rc_fc_tv 298.4, 2sg_w_pf_cf_rc_fc 332.0; ablations of 4sg_pf_cf_rc_fc:
 * _xsoftmax 124.5, _xfold 188.0, _xvalues 105.0, _xscores_xsoftmax 94.5. Second run:
 * 4sg_pf_pkv_cf_al_rc_im_ls_fc_tv 90.5 (now the native default), 4sg_pf_pkv_cf_al_rc_im_fc_tv
 * 100.6 (100.8 again), 4sg_pf_pkv_cf_rc_im_ls_fc_tv 101.8, 2sg_pf_pkv_cf_al_rc_im_fc_tv 104.6,
 * 4sg_pf_cf_al_rc_im_fc_tv 111.1, 4sg_pf_pkv_cf_al_rc_fc_tv 116.3, 4sg_pf_pkv_cf_rc_fc_tv 133.7;
 * 4sg_pf_pkv_cf_al_rc_im_fc_tv with _xsoftmax 45.5, _xvalues 77.5; 8 subgroups with padded rows
 * need 57,344 bytes of workgroup memory (48 KB allowed). Quantization: 1.4 ms (1.7 with `_tv`).
 *
 * @module
 */

import type {
  Int8AblatedPart,
  Int8AttentionOptions,
} from "../kernels/webgpu/templates/attention_int8.ts";
import type { AttentionSpec } from "../kernels/webgpu/templates/attention.ts";

/**
 * The configurations the sweep times when `--configs` is not given, most wanted first (in case
 * the device step's timeout cuts the list): the native default, the default with parts ablated
 * (the time saved is what the part costs; in session 8 the softmax passes were over half the
 * kernel), the default with one option off at a time, other workgroup shapes, and session 5's
 * default for reference.
 *
 * @example
 * ```ts
 * import { int8SweepDefaults } from "./int8_sweep_configs.ts";
 * int8SweepDefaults[0]; // "4sg_pf_pkv_cf_al_rc_im_ls_fc_tv"
 * ```
 */
export const int8SweepDefaults: readonly string[] = [
  "4sg_pf_pkv_cf_al_rc_im_ls_fc_tv",
  // Where the default's time goes.
  "4sg_pf_pkv_cf_al_rc_im_ls_fc_tv_xsoftmax",
  "4sg_pf_pkv_cf_al_rc_im_ls_fc_tv_xvalues",
  "4sg_pf_pkv_cf_al_rc_im_ls_fc_tv_xfold",
  "4sg_pf_pkv_cf_al_rc_im_ls_fc_tv_xscores_xsoftmax",
  // One option off at a time.
  "4sg_pf_pkv_cf_al_rc_im_fc_tv",
  "4sg_pf_pkv_cf_rc_im_ls_fc_tv",
  "4sg_pf_cf_al_rc_im_ls_fc_tv",
  "4sg_pf_pkv_cf_al_rc_ls_fc_tv",
  "4sg_pf_pkv_cf_al_rc_im_ls_tv",
  "4sg_pf_pkv_cf_al_rc_im_ls_fc",
  "4sg_cf_al_rc_im_ls_fc_tv",
  // Other workgroup shapes with the default's options.
  "2sg_pf_pkv_cf_al_rc_im_ls_fc_tv",
  "2sg_w_pf_pkv_cf_al_rc_im_ls_fc_tv",
  "1sg_w_pf_pkv_cf_al_rc_im_ls_fc_tv",
  "1sg_cf_al_rc_im_ls_fc_tv",
  // Session 5's default (201.5 ms in session 8).
  "4sg_pf_cf_rc_fc",
];

/**
 * The attention the sweep times: DropletVideo-5B's at its defaults (`B = 2`, `H = 48`,
 * `S = 17,776`, 64 channels per head, not causal).
 *
 * @example
 * ```ts
 * import { int8SweepSpec } from "./int8_sweep_configs.ts";
 * int8SweepSpec().seqK; // 17776
 * int8SweepSpec({ s: 512, heads: 2 }).heads; // 2 (a software adapter's size)
 * ```
 */
export function int8SweepSpec(
  size: { batch?: number; heads?: number; s?: number } = {},
): AttentionSpec {
  const { batch = 2, heads = 48, s = 17776 } = size;
  const d = 64;
  return {
    batch,
    heads,
    seqQ: s,
    seqK: s,
    headDim: d,
    headDimV: d,
    scale: 1 / Math.sqrt(d),
    causal: false,
    dtype: "f32",
  };
}

const flags = ["sep", "stk", "pf", "pkv", "rc", "im", "ls", "fc", "cf", "al", "tv", "w"] as const;
const parts: readonly Int8AblatedPart[] = ["scores", "softmax", "values", "fold"];

/**
 * The plan options a configuration name asks for (every option not named is off). Throws,
 * naming the configuration and the unknown parts, on anything else.
 *
 * @example
 * ```ts
 * import { int8SweepOptions } from "./int8_sweep_configs.ts";
 * int8SweepOptions("2sg_w_cf_xfold").wideRows; // true
 * int8SweepOptions("2sg_w_cf_xfold").ablate; // ["fold"]
 * ```
 */
export function int8SweepOptions(config: string): Int8AttentionOptions {
  const [count, ...named] = config.split("_");
  const has = (flag: (typeof flags)[number]) => named.includes(flag);
  const ablate = parts.filter((part) => named.includes(`x${part}`));
  const unknown = named.filter((p) =>
    !(flags as readonly string[]).includes(p) &&
    !(p.startsWith("x") && (parts as readonly string[]).includes(p.slice(1)))
  );
  if (!/^\d+sg$/.test(count!) || unknown.length > 0) {
    throw new Error(
      `unknown configuration "${config}"${
        unknown.length > 0 ? ` (unknown parts: ${unknown.join(", ")})` : ""
      }: <n>sg then any of ${flags.map((f) => `_${f}`).join(" ")} ${
        parts.map((p) => `_x${p}`).join(" ")
      } (e.g. 4sg_pf_cf_rc_fc)`,
    );
  }
  return {
    subgroups: parseInt(count!),
    separateProducts: has("sep"),
    stageKeys: has("stk"),
    prefetch: has("pf"),
    padKeyValueRows: has("pkv"),
    recomputeScores: has("rc"),
    integerMax: has("im"),
    fastConvert: has("fc"),
    conflictFree: has("cf"),
    alignedRows: has("al"),
    transposedValues: has("tv"),
    leanSoftmax: has("ls"),
    wideRows: has("w"),
    ablate,
  };
}
