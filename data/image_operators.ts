/**
 * Linear image operators as small dense matrices, built on the host once per image size. Every
 * linear, separable step of optical flow (Gaussian blur with edge-replicated borders, central
 * differences, bilinear resizing, and their compositions) is a pair of matrices: one acting on
 * the rows (the y axis, applied from the left) and one on the columns (the x axis, applied from
 * the right, stored transposed). Applying them is two matmuls (`separable` in `flow_ops.ts`),
 * which keeps the array program short (a 2-D blur is 2 ops instead of one shifted slice per tap
 * per axis) and maps onto the GPU's matmul kernels.
 *
 * A matrix M [nOut, nIn] maps a signal a [nIn] to M a [nOut]: row i holds the weights with
 * which output sample i reads the input samples. Borders are folded into the weights (a tap
 * that falls outside the signal adds its weight to the edge sample), so the matrices are exact
 * replicas of the edge-replicating loops of the plain-TypeScript oracle.
 *
 * @module
 */

/** A dense host matrix [rows, cols], row-major, in float64 (rounded to float32 on upload). */
export interface Matrix {
  readonly data: Float64Array;
  readonly rows: number;
  readonly cols: number;
}

function zeros(rows: number, cols: number): Matrix {
  return { data: new Float64Array(rows * cols), rows, cols };
}

function checkSize(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`${name} must be an integer >= 1, got ${n}`);
  }
}

/**
 * Normalized 1-D Gaussian kernel of radius max(1, ceil(2.5 sigma)).
 *
 * @example
 * ```ts
 * import { gaussianKernel } from "./image_operators.ts";
 * gaussianKernel(1).length; // 7
 * ```
 */
export function gaussianKernel(sigma: number): Float64Array {
  if (!(sigma > 0)) throw new RangeError(`Gaussian sigma must be > 0, got ${sigma}`);
  const radius = Math.max(1, Math.ceil(2.5 * sigma));
  const k = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    sum += k[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  }
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  return k;
}

/**
 * The identity [n, n] (an axis left as it is).
 *
 * @example
 * ```ts
 * import { identityMatrix } from "./image_operators.ts";
 * identityMatrix(2).data; // [1, 0, 0, 1]
 * ```
 */
export function identityMatrix(n: number): Matrix {
  checkSize("Signal length", n);
  const m = zeros(n, n);
  for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
  return m;
}

/**
 * Convolution with an odd-length `kernel` along one axis of length `n`, borders replicating the
 * edge sample: out[i] = sum_k kernel[k] a[clamp(i + k - r, 0, n - 1)], as a matrix [n, n].
 *
 * @example
 * ```ts
 * import { convolutionMatrix } from "./image_operators.ts";
 * convolutionMatrix(3, new Float64Array([0.25, 0.5, 0.25])).data;
 * // [0.75, 0.25, 0, 0.25, 0.5, 0.25, 0, 0.25, 0.75]
 * ```
 */
export function convolutionMatrix(n: number, kernel: Float64Array): Matrix {
  checkSize("Signal length", n);
  if (kernel.length % 2 !== 1) {
    throw new RangeError(`Convolution kernel length must be odd, got ${kernel.length}`);
  }
  const r = (kernel.length - 1) / 2;
  const m = zeros(n, n);
  for (let i = 0; i < n; i++) {
    for (let k = -r; k <= r; k++) {
      const j = Math.min(n - 1, Math.max(0, i + k));
      m.data[i * n + j]! += kernel[k + r]!;
    }
  }
  return m;
}

/**
 * Central difference along an axis of length `n`, one-sided at the borders
 * (out[i] = (a[i+1] - a[i-1]) / 2 inside, a[1] - a[0] and a[n-1] - a[n-2] at the ends, 0 when
 * n = 1), as a matrix [n, n].
 *
 * @example
 * ```ts
 * import { differenceMatrix } from "./image_operators.ts";
 * differenceMatrix(3).data; // [-1, 1, 0, -0.5, 0, 0.5, 0, -1, 1]
 * ```
 */
export function differenceMatrix(n: number): Matrix {
  checkSize("Signal length", n);
  const m = zeros(n, n);
  for (let i = 0; i < n; i++) {
    const lo = Math.max(0, i - 1), hi = Math.min(n - 1, i + 1);
    if (hi === lo) continue;
    m.data[i * n + hi]! += 1 / (hi - lo);
    m.data[i * n + lo]! -= 1 / (hi - lo);
  }
  return m;
}

/**
 * Bilinear resampling of an axis from `nIn` to `nOut` samples with pixel centres aligned
 * (`align_corners=False`: output i reads input (i + 0.5) nIn / nOut - 0.5, clamped to the
 * signal), as a matrix [nOut, nIn]. Rows sum to 1.
 *
 * @example
 * ```ts
 * import { resizeMatrix } from "./image_operators.ts";
 * resizeMatrix(4, 2).data; // [0.5, 0.5, 0, 0, 0, 0, 0.5, 0.5]
 * ```
 */
export function resizeMatrix(nIn: number, nOut: number): Matrix {
  checkSize("Input length", nIn);
  checkSize("Output length", nOut);
  const m = zeros(nOut, nIn);
  const step = nIn / nOut;
  for (let i = 0; i < nOut; i++) {
    const f = Math.min(nIn - 1, Math.max(0, (i + 0.5) * step - 0.5));
    const i0 = Math.floor(f), i1 = Math.min(nIn - 1, i0 + 1), w = f - i0;
    m.data[i * nIn + i0]! += 1 - w;
    m.data[i * nIn + i1]! += w;
  }
  return m;
}

/**
 * The matrix product a b (the operator "b, then a").
 *
 * @example
 * ```ts
 * import { compose, differenceMatrix, resizeMatrix } from "./image_operators.ts";
 * compose(resizeMatrix(8, 4), differenceMatrix(8)).rows; // 4
 * ```
 */
export function compose(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) {
    throw new RangeError(
      `Cannot compose operators [${a.rows}, ${a.cols}] and [${b.rows}, ${b.cols}]: ` +
        `inner sizes ${a.cols} and ${b.rows} differ`,
    );
  }
  const out = zeros(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let k = 0; k < a.cols; k++) {
      const aik = a.data[i * a.cols + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < b.cols; j++) out.data[i * b.cols + j]! += aik * b.data[k * b.cols + j]!;
    }
  }
  return out;
}

/**
 * The transpose [cols, rows] (column operators are applied from the right, so they are stored
 * transposed).
 *
 * @example
 * ```ts
 * import { resizeMatrix, transposeMatrix } from "./image_operators.ts";
 * transposeMatrix(resizeMatrix(4, 2)).rows; // 4
 * ```
 */
export function transposeMatrix(a: Matrix): Matrix {
  const out = zeros(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) out.data[j * a.rows + i] = a.data[i * a.cols + j]!;
  }
  return out;
}

/**
 * The matrix times a scalar.
 *
 * @example
 * ```ts
 * import { resizeMatrix, scaleMatrix } from "./image_operators.ts";
 * scaleMatrix(resizeMatrix(2, 4), 2).data[0]; // 2
 * ```
 */
export function scaleMatrix(a: Matrix, s: number): Matrix {
  return { data: a.data.map((v) => v * s), rows: a.rows, cols: a.cols };
}
