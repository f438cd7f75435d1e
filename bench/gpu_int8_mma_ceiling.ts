/**
 * Times the int8 subgroup-matrix ceiling kernels (`bench/int8_mma_ceiling.ts`) on an adapter
 * with native int8 subgroup matrices: per configuration, one launch is checked element for
 * element against the CPU product (first and last subgroup), then timed (median of 3 samples of
 * `reps` launches per submit, waited on with 1 ms timers like the int8 sweep), and the integer
 * TOPS printed. Elsewhere it says why it cannot run and exits 0.
 *
 * Usage: `deno run -A bench/gpu_int8_mma_ceiling.ts [--reps 5] [--workgroups 1056]`. Prints one
 * JSON line per configuration and writes `out/bench/gpu_int8_mma_ceiling.json`.
 *
 * @module
 */

import { sharedGpu } from "../kernels/webgpu/device.ts";
import { flag } from "./args.ts";
import {
  type CeilingCase,
  ceilingExpected,
  ceilingOps,
  ceilingSource,
  ceilingWordsPerSubgroup,
  int8MmaCeilingPlan,
} from "./int8_mma_ceiling.ts";
import {
  bindPlan,
  kernelTarget,
  medianPassMs,
} from "../tests/kernels/webgpu/templates/_run_plan.ts";

/**
 * The configurations timed, with `workgroups` filled in at run time: raw product rate with 1, 4
 * and 8 independent accumulators; key tiles from workgroup memory feeding 1 (the attention's
 * 16-row subgroups), 2 (`wideRows`) or 4 products; the score step (store per tile) with and
 * without a barrier per key block; two of them again with keys 80 bytes apart instead of 64;
 * key tiles read straight from storage feeding 1 or 2 products; and three of them with the
 * right tiles read row-major (`_rm`: the attention's value tiles without `transposedValues`).
 * If the `_rm` rows are much slower than their column-major twins, `transposedValues` should
 * win in the attention.
 * Iteration counts give each launch about 1e12 operations at 1,056 workgroups of 4 subgroups.
 *
 * @example
 * ```ts ignore
 * import { ceilingConfigs } from "./gpu_int8_mma_ceiling.ts";
 * ceilingConfigs.length; // 18
 * ```
 */
export const ceilingConfigs: readonly Omit<CeilingCase, "workgroups">[] = [
  { pattern: "registers", subgroups: 4, rowTiles: 1, iterations: 16384 },
  { pattern: "registers", subgroups: 4, rowTiles: 4, iterations: 4096 },
  { pattern: "registers", subgroups: 4, rowTiles: 8, iterations: 2048 },
  { pattern: "registers", subgroups: 1, rowTiles: 4, iterations: 4096 },
  { pattern: "workgroup", subgroups: 4, rowTiles: 1, iterations: 16384 },
  { pattern: "workgroup", subgroups: 4, rowTiles: 2, iterations: 8192 },
  { pattern: "workgroup", subgroups: 4, rowTiles: 4, iterations: 4096 },
  { pattern: "workgroup", subgroups: 1, rowTiles: 1, iterations: 16384 },
  { pattern: "workgroup", subgroups: 4, rowTiles: 1, iterations: 16384, keyStride: 80 },
  { pattern: "storage", subgroups: 4, rowTiles: 1, iterations: 16384 },
  { pattern: "storage", subgroups: 4, rowTiles: 2, iterations: 8192 },
  { pattern: "workgroup", subgroups: 4, rowTiles: 1, iterations: 16384, rightLayout: "row_major" },
  { pattern: "workgroup", subgroups: 4, rowTiles: 2, iterations: 8192, rightLayout: "row_major" },
  { pattern: "storage", subgroups: 4, rowTiles: 1, iterations: 16384, rightLayout: "row_major" },
  { pattern: "scores", subgroups: 4, rowTiles: 1, iterations: 8192 },
  { pattern: "scores", subgroups: 4, rowTiles: 1, iterations: 8192, barriers: true },
  { pattern: "scores", subgroups: 4, rowTiles: 1, iterations: 8192, barriers: true, keyStride: 80 },
  { pattern: "scores", subgroups: 4, rowTiles: 2, iterations: 4096, barriers: true },
];

if (import.meta.main) {
  const reps = Number(flag("reps", "5"));
  const workgroups = Number(flag("workgroups", "1056"));
  const gpu = await sharedGpu();
  if (!gpu) throw new Error("No WebGPU adapter: run `deno task setup`");
  const target = kernelTarget(gpu);
  if (!target.subgroupMatrixInt8 || target.int8MatrixUnits === undefined) {
    console.log(
      `[gpu_int8_mma_ceiling] ${gpu.info.name} has no usable int8 subgroup matrices ` +
        `(${gpu.info.int8MatrixNote}): nothing to time`,
    );
    Deno.exit(0);
  }
  console.error(`[gpu_int8_mma_ceiling] ${gpu.info.name}; probe: ${gpu.info.int8MatrixNote}`);
  const source = ceilingSource(7);
  const results: Record<string, unknown>[] = [];
  for (const config of ceilingConfigs) {
    const c: CeilingCase = { ...config, workgroups };
    const plan = int8MmaCeilingPlan(c, target, "native");
    const name = plan.kernels[0]!.name;
    try {
      const words = ceilingWordsPerSubgroup(c);
      const subgroupsAll = c.subgroups * c.workgroups;
      const bound = await bindPlan(gpu, plan, [source], [subgroupsAll * words * 4]);
      try {
        bound.submit(1);
        const got = new Int32Array(await bound.readOutput(0));
        const expected = ceilingExpected(c, source);
        for (const sg of [0, subgroupsAll - 1]) {
          for (let e = 0; e < words; e++) {
            if (got[sg * words + e] !== expected[e]) {
              throw new Error(
                `subgroup ${sg}, word ${e}: got ${got[sg * words + e]}, expected ${expected[e]}`,
              );
            }
          }
        }
        const ms = await medianPassMs(gpu, bound, reps);
        const row = { config: name, ms, tops: ceilingOps(c) / ms / 1e9, checked: true };
        results.push(row);
        console.log(JSON.stringify(row));
      } finally {
        bound.destroy();
      }
    } catch (e) {
      const row = { config: name, error: String(e) };
      results.push(row);
      console.log(JSON.stringify(row));
    }
  }
  // One line with every configuration's rate: the device log shows only its tail.
  console.log(
    `[gpu_int8_mma_ceiling] TOP/s: ${
      results.map((r) =>
        `${String(r["config"]).replace("int8_ceiling_", "")} ${
          typeof r["tops"] === "number" ? r["tops"].toFixed(1) : "error"
        }`
      ).join(", ")
    }`,
  );
  await Deno.mkdir("out/bench", { recursive: true });
  await Deno.writeTextFile(
    "out/bench/gpu_int8_mma_ceiling.json",
    JSON.stringify({ adapter: gpu.info.name, workgroups, reps, results }, null, 2),
  );
}
