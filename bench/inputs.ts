/**
 * Host-side inputs of each workload: named float32 arrays in Droplet's (canonical) layouts, drawn
 * from a fixed seed so every library sees the same numbers and every run is reproducible.
 *
 * @module
 */

import type { Workload } from "./workloads.ts";

/** One input array on the host, in canonical layout. */
export interface HostTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array<ArrayBuffer>;
}

/** A workload's inputs by name (the names each library's implementation reads). */
export type HostInputs = Readonly<Record<string, HostTensor>>;

/**
 * Number of elements of a shape.
 *
 * @example
 * ```ts
 * import { sizeOf } from "./inputs.ts";
 * sizeOf([2, 3, 4]); // 24
 * ```
 */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Mulberry32: a small, fast 32-bit generator; good enough for benchmark data, and the same
 * numbers on every runtime.
 */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A tensor of uniform values in `[-scale, scale)`, seeded.
 *
 * @example
 * ```ts
 * import { uniformTensor } from "./inputs.ts";
 * uniformTensor([2, 3], 1, 7).data.length; // 6
 * ```
 */
export function uniformTensor(shape: readonly number[], scale: number, seed: number): HostTensor {
  const next = mulberry32(seed);
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = (2 * next() - 1) * scale;
  return { shape, data };
}

/**
 * The input names and shapes of a workload, with the scale of their values.
 *
 * @example
 * ```ts
 * import { inputSpecs } from "./inputs.ts";
 * inputSpecs({ kind: "softmax", rows: 2, cols: 8 }); // [{ name: "x", shape: [2, 8], scale: 4 }]
 * ```
 */
export function inputSpecs(
  w: Workload,
): { name: string; shape: readonly number[]; scale: number }[] {
  switch (w.kind) {
    case "matmul":
      return [
        { name: "a", shape: [w.m, w.k], scale: 1 },
        { name: "b", shape: [w.k, w.n], scale: 1 },
      ];
    case "elementwise":
      return [{ name: "x", shape: [w.n], scale: 2 }];
    case "softmax":
      return [{ name: "x", shape: [w.rows, w.cols], scale: 4 }];
    case "layerNorm":
      return [
        { name: "x", shape: [w.rows, w.cols], scale: 3 },
        { name: "weight", shape: [w.cols], scale: 1 },
        { name: "bias", shape: [w.cols], scale: 1 },
      ];
    case "attention": {
      const shape = [w.batch, w.heads, w.seq, w.headDim]; // [B, H, S, D]
      return [
        { name: "q", shape, scale: 1 },
        { name: "k", shape, scale: 1 },
        { name: "v", shape, scale: 1 },
      ];
    }
    case "mlp":
      return [
        { name: "x", shape: [w.tokens, w.dim], scale: 1 },
        // Kaiming-like scales keep activations O(1) at every size.
        { name: "w1", shape: [w.dim, w.hidden], scale: Math.sqrt(3 / w.dim) },
        { name: "b1", shape: [w.hidden], scale: 0.1 },
        { name: "w2", shape: [w.hidden, w.dim], scale: Math.sqrt(3 / w.hidden) },
        { name: "b2", shape: [w.dim], scale: 0.1 },
        { name: "g", shape: [w.tokens, w.dim], scale: 1 },
      ];
    case "conv3d": {
      const spatial = [w.frames, w.height, w.width];
      return [
        { name: "x", shape: [w.batch, w.channels, ...spatial], scale: 1 }, // [N, C, T, H, W]
        {
          name: "w",
          shape: [w.outChannels, w.channels, 3, 3, 3],
          scale: Math.sqrt(3 / (27 * w.channels)),
        },
        { name: "g", shape: [w.batch, w.outChannels, ...spatial], scale: 1 }, // like y
      ];
    }
    case "groupNorm":
      return [
        { name: "x", shape: [w.batch, w.channels, w.frames, w.height, w.width], scale: 3 },
        { name: "weight", shape: [w.channels], scale: 1 },
        { name: "bias", shape: [w.channels], scale: 1 },
      ];
  }
}

/**
 * All inputs of a workload, seeded (input `i` uses `seed + i`).
 *
 * @example
 * ```ts
 * import { makeInputs } from "./inputs.ts";
 * const inputs = makeInputs({ kind: "matmul", m: 2, k: 3, n: 4 });
 * inputs.a?.shape; // [2, 3]
 * ```
 */
export function makeInputs(w: Workload, seed = 1): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  inputSpecs(w).forEach(({ name, shape, scale }, i) => {
    out[name] = uniformTensor(shape, scale, seed + i);
  });
  return out;
}

/**
 * The input named `name`; throws naming the workload when it is missing.
 *
 * @example
 * ```ts ignore
 * const a = input(inputs, "a", w);
 * ```
 */
export function input(inputs: HostInputs, name: string, w: Workload): HostTensor {
  const t = inputs[name];
  if (!t) {
    throw new Error(
      `Workload ${w.kind} has no input "${name}" (has ${Object.keys(inputs).join(", ")})`,
    );
  }
  return t;
}

/**
 * Moves axes of a row-major host array: `out` has axes `perm` of `t` (like `np.transpose`).
 * Used outside timing, to convert between a library's native layout and the canonical one.
 *
 * @example
 * ```ts
 * import { transposeHost } from "./inputs.ts";
 * transposeHost({ shape: [2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) }, [1, 0]).data;
 * // Float32Array [0, 3, 1, 4, 2, 5]
 * ```
 */
export function transposeHost(
  t: { readonly shape: readonly number[]; readonly data: ArrayLike<number> },
  perm: readonly number[],
): HostTensor {
  const rank = t.shape.length;
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new Error(`transposeHost: ${JSON.stringify(perm)} is not a permutation of rank ${rank}`);
  }
  const shape = perm.map((p) => t.shape[p]!);
  const inStrides = new Array<number>(rank);
  let stride = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = stride;
    stride *= t.shape[i]!;
  }
  const strides = perm.map((p) => inStrides[p]!); // input stride along each output axis
  const out = new Float32Array(t.data.length);
  const index = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = t.data[src]!;
    // Odometer increment of the output index, tracking the input offset.
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis]!++;
      src += strides[axis]!;
      if (index[axis]! < shape[axis]!) break;
      src -= strides[axis]! * shape[axis]!;
      index[axis] = 0;
    }
  }
  return { shape, data: out };
}
