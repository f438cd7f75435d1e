/**
 * Parameter initializers: pure functions of an explicit key, shape and dtype. The defaults of
 * the layers follow PyTorch (`nn.Linear`/`nn.Conv*`: `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` for
 * weight and bias, which is what `kaiming_uniform_(a=sqrt(5))` amounts to; `nn.Embedding`:
 * `N(0, 1)`; norms: weight 1, bias 0), so a model initialized here starts where its PyTorch
 * counterpart would.
 *
 * @module
 */

import { type NDArray, np, random } from "../../autograd/mod.ts";
import type { DType } from "../../kernels/dtype.ts";
import { fmtShape, type Shape } from "../../kernels/shape.ts";

/** A parameter dtype: layers hold float parameters. */
export type ParamDType = "float32" | "float16" | "bfloat16";

/**
 * Checks that `dtype` is a float parameter dtype (throws naming the layer otherwise).
 *
 * @example
 * ```ts ignore
 * checkParamDType("linear", "float16");
 * ```
 */
export function checkParamDType(layer: string, dtype: DType): ParamDType {
  if (dtype !== "float32" && dtype !== "float16" && dtype !== "bfloat16") {
    throw new Error(`${layer}: parameters must be float32, float16 or bfloat16, got ${dtype}`);
  }
  return dtype;
}

/**
 * Checks that a size or list of sizes are positive integers (throws naming the layer).
 *
 * @example
 * ```ts ignore
 * checkPositive("linear", "inFeatures", 4);
 * ```
 */
export function checkPositive(layer: string, name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${layer}: ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * Samples `U(-bound, bound)` of `shape`.
 *
 * @example
 * ```ts ignore
 * uniform(key, [8, 4], 0.5); // float32 [8, 4] in [-0.5, 0.5)
 * ```
 */
export function uniform(
  key: NDArray,
  shape: Shape,
  bound: number,
  dtype: ParamDType = "float32",
): NDArray {
  if (!(bound >= 0)) throw new Error(`init.uniform: bound must be >= 0, got ${bound}`);
  return random.uniform(key, shape, { minval: -bound, maxval: bound, dtype });
}

/**
 * Samples `N(0, std^2)` of `shape`.
 *
 * @example
 * ```ts ignore
 * normal(key, [1000, 64], 1); // an embedding table
 * ```
 */
export function normal(
  key: NDArray,
  shape: Shape,
  std = 1,
  dtype: ParamDType = "float32",
): NDArray {
  const z = random.normal(key, shape);
  return np.astype(std === 1 ? z : np.multiply(z, std), dtype);
}

/**
 * The fan-in of a weight in PyTorch layout (`[out, in, ...kernel]`): `in * prod(kernel)`.
 *
 * @example
 * ```ts
 * import { fanIn } from "./init.ts";
 * fanIn([128, 64, 3, 3, 3]); // 1728
 * ```
 */
export function fanIn(shape: Shape): number {
  if (shape.length < 2) {
    throw new Error(`fanIn: needs a weight of rank >= 2, got ${fmtShape(shape)}`);
  }
  return shape.slice(1).reduce((a, b) => a * b, 1);
}

/**
 * PyTorch's default for linear and convolution layers: `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`
 * (`kaiming_uniform_(a=sqrt(5))`; the same bound is used for the bias).
 *
 * @example
 * ```ts ignore
 * fanInUniform(key, [8, 4]); // bound 1/2
 * ```
 */
export function fanInUniform(
  key: NDArray,
  shape: Shape,
  fan: number = fanIn(shape),
  dtype: ParamDType = "float32",
): NDArray {
  return uniform(key, shape, fan > 0 ? 1 / Math.sqrt(fan) : 0, dtype);
}

/**
 * Glorot/Xavier uniform (Glorot & Bengio 2010): `U(-a, a)`, `a = gain * sqrt(6 / (fan_in +
 * fan_out))` with the receptive field counted in both fans, as `torch.nn.init.xavier_uniform_`.
 *
 * @example
 * ```ts ignore
 * xavierUniform(key, [3072, 33, 2, 2]);
 * ```
 */
export function xavierUniform(
  key: NDArray,
  shape: Shape,
  gain = 1,
  dtype: ParamDType = "float32",
): NDArray {
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  const fanOut = (shape[0] ?? 1) * receptive;
  return uniform(key, shape, gain * Math.sqrt(6 / (fanIn(shape) + fanOut)), dtype);
}

/**
 * Zeros of `shape` (biases of norms, zero-initialized gates).
 *
 * @example
 * ```ts ignore
 * zeros([64]);
 * ```
 */
export function zeros(shape: Shape, dtype: ParamDType = "float32"): NDArray {
  return np.zeros(shape, { dtype });
}

/**
 * Ones of `shape` (weights of norms).
 *
 * @example
 * ```ts ignore
 * ones([64]);
 * ```
 */
export function ones(shape: Shape, dtype: ParamDType = "float32"): NDArray {
  return np.ones(shape, { dtype });
}
