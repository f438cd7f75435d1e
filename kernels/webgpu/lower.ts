/**
 * Lowers a lazy graph to one scalar expression per output element: `gen(node, index)` is the
 * IR expression of `node` at a multi-index. Elementwise primitives combine their inputs'
 * expressions; movement primitives only transform the index (reshape ravels and unravels,
 * transpose permutes, broadcast drops, slice scales and shifts, pad and concatenate select,
 * flip mirrors), so no movement ever copies data. Realized nodes become loads; expensive
 * nodes (reductions, matmul) are delegated to the kernel being built through {@link LowerHooks}.
 *
 * @module
 */

import type { DType } from "../dtype.ts";
import type { Shape } from "../shape.ts";
import { stridesOf } from "../shape.ts";
import { roundTo } from "../reference/ref_array.ts";
import { type Exp, type ExpBuilder, type StorageFormat } from "./ir.ts";
import type { LazyNode } from "./lazy.ts";
import { lowerElementwise, registerType, roundToDtype } from "./lower_elementwise.ts";

/**
 * Thrown when a kernel cannot inline `node`: the scheduler then gives it a kernel of its own.
 *
 * @example
 * ```ts ignore
 * throw new MustMaterialize(node, "not fusable here");
 * ```
 */
export class MustMaterialize extends Error {
  constructor(readonly node: LazyNode, why: string) {
    super(`Internal: node ${node.id} must be materialized (${why})`);
  }
}

/** How the kernel under construction handles nodes that are not plain index math. */
export interface LowerHooks {
  /** The value of an unrealized reduction, scan, matmul or opaque node at `index`. */
  special(node: LazyNode, index: readonly Exp[]): Exp;
}

/**
 * Row-major flat offset of a multi-index.
 *
 * @example
 * ```ts ignore
 * ravel(b, [i, j], [4, 5]); // i * 5 + j
 * ```
 */
export function ravel(b: ExpBuilder, index: readonly Exp[], shape: Shape): Exp {
  const strides = stridesOf(shape);
  let flat = b.idx(0);
  index.forEach((x, d) => {
    if (shape[d] !== 1) flat = b.add(flat, b.mul(x, b.idx(strides[d]!)));
  });
  return flat;
}

/**
 * The multi-index of flat offset `flat` in `shape` (the outermost axis without a modulo).
 *
 * @example
 * ```ts ignore
 * unravel(b, g, [4, 5]); // [g / 5, g % 5]
 * ```
 */
export function unravel(b: ExpBuilder, flat: Exp, shape: Shape): Exp[] {
  const strides = stridesOf(shape);
  return shape.map((n, d) => {
    if (n === 1) return b.idx(0);
    const q = b.idiv(flat, strides[d]!);
    return d === 0 ? q : b.mod(q, n);
  });
}

/** Clamps an index into `[0, n)`. */
function clampIndex(b: ExpBuilder, x: Exp, n: number): Exp {
  return b.binary("min", b.binary("max", x, b.idx(0)), b.idx(Math.max(0, n - 1)));
}

/**
 * Generates expressions for nodes of a lazy graph inside one kernel.
 *
 * @example
 * ```ts ignore
 * const low = new Lowering(b, (n) => n.isLeaf, (n) => "f32", hooks);
 * const value = low.gen(node, unravel(b, b.variable("gid", node.size), node.aval.shape));
 * ```
 */
export class Lowering {
  /** The nodes loaded by this kernel, by input slot. */
  readonly inputs: LazyNode[] = [];
  /** Unrealized expensive nodes this kernel inlined through `hooks.special`. */
  readonly inlined = new Set<LazyNode>();
  #slots = new Map<LazyNode, number>();
  #memo = new Map<string, Exp>();

  constructor(
    readonly b: ExpBuilder,
    /** True for nodes this kernel reads from storage. */
    readonly isBuffer: (node: LazyNode) => boolean,
    /** The storage layout of a node's buffer. */
    readonly formatOf: (node: LazyNode) => StorageFormat,
    readonly hooks: LowerHooks,
  ) {}

  /** The input slot of a buffer node (assigned on first use). */
  slot(node: LazyNode): number {
    let s = this.#slots.get(node);
    if (s === undefined) {
      s = this.inputs.length;
      this.inputs.push(node);
      this.#slots.set(node, s);
    }
    return s;
  }

  /** Loads element `flat` of a buffer node. */
  load(node: LazyNode, flat: Exp): Exp {
    return this.b.load(this.slot(node), this.formatOf(node), flat);
  }

  /** The expression of `node` at multi-index `index` (one `idx` per axis). */
  gen(node: LazyNode, index: readonly Exp[]): Exp {
    const key = `${node.id}:${index.map((e) => e.id).join(",")}`;
    let e = this.#memo.get(key);
    if (e === undefined) {
      e = this.#gen(node, index);
      this.#memo.set(key, e);
    }
    return e;
  }

  #gen(node: LazyNode, index: readonly Exp[]): Exp {
    const b = this.b;
    if (node.dead) throw new Error(`Internal: node ${node.id} was used after being freed`);
    if (this.isBuffer(node)) return this.load(node, ravel(b, index, node.aval.shape));
    const call = node.call;
    if (call === null) throw new Error(`Internal: leaf node ${node.id} has no storage`);
    const inputs = node.inputs;
    const outDtype = node.aval.dtype;
    switch (call.prim) {
      case "iota": {
        const v = b.cast(index[call.params.axis]!, registerType(outDtype));
        return roundToDtype(b, v, outDtype);
      }
      case "full":
        return b.constant(roundTo(call.params.value, outDtype), registerType(outDtype));
      case "threefry2x32": {
        const pair = b.threefry(...inputs.map((x) => this.gen(x, index)) as [Exp, Exp, Exp, Exp]);
        return b.component(pair, node.source.kind === "op" && node.source.output === 1 ? 1 : 0);
      }
      case "reshape": {
        const src = inputs[0]!;
        const flat = ravel(b, index, node.aval.shape);
        return this.gen(src, unravel(b, flat, src.aval.shape));
      }
      case "transpose": {
        const perm = call.params.perm;
        const inner = new Array<Exp>(perm.length);
        perm.forEach((p, d) => (inner[p] = index[d]!));
        return this.gen(inputs[0]!, inner);
      }
      case "broadcast": {
        const src = inputs[0]!;
        const dims = call.params.dims;
        return this.gen(src, src.aval.shape.map((n, i) => (n === 1 ? b.idx(0) : index[dims[i]!]!)));
      }
      case "slice": {
        const { start, strides } = call.params;
        return this.gen(
          inputs[0]!,
          index.map((x, d) => b.add(b.mul(x, b.idx(strides[d]!)), b.idx(start[d]!))),
        );
      }
      case "flip": {
        const axes = call.params.axes;
        const shape = node.aval.shape;
        return this.gen(
          inputs[0]!,
          index.map((x, d) => (axes.includes(d) ? b.sub(b.idx(shape[d]! - 1), x) : x)),
        );
      }
      case "pad":
        return this.#pad(node, call.params, index);
      case "concatenate":
        return this.#concatenate(node, call.params.axis, index);
      case "take": {
        const [x, idxArr] = inputs as [LazyNode, LazyNode];
        const axis = call.params.axis;
        const r = idxArr.aval.shape.length;
        const k = b.cast(this.gen(idxArr, index.slice(axis, axis + r)), "idx");
        const inner = [
          ...index.slice(0, axis),
          clampIndex(b, k, x.aval.shape[axis]!),
          ...index.slice(axis + r),
        ];
        return this.gen(x, inner);
      }
      case "reduce_sum":
      case "reduce_max":
      case "reduce_min":
      case "argmax":
      case "argmin":
      case "cumsum":
      case "matmul":
      case "conv":
      case "attention":
      case "attention_bwd":
      case "scatter_add":
        this.inlined.add(node);
        return this.hooks.special(node, index);
      default: {
        const args = inputs.map((x) => this.gen(x, index));
        return lowerElementwise(b, call, args, inputs.map((x) => x.aval.dtype), outDtype);
      }
    }
  }

  #pad(
    node: LazyNode,
    params: {
      readonly lo: readonly number[];
      readonly interior: readonly number[];
      readonly value: number;
    },
    index: readonly Exp[],
  ): Exp {
    const b = this.b;
    const src = node.inputs[0]!;
    const dtype: DType = node.aval.dtype;
    const fill = b.constant(roundTo(params.value, dtype), registerType(dtype));
    if (src.size === 0) return fill;
    let valid = b.constant(1, "bool");
    const inner = index.map((x, d) => {
      const n = src.aval.shape[d]!;
      const p = b.sub(x, b.idx(params.lo[d]!));
      const step = params.interior[d]! + 1;
      if (step === 1) {
        valid = b.and(valid, b.and(b.binary("ge", p, b.idx(0)), b.lt(p, b.idx(n))));
        return clampIndex(b, p, n);
      }
      const pc = b.binary("max", p, b.idx(0));
      valid = b.and(
        valid,
        b.and(
          b.binary("ge", p, b.idx(0)),
          b.and(b.binary("eq", b.mod(pc, step), b.idx(0)), b.lt(b.idiv(pc, step), b.idx(n))),
        ),
      );
      return clampIndex(b, b.idiv(pc, step), n);
    });
    return b.where(valid, this.gen(src, inner), fill);
  }

  #concatenate(node: LazyNode, axis: number, index: readonly Exp[]): Exp {
    const b = this.b;
    const parts = node.inputs.filter((x) => x.aval.shape[axis]! > 0);
    const offsets: number[] = [];
    let total = 0;
    for (const x of parts) {
      offsets.push(total);
      total += x.aval.shape[axis]!;
    }
    const at = (k: number): Exp => {
      const x = parts[k]!;
      const n = x.aval.shape[axis]!;
      const shifted = clampIndex(b, b.sub(index[axis]!, b.idx(offsets[k]!)), n);
      return this.gen(x, index.map((e, d) => (d === axis ? shifted : e)));
    };
    let value = at(parts.length - 1);
    for (let k = parts.length - 2; k >= 0; k--) {
      value = b.where(b.lt(index[axis]!, b.idx(offsets[k + 1]!)), at(k), value);
    }
    return value;
  }
}
