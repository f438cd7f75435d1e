import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { makeFrames, selectFrames } from "../../data/frames.ts";
import { randomClipSpec, renderClip } from "../../data/synthetic.ts";
import { decode, encode, probe } from "../../data/video.ts";

const spec = randomClipSpec(31, { camera: "pan_right", frames: 16 });
const clip = renderClip(spec);
const dir = await Deno.makeTempDir();
const mp4 = `${dir}/clip.mp4`;
await encode(clip, mp4, { fps: 8 });

function meanAbsError(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

Deno.test("video.decode of an encoded synthetic clip returns its frames within codec tolerance", async () => {
  const { frames, fps } = await decode(mp4);
  assertEquals(frames.shape, [16, 64, 64, 3]);
  assertEquals(fps, 8);
  const error = meanAbsError(frames.data, clip.data);
  assert(error < 4, `mean absolute error ${error} (0..255 scale)`);
});

Deno.test("video.decode of a frame range equals the same frames of a full decode", async () => {
  const full = await decode(mp4);
  const part = await decode(mp4, { start: 5, end: 12 });
  assertEquals(part.frames.shape, [7, 64, 64, 3]);
  assertEquals(part.frames.data, selectFrames(full.frames, [5, 6, 7, 8, 9, 10, 11]).data);
});

Deno.test("video.decode float32 returns values in [0, 1] and resizes to a bucket size", async () => {
  const { frames } = await decode(mp4, {
    end: 2,
    dtype: "float32",
    size: { width: 48, height: 32 },
  });
  assertEquals(frames.shape, [2, 32, 48, 3]);
  assert(frames.data instanceof Float32Array && frames.data.every((x) => x >= 0 && x <= 1));
});

Deno.test("video.decode rejects a truncated mp4 with an error naming the file", async () => {
  const bytes = await Deno.readFile(mp4);
  const truncated = `${dir}/truncated.mp4`;
  await Deno.writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await assertRejects(() => decode(truncated), Error, truncated);
  await Deno.writeFile(`${dir}/garbage.mp4`, new Uint8Array(1000).fill(7));
  await assertRejects(() => decode(`${dir}/garbage.mp4`), Error, "garbage.mp4");
  await assertRejects(() => probe(`${dir}/missing.mp4`), Error, "missing.mp4");
});

Deno.test("video.decode refuses a frame range past the end of the file", async () => {
  await assertRejects(() => decode(mp4, { start: 10, end: 30 }), RangeError, "6 frames");
});

Deno.test("video.encode writes a gif that decodes to the same shape", async () => {
  await encode(clip, `${dir}/clip.gif`, { fps: 8 });
  const { frames } = await decode(`${dir}/clip.gif`);
  assertEquals(frames.shape, [16, 64, 64, 3]);
});

Deno.test("video.encode refuses odd sizes for mp4 and unknown extensions", async () => {
  const odd = makeFrames(new Uint8Array(2 * 5 * 4 * 3), 2, 5, 4);
  await assertRejects(() => encode(odd, `${dir}/odd.mp4`, { fps: 8 }), RangeError, "5x4");
  await assertRejects(() => encode(clip, `${dir}/x.avi`, { fps: 8 }), RangeError, "x.avi");
});

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
