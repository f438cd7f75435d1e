/**
 * Benchmark: write a 10M-row DropletVideo-10M-like metadata set (10 Parquet shards of 1M rows,
 * row groups of 100k) to `out/bench_data_scan/`, then scan it with filters in bounded memory.
 * Prints rows/s and peak RSS (sampled after every row group) and writes
 * `out/bench_data_scan.json`. Not a test; run it by hand:
 *
 * ```sh
 * npx -y deno@2.9.6 run -A bench/data_scan.ts [--rows 10000000] [--regenerate]
 * ```
 *
 * The data set is reused when present with the right row count.
 *
 * @module
 */
import { ClipWriter } from "../data/clip_writer.ts";
import type { ClipFilter } from "../data/filter.ts";
import { listShards, scanClips } from "../data/scan.ts";
import type { ClipRow } from "../data/schema.ts";
import { syntheticRow } from "../data/synthetic_rows.ts";
import { asyncBufferFromFile, parquetMetadataAsync } from "hyparquet";

const args = Deno.args;
const flag = (name: string) => args.indexOf(name);
const rows = flag("--rows") >= 0 ? Number(args[flag("--rows") + 1]) : 10_000_000;
const dir = "out/bench_data_scan";
let peakRss = Deno.memoryUsage().rss;
const sampleRss = () => {
  peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
};
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

async function existingRows(): Promise<number> {
  try {
    let total = 0;
    for (const path of await listShards(dir)) {
      total += Number((await parquetMetadataAsync(await asyncBufferFromFile(path))).num_rows);
    }
    return total;
  } catch {
    return -1;
  }
}

const results: Record<string, unknown> = { rows, device: `${Deno.build.os} ${Deno.build.arch}` };
if (flag("--regenerate") >= 0 || (await existingRows()) !== rows) {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const start = performance.now();
  const writer = await ClipWriter.create(dir, { rowsPerShard: 1_000_000, rowGroupSize: 100_000 });
  for (let i = 0; i < rows; i++) {
    await writer.write(syntheticRow(i, 2025));
    if (i % 100_000 === 99_999) sampleRss();
  }
  const shards = await writer.close();
  const seconds = (performance.now() - start) / 1000;
  let bytes = 0;
  for (const s of shards) bytes += (await Deno.stat(s)).size;
  results.write = {
    seconds,
    rowsPerSecond: rows / seconds,
    shards: shards.length,
    megabytes: mb(bytes),
    peakRssMb: mb(peakRss),
  };
  console.log(
    `write: ${rows} rows in ${seconds.toFixed(1)} s (${Math.round(rows / seconds)} rows/s), ` +
      `${shards.length} shards, ${mb(bytes)} MiB, peak RSS ${mb(peakRss)} MiB`,
  );
}

async function scan(name: string, filter: ClipFilter, columns: (keyof ClipRow)[]) {
  peakRss = Deno.memoryUsage().rss;
  const start = performance.now();
  let matched = 0;
  for await (const batch of scanClips(dir, { filter, columns })) {
    matched += batch.numRows;
    sampleRss();
  }
  const seconds = (performance.now() - start) / 1000;
  results[name] = {
    filter,
    columns,
    seconds,
    matched,
    rowsPerSecond: rows / seconds,
    peakRssMb: mb(peakRss),
  };
  console.log(
    `${name}: scanned ${rows} rows in ${seconds.toFixed(1)} s (${
      Math.round(rows / seconds)
    } rows/s), ` +
      `${matched} matched, peak RSS ${mb(peakRss)} MiB`,
  );
}

await scan("scan_numeric", {
  minQuality: 4,
  maxDuration: 10,
  cameraMotion: ["pan_left", "pan_right"],
}, [
  "clipId",
  "duration",
  "qualityScore",
]);
await scan("scan_caption", { minQuality: 3, captionWords: ["fox", "snowy"] }, [
  "clipId",
  "caption",
]);
await Deno.writeTextFile("out/bench_data_scan.json", JSON.stringify(results, null, 2) + "\n");
