/**
 * Times one prepared workload with mitata, and records what the process did meanwhile: CPU time
 * (lavapipe's shader threads and our main thread together) and how often dawn.node polled.
 *
 * @module
 */

import { measure } from "mitata";
import os from "node:os";
import process from "node:process";
import { pollCount } from "./dawn.ts";
import type { Prepared } from "./libraries/library.ts";
import type { SizeMode } from "./workloads.ts";

/** Timing statistics of one library on one row, in milliseconds. */
export interface Timing {
  /** The first run: compilation (pipelines, jit tracing), uploads, and one execution. */
  readonly firstMs: number;
  readonly samples: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly p75Ms: number;
  /** Process CPU seconds per wall second while sampling (2 = both cores of this machine busy). */
  readonly cpuPerWall: number;
  /** dawn.node polls (`setImmediate` calls) per run. */
  readonly pollsPerRun: number;
  /**
   * The machine's 1-minute load average at the end of sampling. Above the core count, other
   * processes competed for the CPU (lavapipe runs on the CPU) and the times are inflated.
   */
  readonly loadAverage: number;
  /**
   * Whether a young-generation garbage collection ran before each sample, outside its time
   * (needs `--v8-flags=--expose-gc`, which `deno task bench` passes). Without it, a sample may
   * pay for fresh host pages for its outputs while the previous outputs still wait for
   * collection: on this VM a page fault costs ~13 us, so a 12 MB output took 40 ms instead of
   * 1.3 ms. A full collection frees them too, but V8 then returns heap pages to the system and
   * the sample faults them back in (softmax 9.7 ms instead of 7.1 ms).
   */
  readonly collectedBetweenSamples: boolean;
}

/** A young-generation collection through V8's `gc`, present with `--expose-gc`. */
function exposedGc(): (() => void) | null {
  const gc = (globalThis as { gc?: unknown }).gc;
  if (typeof gc !== "function") return null;
  // The previous sample's outputs are young: a minor collection frees their host memory.
  return () => (gc as (options: { type: "minor" | "major" }) => void)({ type: "minor" });
}

/** mitata sampling options per size mode: enough samples for a stable median, bounded time. */
const samplingByMode = {
  check: { min_samples: 1, max_samples: 1, min_cpu_time: 0 },
  // Five samples at least: with 3, two samples slowed by the shared machine set the median
  // (session 5: conv3d's median 87.9 ms over 3 samples, min 58.5); with 5 it takes three.
  software: { min_samples: 5, max_samples: 40, min_cpu_time: 1.5e9 },
  full: { min_samples: 10, max_samples: 200, min_cpu_time: 2e9 },
} as const;

/**
 * Runs `prepared` once (reported as `firstMs`), then samples it with mitata. Each sample is a full
 * `run()`, which ends with the outputs on the host.
 *
 * @example
 * ```ts ignore
 * const timing = await timeRuns(prepared, "software");
 * console.log(timing.medianMs);
 * ```
 */
export async function timeRuns(
  prepared: Prepared,
  mode: SizeMode,
  first?: { ms: number },
): Promise<Timing> {
  let firstMs = first?.ms;
  if (firstMs === undefined) {
    const t0 = performance.now();
    await prepared.run();
    firstMs = performance.now() - t0;
  }
  let runs = 0;
  const polls0 = pollCount();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const gc = exposedGc();
  const stats = await measure(async () => {
    runs++;
    await prepared.run();
  }, {
    ...samplingByMode[mode],
    warmup_samples: 0,
    warmup_threshold: 0,
    // Collect the previous sample's outputs before each sample (not timed), so every library's
    // outputs land in reused host memory instead of freshly faulted pages.
    ...(gc ? { gc, inner_gc: true } : { gc: false }),
  });
  const wallMs = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  const ms = (ns: number) => ns / 1e6;
  return {
    firstMs,
    samples: stats.samples.length,
    medianMs: ms(stats.p50),
    minMs: ms(stats.min),
    maxMs: ms(stats.max),
    p75Ms: ms(stats.p75),
    cpuPerWall: (cpu.user + cpu.system) / 1e3 / wallMs,
    pollsPerRun: runs > 0 ? (pollCount() - polls0) / runs : 0,
    loadAverage: os.loadavg()[0] ?? 0,
    collectedBetweenSamples: gc !== null,
  };
}
