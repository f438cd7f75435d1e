/**
 * Benchmark: optical flow of synthetic clips in the core's array ops (`data/flow.ts`, all pairs
 * of a clip per call, one jitted program per pyramid level) on a device, against the plain-TS
 * per-pair oracle (`tests/data/_flow_oracle.ts`) in the same process. Reports milliseconds per
 * frame pair (wall and process CPU time, the latter robust on a shared machine), the first call
 * (tracing and compiling) separately, and the largest difference from the oracle; writes
 * `out/bench_data_flow.json`. Not a test; run it by hand:
 *
 * ```sh
 * npx -y deno@2.9.6 run -A bench/data_flow.ts [--device reference|webgpu] [--runs 3]
 * ```
 *
 * @module
 */
import process from "node:process";
import * as device from "../autograd/device.ts";
import { framePairFlows } from "../data/flow.ts";
import { luma } from "../data/image_ops.ts";
import { randomClipSpec, renderClip } from "../data/synthetic.ts";
import { oracleFlow } from "../tests/data/_flow_oracle.ts";

const args = Deno.args;
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] ?? fallback : fallback;
};
const deviceName = flag("--device", "reference");
const runs = Number(flag("--runs", "3"));
if (deviceName === "webgpu") {
  if (!(await device.init())) {
    throw new Error("bench/data_flow: no GPU adapter for --device webgpu");
  }
} else device.use("reference");

/** Wall and CPU milliseconds of `fn`. */
async function timed(fn: () => Promise<unknown> | unknown): Promise<{ wall: number; cpu: number }> {
  const cpu0 = process.cpuUsage(), t0 = performance.now();
  await fn();
  const cpu = process.cpuUsage(cpu0);
  return { wall: performance.now() - t0, cpu: (cpu.user + cpu.system) / 1000 };
}

const cases = [
  { width: 32, frames: 16 },
  { width: 64, frames: 16 },
  { width: 64, frames: 61 },
];
const results: Record<string, unknown>[] = [];
for (const { width, frames: t } of cases) {
  const frames = renderClip(
    randomClipSpec(1, { camera: "zoom_in", frames: t, width, height: width, speed: "fast" }),
  );
  const pairs = t - 1;
  const first = await timed(() => framePairFlows(frames));
  let best = { wall: Infinity, cpu: Infinity };
  let flows = await framePairFlows(frames);
  for (let r = 0; r < runs; r++) {
    const m = await timed(async () => (flows = await framePairFlows(frames)));
    if (m.cpu < best.cpu) best = m;
  }
  let oracleBest = { wall: Infinity, cpu: Infinity };
  let oracle: ReturnType<typeof oracleFlow>[] = [];
  for (let r = 0; r < runs; r++) {
    const m = await timed(() => {
      oracle = Array.from(
        { length: pairs },
        (_, p) => oracleFlow(luma(frames, p), luma(frames, p + 1)),
      );
    });
    if (m.cpu < oracleBest.cpu) oracleBest = m;
  }
  let maxDiff = 0;
  oracle.forEach((o, p) => {
    const f = flows[p]!;
    for (let i = 0; i < o.u.data.length; i++) {
      maxDiff = Math.max(
        maxDiff,
        Math.hypot(f.u.data[i]! - o.u.data[i]!, f.v.data[i]! - o.v.data[i]!),
      );
    }
  });
  const row = {
    size: `${width}x${width}`,
    pairs,
    device: device.info().backend,
    firstCallMs: first.wall,
    msPerPairWall: best.wall / pairs,
    msPerPairCpu: best.cpu / pairs,
    oracleMsPerPairCpu: oracleBest.cpu / pairs,
    maxDiffFromOraclePx: maxDiff,
  };
  results.push(row);
  console.log(JSON.stringify(row));
}
await Deno.mkdir("out", { recursive: true });
await Deno.writeTextFile(
  "out/bench_data_flow.json",
  JSON.stringify({ host: `${Deno.build.os} ${Deno.build.arch}`, results }, null, 2),
);
