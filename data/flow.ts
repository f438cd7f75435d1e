/**
 * Dense optical flow: pyramidal Lucas-Kanade with iterative warping, written only in the
 * whole-array ops of `image_ops.ts` (elementwise arithmetic, separable blur, gradients, bilinear
 * warp, resize) so it ports one-to-one to the core's array ops and runs on the GPU there. Each
 * pixel's 2x2 normal equations are solved in closed form as elementwise arithmetic over planes.
 *
 * Meant for low resolution (about 64 px wide): with 3 pyramid levels it follows motions up to
 * about 8 px per frame. Flow (u, v) is the displacement of content from `prev` to `next`, in
 * pixels, x to the right and y down.
 *
 * @module
 */
import {
  add,
  blur,
  downsample,
  full,
  gaussianKernel,
  gradX,
  gradY,
  map,
  mul,
  type Plane,
  resize,
  scale,
  sub,
  warp,
  zipWith,
} from "./image_ops.ts";

/** Options of {@linkcode opticalFlow}. */
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
 * import { opticalFlow } from "./flow.ts";
 * import { full } from "./image_ops.ts";
 * const { u } = opticalFlow(full(16, 16, 1), full(16, 16, 1)); // zero flow
 * ```
 */
export function opticalFlow(prev: Plane, next: Plane, options: FlowOptions = {}): Flow {
  const { levels = 3, iterations = 4, window = 2, regularization = 1 } = options;
  if (prev.h !== next.h || prev.w !== next.w) {
    throw new RangeError(
      `opticalFlow: frames differ in shape ([${prev.h}, ${prev.w}] vs [${next.h}, ${next.w}])`,
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
