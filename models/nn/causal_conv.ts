/**
 * The CogVideoX causal 3-D convolution (architecture spec section 4 and section 9 item 10;
 * diffusers' `CogVideoXCausalConv3d` with `pad_mode="constant"`): no output frame sees a later
 * input frame. In time, the input is prefixed with `kT - 1` frames: copies of its first frame
 * when no cache is given, else the cache, which is the last `kT - 1` frames of the previous
 * chunk's time-padded input at this layer. Space is zero-padded by `(k - 1) / 2` on each side.
 * Stride and dilation apply to time only (spatial stride and dilation are 1), as in the
 * official module.
 *
 * Applying it chunk by chunk while carrying the returned cache gives exactly the output of one
 * call on the whole clip (the test checks this), which is how the VAE encodes long videos.
 *
 * @module
 */

import { lax, type NDArray, np } from "../../autograd/mod.ts";
import { fmtShape } from "../../kernels/shape.ts";
import { type ConvConfig, initConv, namedConv } from "./conv.ts";
import type { ParamDType } from "./init.ts";

/** Options of {@link causalConv3d}. */
export interface CausalConv3dOptions {
  /** The last `kT - 1` frames of the previous chunk's time-padded input, `[B, C, kT-1, H, W]`. */
  readonly cache?: NDArray | null;
  /** Time stride (default 1). */
  readonly stride?: number;
  /** Time dilation (default 1; the official module still pads only `kT - 1` frames). */
  readonly dilation?: number;
}

/** What {@link causalConv3d} returns: the output and the cache for the next chunk. */
export interface CausalConv3dResult {
  /** `[B, O, T', H', W']`. */
  readonly out: NDArray;
  /** `[B, C, kT-1, H, W]` to pass with the next chunk; null for a time kernel of 1. */
  readonly cache: NDArray | null;
}

/**
 * Causal 3-D convolution of x `[B, C, T, H, W]` with weight `[O, C, kT, kH, kW]` (odd kH, kW),
 * bias `[O]`. Returns the output and the cache for the next chunk.
 *
 * @example
 * ```ts ignore
 * const a = nn.causalConv3d(chunk1, w, b);                     // frame 0 repeated twice
 * const c = nn.causalConv3d(chunk2, w, b, { cache: a.cache }); // continues the clip
 * ```
 */
export function causalConv3d(
  x: NDArray,
  weight: NDArray,
  bias?: NDArray | null,
  options: CausalConv3dOptions = {},
): CausalConv3dResult {
  if (x.ndim !== 5 || weight.ndim !== 5) {
    throw new Error(
      `causalConv3d: needs x [B, C, T, H, W] and weight [O, C, kT, kH, kW], got ${x.describe()} and ${weight.describe()}`,
    );
  }
  const [kT, kH, kW] = weight.shape.slice(2) as [number, number, number];
  if (kH % 2 === 0 || kW % 2 === 0) {
    throw new Error(
      `causalConv3d: spatial kernel ${fmtShape([kH, kW])} must be odd (centred padding)`,
    );
  }
  const [b, c, t, h, w] = x.shape as [number, number, number, number, number];
  if (t < 1) throw new Error(`causalConv3d: input ${x.describe()} has no frames`);
  const timePad = kT - 1;
  let padded = x;
  let cache: NDArray | null = null;
  if (timePad > 0) {
    const given = options.cache ?? null;
    let prefix: NDArray;
    if (given) {
      const expected = [b, c, timePad, h, w];
      if (
        given.ndim !== 5 || given.shape.some((d, i) => d !== expected[i]) || given.dtype !== x.dtype
      ) {
        throw new Error(
          `causalConv3d: cache ${given.describe()} does not fit input ${x.describe()}; expected ${x.dtype}${
            fmtShape(expected)
          }`,
        );
      }
      prefix = given;
    } else {
      // kT - 1 copies of frame 0: [B, C, 1, H, W] broadcast to [B, C, kT-1, H, W].
      prefix = np.broadcastTo(np.sliceAxis(x, 2, 0, 1), [b, c, timePad, h, w]);
    }
    padded = lax.concatenate([prefix, x], 2); // [B, C, kT-1+T, H, W]
    cache = np.sliceAxis(padded, 2, -timePad, null); // the last kT-1 frames of the padded input
  }
  const out = namedConv("causalConv3d", padded, weight, bias ?? null, {
    stride: [options.stride ?? 1, 1, 1],
    dilation: [options.dilation ?? 1, 1, 1],
    padding: [[0, 0], [(kH - 1) / 2, (kH - 1) / 2], [(kW - 1) / 2, (kW - 1) / 2]],
  });
  return { out, cache };
}

/** Configuration of {@link CausalConv3d}. */
export interface CausalConv3dConfig {
  readonly inChannels: number;
  readonly outChannels: number;
  /** Kernel `[kT, kH, kW]` or one size for all (3 in the VAE). */
  readonly kernelSize: number | readonly number[];
  /** Time stride (default 1). */
  readonly stride?: number;
  /** Time dilation (default 1). */
  readonly dilation?: number;
  readonly bias?: boolean;
  readonly dtype?: ParamDType;
}

/** Parameters of a causal convolution, nested as the checkpoint's `conv_in.conv.weight`. */
export interface CausalConv3dParams {
  readonly conv: { readonly weight: NDArray; readonly bias?: NDArray };
}

/**
 * The causal convolution as `{ init, apply }`; params nest under `conv` as in the checkpoint
 * (`encoder.conv_in.conv.weight`).
 *
 * @example
 * ```ts ignore
 * const p = nn.CausalConv3d.init(key, { inChannels: 3, outChannels: 128, kernelSize: 3 });
 * const { out, cache } = nn.CausalConv3d.apply(p, x);
 * ```
 */
export const CausalConv3d = {
  /** `{ conv: { weight [O, C, kT, kH, kW], bias [O] } }`. */
  init(key: NDArray, config: CausalConv3dConfig): CausalConv3dParams {
    const convConfig: ConvConfig = {
      inChannels: config.inChannels,
      outChannels: config.outChannels,
      kernelSize: config.kernelSize,
      ...(config.bias === undefined ? {} : { bias: config.bias }),
      ...(config.dtype === undefined ? {} : { dtype: config.dtype }),
    };
    return { conv: initConv(key, convConfig, 3, "CausalConv3d") };
  },
  /** `x [B, C, T, H, W] -> { out [B, O, T', H, W], cache }`. */
  apply(
    params: CausalConv3dParams,
    x: NDArray,
    options: CausalConv3dOptions = {},
  ): CausalConv3dResult {
    return causalConv3d(x, params.conv.weight, params.conv.bias ?? null, options);
  },
};
