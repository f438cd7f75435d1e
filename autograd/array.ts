/**
 * `NDArray`: the immutable array users hold, and `bind`, the one door through which every
 * primitive operation passes.
 *
 * A concrete array lives on a backend (level 0 of the trace stack). Inside a transformation the
 * same class stands for a tracer: subclasses defined by each transformation carry what it needs
 * (a tangent, a batch axis, a program variable). Users never tell them apart, exactly as in JAX.
 *
 * @module
 */

import type { Backend, BackendArray } from "../kernels/backend.ts";
import type { DType, HostArray, ReadArrayOf } from "../kernels/dtype.ts";
import { bfloat16BitsToFloat, halfBitsToFloat } from "../kernels/half.ts";
import { abstractEval, type Aval, type Params, type Primitive } from "../kernels/primitives.ts";
import { fmtShape, sizeOf } from "../kernels/shape.ts";
import { defaultBackend } from "./backends.ts";
import { track, untrack } from "./memory.ts";
import * as np from "./numpy/methods.ts";
import { dynamicTrace, Trace } from "./trace.ts";

/** A value accepted where an array is expected: an array or a JavaScript scalar. */
export type ArrayLike = NDArray | number | boolean;

/** A read-only indexable list of numbers (the built-in `ArrayLike<number>`, which our `ArrayLike` shadows). */
export type NumberList = { readonly length: number; readonly [index: number]: number };

/** Nested JavaScript arrays of numbers (what `toArray` returns). */
export type NestedArray = number | NestedArray[];

/** The trace of concrete arrays: level 0, evaluation on a backend. */
class EvalTrace extends Trace {
  constructor() {
    super(0, "eval");
  }

  lift(x: NDArray): NDArray {
    return x;
  }

  process<P extends Primitive>(
    prim: P,
    params: Params<P>,
    inputs: readonly NDArray[],
    outAvals: readonly Aval[],
  ): NDArray[] {
    let backend: Backend | null = null;
    const values = inputs.map((x) => {
      const value = x.backendValue();
      if (backend && value.backend !== backend) {
        throw new Error(
          `${prim}: operands live on different devices (${backend.name} and ${value.backend.name}); ` +
            `move them with device.put first`,
        );
      }
      backend = value.backend;
      return value;
    });
    const target: Backend = backend ?? defaultBackend();
    return target.execute(prim, params, values, outAvals).map((v) => NDArray.fromBackend(v));
  }
}

/** The evaluation trace (level 0). */
export const evalTrace: Trace = new EvalTrace();

/**
 * An immutable n-dimensional array (or, inside a transformation, a tracer standing for one).
 * Read values with `await x.data()` / `await x.toArray()`.
 *
 * @example
 * ```ts ignore
 * import { np } from "../mod.ts";
 * const x = np.array([[1, 2], [3, 4]]);
 * x.shape; // [2, 2]
 * await x.add(1).toArray(); // [[2, 3], [4, 5]]
 * ```
 */
export class NDArray {
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** @internal The trace this value belongs to (`evalTrace` for concrete arrays). */
  readonly trace: Trace;
  #value: BackendArray | null;
  #token: object | null = null;

  /** @internal Use `np.array` and friends to create arrays. */
  constructor(aval: Aval, trace: Trace, value: BackendArray | null = null) {
    this.shape = aval.shape;
    this.dtype = aval.dtype;
    this.trace = trace;
    this.#value = value;
  }

  /** @internal Wraps a backend array as a concrete array (tracked by scopes and the finalizer). */
  static fromBackend(value: BackendArray): NDArray {
    const array = new NDArray(value.aval, evalTrace, value);
    array.#token = {};
    track(array, value.backend, value, array.#token);
    return array;
  }

  /**
   * @internal A second handle on the same storage, owned by the caller rather than by any scope
   * (a compiled program's captured constants must outlive the scope they were created in).
   */
  keep(): NDArray {
    const value = this.backendValue();
    value.backend.retain(value);
    const array = new NDArray(value.aval, evalTrace, value);
    array.#token = {};
    track(array, value.backend, value, array.#token, false);
    return array;
  }

  /** Shape and dtype. */
  get aval(): Aval {
    return { shape: this.shape, dtype: this.dtype };
  }

  /** Number of axes. */
  get ndim(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  /** True for concrete arrays, false for tracers. */
  get isConcrete(): boolean {
    return this.trace === evalTrace;
  }

  /** True once the storage of a concrete array was freed. */
  get isDisposed(): boolean {
    return this.isConcrete && this.#value === null;
  }

  /** @internal The backend storage of a concrete array; throws for tracers and freed arrays. */
  backendValue(): BackendArray {
    if (!this.isConcrete) {
      throw new Error(
        `A traced ${this.describe()} inside ${this.trace.kind} has no value yet; read values ` +
          `outside the transformation`,
      );
    }
    if (this.#value === null) {
      throw new Error(
        `${this.describe()} was freed (by dispose(), a donating jit call, or the scope that created it)`,
      );
    }
    return this.#value;
  }

  /** The device this array lives on. */
  get device(): string {
    return this.backendValue().backend.name;
  }

  /** A short description for messages: `float32[2,3]`. */
  describe(): string {
    return `${this.dtype}${fmtShape(this.shape)} array`;
  }

  /** The elements, row-major, as a fresh typed array (float16/bfloat16 widened to float32). */
  async data(): Promise<ReadArrayOf[DType]> {
    const value = this.backendValue();
    const raw = await value.backend.read(value);
    return widen(raw, this.dtype);
  }

  /**
   * The elements in their storage format: raw 16-bit patterns (`Uint16Array`) for float16 and
   * bfloat16, 0/1 bytes for bool, else as `data()`. For bit-exact IO (checkpoints).
   */
  async rawData(): Promise<HostArray> {
    const value = this.backendValue();
    return await value.backend.read(value);
  }

  /** Synchronous read, available on the reference device only. */
  dataSync(): ReadArrayOf[DType] {
    const value = this.backendValue();
    if (!value.backend.readSync) {
      throw new Error(
        `dataSync is not available on the ${value.backend.name} device; use await x.data()`,
      );
    }
    return widen(value.backend.readSync(value), this.dtype);
  }

  /** The elements as nested JavaScript arrays (a number for a 0-d array). */
  async toArray(): Promise<NestedArray> {
    return nest(await this.data(), this.shape);
  }

  /** The single element of a size-1 array, as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item() needs a size-1 array, got ${this.describe()}`);
    return (await this.data())[0]!;
  }

  /** Frees the storage now (idempotent). Tracers have nothing to free. */
  dispose(): void {
    if (!this.isConcrete || this.#value === null) return;
    const value = this.#value;
    this.#value = null;
    if (this.#token) untrack(this.#token);
    value.backend.release(value);
  }

  /** `using x = ...` frees the array at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    return `NDArray(${this.describe()}${this.isConcrete ? "" : `, traced by ${this.trace.kind}`})`;
  }

  // Method forms of `np` functions, so `x.add(y).exp()` reads left to right.
  add(other: ArrayLike): NDArray {
    return np.add(this, other);
  }
  sub(other: ArrayLike): NDArray {
    return np.subtract(this, other);
  }
  mul(other: ArrayLike): NDArray {
    return np.multiply(this, other);
  }
  div(other: ArrayLike): NDArray {
    return np.divide(this, other);
  }
  pow(other: ArrayLike): NDArray {
    return np.power(this, other);
  }
  maximum(other: ArrayLike): NDArray {
    return np.maximum(this, other);
  }
  minimum(other: ArrayLike): NDArray {
    return np.minimum(this, other);
  }
  neg(): NDArray {
    return np.negative(this);
  }
  exp(): NDArray {
    return np.exp(this);
  }
  log(): NDArray {
    return np.log(this);
  }
  sqrt(): NDArray {
    return np.sqrt(this);
  }
  tanh(): NDArray {
    return np.tanh(this);
  }
  sin(): NDArray {
    return np.sin(this);
  }
  cos(): NDArray {
    return np.cos(this);
  }
  abs(): NDArray {
    return np.abs(this);
  }
  square(): NDArray {
    return np.square(this);
  }
  equal(other: ArrayLike): NDArray {
    return np.equal(this, other);
  }
  notEqual(other: ArrayLike): NDArray {
    return np.notEqual(this, other);
  }
  less(other: ArrayLike): NDArray {
    return np.less(this, other);
  }
  lessEqual(other: ArrayLike): NDArray {
    return np.lessEqual(this, other);
  }
  greater(other: ArrayLike): NDArray {
    return np.greater(this, other);
  }
  greaterEqual(other: ArrayLike): NDArray {
    return np.greaterEqual(this, other);
  }
  matmul(other: NDArray): NDArray {
    return np.matmul(this, other);
  }
  reshape(shape: readonly number[]): NDArray {
    return np.reshape(this, shape);
  }
  transpose(axes?: readonly number[]): NDArray {
    return np.transpose(this, axes);
  }
  /** The transpose (axes reversed). */
  get T(): NDArray {
    return np.transpose(this);
  }
  sum(axis?: number | readonly number[], options: { keepdims?: boolean } = {}): NDArray {
    return np.sum(this, axis, options);
  }
  mean(axis?: number | readonly number[], options: { keepdims?: boolean } = {}): NDArray {
    return np.mean(this, axis, options);
  }
  max(axis?: number | readonly number[], options: { keepdims?: boolean } = {}): NDArray {
    return np.max(this, axis, options);
  }
  min(axis?: number | readonly number[], options: { keepdims?: boolean } = {}): NDArray {
    return np.min(this, axis, options);
  }
  argmax(axis?: number, options: { keepdims?: boolean } = {}): NDArray {
    return np.argmax(this, axis, options);
  }
  argmin(axis?: number, options: { keepdims?: boolean } = {}): NDArray {
    return np.argmin(this, axis, options);
  }
  astype(dtype: DType): NDArray {
    return np.astype(this, dtype);
  }
  squeeze(axis?: number | readonly number[]): NDArray {
    return np.squeeze(this, axis);
  }
  expandDims(axis: number | readonly number[]): NDArray {
    return np.expandDims(this, axis);
  }
  flatten(): NDArray {
    return np.reshape(this, [-1]);
  }
}

function widen(raw: NumberList, dtype: DType): ReadArrayOf[DType] {
  if (dtype === "float16") return Float32Array.from(raw, halfBitsToFloat);
  if (dtype === "bfloat16") return Float32Array.from(raw, bfloat16BitsToFloat);
  return raw as ReadArrayOf[DType];
}

function nest(data: NumberList, shape: readonly number[]): NestedArray {
  if (shape.length === 0) return data[0]!;
  const build = (offset: number, axis: number): NestedArray[] => {
    const n = shape[axis]!;
    const stride = sizeOf(shape.slice(axis + 1));
    const out: NestedArray[] = [];
    for (let i = 0; i < n; i++) {
      out.push(
        axis === shape.length - 1 ? data[offset + i]! : build(offset + i * stride, axis + 1),
      );
    }
    return out;
  };
  return build(0, 0);
}

/**
 * Applies a primitive: validates shapes and dtypes (throwing at the call), then hands it to the
 * highest-level trace among the operands.
 *
 * @example
 * ```ts ignore
 * const [y] = bind("exp", {}, [x]);
 * ```
 */
export function bind<P extends Primitive>(
  prim: P,
  params: Params<P>,
  inputs: readonly NDArray[],
): NDArray[] {
  const outAvals = abstractEval(prim, inputs.map((x) => x.aval), params);
  // While a program is traced for jit, every operation belongs to it, even one on constants
  // only (JAX's "omnistaging"), so `x + 1` compiles to one fused kernel instead of running the
  // constant part eagerly at trace time.
  let top: Trace = dynamicTrace() ?? evalTrace;
  for (const x of inputs) {
    if (!x.trace.active) {
      throw new Error(
        `${prim}: a traced array escaped its ${x.trace.kind} transformation (a leaked tracer); ` +
          `return it from the transformed function instead of storing it`,
      );
    }
    if (x.trace.level > top.level) top = x.trace;
  }
  const lifted = inputs.map((x) => (x.trace === top ? x : top.lift(x)));
  return top.process(prim, params, lifted, outAvals);
}

/**
 * {@link bind} for single-output primitives.
 *
 * @example
 * ```ts ignore
 * const y = bind1("exp", {}, [x]);
 * ```
 */
export function bind1<P extends Primitive>(
  prim: P,
  params: Params<P>,
  inputs: readonly NDArray[],
): NDArray {
  return bind(prim, params, inputs)[0]!;
}
