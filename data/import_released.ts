/**
 * Importers of the released DropletVideo-10M metadata (CSV, or Parquet with the same columns)
 * into our sharded storage. Every record is either stored or rejected with a reason; rejected
 * records are counted by reason and written, with their raw values, to `rejects.jsonl` in the
 * output directory. Nothing is dropped silently.
 *
 * Column names are matched case-insensitively; the caption column (its name is UNVERIFIED) is
 * the first of `caption`, `captions`, `text`, `description`, `prompt` present, or the one given.
 *
 * @module
 */
import { asyncBufferFromFile, parquetScan } from "hyparquet";
import { readCsv } from "./csv.ts";
import { ClipWriter, type ClipWriterOptions } from "./clip_writer.ts";
import { defaultMagN, type RawClipRecord, type RejectReason, validateRecord } from "./schema.ts";

/** Options of the importers: storage options plus the caption column and MAG N. */
export interface ImportOptions extends ClipWriterOptions {
  /** Name of the caption column, when not one of the usual aliases. */
  captionColumn?: string;
}

/** What an import did. */
export interface ImportResult {
  /** Rows stored. */
  rows: number;
  /** Rejected records by reason. */
  rejected: Partial<Record<RejectReason, number>>;
  /** Shard files written, in order. */
  shards: string[];
  /**
   * JSON lines, one per rejected record: `{ source, line, reason, record }` (line: the CSV line
   * number, or the Parquet row index).
   */
  rejectsPath: string;
}

const captionAliases = ["caption", "captions", "text", "description", "prompt"];

function columnIndex(header: readonly string[], captionColumn: string | undefined) {
  const lower = header.map((h) => h.trim().toLowerCase());
  const find = (name: string) => lower.indexOf(name.toLowerCase());
  const caption = captionColumn !== undefined
    ? find(captionColumn)
    : captionAliases.map(find).find((i) => i >= 0) ?? -1;
  return {
    url: find("url"),
    fps: find("fps"),
    framestamp: find("framestamp"),
    quality_score: find("quality_score"),
    caption,
  };
}

/** Buffers rejected records into a JSON-lines file and counts them by reason. */
class RejectLog {
  readonly counts: Partial<Record<RejectReason, number>> = {};
  #lines: string[] = [];
  readonly #encoder = new TextEncoder();
  private constructor(readonly path: string, readonly file: Deno.FsFile) {}

  static async open(path: string): Promise<RejectLog> {
    return new RejectLog(
      path,
      await Deno.open(path, { write: true, create: true, truncate: true }),
    );
  }

  async add(source: string, line: number, reason: RejectReason, record: unknown): Promise<void> {
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
    this.#lines.push(
      JSON.stringify(
        { source, line, reason, record },
        (_k, v) => typeof v === "bigint" ? Number(v) : v,
      ),
    );
    if (this.#lines.length >= 1000) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#lines.length === 0) return;
    const bytes = this.#encoder.encode(this.#lines.join("\n") + "\n");
    this.#lines = [];
    for (let off = 0; off < bytes.length;) off += await this.file.write(bytes.subarray(off));
  }

  async close(): Promise<void> {
    await this.flush();
    this.file.close();
  }
}

async function runImport(
  outDir: string,
  options: ImportOptions,
  records: (log: RejectLog, writer: ClipWriter) => Promise<number>,
): Promise<ImportResult> {
  const writer = await ClipWriter.create(outDir, options);
  const log = await RejectLog.open(`${outDir}/rejects.jsonl`);
  try {
    const rows = await records(log, writer);
    return {
      rows,
      rejected: { ...log.counts },
      shards: await writer.close(),
      rejectsPath: log.path,
    };
  } finally {
    await log.close();
    await writer.close();
  }
}

/**
 * Imports a released metadata CSV (header row, then one clip per record) into shards under
 * `outDir`.
 *
 * @example
 * ```ts ignore
 * import { importCsv } from "./import_released.ts";
 * const { rows, rejected } = await importCsv("DropletVideo-10M.csv", "out/meta");
 * // rejected: { "unparseable framestamp": 12, "fps <= 0": 3, ... }
 * ```
 */
export function importCsv(
  csvPath: string,
  outDir: string,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const magN = options.magN ?? defaultMagN;
  return runImport(outDir, options, async (log, writer) => {
    let header: string[] | null = null;
    let index: ReturnType<typeof columnIndex> | null = null;
    let rows = 0;
    for await (const { fields, line } of readCsv(csvPath)) {
      if (!header || !index) {
        header = fields;
        index = columnIndex(header, options.captionColumn);
        if (index.url < 0 || index.fps < 0 || index.framestamp < 0) {
          throw new Error(
            `${csvPath}: header [${header.join(", ")}] lacks url, fps or framestamp`,
          );
        }
        continue;
      }
      const record: Record<string, string> = {};
      header.forEach((name, i) => record[name] = fields[i] ?? "");
      if (fields.length !== header.length) {
        await log.add(csvPath, line, "wrong field count", record);
        continue;
      }
      const raw: RawClipRecord = {
        url: fields[index.url],
        fps: fields[index.fps],
        framestamp: fields[index.framestamp],
        quality_score: index.quality_score >= 0 ? fields[index.quality_score] : undefined,
        caption: index.caption >= 0 ? fields[index.caption] : "",
      };
      const result = validateRecord(raw, magN);
      if (result.ok) {
        await writer.write(result.row);
        rows++;
      } else await log.add(csvPath, line, result.reason, record);
    }
    if (!header) throw new Error(`${csvPath} is empty: no header row`);
    return rows;
  });
}

/**
 * Imports released metadata stored as Parquet (columns as in the CSV), row group by row group.
 *
 * @example
 * ```ts ignore
 * import { importParquet } from "./import_released.ts";
 * const { rows, rejected } = await importParquet("released.parquet", "out/meta");
 * ```
 */
export function importParquet(
  parquetPath: string,
  outDir: string,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const magN = options.magN ?? defaultMagN;
  return runImport(outDir, options, async (log, writer) => {
    const file = await asyncBufferFromFile(parquetPath);
    const probe = await parquetScan({ file });
    const names = probe.metadata.schema.slice(1).map((e) => e.name);
    const index = columnIndex(names, options.captionColumn);
    if (index.url < 0 || index.fps < 0 || index.framestamp < 0) {
      throw new Error(`${parquetPath}: columns [${names.join(", ")}] lack url, fps or framestamp`);
    }
    const wanted = (["url", "fps", "framestamp", "quality_score", "caption"] as const)
      .filter((k) => index[k] >= 0)
      .map((k) => [k, names[index[k]]!] as const);
    let rows = 0;
    for (const { rowStart, rowEnd } of probe.ranges) {
      const columns: Partial<Record<keyof RawClipRecord, ArrayLike<unknown>>> = {};
      for (const [key, name] of wanted) {
        columns[key] = await probe.readColumn({ column: name, rowStart, rowEnd });
      }
      for (let i = 0; i < rowEnd - rowStart; i++) {
        const raw: RawClipRecord = {};
        for (const [key] of wanted) raw[key] = columns[key]![i];
        if (typeof raw.fps === "bigint") raw.fps = Number(raw.fps);
        const result = validateRecord(raw, magN);
        if (result.ok) {
          await writer.write(result.row);
          rows++;
        } else await log.add(parquetPath, rowStart + i, result.reason, raw);
      }
    }
    return rows;
  });
}
