import { assert, assertEquals } from "../_assert.ts";
import * as device from "../../autograd/device.ts";
import { cameraMotions } from "../../data/camera_labels.ts";
import { classifyCameraMotion, fitGlobalMotion } from "../../data/camera_motion.ts";
import { curate, curateVideo } from "../../data/curate.ts";
import { makeFrames } from "../../data/frames.ts";
import { foldKey } from "../../data/hash.ts";
import { full } from "../../data/image_ops.ts";
import { readClips } from "../../data/scan.ts";
import { detectShots } from "../../data/shot_detect.ts";
import { type ClipSpec, randomClipSpec, renderShots } from "../../data/synthetic.ts";
import { decode, encode } from "../../data/video.ts";

// Optical flow runs in array ops: on the CPU reference interpreter here.
device.use("reference");

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
    const { rows, shots } = await curateVideo(`${dir}/multi.mp4`, {
      caption: "three shots",
      analysisWidth: 32,
    });
    assertEquals(shots.cuts, [20, 40]);
    assertEquals(rows.map((r) => [r.startFrame, r.endFrame, r.cameraMotion]), [
      [0, 20, "pan_left"],
      [20, 40, "zoom_in"],
      [40, 60, "tilt_down"],
    ]);
    const result = await curate([`${dir}/multi.mp4`], `${dir}/out`, {
      minFrames: 25,
      analysisWidth: 32,
    });
    assertEquals(result.rows, 0);
    assertEquals(result.rejected, { "too short": 3 });
    assertEquals((await Deno.readTextFile(result.rejectsPath)).trim().split("\n").length, 3);
    assertEquals(await readClips(`${dir}/out`), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("classifyCameraMotion labels at least 90% of encoded synthetic clips correctly", async () => {
  // 3 clips per class at 32x32, 8 frames each, encoded as one mp4 (one ffmpeg run each way)
  // and classified clip by clip through the array-op flow on the reference device.
  const perClip = 8, total = 3 * cameraMotions.length;
  const specs = Array.from({ length: total }, (_, i) =>
    randomClipSpec(foldKey(2024, i), {
      camera: cameraMotions[i % cameraMotions.length]!,
      frames: perClip,
      width: 32,
      height: 32,
    }));
  const dir = await Deno.makeTempDir();
  try {
    await encode(renderShots(specs), `${dir}/all.mp4`, { fps: 8 });
    const { frames } = await decode(`${dir}/all.mp4`);
    const clipBytes = perClip * 32 * 32 * 3;
    const wrong: string[] = [];
    for (const [i, spec] of specs.entries()) {
      const clip = makeFrames(
        frames.data.subarray(i * clipBytes, (i + 1) * clipBytes),
        perClip,
        32,
        32,
      );
      const { label } = await classifyCameraMotion(clip);
      if (label !== spec.camera) wrong.push(`${spec.camera}/${spec.speed} -> ${label}`);
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
