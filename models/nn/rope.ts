/**
 * 3-D rotary position embedding of DropletVideo / CogVideoX (architecture spec section 2 and
 * section 9 items 5-6; Su et al. 2021 for RoPE; diffusers v0.32 `get_3d_rotary_pos_embed` and the
 * pipeline's `_prepare_rotary_positional_embeddings`):
 *
 * - The head dim splits into time : height : width = `hd/4 : 3hd/8 : 3hd/8` (16:24:24 for 64).
 * - Per axis of size `d`, frequencies `1 / theta^(2i / d)`, `i < d/2`, theta 10000; angles are
 *   `position * frequency`; each cos/sin is repeated twice (interleaved pairs).
 * - Time positions are `0..T-1`. The latent grid `(gh, gw)` is placed in the 30 x 45 base grid
 *   (720 x 480 px / 16) by resize-and-centre-crop, rounding half to even (Python's `round`);
 *   positions along each spatial axis are `linspace(start, stop * (n-1) / n, n)`.
 * - Everything in float32, as the reference does it (float32 `torch.linspace`, `pow`, products).
 * - Applied as `x * cos + rotate_pairs(x) * sin`, `rotate_pairs([x0, x1, ...]) = [-x1, x0, ...]`.
 *
 * The tables are static (they depend on sizes only), so they are computed on the host.
 *
 * @module
 */

import { lax, type NDArray, np } from "../../autograd/mod.ts";
import { fmtShape } from "../../kernels/shape.ts";

const f32 = Math.fround;

/**
 * Python's `round` on a float: to the nearest integer, ties to the even one (`round(0.5) == 0`,
 * `round(2.5) == 2`), unlike `Math.round`, which rounds ties up.
 *
 * @example
 * ```ts
 * import { roundHalfEven } from "./rope.ts";
 * roundHalfEven(0.5); // 0
 * roundHalfEven(11.5); // 12
 * ```
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f; // exact for doubles
  if (diff < 0.5) return f;
  if (diff > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** A crop region in the base grid: rows `[top, bottom)`, columns `[left, right)`. */
export interface CropRegion {
  readonly top: number;
  readonly left: number;
  readonly bottom: number;
  readonly right: number;
}

/**
 * Where a latent grid of `gridHeight x gridWidth` tokens lands in the base grid (CogVideoX's
 * `get_resize_crop_region_for_grid`): resize to fit the base grid keeping the aspect ratio,
 * then centre, both rounding half to even.
 *
 * @example
 * ```ts
 * import { ropeCropRegion } from "./rope.ts";
 * ropeCropRegion(15, 22); // { top: 0, left: 0, bottom: 30, right: 44 } (Math.round would give left 1)
 * ```
 */
export function ropeCropRegion(
  gridHeight: number,
  gridWidth: number,
  baseHeight = 30,
  baseWidth = 45,
): CropRegion {
  const [th, tw, h, w] = [baseHeight, baseWidth, gridHeight, gridWidth];
  let resizeHeight: number, resizeWidth: number;
  if (h / w > th / tw) {
    resizeHeight = th;
    resizeWidth = roundHalfEven((th / h) * w); // Python: th / h * w, left to right
  } else {
    resizeWidth = tw;
    resizeHeight = roundHalfEven((tw / w) * h);
  }
  const top = roundHalfEven((th - resizeHeight) / 2);
  const left = roundHalfEven((tw - resizeWidth) / 2);
  return { top, left, bottom: top + resizeHeight, right: left + resizeWidth };
}

/**
 * `torch.linspace(start, end, n, dtype=float32)` as PyTorch's CPU kernel computes it: the step
 * `(end - start) / (n - 1)` in float32, the first half counted from `start`, the second half
 * back from `end`.
 *
 * @example
 * ```ts
 * import { linspaceFloat32 } from "./rope.ts";
 * linspaceFloat32(0, 3, 4); // Float32Array [0, 1, 2, 3]
 * ```
 */
export function linspaceFloat32(start: number, end: number, n: number): Float32Array {
  const out = new Float32Array(n);
  if (n === 0) return out;
  const s = f32(start), e = f32(end);
  if (n === 1) {
    out[0] = s;
    return out;
  }
  const step = f32(f32(e - s) / (n - 1));
  const halfway = Math.floor(n / 2);
  for (let i = 0; i < n; i++) {
    out[i] = i < halfway ? f32(s + f32(step * i)) : f32(e - f32(step * (n - i - 1)));
  }
  return out;
}

/**
 * Positions of `n` tokens along an axis cropped to `[start, stop)` of the base grid:
 * `linspace(start, stop * (n - 1) / n, n)` (the end computed in double precision, as Python
 * does, then the linspace in float32).
 *
 * @example
 * ```ts
 * import { ropeAxisPositions } from "./rope.ts";
 * ropeAxisPositions(0, 44, 22); // [0, 2, 4, ..., 42]
 * ```
 */
export function ropeAxisPositions(start: number, stop: number, n: number): Float32Array {
  return linspaceFloat32(start, (stop * (n - 1)) / n, n);
}

/**
 * The float32 cos and sin tables `[positions.length, dim]` of one axis: angles
 * `position * theta^(-2i/dim)`, each repeated twice along the last axis.
 *
 * @example
 * ```ts
 * import { rope1dTables } from "./rope.ts";
 * rope1dTables(4, new Float32Array([0, 1])).cos; // [1, 1, 1, 1, cos 1, cos 1, cos 0.01, cos 0.01]
 * ```
 */
export function rope1dTables(
  dim: number,
  positions: Float32Array,
  theta = 10000,
): { cos: Float32Array; sin: Float32Array } {
  if (!Number.isInteger(dim) || dim < 2 || dim % 2 !== 0) {
    throw new Error(`rope: each axis needs an even dim, got ${dim}`);
  }
  const half = dim / 2;
  // 1 / theta^(arange(0, dim, 2) / dim), every operation rounded to float32.
  const freqs = Float32Array.from(
    { length: half },
    (_, i) => f32(1 / f32(Math.pow(theta, f32((2 * i) / dim)))),
  );
  const n = positions.length;
  const cos = new Float32Array(n * dim), sin = new Float32Array(n * dim);
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < half; i++) {
      const angle = f32(positions[p]! * freqs[i]!);
      const c = f32(Math.cos(angle)), s = f32(Math.sin(angle));
      cos[p * dim + 2 * i] = c;
      cos[p * dim + 2 * i + 1] = c;
      sin[p * dim + 2 * i] = s;
      sin[p * dim + 2 * i + 1] = s;
    }
  }
  return { cos, sin };
}

/** Sizes of a 3-D RoPE table. */
export interface Rope3dConfig {
  /** Latent frames T (time positions 0..T-1). */
  readonly frames: number;
  /** Token rows (latent height / patch). */
  readonly gridHeight: number;
  /** Token columns (latent width / patch). */
  readonly gridWidth: number;
  /** Attention head dim (a multiple of 16). */
  readonly headDim: number;
  /** Default 10000. */
  readonly theta?: number;
  /** Base grid rows (default 30 = 480 px / 16). */
  readonly baseHeight?: number;
  /** Base grid columns (default 45 = 720 px / 16). */
  readonly baseWidth?: number;
}

/** Host tables of a 3-D RoPE: `cos`, `sin` row-major `[tokens, headDim]`. */
export interface Rope3dTables {
  readonly cos: Float32Array;
  readonly sin: Float32Array;
  readonly tokens: number;
  readonly headDim: number;
}

/**
 * The 3-D RoPE tables on the host (see the module doc), tokens ordered frame, row, column.
 *
 * @example
 * ```ts
 * import { rope3dTables } from "./rope.ts";
 * rope3dTables({ frames: 2, gridHeight: 3, gridWidth: 4, headDim: 16 }).tokens; // 24
 * ```
 */
export function rope3dTables(config: Rope3dConfig): Rope3dTables {
  const { frames, gridHeight: gh, gridWidth: gw, headDim: hd } = config;
  for (const [name, v] of [["frames", frames], ["gridHeight", gh], ["gridWidth", gw]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(`rope3d: ${name} must be a positive integer, got ${v}`);
    }
  }
  if (!Number.isInteger(hd) || hd < 16 || hd % 16 !== 0) {
    throw new Error(
      `rope3d: headDim must be a positive multiple of 16 (even t/h/w parts), got ${hd}`,
    );
  }
  const theta = config.theta ?? 10000;
  const dimT = hd / 4, dimH = (hd / 8) * 3, dimW = (hd / 8) * 3;
  const crop = ropeCropRegion(gh, gw, config.baseHeight ?? 30, config.baseWidth ?? 45);
  const t = rope1dTables(dimT, ropeAxisPositions(0, frames, frames), theta);
  const h = rope1dTables(dimH, ropeAxisPositions(crop.top, crop.bottom, gh), theta);
  const w = rope1dTables(dimW, ropeAxisPositions(crop.left, crop.right, gw), theta);
  const tokens = frames * gh * gw;
  const cos = new Float32Array(tokens * hd), sin = new Float32Array(tokens * hd);
  for (let f = 0; f < frames; f++) {
    for (let y = 0; y < gh; y++) {
      for (let x = 0; x < gw; x++) {
        const row = ((f * gh + y) * gw + x) * hd; // token (f, y, x): [time | height | width]
        cos.set(t.cos.subarray(f * dimT, (f + 1) * dimT), row);
        sin.set(t.sin.subarray(f * dimT, (f + 1) * dimT), row);
        cos.set(h.cos.subarray(y * dimH, (y + 1) * dimH), row + dimT);
        sin.set(h.sin.subarray(y * dimH, (y + 1) * dimH), row + dimT);
        cos.set(w.cos.subarray(x * dimW, (x + 1) * dimW), row + dimT + dimH);
        sin.set(w.sin.subarray(x * dimW, (x + 1) * dimW), row + dimT + dimH);
      }
    }
  }
  return { cos, sin, tokens, headDim: hd };
}

/** A RoPE table as arrays: `cos`, `sin` float32 `[tokens, headDim]`. */
export interface Rope {
  readonly cos: NDArray;
  readonly sin: NDArray;
}

/**
 * The 3-D RoPE table as float32 arrays `[F * gh * gw, headDim]` on the current device.
 *
 * @example
 * ```ts ignore
 * // 49 frames at 480x720 px: 13 latent frames, a 30x45 token grid, head dim 64.
 * const rope = nn.rope3d({ frames: 13, gridHeight: 30, gridWidth: 45, headDim: 64 });
 * rope.cos.shape; // [17550, 64]
 * ```
 */
export function rope3d(config: Rope3dConfig): Rope {
  const tables = rope3dTables(config);
  const shape = [tables.tokens, tables.headDim];
  return { cos: np.array(tables.cos, { shape }), sin: np.array(tables.sin, { shape }) };
}

/**
 * Rotates `x` `[B, H, S, D]` by a RoPE table `[L, D]` on the tokens `[start, start + L)`
 * (default start 0; DropletVideo passes the text length, as only video tokens rotate):
 * `x * cos + rotate_pairs(x) * sin` in float32, cast back to x's dtype.
 *
 * @example
 * ```ts ignore
 * const q2 = nn.applyRope(q, rope, { start: 400 }); // q [B, 48, 400 + L, 64]
 * ```
 */
export function applyRope(x: NDArray, rope: Rope, options: { start?: number } = {}): NDArray {
  if (x.ndim !== 4) throw new Error(`applyRope: needs x [B, H, S, D], got ${x.describe()}`);
  const [b, h, s, d] = x.shape as [number, number, number, number];
  const { cos, sin } = rope;
  const start = options.start ?? 0;
  if (
    cos.ndim !== 2 || cos.shape[1] !== d || sin.ndim !== 2 || sin.shape[0] !== cos.shape[0] ||
    sin.shape[1] !== d || d % 2 !== 0
  ) {
    throw new Error(
      `applyRope: table cos ${cos.describe()}, sin ${sin.describe()} must be [L, ${d}] for x ${x.describe()}`,
    );
  }
  const l = cos.shape[0]!;
  if (!Number.isInteger(start) || start < 0 || start + l > s) {
    throw new Error(
      `applyRope: ${l} rotated tokens from ${start} do not fit the ${s} tokens of ${x.describe()} (${
        fmtShape(cos.shape)
      })`,
    );
  }
  const seg = start === 0 && l === s ? x : np.sliceAxis(x, 2, start, start + l); // [B, H, L, D]
  const xf = np.astype(seg, "float32");
  const shape = [b, h, l, d];
  const even = lax.slice(xf, [0, 0, 0, 0], shape, [1, 1, 1, 2]); // x0, x2, ...: [B, H, L, D/2]
  const odd = lax.slice(xf, [0, 0, 0, 1], shape, [1, 1, 1, 2]); // x1, x3, ...: [B, H, L, D/2]
  // [B, H, L, D/2, 2] pairs (-x1, x0), flattened back to [B, H, L, D]: [-x1, x0, -x3, x2, ...].
  const rotated = lax.reshape(np.stack([np.negative(odd), even], -1), shape);
  const c = lax.broadcast(np.astype(cos, "float32"), shape, [2, 3]); // [L, D] -> [B, H, L, D]
  const sn = lax.broadcast(np.astype(sin, "float32"), shape, [2, 3]);
  const out = np.astype(np.add(np.multiply(xf, c), np.multiply(rotated, sn)), x.dtype);
  if (start === 0 && l === s) return out;
  const parts = [
    ...(start > 0 ? [np.sliceAxis(x, 2, 0, start)] : []),
    out,
    ...(start + l < s ? [np.sliceAxis(x, 2, start + l, null)] : []),
  ];
  return lax.concatenate(parts, 2); // [B, H, S, D]: untouched text tokens around the rotated ones
}
