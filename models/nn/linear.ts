/**
 * Dense layers: `linear` (`x W^T + b`, PyTorch's weight layout `[out, in]`) and `embedding`
 * (row lookup), each as a pure function of explicit arrays and as a `{ init, apply }` pair whose
 * parameter names are PyTorch's (`weight`, `bias`), so checkpoint keys map one to one.
 *
 * @module
 */

import { lax, type NDArray, np, random } from "../../autograd/mod.ts";
import { fmtShape } from "../../kernels/shape.ts";
import { checkParamDType, checkPositive, fanInUniform, normal, type ParamDType } from "./init.ts";

/**
 * `y = x W^T + b` over the last axis: x `[..., in]`, weight `[out, in]`, bias `[out]` ->
 * `[..., out]` (PyTorch's `F.linear`). Input and weight must share a float dtype (cast params
 * with `params.cast` for mixed precision).
 *
 * @example
 * ```ts ignore
 * nn.linear(np.ones([2, 5, 4]), np.ones([8, 4]), np.zeros([8])).shape; // [2, 5, 8]
 * ```
 */
export function linear(x: NDArray, weight: NDArray, bias?: NDArray | null): NDArray {
  if (weight.ndim !== 2) {
    throw new Error(`linear: weight must be [out, in], got ${weight.describe()}`);
  }
  const [outF, inF] = weight.shape as [number, number];
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== inF) {
    throw new Error(
      `linear: input ${x.describe()} does not end in the weight's ${inF} input features (weight ${
        fmtShape(weight.shape)
      })`,
    );
  }
  if (x.dtype !== weight.dtype) {
    throw new Error(
      `linear: input ${x.describe()} and weight ${weight.describe()} differ in dtype; cast one first`,
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outF || bias.dtype !== weight.dtype)) {
    throw new Error(`linear: bias ${bias.describe()} does not match weight ${weight.describe()}`);
  }
  const lead = x.shape.slice(0, -1);
  const rows = lead.reduce((a, b) => a * b, 1);
  const x2 = lax.reshape(x, [rows, inF]); // [N, in]: all leading axes as one batch of rows
  let y = lax.matmul(x2, lax.transpose(weight, [1, 0])); // [N, in] @ [in, out] -> [N, out]
  if (bias) y = lax.binary("add", y, lax.broadcast(bias, [rows, outF], [1]));
  return lax.reshape(y, [...lead, outF]); // [..., out]
}

/** Configuration of a {@link Linear} layer. */
export interface LinearConfig {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** With a bias (default true). */
  readonly bias?: boolean;
  /** Parameter dtype (default float32). */
  readonly dtype?: ParamDType;
}

/** Parameters of a linear layer: weight `[out, in]`, bias `[out]`. */
export interface LinearParams {
  readonly weight: NDArray;
  readonly bias?: NDArray;
}

/**
 * A linear layer as `{ init, apply }`: `init(key, { inFeatures, outFeatures })` draws PyTorch's
 * default `U(-1/sqrt(in), 1/sqrt(in))` for weight and bias.
 *
 * @example
 * ```ts ignore
 * const p = nn.Linear.init(random.key(0), { inFeatures: 4, outFeatures: 8 });
 * nn.Linear.apply(p, np.ones([3, 4])).shape; // [3, 8]
 * ```
 */
export const Linear = {
  /** Draws `{ weight [out, in], bias [out] }`. */
  init(key: NDArray, config: LinearConfig): LinearParams {
    const inF = checkPositive("Linear", "inFeatures", config.inFeatures);
    const outF = checkPositive("Linear", "outFeatures", config.outFeatures);
    const dtype = checkParamDType("Linear", config.dtype ?? "float32");
    const [kw, kb] = random.split(key);
    const weight = fanInUniform(kw!, [outF, inF], inF, dtype);
    if (config.bias === false) return { weight };
    return { weight, bias: fanInUniform(kb!, [outF], inF, dtype) };
  },
  /** `x [..., in] -> [..., out]`. */
  apply(params: LinearParams, x: NDArray): NDArray {
    return linear(x, params.weight, params.bias ?? null);
  },
};

/**
 * Looks up rows of `table` `[num, dim]` at integer `ids` (any shape) -> `[...ids.shape, dim]`.
 * Ids outside `[0, num)` are clamped (the `take` primitive's contract; no host sync to check).
 *
 * @example
 * ```ts ignore
 * nn.embedding(np.array([[1, 2]], { dtype: "int32" }), table).shape; // [1, 2, dim]
 * ```
 */
export function embedding(ids: NDArray, table: NDArray): NDArray {
  if (table.ndim !== 2) {
    throw new Error(`embedding: table must be [num, dim], got ${table.describe()}`);
  }
  if (ids.dtype !== "int32" && ids.dtype !== "uint32") {
    throw new Error(`embedding: ids must be int32 or uint32, got ${ids.describe()}`);
  }
  return lax.take(table, np.astype(ids, "int32"), 0);
}

/** Configuration of an {@link Embedding} layer. */
export interface EmbeddingConfig {
  readonly numEmbeddings: number;
  readonly dim: number;
  readonly dtype?: ParamDType;
}

/** Parameters of an embedding: weight `[num, dim]` (PyTorch's name). */
export interface EmbeddingParams {
  readonly weight: NDArray;
}

/**
 * An embedding table as `{ init, apply }` (`N(0, 1)` as PyTorch's `nn.Embedding`).
 *
 * @example
 * ```ts ignore
 * const p = nn.Embedding.init(random.key(0), { numEmbeddings: 10, dim: 4 });
 * nn.Embedding.apply(p, np.array([3], { dtype: "int32" })).shape; // [1, 4]
 * ```
 */
export const Embedding = {
  /** Draws `{ weight [num, dim] }`. */
  init(key: NDArray, config: EmbeddingConfig): EmbeddingParams {
    const n = checkPositive("Embedding", "numEmbeddings", config.numEmbeddings);
    const d = checkPositive("Embedding", "dim", config.dim);
    return {
      weight: normal(key, [n, d], 1, checkParamDType("Embedding", config.dtype ?? "float32")),
    };
  },
  /** `ids [...] -> [..., dim]`. */
  apply(params: EmbeddingParams, ids: NDArray): NDArray {
    return embedding(ids, params.weight);
  },
};
