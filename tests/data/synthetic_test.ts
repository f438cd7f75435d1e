import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { cameraMotions } from "../../data/camera_labels.ts";
import { makeFrames, selectFrames, toFloat } from "../../data/frames.ts";
import { readClips } from "../../data/scan.ts";
import { generateCorpus, randomClipSpec, renderClip } from "../../data/synthetic.ts";
import { captionFor } from "../../data/synthetic_caption.ts";

Deno.test("renderClip is a pure function of its spec", () => {
  const spec = randomClipSpec(4, { frames: 4 });
  assertEquals(renderClip(spec).data, renderClip(spec).data);
  assert(renderClip(randomClipSpec(5, { frames: 4 })).data.join() !== renderClip(spec).data.join());
});

Deno.test("captionFor describes the camera motion in a long DropletVideo-style paragraph", () => {
  const phrases: Record<string, string> = {
    static: "remains completely still",
    pan_left: "pans",
    pan_right: "pans",
    tilt_up: "tilts",
    tilt_down: "tilts",
    zoom_in: "zooms in",
    zoom_out: "zooms out",
    roll_cw: "rolls",
    roll_ccw: "rolls",
    orbit: "orbits",
  };
  for (const camera of cameraMotions) {
    const caption = captionFor(randomClipSpec(8, { camera }));
    assert(caption.includes(phrases[camera]!), `${camera}: ${caption}`);
    const words = caption.split(/\s+/).length;
    assert(words >= 100 && words <= 250, `${camera}: ${words} words`);
  }
});

Deno.test("generateCorpus writes mp4 clips and metadata rows, reproducibly from its seed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const options = { count: 3, seed: 9, frames: 8, cameras: ["zoom_out", "orbit"] as const };
    const a = await generateCorpus(`${dir}/a`, options);
    const b = await generateCorpus(`${dir}/b`, { ...options, writeMetadata: false });
    assertEquals(a.specs, b.specs);
    assertEquals(a.rows.map((r) => r.cameraMotion), ["zoom_out", "orbit", "zoom_out"]);
    assertEquals(await readClips(`${dir}/a`), a.rows);
    assertEquals(await Deno.readFile(a.rows[0]!.path!), await Deno.readFile(b.rows[0]!.path!));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("frames helpers check shapes and keep the [T, H, W, 3] layout", () => {
  assertThrows(() => makeFrames(new Uint8Array(10), 1, 2, 2), RangeError, "[1, 2, 2, 3]");
  const f = makeFrames(Uint8Array.from({ length: 24 }, (_, i) => i), 2, 2, 2);
  assertEquals(Array.from(selectFrames(f, [1, 1]).data.subarray(0, 3)), [12, 13, 14]);
  assertThrows(() => selectFrames(f, [2]), RangeError, "[0, 2)");
  assertEquals(toFloat(f).data[12], Math.fround(12 / 255));
});
