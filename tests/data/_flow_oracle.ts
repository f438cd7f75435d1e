/**
 * THE TEST ORACLE of `data/flow.ts`: the original plain-TypeScript pyramidal Lucas-Kanade flow
 * (one frame pair at a time, loops over Float32Array planes), kept verbatim apart from moving
 * its image operations (blur, gradients, bilinear warp and resize, downsampling) in here. The
 * array-op flow was ported from it one-to-one and is tested against it; nothing in `data/` uses
 * it.
 *
 * Borders replicate the edge pixel (the `edge` padding of `np.pad`).
 *
 * @module
 */
import { full, type Plane } from "../../data/image_ops.ts";

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
 * import { full, zipWith } from "./_flow_oracle.ts";
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
 * import { full, map } from "./_flow_oracle.ts";
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
 * Normalized 1-D Gaussian kernel of radius ceil(2.5 sigma).
 *
 * @example
 * ```ts
 * import { gaussianKernel } from "./_flow_oracle.ts";
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
 * import { blur, full, gaussianKernel } from "./_flow_oracle.ts";
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
 * import { gradX } from "./_flow_oracle.ts";
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
 * import { gradY } from "./_flow_oracle.ts";
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
 * import { full, warp } from "./_flow_oracle.ts";
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
 * import { full, resize } from "./_flow_oracle.ts";
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
 * import { downsample, full } from "./_flow_oracle.ts";
 * downsample(full(8, 6, 1)).w; // 3
 * ```
 */
export function downsample(a: Plane): Plane {
  return resize(blur(a, gaussianKernel(1)), Math.ceil(a.h / 2), Math.ceil(a.w / 2));
}

/** Options of {@linkcode oracleFlow}. */
export interface FlowOptions {
  /** Pyramid levels (1 = no pyramid); 3 by default. */
  levels?: number;
  /** Warping iterations per level; 4 by default. */
  iterations?: number;
  /** Gaussian window sigma of the local least squares, pixels; 2 by default. */
  window?: number;
  /** Tikhonov term added to the structure tensor (in squared intensity units); 1 by default. */
  regularization?: number;
}

/** A dense flow field with a per-pixel confidence. */
export interface Flow {
  /** Horizontal displacement [H, W], pixels. */
  u: Plane;
  /** Vertical displacement [H, W], pixels. */
  v: Plane;
  /** Smaller eigenvalue of the windowed structure tensor [H, W]: texture strength. */
  confidence: Plane;
}

/**
 * Dense flow from `prev` to `next` (same shape, intensities 0..255).
 *
 * @example
 * ```ts
 * import { oracleFlow } from "./_flow_oracle.ts";
 * import { full } from "../../data/image_ops.ts";
 * const { u } = oracleFlow(full(16, 16, 1), full(16, 16, 1)); // zero flow
 * ```
 */
export function oracleFlow(prev: Plane, next: Plane, options: FlowOptions = {}): Flow {
  const { levels = 3, iterations = 4, window = 2, regularization = 1 } = options;
  if (prev.h !== next.h || prev.w !== next.w) {
    throw new RangeError(
      `oracleFlow: frames differ in shape ([${prev.h}, ${prev.w}] vs [${next.h}, ${next.w}])`,
    );
  }
  const pyramid1: Plane[] = [prev], pyramid2: Plane[] = [next];
  for (let l = 1; l < levels && Math.min(pyramid1[l - 1]!.h, pyramid1[l - 1]!.w) >= 16; l++) {
    pyramid1.push(downsample(pyramid1[l - 1]!));
    pyramid2.push(downsample(pyramid2[l - 1]!));
  }
  const kernel = gaussianKernel(window);
  const smooth = gaussianKernel(0.7);
  let u = full(pyramid1.at(-1)!.h, pyramid1.at(-1)!.w);
  let v = full(u.h, u.w);
  let confidence = u;
  for (let l = pyramid1.length - 1; l >= 0; l--) {
    const i1 = blur(pyramid1[l]!, smooth), i2 = blur(pyramid2[l]!, smooth);
    if (u.h !== i1.h || u.w !== i1.w) {
      u = scale(resize(u, i1.h, i1.w), i1.w / u.w); // [H_l, W_l], displacements rescaled
      v = scale(resize(v, i1.h, i1.w), i1.h / v.h);
    }
    const ix = gradX(i1), iy = gradY(i1);
    const sxx = map(blur(mul(ix, ix), kernel), (x) => x + regularization);
    const syy = map(blur(mul(iy, iy), kernel), (x) => x + regularization);
    const sxy = blur(mul(ix, iy), kernel);
    const det = sub(mul(sxx, syy), mul(sxy, sxy));
    for (let k = 0; k < iterations; k++) {
      const it = sub(warp(i2, u, v), i1); // temporal difference after warping by the estimate
      const bx = blur(mul(ix, it), kernel), by = blur(mul(iy, it), kernel);
      // Per-pixel 2x2 solve: [sxx sxy; sxy syy] [du dv]^T = -[bx by]^T.
      const du = zipWith(sub(mul(syy, bx), mul(sxy, by)), det, (n, d) => -n / d);
      const dv = zipWith(sub(mul(sxx, by), mul(sxy, bx)), det, (n, d) => -n / d);
      u = add(u, du);
      v = add(v, dv);
    }
    if (l === 0) {
      // Smaller eigenvalue of [sxx sxy; sxy syy] (without the regularizer).
      const half = scale(add(sxx, syy), 0.5);
      const gap = zipWith(scale(sub(sxx, syy), 0.5), sxy, (a, b) => Math.sqrt(a * a + b * b));
      confidence = map(sub(half, gap), (x) => Math.max(0, x - regularization));
    }
  }
  return { u, v, confidence };
}
