/**
 * Host-side image planes and the per-frame measurements of curation that stay on the host
 * (luma, OpenCV-scaled HSV for shot detection, the Laplacian for sharpness): plain loops over
 * Float32Array, cheap at the analysis resolution. Optical flow, the heavy part, runs on the
 * device in array ops (`flow.ts`, `flow_ops.ts`).
 *
 * Borders replicate the edge pixel (the `edge` padding of `np.pad`).
 *
 * @module
 */
import type { Frames } from "./frames.ts";

/** A single-channel image [H, W], row-major. */
export interface Plane {
  data: Float32Array;
  h: number;
  w: number;
}

/**
 * A plane of the given size filled with `value`.
 *
 * @example
 * ```ts
 * import { full } from "./image_ops.ts";
 * full(2, 3, 1).data.length; // 6
 * ```
 */
export function full(h: number, w: number, value = 0): Plane {
  return { data: new Float32Array(h * w).fill(value), h, w };
}

/**
 * Frame `t` of uint8 RGB frames [T, H, W, 3] as luma [H, W] in 0..255 (BT.601 weights).
 *
 * @example
 * ```ts
 * import { luma } from "./image_ops.ts";
 * luma({ data: new Uint8Array([255, 255, 255]), shape: [1, 1, 1, 3] }, 0).data[0]; // 255
 * ```
 */
export function luma(frames: Frames, t: number): Plane {
  const [, h, w] = frames.shape;
  const out = new Float32Array(h * w);
  const base = t * h * w * 3;
  for (let i = 0; i < h * w; i++) {
    const o = base + i * 3;
    out[i] = 0.299 * frames.data[o]! + 0.587 * frames.data[o + 1]! + 0.114 * frames.data[o + 2]!;
  }
  return { data: out, h, w };
}

/**
 * Frame `t` as OpenCV-scaled 8-bit HSV planes (H in [0, 180), S and V in [0, 255]), as
 * PySceneDetect computes them.
 *
 * @example
 * ```ts
 * import { hsv } from "./image_ops.ts";
 * const [h, s, v] = hsv({ data: new Uint8Array([255, 0, 0]), shape: [1, 1, 1, 3] }, 0);
 * // h 0, s 255, v 255
 * ```
 */
export function hsv(frames: Frames, t: number): [Plane, Plane, Plane] {
  const [, h, w] = frames.shape;
  const n = h * w;
  const hp = new Float32Array(n), sp = new Float32Array(n), vp = new Float32Array(n);
  const base = t * n * 3;
  for (let i = 0; i < n; i++) {
    const r = frames.data[base + i * 3]!, g = frames.data[base + i * 3 + 1]!;
    const b = frames.data[base + i * 3 + 2]!;
    const max = Math.max(r, g, b), min = Math.min(r, g, b), d = max - min;
    vp[i] = max;
    sp[i] = max === 0 ? 0 : Math.round((255 * d) / max);
    let hue = 0;
    if (d > 0) {
      if (max === r) hue = (60 * (g - b)) / d;
      else if (max === g) hue = 120 + (60 * (b - r)) / d;
      else hue = 240 + (60 * (r - g)) / d;
      if (hue < 0) hue += 360;
    }
    hp[i] = Math.round(hue / 2) % 180;
  }
  return [{ data: hp, h, w }, { data: sp, h, w }, { data: vp, h, w }];
}

/**
 * 4-neighbour Laplacian (edge-replicated).
 *
 * @example
 * ```ts
 * import { full, laplacian } from "./image_ops.ts";
 * laplacian(full(3, 3, 7)).data[4]; // 0
 * ```
 */
export function laplacian(a: Plane): Plane {
  const { h, w } = a;
  const out = new Float32Array(h * w);
  const at = (y: number, x: number) =>
    a.data[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))]!;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      out[y * w + x] = at(y - 1, x) + at(y + 1, x) + at(y, x - 1) + at(y, x + 1) - 4 * at(y, x);
    }
  }
  return { data: out, h, w };
}
