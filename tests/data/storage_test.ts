import fc from "fast-check";
import { assert, assertEquals } from "../_assert.ts";
import { ClipWriter, type ClipWriterOptions } from "../../data/clip_writer.ts";
import { type ClipFilter, matchesFilter } from "../../data/filter.ts";
import { readClips, scanClips } from "../../data/scan.ts";
import type { ClipRow } from "../../data/schema.ts";
import { syntheticRow } from "../../data/synthetic_rows.ts";

async function writeRows(
  dir: string,
  rows: readonly ClipRow[],
  options: ClipWriterOptions = {},
): Promise<string[]> {
  const writer = await ClipWriter.create(dir, options);
  for (const row of rows) await writer.write(row);
  return await writer.close();
}

for (const format of ["parquet", "arrow"] as const) {
  Deno.test(`ClipWriter and scanClips round-trip 100k rows identically through ${format}`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const rows = Array.from({ length: 100_000 }, (_, i) => syntheticRow(i, 7));
      const shards = await writeRows(dir, rows, {
        format,
        rowsPerShard: 40_000,
        rowGroupSize: 10_000,
      });
      assertEquals(shards.length, 3);
      const back = await readClips(dir);
      assertEquals(back.length, rows.length);
      for (let i = 0; i < rows.length; i++) {
        if (JSON.stringify(back[i]) !== JSON.stringify(rows[i])) {
          assertEquals(back[i], rows[i], `row ${i}`);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

const smallRows = Array.from({ length: 3000 }, (_, i) => syntheticRow(i, 11));
const smallDir = await Deno.makeTempDir();
await writeRows(smallDir, smallRows, { rowsPerShard: 1100, rowGroupSize: 400 });

const filterArb: fc.Arbitrary<ClipFilter> = fc.record({
  minQuality: fc.double({ min: 1, max: 5, noNaN: true }),
  maxDuration: fc.double({ min: 2, max: 20, noNaN: true }),
  cameraMotion: fc.subarray(["static", "pan_left", "zoom_in", "orbit", "tilt_up"]),
  captionWords: fc.subarray(["fox", "cyclist", "snowy", "night", "turns"], { maxLength: 2 }),
  minAesthetic: fc.double({ min: 3, max: 6, noNaN: true }),
}, { requiredKeys: [] });

Deno.test("scanClips with a filter returns exactly the rows matchesFilter accepts, in order", async () => {
  await fc.assert(
    fc.asyncProperty(filterArb, async (filter) => {
      const got = await readClips(smallDir, { filter, columns: ["clipId"] });
      const expected = smallRows.filter((r) => matchesFilter(r, filter)).map((r) => r.clipId);
      assertEquals(got.map((r) => r.clipId), expected);
    }),
    { numRuns: 30 },
  );
});

Deno.test("scanClips shards partition the rows, and the same seed gives the same shards", async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 7 }), fc.nat(), async (count, seed) => {
      const seen = new Map<string, number>();
      for (let index = 0; index < count; index++) {
        const ids =
          (await readClips(smallDir, { columns: ["clipId"], shard: { index, count, seed } }))
            .map((r) => r.clipId!);
        const again =
          (await readClips(smallDir, { columns: ["clipId"], shard: { index, count, seed } }))
            .map((r) => r.clipId!);
        assertEquals(again, ids);
        for (const id of ids) {
          assert(!seen.has(id), `row ${id} in shards ${seen.get(id)} and ${index}`);
          seen.set(id, index);
        }
      }
      assertEquals(seen.size, smallRows.length);
    }),
    { numRuns: 10 },
  );
});

Deno.test("scanClips sample keeps about the fraction, deterministically per seed", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.double({ min: 0.1, max: 0.9, noNaN: true }),
      fc.nat(),
      async (fraction, seed) => {
        const a = await readClips(smallDir, { columns: ["clipId"], sample: { fraction, seed } });
        const b = await readClips(smallDir, { columns: ["clipId"], sample: { fraction, seed } });
        assertEquals(a, b);
        const expected = fraction * smallRows.length;
        assert(
          Math.abs(a.length - expected) < 5 * Math.sqrt(expected),
          `${a.length} vs ${expected}`,
        );
      },
    ),
    { numRuns: 10 },
  );
});

Deno.test("scanClips selects only the requested columns", async () => {
  const [batch] = await Array.fromAsync(scanClips(smallDir, { columns: ["fps", "caption"] }));
  assertEquals(batch!.schema.fields.map((f) => f.name), ["fps", "caption"]);
  assertEquals(batch!.numRows, 400);
});

Deno.test("scanClips rejects a shard index outside its count", async () => {
  let message = "";
  try {
    await readClips(smallDir, { shard: { index: 3, count: 3 } });
  } catch (e) {
    message = (e as Error).message;
  }
  assert(message.includes("[0, 3)") && message.includes("got 3"), message);
});

globalThis.addEventListener("unload", () => Deno.removeSync(smallDir, { recursive: true }));
