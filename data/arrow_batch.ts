/**
 * Column blocks (plain column arrays keyed by stored column name, as Parquet decoders return
 * them) and their conversion to and from Apache Arrow record batches and clip rows.
 *
 * @module
 */
import {
  type Data,
  Float64,
  Int32,
  makeData,
  RecordBatch,
  type Schema,
  Struct,
  Utf8,
  vectorFromArray,
} from "apache-arrow";
import { clipColumns, type ClipRow, type ColumnSpec } from "./schema.ts";

/** One column's values: a typed array for required numbers, else a plain array (nulls allowed). */
export type ColumnValues =
  | Float64Array
  | Int32Array
  | (string | number | bigint | null | undefined)[];

/** Columns by stored name, all of one length. */
export type ColumnBlock = Record<string, ColumnValues>;

function specByColumn(name: string): ColumnSpec {
  const spec = clipColumns.find((c) => c.column === name);
  if (!spec) throw new RangeError(`Unknown stored clip column "${name}"`);
  return spec;
}

function columnData(spec: ColumnSpec, values: ColumnValues, n: number): Data {
  if (spec.type === "float64" && !spec.nullable && values instanceof Float64Array) {
    return makeData({ type: new Float64(), length: n, data: values.subarray(0, n) });
  }
  if (spec.type === "int32" && !spec.nullable && values instanceof Int32Array) {
    return makeData({ type: new Int32(), length: n, data: values.subarray(0, n) });
  }
  const list: (string | number | null)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    list[i] = v === undefined || v === null ? null : typeof v === "bigint" ? Number(v) : v;
  }
  const type = spec.type === "string"
    ? new Utf8()
    : spec.type === "int32"
    ? new Int32()
    : new Float64();
  return vectorFromArray(list, type).data[0]!;
}

/**
 * Builds an Arrow record batch of `n` rows from a column block, taking the columns `schema`
 * names (stored names).
 *
 * @example
 * ```ts
 * import { columnsToBatch } from "./arrow_batch.ts";
 * import { arrowSchema } from "./schema.ts";
 * const batch = columnsToBatch({ fps: new Float64Array([24, 30]) }, 2, arrowSchema(["fps"]));
 * batch.numRows; // 2
 * ```
 */
export function columnsToBatch(block: ColumnBlock, n: number, schema: Schema): RecordBatch {
  const children = schema.fields.map((field) => {
    const values = block[field.name];
    if (!values) throw new RangeError(`Column block lacks column "${field.name}"`);
    if (values.length < n) {
      throw new RangeError(`Column "${field.name}" has ${values.length} values, need ${n}`);
    }
    return columnData(specByColumn(field.name), values, n);
  });
  return new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children }),
  );
}

/**
 * The rows of `block` where `mask` is non-zero, as a new block (one pass per column).
 *
 * @example
 * ```ts
 * import { takeMasked } from "./arrow_batch.ts";
 * takeMasked({ fps: new Float64Array([24, 30, 60]) }, new Uint8Array([1, 0, 1])); // fps [24, 60]
 * ```
 */
export function takeMasked(block: ColumnBlock, mask: Uint8Array): ColumnBlock {
  let count = 0;
  for (let i = 0; i < mask.length; i++) count += mask[i]! ? 1 : 0;
  const out: ColumnBlock = {};
  for (const [name, values] of Object.entries(block)) {
    const taken: ColumnValues = values instanceof Float64Array
      ? new Float64Array(count)
      : values instanceof Int32Array
      ? new Int32Array(count)
      : new Array(count);
    let k = 0;
    for (let i = 0; i < mask.length; i++) {
      if (mask[i]) (taken as { [i: number]: unknown })[k++] = values[i];
    }
    out[name] = taken;
  }
  return out;
}

/**
 * Clip rows (or the columns a batch has of them) from an Arrow record batch with stored names.
 *
 * @example
 * ```ts
 * import { batchToRows, columnsToBatch } from "./arrow_batch.ts";
 * import { arrowSchema } from "./schema.ts";
 * const batch = columnsToBatch({ fps: new Float64Array([24]) }, 1, arrowSchema(["fps"]));
 * batchToRows(batch); // [{ fps: 24 }]
 * ```
 */
export function batchToRows(batch: RecordBatch): Partial<ClipRow>[] {
  const columns = batch.schema.fields.map((f) => {
    const spec = specByColumn(f.name);
    return { key: spec.key, vector: batch.getChild(f.name)! };
  });
  const rows: Partial<ClipRow>[] = new Array(batch.numRows);
  for (let i = 0; i < batch.numRows; i++) {
    const row: Record<string, unknown> = {};
    for (const { key, vector } of columns) row[key] = vector.get(i) ?? null;
    rows[i] = row as Partial<ClipRow>;
  }
  return rows;
}
