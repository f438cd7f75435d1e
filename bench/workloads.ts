/**
 * What the benchmark measures: each row is one workload at one size, with the work it does
 * (floating-point operations or bytes that must move) so that a time becomes GFLOP/s or GB/s.
 *
 * Inputs are generated on the host from a fixed seed, in one canonical layout, and handed to every
 * library, so all three compute the same function of the same numbers and their outputs can be
 * compared (see `compare.ts`). Layouts are Droplet's: attention `[B, H, S, D]`, convolution
 * `[N, C, T, H, W]` with kernels `[O, C, kT, kH, kW]`. A library whose native layout differs
 * converts the inputs once at preparation (not timed) and its outputs after reading (not timed).
 *
 * @module
 */

import type { LibraryName } from "./libraries/library.ts";

/** A workload's kind and its sizes (a discriminated union, one member per kind). */
export type Workload =
  /** `a [M, K] @ b [K, N]`. */
  | { readonly kind: "matmul"; readonly m: number; readonly k: number; readonly n: number }
  /** The 10-op elementwise chain of {@link elementwiseChain} on `x [N]`. */
  | { readonly kind: "elementwise"; readonly n: number }
  /** `softmax(x, -1)` on `x [R, C]`. */
  | { readonly kind: "softmax"; readonly rows: number; readonly cols: number }
  /** Layer norm over the last axis of `x [R, C]`, with `weight [C]` and `bias [C]`, eps 1e-5. */
  | { readonly kind: "layerNorm"; readonly rows: number; readonly cols: number }
  /** `softmax(q k^T / sqrt(D)) v` with q, k, v `[B, H, S, D]`, no mask. */
  | {
    readonly kind: "attention";
    readonly batch: number;
    readonly heads: number;
    readonly seq: number;
    readonly headDim: number;
  }
  /**
   * A transformer MLP block `y = x + gelu_tanh(x W1 + b1) W2 + b2`, x `[T, D]`, W1 `[D, F]`,
   * W2 `[F, D]`, forward and backward: the VJP with a fixed cotangent `g [T, D]`, returning
   * `y, dx, dW1, db1, dW2, db2`.
   */
  | { readonly kind: "mlp"; readonly tokens: number; readonly dim: number; readonly hidden: number }
  /**
   * A 3-D convolution `y = conv(x, w)`, x `[N, C, T, H, W]`, w `[O, C, 3, 3, 3]`, stride 1,
   * padding 1, forward and backward (VJP with a fixed cotangent `g`): returns `y, dx, dw`.
   */
  | {
    readonly kind: "conv3d";
    readonly batch: number;
    readonly channels: number;
    readonly outChannels: number;
    readonly frames: number;
    readonly height: number;
    readonly width: number;
  }
  /** Group norm of `x [N, C, T, H, W]` with `groups` groups, weight/bias `[C]`, eps 1e-6. */
  | {
    readonly kind: "groupNorm";
    readonly batch: number;
    readonly channels: number;
    readonly frames: number;
    readonly height: number;
    readonly width: number;
    readonly groups: number;
  };

/** The name of a workload kind. */
export type WorkloadKind = Workload["kind"];

/** The workload of kind `K`. */
export type WorkloadOf<K extends WorkloadKind> = Extract<Workload, { kind: K }>;

/** The benchmark groups that `--only` selects (a group holds one or more rows). */
export const benchGroups = [
  "matmul",
  "elementwise",
  "softmax",
  "layernorm",
  "attention",
  "mlp",
  "conv3d",
  "groupnorm",
] as const;

/** A benchmark group name. */
export type BenchGroup = (typeof benchGroups)[number];

/** Which sizes to use: a software adapter's, a real GPU's (`--full`), or tiny ones for checks. */
export type SizeMode = "software" | "full" | "check";

/** One row of the table: a workload at one size and how to turn its time into a rate. */
export interface BenchRow {
  /** Stable id, e.g. `"matmul_1024"`, used as the JSON file name. */
  readonly id: string;
  readonly group: BenchGroup;
  /** Human-readable label with the sizes, e.g. `"matmul 1024x1024x1024"`. */
  readonly label: string;
  readonly workload: Workload;
  /** GFLOP/s for compute-bound rows, GB/s for memory-bound ones. */
  readonly unit: "GFLOP/s" | "GB/s";
  /** Floating-point operations (GFLOP/s rows) or the minimum bytes moved (GB/s rows). */
  readonly work: number;
  /** Only these libraries run the row (the others are reported with `reason`). */
  readonly only?: { readonly libraries: readonly LibraryName[]; readonly reason: string };
}

/**
 * The 10 ops of the elementwise chain, in order, applied to `x` (each library implements exactly
 * these, so a fusing compiler can make one kernel of them):
 * `t = x*1.5; t = t+0.25; t = sin(t); t = t*x; t = t-0.125; t = abs(t); t = sqrt(t); t = t*0.5;
 * t = exp(t); t = max(t, x)`.
 */
export const elementwiseChain = [
  "mul 1.5",
  "add 0.25",
  "sin",
  "mul x",
  "sub 0.125",
  "abs",
  "sqrt",
  "mul 0.5",
  "exp",
  "max x",
] as const;

/**
 * The elementwise chain on one number, in float64 (the oracle for tests).
 *
 * @example
 * ```ts
 * import { elementwiseChainScalar } from "./workloads.ts";
 * elementwiseChainScalar(0); // max(exp(0.5 * sqrt(|sin(0.25) * 0 - 0.125|)), 0)
 * ```
 */
export function elementwiseChainScalar(x: number): number {
  let t = x * 1.5;
  t = t + 0.25;
  t = Math.sin(t);
  t = t * x;
  t = t - 0.125;
  t = Math.abs(t);
  t = Math.sqrt(t);
  t = t * 0.5;
  t = Math.exp(t);
  return Math.max(t, x);
}

/**
 * Floating-point operations of one workload (forward and backward where the row says so); 0 for
 * memory-bound workloads, which are rated by {@link bytesMoved}.
 *
 * @example
 * ```ts
 * import { flops } from "./workloads.ts";
 * flops({ kind: "matmul", m: 1024, k: 1024, n: 1024 }); // 2147483648
 * ```
 */
export function flops(w: Workload): number {
  switch (w.kind) {
    case "matmul":
      return 2 * w.m * w.k * w.n;
    case "attention":
      // q k^T and p v: 2 * S * S * D each, per head.
      return 4 * w.batch * w.heads * w.seq * w.seq * w.headDim;
    case "mlp":
      // Forward: two matmuls of 2*T*D*F; backward: four (dx and dW for each layer).
      return 12 * w.tokens * w.dim * w.hidden;
    case "conv3d": {
      const forward = 2 * w.batch * w.outChannels * w.frames * w.height * w.width * w.channels *
        27;
      // Backward: one convolution-sized product for dx and one for dw.
      return 3 * forward;
    }
    default:
      return 0;
  }
}

/**
 * The minimum bytes a memory-bound workload must read and write (float32, once each); 0 for
 * compute-bound workloads.
 *
 * @example
 * ```ts
 * import { bytesMoved } from "./workloads.ts";
 * bytesMoved({ kind: "softmax", rows: 4096, cols: 3072 }); // 100663296
 * ```
 */
export function bytesMoved(w: Workload): number {
  switch (w.kind) {
    case "elementwise":
      return 8 * w.n;
    case "softmax":
    case "layerNorm":
      return 8 * w.rows * w.cols;
    case "groupNorm":
      return 8 * w.batch * w.channels * w.frames * w.height * w.width;
    default:
      return 0;
  }
}

function matmulRow(m: number, k: number, n: number, id: string): BenchRow {
  const workload = { kind: "matmul", m, k, n } as const;
  return {
    id,
    group: "matmul",
    label: `matmul [${m}x${k}]x[${k}x${n}]`,
    workload,
    unit: "GFLOP/s",
    work: flops(workload),
  };
}

function rateRow(id: string, group: BenchGroup, label: string, workload: Workload): BenchRow {
  const f = flops(workload);
  return f > 0
    ? { id, group, label, workload, unit: "GFLOP/s", work: f }
    : { id, group, label, workload, unit: "GB/s", work: bytesMoved(workload) };
}

/** Sizes per mode; the software sizes keep the whole run to a few minutes on 2 cores. */
const sizes = {
  full: {
    square: [256, 512, 1024, 2048, 4096],
    skinny: [4096, 64, 4096],
    elementwise: 16 * 1024 * 1024,
    rowwise: [4096, 3072],
    attention: { batch: 1, heads: 48, seq: 4096, headDim: 64 },
    mlp: { tokens: 4096, dim: 3072, hidden: 12288 },
    video: { batch: 1, channels: 128, frames: 9, height: 64, width: 64 },
    normVideo: { batch: 1, channels: 128, frames: 9, height: 64, width: 64, groups: 32 },
  },
  software: {
    // 2048 takes 10-25 s per run on lavapipe (2 cores): only with --full.
    square: [256, 512, 1024],
    skinny: [2048, 64, 2048],
    elementwise: 4 * 1024 * 1024,
    rowwise: [1024, 3072],
    attention: { batch: 1, heads: 8, seq: 1024, headDim: 64 },
    mlp: { tokens: 256, dim: 256, hidden: 1024 },
    video: { batch: 1, channels: 32, frames: 5, height: 32, width: 32 },
    normVideo: { batch: 1, channels: 128, frames: 9, height: 32, width: 32, groups: 32 },
  },
  check: {
    square: [24, 33],
    skinny: [40, 8, 36],
    elementwise: 1000,
    rowwise: [6, 50],
    attention: { batch: 1, heads: 2, seq: 37, headDim: 16 },
    mlp: { tokens: 6, dim: 8, hidden: 32 },
    video: { batch: 1, channels: 4, frames: 3, height: 6, width: 5 },
    normVideo: { batch: 2, channels: 6, frames: 3, height: 4, width: 5, groups: 3 },
  },
} as const;

/**
 * Every row of the benchmark at the sizes of `mode`, in table order.
 *
 * @example
 * ```ts
 * import { benchRows } from "./workloads.ts";
 * benchRows("software").map((r) => r.id); // ["matmul_256", ..., "groupnorm"]
 * ```
 */
export function benchRows(mode: SizeMode): BenchRow[] {
  const s = sizes[mode];
  const [sm, sk, sn] = s.skinny;
  const [rows, cols] = s.rowwise;
  const { batch, heads, seq, headDim } = s.attention;
  const { tokens, dim, hidden } = s.mlp;
  const v = s.video;
  const g = s.normVideo;
  const videoShape = `[${v.batch},${v.channels},${v.frames},${v.height},${v.width}]`;
  return [
    ...s.square.map((n) => matmulRow(n, n, n, `matmul_${n}`)),
    matmulRow(sm, sk, sn, "matmul_skinny"),
    rateRow(
      "elementwise",
      "elementwise",
      `10-op elementwise chain on ${s.elementwise} floats`,
      { kind: "elementwise", n: s.elementwise },
    ),
    rateRow("softmax", "softmax", `softmax [${rows},${cols}]`, { kind: "softmax", rows, cols }),
    rateRow("layernorm", "layernorm", `layer norm [${rows},${cols}]`, {
      kind: "layerNorm",
      rows,
      cols,
    }),
    rateRow(
      "attention",
      "attention",
      `attention B=${batch} H=${heads} S=${seq} D=${headDim}`,
      { kind: "attention", batch, heads, seq, headDim },
    ),
    rateRow("mlp", "mlp", `MLP block fwd+bwd T=${tokens} D=${dim} F=${hidden}`, {
      kind: "mlp",
      tokens,
      dim,
      hidden,
    }),
    rateRow("conv3d", "conv3d", `conv3d 3x3x3 fwd+bwd ${videoShape}->${v.channels}ch`, {
      kind: "conv3d",
      ...v,
      outChannels: v.channels,
    }),
    rateRow(
      "groupnorm",
      "groupnorm",
      `group norm (${g.groups} groups) [${g.batch},${g.channels},${g.frames},${g.height},${g.width}]`,
      { kind: "groupNorm", ...g },
    ),
    ...(mode === "full" ? [dropletVideoAttentionRow()] : []),
  ];
}

/**
 * The released model's attention: 17,776 tokens (226 text + 49 x 480 x 720 video patches), 48
 * heads of 64, a batch of 2 (the CFG pair). Peers materialize the S x S scores (2 x 48 x 17776^2
 * floats = 121 GB), so only Droplet's fused kernel runs it; PyTorch's bf16 SDPA takes 18 ms.
 */
function dropletVideoAttentionRow(): BenchRow {
  const workload = { kind: "attention", batch: 2, heads: 48, seq: 17776, headDim: 64 } as const;
  return {
    ...rateRow(
      "attention_dropletvideo",
      "attention",
      "attention B=2 H=48 S=17776 D=64 (DropletVideo-5B)",
      workload,
    ),
    only: {
      libraries: ["droplet"],
      reason: "skipped: unfused attention would need 121 GB for the scores",
    },
  };
}
