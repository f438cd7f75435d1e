/**
 * Sweeps the int8 attention's workgroup shape and options (configuration names as in
 * `int8_sweep_configs.ts`: `<n>sg`, 32-lane subgroups per workgroup, then the options) on the
 * present adapter at DropletVideo-5B's attention size (B = 2, H = 48, S = 17,776, D = 64) and
 * prints, per configuration, device time per forward pass (several passes per submit, no
 * readback), the equivalent TFLOP/s (`4 B H S^2 D`), the time of the four quantization kernels
 * alone, and the relative L2 error of two output rows against float64 softmax attention (not for
 * the timing-only ablations). With more than two configurations the first is timed again at the
 * end (`_again`), to show the drift. Products run on int8 subgroup matrices where the adapter
 * has them (`native`), emulated otherwise. The inputs are uploaded once for all configurations.
 *
 * Usage: `deno run -A bench/gpu_attention_int8_sweep.ts [--s 17776] [--reps 5]` (on a software
 * adapter use `--s 512 --heads 2`). Prints one JSON line per configuration and writes
 * `out/bench/gpu_attention_int8_sweep.json`.
 *
 * @module
 */

import { sharedGpu } from "../kernels/webgpu/device.ts";
import { flag } from "./args.ts";
import {
  int8AttentionNative,
  int8AttentionPlan,
} from "../kernels/webgpu/templates/attention_int8.ts";
import { int8SweepDefaults, int8SweepOptions, int8SweepSpec } from "./int8_sweep_configs.ts";
import {
  bindPlan,
  kernelTarget,
  medianPassMs,
  uploadInputs,
} from "../tests/kernels/webgpu/templates/_run_plan.ts";

const s = Number(flag("s", "17776"));
const heads = Number(flag("heads", "48"));
const batch = Number(flag("batch", "2"));
const reps = Number(flag("reps", "5"));
const spec = int8SweepSpec({ batch, heads, s });
const d = spec.headDim;

const gpu = await sharedGpu();
if (!gpu) throw new Error("No WebGPU adapter: run `deno task setup`");
const target = kernelTarget(gpu);
const mode = int8AttentionNative(target) ? "native" : "emulated";
console.error(`[gpu_attention_int8_sweep] ${gpu.info.name}: ${mode} products`);
console.error(
  `[gpu_attention_int8_sweep] subgroup matrix configs: ${
    gpu.info.subgroupMatrixConfigs.join("; ") || "none"
  }; probe: ${gpu.info.int8MatrixNote}`,
);

let seed = 2024;
const gauss = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  const u = (seed + 1) / 2147483649;
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * seed / 2147483648);
};
const n = batch * heads * s * d;
const [Q, K, V] = [0, 1, 2].map(() => Float32Array.from({ length: n }, gauss)) as [
  Float32Array,
  Float32Array,
  Float32Array,
];

/** Relative L2 error of rows 0 and S - 1 of head (0, 0) against float64 attention. */
function relativeError(out: Float32Array): number {
  let err = 0, norm = 0;
  for (const i of [0, s - 1]) {
    const scores = new Float64Array(s);
    let m = -Infinity;
    for (let j = 0; j < s; j++) {
      let dot = 0;
      for (let t = 0; t < d; t++) dot += Q[i * d + t]! * K[j * d + t]!;
      scores[j] = dot * spec.scale;
      m = Math.max(m, scores[j]!);
    }
    let sum = 0;
    for (let j = 0; j < s; j++) sum += Math.exp(scores[j]! - m);
    for (let t = 0; t < d; t++) {
      let acc = 0;
      for (let j = 0; j < s; j++) acc += Math.exp(scores[j]! - m) / sum * V[j * d + t]!;
      err += (out[i * d + t]! - acc) ** 2;
      norm += acc * acc;
    }
  }
  return Math.sqrt(err / norm);
}

const flops = 4 * batch * heads * s * s * d;
const outputs = [batch * heads * s * d * 4, batch * heads * s * 4];
const results: Record<string, unknown>[] = [];
const configs = flag("configs", int8SweepDefaults.join(",")).split(",");
// The quantization kernels' time, per distinct set of them (`_tv` stores values transposed).
const prepMsOf = new Map<string, number>();
const inputs = uploadInputs(gpu, [Q, K, V]);
const sweepStart = performance.now();
// The first configuration is timed again at the end (`_again`): the difference says how far the
// GPU drifted during the sweep (clocks, temperature), so that small differences are read as such.
const runs = [
  ...configs.map((config) => ({ config, again: false })),
  ...(configs.length > 2 ? [{ config: configs[0]!, again: true }] : []),
];
const shared = { shared: inputs, fill: false };
for (const { config, again } of runs) {
  const configStart = performance.now();
  const name = `${mode}_${config}${again ? "_again" : ""}`;
  let row: Record<string, unknown>;
  try {
    const options = int8SweepOptions(config);
    const ablate = options.ablate ?? [];
    const plan = int8AttentionPlan(spec, target, options);
    // The inputs (1.3 GB at full size) are uploaded once for all configurations; outputs and
    // scratch are cleared to zeros on the GPU (no host fill), so the error check below sees a
    // row left unwritten instead of a previous configuration's output in a reused buffer.
    const bound = await bindPlan(gpu, plan, [], outputs, shared);
    let ms: number, relL2: number | undefined;
    try {
      bound.submit(1);
      // Ablated kernels leave work out: their time is what matters, their error is meaningless
      // (so the 0.4 GB readback is skipped).
      if (ablate.length === 0) relL2 = relativeError(new Float32Array(await bound.readOutput(0)));
      ms = await medianPassMs(gpu, bound, reps);
    } finally {
      bound.destroy();
    }
    const prepKey = plan.kernels.slice(0, -1).map((k) => k.name).join(",");
    if (!prepMsOf.has(prepKey)) {
      // The quantization kernels alone: all but the last (they write scratch, no output).
      const prep = await bindPlan(
        gpu,
        { ...plan, kernels: plan.kernels.slice(0, -1) },
        [],
        [],
        shared,
      );
      try {
        prepMsOf.set(prepKey, await medianPassMs(gpu, prep, reps));
      } finally {
        prep.destroy();
      }
    }
    const prepMs = prepMsOf.get(prepKey)!;
    // Workgroup memory per workgroup (it bounds how many workgroups an SM holds at once).
    const workgroupBytes = [
      ...plan.kernels.at(-1)!.code.matchAll(/var<workgroup> \w+: array<i32, (\d+)>/g),
    ].reduce((sum, m) => sum + 4 * Number(m[1]), 0);
    row = {
      ...(relL2 === undefined
        ? { config: name, ms, prepMs, ablated: ablate }
        : { config: name, ms, prepMs, tflops: flops / ms / 1e9, relL2 }),
      workgroupBytes,
      wallS: (performance.now() - configStart) / 1000,
    };
  } catch (e) {
    row = { config: name, error: String(e) };
  }
  results.push(row);
  console.log(JSON.stringify(row));
}
for (const buffer of inputs.values()) buffer.destroy();
// The full (not ablated) configurations, fastest first: the device log shows only its tail.
const ranked = results
  .filter((r) => typeof r["ms"] === "number" && !("ablated" in r))
  .sort((a, b) => (a["ms"] as number) - (b["ms"] as number));
console.log(
  `[gpu_attention_int8_sweep] fastest first: ${
    ranked.map((r) => `${r["config"]} ${(r["ms"] as number).toFixed(1)}`).join(", ")
  }`,
);
console.error(
  `[gpu_attention_int8_sweep] ${runs.length} runs in ${
    ((performance.now() - sweepStart) / 1000).toFixed(1)
  } s after the upload`,
);
await Deno.mkdir("out/bench", { recursive: true });
await Deno.writeTextFile(
  "out/bench/gpu_attention_int8_sweep.json",
  JSON.stringify({ adapter: gpu.info.name, spec, reps, results }, null, 2),
);
