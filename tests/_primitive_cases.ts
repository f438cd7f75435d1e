/**
 * One random test instance generator per primitive, in a table typed over the closed primitive
 * set (a new primitive without a case is a compile error, and the coverage tests also compare the
 * table with the rule tables at run time).
 *
 * Each instance is a function of arrays that applies the primitive (through the `np` API where
 * NumPy broadcasting applies), with inputs drawn where the derivative is smooth: away from kinks,
 * ties, poles and integer jumps, so central differences in float32 are meaningful.
 *
 * @module
 */
import { lax, type NDArray, np } from "../autograd/mod.ts";
import { grad } from "../autograd/mod.ts";
import type { DType } from "../kernels/dtype.ts";
import { convOutputSize, type Primitive } from "../kernels/primitives.ts";
import {
  distinctValues,
  permutation,
  pick,
  randBroadcastShapes,
  randInt,
  randShape,
  type Rng,
  signedValues,
  uniformValues,
} from "./_arbitraries.ts";
import type { ArrayFn } from "./_fd.ts";
import { type HostTensor, sizeOfShape } from "./_host.ts";

/** One input of an instance: its aval, whether it is differentiated, how to draw its values. */
export interface InputSpec {
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Differentiated in derivative checks (float32 inputs only). */
  readonly diff: boolean;
  readonly sample: (rng: Rng, n: number) => number[];
}

/** A concrete test of one primitive: inputs and a function applying the primitive. */
export interface Instance {
  readonly inputs: readonly InputSpec[];
  readonly f: ArrayFn;
  /** Shapes and params, for failure messages. */
  readonly describe: string;
  /** Finite-difference step, when the default (2e-3) does not fit. */
  readonly h?: number;
  /** Directions that keep `x ± h v` exactly representable (for casts to 16-bit floats). */
  readonly direction?: (t: HostTensor) => number[];
  /** Relative tolerance of jvp/vjp adjointness (default 1e-4; 16-bit tangents round). */
  readonly adjointRtol?: number;
}

/**
 * How a primitive is tested:
 * - `derivative`: vjp vs finite differences, jvp/vjp adjointness, vmap vs a loop.
 * - `none`: no derivative (integer/bool results, piecewise constants, stop_gradient): its jvp
 *   and vjp rules must produce no tangent; vmap vs a loop.
 * - `unsupported`: differentiating it throws a documented error; vmap vs a loop.
 */
export interface PrimitiveCase {
  readonly kind: "derivative" | "none" | "unsupported";
  readonly make: (rng: Rng) => Instance;
}

const f32 = (
  shape: readonly number[],
  sample: (rng: Rng, n: number) => number[],
  diff = true,
): InputSpec => ({ shape, dtype: "float32", diff, sample });

const ints = (shape: readonly number[], dtype: DType, lo: number, hi: number): InputSpec => ({
  shape,
  dtype,
  diff: false,
  sample: (rng, n) => Array.from({ length: n }, () => randInt(rng, lo, hi)),
});

const bools = (shape: readonly number[]): InputSpec => ({
  shape,
  dtype: "bool",
  diff: false,
  sample: (rng, n) => Array.from({ length: n }, () => (rng() < 0.5 ? 1 : 0)),
});

const uniform = (lo: number, hi: number) => (rng: Rng, n: number) => uniformValues(rng, n, lo, hi);
const signed = (lo: number, hi: number) => (rng: Rng, n: number) => signedValues(rng, n, lo, hi);

/** Values on a grid `step * k + offset` (k in [-5, 5]) with jitter below `step / 4`. */
const grid = (step: number, offset: number) => (rng: Rng, n: number) =>
  Array.from(
    { length: n },
    () => Math.fround(step * randInt(rng, -5, 5) + offset + (rng() - 0.5) * step / 4),
  );

/** Values `k + frac` with frac in [0.15, 0.35] or [0.65, 0.85]: away from floor/round jumps. */
const offInteger = (rng: Rng, n: number) =>
  Array.from({ length: n }, () => {
    const frac = 0.15 + 0.2 * rng() + (rng() < 0.5 ? 0 : 0.5);
    return Math.fround(randInt(rng, -3, 3) + frac);
  });

const fmt = (shapes: readonly (readonly number[])[]) => shapes.map((s) => `[${s}]`).join(" ");

function unaryCase(
  apply: (x: NDArray) => NDArray,
  sample: (rng: Rng, n: number) => number[],
  kind: "derivative" | "none" = "derivative",
): PrimitiveCase {
  return {
    kind,
    make: (rng) => {
      const shape = randShape(rng);
      return { inputs: [f32(shape, sample)], f: apply, describe: fmt([shape]) };
    },
  };
}

function binaryCase(
  apply: (a: NDArray, b: NDArray) => NDArray,
  sampleA: (rng: Rng, n: number) => number[],
  sampleB: (rng: Rng, n: number) => number[],
  kind: "derivative" | "none" = "derivative",
): PrimitiveCase {
  return {
    kind,
    make: (rng) => {
      const [sa, sb] = randBroadcastShapes(rng, 2) as [number[], number[]];
      return {
        inputs: [f32(sa, sampleA, kind === "derivative"), f32(sb, sampleB, kind === "derivative")],
        f: apply,
        describe: fmt([sa, sb]),
      };
    },
  };
}

/** Integer or bool bitwise operands of broadcastable shapes, combined by `prim`. */
function bitwiseCase(prim: "and" | "or" | "xor"): PrimitiveCase {
  return {
    kind: "none",
    make: (rng) => {
      const [sa, sb] = randBroadcastShapes(rng, 2) as [number[], number[]];
      const dtype = pick(rng, ["bool", "int32", "uint32"] as const);
      const input = (s: number[]) =>
        dtype === "bool" ? bools(s) : ints(s, dtype, dtype === "int32" ? -1000 : 0, 100000);
      return {
        inputs: [input(sa), input(sb)],
        f: (a, b) => {
          const [x, y] = np.broadcastArrays(a, b);
          return lax.binary(prim, x!, y!);
        },
        describe: `${dtype} ${fmt([sa, sb])}`,
      };
    },
  };
}

function shiftCase(prim: "shift_left" | "shift_right"): PrimitiveCase {
  return {
    kind: "none",
    make: (rng) => {
      const [sa, sb] = randBroadcastShapes(rng, 2) as [number[], number[]];
      const dtype = pick(rng, ["int32", "uint32"] as const);
      return {
        inputs: [ints(sa, dtype, dtype === "int32" ? -100000 : 0, 100000), ints(sb, dtype, 0, 40)],
        f: (a, b) => {
          const [x, y] = np.broadcastArrays(a, b);
          return lax.binary(prim, x!, y!);
        },
        describe: `${dtype} ${fmt([sa, sb])}`,
      };
    },
  };
}

/** A non-empty random subset of `0..rank-1`, sorted. */
function randAxes(rng: Rng, rank: number): number[] {
  const axes = Array.from({ length: rank }, (_, i) => i).filter(() => rng() < 0.5);
  return axes.length > 0 ? axes : [randInt(rng, 0, rank - 1)];
}

function reductionCase(
  apply: (x: NDArray, axes: number[], keepdims: boolean) => NDArray,
  sample: (rng: Rng, n: number) => number[],
  kind: "derivative" | "none" = "derivative",
): PrimitiveCase {
  return {
    kind,
    make: (rng) => {
      const shape = randShape(rng, { minRank: 1 });
      const axes = randAxes(rng, shape.length);
      const keepdims = rng() < 0.5;
      return {
        inputs: [f32(shape, sample, kind === "derivative")],
        f: (x) => apply(x, axes, keepdims),
        describe: `${fmt([shape])} axes [${axes}] keepdims ${keepdims}`,
      };
    },
  };
}

function argCase(prim: "argmax" | "argmin"): PrimitiveCase {
  return {
    kind: "none",
    make: (rng) => {
      const shape = randShape(rng, { minRank: 1 });
      const axis = randInt(rng, -shape.length, shape.length - 1);
      const n = sizeOfShape(shape);
      return {
        // Ties on purpose (a coarse grid): the first occurrence must win in both paths.
        inputs: [f32(shape, (r) => Array.from({ length: n }, () => randInt(r, -2, 2)), false)],
        f: (x) => (prim === "argmax" ? np.argmax(x, axis) : np.argmin(x, axis)),
        describe: `${fmt([shape])} axis ${axis}`,
      };
    },
  };
}

function convCase(rng: Rng): Instance {
  const nd3 = rng() < 0.15; // sometimes 3-D, as the video models use
  for (;;) {
    const nd = randInt(rng, 1, nd3 ? 3 : 2);
    const groups = randInt(rng, 1, 3);
    const cpg = randInt(rng, 1, 2), opg = randInt(rng, 1, 2);
    const batch = randInt(rng, 1, 2);
    const spatial = Array.from({ length: nd }, () => randInt(rng, 1, nd === 3 ? 3 : 6));
    const kernel = Array.from({ length: nd }, () => randInt(rng, 1, 3));
    const strides = spatial.map(() => randInt(rng, 1, 3));
    const lhsDilation = spatial.map(() => randInt(rng, 1, 3));
    const rhsDilation = spatial.map(() => randInt(rng, 1, 2));
    const padding = spatial.map(() => [randInt(rng, -2, 3), randInt(rng, -2, 3)] as const);
    const out = spatial.map((s, i) =>
      convOutputSize(s, kernel[i]!, strides[i]!, padding[i]!, lhsDilation[i]!, rhsDilation[i]!)
    );
    if (out.some((o) => o < 1)) continue;
    const xShape = [batch, groups * cpg, ...spatial];
    const wShape = [groups * opg, cpg, ...kernel];
    const params = { strides, padding, lhsDilation, rhsDilation, groups };
    return {
      inputs: [f32(xShape, uniform(-1, 1)), f32(wShape, uniform(-1, 1))],
      f: (x, w) => lax.conv(x, w, params),
      describe: `x [${xShape}] w [${wShape}] ${JSON.stringify(params)}`,
    };
  }
}

function attentionShapes(rng: Rng) {
  const b = randInt(rng, 1, 2), h = randInt(rng, 1, 2);
  const sq = randInt(rng, 1, 3), sk = randInt(rng, 1, 3);
  const d = randInt(rng, 1, 3), dv = randInt(rng, 1, 3);
  const causal = rng() < 0.5;
  const params = { scale: pick(rng, [1 / Math.sqrt(d), 0.7]), causal };
  return { q: [b, h, sq, d], k: [b, h, sk, d], v: [b, h, sk, dv], params };
}

/** Every primitive's test instances. */
export const primitiveCases: { [P in Primitive]: PrimitiveCase } = {
  neg: unaryCase(np.negative, uniform(-2, 2)),
  recip: unaryCase(np.reciprocal, signed(0.5, 2)),
  exp: unaryCase(np.exp, uniform(-2, 2)),
  log: unaryCase(np.log, uniform(0.5, 3)),
  sqrt: unaryCase(np.sqrt, uniform(0.5, 3)),
  rsqrt: unaryCase(np.rsqrt, uniform(0.5, 3)),
  sin: unaryCase(np.sin, uniform(-3, 3)),
  cos: unaryCase(np.cos, uniform(-3, 3)),
  tanh: unaryCase(np.tanh, uniform(-2, 2)),
  logistic: unaryCase(np.sigmoid, uniform(-3, 3)),
  erf: unaryCase(np.erf, uniform(-2, 2)),
  abs: unaryCase(np.abs, signed(0.2, 2)),
  sign: unaryCase(np.sign, signed(0.2, 2), "none"),
  floor: unaryCase(np.floor, offInteger, "none"),
  ceil: unaryCase(np.ceil, offInteger, "none"),
  round: unaryCase(np.round, offInteger, "none"),
  logical_not: {
    kind: "none",
    make: (rng) => {
      const shape = randShape(rng);
      const dtype = pick(rng, ["bool", "int32", "uint32"] as const);
      return {
        inputs: [dtype === "bool" ? bools(shape) : ints(shape, dtype, 0, 1000)],
        f: (x) => lax.unary("logical_not", x),
        describe: `${dtype} ${fmt([shape])}`,
      };
    },
  },
  is_nan: unaryCase(
    np.isnan,
    (rng, n) => Array.from({ length: n }, () => (rng() < 0.3 ? NaN : rng())),
    "none",
  ),
  add: binaryCase(np.add, uniform(-2, 2), uniform(-2, 2)),
  sub: binaryCase(np.subtract, uniform(-2, 2), uniform(-2, 2)),
  mul: binaryCase(np.multiply, uniform(-2, 2), uniform(-2, 2)),
  div: binaryCase(np.divide, uniform(-2, 2), signed(0.5, 2)),
  // |a / b| in [1.1, 1.83]: trunc(a / b) = +-1, away from the jumps of rem.
  rem: binaryCase(
    (a, b) => {
      const [x, y] = np.broadcastArrays(a, b);
      return lax.binary("rem", x!, y!);
    },
    signed(2.2, 3.2),
    uniform(1.75, 2),
  ),
  pow: binaryCase(np.power, uniform(0.5, 2), uniform(-2, 2)),
  // Two interleaved grids: |a - b| >= 0.15 everywhere, so no ties.
  max: binaryCase(np.maximum, grid(0.4, 0), grid(0.4, 0.2)),
  min: binaryCase(np.minimum, grid(0.4, 0), grid(0.4, 0.2)),
  atan2: binaryCase(np.arctan2, signed(0.3, 2), uniform(-2, 2)),
  // Comparisons on a coarse grid so equality actually happens.
  eq: binaryCase(np.equal, grid(1, 0), grid(1, 0), "none"),
  ne: binaryCase(np.notEqual, grid(1, 0), grid(1, 0), "none"),
  lt: binaryCase(np.less, grid(1, 0), grid(1, 0), "none"),
  le: binaryCase(np.lessEqual, grid(1, 0), grid(1, 0), "none"),
  gt: binaryCase(np.greater, grid(1, 0), grid(1, 0), "none"),
  ge: binaryCase(np.greaterEqual, grid(1, 0), grid(1, 0), "none"),
  and: bitwiseCase("and"),
  or: bitwiseCase("or"),
  xor: bitwiseCase("xor"),
  shift_left: shiftCase("shift_left"),
  shift_right: shiftCase("shift_right"),
  select: {
    kind: "derivative",
    make: (rng) => {
      const [sc, sa, sb] = randBroadcastShapes(rng, 3) as [number[], number[], number[]];
      return {
        inputs: [bools(sc), f32(sa, uniform(-2, 2)), f32(sb, uniform(-2, 2))],
        f: (c, a, b) => np.where(c, a, b),
        describe: fmt([sc, sa, sb]),
      };
    },
  },
  cast: {
    kind: "derivative",
    make: (rng) => {
      // Values k/64 with |k| <= 120 and integer directions with h = 1/64: x +- h v is exactly
      // representable in float16 and bfloat16, so the round trip is exact and differences are
      // exact too.
      const shape = randShape(rng);
      const via = pick(rng, ["float16", "bfloat16"] as const);
      return {
        inputs: [f32(shape, (r, n) => Array.from({ length: n }, () => randInt(r, -120, 120) / 64))],
        f: (x) => np.multiply(np.astype(np.multiply(np.astype(x, via), 2), "float32"), 1.5),
        describe: `${fmt([shape])} via ${via}`,
        h: 1 / 64,
        // Tangents and cotangents are rounded to 16 bits on the way: 2^-8 relative (bfloat16).
        adjointRtol: 1e-2,
        direction: (t) => t.data.map(() => randInt(rng, -3, 3)),
      };
    },
  },
  bitcast: {
    kind: "none",
    make: (rng) => {
      const shape = randShape(rng);
      const to = pick(rng, ["int32", "uint32"] as const);
      return {
        inputs: [f32(shape, uniform(-3, 3), false)],
        f: (x) => lax.bitcast(x, to),
        describe: `${fmt([shape])} to ${to}`,
      };
    },
  },
  stop_gradient: unaryCase((x) => lax.stopGradient(x), uniform(-2, 2), "none"),
  reduce_sum: reductionCase(
    (x, axes, keepdims) => np.sum(x, axes, { keepdims }),
    uniform(-2, 2),
  ),
  reduce_max: reductionCase(
    (x, axes, keepdims) => np.max(x, axes, { keepdims }),
    (rng, n) => distinctValues(rng, n),
  ),
  reduce_min: reductionCase(
    (x, axes, keepdims) => np.min(x, axes, { keepdims }),
    (rng, n) => distinctValues(rng, n),
  ),
  argmax: argCase("argmax"),
  argmin: argCase("argmin"),
  cumsum: {
    kind: "derivative",
    make: (rng) => {
      const shape = randShape(rng, { minRank: 1 });
      const axis = randInt(rng, 0, shape.length - 1);
      const reverse = rng() < 0.5;
      return {
        inputs: [f32(shape, uniform(-2, 2))],
        f: (x) => np.cumsum(x, axis, { reverse }),
        describe: `${fmt([shape])} axis ${axis} reverse ${reverse}`,
      };
    },
  },
  reshape: {
    kind: "derivative",
    make: (rng) => {
      const shape = randShape(rng, { minRank: 1 });
      // A different arrangement of the same elements: shuffled dims plus an inserted 1, one -1.
      const target: number[] = permutation(rng, shape.length).map((i) => shape[i]!);
      target.splice(randInt(rng, 0, target.length), 0, 1);
      if (rng() < 0.5) target[randInt(rng, 0, target.length - 1)] = -1;
      return {
        inputs: [f32(shape, uniform(-2, 2))],
        f: (x) => np.reshape(x, target),
        describe: `${fmt([shape])} to [${target}]`,
      };
    },
  },
  transpose: {
    kind: "derivative",
    make: (rng) => {
      const shape = randShape(rng, { minRank: 2, maxRank: 4 });
      let perm = permutation(rng, shape.length);
      if (perm.every((p, i) => p === i)) perm = [1, 0, ...perm.slice(2)];
      return {
        inputs: [f32(shape, uniform(-2, 2))],
        f: (x) => np.transpose(x, perm),
        describe: `${fmt([shape])} perm [${perm}]`,
      };
    },
  },
  broadcast: {
    kind: "derivative",
    make: (rng) => {
      const shape = randShape(rng, { minRank: 0, maxRank: 2 }).map((d) => (rng() < 0.5 ? 1 : d));
      const lead = randShape(rng, { minRank: shape.length === 0 ? 1 : 0, maxRank: 2 });
      const target = [...lead, ...shape.map((d) => (d === 1 ? randInt(rng, 1, 3) : d))];
      if (target.length === shape.length && target.every((d, i) => d === shape[i])) {
        target.unshift(2);
      }
      return {
        inputs: [f32(shape, uniform(-2, 2))],
        f: (x) => np.broadcastTo(x, target),
        describe: `${fmt([shape])} to [${target}]`,
      };
    },
  },
  slice: {
    kind: "derivative",
    make: (rng) => {
      const shape = randShape(rng, { minRank: 1, maxDim: 5 });
      if (rng() < 0.5) {
        const start = shape.map((n) => randInt(rng, 0, n - 1));
        const limit = shape.map((n, i) => randInt(rng, start[i]! + 1, n));
        const strides = shape.map(() => randInt(rng, 1, 3));
        return {
          inputs: [f32(shape, uniform(-2, 2))],
          f: (x) => lax.slice(x, start, limit, strides),
          describe: `${fmt([shape])} [${start}]..[${limit}] step [${strides}]`,
        };
      }
      // Python slices through np.sliceAxis, negative steps included.
      const axis = randInt(rng, 0, shape.length - 1);
      const n = shape[axis]!;
      const step = pick(rng, [-2, -1, 1, 2, 3]);
      const start = rng() < 0.3 ? null : randInt(rng, -n, n - 1);
      const stop = rng() < 0.3 ? null : randInt(rng, -n - 1, n);
      return {
        inputs: [f32(shape, uniform(-2, 2))],
        f: (x) => np.sliceAxis(x, axis, start, stop, step),
        describe: `${fmt([shape])} axis ${axis} ${start}:${stop}:${step}`,
      };
    },
  },
  pad: {
    kind: "derivative",
    make: (rng) => {
      for (;;) {
        const shape = randShape(rng, { minRank: 1 });
        const lo = shape.map(() => randInt(rng, -1, 2));
        const hi = shape.map(() => randInt(rng, -1, 2));
        const interior = shape.map(() => randInt(rng, 0, 2));
        const out = shape.map((n, i) => lo[i]! + n + (n - 1) * interior[i]! + hi[i]!);
        if (out.some((d) => d < 0)) continue;
        if ([...lo, ...hi, ...interior].every((v) => v === 0)) continue;
        const value = pick(rng, [0, 1.5, -2]);
        return {
          inputs: [f32(shape, uniform(-2, 2))],
          f: (x) => lax.pad(x, lo, hi, interior, value),
          describe: `${fmt([shape])} lo [${lo}] hi [${hi}] interior [${interior}] value ${value}`,
        };
      }
    },
  },
  flip: {
    kind: "derivative",
    make: (rng) => {
      const shape = randShape(rng, { minRank: 1 });
      const axes = randAxes(rng, shape.length);
      return {
        inputs: [f32(shape, uniform(-2, 2))],
        f: (x) => np.flip(x, axes),
        describe: `${fmt([shape])} axes [${axes}]`,
      };
    },
  },
  concatenate: {
    kind: "derivative",
    make: (rng) => {
      const base = randShape(rng, { minRank: 1 });
      const axis = randInt(rng, 0, base.length - 1);
      const shapes = Array.from(
        { length: randInt(rng, 2, 3) },
        () => base.map((d, i) => (i === axis ? randInt(rng, 1, 3) : d)),
      );
      const ax = rng() < 0.5 ? axis : axis - base.length; // negative axes too
      return {
        inputs: shapes.map((s) => f32(s, uniform(-2, 2))),
        f: (...xs) => np.concatenate(xs, ax),
        describe: `${fmt(shapes)} axis ${ax}`,
      };
    },
  },
  take: {
    kind: "derivative",
    make: (rng) => {
      const shape = randShape(rng, { minRank: 1 });
      const axis = randInt(rng, 0, shape.length - 1);
      const n = shape[axis]!;
      const idxShape = randShape(rng, { maxRank: 2 });
      return {
        // Negative indices count from the end (np.take normalizes them).
        inputs: [f32(shape, uniform(-2, 2)), ints(idxShape, "int32", -n, n - 1)],
        f: (x, idx) => np.take(x, idx, axis),
        describe: `${fmt([shape, idxShape])} axis ${axis}`,
      };
    },
  },
  scatter_add: {
    kind: "derivative",
    make: (rng) => {
      const pre = randShape(rng, { maxRank: 1 }), post = randShape(rng, { maxRank: 1 });
      const idxShape = randShape(rng, { maxRank: 2 });
      const size = randInt(rng, 1, 4);
      const axis = pre.length;
      const uShape = [...pre, ...idxShape, ...post];
      return {
        // Repeated indices accumulate; indices past the end clamp to the last slot.
        inputs: [f32(uShape, uniform(-2, 2)), ints(idxShape, "int32", 0, size)],
        f: (u, idx) => lax.scatterAdd(u, idx, axis, size),
        describe: `updates [${uShape}] indices [${idxShape}] axis ${axis} size ${size}`,
      };
    },
  },
  matmul: {
    kind: "derivative",
    make: (rng) => {
      const [ba, bb] = randBroadcastShapes(rng, 2, { maxRank: 2 }) as [number[], number[]];
      const m = randInt(rng, 1, 3), k = randInt(rng, 1, 3), n = randInt(rng, 1, 3);
      const variant = pick(rng, ["matrix", "matrix", "vector-left", "vector-right", "dot"]);
      const sa = variant === "vector-left" || variant === "dot" ? [k] : [...ba, m, k];
      const sb = variant === "vector-right" || variant === "dot" ? [k] : [...bb, k, n];
      return {
        inputs: [f32(sa, uniform(-2, 2)), f32(sb, uniform(-2, 2))],
        f: np.matmul,
        describe: `${variant} ${fmt([sa, sb])}`,
      };
    },
  },
  conv: { kind: "derivative", make: convCase },
  attention: {
    kind: "derivative",
    make: (rng) => {
      const { q, k, v, params } = attentionShapes(rng);
      return {
        inputs: [f32(q, uniform(-1.5, 1.5)), f32(k, uniform(-1.5, 1.5)), f32(v, uniform(-2, 2))],
        f: (a, b, c) => lax.attention(a, b, c, params)[0],
        describe: `q [${q}] k [${k}] v [${v}] ${JSON.stringify(params)}`,
      };
    },
  },
  attention_bwd: {
    kind: "unsupported",
    make: (rng) => {
      const { q, k, v, params } = attentionShapes(rng);
      return {
        inputs: [f32(q, uniform(-1.5, 1.5)), f32(k, uniform(-1.5, 1.5)), f32(v, uniform(-2, 2))],
        // The gradient of fused attention is computed by attention_bwd.
        f: (a, b, c) =>
          grad(
            (x: NDArray, y: NDArray, z: NDArray) =>
              np.sum(np.square(lax.attention(x, y, z, params)[0])),
            { argnums: [0, 1, 2] },
          )(a, b, c),
        describe: `q [${q}] k [${k}] v [${v}] ${JSON.stringify(params)}`,
      };
    },
  },
  iota: {
    kind: "none",
    make: (rng) => {
      const shape = randShape(rng, { minRank: 1 });
      const axis = randInt(rng, 0, shape.length - 1);
      return {
        inputs: [f32(shape, uniform(-2, 2), false)],
        f: (x) => np.add(x, lax.iota(x.shape, axis, "float32")),
        describe: `${fmt([shape])} axis ${axis}`,
      };
    },
  },
  full: {
    kind: "none",
    make: (rng) => {
      const shape = randShape(rng);
      return {
        inputs: [f32(shape, uniform(-2, 2), false)],
        f: (x) => np.multiply(x, np.full(x.shape, 2.5)),
        describe: fmt([shape]),
      };
    },
  },
  threefry2x32: {
    kind: "none",
    make: (rng) => {
      const shape = randShape(rng);
      const word = (): InputSpec => ({
        shape,
        dtype: "uint32",
        diff: false,
        sample: (r, n) => Array.from({ length: n }, () => Math.floor(r() * 4294967296)),
      });
      return {
        inputs: [word(), word(), word(), word()],
        f: (k0, k1, x0, x1) => lax.threefry2x32(k0, k1, x0, x1),
        describe: fmt([shape]),
      };
    },
  },
};

/** Draws host values for an instance's inputs. */
export function sampleInputs(instance: Instance, rng: Rng): HostTensor[] {
  return instance.inputs.map((spec) => ({
    shape: spec.shape,
    dtype: spec.dtype,
    data: spec.sample(rng, sizeOfShape(spec.shape)),
  }));
}

/** The indices of an instance's differentiated inputs. */
export function diffIndices(instance: Instance): number[] {
  return instance.inputs.flatMap((s, i) => (s.diff ? [i] : []));
}

/** Every primitive name, from the typed case table. */
export const allPrimitives = Object.keys(primitiveCases) as Primitive[];
