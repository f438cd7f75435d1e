import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import * as device from "../../autograd/device.ts";
import { ClipLoader, type LoaderOptions } from "../../data/loader.ts";
import { sample } from "../../data/mag.ts";
import { generateCorpus } from "../../data/synthetic.ts";

const dir = await Deno.makeTempDir();
await generateCorpus(dir, { count: 5, seed: 3, width: 32, height: 32, frames: 12 });
const base: LoaderOptions = { batchSize: 2, n: 4, size: { width: 24, height: 16 }, seed: 7 };

async function take<B>(loader: { next(): Promise<B>; close(): Promise<void> }, count: number) {
  const out = [];
  for (let i = 0; i < count; i++) out.push(await loader.next());
  await loader.close();
  return out;
}

Deno.test("ClipLoader yields [B, N, H, W, 3] batches with MAG values from a worker", async () => {
  const [batch] = await take(await ClipLoader.fromMetadata(dir, base), 1);
  assertEquals(batch!.shape, [2, 4, 16, 24, 3]);
  assertEquals(batch!.data.length, 2 * 4 * 16 * 24 * 3);
  const expectedM = sample({ clipFrames: 12, fps: 8, n: 4 }).m;
  assertEquals(Array.from(batch!.m), [Math.fround(expectedM), Math.fround(expectedM)]);
  assertEquals(batch!.position, 2);
});

Deno.test("ClipLoader order is deterministic per seed, covers every clip each epoch, and resumes", async () => {
  const a = await take(await ClipLoader.fromMetadata(dir, base), 5);
  const b = await take(await ClipLoader.fromMetadata(dir, { ...base, worker: false }), 5);
  assertEquals(a.map((x) => x.clipIds), b.map((x) => x.clipIds));
  assertEquals(a.map((x) => x.data), b.map((x) => x.data));
  const ids = a.flatMap((x) => x.clipIds);
  assertEquals(new Set(ids.slice(0, 5)).size, 5, "epoch 0 visits each clip once");
  assertEquals(new Set(ids.slice(5, 10)).size, 5, "epoch 1 visits each clip once");
  const other = await take(await ClipLoader.fromMetadata(dir, { ...base, seed: 8 }), 5);
  assert(
    other.flatMap((x) => x.clipIds).join() !== ids.join(),
    "a different seed, a different order",
  );
  const resumed = await take(
    await ClipLoader.fromMetadata(dir, { ...base, position: a[1]!.position }),
    3,
  );
  assertEquals(resumed.map((x) => x.clipIds), a.slice(2).map((x) => x.clipIds));
  assertEquals(resumed[0]!.data, a[2]!.data);
});

Deno.test("ClipLoader surfaces a clip too short for N as an error from the worker", async () => {
  const loader = await ClipLoader.fromMetadata(dir, { ...base, n: 11 });
  await assertRejects(() => loader.next(), Error, "fewer than the 11 requested");
  await loader.close();
  const repeats = await take(
    await ClipLoader.fromMetadata(dir, { ...base, n: 11, allowRepeats: true }),
    1,
  );
  assertEquals(repeats[0]!.shape[1], 11);
});

Deno.test("ClipLoader stride sampler loads fixed-stride windows", async () => {
  const [batch] = await take(
    await ClipLoader.fromMetadata(dir, { ...base, sampler: { stride: 3 } }),
    1,
  );
  assertEquals(Array.from(batch!.m), [8 / 3, 8 / 3].map(Math.fround));
  assertEquals(batch!.clipIds.length, 2);
});

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

Deno.test("ClipLoader with output arrays yields NDArray batches equal to the typed ones", async () => {
  device.use("reference");
  const typed = await take(await ClipLoader.fromMetadata(dir, { ...base, worker: false }), 2);
  const options: LoaderOptions<"arrays"> = { ...base, worker: false, output: "arrays" };
  const arrays = await take(await ClipLoader.fromMetadata(dir, options), 2);
  const ints = await take(await ClipLoader.fromMetadata(dir, { ...options, dtype: "int32" }), 1);
  arrays.forEach((batch, i) => {
    assertEquals([batch.data.shape, batch.data.dtype], [[2, 4, 16, 24, 3], "float32"]);
    assertEquals(batch.data.dataSync(), Float32Array.from(typed[i]!.data, (v) => v / 255));
    assertEquals([batch.m.shape, batch.m.dataSync()], [[2], typed[i]!.m]);
    assertEquals([batch.clipIds, batch.position], [typed[i]!.clipIds, typed[i]!.position]);
  });
  assertEquals(ints[0]!.data.dataSync(), Int32Array.from(typed[0]!.data));
  const clip = { clipId: "a", path: "a.mp4", startFrame: 0, endFrame: 9, fps: 8, caption: "" };
  const bogus = { ...base, worker: false, output: "tensors" } as unknown as LoaderOptions;
  assertThrows(() => new ClipLoader([clip], bogus), RangeError, "got tensors");
});
