/**
 * Lazy arrays of the WebGPU backend: each `execute` records a node (a primitive applied to
 * earlier nodes); nothing runs until a value is needed (`read`, `flush`, a graph grown too
 * large). Realizing a node gives it device storage and drops its inputs, so the graph behind
 * a realized array is freed.
 *
 * Ownership is counted inside the backend, never by users: `handles` counts holders outside
 * the graph (the autograd layer's `retain`/`release`), `users` counts unrealized nodes that
 * list the node as an input. A node with neither is dead: its storage goes back to the pool.
 *
 * @module
 */

import type { Backend, BackendArray } from "../backend.ts";
import type { Aval, PrimitiveCall } from "../primitives.ts";
import { sizeOf } from "../shape.ts";

/**
 * Device storage: one pooled GPU buffer, shared by aliases (reshapes of contiguous arrays).
 *
 * @example
 * ```ts ignore
 * const s = runtime.allocate(1024); // a Storage with refs = 1
 * ```
 */
export class Storage {
  /** Holders of this buffer (nodes, plus in-flight schedule steps). */
  refs = 1;
  constructor(
    readonly buffer: GPUBuffer,
    /** Bytes the buffer was created with (its pool size class). */
    readonly capacity: number,
  ) {}
}

/** Where a node's value comes from. */
export type NodeSource =
  /** Realized storage (or, with `param`, an argument slot of a compiled program). */
  | { readonly kind: "leaf"; readonly param?: number }
  /** Output `output` of a primitive applied to `inputs`. */
  | { readonly kind: "op"; readonly call: PrimitiveCall; readonly output: number };

let nextNodeId = 0;

/**
 * One lazy array. Its identity is the node: the same node read twice is computed once.
 *
 * @example
 * ```ts ignore
 * const [y] = backend.execute("exp", {}, [x], [x.aval]); // a LazyNode, not yet computed
 * ```
 */
export class LazyNode implements BackendArray {
  readonly id = nextNodeId++;
  /** External holders (autograd arrays). */
  handles = 0;
  /** Unrealized nodes that use this one as an input. */
  users = 0;
  /** True once freed; using it again is an error. */
  dead = false;
  /** Longest chain of unrealized nodes ending here (bounds recursion and kernel size). */
  depth: number;
  /** All outputs of a multi-output primitive (this one included), computed together. */
  siblings: readonly LazyNode[] = [];

  constructor(
    readonly backend: Backend,
    readonly aval: Aval,
    public source: NodeSource,
    public inputs: readonly LazyNode[],
    public storage: Storage | null = null,
  ) {
    let depth = 0;
    for (const x of inputs) {
      if (x.storage === null && x.source.kind === "op") depth = Math.max(depth, x.depth);
    }
    this.depth = depth + 1;
  }

  /** The primitive call behind an unrealized node (null for leaves). */
  get call(): PrimitiveCall | null {
    return this.source.kind === "op" ? this.source.call : null;
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.aval.shape);
  }

  /** True when the value is available without computing (storage, or a program argument). */
  get isLeaf(): boolean {
    return this.source.kind === "leaf";
  }
}

/**
 * True for primitives computed by dedicated kernels (never inlined into another kernel).
 *
 * @example
 * ```ts
 * import { isOpaque } from "./lazy.ts";
 * isOpaque("conv"); // true
 * ```
 */
export function isOpaque(prim: string): boolean {
  return prim === "conv" || prim === "attention" || prim === "attention_bwd" ||
    prim === "scatter_add";
}

/**
 * True for primitives that are expensive to recompute (reductions, scans, matmul): a kernel
 * inlines them only where it is their single consumer.
 *
 * @example
 * ```ts
 * import { isExpensive } from "./lazy.ts";
 * isExpensive("reduce_sum"); // true
 * ```
 */
export function isExpensive(prim: string): boolean {
  return prim === "reduce_sum" || prim === "reduce_max" || prim === "reduce_min" ||
    prim === "argmax" || prim === "argmin" || prim === "cumsum" || prim === "matmul" ||
    isOpaque(prim);
}
