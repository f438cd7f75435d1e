/**
 * `nn`: layers as pure functions of explicit parameters (the `torch.nn.functional` style,
 * `nn.linear(x, w, b)`), and as `{ init, apply }` pairs (`nn.Linear.init(key, config)` returns a
 * plain parameter tree whose dotted paths are PyTorch's names: `weight`, `bias`, `conv.weight`).
 * Static configuration (strides, eps, groups) is passed to `apply`, never stored in the tree.
 * Layouts follow the PyTorch checkpoints we load: linear weight `[out, in]`, conv weight
 * `[O, C/groups, ...kernel]`, activations `[B, C, T, H, W]`, attention `[B, H, S, D]`.
 *
 * @example
 * ```ts ignore
 * import { nn, np, random } from "../../mod.ts";
 * const p = nn.Linear.init(random.key(0), { inFeatures: 4, outFeatures: 2 });
 * const y = nn.gelu(nn.Linear.apply(p, np.ones([3, 4]))); // [3, 2]
 * ```
 *
 * @module
 */
export * as init from "./init.ts";
export type { ParamDType } from "./init.ts";
export { Embedding, embedding, Linear, linear } from "./linear.ts";
export type { EmbeddingConfig, EmbeddingParams, LinearConfig, LinearParams } from "./linear.ts";
export { GroupNorm, groupNorm, LayerNorm, layerNorm, RMSNorm, rmsNorm } from "./norm.ts";
export type {
  GroupNormConfig,
  GroupNormOptions,
  LayerNormConfig,
  NormParams,
  RMSNormConfig,
} from "./norm.ts";
export { conv, Conv2d, conv2d, Conv3d, conv3d } from "./conv.ts";
export type { ConvConfig, ConvOptions, ConvParamsTree, Padding } from "./conv.ts";
export { CausalConv3d, causalConv3d } from "./causal_conv.ts";
export type {
  CausalConv3dConfig,
  CausalConv3dOptions,
  CausalConv3dParams,
  CausalConv3dResult,
} from "./causal_conv.ts";
export { avgPool, nearestSourceIndex, resizeNearest, upsampleNearest } from "./resample.ts";
export type { AvgPoolOptions } from "./resample.ts";
export { attention, mergeHeads, splitHeads } from "./attention.ts";
export type { AttentionOptions } from "./attention.ts";
export {
  applyRope,
  linspaceFloat32,
  rope1dTables,
  rope3d,
  rope3dTables,
  ropeAxisPositions,
  ropeCropRegion,
  roundHalfEven,
} from "./rope.ts";
export type { CropRegion, Rope, Rope3dConfig, Rope3dTables } from "./rope.ts";
export { timestepEmbedding, timestepFrequencies } from "./timestep.ts";
export type { TimestepEmbeddingOptions } from "./timestep.ts";
export { dropout, gelu, silu } from "./activations.ts";
