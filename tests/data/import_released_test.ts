import { assert, assertEquals } from "../_assert.ts";
import { parquetWriteBuffer } from "hyparquet-writer";
import { parseCsvChunks } from "../../data/csv.ts";
import { importCsv, importParquet } from "../../data/import_released.ts";
import { readClips } from "../../data/scan.ts";
import { parseFramestamp } from "../../data/schema.ts";

const csv = [
  "url,fps,framestamp,quality_score,caption",
  'https://www.youtube.com/watch?v=abcdefghijk,30,"(0, 90)",4.5,"A cat, then a dog."',
  'https://youtu.be/zyxwvutsrqp,25,"(10, 60)",3.9,"Line one\nline two with ""quotes"""',
  ',30,"(0, 90)",4.0,missing url',
  'https://youtu.be/aaaaaaaaaaa,0,"(0, 90)",4.0,zero fps',
  'https://youtu.be/bbbbbbbbbbb,-3,"(0, 90)",4.0,negative fps',
  'https://youtu.be/ccccccccccc,30,"(0 90)",4.0,bad framestamp',
  'https://youtu.be/ddddddddddd,30,"(90, 90)",4.0,empty range',
  'https://youtu.be/eeeeeeeeeee,30,"(0, 90)"',
  'https://youtu.be/fffffffffff,abc,"(0, 90)",4.0,bad fps',
].join("\r\n") + "\r\n";

Deno.test("importCsv stores valid rows and counts and logs every rejected row by reason", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/meta.csv`, csv);
    const result = await importCsv(`${dir}/meta.csv`, `${dir}/out`, { magN: 49 });
    assertEquals(result.rows, 2);
    assertEquals(result.rejected, {
      "missing url": 1,
      "fps <= 0": 2,
      "unparseable framestamp": 1,
      "end <= start": 1,
      "wrong field count": 1,
      "unparseable fps": 1,
    });
    const rejects = (await Deno.readTextFile(result.rejectsPath)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assertEquals(rejects.length, 7);
    assertEquals(rejects.map((r) => r.line), [5, 6, 7, 8, 9, 10, 11]); // record 3 spans two lines
    assertEquals(rejects[0].record.caption, "missing url");
    const rows = await readClips(result.shards);
    assertEquals(rows.map((r) => r.clipId), [
      "abcdefghijk--000000_000090",
      "zyxwvutsrqp--000010_000060",
    ]);
    assertEquals(rows[0]!.caption, "A cat, then a dog.");
    assertEquals(rows[1]!.caption, 'Line one\nline two with "quotes"');
    assertEquals(rows[0]!.duration, 3);
    assertEquals(rows[1]!.m, (49 * 25) / 50);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("importParquet validates released Parquet rows like the CSV importer", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const buffer = parquetWriteBuffer({
      columnData: [
        {
          name: "url",
          data: ["https://youtu.be/abcdefghijk", "", "https://youtu.be/zzzzzzzzzzz"],
          type: "STRING",
        },
        { name: "fps", data: new Float64Array([30, 30, 24]), type: "DOUBLE" },
        { name: "framestamp", data: ["(0, 30)", "(0, 30)", "(5, 2)"], type: "STRING" },
        { name: "quality_score", data: new Float64Array([4, 4, 4]), type: "DOUBLE" },
        { name: "text", data: ["ok", "no url", "reversed"], type: "STRING" },
      ],
    });
    await Deno.writeFile(`${dir}/released.parquet`, new Uint8Array(buffer));
    const result = await importParquet(`${dir}/released.parquet`, `${dir}/out`);
    assertEquals(result.rows, 1);
    assertEquals(result.rejected, { "missing url": 1, "end <= start": 1 });
    const rows = await readClips(`${dir}/out`);
    assertEquals(rows[0]!.caption, "ok");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseCsvChunks splits quoted fields across chunk boundaries", async () => {
  const text = 'a,"b ""q"", c"\r\n"x\ny",2\n';
  for (let cut = 0; cut <= text.length; cut++) {
    const records = await Array.fromAsync(parseCsvChunks([text.slice(0, cut), text.slice(cut)]));
    assertEquals(records.map((r) => r.fields), [["a", 'b "q", c'], ["x\ny", "2"]], `cut ${cut}`);
    assertEquals(records.map((r) => r.line), [1, 2]);
  }
});

Deno.test("parseFramestamp accepts the released forms and refuses others", () => {
  assertEquals(parseFramestamp("(12, 345)"), { start: 12, end: 345 });
  assertEquals(parseFramestamp("[1,2]"), { start: 1, end: 2 });
  for (const bad of ["", "(1)", "(1.5, 3)", "(a, b)", "1 2"]) {
    assert(parseFramestamp(bad) === null, bad);
  }
});
