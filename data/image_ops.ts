/**
 * Whole-array image operations on single-channel float planes, the vocabulary optical flow and
 * curation are written in. Each function is one array-level op (elementwise arithmetic, a
 * separable convolution, a gather with bilinear weights, a reduction), so the flow code maps
 * one-to-one onto the core's `np` ops (`np.add`, `np.multiply`, a conv, `np.take`, `np.sum`) when
 * they exist and can then run on the GPU. Until then they are plain loops over Float32Array.
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

function same(a: Plane, b: Plane, op: string): void {
  if (a.h !== b.h || a.w !== b.w) {
    throw new RangeError(`${op}: planes differ in shape ([${a.h}, ${a.w}] vs [${b.h}, ${b.w}])`);
  }
}

/**
 * Elementwise binary op of two planes of one shape.
 *
 * @example
 * ```ts
 * import { full, zipWith } from "./image_ops.ts";
 * zipWith(full(1, 2, 3), full(1, 2, 4), (a, b) => a * b).data; // [12, 12]
 * ```
 */
export function zipWith(a: Plane, b: Plane, f: (x: number, y: number) => number): Plane {
  same(a, b, "zipWith");
  const out = new Float32Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f(a.data[i]!, b.data[i]!);
  return { data: out, h: a.h, w: a.w };
}

/**
 * Elementwise unary op.
 *
 * @example
 * ```ts
 * import { full, map } from "./image_ops.ts";
 * map(full(1, 1, 2), (x) => x * x).data[0]; // 4
 * ```
 */
export function map(a: Plane, f: (x: number) => number): Plane {
  const out = new Float32Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f(a.data[i]!);
  return { data: out, h: a.h, w: a.w };
}

/** a + b. @example `add(full(1, 1, 1), full(1, 1, 2)).data[0] // 3` */
export function add(a: Plane, b: Plane): Plane {
  return zipWith(a, b, (x, y) => x + y);
}

/** a - b. @example `sub(full(1, 1, 1), full(1, 1, 2)).data[0] // -1` */
export function sub(a: Plane, b: Plane): Plane {
  return zipWith(a, b, (x, y) => x - y);
}

/** a * b. @example `mul(full(1, 1, 3), full(1, 1, 2)).data[0] // 6` */
export function mul(a: Plane, b: Plane): Plane {
  return zipWith(a, b, (x, y) => x * y);
}

/** a * s for a scalar s. @example `scale(full(1, 1, 3), 2).data[0] // 6` */
export function scale(a: Plane, s: number): Plane {
  return map(a, (x) => x * s);
}

/**
 * Mean of all elements (a reduction).
 *
 * @example
 * ```ts
 * import { full, mean } from "./image_ops.ts";
 * mean(full(2, 2, 5)); // 5
 * ```
 */
export function mean(a: Plane): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += a.data[i]!;
  return s / a.data.length;
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
 * Normalized 1-D Gaussian kernel of radius ceil(2.5 sigma).
 *
 * @example
 * ```ts
 * import { gaussianKernel } from "./image_ops.ts";
 * gaussianKernel(1).length; // 7
 * ```
 */
export function gaussianKernel(sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(2.5 * sigma));
  const k = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    sum += k[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  }
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  return k;
}

/**
 * Separable convolution with a symmetric kernel along both axes (edge-replicated borders).
 *
 * @example
 * ```ts
 * import { blur, full, gaussianKernel } from "./image_ops.ts";
 * blur(full(4, 4, 1), gaussianKernel(1)).data[5]; // 1 (a constant stays constant)
 * ```
 */
export function blur(a: Plane, kernel: Float32Array): Plane {
  const { h, w } = a;
  const r = (kernel.length - 1) / 2;
  const tmp = new Float32Array(h * w), out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) {
        const xx = Math.min(w - 1, Math.max(0, x + k));
        s += kernel[k + r]! * a.data[y * w + xx]!;
      }
      tmp[y * w + x] = s;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) {
        const yy = Math.min(h - 1, Math.max(0, y + k));
        s += kernel[k + r]! * tmp[yy * w + x]!;
      }
      out[y * w + x] = s;
    }
  }
  return { data: out, h, w };
}

/**
 * Central-difference gradient along x (columns); one-sided at the borders.
 *
 * @example
 * ```ts
 * import { gradX } from "./image_ops.ts";
 * gradX({ data: new Float32Array([0, 1, 2]), h: 1, w: 3 }).data; // [1, 1, 1]
 * ```
 */
export function gradX(a: Plane): Plane {
  const { h, w } = a;
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const l = Math.max(0, x - 1), r = Math.min(w - 1, x + 1);
      out[y * w + x] = r === l ? 0 : (a.data[y * w + r]! - a.data[y * w + l]!) / (r - l);
    }
  }
  return { data: out, h, w };
}

/**
 * Central-difference gradient along y (rows); one-sided at the borders.
 *
 * @example
 * ```ts
 * import { gradY } from "./image_ops.ts";
 * gradY({ data: new Float32Array([0, 2]), h: 2, w: 1 }).data; // [2, 2]
 * ```
 */
export function gradY(a: Plane): Plane {
  const { h, w } = a;
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    const u = Math.max(0, y - 1), d = Math.min(h - 1, y + 1);
    for (let x = 0; x < w; x++) {
      out[y * w + x] = d === u ? 0 : (a.data[d * w + x]! - a.data[u * w + x]!) / (d - u);
    }
  }
  return { data: out, h, w };
}

/**
 * Samples `a` at (x + u, y + v) per pixel with bilinear weights, clamping to the image (a
 * gather: `np.take` of four neighbours and a weighted sum).
 *
 * @example
 * ```ts
 * import { full, warp } from "./image_ops.ts";
 * const ramp = { data: new Float32Array([0, 1, 2, 3]), h: 1, w: 4 };
 * warp(ramp, full(1, 4, 0.5), full(1, 4, 0)).data[0]; // 0.5
 * ```
 */
export function warp(a: Plane, u: Plane, v: Plane): Plane {
  same(a, u, "warp");
  same(a, v, "warp");
  const { h, w } = a;
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const sx = Math.min(w - 1, Math.max(0, x + u.data[i]!));
      const sy = Math.min(h - 1, Math.max(0, y + v.data[i]!));
      const x0 = Math.min(w - 2, Math.floor(sx)), y0 = Math.min(h - 2, Math.floor(sy));
      const fx = w === 1 ? 0 : sx - Math.max(0, x0), fy = h === 1 ? 0 : sy - Math.max(0, y0);
      const xa = Math.max(0, x0), ya = Math.max(0, y0);
      const xb = Math.min(w - 1, xa + 1), yb = Math.min(h - 1, ya + 1);
      const top = a.data[ya * w + xa]! * (1 - fx) + a.data[ya * w + xb]! * fx;
      const bottom = a.data[yb * w + xa]! * (1 - fx) + a.data[yb * w + xb]! * fx;
      out[i] = top * (1 - fy) + bottom * fy;
    }
  }
  return { data: out, h, w };
}

/**
 * Bilinear resize to [h, w] (pixel centres aligned, as `align_corners=False`).
 *
 * @example
 * ```ts
 * import { full, resize } from "./image_ops.ts";
 * resize(full(4, 4, 2), 2, 2).data; // [2, 2, 2, 2]
 * ```
 */
export function resize(a: Plane, h: number, w: number): Plane {
  const out = new Float32Array(h * w);
  const sy = a.h / h, sx = a.w / w;
  for (let y = 0; y < h; y++) {
    const fy = Math.min(a.h - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy), y1 = Math.min(a.h - 1, y0 + 1), wy = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = Math.min(a.w - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx), x1 = Math.min(a.w - 1, x0 + 1), wx = fx - x0;
      const top = a.data[y0 * a.w + x0]! * (1 - wx) + a.data[y0 * a.w + x1]! * wx;
      const bottom = a.data[y1 * a.w + x0]! * (1 - wx) + a.data[y1 * a.w + x1]! * wx;
      out[y * w + x] = top * (1 - wy) + bottom * wy;
    }
  }
  return { data: out, h, w };
}

/**
 * Half-resolution level of a Gaussian pyramid: blur (sigma 1) then resize to ceil(h/2) x ceil(w/2).
 *
 * @example
 * ```ts
 * import { downsample, full } from "./image_ops.ts";
 * downsample(full(8, 6, 1)).w; // 3
 * ```
 */
export function downsample(a: Plane): Plane {
  return resize(blur(a, gaussianKernel(1)), Math.ceil(a.h / 2), Math.ceil(a.w / 2));
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
