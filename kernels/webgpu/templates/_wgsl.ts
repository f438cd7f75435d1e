/**
 * Small WGSL code-generation helpers shared by the hand-written kernel templates (attention,
 * convolution): storage declarations, float literals, workgroup-grid linearization, cooperative
 * tile copies and checks of the target's limits.
 *
 * What the templates are shaped by, as measured on lavapipe (the software adapter, 2 cores):
 * - A private array indexed by a loop counter becomes per-lane scratch memory (5-10x slower than
 *   named scalars), so register tiles are generated as named scalars.
 * - Each load or store in the source costs ~12 ms (workgroup memory) to ~25 ms (storage) of JIT
 *   compile at the first dispatch (vec4 accesses count four times), so hot loops are kept as
 *   loops with small bodies rather than unrolled.
 * - A workgroup that executes `workgroupBarrier` runs as coroutines whose frames hold the values
 *   live across the barrier; kernels without barriers measured ~2x faster.
 * - Every storage access runs lane by lane: per active lane a bounds check, a branch and a
 *   scalar load or store, even when the address is uniform and outside any loop (Mesa 25.0
 *   llvmpipe, read from its LLVM IR with `GALLIVM_DEBUG=ir`); workgroup-memory accesses inside
 *   loops do the same. So a loop's cost is mostly its memory accesses. `subgroupBroadcast` with
 *   a constant lane is a register shuffle: one access per lane plus 8 broadcasts moves 8
 *   distinct values to every lane (see `attention_stream.ts`).
 *
 * @module
 */

import { type KernelBinding, type KernelTarget, workgroupGrid } from "../kernel.ts";

/** Storage dtype of a template's float operands (arithmetic is float32 either way). */
export type FloatStorage = "f32" | "f16";

/**
 * The `enable` directive a kernel with `dtype` storage needs, after checking the target allows
 * it; `what` names the caller in the error.
 *
 * @example
 * ```ts ignore
 * enableFor("f16", target, "attentionForwardPlan"); // "enable f16;\n" (throws without shader-f16)
 * ```
 */
export function enableFor(dtype: FloatStorage, target: KernelTarget, what: string): string {
  if (dtype === "f32") return "";
  if (!target.shaderF16) {
    throw new Error(
      `${what}: dtype "f16" needs the shader-f16 feature, which this adapter lacks; ` +
        `use "f32" (or f16 packed in u32 words, not supported by this template)`,
    );
  }
  return "enable f16;\n";
}

/**
 * A WGSL `f32` literal for a finite number (`0.125f`, `1e-7f`); throws on NaN and infinities,
 * which WGSL cannot spell.
 *
 * @example
 * ```ts
 * import { f32Literal } from "./_wgsl.ts";
 * f32Literal(0.125); // "0.125f"
 * f32Literal(2); // "2.0f"
 * ```
 */
export function f32Literal(value: number): string {
  const rounded = Math.fround(value);
  if (!Number.isFinite(rounded)) {
    throw new Error(`Cannot write ${value} as a WGSL f32 literal: it is not a finite float32`);
  }
  const text = String(rounded);
  return /[.e]/.test(text) ? `${text}f` : `${text}.0f`;
}

/**
 * The most negative finite float32 we use as the "minus infinity" of running maxima (WGSL has no
 * infinite literals). Masked scores are exactly this value, so `x != negativeSentinel` tests
 * visibility.
 *
 * @example
 * ```ts
 * import { negativeSentinel } from "./_wgsl.ts";
 * `var m = ${negativeSentinel};`; // "var m = -3.0e38f;"
 * ```
 */
export const negativeSentinel = "-3.0e38f";

/**
 * The float32 bits of minus infinity, written to `array<u32>` views of float32 outputs: WGSL
 * const-evaluation rejects an infinite `f32`, and computing one is not portable.
 *
 * @example
 * ```ts
 * import { negativeInfinityBits } from "./_wgsl.ts";
 * new Float32Array(new Uint32Array([Number(negativeInfinityBits.slice(0, -1))]).buffer)[0]; // -Infinity
 * ```
 */
export const negativeInfinityBits = "0xff800000u";

/**
 * `0, 1, ..., n - 1`.
 *
 * @example
 * ```ts
 * import { range } from "./_wgsl.ts";
 * range(3); // [0, 1, 2]
 * ```
 */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** A workgroup grid for `count` workgroups and the WGSL that recovers the linear index. */
export interface LinearGrid {
  /** The `workgroups` of the kernel. */
  readonly workgroups: [number, number, number];
  /**
   * Statements that declare `let wgIndex: u32` from `@builtin(workgroup_id) wid` and return
   * early (uniformly, before any barrier) for the padding workgroups past `count`, if any.
   */
  readonly prologue: string;
}

/**
 * Lays `count` workgroups out within the per-dimension limit (see {@link workgroupGrid}).
 *
 * @example
 * ```ts
 * import { linearGrid } from "./_wgsl.ts";
 * linearGrid(100_000, 65_535).workgroups; // [50000, 2, 1]
 * ```
 */
export function linearGrid(count: number, maxPerDimension: number): LinearGrid {
  const workgroups = workgroupGrid(count, maxPerDimension);
  // workgroupGrid returns an oversized z past maxPerDimension^3 workgroups; refuse instead.
  if (workgroups.some((n) => n > maxPerDimension)) {
    throw new Error(
      `Cannot lay out ${count} workgroups with at most ${maxPerDimension} per dimension`,
    );
  }
  const [gx, gy, gz] = workgroups;
  const index = `let wgIndex = wid.x + wid.y * ${gx}u + wid.z * ${gx * gy}u;`;
  // The early return is only needed when the grid has padding workgroups.
  const prologue = gx * gy * gz === count ? index : `${index}
  if (wgIndex >= ${count}u) { return; }`;
  return { workgroups, prologue };
}

/**
 * Throws unless every value is a positive integer (or zero where `allowZero`), naming `what`.
 *
 * @example
 * ```ts
 * import { checkSizes } from "./_wgsl.ts";
 * checkSizes("attention", { batch: 2, heads: 8 }); // ok
 * ```
 */
export function checkSizes(
  what: string,
  sizes: Readonly<Record<string, number>>,
  allowZero: readonly string[] = [],
): void {
  for (const [name, value] of Object.entries(sizes)) {
    const min = allowZero.includes(name) ? 0 : 1;
    if (!Number.isInteger(value) || value < min) {
      throw new Error(
        `${what}: ${name} must be an integer >= ${min}, got ${value}`,
      );
    }
  }
}

/**
 * Throws when a kernel needs more storage bindings than the target allows.
 *
 * @example
 * ```ts ignore
 * checkBindings("attention_bwd_dkdv", 8, target);
 * ```
 */
export function checkBindings(kernel: string, count: number, target: KernelTarget): void {
  if (count > target.maxStorageBuffersPerStage) {
    throw new Error(
      `Kernel "${kernel}" needs ${count} storage buffers, but the adapter allows ` +
        `${target.maxStorageBuffersPerStage} per shader stage`,
    );
  }
}

/**
 * A storage binding declaration: `@group(0) @binding(b) var<storage, access> name: array<type>`.
 *
 * @example
 * ```ts
 * import { declareStorage } from "./_wgsl.ts";
 * declareStorage(0, "q", "f32", false); // "@group(0) @binding(0) var<storage, read> q: array<f32>;"
 * ```
 */
export function declareStorage(
  binding: number,
  name: string,
  type: string,
  write: boolean,
): string {
  return `@group(0) @binding(${binding}) var<storage, ${
    write ? "read_write" : "read"
  }> ${name}: array<${type}>;`;
}

/**
 * WGSL declarations of storage arrays bound at group 0, in binding order (see
 * {@link declareStorage}).
 *
 * @example
 * ```ts
 * import { declareStorageArrays } from "./_wgsl.ts";
 * declareStorageArrays([{ name: "q", type: "f32" }, { name: "o", type: "f32", write: true }]);
 * // "@group(0) @binding(0) var<storage, read> q: array<f32>;\n@group(0) @binding(1) ..."
 * ```
 */
export function declareStorageArrays(
  bindings: readonly { name: string; type: string; write?: boolean }[],
): string {
  return bindings.map((b, i) => declareStorage(i, b.name, b.type, b.write ?? false)).join("\n");
}

/**
 * A plan binding that a kernel reads.
 *
 * @example
 * ```ts
 * import { readBinding } from "./_wgsl.ts";
 * readBinding("in0"); // { buffer: "in0", access: "read" }
 * ```
 */
export const readBinding = (buffer: string): KernelBinding => ({ buffer, access: "read" });

/**
 * A plan binding that a kernel writes.
 *
 * @example
 * ```ts
 * import { writeBinding } from "./_wgsl.ts";
 * writeBinding("out0"); // { buffer: "out0", access: "read_write" }
 * ```
 */
export const writeBinding = (buffer: string): KernelBinding => ({
  buffer,
  access: "read_write",
});

/**
 * A balanced tree of WGSL `max` calls over `items` (at least one): fewer dependent steps than a
 * chain, so the compiler may overlap them.
 *
 * @example
 * ```ts
 * import { maxTree } from "./_wgsl.ts";
 * maxTree(["a", "b", "c", "d"]); // "max(max(a, b), max(c, d))"
 * ```
 */
export function maxTree(items: readonly string[]): string {
  return items.length === 1
    ? items[0]!
    : `max(${maxTree(items.slice(0, items.length / 2))}, ${
      maxTree(items.slice(items.length / 2))
    })`;
}

/** Options of {@link copyTile}. */
export interface TileCopy {
  /** The workgroup `array<f32>` written. */
  readonly dst: string;
  /** The storage array read, row-major with rows of `width` elements. */
  readonly src: string;
  readonly width: number;
  /** WGSL `u32` of the storage row of tile row 0 minus `first` (the block's row 0). */
  readonly rowBase: string;
  /** WGSL `u32` of the block row of tile row 0. */
  readonly first: string;
  /** Rows in the tile. */
  readonly rows: number;
  /** Block rows `>= limit` read as zero. */
  readonly limit: number;
  /** Store column-major (`dst[c * rows + r]`) instead of row-major (`dst[r * width + c]`). */
  readonly transpose: boolean;
  /** Invocations sharing the copy (indexed by `lid`). */
  readonly threads: number;
}

/**
 * A cooperative copy of a tile of a row-major storage matrix into workgroup memory, converted to
 * f32, with rows past `limit` zero. Consecutive invocations read consecutive elements.
 *
 * @example
 * ```ts
 * import { copyTile } from "./_wgsl.ts";
 * copyTile({
 *   dst: "ks", src: "k", width: 64, rowBase: "bh * 100u", first: "kt", rows: 32, limit: 100,
 *   transpose: true, threads: 64,
 * }).startsWith("for"); // true
 * ```
 */
export function copyTile(t: TileCopy): string {
  const at = t.transpose ? `c * ${t.rows}u + r` : `e`;
  return `for (var e = lid; e < ${t.rows * t.width}u; e += ${t.threads}u) {
      let r = e / ${t.width}u;
      let c = e % ${t.width}u;
      let gr = ${t.first} + r;
      ${t.dst}[${at}] = select(0.0, f32(${t.src}[(${t.rowBase} + min(gr, ${
    Math.max(0, t.limit - 1)
  }u)) * ${t.width}u + c]), gr < ${t.limit}u);
    }`;
}

/**
 * The bindings of every fused attention forward kernel: `in0 = q`, `in1 = k`, `in2 = v`,
 * `out0 = out`, `out1 = lse` (the contract of `attentionForwardPlan`).
 *
 * @example
 * ```ts
 * import { attentionForwardBindings } from "./_wgsl.ts";
 * attentionForwardBindings.length; // 5
 * ```
 */
export const attentionForwardBindings: readonly KernelBinding[] = [
  { buffer: "in0", access: "read" },
  { buffer: "in1", access: "read" },
  { buffer: "in2", access: "read" },
  { buffer: "out0", access: "read_write" },
  { buffer: "out1", access: "read_write" },
];

/**
 * The bindings of an attention backward kernel: `in0 = q`, `in1 = k`, `in2 = v`, `in5 = dOut`,
 * the row statistics scratch `stats` (read), then the gradients it writes: `out1 = dk` and
 * `out2 = dv` (`"dkdv"`) or `out0 = dq` (`"dq"`), as in `attentionBackwardPlan`.
 *
 * @example
 * ```ts
 * import { attentionBackwardBindings } from "./_wgsl.ts";
 * attentionBackwardBindings("dkdv", "attention_stats").length; // 7
 * ```
 */
export function attentionBackwardBindings(
  kernel: "dkdv" | "dq",
  stats: string,
): readonly KernelBinding[] {
  const outputs = kernel === "dkdv" ? ["out1", "out2"] : ["out0"];
  return [
    ...["in0", "in1", "in2", "in5"].map((buffer) => ({ buffer, access: "read" as const })),
    { buffer: stats, access: "read" },
    ...outputs.map((buffer) => ({ buffer, access: "read_write" as const })),
  ];
}
