/**
 * Metadata-only synthetic clip rows, for storage tests and the scan benchmark: the i-th row under
 * a seed is a pure function of (seed, i), so 10M rows can be produced in a stream and re-derived
 * for checking. Values are plausible (fps from common rates, 2-20 s clips, quality 1-5, short
 * template captions, some unknown derived fields) but describe no real video.
 *
 * @module
 */
import { foldKey, hash32, type Key, uniform } from "./hash.ts";
import { clipIdOf, type ClipRow, defaultMagN } from "./schema.ts";

const rates = [23.976, 24, 25, 29.97, 30, 50, 60];
const motions = [
  "static",
  "pan_left",
  "pan_right",
  "tilt_up",
  "tilt_down",
  "zoom_in",
  "zoom_out",
  "orbit",
];
const subjects = [
  "a red fox",
  "a cyclist",
  "two children",
  "an old lighthouse",
  "a sailing boat",
  "a busy street",
];
const places = [
  "in a snowy forest",
  "along a coastal road",
  "in a sunlit park",
  "on a rocky cliff",
  "in a city at night",
];
const moves = [
  "moves slowly to the left",
  "walks toward the camera",
  "stands still",
  "turns around",
  "drifts across the frame",
];
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

function pick<T>(list: readonly T[], key: Key, counter: number): T {
  return list[hash32(key, counter) % list.length]!;
}

/**
 * The i-th synthetic metadata row under `seed`.
 *
 * @example
 * ```ts
 * import { syntheticRow } from "./synthetic_rows.ts";
 * const row = syntheticRow(0, 1);
 * row.frameCount === row.endFrame - row.startFrame; // true
 * ```
 */
export function syntheticRow(i: number, seed: number, magN = defaultMagN): ClipRow {
  const key = foldKey(seed, i);
  let ytid = "";
  for (let k = 0; k < 11; k++) ytid += alphabet[hash32(key, 100 + k) % 64];
  const url = `https://www.youtube.com/watch?v=${ytid}`;
  const fps = pick(rates, key, 1);
  const startFrame = hash32(key, 2) % 20000;
  const frameCount = Math.max(2, Math.round((2 + 18 * uniform(key, 3)) * fps));
  const endFrame = startFrame + frameCount;
  const known = uniform(key, 4) < 0.8;
  const caption = `The video shows ${pick(subjects, key, 5)} ${pick(places, key, 6)}. ` +
    `The subject ${pick(moves, key, 7)} while the camera ${
      pick(motions, key, 8).replace("_", " ")
    }s. ` +
    `Soft light falls across the scene, and the colors stay consistent throughout the shot.`;
  return {
    clipId: clipIdOf(url, startFrame, endFrame),
    url,
    fps,
    startFrame,
    endFrame,
    frameCount,
    duration: frameCount / fps,
    qualityScore: Math.round((1 + 4 * uniform(key, 9)) * 1000) / 1000,
    caption,
    aestheticScore: known ? Math.round((3 + 3 * uniform(key, 10)) * 100) / 100 : null,
    motionMean: known ? Math.round(8 * uniform(key, 11) * 1000) / 1000 : null,
    cameraMotion: known ? pick(motions, key, 12) : null,
    m: (magN * fps) / frameCount,
    path: null,
  };
}
