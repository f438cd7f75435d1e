import { assert, assertEquals } from "../_assert.ts";
import { cameraMotions } from "../../data/camera_labels.ts";
import { classifyCameraMotion, fitGlobalMotion } from "../../data/camera_motion.ts";
import { curate, curateVideo } from "../../data/curate.ts";
import { foldKey } from "../../data/hash.ts";
import { full } from "../../data/image_ops.ts";
import { readClips } from "../../data/scan.ts";
import { detectShots } from "../../data/shot_detect.ts";
import { type ClipSpec, randomClipSpec, renderShots } from "../../data/synthetic.ts";
import { decode, encode } from "../../data/video.ts";

/** Three shots of 20 frames with distinct palettes and camera motions. */
function threeShots(): ClipSpec[] {
  const cams = ["pan_left", "zoom_in", "tilt_down"] as const;
  return cams.map((camera, i) => ({
    ...randomClipSpec(foldKey(5, i), { camera, speed: "medium", frames: 20 }),
    palette: i * 2,
  }));
}

Deno.test("detectShots finds the cuts of a synthetic three-shot clip and no others", () => {
  const { cuts, shots } = detectShots(renderShots(threeShots()));
  assertEquals(cuts, [20, 40]);
  assertEquals(shots, [{ start: 0, end: 20 }, { start: 20, end: 40 }, { start: 40, end: 60 }]);
});

Deno.test("curateVideo cuts an encoded three-shot clip into its shots and labels each", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await encode(renderShots(threeShots()), `${dir}/multi.mp4`, { fps: 8 });
    const { rows, shots } = await curateVideo(`${dir}/multi.mp4`, { caption: "three shots" });
    assertEquals(shots.cuts, [20, 40]);
    assertEquals(rows.map((r) => [r.startFrame, r.endFrame, r.cameraMotion]), [
      [0, 20, "pan_left"],
      [20, 40, "zoom_in"],
      [40, 60, "tilt_down"],
    ]);
    const result = await curate([`${dir}/multi.mp4`], `${dir}/out`, { minFrames: 25 });
    assertEquals(result.rows, 0);
    assertEquals(result.rejected, { "too short": 3 });
    assertEquals((await Deno.readTextFile(result.rejectsPath)).trim().split("\n").length, 3);
    assertEquals(await readClips(`${dir}/out`), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("classifyCameraMotion labels at least 90% of encoded synthetic clips correctly", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const total = 3 * cameraMotions.length;
    const wrong: string[] = [];
    for (let i = 0; i < total; i++) {
      const camera = cameraMotions[i % cameraMotions.length]!;
      const spec = randomClipSpec(foldKey(2024, i), { camera, frames: 16 });
      const path = `${dir}/c${i}.mp4`;
      await encode(renderShots([spec]), path, { fps: spec.fps });
      const { frames } = await decode(path);
      const { label } = classifyCameraMotion(frames);
      if (label !== camera) wrong.push(`${camera}/${spec.speed} -> ${label}`);
    }
    const accuracy = 1 - wrong.length / total;
    console.log(
      `camera-motion accuracy ${(100 * accuracy).toFixed(1)}% over ${total} clips`,
      wrong,
    );
    assert(accuracy >= 0.9, `accuracy ${accuracy}: ${wrong.join(", ")}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fitGlobalMotion recovers pan, zoom and roll from exact affine flows", () => {
  const h = 32, w = 32, half = w / 2;
  const make = (f: (x: number, y: number) => [number, number]) => {
    const u = full(h, w), v = full(h, w);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const [du, dv] = f((x + 0.5 - w / 2) / half, (y + 0.5 - h / 2) / half);
        u.data[y * w + x] = du;
        v.data[y * w + x] = dv;
      }
    }
    return { u, v, confidence: full(h, w, 1) };
  };
  const pan = fitGlobalMotion(make(() => [1.5, -0.5]));
  assert(Math.abs(pan.pan - 1.5) < 1e-4 && Math.abs(pan.tilt + 0.5) < 1e-4);
  const zoom = fitGlobalMotion(make((x, y) => [0.8 * x, 0.8 * y]));
  assert(Math.abs(zoom.zoom - 0.8) < 1e-4 && zoom.shear < 1e-4);
  const roll = fitGlobalMotion(make((x, y) => [0.6 * y, -0.6 * x]));
  assert(Math.abs(roll.roll - 0.6) < 1e-4 && roll.shear < 1e-4, JSON.stringify(roll));
});
