/**
 * Streaming readers of clip metadata shards (Parquet `.parquet` or Arrow IPC stream `.arrows`):
 * yield Apache Arrow record batches, one per stored row group, holding only the selected
 * columns of the rows that pass a filter, a deterministic sample and a worker's shard. Memory is
 * bounded by one row group: filter columns are decoded first and the other columns only for row
 * groups with matches (Parquet row groups whose statistics exclude a quality or duration bound
 * are not read at all).
 *
 * Row identity for sampling and sharding is the global row index: the row's position in the
 * concatenation of the sources in the order given (`listShards` sorts them). A row is in the
 * sample when `uniform(foldKey(seed, "sample"), index) < fraction` and in shard `i` of `count`
 * when `hash32(foldKey(seed, "shard"), index) % count === i`: shards partition the rows, and the
 * same seed gives the same sample and shards.
 *
 * @module
 */
import { type RecordBatch, RecordBatchReader, type Vector } from "apache-arrow";
import { asyncBufferFromFile, type ParquetQueryFilter, parquetScan } from "hyparquet";
import {
  batchToRows,
  type ColumnBlock,
  columnsToBatch,
  type ColumnValues,
  takeMasked,
} from "./arrow_batch.ts";
import { type ClipFilter, filterColumns, filterMask } from "./filter.ts";
import { foldKey, hash32, uniform } from "./hash.ts";
import { arrowSchema, clipColumns, type ClipRow, columnOf } from "./schema.ts";

/** Options of {@linkcode scanClips}. */
export interface ScanOptions {
  /** Columns to return (TypeScript keys); all by default. */
  columns?: readonly (keyof ClipRow)[];
  /** Rows must pass this filter. */
  filter?: ClipFilter;
  /** Keep a deterministic fraction of rows. */
  sample?: { fraction: number; seed: number };
  /** Keep only worker `index` of `count` (a partition of the rows). */
  shard?: { index: number; count: number; seed?: number };
}

/**
 * The shard files in a directory (`.parquet` and `.arrows`), sorted by name.
 *
 * @example
 * ```ts ignore
 * import { listShards } from "./scan.ts";
 * const shards = await listShards("out/meta"); // ["out/meta/clips-00000.parquet", ...]
 * ```
 */
export async function listShards(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && /\.(parquet|arrows)$/.test(entry.name)) out.push(`${dir}/${entry.name}`);
  }
  return out.sort();
}

async function resolveSources(source: string | readonly string[]): Promise<string[]> {
  if (typeof source !== "string") return [...source];
  const info = await Deno.stat(source);
  return info.isDirectory ? await listShards(source) : [source];
}

function normalize(values: unknown): ColumnValues {
  if (values instanceof Float64Array || values instanceof Int32Array) return values;
  if (Array.isArray(values)) return values as ColumnValues;
  if (values instanceof BigInt64Array || values instanceof BigUint64Array) {
    return Array.from(values, (v) => Number(v));
  }
  if (
    values instanceof Uint8Array || values instanceof Int8Array || values instanceof Uint16Array ||
    values instanceof Int16Array || values instanceof Uint32Array || values instanceof Float32Array
  ) return Array.from(values);
  throw new TypeError(`Unexpected column data of type ${Object.prototype.toString.call(values)}`);
}

function vectorValues(vector: Vector): ColumnValues {
  if (vector.nullCount === 0) {
    const a: unknown = vector.toArray();
    if (a instanceof Float64Array || a instanceof Int32Array || Array.isArray(a)) {
      return a as ColumnValues;
    }
  }
  return [...vector] as ColumnValues;
}

function pruningFilter(filter: ClipFilter | undefined): ParquetQueryFilter | undefined {
  if (!filter) return undefined;
  const parts: ParquetQueryFilter[] = [];
  const range = (column: string, min?: number, max?: number) => {
    if (min !== undefined) parts.push({ [column]: { $gte: min } });
    if (max !== undefined) parts.push({ [column]: { $lte: max } });
  };
  range("quality_score", filter.minQuality, filter.maxQuality);
  range("duration", filter.minDuration, filter.maxDuration);
  return parts.length === 0 ? undefined : { $and: parts };
}

/** Applies sample and shard selection to a mask, for rows starting at global index `base`. */
function selectRows(mask: Uint8Array, base: number, options: ScanOptions): void {
  const { sample, shard } = options;
  if (sample) {
    const key = foldKey(sample.seed, "sample");
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] && uniform(key, base + i) >= sample.fraction) mask[i] = 0;
    }
  }
  if (shard) {
    const key = foldKey(shard.seed ?? 0, "shard");
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] && hash32(key, base + i) % shard.count !== shard.index) mask[i] = 0;
    }
  }
}

function checkOptions(options: ScanOptions): void {
  const { sample, shard } = options;
  if (sample && !(sample.fraction >= 0 && sample.fraction <= 1)) {
    throw new RangeError(`sample.fraction must be in [0, 1], got ${sample.fraction}`);
  }
  if (shard) {
    if (!Number.isInteger(shard.count) || shard.count < 1) {
      throw new RangeError(`shard.count must be an integer >= 1, got ${shard.count}`);
    }
    if (!Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) {
      throw new RangeError(`shard.index must be in [0, ${shard.count}), got ${shard.index}`);
    }
  }
}

/**
 * Streams record batches of clip metadata from a shard file, a list of them, or a directory.
 *
 * @example
 * ```ts ignore
 * import { scanClips } from "./scan.ts";
 * for await (const batch of scanClips("out/meta", {
 *   columns: ["clipId", "duration"],
 *   filter: { minQuality: 4, cameraMotion: ["pan_left"] },
 *   shard: { index: 0, count: 8, seed: 1 },
 * })) console.log(batch.numRows);
 * ```
 */
export async function* scanClips(
  source: string | readonly string[],
  options: ScanOptions = {},
): AsyncGenerator<RecordBatch> {
  checkOptions(options);
  const keys = options.columns ?? clipColumns.map((c) => c.key);
  if (keys.length === 0) throw new RangeError("scanClips needs at least one column");
  const selected = keys.map((k) => columnOf(k).column);
  const schema = arrowSchema(keys);
  const needed = options.filter ? filterColumns(options.filter) : [];
  let base = 0;
  for (const path of await resolveSources(source)) {
    if (path.endsWith(".arrows")) {
      const file = await Deno.open(path);
      const reader = await RecordBatchReader.from(file.readable);
      for await (const batch of reader) {
        const n = batch.numRows;
        const block: ColumnBlock = {};
        for (const name of new Set([...needed, ...selected])) {
          const child = batch.getChild(name);
          if (!child) throw new RangeError(`${path} has no column "${name}"`);
          block[name] = vectorValues(child);
        }
        const mask = options.filter
          ? filterMask(options.filter, block, n)
          : new Uint8Array(n).fill(1);
        selectRows(mask, base, options);
        base += n;
        const kept = takeMasked(block, mask);
        const count = kept[selected[0]!]?.length ?? 0;
        if (count > 0) yield columnsToBatch(kept, count, schema);
      }
      continue;
    }
    const file = await asyncBufferFromFile(path);
    const prune = pruningFilter(options.filter);
    const scan = await parquetScan({
      file,
      columns: [...new Set([...needed, ...selected])],
      ...(prune ? { pruningFilter: prune } : {}),
    });
    const fileRows = Number(scan.metadata.num_rows);
    for (const { rowStart, rowEnd } of scan.ranges) {
      const n = rowEnd - rowStart;
      const read = async (column: string) =>
        normalize(await scan.readColumn({ column, rowStart, rowEnd }));
      const block: ColumnBlock = {};
      for (const name of needed) block[name] = await read(name);
      const mask = options.filter
        ? filterMask(options.filter, block, n)
        : new Uint8Array(n).fill(1);
      selectRows(mask, base + rowStart, options);
      if (!mask.includes(1)) continue;
      for (const name of selected) block[name] ??= await read(name);
      const kept = takeMasked(block, mask);
      const count = kept[selected[0]!]?.length ?? 0;
      yield columnsToBatch(kept, count, schema);
    }
    base += fileRows;
  }
}

/**
 * Collects {@linkcode scanClips} into rows: for small selections (a loader's index, tests).
 *
 * @example
 * ```ts ignore
 * import { readClips } from "./scan.ts";
 * const rows = await readClips("out/meta", { filter: { cameraMotion: ["static"] } });
 * ```
 */
export async function readClips(
  source: string | readonly string[],
  options: ScanOptions = {},
): Promise<Partial<ClipRow>[]> {
  const rows: Partial<ClipRow>[] = [];
  for await (const batch of scanClips(source, options)) rows.push(...batchToRows(batch));
  return rows;
}
