/**
 * The reference interpreter on hand-computed cases, one group per primitive (a typed table: a
 * new primitive without cases is a compile error). Edge cases pin down the semantics WGSL
 * kernels must reproduce: NaN propagation, integer wrapping, integer division by zero,
 * saturating float-to-int casts, ties-to-even rounding, float64 accumulation rounded once.
 */
import type { DType } from "../../../kernels/dtype.ts";
import { abstractEval, type Params, type Primitive } from "../../../kernels/primitives.ts";
import { evaluatePrimitive } from "../../../kernels/reference/interpreter.ts";
import { allocRef, roundTo } from "../../../kernels/reference/ref_array.ts";
import { threefry2x32 } from "../../../kernels/reference/threefry.ts";
import { assertClose, assertEquals } from "../../_assert.ts";

type In = readonly [DType, readonly number[], readonly number[]];

interface Out {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly data: number[];
}

/** Evaluates one primitive on host inputs `[dtype, shape, values]`. */
function ev<P extends Primitive>(prim: P, params: Params<P>, ...inputs: In[]): Out[] {
  const values = inputs.map(([dtype, shape, data]) => {
    const storage = allocRef(dtype, data.length);
    data.forEach((v, i) => (storage[i] = roundTo(v, dtype)));
    return { aval: { shape, dtype }, data: storage };
  });
  const outAvals = abstractEval(prim, values.map((v) => v.aval), params);
  return evaluatePrimitive(prim, params, values, outAvals).map((data, i) => ({
    shape: outAvals[i]!.shape,
    dtype: outAvals[i]!.dtype,
    data: Array.from(data as ArrayLike<number>),
  }));
}

/** The values of a single-output primitive. */
function ev1<P extends Primitive>(prim: P, params: Params<P>, ...inputs: In[]): number[] {
  return ev(prim, params, ...inputs)[0]!.data;
}

const f32 = (data: readonly number[], shape: readonly number[] = [data.length]): In => [
  "float32",
  shape,
  data,
];
const i32 = (data: readonly number[], shape: readonly number[] = [data.length]): In => [
  "int32",
  shape,
  data,
];
const u32 = (data: readonly number[], shape: readonly number[] = [data.length]): In => [
  "uint32",
  shape,
  data,
];
const b8 = (data: readonly number[], shape: readonly number[] = [data.length]): In => [
  "bool",
  shape,
  data,
];

const INT_MIN = -2147483648, INT_MAX = 2147483647, UINT_MAX = 4294967295;
const fr = Math.fround;

const cases: { [P in Primitive]: () => void } = {
  neg: () => {
    assertEquals(ev1("neg", {}, f32([1, -2, 0])), [-1, 2, -0]);
    assertEquals(ev1("neg", {}, i32([5, INT_MIN])), [-5, INT_MIN]); // wraps
    assertEquals(ev1("neg", {}, u32([5])), [UINT_MAX - 4]);
  },
  recip: () =>
    assertEquals(ev1("recip", {}, f32([2, -4, 0, -0])), [0.5, -0.25, Infinity, -Infinity]),
  exp: () =>
    assertEquals(ev1("exp", {}, f32([0, 1, -Infinity, 100])), [1, fr(Math.E), 0, Infinity]),
  log: () => assertEquals(ev1("log", {}, f32([1, 0, -1])), [0, -Infinity, NaN]),
  sqrt: () => assertEquals(ev1("sqrt", {}, f32([4, 2, -1])), [2, fr(Math.SQRT2), NaN]),
  rsqrt: () => assertEquals(ev1("rsqrt", {}, f32([4, 0])), [0.5, Infinity]),
  sin: () => assertEquals(ev1("sin", {}, f32([0, fr(Math.PI / 2)])), [0, 1]),
  cos: () => assertEquals(ev1("cos", {}, f32([0, 2])), [1, fr(Math.cos(2))]),
  tanh: () => assertEquals(ev1("tanh", {}, f32([0, 20, -20, NaN])), [0, 1, -1, NaN]),
  logistic: () => {
    // Stable at both ends: no inf / inf.
    assertEquals(ev1("logistic", {}, f32([0, 1000, -1000])), [0.5, 1, 0]);
    assertEquals(ev1("logistic", {}, f32([2])), [fr(1 / (1 + Math.exp(-2)))]);
  },
  erf: () => {
    const xs = [0.5, 1, -1.5, 2.5, 3];
    const want = [0.5204998778130465, 0.8427007929497149, -0.9661051464753108, 0.999593047982555];
    assertEquals(ev1("erf", {}, f32(xs.slice(0, 4))), want.map(fr));
    assertEquals(ev1("erf", {}, f32([0, -0, Infinity, -Infinity, NaN])), [0, -0, 1, -1, NaN]);
  },
  abs: () => {
    assertEquals(ev1("abs", {}, f32([-3, 2, -0])), [3, 2, 0]);
    assertEquals(ev1("abs", {}, i32([-7, INT_MIN])), [7, INT_MIN]); // |INT_MIN| wraps
  },
  sign: () => {
    assertEquals(ev1("sign", {}, f32([-2, 0, 3, NaN])), [-1, 0, 1, NaN]);
    assertEquals(ev1("sign", {}, i32([-5, 0, 7])), [-1, 0, 1]);
  },
  floor: () => assertEquals(ev1("floor", {}, f32([-1.5, 1.5, 2, -0])), [-2, 1, 2, -0]),
  ceil: () => assertEquals(ev1("ceil", {}, f32([-1.5, 1.5, 2])), [-1, 2, 2]),
  round: () => {
    // Ties to even, as WGSL's round.
    assertEquals(
      ev1("round", {}, f32([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.6, -2.4])),
      [0, 2, 2, -0, -2, -2, 3, -2],
    );
  },
  logical_not: () => {
    assertEquals(ev1("logical_not", {}, b8([1, 0])), [0, 1]);
    assertEquals(ev1("logical_not", {}, i32([0, 5])), [-1, -6]); // bitwise not
    assertEquals(ev1("logical_not", {}, u32([0])), [UINT_MAX]);
  },
  is_nan: () => assertEquals(ev1("is_nan", {}, f32([NaN, 1, Infinity])), [1, 0, 0]),
  add: () => {
    assertEquals(ev1("add", {}, i32([INT_MAX, -1]), i32([1, INT_MIN])), [INT_MIN, INT_MAX]);
    assertEquals(ev1("add", {}, u32([UINT_MAX]), u32([2])), [1]);
    assertEquals(ev1("add", {}, f32([1, 1e30]), f32([1e-8, 1e30])), [1, fr(2e30)]);
  },
  sub: () => {
    assertEquals(ev1("sub", {}, u32([0]), u32([1])), [UINT_MAX]);
    assertEquals(ev1("sub", {}, i32([INT_MIN]), i32([1])), [INT_MAX]);
    assertEquals(ev1("sub", {}, f32([Infinity]), f32([Infinity])), [NaN]);
  },
  mul: () => {
    assertEquals(ev1("mul", {}, i32([65536, 46341, -3]), i32([65536, 46341, 7])), [
      0,
      46341 * 46341 - 2 ** 32,
      -21,
    ]);
    assertEquals(ev1("mul", {}, u32([UINT_MAX, 65536]), u32([2, 65537])), [UINT_MAX - 1, 65536]);
    assertEquals(ev1("mul", {}, f32([0]), f32([Infinity])), [NaN]);
  },
  div: () => {
    // Integer division truncates; by zero gives the dividend (WGSL); INT_MIN / -1 overflows to
    // INT_MIN.
    assertEquals(ev1("div", {}, i32([-7, 7, 5, INT_MIN, 0]), i32([2, -2, 0, -1, 0])), [
      -3,
      -3,
      5,
      INT_MIN,
      0,
    ]);
    assertEquals(ev1("div", {}, u32([7, UINT_MAX]), u32([0, 2])), [7, 2147483647]);
    assertEquals(ev1("div", {}, f32([1, -1, 0]), f32([0, 0, 0])), [Infinity, -Infinity, NaN]);
  },
  rem: () => {
    // Truncated remainder (sign of the dividend); by zero gives 0 for integers (WGSL).
    assertEquals(ev1("rem", {}, i32([-7, 7, 5, INT_MIN]), i32([2, -2, 0, -1])), [-1, 1, 0, 0]);
    assertEquals(ev1("rem", {}, f32([-7.5, 5.5, 1]), f32([2, -2, 0])), [-1.5, 1.5, NaN]);
  },
  pow: () => {
    assertEquals(ev1("pow", {}, f32([2, 0, -8, 2, 0]), f32([10, 0, 1 / 3, -1, -1])), [
      1024,
      1,
      NaN,
      0.5,
      Infinity,
    ]);
  },
  max: () => {
    // NaN propagates from either side, as lax.max.
    assertEquals(ev1("max", {}, f32([NaN, 1, 2, -Infinity]), f32([1, NaN, 3, -1])), [
      NaN,
      NaN,
      3,
      -1,
    ]);
    assertEquals(ev1("max", {}, i32([INT_MIN, 4]), i32([-1, 3])), [-1, 4]);
    assertEquals(ev1("max", {}, u32([UINT_MAX]), u32([1])), [UINT_MAX]);
  },
  min: () => {
    assertEquals(ev1("min", {}, f32([NaN, 1, 2]), f32([1, NaN, 3])), [NaN, NaN, 2]);
    assertEquals(ev1("min", {}, i32([INT_MIN, 4]), i32([-1, 3])), [INT_MIN, 3]);
  },
  atan2: () => {
    assertEquals(ev1("atan2", {}, f32([1, 0, 1]), f32([-1, -1, 0])), [
      fr(3 * Math.PI / 4),
      fr(Math.PI),
      fr(Math.PI / 2),
    ]);
  },
  eq: () => {
    assertEquals(ev1("eq", {}, f32([NaN, 1, -0]), f32([NaN, 1, 0])), [0, 1, 1]);
    assertEquals(ev1("eq", {}, b8([1, 0]), b8([1, 1])), [1, 0]);
  },
  ne: () => assertEquals(ev1("ne", {}, f32([NaN, 1]), f32([NaN, 2])), [1, 1]),
  lt: () => {
    assertEquals(ev1("lt", {}, f32([NaN, 1, 2]), f32([1, NaN, 3])), [0, 0, 1]);
    assertEquals(ev1("lt", {}, u32([UINT_MAX]), u32([0])), [0]); // unsigned order
    assertEquals(ev1("lt", {}, i32([-1]), i32([0])), [1]);
  },
  le: () => assertEquals(ev1("le", {}, f32([1, 2, NaN]), f32([1, 1, NaN])), [1, 0, 0]),
  gt: () => assertEquals(ev1("gt", {}, f32([2, 1, NaN]), f32([1, 1, 0])), [1, 0, 0]),
  ge: () => assertEquals(ev1("ge", {}, f32([1, 0, NaN]), f32([1, 1, 0])), [1, 0, 0]),
  and: () => {
    assertEquals(ev1("and", {}, i32([0b1100, -1]), i32([0b1010, INT_MIN])), [0b1000, INT_MIN]);
    assertEquals(ev1("and", {}, b8([1, 1, 0]), b8([1, 0, 0])), [1, 0, 0]);
  },
  or: () => {
    assertEquals(ev1("or", {}, u32([0x80000000]), u32([1])), [0x80000001]);
    assertEquals(ev1("or", {}, b8([1, 0, 0]), b8([0, 0, 1])), [1, 0, 1]);
  },
  xor: () => {
    assertEquals(ev1("xor", {}, i32([0b1100, -1]), i32([0b1010, 0])), [0b0110, -1]);
    assertEquals(ev1("xor", {}, b8([1, 1, 0]), b8([1, 0, 0])), [0, 1, 0]);
  },
  shift_left: () => {
    // Shift amounts are taken modulo 32, as WGSL.
    assertEquals(ev1("shift_left", {}, i32([1, 1, 3, -1]), i32([31, 33, 0, 4])), [
      INT_MIN,
      2,
      3,
      -16,
    ]);
    assertEquals(ev1("shift_left", {}, u32([1, UINT_MAX]), u32([31, 1])), [
      0x80000000,
      UINT_MAX - 1,
    ]);
  },
  shift_right: () => {
    // Arithmetic for int32, logical for uint32.
    assertEquals(ev1("shift_right", {}, i32([-8, INT_MIN, 16]), i32([1, 31, 36])), [-4, -1, 1]);
    assertEquals(ev1("shift_right", {}, u32([0x80000000, 16]), u32([31, 32])), [1, 16]);
  },
  select: () => {
    assertEquals(ev1("select", {}, b8([1, 0, 1]), f32([1, 2, NaN]), f32([4, 5, 6])), [1, 5, NaN]);
    assertEquals(ev1("select", {}, b8([0, 1]), i32([1, 2]), i32([3, 4])), [3, 2]);
  },
  cast: () => {
    // Float to integer truncates toward zero and saturates; NaN gives 0.
    assertEquals(
      ev1("cast", { dtype: "int32" }, f32([2.7, -2.7, 1e10, -1e10, NaN, Infinity, -0.5])),
      [2, -2, INT_MAX, INT_MIN, 0, INT_MAX, 0],
    );
    assertEquals(ev1("cast", { dtype: "uint32" }, f32([-5, 3.9, 1e10, NaN])), [0, 3, UINT_MAX, 0]);
    // Integer to integer keeps the low 32 bits (two's complement), as NumPy, JAX and WGSL.
    assertEquals(ev1("cast", { dtype: "uint32" }, i32([-1, INT_MIN, 7])), [
      UINT_MAX,
      2147483648,
      7,
    ]);
    assertEquals(ev1("cast", { dtype: "int32" }, u32([UINT_MAX, 2147483648, 7])), [-1, INT_MIN, 7]);
    // Anything to bool is x != 0 (NaN is true).
    assertEquals(ev1("cast", { dtype: "bool" }, f32([0, -0, 2, NaN])), [0, 0, 1, 1]);
    assertEquals(ev1("cast", { dtype: "float32" }, b8([1, 0])), [1, 0]);
    assertEquals(ev1("cast", { dtype: "float32" }, i32([16777217])), [16777216]); // rounds
    // float32 -> float16 rounds to nearest, ties to even; overflow to infinity.
    assertEquals(
      ev1(
        "cast",
        { dtype: "float16" },
        f32([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65519, 65520, 1e-8]),
      ),
      [1, 1 + 2 ** -9, 65504, 65504, Infinity, 0],
    );
    assertEquals(ev1("cast", { dtype: "bfloat16" }, f32([1 + 2 ** -8, 1 + 3 * 2 ** -8])), [
      1,
      1 + 2 ** -6,
    ]);
  },
  bitcast: () => {
    assertEquals(ev1("bitcast", { dtype: "int32" }, f32([1, -2])), [0x3f800000, -1073741824]);
    assertEquals(ev1("bitcast", { dtype: "uint32" }, i32([-1])), [UINT_MAX]);
    assertEquals(ev1("bitcast", { dtype: "float32" }, u32([0x7f800000, 0x40490fdb])), [
      Infinity,
      fr(Math.PI),
    ]);
    assertEquals(ev1("bitcast", { dtype: "bfloat16" }, ["float16", [1], [1]]), [
      // float16 1.0 is 0x3c00; as bfloat16 bits that is 2^-7 * 1.0 ... = 0x3c00 -> 0.0078125.
      0.0078125,
    ]);
  },
  stop_gradient: () => assertEquals(ev1("stop_gradient", {}, f32([1, NaN])), [1, NaN]),
  reduce_sum: () => {
    const x = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    assertEquals(ev1("reduce_sum", { axes: [0] }, x), [5, 7, 9]);
    assertEquals(ev1("reduce_sum", { axes: [1] }, x), [6, 15]);
    assertEquals(ev("reduce_sum", { axes: [0, 1] }, x)[0], {
      shape: [],
      dtype: "float32",
      data: [21],
    });
    // Accumulated in float64 and rounded once: a float32 running sum would give 1.
    assertEquals(ev1("reduce_sum", { axes: [0] }, f32([1, 2 ** -24, 2 ** -24])), [1 + 2 ** -23]);
    assertEquals(ev1("reduce_sum", { axes: [0] }, i32([INT_MAX, 1])), [INT_MIN]); // wraps
    assertEquals(ev1("reduce_sum", { axes: [1] }, f32([], [2, 0])), [0, 0]);
  },
  reduce_max: () => {
    assertEquals(ev1("reduce_max", { axes: [1] }, f32([1, NaN, 3, 4, 5, 6], [2, 3])), [NaN, 6]);
    assertEquals(ev1("reduce_max", { axes: [1] }, f32([], [2, 0])), [-Infinity, -Infinity]);
    assertEquals(ev1("reduce_max", { axes: [0] }, i32([], [0])), [INT_MIN]);
    assertEquals(ev1("reduce_max", { axes: [0] }, u32([3, UINT_MAX, 1])), [UINT_MAX]);
  },
  reduce_min: () => {
    assertEquals(ev1("reduce_min", { axes: [0] }, f32([1, NaN, -3, 4], [2, 2])), [-3, NaN]);
    assertEquals(ev1("reduce_min", { axes: [0] }, u32([], [0])), [UINT_MAX]);
    assertEquals(ev1("reduce_min", { axes: [0] }, i32([3, INT_MIN, 1])), [INT_MIN]);
  },
  argmax: () => {
    // First occurrence wins ties; a NaN wins over everything (as jnp.argmax).
    assertEquals(ev1("argmax", { axis: 1 }, f32([1, 3, 3, 5, NaN, 9], [2, 3])), [1, 1]);
    assertEquals(ev1("argmax", { axis: 0 }, f32([1, 3, 3, 0], [2, 2])), [1, 0]);
    assertEquals(ev1("argmax", { axis: 0 }, f32([NaN, 1, NaN])), [0]);
  },
  argmin: () => {
    assertEquals(ev1("argmin", { axis: 1 }, f32([4, 1, 1, 5, 6, NaN], [2, 3])), [1, 2]);
    assertEquals(ev1("argmin", { axis: 0 }, i32([2, INT_MIN, INT_MIN])), [1]);
  },
  cumsum: () => {
    const x = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    assertEquals(ev1("cumsum", { axis: 1, reverse: false }, x), [1, 3, 6, 4, 9, 15]);
    assertEquals(ev1("cumsum", { axis: 1, reverse: true }, x), [6, 5, 3, 15, 11, 6]);
    assertEquals(ev1("cumsum", { axis: 0, reverse: false }, x), [1, 2, 3, 5, 7, 9]);
    assertEquals(ev1("cumsum", { axis: 0, reverse: false }, i32([INT_MAX, 1])), [INT_MAX, INT_MIN]);
  },
  reshape: () => {
    assertEquals(ev("reshape", { shape: [3, 2] }, f32([1, 2, 3, 4, 5, 6], [2, 3]))[0], {
      shape: [3, 2],
      dtype: "float32",
      data: [1, 2, 3, 4, 5, 6],
    });
  },
  transpose: () => {
    assertEquals(ev1("transpose", { perm: [1, 0] }, f32([1, 2, 3, 4, 5, 6], [2, 3])), [
      1,
      4,
      2,
      5,
      3,
      6,
    ]);
    // [2,1,3] -> perm [2,0,1] -> [3,2,1]
    const out = ev("transpose", { perm: [2, 0, 1] }, f32([1, 2, 3, 4, 5, 6], [2, 1, 3]))[0]!;
    assertEquals(out.shape, [3, 2, 1]);
    assertEquals(out.data, [1, 4, 2, 5, 3, 6]);
  },
  broadcast: () => {
    assertEquals(ev1("broadcast", { shape: [2, 3], dims: [1] }, f32([1, 2, 3])), [
      1,
      2,
      3,
      1,
      2,
      3,
    ]);
    assertEquals(ev1("broadcast", { shape: [2, 3], dims: [0] }, f32([1, 2])), [1, 1, 1, 2, 2, 2]);
    assertEquals(ev1("broadcast", { shape: [2, 2], dims: [0, 1] }, f32([7, 8], [1, 2])), [
      7,
      8,
      7,
      8,
    ]);
    assertEquals(ev1("broadcast", { shape: [2, 2], dims: [] }, f32([5], [])), [5, 5, 5, 5]);
  },
  slice: () => {
    const x = f32(Array.from({ length: 10 }, (_, i) => i));
    assertEquals(ev1("slice", { start: [1], limit: [8], strides: [3] }, x), [1, 4, 7]);
    assertEquals(ev1("slice", { start: [9], limit: [10], strides: [5] }, x), [9]);
    assertEquals(ev("slice", { start: [3], limit: [3], strides: [1] }, x)[0]!.shape, [0]);
    const m = f32(Array.from({ length: 12 }, (_, i) => i), [3, 4]);
    assertEquals(ev1("slice", { start: [0, 1], limit: [3, 4], strides: [2, 2] }, m), [1, 3, 9, 11]);
  },
  pad: () => {
    const x = f32([1, 2, 3]);
    // interior 1: [1,9,2,9,3]; lo 1 adds a 9 in front; hi -1 crops the last element.
    assertEquals(ev1("pad", { lo: [1], hi: [-1], interior: [1], value: 9 }, x), [9, 1, 9, 2, 9]);
    assertEquals(ev1("pad", { lo: [-2], hi: [0], interior: [1], value: 9 }, x), [2, 9, 3]);
    assertEquals(ev1("pad", { lo: [0], hi: [2], interior: [0], value: -1 }, x), [1, 2, 3, -1, -1]);
    assertEquals(ev1("pad", { lo: [-3], hi: [0], interior: [0], value: 0 }, x), []);
    assertEquals(
      ev1("pad", { lo: [1, 0], hi: [0, 1], interior: [0, 0], value: 0 }, f32([1, 2, 3, 4], [2, 2])),
      [0, 0, 0, 1, 2, 0, 3, 4, 0],
    );
    // The pad value is rounded to the dtype.
    assertEquals(ev1("pad", { lo: [1], hi: [0], interior: [0], value: 2.7 }, i32([5])), [2, 5]);
  },
  flip: () => {
    const m = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    assertEquals(ev1("flip", { axes: [1] }, m), [3, 2, 1, 6, 5, 4]);
    assertEquals(ev1("flip", { axes: [0, 1] }, m), [6, 5, 4, 3, 2, 1]);
  },
  concatenate: () => {
    const a = f32([1, 2, 3, 4], [2, 2]), b = f32([5, 6], [2, 1]);
    assertEquals(ev1("concatenate", { axis: 1 }, a, b), [1, 2, 5, 3, 4, 6]);
    assertEquals(ev1("concatenate", { axis: 0 }, a, f32([7, 8], [1, 2])), [1, 2, 3, 4, 7, 8]);
  },
  take: () => {
    // Out-of-range indices clamp (JAX's default for gathers).
    assertEquals(ev1("take", { axis: 0 }, f32([10, 20, 30]), i32([-1, 5, 1])), [10, 30, 20]);
    const m = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    const out = ev("take", { axis: 1 }, m, i32([2, 0, 0, 1], [2, 2]))[0]!;
    assertEquals(out.shape, [2, 2, 2]);
    assertEquals(out.data, [3, 1, 1, 2, 6, 4, 4, 5]);
  },
  scatter_add: () => {
    // Repeated indices accumulate; indices past the end clamp to the last slot.
    assertEquals(
      ev1("scatter_add", { axis: 0, size: 3 }, f32([1, 2, 4, 8]), i32([0, 2, 0, 7])),
      [5, 0, 10],
    );
    assertEquals(
      ev1("scatter_add", { axis: 1, size: 2 }, f32([1, 2, 3, 4], [2, 2]), i32([1, 1])),
      [0, 3, 0, 7],
    );
  },
  matmul: () => {
    assertEquals(
      ev1("matmul", {}, f32([1, 2, 3, 4, 5, 6], [2, 3]), f32([1, 0, 0, 1, 1, 1], [3, 2])),
      [4, 5, 10, 11],
    );
    const batched = ev(
      "matmul",
      {},
      f32([1, 2, 3, 4], [2, 1, 2]),
      f32([1, 1, 2, 2], [2, 2, 1]),
    )[0]!;
    assertEquals(batched.shape, [2, 1, 1]);
    assertEquals(batched.data, [3, 14]);
    assertEquals(ev1("matmul", {}, i32([65536, 1], [1, 2]), i32([65536, INT_MAX], [2, 1])), [
      INT_MAX,
    ]);
    // float64 accumulation, one rounding.
    assertEquals(ev1("matmul", {}, f32([1, 2 ** -24, 2 ** -24], [1, 3]), f32([1, 1, 1], [3, 1])), [
      1 + 2 ** -23,
    ]);
  },
  conv: () => {
    const base = {
      strides: [1],
      padding: [[0, 0]] as const,
      lhsDilation: [1],
      rhsDilation: [1],
      groups: 1,
    };
    const x = f32([1, 2, 3], [1, 1, 3]), w = f32([1, 10], [1, 1, 2]);
    assertEquals(ev1("conv", base, x, w), [21, 32]);
    // Input (lhs) dilation 2: x becomes [1, 0, 2, 0, 3].
    assertEquals(ev1("conv", { ...base, lhsDilation: [2] }, x, w), [1, 20, 2, 30]);
    assertEquals(ev1("conv", { ...base, lhsDilation: [2], padding: [[1, 1]] }, x, w), [
      10,
      1,
      20,
      2,
      30,
      3,
    ]);
    // Kernel (rhs) dilation 2: w becomes [1, 0, 10].
    assertEquals(ev1("conv", { ...base, lhsDilation: [2], rhsDilation: [2] }, x, w), [21, 0, 32]);
    assertEquals(ev1("conv", { ...base, lhsDilation: [2], strides: [2] }, x, w), [1, 2]);
    // Negative padding crops.
    assertEquals(ev1("conv", { ...base, padding: [[-1, 0]] }, x, w), [32]);
    // Groups: two channels, each with its own kernel.
    const x2 = f32([1, 2, 3, 4, 5, 6], [1, 2, 3]), w2 = f32([1, 1, 1, -1], [2, 1, 2]);
    assertEquals(ev1("conv", { ...base, groups: 2 }, x2, w2), [3, 5, -1, -1]);
    // 2-D: a 2x2 window of ones sums 2x2 blocks of a 3x3 image.
    const img = f32([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]),
      ones = f32([1, 1, 1, 1], [1, 1, 2, 2]);
    const params2 = {
      strides: [1, 1],
      padding: [[0, 0], [0, 0]] as const,
      lhsDilation: [1, 1],
      rhsDilation: [1, 1],
      groups: 1,
    };
    assertEquals(ev1("conv", params2, img, ones), [12, 16, 24, 28]);
  },
  attention: () => {
    // One query, two keys: scores [1, 0], p = [e, 1] / (e + 1).
    const q = f32([1, 0], [1, 1, 1, 2]), k = f32([1, 0, 0, 1], [1, 1, 2, 2]);
    const v = f32([1, 2, 3, 4], [1, 1, 2, 2]);
    const [out, lse] = ev("attention", { scale: 1, causal: false }, q, k, v);
    const p0 = Math.E / (Math.E + 1), p1 = 1 / (Math.E + 1);
    assertEquals(out!.data, [fr(p0 * 1 + p1 * 3), fr(p0 * 2 + p1 * 4)]);
    assertEquals(lse!.data, [fr(Math.log(Math.E + 1))]);
    // Causal with Sq = Sk = 2: query 0 sees key 0 only.
    const q2 = f32([1, 0, 0, 1], [1, 1, 2, 2]);
    const [out2, lse2] = ev("attention", { scale: 1, causal: true }, q2, k, v);
    assertEquals(out2!.data.slice(0, 2), [1, 2]);
    assertEquals(lse2!.data[0], 1);
    // Sq > Sk aligns the mask to the end: query 0 of 2 sees no key (output 0, lse -inf).
    const [out3, lse3] = ev(
      "attention",
      { scale: 1, causal: true },
      q2,
      f32([1, 0], [1, 1, 1, 2]),
      f32([5, 6], [1, 1, 1, 2]),
    );
    assertEquals(out3!.data, [0, 0, 5, 6]);
    assertEquals(lse3!.data, [-Infinity, 0]);
  },
  attention_bwd: () => {
    // Against central differences of the reference attention itself (float64 inputs).
    const q = [0.3, -0.2, 0.5, 0.1],
      k = [0.4, 0.2, -0.3, 0.6, 0.1, -0.5],
      v = [1, -2, 0.5, 3, -1, 2];
    const dOut = [0.7, -0.4, 0.2, 0.9];
    const shapes = { q: [1, 1, 2, 2], k: [1, 1, 3, 2], v: [1, 1, 3, 2] };
    for (const causal of [false, true]) {
      const params = { scale: 0.8, causal };
      const fwd = (qq: number[], kk: number[], vv: number[]) =>
        ev("attention", params, f32(qq, shapes.q), f32(kk, shapes.k), f32(vv, shapes.v));
      const [out, lse] = fwd(q, k, v);
      const grads = ev(
        "attention_bwd",
        params,
        f32(q, shapes.q),
        f32(k, shapes.k),
        f32(v, shapes.v),
        f32(out!.data, shapes.q),
        f32(lse!.data, [1, 1, 2]),
        f32(dOut, shapes.q),
      );
      const loss = (qq: number[], kk: number[], vv: number[]) =>
        fwd(qq, kk, vv)[0]!.data.reduce((s, o, i) => s + o * dOut[i]!, 0);
      const h = 1e-3;
      [q, k, v].forEach((arg, which) => {
        arg.forEach((_, j) => {
          const at = (delta: number) => {
            const args = [q, k, v].map((a) => [...a]);
            args[which]![j]! += delta;
            return loss(args[0]!, args[1]!, args[2]!);
          };
          const fd = (at(h) - at(-h)) / (2 * h);
          assertClose(grads[which]!.data[j]!, fd, {
            rtol: 1e-2,
            atol: 1e-3,
            message: `causal ${causal} input ${which}[${j}]`,
          });
        });
      });
    }
  },
  iota: () => {
    assertEquals(ev1("iota", { shape: [2, 3], axis: 1, dtype: "int32" }), [0, 1, 2, 0, 1, 2]);
    assertEquals(ev1("iota", { shape: [2, 3], axis: 0, dtype: "float32" }), [0, 0, 0, 1, 1, 1]);
    assertEquals(ev1("iota", { shape: [3], axis: 0, dtype: "float16" }), [0, 1, 2]);
  },
  full: () => {
    assertEquals(ev1("full", { shape: [2], value: 0.1, dtype: "float32" }), [fr(0.1), fr(0.1)]);
    assertEquals(ev1("full", { shape: [1], value: 0.1, dtype: "float16" }), [0.0999755859375]);
    assertEquals(ev1("full", { shape: [2], value: 1, dtype: "bool" }), [1, 1]);
    assertEquals(ev1("full", { shape: [], value: -1, dtype: "uint32" }), [UINT_MAX]);
  },
  threefry2x32: () => {
    const [y0, y1] = ev(
      "threefry2x32",
      {},
      u32([0, 0xffffffff, 0x13198a2e]),
      u32([0, 0xffffffff, 0x03707344]),
      u32([0, 0xffffffff, 0x243f6a88]),
      u32([0, 0xffffffff, 0x85a308d3]),
    );
    assertEquals(y0!.data, [0x6b200159, 0x1cb996fc, 0xc4923a9c]);
    assertEquals(y1!.data, [0x99ba4efe, 0xbb002be7, 0x483df7a0]);
    assertEquals(threefry2x32(0, 0, 0, 0), [0x6b200159, 0x99ba4efe]);
  },
};

for (const [prim, run] of Object.entries(cases)) {
  Deno.test(`reference interpreter computes ${prim} on hand-computed cases`, run);
}

Deno.test("float16 results are rounded once from float64, not through float32", () => {
  // 1 + 2^-11 + 2^-24 lies just above the float16 tie between 1 and 1 + 2^-10: the correct
  // float16 is 1 + 2^-10. Rounding to float32 first lands exactly on the tie (-> 1).
  const sum = ev1("reduce_sum", { axes: [0] }, ["float16", [3], [1, 2 ** -11, 2 ** -24]]);
  assertEquals(sum, [1 + 2 ** -10]);
  const dot = ev1("matmul", {}, ["bfloat16", [1, 2], [1, 2 ** -8]], ["bfloat16", [2, 1], [
    1,
    1 + 2 ** -7,
  ]]);
  // 1 + 2^-8 + 2^-15: above the bfloat16 tie between 1 and 1 + 2^-7.
  assertEquals(dot, [1 + 2 ** -7]);
});
