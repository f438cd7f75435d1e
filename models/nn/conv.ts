/**
 * Convolutions in PyTorch's layouts: input `[B, C, ...spatial]`, weight `[O, C/groups,
 * ...kernel]`, bias `[O]`. One call to the `conv` primitive per convolution (the backend lowers
 * it to an implicit-GEMM kernel; nothing here materializes im2col patches).
 *
 * @module
 */

import { lax, type NDArray, random } from "../../autograd/mod.ts";
import type { ConvParams } from "../../kernels/primitives.ts";
import { fmtShape } from "../../kernels/shape.ts";
import { checkParamDType, checkPositive, fanInUniform, type ParamDType } from "./init.ts";

/**
 * Zero padding of the spatial axes: one number for all sides, one number per axis (both
 * sides), a `[low, high]` pair per axis, `"valid"` (none) or `"same"` (output size = input size
 * at stride 1; the extra element goes on the high side, as PyTorch).
 */
export type Padding =
  | number
  | readonly number[]
  | readonly (readonly [number, number])[]
  | "valid"
  | "same";

/** Options of the convolutions. */
export interface ConvOptions {
  /** Window stride: one for all spatial axes or one per axis (default 1). */
  readonly stride?: number | readonly number[];
  /** Zero padding (default 0). */
  readonly padding?: Padding;
  /** Kernel dilation: one for all axes or one per axis (default 1). */
  readonly dilation?: number | readonly number[];
  /** Feature groups: C and O are both split into `groups` (default 1; C for depthwise). */
  readonly groups?: number;
}

/**
 * Expands a per-axis integer option (a number or a list of `n`) into a list of `n` values.
 *
 * @example
 * ```ts
 * import { perAxis } from "./conv.ts";
 * perAxis("conv3d", "stride", 2, 3); // [2, 2, 2]
 * ```
 */
export function perAxis(
  layer: string,
  name: string,
  value: number | readonly number[] | undefined,
  n: number,
  fallback = 1,
): number[] {
  const list = value === undefined
    ? Array(n).fill(fallback)
    : typeof value === "number"
    ? Array(n).fill(value)
    : [...value];
  if (list.length !== n || list.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new Error(`${layer}: ${name} ${JSON.stringify(value)} must be ${n} positive integers`);
  }
  return list;
}

/**
 * Resolves a {@link Padding} into `[low, high]` pairs for a kernel of `kernel` sizes.
 *
 * @example
 * ```ts
 * import { resolvePadding } from "./conv.ts";
 * resolvePadding("conv2d", "same", [3, 4], [1, 1], [1, 1]); // [[1, 1], [1, 2]]
 * ```
 */
export function resolvePadding(
  layer: string,
  padding: Padding | undefined,
  kernel: readonly number[],
  dilation: readonly number[],
  stride: readonly number[],
): [number, number][] {
  const n = kernel.length;
  if (padding === undefined || padding === "valid") return kernel.map(() => [0, 0]);
  if (padding === "same") {
    if (stride.some((s) => s !== 1)) {
      throw new Error(`${layer}: padding "same" needs stride 1, got stride [${stride}]`);
    }
    return kernel.map((k, i) => {
      const total = dilation[i]! * (k - 1);
      const lo = Math.floor(total / 2);
      return [lo, total - lo];
    });
  }
  let pairs: [number, number][];
  if (typeof padding === "number") pairs = kernel.map(() => [padding, padding]);
  else if (padding.length > 0 && typeof padding[0] === "number") {
    pairs = (padding as readonly number[]).map((p) => [p, p]);
  } else pairs = (padding as readonly (readonly [number, number])[]).map(([lo, hi]) => [lo, hi]);
  if (
    pairs.length !== n ||
    pairs.some(([lo, hi]) => !Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi < 0)
  ) {
    throw new Error(
      `${layer}: padding ${
        JSON.stringify(padding)
      } must be non-negative integers for ${n} spatial axes`,
    );
  }
  return pairs;
}

/**
 * An N-d convolution (N = weight rank - 2): x `[B, C, ...spatial]`, weight `[O, C/groups,
 * ...kernel]`, bias `[O]` -> `[B, O, ...out]` with
 * `out = floor((in + lo + hi - dilation (k - 1) - 1) / stride) + 1`.
 *
 * @example
 * ```ts ignore
 * nn.conv(x, w, b, { stride: 2, padding: 1 });
 * ```
 */
export function conv(
  x: NDArray,
  weight: NDArray,
  bias?: NDArray | null,
  options: ConvOptions = {},
): NDArray {
  return namedConv("conv", x, weight, bias ?? null, options);
}

/**
 * {@link conv} with the calling layer's name in its error messages.
 *
 * @example
 * ```ts ignore
 * namedConv("conv3d", x, w, null, { padding: 1 });
 * ```
 */
export function namedConv(
  layer: string,
  x: NDArray,
  weight: NDArray,
  bias: NDArray | null,
  options: ConvOptions,
): NDArray {
  const nd = weight.ndim - 2;
  if (nd < 1 || x.ndim !== weight.ndim) {
    throw new Error(
      `${layer}: input ${x.describe()} and weight ${weight.describe()} must be [B, C, ...] and [O, C/groups, ...kernel] of one rank`,
    );
  }
  const groups = options.groups ?? 1;
  const [outC, inPerGroup] = [weight.shape[0]!, weight.shape[1]!];
  if (
    !Number.isInteger(groups) || groups < 1 || x.shape[1] !== inPerGroup * groups ||
    outC % groups !== 0
  ) {
    throw new Error(
      `${layer}: input ${x.describe()} has ${x.shape[1]} channels, weight ${
        fmtShape(weight.shape)
      } with ${groups} groups expects ${inPerGroup * groups} (and O divisible by groups)`,
    );
  }
  if (x.dtype !== weight.dtype) {
    throw new Error(
      `${layer}: input ${x.describe()} and weight ${weight.describe()} differ in dtype`,
    );
  }
  const stride = perAxis(layer, "stride", options.stride, nd);
  const dilation = perAxis(layer, "dilation", options.dilation, nd);
  const kernel = weight.shape.slice(2);
  const padding = resolvePadding(layer, options.padding, kernel, dilation, stride);
  x.shape.slice(2).forEach((size, i) => {
    if (size + padding[i]![0] + padding[i]![1] < dilation[i]! * (kernel[i]! - 1) + 1) {
      throw new Error(
        `${layer}: spatial axis ${i} of input ${x.describe()} (padded by [${
          padding[i]
        }]) is smaller than the dilated kernel ${fmtShape(kernel)}`,
      );
    }
  });
  const params: ConvParams = {
    strides: stride,
    padding,
    lhsDilation: kernel.map(() => 1),
    rhsDilation: dilation,
    groups,
  };
  const y = lax.conv(x, weight, params); // [B, O, ...out]
  if (!bias) return y;
  if (bias.ndim !== 1 || bias.shape[0] !== outC || bias.dtype !== y.dtype) {
    throw new Error(`${layer}: bias ${bias.describe()} does not match weight ${weight.describe()}`);
  }
  return lax.binary("add", y, lax.broadcast(bias, y.shape, [1])); // bias over axis O
}

/**
 * 2-D convolution: x `[B, C, H, W]`, weight `[O, C/groups, kH, kW]`.
 *
 * @example
 * ```ts ignore
 * nn.conv2d(x, w, b, { stride: 2 }); // the DiT patch embedding (kernel 2, stride 2)
 * ```
 */
export function conv2d(
  x: NDArray,
  weight: NDArray,
  bias?: NDArray | null,
  options: ConvOptions = {},
): NDArray {
  if (weight.ndim !== 4) {
    throw new Error(`conv2d: weight must be [O, C/groups, kH, kW], got ${weight.describe()}`);
  }
  return namedConv("conv2d", x, weight, bias ?? null, options);
}

/**
 * 3-D convolution: x `[B, C, T, H, W]`, weight `[O, C/groups, kT, kH, kW]`.
 *
 * @example
 * ```ts ignore
 * nn.conv3d(x, w, b, { padding: 1 }); // x [1, 128, 9, 64, 64], w [128, 128, 3, 3, 3]
 * ```
 */
export function conv3d(
  x: NDArray,
  weight: NDArray,
  bias?: NDArray | null,
  options: ConvOptions = {},
): NDArray {
  if (weight.ndim !== 5) {
    throw new Error(`conv3d: weight must be [O, C/groups, kT, kH, kW], got ${weight.describe()}`);
  }
  return namedConv("conv3d", x, weight, bias ?? null, options);
}

/** Configuration of a convolution layer ({@link Conv2d}, {@link Conv3d}). */
export interface ConvConfig extends ConvOptions {
  readonly inChannels: number;
  readonly outChannels: number;
  /** Kernel size: one for all spatial axes or one per axis. */
  readonly kernelSize: number | readonly number[];
  /** With a bias (default true). */
  readonly bias?: boolean;
  readonly dtype?: ParamDType;
}

/** Parameters of a convolution: weight `[O, C/groups, ...kernel]`, bias `[O]`. */
export interface ConvParamsTree {
  readonly weight: NDArray;
  readonly bias?: NDArray;
}

/**
 * Draws convolution parameters with PyTorch's default `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`,
 * `fan_in = C/groups * prod(kernel)`.
 *
 * @example
 * ```ts ignore
 * initConv(key, { inChannels: 3, outChannels: 8, kernelSize: 3 }, 3, "Conv3d");
 * ```
 */
export function initConv(
  key: NDArray,
  config: ConvConfig,
  nd: number,
  layer: string,
): ConvParamsTree {
  const c = checkPositive(layer, "inChannels", config.inChannels);
  const o = checkPositive(layer, "outChannels", config.outChannels);
  const groups = config.groups ?? 1;
  if (c % groups !== 0 || o % groups !== 0) {
    throw new Error(
      `${layer}: ${c} input and ${o} output channels do not split into ${groups} groups`,
    );
  }
  const kernel = perAxis(layer, "kernelSize", config.kernelSize, nd);
  const dtype = checkParamDType(layer, config.dtype ?? "float32");
  const shape = [o, c / groups, ...kernel];
  const fan = (c / groups) * kernel.reduce((a, b) => a * b, 1);
  const [kw, kb] = random.split(key);
  const weight = fanInUniform(kw!, shape, fan, dtype);
  if (config.bias === false) return { weight };
  return { weight, bias: fanInUniform(kb!, [o], fan, dtype) };
}

/**
 * A 2-D convolution layer as `{ init, apply }`; `apply` takes the stride, padding, dilation
 * and groups (pass the config again, or just those options).
 *
 * @example
 * ```ts ignore
 * const cfg = { inChannels: 33, outChannels: 64, kernelSize: 2, stride: 2 };
 * const p = nn.Conv2d.init(key, cfg);
 * nn.Conv2d.apply(p, x, cfg); // x [B, 33, H, W] -> [B, 64, H/2, W/2]
 * ```
 */
export const Conv2d = {
  /** `{ weight [O, C/groups, kH, kW], bias [O] }`. */
  init(key: NDArray, config: ConvConfig): ConvParamsTree {
    return initConv(key, config, 2, "Conv2d");
  },
  /** `x [B, C, H, W] -> [B, O, H', W']`. */
  apply(params: ConvParamsTree, x: NDArray, options: ConvOptions = {}): NDArray {
    return conv2d(x, params.weight, params.bias ?? null, options);
  },
};

/**
 * A 3-D convolution layer as `{ init, apply }`.
 *
 * @example
 * ```ts ignore
 * const cfg = { inChannels: 128, outChannels: 256, kernelSize: 1 };
 * nn.Conv3d.apply(nn.Conv3d.init(key, cfg), x, cfg); // the VAE's conv_shortcut
 * ```
 */
export const Conv3d = {
  /** `{ weight [O, C/groups, kT, kH, kW], bias [O] }`. */
  init(key: NDArray, config: ConvConfig): ConvParamsTree {
    return initConv(key, config, 3, "Conv3d");
  },
  /** `x [B, C, T, H, W] -> [B, O, T', H', W']`. */
  apply(params: ConvParamsTree, x: NDArray, options: ConvOptions = {}): NDArray {
    return conv3d(x, params.weight, params.bias ?? null, options);
  },
};
