/**
 * The closed set of primitives: every computation in Droplet is built from these, every backend
 * executes exactly these, and every transformation has one typed rule per primitive.
 *
 * Primitives are strict, like `jax.lax`: binary operations take operands of one shape and one
 * dtype (the `np` layer broadcasts and promotes first, explicitly), so each rule stays small.
 * `abstractEval` computes output shapes and dtypes and throws, naming shapes and dtypes, on
 * misuse; backends and tracers both rely on it.
 *
 * Adding a primitive means adding it to {@link PrimitiveParams}; the compiler then points at every
 * rule table (jvp, vjp, batching, reference interpreter, WGSL lowering) that lacks it.
 *
 * @module
 */

import { type DType, isFloat, isInteger } from "./dtype.ts";
import { checkPermutation, fmtShape, type Shape, shapesEqual, sizeOf } from "./shape.ts";

/** Shape and dtype of an array: all a tracer knows about a value. */
export interface Aval {
  readonly shape: Shape;
  readonly dtype: DType;
}

/** Parameters of unary elementwise primitives (none). */
export type NoParams = Record<string, never>;

/** Convolution parameters for `n` spatial dimensions (layout: lhs [N, C, ...], rhs [O, C/groups, ...]). */
export interface ConvParams {
  /** Window strides, one per spatial dimension. */
  readonly strides: readonly number[];
  /** Zero padding `[low, high]` per spatial dimension (may be negative to crop). */
  readonly padding: readonly (readonly [number, number])[];
  /** Input dilation (transposed convolution), one per spatial dimension. */
  readonly lhsDilation: readonly number[];
  /** Kernel dilation, one per spatial dimension. */
  readonly rhsDilation: readonly number[];
  /** Feature groups: `C` and `O` are both split into this many groups. */
  readonly groups: number;
}

/** Each primitive's name and its typed parameters. */
export interface PrimitiveParams {
  // Unary elementwise.
  neg: NoParams;
  recip: NoParams;
  exp: NoParams;
  log: NoParams;
  sqrt: NoParams;
  rsqrt: NoParams;
  sin: NoParams;
  cos: NoParams;
  tanh: NoParams;
  logistic: NoParams;
  erf: NoParams;
  abs: NoParams;
  sign: NoParams;
  floor: NoParams;
  ceil: NoParams;
  round: NoParams;
  logical_not: NoParams;
  is_nan: NoParams;
  // Binary elementwise (same shape, same dtype).
  add: NoParams;
  sub: NoParams;
  mul: NoParams;
  div: NoParams;
  rem: NoParams;
  pow: NoParams;
  max: NoParams;
  min: NoParams;
  atan2: NoParams;
  eq: NoParams;
  ne: NoParams;
  lt: NoParams;
  le: NoParams;
  gt: NoParams;
  ge: NoParams;
  and: NoParams;
  or: NoParams;
  xor: NoParams;
  shift_left: NoParams;
  shift_right: NoParams;
  // Ternary: where(cond, onTrue, onFalse).
  select: NoParams;
  // Type changes.
  cast: { readonly dtype: DType };
  bitcast: { readonly dtype: DType };
  stop_gradient: NoParams;
  // Reductions over `axes` (removed from the shape).
  reduce_sum: { readonly axes: readonly number[] };
  reduce_max: { readonly axes: readonly number[] };
  reduce_min: { readonly axes: readonly number[] };
  argmax: { readonly axis: number };
  argmin: { readonly axis: number };
  cumsum: { readonly axis: number; readonly reverse: boolean };
  // Movement (views: index arithmetic, no data motion in compiled kernels).
  reshape: { readonly shape: Shape };
  transpose: { readonly perm: readonly number[] };
  /** Operand axis `i` becomes output axis `dims[i]`; other output axes are broadcast. */
  broadcast: { readonly shape: Shape; readonly dims: readonly number[] };
  slice: {
    readonly start: readonly number[];
    readonly limit: readonly number[];
    readonly strides: readonly number[];
  };
  /** Pads with `value`: `lo`/`hi` on each side (negative crops), `interior` between elements. */
  pad: {
    readonly lo: readonly number[];
    readonly hi: readonly number[];
    readonly interior: readonly number[];
    readonly value: number;
  };
  flip: { readonly axes: readonly number[] };
  concatenate: { readonly axis: number };
  // Indexing: out = x.shape[:axis] ++ idx.shape ++ x.shape[axis+1:], indices clamped.
  take: { readonly axis: number };
  /** The transpose of `take`: adds `updates` into zeros of `size` along `axis` at `indices`. */
  scatter_add: { readonly axis: number; readonly size: number };
  // Linear algebra: a [...B, M, K] @ b [...B, K, N] -> [...B, M, N] (batch dims equal).
  matmul: NoParams;
  conv: ConvParams;
  // Fused attention: q [B, H, Sq, D], k [B, H, Sk, D], v [B, H, Sk, Dv] -> out [B, H, Sq, Dv],
  // logsumexp [B, H, Sq] (float32). A custom rule: never materializes the Sq x Sk scores.
  // `quantization: "int8"` (float32 only) computes both products on int8 values after
  // SageAttention (kernels/reference/attention_int8.ts); its gradient is the float one.
  attention: {
    readonly scale: number;
    readonly causal: boolean;
    readonly quantization?: "none" | "int8";
  };
  // The backward pass of `attention`: (q, k, v, out, lse, dOut) -> (dq, dk, dv).
  attention_bwd: { readonly scale: number; readonly causal: boolean };
  // Creation without host data.
  iota: { readonly shape: Shape; readonly axis: number; readonly dtype: DType };
  full: { readonly shape: Shape; readonly value: number; readonly dtype: DType };
  // Counter-based random bits: (k0, k1, x0, x1) uint32 of one shape -> (y0, y1).
  threefry2x32: NoParams;
}

/** The name of a primitive. */
export type Primitive = keyof PrimitiveParams;

/** The parameters of primitive `P`. */
export type Params<P extends Primitive> = PrimitiveParams[P];

/** A primitive together with its parameters, as one value (e.g. a program equation's head). */
export type PrimitiveCall = {
  [P in Primitive]: { readonly prim: P; readonly params: Params<P> };
}[Primitive];

/** Unary elementwise primitives (output dtype = input dtype, except `is_nan` -> bool). */
export const unaryPrimitives = [
  "neg",
  "recip",
  "exp",
  "log",
  "sqrt",
  "rsqrt",
  "sin",
  "cos",
  "tanh",
  "logistic",
  "erf",
  "abs",
  "sign",
  "floor",
  "ceil",
  "round",
  "logical_not",
  "is_nan",
] as const satisfies readonly Primitive[];

/** Binary elementwise primitives. */
export const binaryPrimitives = [
  "add",
  "sub",
  "mul",
  "div",
  "rem",
  "pow",
  "max",
  "min",
  "atan2",
  "eq",
  "ne",
  "lt",
  "le",
  "gt",
  "ge",
  "and",
  "or",
  "xor",
  "shift_left",
  "shift_right",
] as const satisfies readonly Primitive[];

/** The unary elementwise primitive names. */
export type UnaryPrimitive = (typeof unaryPrimitives)[number];
/** The binary elementwise primitive names. */
export type BinaryPrimitive = (typeof binaryPrimitives)[number];

const comparisons = new Set<Primitive>(["eq", "ne", "lt", "le", "gt", "ge"]);
const floatOnlyUnary = new Set<Primitive>([
  "recip",
  "exp",
  "log",
  "sqrt",
  "rsqrt",
  "sin",
  "cos",
  "tanh",
  "logistic",
  "erf",
  "floor",
  "ceil",
  "round",
  "is_nan",
]);
const floatOnlyBinary = new Set<Primitive>(["pow", "atan2"]);
const bitwiseOps = new Set<Primitive>(["and", "or", "xor"]);
const shiftOps = new Set<Primitive>(["shift_left", "shift_right"]);

/**
 * True for primitives computed element by element (unary, binary, select, cast, bitcast).
 *
 * @example
 * ```ts
 * import { isElementwise } from "./primitives.ts";
 * isElementwise("add"); // true
 * isElementwise("matmul"); // false
 * ```
 */
export function isElementwise(prim: Primitive): boolean {
  return (unaryPrimitives as readonly string[]).includes(prim) ||
    (binaryPrimitives as readonly string[]).includes(prim) || prim === "select" ||
    prim === "cast" || prim === "bitcast" || prim === "stop_gradient";
}

/**
 * True for comparison primitives (bool output).
 *
 * @example
 * ```ts
 * import { isComparison } from "./primitives.ts";
 * isComparison("lt"); // true
 * ```
 */
export function isComparison(prim: Primitive): boolean {
  return comparisons.has(prim);
}

function fail(prim: Primitive, message: string): never {
  throw new Error(`${prim}: ${message}`);
}

function fmt(a: Aval): string {
  return `${a.dtype}${fmtShape(a.shape)}`;
}

function checkArity(prim: Primitive, inputs: readonly Aval[], n: number): void {
  if (inputs.length !== n) fail(prim, `expected ${n} operands, got ${inputs.length}`);
}

function checkIntList(prim: Primitive, name: string, list: readonly number[], rank: number): void {
  if (list.length !== rank || list.some((v) => !Number.isInteger(v))) {
    fail(prim, `${name} ${JSON.stringify(list)} must be ${rank} integers`);
  }
}

function reduceShape(prim: Primitive, x: Aval, axes: readonly number[]): number[] {
  const seen = new Set<number>();
  for (const a of axes) {
    if (!Number.isInteger(a) || a < 0 || a >= x.shape.length || seen.has(a)) {
      fail(prim, `invalid axes ${JSON.stringify(axes)} for ${fmt(x)}`);
    }
    seen.add(a);
  }
  return x.shape.filter((_, i) => !seen.has(i));
}

/** Output size of a strided window: `floor((in - window) / stride) + 1`, at least 0. */
export function convOutputSize(
  inSize: number,
  kernelSize: number,
  stride: number,
  [lo, hi]: readonly [number, number],
  lhsDilation: number,
  rhsDilation: number,
): number {
  const dilatedIn = inSize === 0 ? 0 : (inSize - 1) * lhsDilation + 1;
  const padded = dilatedIn + lo + hi;
  const window = (kernelSize - 1) * rhsDilation + 1;
  return padded < window ? 0 : Math.floor((padded - window) / stride) + 1;
}

/**
 * Output shapes and dtypes of a primitive applied to inputs of the given avals. Throws with the
 * primitive's name and the operands' shapes and dtypes on invalid input.
 *
 * @example
 * ```ts
 * import { abstractEval } from "./primitives.ts";
 * abstractEval("matmul", [{ shape: [2, 3], dtype: "float32" }, { shape: [3, 4], dtype: "float32" }], {});
 * // [{ shape: [2, 4], dtype: "float32" }]
 * ```
 */
export function abstractEval<P extends Primitive>(
  prim: P,
  inputs: readonly Aval[],
  params: Params<P>,
): Aval[] {
  const call = { prim, params } as PrimitiveCall;
  return abstractEvalCall(call, inputs);
}

function abstractEvalCall(call: PrimitiveCall, inputs: readonly Aval[]): Aval[] {
  const prim = call.prim;
  if ((unaryPrimitives as readonly string[]).includes(prim)) {
    checkArity(prim, inputs, 1);
    const x = inputs[0]!;
    if (floatOnlyUnary.has(prim) && !isFloat(x.dtype)) {
      fail(prim, `needs a float operand, got ${fmt(x)}`);
    }
    if (prim === "logical_not" && !(x.dtype === "bool" || isInteger(x.dtype))) {
      fail(prim, `needs a bool or integer operand, got ${fmt(x)}`);
    }
    if (x.dtype === "bool" && prim !== "logical_not") {
      fail(prim, `does not accept bool operand ${fmt(x)}`);
    }
    return [{ shape: x.shape, dtype: prim === "is_nan" ? "bool" : x.dtype }];
  }
  if ((binaryPrimitives as readonly string[]).includes(prim)) {
    checkArity(prim, inputs, 2);
    const [a, b] = inputs as [Aval, Aval];
    if (!shapesEqual(a.shape, b.shape) || a.dtype !== b.dtype) {
      fail(prim, `operands must have one shape and dtype, got ${fmt(a)} and ${fmt(b)}`);
    }
    if (floatOnlyBinary.has(prim) && !isFloat(a.dtype)) {
      fail(prim, `needs float operands, got ${fmt(a)}`);
    }
    if (bitwiseOps.has(prim) && isFloat(a.dtype)) {
      fail(prim, `needs bool or integer operands, got ${fmt(a)}`);
    }
    if (shiftOps.has(prim) && !isInteger(a.dtype)) {
      fail(prim, `needs integer operands, got ${fmt(a)}`);
    }
    if (a.dtype === "bool" && !bitwiseOps.has(prim) && prim !== "eq" && prim !== "ne") {
      fail(prim, `does not accept bool operands`);
    }
    return [{ shape: a.shape, dtype: comparisons.has(prim) ? "bool" : a.dtype }];
  }
  switch (call.prim) {
    case "select": {
      checkArity(prim, inputs, 3);
      const [c, a, b] = inputs as [Aval, Aval, Aval];
      if (c.dtype !== "bool") fail(prim, `condition must be bool, got ${fmt(c)}`);
      if (!shapesEqual(c.shape, a.shape) || !shapesEqual(a.shape, b.shape) || a.dtype !== b.dtype) {
        fail(prim, `operands must match, got ${fmt(c)}, ${fmt(a)}, ${fmt(b)}`);
      }
      return [{ shape: a.shape, dtype: a.dtype }];
    }
    case "cast":
      checkArity(prim, inputs, 1);
      return [{ shape: inputs[0]!.shape, dtype: call.params.dtype }];
    case "bitcast": {
      checkArity(prim, inputs, 1);
      const x = inputs[0]!;
      const widths: Record<DType, number> = {
        float32: 4,
        int32: 4,
        uint32: 4,
        float16: 2,
        bfloat16: 2,
        bool: 1,
      };
      if (widths[x.dtype] !== widths[call.params.dtype] || x.dtype === "bool") {
        fail(prim, `cannot bitcast ${fmt(x)} to ${call.params.dtype}: widths differ`);
      }
      return [{ shape: x.shape, dtype: call.params.dtype }];
    }
    case "stop_gradient":
      checkArity(prim, inputs, 1);
      return [inputs[0]!];
    case "reduce_sum":
    case "reduce_max":
    case "reduce_min": {
      checkArity(prim, inputs, 1);
      const x = inputs[0]!;
      if (x.dtype === "bool") fail(prim, `does not accept bool operand ${fmt(x)}`);
      return [{ shape: reduceShape(prim, x, call.params.axes), dtype: x.dtype }];
    }
    case "argmax":
    case "argmin": {
      checkArity(prim, inputs, 1);
      const x = inputs[0]!;
      const axis = call.params.axis;
      if (x.shape[axis] === 0) fail(prim, `cannot reduce an empty axis ${axis} of ${fmt(x)}`);
      return [{ shape: reduceShape(prim, x, [axis]), dtype: "int32" }];
    }
    case "cumsum": {
      checkArity(prim, inputs, 1);
      const x = inputs[0]!;
      reduceShape(prim, x, [call.params.axis]);
      if (x.dtype === "bool") fail(prim, `does not accept bool operand ${fmt(x)}`);
      return [x];
    }
    case "reshape": {
      checkArity(prim, inputs, 1);
      const x = inputs[0]!;
      const shape = call.params.shape;
      if (shape.some((d) => !Number.isInteger(d) || d < 0) || sizeOf(shape) !== sizeOf(x.shape)) {
        fail(
          prim,
          `cannot reshape ${fmtShape(x.shape)} to ${fmtShape(shape)}: sizes differ (${
            sizeOf(x.shape)
          } vs ${sizeOf(shape)})`,
        );
      }
      return [{ shape, dtype: x.dtype }];
    }
    case "transpose": {
      checkArity(prim, inputs, 1);
      const x = inputs[0]!;
      checkPermutation(call.params.perm, x.shape.length);
      return [{ shape: call.params.perm.map((p) => x.shape[p]!), dtype: x.dtype }];
    }
    case "broadcast": {
      checkArity(prim, inputs, 1);
      const x = inputs[0]!;
      const { shape, dims } = call.params;
      if (dims.length !== x.shape.length) {
        fail(prim, `dims ${JSON.stringify(dims)} must have one entry per axis of ${fmt(x)}`);
      }
      for (let i = 0; i < dims.length; i++) {
        const d = dims[i]!;
        if (!(d >= 0 && d < shape.length) || (i > 0 && d <= dims[i - 1]!)) {
          fail(prim, `dims ${JSON.stringify(dims)} must be increasing axes of ${fmtShape(shape)}`);
        }
        if (x.shape[i] !== 1 && x.shape[i] !== shape[d]) {
          fail(
            prim,
            `cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(shape)} with dims ${
              JSON.stringify(dims)
            }`,
          );
        }
      }
      return [{ shape, dtype: x.dtype }];
    }
    case "slice": {
      checkArity(prim, inputs, 1);
      const x = inputs[0]!;
      const { start, limit, strides } = call.params;
      const rank = x.shape.length;
      checkIntList(prim, "start", start, rank);
      checkIntList(prim, "limit", limit, rank);
      checkIntList(prim, "strides", strides, rank);
      const shape = x.shape.map((n, i) => {
        const s = start[i]!, l = limit[i]!, st = strides[i]!;
        if (!(s >= 0 && s <= l && l <= n && st >= 1)) {
          fail(
            prim,
            `invalid slice [${start}]..[${limit}] step [${strides}] of ${fmtShape(x.shape)}`,
          );
        }
        return Math.ceil((l - s) / st);
      });
      return [{ shape, dtype: x.dtype }];
    }
    case "pad": {
      checkArity(prim, inputs, 1);
      const x = inputs[0]!;
      const { lo, hi, interior } = call.params;
      const rank = x.shape.length;
      checkIntList(prim, "lo", lo, rank);
      checkIntList(prim, "hi", hi, rank);
      checkIntList(prim, "interior", interior, rank);
      const shape = x.shape.map((n, i) => {
        const inner = n === 0 ? 0 : n + (n - 1) * interior[i]!;
        const out = lo[i]! + inner + hi[i]!;
        if (interior[i]! < 0 || out < 0) {
          fail(
            prim,
            `invalid padding of ${fmtShape(x.shape)}: lo [${lo}] hi [${hi}] interior [${interior}]`,
          );
        }
        return out;
      });
      return [{ shape, dtype: x.dtype }];
    }
    case "flip": {
      checkArity(prim, inputs, 1);
      reduceShape(prim, inputs[0]!, call.params.axes);
      return [inputs[0]!];
    }
    case "concatenate": {
      if (inputs.length === 0) fail(prim, "needs at least one operand");
      const first = inputs[0]!;
      const axis = call.params.axis;
      if (!(axis >= 0 && axis < first.shape.length)) {
        fail(prim, `axis ${axis} out of range for ${fmt(first)}`);
      }
      let total = 0;
      for (const x of inputs) {
        const same = x.dtype === first.dtype && x.shape.length === first.shape.length &&
          x.shape.every((d, i) => i === axis || d === first.shape[i]);
        if (!same) fail(prim, `operands differ off axis ${axis}: ${inputs.map(fmt).join(", ")}`);
        total += x.shape[axis]!;
      }
      return [{ shape: first.shape.map((d, i) => (i === axis ? total : d)), dtype: first.dtype }];
    }
    case "take": {
      checkArity(prim, inputs, 2);
      const [x, idx] = inputs as [Aval, Aval];
      const axis = call.params.axis;
      if (!(axis >= 0 && axis < x.shape.length)) {
        fail(prim, `axis ${axis} out of range for ${fmt(x)}`);
      }
      if (idx.dtype !== "int32") fail(prim, `indices must be int32, got ${fmt(idx)}`);
      return [{
        shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)],
        dtype: x.dtype,
      }];
    }
    case "scatter_add": {
      checkArity(prim, inputs, 2);
      const [updates, idx] = inputs as [Aval, Aval];
      const { axis, size } = call.params;
      if (idx.dtype !== "int32") fail(prim, `indices must be int32, got ${fmt(idx)}`);
      const r = idx.shape.length;
      const inner = updates.shape.slice(axis, axis + r);
      if (!shapesEqual(inner, idx.shape)) {
        fail(prim, `updates ${fmt(updates)} do not hold indices ${fmt(idx)} at axis ${axis}`);
      }
      return [{
        shape: [...updates.shape.slice(0, axis), size, ...updates.shape.slice(axis + r)],
        dtype: updates.dtype,
      }];
    }
    case "matmul": {
      checkArity(prim, inputs, 2);
      const [a, b] = inputs as [Aval, Aval];
      const ra = a.shape.length, rb = b.shape.length;
      if (ra < 2 || rb < 2 || ra !== rb) {
        fail(prim, `operands must have equal rank >= 2, got ${fmt(a)} and ${fmt(b)}`);
      }
      if (a.dtype !== b.dtype) fail(prim, `operand dtypes differ: ${fmt(a)} and ${fmt(b)}`);
      if (!isFloat(a.dtype) && !isInteger(a.dtype)) {
        fail(prim, `needs numeric operands, got ${fmt(a)}`);
      }
      if (!shapesEqual(a.shape.slice(0, -2), b.shape.slice(0, -2))) {
        fail(prim, `batch dims differ: ${fmt(a)} and ${fmt(b)}`);
      }
      const k = a.shape[ra - 1]!, k2 = b.shape[rb - 2]!;
      if (k !== k2) {
        fail(
          prim,
          `cannot contract ${fmtShape(a.shape)} with ${
            fmtShape(b.shape)
          }: inner sizes ${k} and ${k2} differ`,
        );
      }
      return [{ shape: [...a.shape.slice(0, -1), b.shape[rb - 1]!], dtype: a.dtype }];
    }
    case "conv": {
      checkArity(prim, inputs, 2);
      const [x, w] = inputs as [Aval, Aval];
      const p = call.params;
      const n = x.shape.length - 2;
      if (n < 1 || w.shape.length !== n + 2) {
        fail(
          prim,
          `lhs ${fmt(x)} and rhs ${
            fmt(w)
          } must be [N, C, ...] and [O, C/groups, ...] of equal rank >= 3`,
        );
      }
      if (x.dtype !== w.dtype || !isFloat(x.dtype)) {
        fail(prim, `needs float operands of one dtype, got ${fmt(x)} and ${fmt(w)}`);
      }
      for (
        const [name, list] of [["strides", p.strides], ["lhsDilation", p.lhsDilation], [
          "rhsDilation",
          p.rhsDilation,
        ]] as const
      ) {
        if (list.length !== n || list.some((v) => !Number.isInteger(v) || v < 1)) {
          fail(prim, `${name} ${JSON.stringify(list)} must be ${n} positive integers`);
        }
      }
      if (p.padding.length !== n) fail(prim, `padding needs ${n} [low, high] pairs`);
      const [batch, channels] = [x.shape[0]!, x.shape[1]!];
      const [outC, inCPerGroup] = [w.shape[0]!, w.shape[1]!];
      if (
        !(p.groups >= 1) || channels % p.groups !== 0 || outC % p.groups !== 0 ||
        channels / p.groups !== inCPerGroup
      ) {
        fail(prim, `channels do not match: input ${fmt(x)}, kernel ${fmt(w)}, groups ${p.groups}`);
      }
      const spatial = x.shape.slice(2).map((size, i) =>
        convOutputSize(
          size,
          w.shape[2 + i]!,
          p.strides[i]!,
          p.padding[i]!,
          p.lhsDilation[i]!,
          p.rhsDilation[i]!,
        )
      );
      return [{ shape: [batch, outC, ...spatial], dtype: x.dtype }];
    }
    case "attention": {
      checkArity(prim, inputs, 3);
      const [q, k, v] = inputs as [Aval, Aval, Aval];
      checkAttention(q, k, v);
      if (call.params.quantization === "int8" && q.dtype !== "float32") {
        throw new Error(
          `attention: quantization "int8" takes float32 q, k and v, got ${q.dtype}; cast first`,
        );
      }
      const [b, h, sq] = q.shape as [number, number, number, number];
      return [
        { shape: [b, h, sq, v.shape[3]!], dtype: q.dtype },
        { shape: [b, h, sq], dtype: "float32" },
      ];
    }
    case "attention_bwd": {
      checkArity(prim, inputs, 6);
      const [q, k, v, out, lse, dOut] = inputs as [Aval, Aval, Aval, Aval, Aval, Aval];
      checkAttention(q, k, v);
      const expectOut = [q.shape[0]!, q.shape[1]!, q.shape[2]!, v.shape[3]!];
      if (
        !shapesEqual(out.shape, expectOut) || !shapesEqual(dOut.shape, expectOut) ||
        !shapesEqual(lse.shape, expectOut.slice(0, 3))
      ) {
        fail(
          prim,
          `out ${fmt(out)}, lse ${fmt(lse)}, dOut ${fmt(dOut)} do not match q ${fmt(q)} and v ${
            fmt(v)
          }`,
        );
      }
      return [q, k, v];
    }
    case "iota": {
      checkArity(prim, inputs, 0);
      const { shape, axis, dtype } = call.params;
      if (!(axis >= 0 && axis < shape.length)) {
        fail(prim, `axis ${axis} out of range for ${fmtShape(shape)}`);
      }
      return [{ shape, dtype }];
    }
    case "full":
      checkArity(prim, inputs, 0);
      return [{ shape: call.params.shape, dtype: call.params.dtype }];
    case "threefry2x32": {
      checkArity(prim, inputs, 4);
      const first = inputs[0]!;
      for (const x of inputs) {
        if (x.dtype !== "uint32" || !shapesEqual(x.shape, first.shape)) {
          fail(prim, `operands must be uint32 of one shape, got ${inputs.map(fmt).join(", ")}`);
        }
      }
      return [first, first];
    }
  }
  return fail(prim, "has no shape rule");
}

function checkAttention(q: Aval, k: Aval, v: Aval): void {
  const ok = q.shape.length === 4 && k.shape.length === 4 && v.shape.length === 4 &&
    q.shape[0] === k.shape[0] && q.shape[1] === k.shape[1] && k.shape[0] === v.shape[0] &&
    k.shape[1] === v.shape[1] && q.shape[3] === k.shape[3] && k.shape[2] === v.shape[2] &&
    q.dtype === k.dtype && k.dtype === v.dtype && isFloat(q.dtype);
  if (!ok) {
    throw new Error(
      `attention: expected q [B,H,Sq,D], k [B,H,Sk,D], v [B,H,Sk,Dv] of one float dtype, got q ${
        fmt(q)
      }, k ${fmt(k)}, v ${fmt(v)}`,
    );
  }
}
