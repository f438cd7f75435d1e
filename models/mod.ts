/**
 * `models`: what models are written in and saved as. Layers (`nn`), optimizers (`optim`),
 * parameter-tree helpers (`params`), mixed precision (`precision`) and safetensors checkpoints
 * (`loadSafetensors`, `saveSafetensors`, `loadInto`, `openCheckpoint`).
 *
 * @example
 * ```ts ignore
 * import { models, nn, random } from "../mod.ts";
 * const p = nn.Linear.init(random.key(0), { inFeatures: 4, outFeatures: 8 });
 * await models.saveSafetensors("linear.safetensors", p);
 * const back = await models.loadInto(p, "linear.safetensors");
 * ```
 *
 * @module
 */
export * as nn from "./nn/mod.ts";
export * as optim from "./optim/mod.ts";
export * as params from "./param_tree.ts";
export * as precision from "./precision.ts";
export { openSafetensors, readSafetensorsHeader, saveSafetensors } from "./safetensors.ts";
export type {
  ReadOptions,
  SafetensorsDType,
  SafetensorsFile,
  SafetensorsHeader,
  TensorInfo,
} from "./safetensors.ts";
export { loadInto, loadSafetensors, openCheckpoint, resolveCheckpointPath } from "./checkpoint.ts";
export type { Checkpoint, Loaded, LoadIntoOptions, ParamSpec } from "./checkpoint.ts";
