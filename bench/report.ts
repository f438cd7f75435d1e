/**
 * Results of a benchmark run: their JSON form (written to `out/bench/`) and the Markdown tables
 * printed at the end.
 *
 * @module
 */

import type { Timing } from "./measure.ts";
import type { LibraryName } from "./libraries/library.ts";
import type { BenchRow } from "./workloads.ts";

/** One library's outcome on one row. */
export type LibraryResult =
  | {
    readonly library: LibraryName;
    readonly status: "ok";
    readonly timing: Timing;
    /** Work per second in the row's unit (from the median time). */
    readonly rate: number;
    /** Agreement of this library's outputs with the first library that ran the row. */
    readonly agreement?: {
      readonly against: LibraryName;
      readonly maxError: number;
      readonly agrees: boolean;
    };
  }
  | {
    readonly library: LibraryName;
    readonly status: "unavailable" | "unsupported" | "failed";
    readonly reason: string;
  };

/** Everything measured for one row. */
export interface RowResult {
  readonly row: BenchRow;
  readonly results: readonly LibraryResult[];
  /** The dawn.node poll policy in effect while the row ran. */
  readonly pollPolicy: string;
}

/** The machine and software a run measured. */
export interface RunEnvironment {
  readonly date: string;
  readonly adapter: string;
  readonly software: boolean;
  readonly sizes: "software" | "full";
  readonly deno: string;
  readonly cpus: number;
  readonly libraries: readonly { name: LibraryName; version: string; device: string }[];
  /** The sync used for every measurement, in words. */
  readonly sync: string;
}

const libraryTitles: Record<LibraryName, string> = {
  droplet: "Droplet",
  "jax-js": "jax-js",
  tfjs: "TF.js",
};

function fmtRate(rate: number): string {
  return rate >= 100 ? rate.toFixed(0) : rate >= 10 ? rate.toFixed(1) : rate.toFixed(2);
}

function fmtMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

function cell(r: LibraryResult | undefined): string {
  if (!r) return "not run";
  if (r.status !== "ok") return r.reason;
  const wrong = r.agreement && !r.agreement.agrees ? " **(outputs differ)**" : "";
  return `${fmtRate(r.rate)} (${fmtMs(r.timing.medianMs)} ms)${wrong}`;
}

/**
 * The ratio of two libraries' rates (`a / b`, higher is better for `a`), or a dash.
 *
 * @example
 * ```ts ignore
 * ratio(dropletResult, jaxResult); // "2.31x"
 * ```
 */
export function ratio(a: LibraryResult | undefined, b: LibraryResult | undefined): string {
  if (a?.status !== "ok" || b?.status !== "ok" || b.rate === 0) return "-";
  return `${(a.rate / b.rate).toFixed(2)}x`;
}

/**
 * The main table: one line per row, each library's rate (median time), and Droplet's ratio to
 * each peer.
 *
 * @example
 * ```ts ignore
 * console.log(markdownTable(results));
 * ```
 */
export function markdownTable(rows: readonly RowResult[]): string {
  const lines = [
    "| Row | Unit | Droplet | jax-js | TF.js | Droplet/jax-js | Droplet/TF.js |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const { row, results } of rows) {
    const by = (name: LibraryName) => results.find((r) => r.library === name);
    const [d, j, t] = [by("droplet"), by("jax-js"), by("tfjs")];
    lines.push(
      `| ${row.label} | ${row.unit} | ${cell(d)} | ${cell(j)} | ${cell(t)} | ${ratio(d, j)} | ${
        ratio(d, t)
      } |`,
    );
  }
  return lines.join("\n");
}

/**
 * The details table: per row and library, the first run (compilation), spread of the samples,
 * CPU use and dawn.node polls, and the output check.
 *
 * @example
 * ```ts ignore
 * console.log(detailsTable(results));
 * ```
 */
export function detailsTable(rows: readonly RowResult[]): string {
  const lines = [
    "| Row | Library | First run ms | Median / min / max ms | Samples | CPU/wall | Polls/run | Load | Check |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const { row, results } of rows) {
    for (const r of results) {
      if (r.status !== "ok") continue;
      const t = r.timing;
      const check = r.agreement
        ? `${r.agreement.agrees ? "agrees" : "DIFFERS"} with ${
          libraryTitles[r.agreement.against]
        } (max rel err ${r.agreement.maxError.toExponential(1)})`
        : "reference";
      lines.push(
        `| ${row.id} | ${libraryTitles[r.library]} | ${fmtMs(t.firstMs)} | ${fmtMs(t.medianMs)} / ${
          fmtMs(t.minMs)
        } / ${fmtMs(t.maxMs)} | ${t.samples} | ${t.cpuPerWall.toFixed(2)} | ${
          t.pollsPerRun.toFixed(0)
        } | ${t.loadAverage.toFixed(1)} | ${check} |`,
      );
    }
  }
  return lines.join("\n");
}

/**
 * Writes one JSON file per row (`out/bench/<row id>.json`, each with the environment) and
 * `out/bench/summary.json` with all rows of this run; returns the paths written.
 *
 * @example
 * ```ts ignore
 * await writeJson("out/bench", env, results);
 * ```
 */
export async function writeJson(
  dir: string,
  env: RunEnvironment,
  rows: readonly RowResult[],
): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const row of rows) {
    const path = `${dir}/${row.row.id}.json`;
    await Deno.writeTextFile(path, JSON.stringify({ environment: env, ...row }, null, 2) + "\n");
    written.push(path);
  }
  const summary = `${dir}/summary.json`;
  await Deno.writeTextFile(summary, JSON.stringify({ environment: env, rows }, null, 2) + "\n");
  written.push(summary);
  return written;
}
