/**
 * Image operations of optical flow in the core's array ops, on stacks of single-channel planes
 * [P, H, W] (one plane per frame pair), so one call processes every pair of a clip and the same
 * code runs on the CPU reference device and on the GPU:
 *
 * - `separable`: a linear separable operator (blur, gradient, resize; `image_operators.ts`) as
 *   two matmuls,
 * - `warpBilinear`: bilinear sampling at per-pixel displaced positions, a gather (`lax.take`) of
 *   the four neighbours from the flattened stack,
 * - `solveStructure` / `smallerEigenvalue`: the per-pixel closed-form 2x2 algebra of
 *   Lucas-Kanade,
 * - `lumaOf`: RGB frames [T, H, W, 3] to luma planes [T, H, W].
 *
 * Constants are arguments. Functions that run inside `jit` (everything here but `lumaOf` and
 * the host-side builders) take their constants (coordinate grids, bounds, the regularizer) as
 * arrays instead of number literals: a literal becomes an array created while tracing, which
 * the compiled program then holds as a captured constant, and a `scope` around the first call
 * frees it and breaks later calls (see the report on `autograd/jit.ts`). It also means a new
 * regularizer value reuses the compiled program.
 *
 * @module
 */
import { lax, type NDArray, np } from "../autograd/mod.ts";
import { type Matrix, transposeMatrix } from "./image_operators.ts";

/**
 * A separable linear operator on device: `rows` [H', H] (or batched, [..., H', H]) acts on the y
 * axis from the left, `colsT` [W, W'] (the transposed column operator) on the x axis from the
 * right.
 */
export interface SeparableOp {
  readonly rows: NDArray;
  readonly colsT: NDArray;
}

/**
 * Uploads a host matrix as a float32 array [rows, cols].
 *
 * @example
 * ```ts ignore
 * import { uploadMatrix } from "./flow_ops.ts";
 * import { resizeMatrix } from "./image_operators.ts";
 * uploadMatrix(resizeMatrix(4, 2)).shape; // [2, 4]
 * ```
 */
export function uploadMatrix(m: Matrix): NDArray {
  return np.array(Float32Array.from(m.data), { shape: [m.rows, m.cols], dtype: "float32" });
}

/**
 * Uploads the row operator [H', H] and the column operator [W', W] of a separable operator.
 *
 * @example
 * ```ts ignore
 * import { separableOp } from "./flow_ops.ts";
 * import { resizeMatrix } from "./image_operators.ts";
 * const half = separableOp(resizeMatrix(32, 16), resizeMatrix(48, 24)); // [P, 32, 48] -> [P, 16, 24]
 * ```
 */
export function separableOp(rows: Matrix, cols: Matrix): SeparableOp {
  return { rows: uploadMatrix(rows), colsT: uploadMatrix(transposeMatrix(cols)) };
}

/**
 * Applies a separable operator to planes [..., H, W] -> [..., H', W']: rows x colsT, two matmuls.
 *
 * @example
 * ```ts ignore
 * import { separable, separableOp } from "./flow_ops.ts";
 * import { convolutionMatrix, gaussianKernel } from "./image_operators.ts";
 * const g = gaussianKernel(2);
 * const blur = separableOp(convolutionMatrix(32, g), convolutionMatrix(32, g));
 * separable(np.ones([5, 32, 32]), blur); // still ones: rows of the operators sum to 1
 * ```
 */
export function separable(x: NDArray, op: SeparableOp): NDArray {
  const h = x.shape[x.ndim - 2], w = x.shape[x.ndim - 1];
  const [hOut, hIn] = op.rows.shape.slice(-2) as [number, number];
  const [wIn, wOut] = op.colsT.shape as [number, number];
  if (h !== hIn || w !== wIn) {
    throw new RangeError(
      `separable: planes [${x.shape}] do not match operators [${hOut}, ${hIn}] and ` +
        `[${wOut}, ${wIn}] (rows act on H, columns on W)`,
    );
  }
  const lead = x.shape.slice(0, -2);
  // [..., H, W] viewed as [N * H, W]: the column pass is one plain matmul, no broadcast.
  const cols = np.matmul(np.reshape(x, [-1, w]), op.colsT); // [N * H, W']
  const y = np.reshape(cols, [...lead, h, wOut]); // [..., H, W']
  // The row operator broadcasts over the leading axes: [H', H] @ [..., H, W'] -> [..., H', W'].
  return np.matmul(op.rows, y);
}

/** Coordinates, bounds and offsets `warpBilinear` reads (host-built, see the module note). */
export interface WarpGrid {
  /** Column coordinate of each pixel, [1, 1, W] float32 (0 .. W - 1). */
  readonly x: NDArray;
  /** Row coordinate of each pixel, [1, H, 1] float32. */
  readonly y: NDArray;
  /** W - 1 and H - 1, each [1, 1, 1] float32: sample positions are clamped to the image. */
  readonly xMax: NDArray;
  readonly yMax: NDArray;
  /** 0, [1, 1, 1] float32. */
  readonly zero: NDArray;
  /** Flat offset p H W of each plane p, [P, 1, 1] int32. */
  readonly planeOffset: NDArray;
  /** The row stride W, [1, 1, 1] int32. */
  readonly rowStride: NDArray;
}

/**
 * The grid of `warpBilinear` for planes [P, H, W].
 *
 * @example
 * ```ts ignore
 * import { warpGrid } from "./flow_ops.ts";
 * warpGrid(4, 32, 48).planeOffset.shape; // [4, 1, 1]
 * ```
 */
export function warpGrid(p: number, h: number, w: number): WarpGrid {
  if (p * h * w > 2 ** 31 - 1) {
    throw new RangeError(`warpGrid: [${p}, ${h}, ${w}] has too many pixels for int32 indices`);
  }
  const scalar = (v: number) => np.array(new Float32Array([v]), { shape: [1, 1, 1] });
  return {
    x: np.array(Float32Array.from({ length: w }, (_, i) => i), { shape: [1, 1, w] }),
    y: np.array(Float32Array.from({ length: h }, (_, i) => i), { shape: [1, h, 1] }),
    xMax: scalar(w - 1),
    yMax: scalar(h - 1),
    zero: scalar(0),
    planeOffset: np.array(Int32Array.from({ length: p }, (_, i) => i * h * w), {
      shape: [p, 1, 1],
    }),
    rowStride: np.array(new Int32Array([w]), { shape: [1, 1, 1] }),
  };
}

/**
 * The grid with every member broadcast to [P, H, W]: done once per level before the warping
 * loop, so devices that materialize broadcasts (the reference interpreter) do it once, not once
 * per iteration. On the GPU a broadcast is a view either way.
 *
 * @example
 * ```ts ignore
 * import { expandGrid, warpGrid } from "./flow_ops.ts";
 * expandGrid(warpGrid(4, 32, 48), [4, 32, 48]).x.shape; // [4, 32, 48]
 * ```
 */
export function expandGrid(grid: WarpGrid, shape: readonly number[]): WarpGrid {
  const full = (a: NDArray) => np.broadcastTo(a, shape);
  return {
    x: full(grid.x),
    y: full(grid.y),
    xMax: full(grid.xMax),
    yMax: full(grid.yMax),
    zero: full(grid.zero),
    planeOffset: full(grid.planeOffset),
    rowStride: full(grid.rowStride),
  };
}

/**
 * The operator with its row matrix broadcast over `batch` planes ([batch, H', H]), so each
 * application is a batched matmul without a broadcast (hoisted out of loops, as `expandGrid`).
 *
 * @example
 * ```ts ignore
 * import { batchedOp } from "./flow_ops.ts";
 * batchedOp(blur, 8).rows.shape; // [8, H, H]
 * ```
 */
export function batchedOp(op: SeparableOp, batch: number): SeparableOp {
  const [hOut, hIn] = op.rows.shape.slice(-2) as [number, number];
  return { rows: np.broadcastTo(op.rows, [batch, hOut, hIn]), colsT: op.colsT };
}

/** a + t (b - a), elementwise. */
function lerp(a: NDArray, b: NDArray, t: NDArray): NDArray {
  return np.add(a, np.multiply(t, np.subtract(b, a)));
}

/**
 * Samples each plane of `images` [P, H, W] at (x + u, y + v) with bilinear weights, positions
 * clamped to the image (edge replication). The four neighbours come from one gather each: int32
 * flat indices p H W + row W + column from the floor and ceiling of the position into the
 * flattened stack [P H W].
 *
 * @example
 * ```ts ignore
 * import { warpBilinear, warpGrid } from "./flow_ops.ts";
 * const ramp = np.array([[[0, 1, 2, 3]]]); // [1, 1, 4]
 * const half = np.full([1, 1, 4], 0.5), zero = np.zeros([1, 1, 4]);
 * warpBilinear(ramp, half, zero, warpGrid(1, 1, 4)); // [[[0.5, 1.5, 2.5, 3]]]
 * ```
 */
export function warpBilinear(images: NDArray, u: NDArray, v: NDArray, grid: WarpGrid): NDArray {
  const shape = images.shape;
  if (shape.length !== 3 || [u, v].some((f) => f.shape.join() !== shape.join())) {
    throw new RangeError(
      `warpBilinear: images [${shape}], u [${u.shape}] and v [${v.shape}] must be equal [P, H, W]`,
    );
  }
  const sx = np.clip(np.add(grid.x, u), grid.zero, grid.xMax); // [P, H, W]
  const sy = np.clip(np.add(grid.y, v), grid.zero, grid.yMax);
  const x0 = np.floor(sx), y0 = np.floor(sy);
  const fx = np.subtract(sx, x0), fy = np.subtract(sy, y0);
  // Flat indices into [P * H * W]: plane offset + row * W + column (all in range after the clamp).
  const rowIndex = (y: NDArray) =>
    np.add(grid.planeOffset, np.multiply(np.astype(y, "int32"), grid.rowStride));
  const row0 = rowIndex(y0), row1 = rowIndex(np.ceil(sy));
  const col0 = np.astype(x0, "int32"), col1 = np.astype(np.ceil(sx), "int32");
  const flat = np.reshape(images, [-1]); // [P * H * W]
  // lax.take, not np.take: np.take's negative-index fix-up adds scalar constants (module note).
  const at = (row: NDArray, col: NDArray) => lax.take(flat, np.add(row, col), 0);
  const top = lerp(at(row0, col0), at(row0, col1), fx);
  const bottom = lerp(at(row1, col0), at(row1, col1), fx);
  return lerp(top, bottom, fy);
}

/** The windowed structure tensor of Lucas-Kanade, regularized, with its determinant. */
export interface Structure {
  /** sum w Ix^2 + r, sum w Ix Iy, sum w Iy^2 + r; each [P, H, W]. */
  readonly sxx: NDArray;
  readonly sxy: NDArray;
  readonly syy: NDArray;
  /** sxx syy - sxy^2 (>= r^2 > 0). */
  readonly det: NDArray;
}

/**
 * The structure tensor from windowed gradient products (Lucas and Kanade 1981): adds the
 * Tikhonov term `reg` ([1, 1, 1]) to the diagonal and forms the determinant.
 *
 * @example
 * ```ts ignore
 * import { structureTensor } from "./flow_ops.ts";
 * const s = structureTensor(wxx, wxy, wyy, reg); // s.det > 0 everywhere
 * ```
 */
export function structureTensor(
  wxx: NDArray,
  wxy: NDArray,
  wyy: NDArray,
  reg: NDArray,
): Structure {
  const sxx = np.add(wxx, reg), syy = np.add(wyy, reg);
  return {
    sxx,
    sxy: wxy,
    syy,
    det: np.subtract(np.multiply(sxx, syy), np.multiply(wxy, wxy)),
  };
}

/**
 * Per-pixel closed-form solve of [sxx sxy; sxy syy] [du dv]^T = -[bx by]^T (Cramer's rule):
 * du = (sxy by - syy bx) / det, dv = (sxy bx - sxx by) / det.
 *
 * @example
 * ```ts ignore
 * import { solveStructure } from "./flow_ops.ts";
 * const [du, dv] = solveStructure(s, bx, by); // each [P, H, W]
 * ```
 */
export function solveStructure(s: Structure, bx: NDArray, by: NDArray): [NDArray, NDArray] {
  const du = np.divide(np.subtract(np.multiply(s.sxy, by), np.multiply(s.syy, bx)), s.det);
  const dv = np.divide(np.subtract(np.multiply(s.sxy, bx), np.multiply(s.sxx, by)), s.det);
  return [du, dv];
}

/**
 * The smaller eigenvalue of the unregularized tensor, clamped at 0: texture strength (Shi and
 * Tomasi 1994). With trace t, determinant d and root q = sqrt((sxx - syy)^2 + (2 sxy)^2),
 * lambda_min = (t - q) / 2 = 2 d / (t + q), the cancellation-free form (and no scalar literal).
 *
 * @example
 * ```ts ignore
 * import { smallerEigenvalue } from "./flow_ops.ts";
 * const confidence = smallerEigenvalue(s, reg, zero); // [P, H, W]
 * ```
 */
export function smallerEigenvalue(s: Structure, reg: NDArray, zero: NDArray): NDArray {
  const diff = np.subtract(s.sxx, s.syy), twice = np.add(s.sxy, s.sxy);
  const root = np.sqrt(np.add(np.multiply(diff, diff), np.multiply(twice, twice)));
  const lambda = np.divide(np.add(s.det, s.det), np.add(np.add(s.sxx, s.syy), root));
  return np.maximum(np.subtract(lambda, reg), zero);
}

/**
 * Luma planes [T, H, W] in 0..255 (BT.601 weights) from RGB frames [T, H, W, 3]: int32 frames
 * hold 0..255, float frames [0, 1] (the two dtypes of `framesToArray`).
 *
 * @example
 * ```ts ignore
 * import { lumaOf } from "./flow_ops.ts";
 * import { framesToArray } from "./frames.ts";
 * lumaOf(framesToArray(frames, { dtype: "float32" })).shape; // [T, H, W]
 * ```
 */
export function lumaOf(frames: NDArray): NDArray {
  if (frames.ndim !== 4 || frames.shape[3] !== 3) {
    throw new RangeError(`lumaOf: frames must be [T, H, W, 3], got [${frames.shape}]`);
  }
  const [t, h, w] = frames.shape as [number, number, number, 3];
  const unit = frames.dtype === "int32" || frames.dtype === "uint32" ? 1 : 255;
  const weights = np.array(new Float32Array([0.299 * unit, 0.587 * unit, 0.114 * unit]), {
    shape: [3, 1],
  });
  // [T, H, W, 3] viewed as [T H W, 3] @ [3, 1] -> [T H W, 1], then back to [T, H, W].
  const rgb = np.reshape(np.astype(frames, "float32"), [-1, 3]);
  return np.reshape(np.matmul(rgb, weights), [t, h, w]);
}
