/**
 * Forward mode: `jvp(f, primals, tangents)` pushes tangents through `f` with one rule per
 * primitive. Tangents may be symbolic zeros (`null`), so integer values and `stopGradient`
 * cost nothing. Rules call public ops, so they are differentiable again (jvp of grad gives
 * Hessian-vector products).
 *
 * @module
 */

import { isFloat } from "../kernels/dtype.ts";
import type {
  Aval,
  BinaryPrimitive,
  Params,
  Primitive,
  UnaryPrimitive,
} from "../kernels/primitives.ts";
import { bind, NDArray } from "./array.ts";
import * as lax from "./lax.ts";
import { nextLevel, Trace, withTrace } from "./trace.ts";
import { defToString, flatten, unflatten } from "./tree.ts";
import * as np from "./numpy.ts";

/** A tangent: an array, or `null` for a symbolic zero. */
export type Tangent = NDArray | null;

/** A traced value of forward mode: its primal and its tangent. */
export class JvpTracer extends NDArray {
  constructor(trace: JvpTrace, readonly primal: NDArray, readonly tangent: Tangent) {
    super(primal.aval, trace);
  }
}

type JvpRule<P extends Primitive> = (
  primals: readonly NDArray[],
  tangents: readonly Tangent[],
  params: Params<P>,
  outAvals: readonly Aval[],
) => [NDArray[], Tangent[]];

class JvpTrace extends Trace {
  constructor(level: number) {
    super(level, "jvp");
  }

  lift(x: NDArray): NDArray {
    return new JvpTracer(this, x, null);
  }

  process<P extends Primitive>(
    prim: P,
    params: Params<P>,
    inputs: readonly NDArray[],
    outAvals: readonly Aval[],
  ): NDArray[] {
    const tracers = inputs as readonly JvpTracer[];
    const primals = tracers.map((t) => t.primal);
    const tangents = tracers.map((t) => t.tangent);
    if (tangents.every((t) => t === null)) {
      return bind(prim, params, primals).map((p) => new JvpTracer(this, p, null));
    }
    const rule = jvpRules[prim] as JvpRule<P>;
    const [outs, outTangents] = rule(primals, tangents, params, outAvals);
    return outs.map((p, i) =>
      new JvpTracer(this, p, isFloat(p.dtype) ? outTangents[i] ?? null : null)
    );
  }
}

/** Zeros of an aval (materializes a symbolic zero where a rule needs an array). */
function zerosOf(aval: Aval): NDArray {
  return lax.full(aval.shape, 0, aval.dtype);
}

function instantiate(t: Tangent, like: NDArray): NDArray {
  return t ?? zerosOf(like.aval);
}

/** Adds tangents, keeping symbolic zeros symbolic. */
function addTangents(a: Tangent, b: Tangent): Tangent {
  if (a === null) return b;
  if (b === null) return a;
  return lax.binary("add", a, b);
}

function scaleTangent(t: Tangent, by: NDArray): Tangent {
  return t === null ? null : lax.binary("mul", t, by);
}

const mul = (a: NDArray, b: NDArray) => lax.binary("mul", a, b);
const scalar = (value: number, like: NDArray) => lax.full(like.shape, value, like.dtype);

/** Rule for primitives that are linear in all their inputs: apply the primitive to tangents. */
function linear<P extends Primitive>(prim: P): JvpRule<P> {
  return (primals, tangents, params) => {
    const outs = bind(prim, params, primals);
    const ts = bind(prim, params, tangents.map((t, i) => instantiate(t, primals[i]!)));
    return [outs, ts];
  };
}

/** Rule for primitives whose outputs have zero derivative (comparisons, rounding, bits). */
function zeroDerivative<P extends Primitive>(prim: P): JvpRule<P> {
  return (primals, _tangents, params) => {
    const outs = bind(prim, params, primals);
    return [outs, outs.map(() => null)];
  };
}

/** `d f(x) = f'(x) dx` for unary elementwise f, given f' from x and y = f(x). */
function unaryRule(
  prim: UnaryPrimitive,
  derivative: (x: NDArray, y: NDArray) => NDArray,
): JvpRule<UnaryPrimitive> {
  return ([x], [t]) => {
    const y = lax.unary(prim, x!);
    return [[y], [scaleTangent(t!, derivative(x!, y))]];
  };
}

const twoOverSqrtPi = 2 / Math.sqrt(Math.PI);

const unaryJvp: { [P in UnaryPrimitive]: JvpRule<P> } = {
  neg: linear("neg"),
  recip: unaryRule("recip", (_x, y) => lax.unary("neg", mul(y, y))), // d(1/x) = -dx / x^2
  exp: unaryRule("exp", (_x, y) => y), // d(e^x) = e^x dx
  log: unaryRule("log", (x) => lax.unary("recip", x)), // d(log x) = dx / x
  sqrt: unaryRule("sqrt", (_x, y) => lax.unary("recip", mul(scalar(2, y), y))), // d sqrt x = dx / (2 sqrt x)
  rsqrt: unaryRule("rsqrt", (x, y) => mul(scalar(-0.5, y), lax.binary("div", y, x))), // d x^-1/2 = -x^-3/2 dx / 2
  sin: unaryRule("sin", (x) => lax.unary("cos", x)), // d sin x = cos x dx
  cos: unaryRule("cos", (x) => lax.unary("neg", lax.unary("sin", x))), // d cos x = -sin x dx
  tanh: unaryRule("tanh", (_x, y) => lax.binary("sub", scalar(1, y), mul(y, y))), // d tanh = (1 - tanh^2) dx
  logistic: unaryRule("logistic", (_x, y) => mul(y, lax.binary("sub", scalar(1, y), y))), // d s = s (1 - s) dx
  erf: unaryRule(
    "erf",
    (x) => mul(scalar(twoOverSqrtPi, x), lax.unary("exp", lax.unary("neg", mul(x, x)))),
  ), // d erf = 2/sqrt(pi) e^-x^2 dx
  abs: unaryRule("abs", (x) => lax.unary("sign", x)), // d|x| = sign(x) dx
  sign: zeroDerivative("sign"),
  floor: zeroDerivative("floor"),
  ceil: zeroDerivative("ceil"),
  round: zeroDerivative("round"),
  logical_not: zeroDerivative("logical_not"),
  is_nan: zeroDerivative("is_nan"),
};

/**
 * `where(x == 0, 0, value)`: the convention JAX uses for `pow` so that `0^y` has finite
 * derivatives where the math allows.
 */
function zeroWhere(cond: NDArray, value: NDArray): NDArray {
  return lax.select(cond, lax.full(value.shape, 0, value.dtype), value);
}

/** Partial derivatives of `a ** b`: `b a^(b-1)` and `log(a) a^b`. */
export function powPartials(a: NDArray, b: NDArray, y: NDArray): [NDArray, NDArray] {
  const one = scalar(1, a);
  const dA = zeroWhere(
    lax.binary("eq", b, lax.full(b.shape, 0, b.dtype)),
    mul(b, lax.binary("pow", a, lax.binary("sub", b, one))),
  );
  const aIsZero = lax.binary("eq", a, lax.full(a.shape, 0, a.dtype));
  const safeA = lax.select(aIsZero, one, a);
  const dB = zeroWhere(aIsZero, mul(lax.unary("log", safeA), y));
  return [dA, dB];
}

/** Where `a` wins a max/min: 1, where it ties: 1/2, else 0 (JAX's tie convention). */
export function selectionWeights(prim: "max" | "min", a: NDArray, b: NDArray): [NDArray, NDArray] {
  const wins = lax.cast(lax.binary(prim === "max" ? "gt" : "lt", a, b), a.dtype);
  const ties = lax.cast(lax.binary("eq", a, b), a.dtype);
  const half = mul(ties, scalar(0.5, a));
  const wa = lax.binary("add", wins, half);
  return [wa, lax.binary("sub", scalar(1, a), wa)];
}

function binaryRule(
  prim: BinaryPrimitive,
  partials: (a: NDArray, b: NDArray, y: NDArray) => [NDArray | null, NDArray | null],
): JvpRule<BinaryPrimitive> {
  return ([a, b], [ta, tb]) => {
    const y = lax.binary(prim, a!, b!);
    const [da, db] = partials(a!, b!, y);
    const t = addTangents(
      da === null ? ta! : scaleTangent(ta!, da),
      db === null ? tb! : scaleTangent(tb!, db),
    );
    return [[y], [t]];
  };
}

const binaryJvp: { [P in BinaryPrimitive]: JvpRule<P> } = {
  add: linear("add"), // d(a + b) = da + db
  sub: linear("sub"), // d(a - b) = da - db
  mul: binaryRule("mul", (a, b) => [b, a]), // d(ab) = b da + a db
  div: binaryRule(
    "div",
    (_a, b, y) => [lax.unary("recip", b), lax.unary("neg", lax.binary("div", y, b))],
  ), // d(a/b) = da/b - a db/b^2
  rem: binaryRule(
    "rem",
    (a, b, y) => [null, lax.unary("neg", lax.binary("div", lax.binary("sub", a, y), b))],
  ), // d(a rem b) = da - trunc(a/b) db
  pow: binaryRule("pow", (a, b, y) => powPartials(a, b, y)), // d a^b = b a^(b-1) da + log(a) a^b db
  max: binaryRule("max", (a, b) => selectionWeights("max", a, b)), // ties split evenly
  min: binaryRule("min", (a, b) => selectionWeights("min", a, b)),
  atan2: binaryRule("atan2", (a, b) => {
    // d atan2(a, b) = (b da - a db) / (a^2 + b^2)
    const denom = lax.binary("add", mul(a, a), mul(b, b));
    return [lax.binary("div", b, denom), lax.unary("neg", lax.binary("div", a, denom))];
  }),
  eq: zeroDerivative("eq"),
  ne: zeroDerivative("ne"),
  lt: zeroDerivative("lt"),
  le: zeroDerivative("le"),
  gt: zeroDerivative("gt"),
  ge: zeroDerivative("ge"),
  and: zeroDerivative("and"),
  or: zeroDerivative("or"),
  xor: zeroDerivative("xor"),
  shift_left: zeroDerivative("shift_left"),
  shift_right: zeroDerivative("shift_right"),
};

/** The index-location indicator of a max/min reduction, normalized over ties. */
export function reductionLocations(x: NDArray, y: NDArray, axes: readonly number[]): NDArray {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const yB = lax.broadcast(y, x.shape, kept);
  const hits = lax.cast(lax.binary("eq", x, yB), x.dtype);
  const counts = lax.broadcast(lax.reduceSum(hits, axes), x.shape, kept);
  return lax.binary("div", hits, counts);
}

/** The jvp rule of every primitive. */
export const jvpRules: { [P in Primitive]: JvpRule<P> } = {
  ...unaryJvp,
  ...binaryJvp,
  select: ([c, a, b], [, ta, tb]) => {
    const y = lax.select(c!, a!, b!);
    if (ta === null && tb === null) return [[y], [null]];
    return [[y], [lax.select(c!, instantiate(ta!, a!), instantiate(tb!, b!))]]; // d where(c, a, b) = where(c, da, db)
  },
  cast: ([x], [t], { dtype }) => {
    const y = lax.cast(x!, dtype);
    return [[y], [isFloat(x!.dtype) && isFloat(dtype) && t ? lax.cast(t, dtype) : null]];
  },
  bitcast: zeroDerivative("bitcast"),
  stop_gradient: zeroDerivative("stop_gradient"),
  reduce_sum: linear("reduce_sum"),
  reduce_max: ([x], [t], { axes }) => {
    const y = lax.reduceMax(x!, axes);
    return [[y], [t ? lax.reduceSum(mul(t, reductionLocations(x!, y, axes)), axes) : null]];
  },
  reduce_min: ([x], [t], { axes }) => {
    const y = lax.reduceMin(x!, axes);
    return [[y], [t ? lax.reduceSum(mul(t, reductionLocations(x!, y, axes)), axes) : null]];
  },
  argmax: zeroDerivative("argmax"),
  argmin: zeroDerivative("argmin"),
  cumsum: linear("cumsum"),
  reshape: linear("reshape"),
  transpose: linear("transpose"),
  broadcast: linear("broadcast"),
  slice: linear("slice"),
  // The pad value is a constant: tangents are padded with zeros.
  pad: (
    [x],
    [t],
    params,
  ) => [[bind("pad", params, [x!])[0]!], [
    lax.pad(instantiate(t!, x!), params.lo, params.hi, params.interior, 0),
  ]],
  flip: linear("flip"),
  concatenate: linear("concatenate"),
  take: (
    [x, idx],
    [t],
    params,
  ) => [[lax.take(x!, idx!, params.axis)], [t ? lax.take(t, idx!, params.axis) : null]],
  scatter_add: ([u, idx], [t], params) => [
    [lax.scatterAdd(u!, idx!, params.axis, params.size)],
    [t ? lax.scatterAdd(t, idx!, params.axis, params.size) : null],
  ],
  matmul: ([a, b], [ta, tb]) => {
    // d(ab) = da b + a db
    const y = lax.matmul(a!, b!);
    return [[y], [addTangents(ta ? lax.matmul(ta, b!) : null, tb ? lax.matmul(a!, tb) : null)]];
  },
  conv: ([x, w], [tx, tw], params) => {
    const y = lax.conv(x!, w!, params);
    return [[y], [
      addTangents(tx ? lax.conv(tx, w!, params) : null, tw ? lax.conv(x!, tw, params) : null),
    ]];
  },
  attention: ([q, k, v], [tq, tk, tv], params) => {
    // Through the unfused math: s = scale q k^T, p = softmax(s), out = p v.
    const [out, lse] = lax.attention(q!, k!, v!, params);
    const kT = np.swapaxes(k!, -1, -2);
    const s = np.multiply(np.matmul(q!, kT), params.scale);
    let p = np.exp(np.subtract(s, np.expandDims(lse, -1).astype(s.dtype)));
    if (params.causal) {
      // s is unmasked here: zero the probabilities of hidden keys, as the forward pass does.
      const [sq, sk] = [q!.shape[2]!, k!.shape[2]!];
      p = np.where(np.tri(sq, sk, { k: sk - sq, dtype: "bool" }), p, 0);
    }
    let ds: NDArray | null = null;
    if (tq) ds = np.multiply(np.matmul(tq, kT), params.scale);
    if (tk) {
      const term = np.multiply(np.matmul(q!, np.swapaxes(tk, -1, -2)), params.scale);
      ds = ds ? np.add(ds, term) : term;
    }
    let tOut: Tangent = tv ? np.matmul(p, tv) : null;
    let tLse: Tangent = null;
    if (ds) {
      if (params.causal) {
        const [sq, sk] = [q!.shape[2]!, k!.shape[2]!];
        ds = np.where(np.tri(sq, sk, { k: sk - sq, dtype: "bool" }), ds, 0);
      }
      const mean = np.sum(np.multiply(p, ds), -1, { keepdims: true });
      const dp = np.multiply(p, np.subtract(ds, mean));
      tOut = addTangents(tOut, np.matmul(dp, v!));
      tLse = np.squeeze(mean, -1).astype("float32");
    }
    return [[out, lse], [tOut, tLse]];
  },
  attention_bwd: () => {
    throw new Error(
      "Second derivatives through fused attention are not supported; compose attention from " +
        "np.matmul and softmax (nn.attention with { fused: false }) to differentiate twice",
    );
  },
  iota: zeroDerivative("iota"),
  full: zeroDerivative("full"),
  threefry2x32: zeroDerivative("threefry2x32"),
};

function toArray(x: unknown, what: string): NDArray {
  if (x instanceof NDArray) return x;
  if (typeof x === "number") return np.array(x);
  throw new Error(`${what}: expected arrays (or numbers) as leaves, got ${typeof x}`);
}

/**
 * Forward-mode derivative: evaluates `f(...primals)` and the directional derivative along
 * `tangents` (pytrees matching `primals`). Returns `[out, tangentOut]`.
 *
 * @example
 * ```ts ignore
 * const [y, dy] = jvp((x) => np.sin(x), [np.array(0)], [np.array(1)]); // dy = cos(0) = 1
 * ```
 */
export function jvp<T>(
  f: (...args: never[]) => T,
  primals: readonly unknown[],
  tangents: readonly unknown[],
): [T, T] {
  const [pLeaves, pDef] = flatten(primals);
  const [tLeaves, tDef] = flatten(tangents);
  if (defToString(pDef) !== defToString(tDef)) {
    throw new Error(
      `jvp: tangents have structure ${defToString(tDef)}, primals ${defToString(pDef)}`,
    );
  }
  const ps = pLeaves.map((x) => toArray(x, "jvp"));
  const ts = tLeaves.map((x, i) => {
    const t = toArray(x, "jvp");
    const p = ps[i]!;
    if (t.dtype !== p.dtype || t.shape.join() !== p.shape.join()) {
      throw new Error(`jvp: tangent ${i} is ${t.describe()}, its primal ${p.describe()}`);
    }
    return t;
  });
  return withTrace(new JvpTrace(nextLevel()), (trace) => {
    const inputs = ps.map((p, i) => new JvpTracer(trace, p, ts[i]!));
    const out = (f as (...args: unknown[]) => T)(...unflatten<unknown[]>(pDef, inputs));
    const [outLeaves, outDef] = flatten(out);
    const primalsOut: unknown[] = [];
    const tangentsOut: unknown[] = [];
    for (const leaf of outLeaves) {
      if (leaf instanceof JvpTracer && leaf.trace === trace) {
        primalsOut.push(leaf.primal);
        tangentsOut.push(leaf.tangent ?? zerosOf(leaf.primal.aval));
      } else if (leaf instanceof NDArray) {
        primalsOut.push(leaf);
        tangentsOut.push(zerosOf(leaf.aval));
      } else {
        primalsOut.push(leaf);
        tangentsOut.push(leaf);
      }
    }
    return [unflatten<T>(outDef, primalsOut), unflatten<T>(outDef, tangentsOut)];
  });
}
