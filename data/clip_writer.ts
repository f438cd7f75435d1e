/**
 * Writes clip rows as sharded Parquet (default) or Arrow IPC stream files in bounded memory:
 * rows are buffered one row group at a time (100k by default) and a new shard starts every
 * `rowsPerShard` rows (1M by default). Shards are named `{prefix}-{00000}.parquet` (or
 * `.arrows`); the MAG N behind the `m` column is recorded in the file metadata
 * (`droplet.mag_n`).
 *
 * @module
 */
import { RecordBatchStreamWriter } from "apache-arrow";
import type { SchemaElement } from "hyparquet";
import { type ColumnSource, fileWriter, ParquetWriter } from "hyparquet-writer";
import { arrowSchema, clipColumns, type ClipRow, type ColumnSpec, defaultMagN } from "./schema.ts";
import { type ColumnBlock, columnsToBatch } from "./arrow_batch.ts";

/** Storage format of shards. */
export type ShardFormat = "parquet" | "arrow";

/** Options of {@linkcode ClipWriter.create}. */
export interface ClipWriterOptions {
  /** "parquet" (default) or "arrow" (Arrow IPC stream, `.arrows`). */
  format?: ShardFormat;
  /** Rows per shard file; 1,000,000 by default. */
  rowsPerShard?: number;
  /** Rows per Parquet row group / Arrow record batch; 100,000 by default. */
  rowGroupSize?: number;
  /** File name prefix; "clips" by default. */
  prefix?: string;
  /** The N used for the `m` column, stored in the metadata; 85 by default. */
  magN?: number;
}

/** Parquet schema elements of the clip columns. */
function parquetSchema(): SchemaElement[] {
  return [
    { name: "root", num_children: clipColumns.length },
    ...clipColumns.map((c): SchemaElement => ({
      name: c.column,
      repetition_type: c.nullable ? "OPTIONAL" : "REQUIRED",
      ...(c.type === "string"
        ? { type: "BYTE_ARRAY", converted_type: "UTF8" }
        : { type: c.type === "int32" ? "INT32" : "DOUBLE" }),
    })),
  ];
}

function emptyColumn(spec: ColumnSpec, size: number): ColumnBlock[string] {
  if (spec.nullable || spec.type === "string") return new Array(size);
  return spec.type === "int32" ? new Int32Array(size) : new Float64Array(size);
}

/**
 * Streams clip rows into shard files.
 *
 * @example
 * ```ts ignore
 * import { ClipWriter } from "./clip_writer.ts";
 * const writer = await ClipWriter.create("out/meta", { rowsPerShard: 1_000_000 });
 * for (const row of rows) await writer.write(row);
 * const shards = await writer.close(); // ["out/meta/clips-00000.parquet", ...]
 * ```
 */
export class ClipWriter {
  readonly #outDir: string;
  readonly #format: ShardFormat;
  readonly #rowsPerShard: number;
  readonly #groupSize: number;
  readonly #prefix: string;
  readonly #magN: number;
  #block: ColumnBlock;
  #filled = 0;
  #rowsInShard = 0;
  #shards: string[] = [];
  #parquet: ParquetWriter | null = null;
  #arrow: { writer: RecordBatchStreamWriter; pump: Promise<void> } | null = null;
  #closed = false;

  private constructor(outDir: string, options: ClipWriterOptions) {
    this.#outDir = outDir;
    this.#format = options.format ?? "parquet";
    this.#rowsPerShard = options.rowsPerShard ?? 1_000_000;
    this.#groupSize = Math.min(options.rowGroupSize ?? 100_000, this.#rowsPerShard);
    this.#prefix = options.prefix ?? "clips";
    this.#magN = options.magN ?? defaultMagN;
    for (
      const [name, v] of [["rowsPerShard", this.#rowsPerShard], ["rowGroupSize", this.#groupSize]]
    ) {
      if (!Number.isInteger(v) || (v as number) < 1) {
        throw new RangeError(`${name} must be an integer >= 1, got ${v}`);
      }
    }
    this.#block = this.#newBlock();
  }

  /** Creates `outDir` (recursively) and a writer into it. */
  static async create(outDir: string, options: ClipWriterOptions = {}): Promise<ClipWriter> {
    await Deno.mkdir(outDir, { recursive: true });
    return new ClipWriter(outDir, options);
  }

  #newBlock(): ColumnBlock {
    const block: ColumnBlock = {};
    for (const spec of clipColumns) block[spec.column] = emptyColumn(spec, this.#groupSize);
    return block;
  }

  /** Buffers one row; flushes a row group (and rolls the shard) when full. */
  async write(row: ClipRow): Promise<void> {
    if (this.#closed) throw new Error("ClipWriter is closed");
    const i = this.#filled++;
    for (const spec of clipColumns) {
      (this.#block[spec.column] as unknown[])[i] = row[spec.key];
    }
    if (
      this.#filled === this.#groupSize || this.#rowsInShard + this.#filled === this.#rowsPerShard
    ) {
      await this.#flush();
    }
  }

  async #flush(): Promise<void> {
    const n = this.#filled;
    if (n === 0) return;
    const block: ColumnBlock = {};
    for (const [name, col] of Object.entries(this.#block)) block[name] = col.slice(0, n);
    if (this.#rowsInShard === 0) this.#open();
    if (this.#parquet) {
      const columnData: ColumnSource[] = clipColumns.map((spec) => ({
        name: spec.column,
        data: block[spec.column]!,
        nullable: spec.nullable,
      }));
      await this.#parquet.write({ columnData, rowGroupSize: n });
    } else if (this.#arrow) {
      const meta = new Map([["droplet.mag_n", String(this.#magN)]]);
      this.#arrow.writer.write(columnsToBatch(block, n, arrowSchema(undefined, meta)));
    }
    this.#rowsInShard += n;
    this.#filled = 0;
    this.#block = this.#newBlock();
    if (this.#rowsInShard >= this.#rowsPerShard) await this.#finishShard();
  }

  #open(): void {
    const ext = this.#format === "parquet" ? "parquet" : "arrows";
    const index = String(this.#shards.length).padStart(5, "0");
    const path = `${this.#outDir}/${this.#prefix}-${index}.${ext}`;
    this.#shards.push(path);
    const kv = [{ key: "droplet.mag_n", value: String(this.#magN) }];
    if (this.#format === "parquet") {
      this.#parquet = new ParquetWriter({
        writer: fileWriter(path),
        schema: parquetSchema(),
        kvMetadata: kv,
      });
    } else {
      const writer = new RecordBatchStreamWriter();
      const file = Deno.openSync(path, { write: true, create: true, truncate: true });
      const pump = (async () => {
        try {
          for await (const chunk of writer) await file.write(chunk);
        } finally {
          file.close();
        }
      })();
      this.#arrow = { writer, pump };
    }
  }

  async #finishShard(): Promise<void> {
    if (this.#parquet) await this.#parquet.finish();
    if (this.#arrow) {
      this.#arrow.writer.finish();
      await this.#arrow.pump;
    }
    this.#parquet = null;
    this.#arrow = null;
    this.#rowsInShard = 0;
  }

  /** Flushes what is buffered, finishes the open shard, returns the shard paths in order. */
  async close(): Promise<string[]> {
    if (this.#closed) return [...this.#shards];
    await this.#flush();
    if (this.#rowsInShard > 0) await this.#finishShard();
    this.#closed = true;
    return [...this.#shards];
  }
}
