/**
 * Vectorizing map: `vmap(f)` runs `f`, written for one example, on a batch at once. Each tracer
 * carries the position of its batch axis (or none); each primitive has a batching rule that
 * moves axes so the primitive itself applies to the whole batch. Primitives without a cheaper
 * rule for some operand pattern fall back to a loop over the batch (correct, slower).
 *
 * @module
 */

import {
  type Aval,
  type BinaryPrimitive,
  binaryPrimitives,
  type Params,
  type Primitive,
  type UnaryPrimitive,
  unaryPrimitives,
} from "../kernels/primitives.ts";
import { fmtShape } from "../kernels/shape.ts";
import { bind, NDArray } from "./array.ts";
import * as lax from "./lax.ts";
import { nextLevel, Trace, withTrace } from "./trace.ts";
import { flatten, unflatten } from "./tree.ts";

/** A batched value: the array with the batch axis at `batchDim` (null: not batched). */
class BatchTracer extends NDArray {
  constructor(trace: BatchTrace, readonly value: NDArray, readonly batchDim: number | null) {
    super(
      batchDim === null
        ? value.aval
        : { shape: value.shape.filter((_, i) => i !== batchDim), dtype: value.dtype },
      trace,
    );
  }
}

type BatchRule<P extends Primitive> = (
  values: readonly NDArray[],
  dims: readonly (number | null)[],
  params: Params<P>,
  size: number,
) => [NDArray[], (number | null)[]];

class BatchTrace extends Trace {
  constructor(level: number, readonly size: number) {
    super(level, "vmap");
  }

  lift(x: NDArray): NDArray {
    return new BatchTracer(this, x, null);
  }

  process<P extends Primitive>(
    prim: P,
    params: Params<P>,
    inputs: readonly NDArray[],
    _outAvals: readonly Aval[],
  ): NDArray[] {
    const tracers = inputs as readonly BatchTracer[];
    const values = tracers.map((t) => t.value);
    const dims = tracers.map((t) => t.batchDim);
    if (dims.every((d) => d === null)) {
      return bind(prim, params, values).map((v) => new BatchTracer(this, v, null));
    }
    const rule = batchRules[prim] as BatchRule<P>;
    const [outs, outDims] = rule(values, dims, params, this.size);
    return outs.map((v, i) => new BatchTracer(this, v, outDims[i] ?? null));
  }
}

/** Moves the batch axis of `x` to position 0, broadcasting unbatched values to `size`. */
function toFront(x: NDArray, dim: number | null, size: number): NDArray {
  if (dim === null) return lax.broadcast(x, [size, ...x.shape], x.shape.map((_, i) => i + 1));
  if (dim === 0) return x;
  const perm = [dim, ...x.shape.map((_, i) => i).filter((i) => i !== dim)];
  return lax.transpose(x, perm);
}

/** Moves the batch axis of `x` from `from` to `to`. */
function moveBatch(x: NDArray, from: number, to: number): NDArray {
  if (from === to) return x;
  const order = x.shape.map((_, i) => i).filter((i) => i !== from);
  order.splice(to, 0, from);
  return lax.transpose(x, order);
}

/** Generic fallback: apply the primitive to each batch element and stack the results. */
function loopRule<P extends Primitive>(prim: P): BatchRule<P> {
  return (values, dims, params, size) => {
    const perItem: NDArray[][] = [];
    for (let b = 0; b < size; b++) {
      const args = values.map((v, i) => {
        const d = dims[i];
        if (d === null || d === undefined) return v;
        const start = v.shape.map((_, ax) => (ax === d ? b : 0));
        const limit = v.shape.map((n, ax) => (ax === d ? b + 1 : n));
        return lax.reshape(lax.slice(v, start, limit), v.shape.filter((_, ax) => ax !== d));
      });
      perItem.push(bind(prim, params, args));
    }
    const nOut = perItem[0]?.length ?? 0;
    const outs: NDArray[] = [];
    for (let o = 0; o < nOut; o++) {
      outs.push(
        lax.concatenate(perItem.map((item) => lax.reshape(item[o]!, [1, ...item[o]!.shape])), 0),
      );
    }
    return [outs, outs.map(() => 0)];
  };
}

/** Elementwise: align batch axes at 0 (broadcasting unbatched operands), apply, batch at 0. */
function elementwise<P extends Primitive>(prim: P): BatchRule<P> {
  return (values, dims, params, size) => {
    if (values.length === 1) return [bind(prim, params, values), [dims[0]!]];
    const aligned = values.map((v, i) => toFront(v, dims[i] ?? null, size));
    const outs = bind(prim, params, aligned);
    return [outs, outs.map(() => 0)]; // every output (threefry2x32 has two) is batched at 0
  };
}

/** Ops on one operand whose params name axes: batch at 0, shift the axes by one. */
function shifted<P extends Primitive>(
  prim: P,
  shift: (params: Params<P>, size: number) => Params<P>,
): BatchRule<P> {
  return ([x], [d], params, size) => {
    const front = toFront(x!, d!, size);
    return [bind(prim, shift(params, size), [front]), [0]];
  };
}

const plusOne = (axes: readonly number[]) => axes.map((a) => a + 1);

/** The batching rule of every primitive. */
export const batchRules: { [P in Primitive]: BatchRule<P> } = {
  ...(Object.fromEntries(unaryPrimitives.map((p) => [p, elementwise(p)])) as {
    [P in UnaryPrimitive]: BatchRule<P>;
  }),
  ...(Object.fromEntries(binaryPrimitives.map((p) => [p, elementwise(p)])) as {
    [P in BinaryPrimitive]: BatchRule<P>;
  }),
  select: elementwise("select"),
  cast: elementwise("cast"),
  bitcast: elementwise("bitcast"),
  stop_gradient: elementwise("stop_gradient"),
  threefry2x32: elementwise("threefry2x32"),
  reduce_sum: shifted("reduce_sum", (p) => ({ axes: plusOne(p.axes) })),
  reduce_max: shifted("reduce_max", (p) => ({ axes: plusOne(p.axes) })),
  reduce_min: shifted("reduce_min", (p) => ({ axes: plusOne(p.axes) })),
  argmax: shifted("argmax", (p) => ({ axis: p.axis + 1 })),
  argmin: shifted("argmin", (p) => ({ axis: p.axis + 1 })),
  cumsum: shifted("cumsum", (p) => ({ axis: p.axis + 1, reverse: p.reverse })),
  reshape: shifted("reshape", (p, size) => ({ shape: [size, ...p.shape] })),
  transpose: shifted("transpose", (p) => ({ perm: [0, ...plusOne(p.perm)] })),
  broadcast: shifted(
    "broadcast",
    (p, size) => ({ shape: [size, ...p.shape], dims: [0, ...plusOne(p.dims)] }),
  ),
  slice: shifted(
    "slice",
    (p, size) => ({
      start: [0, ...p.start],
      limit: [size, ...p.limit],
      strides: [1, ...p.strides],
    }),
  ),
  pad: shifted(
    "pad",
    (p) => ({ lo: [0, ...p.lo], hi: [0, ...p.hi], interior: [0, ...p.interior], value: p.value }),
  ),
  flip: shifted("flip", (p) => ({ axes: plusOne(p.axes) })),
  concatenate: (
    values,
    dims,
    { axis },
    size,
  ) => [[lax.concatenate(values.map((v, i) => toFront(v, dims[i] ?? null, size)), axis + 1)], [0]],
  take: (values, dims, params, size) => {
    const [x, idx] = values as [NDArray, NDArray];
    const [dx, di] = dims;
    if (di === null) return [[lax.take(toFront(x, dx!, size), idx, params.axis + 1)], [0]];
    if (dx === null) {
      // The indices' batch axis lands inside the output where the indices go.
      const front = toFront(idx, di!, size);
      return [[lax.take(x, front, params.axis)], [params.axis]];
    }
    return loopRule("take")(values, dims, params, size);
  },
  scatter_add: (values, dims, params, size) => {
    if (dims[1] === null) {
      return [[
        lax.scatterAdd(
          toFront(values[0]!, dims[0]!, size),
          values[1]!,
          params.axis + 1,
          params.size,
        ),
      ], [0]];
    }
    return loopRule("scatter_add")(values, dims, params, size);
  },
  matmul: ([a, b], [da, db], _params, size) => {
    if (db === null) {
      const r = a!.ndim; // a carries the batch axis here
      // Fold the batch into M: [..., B, M, K] -> [..., B*M, K].
      const moved = moveBatch(a!, da!, r - 3);
      const shape = moved.shape;
      const merged = lax.reshape(moved, [
        ...shape.slice(0, -3),
        shape[r - 3]! * shape[r - 2]!,
        shape[r - 1]!,
      ]);
      const out = lax.matmul(merged, b!);
      return [[
        lax.reshape(out, [...shape.slice(0, -3), size, shape[r - 2]!, b!.shape[b!.ndim - 1]!]),
      ], [r - 3]];
    }
    const fa = toFront(a!, da ?? null, size);
    const fb = toFront(b!, db ?? null, size);
    return [[lax.matmul(fa, fb)], [0]];
  },
  conv: (values, dims, params, size) => {
    const [x, w] = values as [NDArray, NDArray];
    if (dims[1] === null) {
      // Fold the batch into N: [B, N, C, ...] -> [B*N, C, ...].
      const front = toFront(x, dims[0]!, size);
      const merged = lax.reshape(front, [size * front.shape[1]!, ...front.shape.slice(2)]);
      const out = lax.conv(merged, w, params);
      return [[lax.reshape(out, [size, front.shape[1]!, ...out.shape.slice(1)])], [0]];
    }
    return loopRule("conv")(values, dims, params, size);
  },
  attention: (values, dims, params, size) => {
    // Fold the batch into B: [V, B, H, S, D] -> [V*B, H, S, D].
    const fronts = values.map((v, i) => toFront(v, dims[i] ?? null, size));
    const merged = fronts.map((f) => lax.reshape(f, [size * f.shape[1]!, ...f.shape.slice(2)]));
    const [out, lse] = lax.attention(merged[0]!, merged[1]!, merged[2]!, params);
    const b = fronts[0]!.shape[1]!;
    return [[
      lax.reshape(out, [size, b, ...out.shape.slice(1)]),
      lax.reshape(lse, [size, b, ...lse.shape.slice(1)]),
    ], [0, 0]];
  },
  attention_bwd: (values, dims, params, size) => {
    const fronts = values.map((v, i) => toFront(v, dims[i] ?? null, size));
    const merged = fronts.map((f) => lax.reshape(f, [size * f.shape[1]!, ...f.shape.slice(2)]));
    const grads = lax.attentionBackward(
      merged[0]!,
      merged[1]!,
      merged[2]!,
      merged[3]!,
      merged[4]!,
      merged[5]!,
      params,
    );
    return [grads.map((g) => lax.reshape(g, [size, fronts[0]!.shape[1]!, ...g.shape.slice(1)])), [
      0,
      0,
      0,
    ]];
  },
  iota: loopRule("iota"),
  full: loopRule("full"),
};

/** Options of `vmap`. */
export interface VmapOptions {
  /** Batch axis of each positional argument (null: not batched), or one axis for all. Default 0. */
  readonly inAxes?: number | null | readonly (number | null)[];
  /** Where the batch axis goes in every output (default 0). */
  readonly outAxes?: number;
}

/**
 * Vectorizes `f` over a batch axis of its arguments: `vmap(f)(xs)` equals stacking `f(x)` for
 * each `x` of `xs`, computed in one pass.
 *
 * @example
 * ```ts ignore
 * const perExampleGrads = vmap(grad(loss), { inAxes: [null, 0] })(params, batch);
 * ```
 */
export function vmap<A extends unknown[], R>(
  f: (...args: A) => R,
  options: VmapOptions = {},
): (...args: A) => R {
  return (...args: A): R => {
    const inAxes =
      options.inAxes === undefined || options.inAxes === null || typeof options.inAxes === "number"
        ? args.map(() => (options.inAxes === undefined ? 0 : options.inAxes as number | null))
        : options.inAxes;
    if (inAxes.length !== args.length) {
      throw new Error(`vmap: inAxes has ${inAxes.length} entries for ${args.length} arguments`);
    }
    let size: number | null = null;
    const perArg = args.map((arg, i) => {
      const [leaves, def] = flatten(arg);
      const axis = inAxes[i] ?? null;
      const resolved = leaves.map((leaf) => {
        if (axis === null || !(leaf instanceof NDArray)) return null;
        const ax = axis < 0 ? axis + leaf.ndim : axis;
        if (!(ax >= 0 && ax < leaf.ndim)) {
          throw new Error(
            `vmap: in axis ${axis} is out of range for argument ${i} (${leaf.describe()})`,
          );
        }
        const n = leaf.shape[ax]!;
        if (size !== null && n !== size) {
          throw new Error(
            `vmap: batch sizes differ: ${size} and ${n} (argument ${i}, ${
              fmtShape(leaf.shape)
            } at axis ${ax})`,
          );
        }
        size = n;
        return ax;
      });
      return { leaves, def, axes: resolved };
    });
    if (size === null) throw new Error("vmap: no argument has a batch axis (all inAxes are null)");
    const batch: number = size;
    return withTrace(new BatchTrace(nextLevel(), batch), (trace) => {
      const tracedArgs = perArg.map(({ leaves, def, axes }) =>
        unflatten(
          def,
          leaves.map((
            leaf,
            j,
          ) => (leaf instanceof NDArray ? new BatchTracer(trace, leaf, axes[j] ?? null) : leaf)),
        )
      );
      const out = f(...(tracedArgs as A));
      const [outLeaves, outDef] = flatten(out);
      const outAxis = options.outAxes ?? 0;
      const results = outLeaves.map((leaf) => {
        if (!(leaf instanceof NDArray)) return leaf;
        let value: NDArray;
        let dim: number;
        if (leaf instanceof BatchTracer && leaf.trace === trace && leaf.batchDim !== null) {
          value = leaf.value;
          dim = leaf.batchDim;
        } else {
          const unbatched = leaf instanceof BatchTracer && leaf.trace === trace ? leaf.value : leaf;
          value = toFront(unbatched, null, batch);
          dim = 0;
        }
        const target = outAxis < 0 ? outAxis + value.ndim : outAxis;
        if (!Number.isInteger(target) || target < 0 || target >= value.ndim) {
          throw new Error(
            `vmap: outAxes ${outAxis} is out of range for an output of shape ${
              fmtShape(value.shape)
            } (batch axis included)`,
          );
        }
        return moveBatch(value, dim, target);
      });
      return unflatten<R>(outDef, results);
    });
  };
}
