/**
 * Reverse-mode rules: for each primitive, the cotangents of its inputs given the cotangents of
 * its outputs and the forward values. One table, typed so that a missing primitive is a
 * compile error. Rules call public ops, so a backward pass is itself differentiable.
 *
 * @module
 */

import { isFloat } from "../kernels/dtype.ts";
import type {
  BinaryPrimitive,
  ConvParams,
  Params,
  Primitive,
  UnaryPrimitive,
} from "../kernels/primitives.ts";
import { invertPermutation } from "../kernels/shape.ts";
import type { NDArray } from "./array.ts";
import { powPartials, reductionLocations, selectionWeights } from "./jvp.ts";
import * as lax from "./lax.ts";

/** A cotangent: an array, or `null` for zero. */
export type Cotangent = NDArray | null;

/**
 * The vjp rule of a primitive: cotangents of outputs (null where no cotangent flowed), the
 * forward inputs and outputs, the params; returns one cotangent per input (null: none).
 */
export type VjpRule<P extends Primitive> = (
  cts: readonly Cotangent[],
  inputs: readonly NDArray[],
  outputs: readonly NDArray[],
  params: Params<P>,
) => Cotangent[];

const mul = (a: NDArray, b: NDArray) => lax.binary("mul", a, b);
const scalar = (value: number, like: NDArray) => lax.full(like.shape, value, like.dtype);
const none: VjpRule<Primitive> = (_cts, inputs) => inputs.map(() => null);

function unary(derivative: (x: NDArray, y: NDArray) => NDArray): VjpRule<UnaryPrimitive> {
  return ([ct], [x], [y]) => [mul(ct!, derivative(x!, y!))];
}

const twoOverSqrtPi = 2 / Math.sqrt(Math.PI);

const unaryVjp: { [P in UnaryPrimitive]: VjpRule<P> } = {
  neg: ([ct]) => [lax.unary("neg", ct!)], // d(-x) = -dx
  recip: unary((_x, y) => lax.unary("neg", mul(y, y))), // d(1/x) = -dx/x^2
  exp: unary((_x, y) => y), // d e^x = e^x dx
  log: unary((x) => lax.unary("recip", x)), // d log x = dx/x
  sqrt: unary((_x, y) => lax.unary("recip", mul(scalar(2, y), y))), // d sqrt x = dx / (2 sqrt x)
  rsqrt: unary((x, y) => mul(scalar(-0.5, y), lax.binary("div", y, x))), // d x^-1/2 = -x^-3/2 dx / 2
  sin: unary((x) => lax.unary("cos", x)), // d sin x = cos x dx
  cos: unary((x) => lax.unary("neg", lax.unary("sin", x))), // d cos x = -sin x dx
  tanh: unary((_x, y) => lax.binary("sub", scalar(1, y), mul(y, y))), // d tanh x = (1 - tanh^2 x) dx
  logistic: unary((_x, y) => mul(y, lax.binary("sub", scalar(1, y), y))), // d s(x) = s (1 - s) dx
  erf: unary((x) => mul(scalar(twoOverSqrtPi, x), lax.unary("exp", lax.unary("neg", mul(x, x))))), // d erf x = 2/sqrt(pi) e^-x^2 dx
  abs: unary((x) => lax.unary("sign", x)), // d|x| = sign(x) dx
  sign: none,
  floor: none,
  ceil: none,
  round: none,
  logical_not: none,
  is_nan: none,
};

const binaryVjp: { [P in BinaryPrimitive]: VjpRule<P> } = {
  add: ([ct]) => [ct!, ct!], // d(a + b) = da + db
  sub: ([ct]) => [ct!, lax.unary("neg", ct!)], // d(a - b) = da - db
  mul: ([ct], [a, b]) => [mul(ct!, b!), mul(ct!, a!)], // d(ab) = b da + a db
  div: ([ct], [, b], [y]) => {
    // d(a/b) = da/b - (a/b) db/b
    const ctOverB = lax.binary("div", ct!, b!);
    return [ctOverB, lax.unary("neg", mul(ctOverB, y!))];
  },
  rem: (
    [ct],
    [a, b],
    [y],
  ) => [ct!, lax.unary("neg", mul(ct!, lax.binary("div", lax.binary("sub", a!, y!), b!)))], // d(a rem b) = da - trunc(a/b) db
  pow: ([ct], [a, b], [y]) => {
    const [da, db] = powPartials(a!, b!, y!); // d a^b = b a^(b-1) da + log a a^b db
    return [mul(ct!, da), mul(ct!, db)];
  },
  max: ([ct], [a, b]) => {
    const [wa, wb] = selectionWeights("max", a!, b!); // the larger input gets the cotangent (ties split)
    return [mul(ct!, wa), mul(ct!, wb)];
  },
  min: ([ct], [a, b]) => {
    const [wa, wb] = selectionWeights("min", a!, b!);
    return [mul(ct!, wa), mul(ct!, wb)];
  },
  atan2: ([ct], [a, b]) => {
    // d atan2(a, b) = (b da - a db) / (a^2 + b^2)
    const denom = lax.binary("add", mul(a!, a!), mul(b!, b!));
    const scaled = lax.binary("div", ct!, denom);
    return [mul(scaled, b!), lax.unary("neg", mul(scaled, a!))];
  },
  eq: none,
  ne: none,
  lt: none,
  le: none,
  gt: none,
  ge: none,
  and: none,
  or: none,
  xor: none,
  shift_left: none,
  shift_right: none,
};

/** Sums a cotangent of a broadcast back to the operand's shape. */
function unbroadcast(
  ct: NDArray,
  operandShape: readonly number[],
  dims: readonly number[],
): NDArray {
  const sumAxes: number[] = [];
  for (let i = 0; i < ct.ndim; i++) {
    const j = dims.indexOf(i);
    if (j < 0 || (operandShape[j] === 1 && ct.shape[i] !== 1)) sumAxes.push(i);
  }
  return lax.reshape(lax.reduceSum(ct, sumAxes), operandShape);
}

/** `0 if s == 0 else 1 + d (s - 1)`: the extent of a dilated axis. */
function dilateDim(size: number, dilation: number): number {
  return size === 0 ? 0 : 1 + dilation * (size - 1);
}

/**
 * Cotangent of a convolution's input: a convolution of the output cotangent with the spatially
 * flipped kernel whose in/out channels are swapped (per group), strides and input dilation
 * exchanged (as JAX's `_conv_general_dilated_transpose_lhs`).
 */
function convTransposeLhs(ct: NDArray, x: NDArray, w: NDArray, p: ConvParams): NDArray {
  const nd = x.ndim - 2;
  const spatial = Array.from({ length: nd }, (_, i) => i + 2);
  const g = p.groups;
  const [outC, inPerGroup] = [w.shape[0]!, w.shape[1]!];
  const kernel = w.shape.slice(2);
  // [O, I/g, k...] -> [g, O/g, I/g, k...] -> [g, I/g, O/g, k...] -> [I, O/g, k...], flipped.
  let wt = lax.reshape(w, [g, outC / g, inPerGroup, ...kernel]);
  wt = lax.transpose(wt, [0, 2, 1, ...kernel.map((_, i) => i + 3)]);
  wt = lax.flip(lax.reshape(wt, [g * inPerGroup, outC / g, ...kernel]), spatial);
  const padding = spatial.map((axis, i) => {
    const lhsDilated = dilateDim(x.shape[axis]!, p.lhsDilation[i]!);
    const rhsDilated = dilateDim(w.shape[axis]!, p.rhsDilation[i]!);
    const outDilated = dilateDim(ct.shape[axis]!, p.strides[i]!);
    const before = rhsDilated - p.padding[i]![0] - 1;
    const after = lhsDilated + rhsDilated - 1 - outDilated - before;
    return [before, after] as const;
  });
  return lax.conv(ct, wt, {
    strides: p.lhsDilation,
    padding,
    lhsDilation: p.strides,
    rhsDilation: p.rhsDilation,
    groups: g,
  });
}

/**
 * Cotangent of a convolution's kernel: for each group, a convolution of the input (batch and
 * channel axes swapped) with the output cotangent as kernel (as JAX's
 * `_conv_general_dilated_transpose_rhs`, groups done one by one).
 */
function convTransposeRhs(ct: NDArray, x: NDArray, w: NDArray, p: ConvParams): NDArray {
  const nd = x.ndim - 2;
  const spatial = Array.from({ length: nd }, (_, i) => i + 2);
  const padding = spatial.map((axis, i) => {
    const lhsDilated = dilateDim(x.shape[axis]!, p.lhsDilation[i]!);
    const rhsDilated = dilateDim(w.shape[axis]!, p.rhsDilation[i]!);
    const outDilated = dilateDim(ct.shape[axis]!, p.strides[i]!);
    const lo = p.padding[i]![0];
    const hi = (outDilated - lhsDilated) + (rhsDilated - lo - 1);
    return [lo, hi] as const;
  });
  const g = p.groups;
  const inPerGroup = w.shape[1]!, outPerGroup = w.shape[0]! / g;
  const perGroup: NDArray[] = [];
  for (let gi = 0; gi < g; gi++) {
    const xg = g === 1 ? x : lax.slice(
      x,
      x.shape.map((_, i) => (i === 1 ? gi * inPerGroup : 0)),
      x.shape.map((d, i) => (i === 1 ? (gi + 1) * inPerGroup : d)),
    );
    const cg = g === 1 ? ct : lax.slice(
      ct,
      ct.shape.map((_, i) => (i === 1 ? gi * outPerGroup : 0)),
      ct.shape.map((d, i) => (i === 1 ? (gi + 1) * outPerGroup : d)),
    );
    // x' [C, N, ...] (C as batch, N contracted), ct' [O, N, ...] as the kernel -> [C, O, k...].
    const xT = lax.transpose(xg, [1, 0, ...spatial]);
    const cT = lax.transpose(cg, [1, 0, ...spatial]);
    const dw = lax.conv(xT, cT, {
      strides: p.rhsDilation,
      padding,
      lhsDilation: p.lhsDilation,
      rhsDilation: p.strides,
      groups: 1,
    });
    perGroup.push(lax.transpose(dw, [1, 0, ...spatial])); // [O/g, I/g, k...]
  }
  const dw = lax.concatenate(perGroup, 0);
  // The transposed convolution can overshoot the kernel extent by stride remainders; crop.
  return lax.slice(dw, dw.shape.map(() => 0), w.shape);
}

/** The vjp rule of every primitive. */
export const vjpRules: { [P in Primitive]: VjpRule<P> } = {
  ...unaryVjp,
  ...binaryVjp,
  select: ([ct], [c]) => {
    const zeros = lax.full(ct!.shape, 0, ct!.dtype);
    return [null, lax.select(c!, ct!, zeros), lax.select(c!, zeros, ct!)]; // where(c, da, db)
  },
  cast: ([ct], [x]) => [isFloat(x!.dtype) && isFloat(ct!.dtype) ? lax.cast(ct!, x!.dtype) : null],
  bitcast: none,
  stop_gradient: none,
  reduce_sum: ([ct], [x], _outs, { axes }) => {
    const kept = x!.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    return [lax.broadcast(ct!, x!.shape, kept)]; // every summed element gets the cotangent
  },
  reduce_max: ([ct], [x], [y], { axes }) => {
    const kept = x!.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    return [mul(lax.broadcast(ct!, x!.shape, kept), reductionLocations(x!, y!, axes))];
  },
  reduce_min: ([ct], [x], [y], { axes }) => {
    const kept = x!.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    return [mul(lax.broadcast(ct!, x!.shape, kept), reductionLocations(x!, y!, axes))];
  },
  argmax: none,
  argmin: none,
  cumsum: ([ct], _x, _y, { axis, reverse }) => [lax.cumsum(ct!, axis, !reverse)], // transpose of a prefix sum is a suffix sum
  reshape: ([ct], [x]) => [lax.reshape(ct!, x!.shape)],
  transpose: ([ct], _x, _y, { perm }) => [lax.transpose(ct!, invertPermutation(perm))],
  broadcast: ([ct], [x], _y, { dims }) => [unbroadcast(ct!, x!.shape, dims)],
  slice: ([ct], [x], _y, { start, strides }) => {
    // Scatter the slice back: pad with zeros between strided elements and around.
    const lo = start;
    const hi = x!.shape.map((n, i) =>
      n - (start[i]! + (ct!.shape[i]! === 0 ? 0 : (ct!.shape[i]! - 1) * strides[i]! + 1))
    );
    return [lax.pad(ct!, lo, hi, strides.map((s) => s - 1), 0)];
  },
  pad: ([ct], _x, _y, { lo, hi, interior }) => {
    // Undo the edge padding (re-adding zeros where the forward pass cropped), then skip interior.
    const unpadded = lax.pad(ct!, lo.map((v) => -v), hi.map((v) => -v), lo.map(() => 0), 0);
    return [
      lax.slice(unpadded, unpadded.shape.map(() => 0), unpadded.shape, interior.map((v) => v + 1)),
    ];
  },
  flip: ([ct], _x, _y, { axes }) => [lax.flip(ct!, axes)],
  concatenate: ([ct], inputs, _y, { axis }) => {
    let offset = 0;
    return inputs.map((x) => {
      const n = x.shape[axis]!;
      const piece = lax.slice(
        ct!,
        ct!.shape.map((_, i) => (i === axis ? offset : 0)),
        ct!.shape.map((d, i) => (i === axis ? offset + n : d)),
      );
      offset += n;
      return piece;
    });
  },
  take: ([ct], [x, idx], _y, { axis }) => [lax.scatterAdd(ct!, idx!, axis, x!.shape[axis]!), null], // gather transposes to scatter-add
  scatter_add: ([ct], [, idx], _y, { axis }) => [lax.take(ct!, idx!, axis), null],
  matmul: ([ct], [a, b]) => {
    // d(AB): dA = G B^T, dB = A^T G
    const r = a!.ndim;
    const swap = a!.shape.map((_, i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i));
    return [lax.matmul(ct!, lax.transpose(b!, swap)), lax.matmul(lax.transpose(a!, swap), ct!)];
  },
  conv: (
    [ct],
    [x, w],
    _y,
    params,
  ) => [convTransposeLhs(ct!, x!, w!, params), convTransposeRhs(ct!, x!, w!, params)],
  attention: ([ctOut, ctLse], [q, k, v], [out, lse], params) => {
    if (ctLse !== null) {
      throw new Error(
        "Gradients through the log-sum-exp output of fused attention are not supported; " +
          "differentiate through the attention output only",
      );
    }
    // With int8 quantization this is a straight-through gradient: the float backward pass at
    // the quantized forward's output and log-sum-exp.
    return lax.attentionBackward(q!, k!, v!, out!, lse!, ctOut!, {
      scale: params.scale,
      causal: params.causal,
    });
  },
  attention_bwd: () => {
    throw new Error(
      "Second derivatives through fused attention are not supported; compose attention from " +
        "np.matmul and softmax (nn.attention with { fused: false }) to differentiate twice",
    );
  },
  iota: none,
  full: none,
  threefry2x32: none,
};

/**
 * Applies a primitive's vjp rule (the entry point the tape uses).
 *
 * @example
 * ```ts ignore
 * const [dx] = applyVjp("exp", {}, [ct], [x], [y]);
 * ```
 */
export function applyVjp<P extends Primitive>(
  prim: P,
  params: Params<P>,
  cts: readonly Cotangent[],
  inputs: readonly NDArray[],
  outputs: readonly NDArray[],
): Cotangent[] {
  const rule = vjpRules[prim] as VjpRule<P>;
  return rule(cts, inputs, outputs, params);
}
