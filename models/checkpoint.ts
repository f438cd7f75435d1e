/**
 * Checkpoints: one safetensors file, a folder, or shards listed by a `*.safetensors.index.json`
 * (`{ "metadata": {...}, "weight_map": { name: "model-00001-of-00002.safetensors" } }`, the
 * Hugging Face layout of the T5 encoder). `loadSafetensors` returns every tensor by name;
 * `loadInto` loads a model's expected parameter tree, checking every key and shape against the
 * headers before reading any data, and reports all missing keys, unexpected keys and shape
 * mismatches at once.
 *
 * @module
 */

import { lax, NDArray } from "../autograd/mod.ts";
import { checkDType, type DType, isFloat } from "../kernels/dtype.ts";
import { fmtShape } from "../kernels/shape.ts";
import { formatKeys } from "./param_tree.ts";
import {
  openSafetensors,
  type ReadOptions,
  type SafetensorsFile,
  type TensorInfo,
} from "./safetensors.ts";

/** An opened checkpoint: every tensor's header entry and the shard file holding it. */
export interface Checkpoint {
  /** What was opened (a file or an index). */
  readonly path: string;
  /** Tensor names, shard by shard in file order. */
  readonly names: readonly string[];
  /** The header entry of a tensor, or undefined. */
  info(name: string): TensorInfo | undefined;
  /** Loads one tensor. */
  read(name: string, options?: ReadOptions): Promise<NDArray>;
  /** Closes every shard. */
  close(): void;
}

function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

/**
 * Resolves a folder to the checkpoint inside it: its one `*.safetensors.index.json`, else its one
 * `*.safetensors`; a file path is returned as is.
 *
 * @example
 * ```ts ignore
 * await resolveCheckpointPath("ckpt/text_encoder"); // "ckpt/text_encoder/model.safetensors.index.json"
 * ```
 */
export async function resolveCheckpointPath(path: string): Promise<string> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch (error) {
    throw new Error(`Checkpoint "${path}" does not exist (${(error as Error).message})`);
  }
  if (!stat.isDirectory) return path;
  const names: string[] = [];
  for await (const entry of Deno.readDir(path)) if (entry.isFile) names.push(entry.name);
  names.sort();
  const indexes = names.filter((n) => n.endsWith(".safetensors.index.json"));
  if (indexes.length === 1) return join(path, indexes[0]!);
  const files = names.filter((n) => n.endsWith(".safetensors"));
  if (indexes.length === 0 && files.length === 1) return join(path, files[0]!);
  throw new Error(
    `Checkpoint folder "${path}" must hold one *.safetensors.index.json or one *.safetensors file; found ${
      formatKeys([...indexes, ...files]) || "neither"
    }`,
  );
}

/** Parses an index file's `weight_map`. */
async function readIndex(path: string): Promise<Map<string, string>> {
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    throw new Error(`Checkpoint index "${path}" is not valid JSON (${(error as Error).message})`);
  }
  const map = (raw as { weight_map?: unknown } | null)?.weight_map;
  if (map === null || typeof map !== "object" || Array.isArray(map)) {
    throw new Error(`Checkpoint index "${path}" has no "weight_map" object`);
  }
  const out = new Map<string, string>();
  for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== "string" || file.includes("/") || file.includes("\\")) {
      throw new Error(
        `Checkpoint index "${path}": "${name}" maps to ${
          JSON.stringify(file)
        }, not a file name beside the index`,
      );
    }
    out.set(name, file);
  }
  return out;
}

/**
 * Opens a checkpoint (a `.safetensors` file, a `.safetensors.index.json` with its shards, or a
 * folder holding either), validating every header and, for shards, that the index and the
 * shards agree tensor for tensor.
 *
 * @example
 * ```ts ignore
 * const ckpt = await openCheckpoint("ckpt/text_encoder/model.safetensors.index.json");
 * try { const emb = await ckpt.read("shared.weight"); } finally { ckpt.close(); }
 * ```
 */
export async function openCheckpoint(path: string): Promise<Checkpoint> {
  const resolved = await resolveCheckpointPath(path);
  const files: SafetensorsFile[] = [];
  const owner = new Map<string, SafetensorsFile>();
  try {
    if (resolved.endsWith(".index.json")) {
      const index = await readIndex(resolved);
      const shardNames = [...new Set(index.values())].sort();
      for (const shard of shardNames) {
        files.push(await openSafetensors(join(dirname(resolved), shard)));
      }
      const problems: string[] = [];
      for (const file of files) {
        const shard = file.path.slice(file.path.lastIndexOf("/") + 1);
        const unlisted = file.names.filter((n) => index.get(n) !== shard);
        if (unlisted.length > 0) {
          problems.push(
            `shard "${shard}" holds tensors the index maps elsewhere or not at all: ${
              formatKeys(unlisted)
            }`,
          );
        }
        for (const n of file.names) if (index.get(n) === shard) owner.set(n, file);
      }
      const absent = [...index.keys()].filter((n) => !owner.has(n));
      if (absent.length > 0) {
        problems.push(
          `${absent.length} tensors listed in the index are missing from their shard: ${
            formatKeys(absent)
          }`,
        );
      }
      if (problems.length > 0) {
        throw new Error(
          `Checkpoint index "${resolved}" disagrees with its shards: ${problems.join("; ")}`,
        );
      }
    } else {
      const file = await openSafetensors(resolved);
      files.push(file);
      for (const n of file.names) owner.set(n, file);
    }
  } catch (error) {
    for (const f of files) f.close();
    throw error;
  }
  return {
    path: resolved,
    names: files.flatMap((f) => f.names.filter((n) => owner.get(n) === f)),
    info: (name) => (owner.has(name) ? owner.get(name)!.info(name) : undefined),
    read(name, options) {
      const file = owner.get(name);
      if (!file) {
        return Promise.reject(new Error(`Checkpoint "${resolved}" has no tensor "${name}"`));
      }
      return file.read(name, options);
    },
    close() {
      for (const f of files) f.close();
    },
  };
}

/**
 * Loads every tensor of a checkpoint (file, index or folder), keyed by name, converting dtypes
 * as {@link ReadOptions} says (by default BF16 becomes float32, exactly).
 *
 * @example
 * ```ts ignore
 * const weights = await models.loadSafetensors("vae/diffusion_pytorch_model.safetensors");
 * weights["encoder.conv_in.conv.weight"].shape; // [128, 3, 3, 3, 3]
 * ```
 */
export async function loadSafetensors(
  path: string,
  options: ReadOptions = {},
): Promise<Record<string, NDArray>> {
  const ckpt = await openCheckpoint(path);
  const out: Record<string, NDArray> = {};
  try {
    for (const name of ckpt.names) out[name] = await ckpt.read(name, options);
  } catch (error) {
    for (const x of Object.values(out)) x.dispose();
    throw error;
  } finally {
    ckpt.close();
  }
  return out;
}

/** The expected layout of one parameter: an array (its shape and dtype) or a spec. */
export interface ParamSpec {
  readonly shape: readonly number[];
  /** Loaded tensors are converted to this dtype (float to float, integer to integer). */
  readonly dtype?: DType;
}

/** Options of {@link loadInto}. */
export interface LoadIntoOptions extends ReadOptions {
  /**
   * Keys the checkpoint may lack: true for any, or a predicate. A missing key keeps the
   * expected array (e.g. a freshly initialized module); a missing spec is an error.
   */
  readonly allowMissing?: boolean | ((path: string) => boolean);
  /** Checkpoint keys the model may lack (ignored): true for any, or a predicate. */
  readonly allowUnexpected?: boolean | ((name: string) => boolean);
}

/** The tree `loadInto` returns for an expected tree `T`: every array or spec becomes an array. */
export type Loaded<T> = T extends { readonly shape: readonly number[] } ? NDArray
  : T extends readonly unknown[] ? { -readonly [K in keyof T]: Loaded<T[K]> }
  : T extends object ? { -readonly [K in keyof T]: Loaded<T[K]> }
  : T;

function isSpec(value: unknown): value is ParamSpec {
  if (
    value === null || typeof value !== "object" || Array.isArray(value) || value instanceof NDArray
  ) return false;
  const shape = (value as { shape?: unknown }).shape;
  const keys = Object.keys(value);
  return Array.isArray(shape) && shape.every((d) => typeof d === "number") &&
    keys.every((k) => k === "shape" || k === "dtype");
}

function isNode(value: unknown): value is Record<string, unknown> | unknown[] {
  if (Array.isArray(value)) return true;
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Walks an expected tree: leaves are arrays and specs; returns `[path, leaf]` pairs. */
function expectedLeaves(expected: unknown): [string, NDArray | ParamSpec][] {
  const out: [string, NDArray | ParamSpec][] = [];
  const bad: string[] = [];
  const walk = (value: unknown, path: string) => {
    if (value instanceof NDArray || isSpec(value)) {
      out.push([path, value]);
      return;
    }
    if (!isNode(value)) {
      bad.push(path || "<root>");
      return;
    }
    const join = (k: string) => (path === "" ? k : `${path}.${k}`);
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, join(String(i))));
    else for (const [k, v] of Object.entries(value)) walk(v, join(k));
  };
  walk(expected, "");
  if (bad.length > 0) {
    throw new Error(
      `loadInto: the expected tree has leaves that are neither arrays nor { shape, dtype? } specs: ${
        formatKeys(bad)
      }`,
    );
  }
  return out;
}

function allowed(option: boolean | ((key: string) => boolean) | undefined, key: string): boolean {
  return typeof option === "function" ? option(key) : option === true;
}

/**
 * Loads a checkpoint into the structure of `expected` (a params tree, e.g. from `init`, or a
 * tree of `{ shape, dtype? }` specs, or a flat record of either keyed by dotted names). Every
 * key and shape is checked against the checkpoint's headers before any data is read; all
 * missing keys, unexpected keys and shape or dtype mismatches are reported together. Each
 * tensor is converted to the expected dtype (float16 params load float16 from BF16, etc.).
 *
 * @example
 * ```ts ignore
 * const expected = nn.Linear.init(random.key(0), { inFeatures: 4, outFeatures: 8 });
 * const params = await models.loadInto(expected, "linear.safetensors");
 * ```
 */
export async function loadInto<T>(
  expected: T,
  path: string,
  options: LoadIntoOptions = {},
): Promise<Loaded<T>> {
  const leaves = expectedLeaves(expected);
  const ckpt = await openCheckpoint(path);
  const loaded: NDArray[] = [];
  try {
    const wanted = new Set(leaves.map(([p]) => p));
    const missing: string[] = [], mismatched: string[] = [];
    for (const [p, leaf] of leaves) {
      const info = ckpt.info(p);
      if (!info) {
        if (!(allowed(options.allowMissing, p) && leaf instanceof NDArray)) missing.push(p);
        continue;
      }
      const shape = leaf.shape;
      if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
        mismatched.push(
          `${p} (checkpoint ${info.dtype}${fmtShape(info.shape)}, model ${fmtShape(shape)})`,
        );
        continue;
      }
      const target = leaf.dtype;
      if (target !== undefined) {
        checkDType(target);
        const fileIsFloat = ["F64", "F32", "F16", "BF16"].includes(info.dtype);
        if (fileIsFloat !== isFloat(target) || (target === "bool") !== (info.dtype === "BOOL")) {
          mismatched.push(`${p} (checkpoint ${info.dtype}, model ${target})`);
        }
      }
    }
    const unexpected = ckpt.names.filter((n) =>
      !wanted.has(n) && !allowed(options.allowUnexpected, n)
    );
    if (missing.length + unexpected.length + mismatched.length > 0) {
      const parts: string[] = [];
      if (missing.length) {
        parts.push(
          `${missing.length} missing key${missing.length === 1 ? "" : "s"}: ${formatKeys(missing)}`,
        );
      }
      if (unexpected.length) {
        parts.push(
          `${unexpected.length} unexpected key${unexpected.length === 1 ? "" : "s"}: ${
            formatKeys(unexpected)
          }`,
        );
      }
      if (mismatched.length) {
        parts.push(
          `${mismatched.length} mismatch${mismatched.length === 1 ? "" : "es"}: ${
            formatKeys(mismatched)
          }`,
        );
      }
      throw new Error(`Checkpoint "${ckpt.path}" does not match the model: ${parts.join("; ")}`);
    }
    const values: NDArray[] = [];
    for (const [p, leaf] of leaves) {
      const info = ckpt.info(p);
      if (!info) {
        values.push(leaf as NDArray); // allowed missing: keep the given array
        continue;
      }
      const target = leaf.dtype;
      let floatDtype = options.floatDtype;
      if (target === "float32" || target === "float16") floatDtype = target;
      else if (target === "bfloat16") floatDtype = "keep";
      let x = await ckpt.read(p, floatDtype === undefined ? {} : { floatDtype });
      loaded.push(x);
      if (target !== undefined && x.dtype !== target) {
        // What the host conversion does not cover (F32 -> bfloat16, int32 <-> uint32): on device.
        x = lax.cast(x, target);
        loaded.push(x);
      }
      values.push(x);
    }
    return rebuildLike(expected, values);
  } catch (error) {
    for (const x of loaded) x.dispose();
    throw error;
  } finally {
    ckpt.close();
  }
}

/** Rebuilds `expected`'s structure with `values` in place of its leaves (arrays and specs). */
function rebuildLike<T>(expected: T, values: readonly NDArray[]): Loaded<T> {
  let i = 0;
  const build = (value: unknown): unknown => {
    if (value instanceof NDArray || isSpec(value)) return values[i++];
    if (Array.isArray(value)) return value.map(build);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = build(v);
    return out;
  };
  return build(expected) as Loaded<T>;
}
