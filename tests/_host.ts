/**
 * Host-side tensors for tests: plain `number[]` data with a shape and dtype, converted to and
 * from arrays on the reference device, plus index arithmetic (axis moves, slices, stacking)
 * written independently of the library so tests do not check the library against itself.
 *
 * @module
 */
import type { DType } from "../kernels/dtype.ts";
import { type NDArray, np } from "../autograd/mod.ts";
import { flatten } from "../autograd/tree.ts";
import { backendNamed } from "../autograd/backends.ts";
import type { BackendArray } from "../kernels/backend.ts";
import type { Aval, Params, Primitive } from "../kernels/primitives.ts";

/** A tensor on the host: row-major data, shape, dtype. */
export interface HostTensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly data: readonly number[];
}

/** Number of elements of `shape`. */
export function sizeOfShape(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Row-major strides. */
export function stridesOfShape(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Uploads a host tensor to the current device. */
export function upload(t: HostTensor): NDArray {
  if (t.data.length !== sizeOfShape(t.shape)) {
    throw new Error(`upload: ${t.data.length} values for shape [${t.shape}]`);
  }
  return np.array(Float64Array.from(t.data), {
    shape: [...t.shape],
    dtype: t.dtype,
  });
}

/** Reads an array's elements as plain numbers (reference device). */
export function read(x: NDArray): number[] {
  return Array.from(x.dataSync() as ArrayLike<number>);
}

/** Reads an array as a host tensor. */
export function download(x: NDArray): HostTensor {
  return { shape: [...x.shape], dtype: x.dtype, data: read(x) };
}

/** The NDArray leaves of a pytree. */
export function arrayLeaves(tree: unknown): NDArray[] {
  return flatten(tree)[0].filter((l): l is NDArray => l instanceof np.NDArray);
}

/** Moves axis `from` of a host tensor to position `to`. */
export function moveAxis(t: HostTensor, from: number, to: number): HostTensor {
  const rank = t.shape.length;
  const order = Array.from({ length: rank }, (_, i) => i).filter((i) => i !== from);
  order.splice(to, 0, from);
  return transposeHost(t, order);
}

/** Permutes axes: output axis `i` is input axis `perm[i]`. */
export function transposeHost(t: HostTensor, perm: readonly number[]): HostTensor {
  const shape = perm.map((p) => t.shape[p]!);
  const inStrides = stridesOfShape(t.shape);
  const n = sizeOfShape(shape);
  const data = new Array<number>(n);
  const index = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    let src = 0;
    for (let d = 0; d < shape.length; d++) src += index[d]! * inStrides[perm[d]!]!;
    data[flat] = t.data[src]!;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d]! < shape[d]!) break;
      index[d] = 0;
    }
  }
  return { shape, dtype: t.dtype, data };
}

/** Stacks host tensors of one shape along a new leading axis. */
export function stackHost(ts: readonly HostTensor[]): HostTensor {
  const first = ts[0]!;
  return {
    shape: [ts.length, ...first.shape],
    dtype: first.dtype,
    data: ts.flatMap((t) => [...t.data]),
  };
}

/** Element `index` along the leading axis (the axis removed). */
export function indexLeading(t: HostTensor, index: number): HostTensor {
  const inner = sizeOfShape(t.shape.slice(1));
  return {
    shape: t.shape.slice(1),
    dtype: t.dtype,
    data: t.data.slice(index * inner, (index + 1) * inner),
  };
}

/** One primitive application seen by the reference backend. */
export interface Execution {
  readonly prim: Primitive;
  readonly params: Params<Primitive>;
  readonly inputs: readonly Aval[];
  readonly outputs: readonly Aval[];
}

/**
 * Runs `fn` eagerly on the reference device and records every primitive the backend executes
 * (including constants like `iota` and `full`, which tracing folds away).
 */
export function recordExecutions<T>(fn: () => T): { result: T; executions: Execution[] } {
  const backend = backendNamed("reference")!;
  const executions: Execution[] = [];
  const original = backend.execute;
  backend.execute = function <P extends Primitive>(
    prim: P,
    params: Params<P>,
    inputs: readonly BackendArray[],
    outAvals: readonly Aval[],
  ): BackendArray[] {
    executions.push({
      prim,
      params: params as Params<Primitive>,
      inputs: inputs.map((x) => x.aval),
      outputs: outAvals,
    });
    return original.call(backend, prim, params, inputs, outAvals);
  };
  try {
    return { result: fn(), executions };
  } finally {
    backend.execute = original;
  }
}
