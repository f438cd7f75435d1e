/**
 * A streaming RFC 4180 CSV reader: quoted fields may hold commas, doubled quotes and newlines;
 * CRLF and LF line ends; a UTF-8 byte-order mark is skipped. Memory is bounded by one record.
 *
 * @module
 */

/** One parsed record. */
export interface CsvRecord {
  /** Field values, unquoted. */
  fields: string[];
  /** 1-based line number where the record starts. */
  line: number;
}

/**
 * Parses CSV text arriving in chunks; yields each complete record. An unterminated quoted field
 * at the end of input throws, naming its line.
 *
 * @example
 * ```ts
 * import { parseCsvChunks } from "./csv.ts";
 * const records = [];
 * for await (const r of parseCsvChunks(['a,"b,', 'c"\n1,2\n'])) records.push(r.fields);
 * // [["a", "b,c"], ["1", "2"]]
 * ```
 */
export async function* parseCsvChunks(
  chunks: AsyncIterable<string> | Iterable<string>,
): AsyncGenerator<CsvRecord> {
  let fields: string[] = [];
  let field = "";
  let inQuotes = false;
  let quoteSeen = false; // a quote just closed (or is doubled)
  let line = 1;
  let recordLine = 1;
  let first = true;
  let pendingCr = false;
  let recordHasContent = false;
  for await (let chunk of chunks) {
    if (first && chunk.length > 0) {
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
      first = false;
    }
    let start = 0; // start of a plain run within `chunk`
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (pendingCr) {
        pendingCr = false;
        if (c === 10) {
          start = i + 1;
          continue;
        }
      }
      if (inQuotes) {
        if (c === 34) {
          field += chunk.slice(start, i);
          start = i + 1;
          inQuotes = false;
          quoteSeen = true;
        } else if (c === 10) line++;
        continue;
      }
      if (c === 34) {
        field += chunk.slice(start, i);
        if (quoteSeen) field += '"'; // doubled quote inside a quoted field
        start = i + 1;
        inQuotes = true;
        quoteSeen = false;
        recordHasContent = true;
        continue;
      }
      quoteSeen = false;
      if (c === 44) {
        fields.push(field + chunk.slice(start, i));
        field = "";
        start = i + 1;
        recordHasContent = true;
      } else if (c === 10 || c === 13) {
        field += chunk.slice(start, i);
        start = i + 1;
        if (recordHasContent || field !== "") {
          fields.push(field);
          yield { fields, line: recordLine };
        }
        fields = [];
        field = "";
        recordHasContent = false;
        line++;
        recordLine = line;
        if (c === 13) pendingCr = true;
      } else recordHasContent = true;
    }
    field += chunk.slice(start);
  }
  if (inQuotes) throw new SyntaxError(`Unterminated quoted field starting on line ${recordLine}`);
  if (recordHasContent || field !== "") {
    fields.push(field);
    yield { fields, line: recordLine };
  }
}

/**
 * Streams the records of a CSV file (UTF-8).
 *
 * @example
 * ```ts ignore
 * import { readCsv } from "./csv.ts";
 * for await (const { fields, line } of readCsv("meta.csv")) console.log(line, fields);
 * ```
 */
export async function* readCsv(path: string): AsyncGenerator<CsvRecord> {
  const file = await Deno.open(path);
  yield* parseCsvChunks(file.readable.pipeThrough(new TextDecoderStream()));
}

/**
 * Quotes a value for CSV output when it holds a comma, quote or line break.
 *
 * @example
 * ```ts
 * import { csvField } from "./csv.ts";
 * csvField('say "hi", ok'); // '"say ""hi"", ok"'
 * ```
 */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
