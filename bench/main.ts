/**
 * `deno task bench`: Droplet against jax-js and TensorFlow.js, side by side in one process on the
 * same Dawn adapter, with mitata. Prints Markdown tables and writes JSON to `out/bench/`.
 *
 * Order matters: Dawn is installed as `navigator.gpu` before any peer is imported (see
 * `dawn.ts`), then each library is set up; a library that cannot be set up is reported, not
 * skipped silently. Before timing a group, every library runs it at a tiny size and the outputs
 * are compared (Droplet on its CPU reference interpreter when it has no GPU device: the oracle),
 * so a row never compares libraries that compute different things. See `args.ts` for options.
 *
 * @module
 */

import { parseArgs, usage } from "./args.ts";
import { compareOutputs } from "./compare.ts";
import { installDawnForPeers, pollPolicyInEffect, setPollPolicy } from "./dawn.ts";
import type { DawnForPeers } from "./dawn.ts";
import { makeInputs } from "./inputs.ts";
import type { BenchLibrary, LibraryName, UnavailableLibrary } from "./libraries/library.ts";
import { timeRuns } from "./measure.ts";
import {
  detailsTable,
  type LibraryResult,
  markdownTable,
  type RowResult,
  type RunEnvironment,
  writeJson,
} from "./report.ts";
import { type BenchGroup, type BenchRow, benchRows, type SizeMode } from "./workloads.ts";

/** The sync every measurement ends with, stated in the results. */
const syncDescription =
  "each run ends when every output is on the host (await data() per output, " +
  "the same for all three libraries)";

/** A library ready to run, or why it is not. */
type Slot = BenchLibrary | UnavailableLibrary;

function isReady(slot: Slot): slot is BenchLibrary {
  return "prepare" in slot;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0]! : String(error);
}

/**
 * Sets up Droplet through `mod.ts` (which acquires its own Dawn device on import): the timed
 * instance when its device is WebGPU, and always a reference-interpreter instance, the oracle of
 * the output check (never timed).
 */
async function setUpDroplet(): Promise<{ slot: Slot; oracle: BenchLibrary | null }> {
  try {
    const droplet = await import("./libraries/droplet.ts");
    const reason = droplet.dropletUnavailableReason();
    const slot = reason === null
      ? droplet.createDroplet("webgpu")
      : { name: "droplet" as const, reason };
    const oracle = {
      ...droplet.createDroplet("reference"),
      device: "reference interpreter (check only)",
    };
    return { slot, oracle };
  } catch (error) {
    return { slot: { name: "droplet", reason: `unavailable: ${message(error)}` }, oracle: null };
  }
}

async function setUpPeer(
  name: "jax-js" | "tfjs",
  dawn: DawnForPeers | null,
): Promise<Slot> {
  if (!dawn) return { name, reason: "unavailable: Dawn found no WebGPU adapter" };
  try {
    if (name === "jax-js") return await (await import("./libraries/jax_js.ts")).createJaxJs(dawn);
    return await (await import("./libraries/tfjs.ts")).createTfjs(dawn);
  } catch (error) {
    return { name, reason: `unavailable: ${message(error)}` };
  }
}

/** Runs one row on every library: prepare, first run, mitata samples, output agreement. */
async function runRow(row: BenchRow, slots: readonly Slot[], mode: SizeMode): Promise<RowResult> {
  const inputs = makeInputs(row.workload);
  const results: LibraryResult[] = [];
  let reference: { name: LibraryName; outputs: Float32Array[] } | null = null;
  for (const slot of slots) {
    if (!isReady(slot)) {
      results.push({ library: slot.name, status: "unavailable", reason: slot.reason });
      continue;
    }
    const why = row.only && !row.only.libraries.includes(slot.name)
      ? row.only.reason
      : slot.unsupported(row.workload);
    if (why) {
      results.push({ library: slot.name, status: "unsupported", reason: why });
      continue;
    }
    console.error(`[bench] ${row.id}: ${slot.name}`);
    try {
      const prepared = await slot.prepare(row.workload, inputs);
      try {
        const t0 = performance.now();
        const raw = await prepared.run();
        const firstMs = performance.now() - t0;
        const outputs = prepared.canonical ? prepared.canonical(raw) : raw;
        const timing = await timeRuns(prepared, mode, { ms: firstMs });
        const rate = row.work / (timing.medianMs / 1e3) / 1e9;
        if (reference) {
          const { maxError, agrees } = compareOutputs(outputs, reference.outputs);
          results.push({
            library: slot.name,
            status: "ok",
            timing,
            rate,
            agreement: { against: reference.name, maxError, agrees },
          });
        } else {
          reference = { name: slot.name, outputs };
          results.push({ library: slot.name, status: "ok", timing, rate });
        }
      } finally {
        prepared.dispose();
      }
    } catch (error) {
      console.error(error);
      results.push({ library: slot.name, status: "failed", reason: `failed: ${message(error)}` });
    }
  }
  return { row, results, pollPolicy: pollPolicyInEffect() };
}

/** One library's output check on one small row. */
interface CheckResult {
  readonly row: string;
  readonly library: LibraryName;
  readonly device: string;
  readonly maxError: number | null;
  readonly status: string;
}

/** Runs the small-size rows of `groups` on every library and compares against the first. */
async function checkGroups(
  groups: readonly BenchGroup[],
  libraries: readonly BenchLibrary[],
): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const row of benchRows("check").filter((r) => groups.includes(r.group))) {
    const inputs = makeInputs(row.workload, 7);
    let expected: Float32Array[] | null = null;
    for (const lib of libraries) {
      if (lib.unsupported(row.workload)) continue;
      try {
        const prepared = await lib.prepare(row.workload, inputs);
        try {
          const raw = await prepared.run();
          const outputs = prepared.canonical ? prepared.canonical(raw) : raw;
          if (!expected) {
            expected = outputs;
            out.push({
              row: row.id,
              library: lib.name,
              device: lib.device,
              maxError: null,
              status: "reference",
            });
          } else {
            const a = compareOutputs(outputs, expected);
            out.push({
              row: row.id,
              library: lib.name,
              device: lib.device,
              maxError: a.maxError,
              status: a.agrees ? "agrees" : `DIFFERS${a.mismatch ? `: ${a.mismatch}` : ""}`,
            });
          }
        } finally {
          prepared.dispose();
        }
      } catch (error) {
        out.push({
          row: row.id,
          library: lib.name,
          device: lib.device,
          maxError: null,
          status: `failed: ${message(error)}`,
        });
      }
    }
  }
  return out;
}

function checkTable(checks: readonly CheckResult[]): string {
  const lines = [
    "| Check row | Library | Device | Max rel err | Status |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const c of checks) {
    lines.push(
      `| ${c.row} | ${c.library} | ${c.device} | ${
        c.maxError === null ? "-" : c.maxError.toExponential(1)
      } | ${c.status} |`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  if (Deno.args.includes("--help")) {
    console.log(usage);
    return;
  }
  const options = parseArgs(Deno.args);
  const dawn = await installDawnForPeers();
  setPollPolicy(options.poll);
  const sizes: "software" | "full" = options.full || (dawn !== null && !dawn.isSoftware)
    ? "full"
    : "software";
  console.error(
    `[bench] adapter: ${dawn?.adapterName ?? "none"}; sizes: ${sizes}; poll: ${options.poll}`,
  );

  const slots: Slot[] = [];
  let oracle: BenchLibrary | null = null;
  for (const name of options.libraries) {
    if (name === "droplet") {
      const set = await setUpDroplet();
      slots.push(set.slot);
      oracle = set.oracle;
    } else {
      slots.push(await setUpPeer(name, dawn));
    }
  }
  for (const s of slots) {
    console.error(`[bench] ${s.name}: ${isReady(s) ? `${s.version} on ${s.device}` : s.reason}`);
  }

  const rows = benchRows(sizes).filter((r) => options.only.includes(r.group));
  let checks: CheckResult[] = [];
  if (options.check) {
    checks = await checkGroups(options.only, [
      ...(oracle ? [oracle] : []),
      ...slots.filter(isReady),
    ]);
  }

  if (options.checkOnly) {
    console.log(`\n### Output check (small sizes)\n\n${checkTable(checks)}`);
    const bad = checks.filter((c) => c.status !== "reference" && c.status !== "agrees");
    if (bad.length > 0) {
      console.error(`[bench] ${bad.length} check(s) did not agree`);
      Deno.exit(1);
    }
    return;
  }
  const results: RowResult[] = [];
  for (const row of rows) results.push(await runRow(row, slots, sizes));

  const env: RunEnvironment = {
    date: new Date().toISOString(),
    adapter: dawn?.adapterName ?? "none",
    software: dawn?.isSoftware ?? false,
    sizes,
    deno: Deno.version.deno,
    cpus: navigator.hardwareConcurrency,
    libraries: slots.filter(isReady).map((s) => ({
      name: s.name,
      version: s.version,
      device: s.device,
    })),
    sync: syncDescription,
  };
  const written = await writeJson(options.out, env, results);
  await Deno.writeTextFile(`${options.out}/checks.json`, JSON.stringify(checks, null, 2) + "\n");

  const unit = "rates from the median run; higher is better; ratio = Droplet rate / peer rate";
  console.log(`\n## Benchmark (${env.adapter}, ${sizes} sizes, poll ${options.poll})\n`);
  console.log(`Sync: ${syncDescription}; ${unit}.\n`);
  console.log(markdownTable(results));
  console.log(`\n### Details\n\n${detailsTable(results)}`);
  if (checks.length > 0) console.log(`\n### Output check (small sizes)\n\n${checkTable(checks)}`);
  console.log(`\nWrote ${written.length + 1} JSON files to ${options.out}/`);
}

await main();
// dawn.node's pending callbacks can keep the event loop alive; the results are written.
Deno.exit(0);
