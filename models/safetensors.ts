/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N,
 * N bytes of JSON (`{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__":
 * { string: string } }`), then the tensors' bytes, little-endian, row-major; offsets are relative
 * to the end of the header and must cover the data exactly (no holes, no overlaps).
 *
 * The reader is streaming: `openSafetensors` reads and validates only the header, and
 * `file.read(name)` loads one tensor with a positioned read (seek + read of exactly its bytes),
 * so a checkpoint never has to fit in host memory at once. The writer streams too: one tensor's
 * bytes at a time, into a temporary file renamed into place at the end.
 *
 * dtypes read: F32, F16, BF16 (to float32 exactly, or float16, or kept), F64 (to float32),
 * I64/U64 (to int32/uint32, range-checked), I32, U32, I16/U16/I8/U8 (to int32), BOOL.
 * dtypes written: float32 F32, float16 F16, bfloat16 BF16, int32 I32, uint32 U32, bool BOOL,
 * all bit for bit.
 *
 * @module
 */

import { NDArray, np, tree } from "../autograd/mod.ts";
import type { DType, HostArray } from "../kernels/dtype.ts";
import { floatToHalfBits, halfBitsToFloat } from "../kernels/half.ts";
import { fmtShape } from "../kernels/shape.ts";
import { formatKeys } from "./param_tree.ts";

/** The element types of the safetensors format. */
export type SafetensorsDType =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "I64"
  | "U64"
  | "I32"
  | "U32"
  | "I16"
  | "U16"
  | "I8"
  | "U8"
  | "BOOL";

/**
 * Bytes per element of each safetensors dtype.
 *
 * @example
 * ```ts
 * import { elementBytes } from "./safetensors.ts";
 * elementBytes.BF16; // 2
 * ```
 */
export const elementBytes: Readonly<Record<SafetensorsDType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  U64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/**
 * The safetensors dtype each array dtype is written as.
 *
 * @example
 * ```ts
 * import { fileDType } from "./safetensors.ts";
 * fileDType.bfloat16; // "BF16"
 * ```
 */
export const fileDType: Readonly<Record<DType, SafetensorsDType>> = {
  float32: "F32",
  float16: "F16",
  bfloat16: "BF16",
  int32: "I32",
  uint32: "U32",
  bool: "BOOL",
};

/** The safetensors reference implementation refuses headers above 100 MB; so do we. */
const maxHeaderBytes = 100_000_000;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("safetensors: this module assumes a little-endian host");
}

/** One tensor of a header: its dtype, shape and byte range (relative to the data start). */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

/** A validated header. */
export interface SafetensorsHeader {
  /** File byte where tensor data starts (8 + header length). */
  readonly dataStart: number;
  readonly fileSize: number;
  /** Tensors in file order (sorted by offset). */
  readonly tensors: readonly TensorInfo[];
  readonly metadata: Readonly<Record<string, string>>;
}

function isDType(value: unknown): value is SafetensorsDType {
  return typeof value === "string" && Object.hasOwn(elementBytes, value);
}

function isIndex(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Parses and validates a header's JSON against a file of `fileSize` bytes whose data starts at
 * `dataStart`: every entry well formed, `end - begin = prod(shape) * bytes(dtype)`, tensors
 * neither overlapping nor leaving holes, the data ending exactly at the end of the file. Throws
 * naming the file and the offending tensors.
 *
 * @example
 * ```ts ignore
 * parseHeader("m.safetensors", '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 16, 24);
 * ```
 */
export function parseHeader(
  path: string,
  json: string,
  dataStart: number,
  fileSize: number,
): SafetensorsHeader {
  const where = `Safetensors file "${path}"`;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    throw new Error(
      `${where}: the header is not valid JSON (${(error as Error).message}); the file is corrupt`,
    );
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new Error(`${where}: the header must be a JSON object`);
  }
  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  const problems: string[] = [];
  for (const [name, entry] of Object.entries(raw as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
        problems.push(`__metadata__ must be an object of strings`);
        continue;
      }
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== "string") problems.push(`__metadata__.${k} is not a string`);
        else metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (e === null || typeof e !== "object") {
      problems.push(`"${name}" is not a tensor entry`);
      continue;
    }
    if (!isDType(e.dtype)) {
      problems.push(`"${name}" has unsupported dtype ${JSON.stringify(e.dtype)}`);
      continue;
    }
    if (!Array.isArray(e.shape) || !e.shape.every(isIndex)) {
      problems.push(`"${name}" has invalid shape ${JSON.stringify(e.shape)}`);
      continue;
    }
    const off = e.data_offsets;
    if (
      !Array.isArray(off) || off.length !== 2 || !isIndex(off[0]) || !isIndex(off[1]) ||
      off[0] > off[1]
    ) {
      problems.push(`"${name}" has invalid data_offsets ${JSON.stringify(off)}`);
      continue;
    }
    const shape = e.shape as number[];
    const needed = shape.reduce((a, b) => a * b, 1) * elementBytes[e.dtype];
    if (off[1] - off[0] !== needed) {
      problems.push(
        `"${name}" (${e.dtype}${fmtShape(shape)}) needs ${needed} bytes but data_offsets [${
          off[0]
        }, ${off[1]}] hold ${off[1] - off[0]}`,
      );
      continue;
    }
    tensors.push({ name, dtype: e.dtype, shape, begin: off[0], end: off[1] });
  }
  if (problems.length > 0) {
    throw new Error(`${where}: invalid header: ${formatKeys(problems, 10)}`);
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: TensorInfo | null = null;
  for (const t of tensors) {
    if (t.begin < cursor) {
      throw new Error(
        `${where}: tensors "${previous!.name}" [${previous!.begin}, ${
          previous!.end
        }) and "${t.name}" [${t.begin}, ${t.end}) overlap; the header is corrupt`,
      );
    }
    if (t.begin > cursor) {
      throw new Error(
        `${where}: bytes [${cursor}, ${t.begin}) before tensor "${t.name}" belong to no tensor; the header is corrupt`,
      );
    }
    cursor = t.end;
    previous = t;
  }
  const dataBytes = fileSize - dataStart;
  if (cursor > dataBytes) {
    const cut = tensors.filter((t) => t.end > dataBytes).map((t) => t.name);
    throw new Error(
      `${where} is truncated: its header needs ${cursor} data bytes but only ${dataBytes} follow the header ` +
        `(${cut.length} tensor${cut.length === 1 ? "" : "s"} cut off: ${formatKeys(cut)})`,
    );
  }
  if (cursor < dataBytes) {
    throw new Error(
      `${where}: ${
        dataBytes - cursor
      } bytes after the last tensor's data belong to no tensor; the file is corrupt`,
    );
  }
  return { dataStart, fileSize, tensors, metadata };
}

/** Reads exactly `buffer.length` bytes at `position` (seek + read loop); throws at end of file. */
async function readAt(
  file: Deno.FsFile,
  position: number,
  buffer: Uint8Array,
  path: string,
): Promise<void> {
  await file.seek(position, Deno.SeekMode.Start);
  let filled = 0;
  while (filled < buffer.length) {
    const n = await file.read(buffer.subarray(filled));
    if (n === null) {
      throw new Error(
        `Safetensors file "${path}" is truncated: expected ${buffer.length} bytes at byte ${position}, got ${filled}`,
      );
    }
    filled += n;
  }
}

/** Options of reading a tensor. */
export interface ReadOptions {
  /**
   * What float tensors become. `"auto"` (default): F32 and F64 to float32, F16 stays float16,
   * BF16 to float32 (exact). `"float32"` or `"float16"`: every float tensor to that dtype
   * (rounding to nearest even; a finite value that overflows float16 throws). `"keep"`: the
   * file's own type (F16 float16, BF16 bfloat16; F64 still float32).
   */
  readonly floatDtype?: "auto" | "float32" | "float16" | "keep";
}

/**
 * The array dtype a tensor of file dtype `dtype` loads as under `floatDtype`.
 *
 * @example
 * ```ts
 * import { loadedDType } from "./safetensors.ts";
 * loadedDType("BF16"); // "float32"
 * loadedDType("BF16", "keep"); // "bfloat16"
 * loadedDType("I64"); // "int32"
 * ```
 */
export function loadedDType(
  dtype: SafetensorsDType,
  floatDtype: ReadOptions["floatDtype"] = "auto",
): DType {
  switch (dtype) {
    case "F32":
    case "F64":
    case "F16":
    case "BF16":
      if (floatDtype === "float32" || floatDtype === "float16") return floatDtype;
      if (dtype === "F16") return "float16";
      if (dtype === "BF16") return floatDtype === "keep" ? "bfloat16" : "float32";
      return "float32";
    case "U32":
    case "U64":
      return "uint32";
    case "BOOL":
      return "bool";
    default:
      return "int32";
  }
}

let halfTable: Float32Array | null = null;

/** float16 bit pattern -> float32, all 65536 of them (exact). */
function halfToFloatTable(): Float32Array {
  halfTable ??= Float32Array.from({ length: 65536 }, (_, bits) => halfBitsToFloat(bits));
  return halfTable;
}

/** Float values to float16 bit patterns; a finite value that overflows throws. */
function toHalfBits(values: ArrayLike<number>, name: string, path: string): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const bits = floatToHalfBits(v);
    if ((bits & 0x7fff) === 0x7c00 && Number.isFinite(v)) {
      throw new Error(
        `Safetensors file "${path}": tensor "${name}" holds ${v} at element ${i}, beyond float16's range (65504); load it as float32`,
      );
    }
    out[i] = bits;
  }
  return out;
}

/** Converts one tensor's little-endian bytes to the host storage of its loaded dtype. */
function convert(
  bytes: Uint8Array,
  info: TensorInfo,
  target: DType,
  path: string,
): HostArray {
  const buf = bytes.buffer as ArrayBuffer;
  const n = info.shape.reduce((a, b) => a * b, 1);
  const where = () => `Safetensors file "${path}": tensor "${info.name}"`;
  switch (info.dtype) {
    case "F32": {
      const f = new Float32Array(buf, bytes.byteOffset, n);
      return target === "float16" ? toHalfBits(f, info.name, path) : f;
    }
    case "F64": {
      const f = new Float64Array(buf, bytes.byteOffset, n);
      return target === "float16" ? toHalfBits(f, info.name, path) : Float32Array.from(f);
    }
    case "F16": {
      const h = new Uint16Array(buf, bytes.byteOffset, n);
      if (target === "float16") return h;
      const table = halfToFloatTable();
      return Float32Array.from(h, (bits) => table[bits]!);
    }
    case "BF16": {
      const h = new Uint16Array(buf, bytes.byteOffset, n);
      if (target === "bfloat16") return h;
      // bfloat16 is the top half of a float32: shifting the bits up is the exact conversion.
      const wide = new Uint32Array(n);
      for (let i = 0; i < n; i++) wide[i] = h[i]! << 16;
      const f = new Float32Array(wide.buffer);
      return target === "float16" ? toHalfBits(f, info.name, path) : f;
    }
    case "I64":
    case "U64": {
      const big = info.dtype === "I64"
        ? new BigInt64Array(buf, bytes.byteOffset, n)
        : new BigUint64Array(buf, bytes.byteOffset, n);
      const [lo, hi] = target === "uint32" ? [0n, 0xffffffffn] : [-0x80000000n, 0x7fffffffn];
      const out = target === "uint32" ? new Uint32Array(n) : new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = big[i]!;
        if (v < lo || v > hi) {
          throw new Error(
            `${where()} (${info.dtype}) holds ${v} at element ${i}, outside the ${target} range [${lo}, ${hi}]`,
          );
        }
        out[i] = Number(v);
      }
      return out;
    }
    case "I32":
      return new Int32Array(buf, bytes.byteOffset, n);
    case "U32":
      return new Uint32Array(buf, bytes.byteOffset, n);
    case "I16":
      return Int32Array.from(new Int16Array(buf, bytes.byteOffset, n));
    case "U16":
      return Int32Array.from(new Uint16Array(buf, bytes.byteOffset, n));
    case "I8":
      return Int32Array.from(new Int8Array(buf, bytes.byteOffset, n));
    case "U8":
      return Int32Array.from(bytes.subarray(0, n));
    case "BOOL":
      return Uint8Array.from(bytes.subarray(0, n), (b) => (b !== 0 ? 1 : 0));
  }
}

/** An open safetensors file: its validated header, and tensors read one at a time. */
export interface SafetensorsFile {
  readonly path: string;
  readonly header: SafetensorsHeader;
  /** Tensor names in file order. */
  readonly names: readonly string[];
  /** The header entry of `name` (throws listing the names when absent). */
  info(name: string): TensorInfo;
  /** Loads one tensor (a positioned read of exactly its bytes). */
  read(name: string, options?: ReadOptions): Promise<NDArray>;
  /** Closes the file. */
  close(): void;
}

/**
 * Opens a safetensors file and validates its header (see {@link parseHeader}); no tensor data
 * is read until `read(name)`.
 *
 * @example
 * ```ts ignore
 * const file = await openSafetensors("vae/diffusion_pytorch_model.safetensors");
 * try {
 *   const w = await file.read("encoder.conv_in.conv.weight"); // float32 [128, 3, 3, 3, 3]
 * } finally {
 *   file.close();
 * }
 * ```
 */
export async function openSafetensors(path: string): Promise<SafetensorsFile> {
  const file = await Deno.open(path, { read: true });
  try {
    const fileSize = (await file.stat()).size;
    if (fileSize < 8) {
      throw new Error(
        `Safetensors file "${path}" is truncated: ${fileSize} bytes cannot hold the 8-byte header length`,
      );
    }
    const lenBytes = new Uint8Array(8);
    await readAt(file, 0, lenBytes, path);
    const headerLen = new DataView(lenBytes.buffer).getBigUint64(0, true);
    if (headerLen > BigInt(fileSize - 8)) {
      throw new Error(
        `Safetensors file "${path}" is truncated or corrupt: the header length ${headerLen} exceeds the ${
          fileSize - 8
        } bytes after it`,
      );
    }
    if (headerLen > BigInt(maxHeaderBytes)) {
      throw new Error(
        `Safetensors file "${path}": header length ${headerLen} exceeds the 100 MB limit`,
      );
    }
    const n = Number(headerLen);
    const headerBytes = new Uint8Array(n);
    await readAt(file, 8, headerBytes, path);
    if (n === 0 || headerBytes[0] !== 0x7b) {
      throw new Error(
        `Safetensors file "${path}": the header does not start with "{"; not a safetensors file`,
      );
    }
    let json: string;
    try {
      json = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
    } catch {
      throw new Error(
        `Safetensors file "${path}": the header is not valid UTF-8; the file is corrupt`,
      );
    }
    const header = parseHeader(path, json, 8 + n, fileSize);
    const byName = new Map(header.tensors.map((t) => [t.name, t]));
    const info = (name: string): TensorInfo => {
      const t = byName.get(name);
      if (!t) {
        throw new Error(
          `Safetensors file "${path}" has no tensor "${name}"; it has ${
            formatKeys([...byName.keys()])
          }`,
        );
      }
      return t;
    };
    let closed = false;
    // One file position is shared by all reads: concurrent reads (Promise.all) must queue, or
    // one read's seek would move the other's position between its seek and its read.
    let queue: Promise<unknown> = Promise.resolve();
    const readOne = async (name: string, options: ReadOptions): Promise<NDArray> => {
      if (closed) throw new Error(`Safetensors file "${path}" was closed`);
      const t = info(name);
      const bytes = new Uint8Array(t.end - t.begin);
      await readAt(file, header.dataStart + t.begin, bytes, path);
      const dtype = loadedDType(t.dtype, options.floatDtype);
      return np.fromRaw(convert(bytes, t, dtype, path), { shape: t.shape, dtype });
    };
    return {
      path,
      header,
      names: header.tensors.map((t) => t.name),
      info,
      read(name, options = {}) {
        const result = queue.then(() => readOne(name, options));
        queue = result.catch(() => {});
        return result;
      },
      close() {
        if (!closed) file.close();
        closed = true;
      },
    };
  } catch (error) {
    file.close();
    throw error;
  }
}

/**
 * Reads only the validated header of a safetensors file.
 *
 * @example
 * ```ts ignore
 * (await readSafetensorsHeader("model.safetensors")).tensors.length;
 * ```
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const file = await openSafetensors(path);
  file.close();
  return file.header;
}

/** Little-endian bytes of an array's raw storage. */
function storageBytes(data: HostArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Writes a tree of arrays as one safetensors file, keys being the dotted tree paths
 * (`transformer_blocks.0.attn1.to_q.weight`), in tree order; `metadata` goes to `__metadata__`.
 * Tensors are fetched and written one at a time into `path + ".tmp"`, renamed to `path` at the
 * end (a crash leaves no half-written checkpoint under the real name).
 *
 * @example
 * ```ts ignore
 * await models.saveSafetensors("ckpt.safetensors", { params, opt: optState }, { metadata: { step: "100" } });
 * ```
 */
export async function saveSafetensors(
  path: string,
  value: unknown,
  options: { metadata?: Record<string, string> } = {},
): Promise<void> {
  const pairs = tree.flattenWithPaths(value);
  const bad = pairs.filter(([, x]) => !(x instanceof NDArray)).map(([p, x]) =>
    `${p || "<root>"} (${x === null ? "null" : typeof x})`
  );
  if (bad.length > 0) {
    throw new Error(`saveSafetensors: every leaf must be an array; not arrays: ${formatKeys(bad)}`);
  }
  const arrays = pairs as [string, NDArray][];
  const seen = new Set<string>();
  const duplicates: string[] = [];
  for (const [name] of arrays) {
    if (seen.has(name)) duplicates.push(name);
    seen.add(name);
  }
  if (duplicates.length > 0 || seen.has("__metadata__") || seen.has("")) {
    throw new Error(
      `saveSafetensors: tensor names must be unique, non-empty and not "__metadata__"; offending: ${
        formatKeys(
          duplicates.length > 0
            ? duplicates
            : [...seen].filter((n) => n === "" || n === "__metadata__"),
        )
      }`,
    );
  }
  const header: Record<string, unknown> = {};
  if (options.metadata) {
    for (const [k, v] of Object.entries(options.metadata)) {
      if (typeof v !== "string") {
        throw new Error(`saveSafetensors: metadata "${k}" must be a string`);
      }
    }
    header["__metadata__"] = options.metadata;
  }
  let offset = 0;
  for (const [name, x] of arrays) {
    const dtype = fileDType[x.dtype];
    const size = x.size * elementBytes[dtype];
    header[name] = { dtype, shape: [...x.shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces so the data starts 8-byte aligned (as the reference writer does).
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const bytes = new Uint8Array(padded).fill(0x20);
    bytes.set(json);
    json = bytes;
  }
  const lenBytes = new Uint8Array(8);
  new DataView(lenBytes.buffer).setBigUint64(0, BigInt(json.length), true);
  const tmp = `${path}.tmp`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    await writeAll(file, lenBytes);
    await writeAll(file, json);
    for (const [, x] of arrays) {
      const bytes = storageBytes(await x.rawData());
      if (x.dtype === "bool") {
        await writeAll(file, Uint8Array.from(bytes, (b) => (b !== 0 ? 1 : 0)));
      } else await writeAll(file, bytes);
    }
    file.close();
  } catch (error) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
  await Deno.rename(tmp, path);
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}
