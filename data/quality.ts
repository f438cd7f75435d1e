/**
 * Simple technical quality scores of frames: sharpness (variance of the luma Laplacian),
 * exposure (mean luma and the fraction of clipped pixels) and colourfulness (Hasler and
 * Süsstrunk 2003), plus a combined score in [0, 1]. The combined score is a crude stand-in for
 * the DOVER technical score the real curation used, good for ranking and rejecting broken clips.
 *
 * @module
 */
import type { Frames } from "./frames.ts";
import { laplacian, luma } from "./image_ops.ts";

/** Quality measurements, averaged over the frames measured. */
export interface QualityScores {
  /** Variance of the 4-neighbour Laplacian of luma (0..255 scale). */
  sharpness: number;
  /** Mean luma / 255. */
  brightness: number;
  /** Fraction of pixels with luma below 8 or above 247. */
  clipped: number;
  /** Hasler-Süsstrunk colourfulness (0 grey; about 60+ very colourful). */
  colorfulness: number;
  /** Combined score in [0, 1]: mean of saturating sharpness, exposure and colour sub-scores. */
  score: number;
}

/**
 * Scores frames [start, end) of a stack, measuring at most `samples` evenly spaced frames.
 *
 * @example
 * ```ts
 * import { qualityScores } from "./quality.ts";
 * const grey = { data: new Uint8Array(8 * 8 * 3).fill(128), shape: [1, 8, 8, 3] as [number, number, number, 3] };
 * qualityScores(grey).sharpness; // 0: a flat frame has no detail
 * ```
 */
export function qualityScores(
  frames: Frames,
  start = 0,
  end = frames.shape[0],
  samples = 8,
): QualityScores {
  const [, h, w] = frames.shape;
  if (end <= start) throw new RangeError(`qualityScores: empty frame range [${start}, ${end})`);
  const count = Math.min(samples, end - start);
  const acc = { sharpness: 0, brightness: 0, clipped: 0, colorfulness: 0 };
  for (let k = 0; k < count; k++) {
    const t = start + Math.floor((k * (end - start)) / count);
    const y = luma(frames, t);
    const lap = laplacian(y);
    let m = 0, m2 = 0, bright = 0, clip = 0;
    for (let i = 0; i < lap.data.length; i++) {
      m += lap.data[i]!;
      m2 += lap.data[i]! * lap.data[i]!;
      bright += y.data[i]!;
      if (y.data[i]! < 8 || y.data[i]! > 247) clip++;
    }
    const n = h * w;
    acc.sharpness += m2 / n - (m / n) ** 2;
    acc.brightness += bright / n / 255;
    acc.clipped += clip / n;
    let srg = 0, srg2 = 0, syb = 0, syb2 = 0;
    const base = t * n * 3;
    for (let i = 0; i < n; i++) {
      const r = frames.data[base + 3 * i]!, g = frames.data[base + 3 * i + 1]!;
      const b = frames.data[base + 3 * i + 2]!;
      const rg = r - g, yb = 0.5 * (r + g) - b;
      srg += rg;
      srg2 += rg * rg;
      syb += yb;
      syb2 += yb * yb;
    }
    const mrg = srg / n, myb = syb / n;
    const sd = Math.sqrt(Math.max(0, srg2 / n - mrg * mrg) + Math.max(0, syb2 / n - myb * myb));
    acc.colorfulness += sd + 0.3 * Math.hypot(mrg, myb);
  }
  const sharpness = acc.sharpness / count, brightness = acc.brightness / count;
  const clipped = acc.clipped / count, colorfulness = acc.colorfulness / count;
  const sharpScore = 1 - Math.exp(-sharpness / 50);
  const exposureScore = Math.max(0, 1 - 2 * Math.abs(brightness - 0.5) - clipped);
  const colorScore = Math.min(1, colorfulness / 60);
  return {
    sharpness,
    brightness,
    clipped,
    colorfulness,
    score: (sharpScore + exposureScore + colorScore) / 3,
  };
}
