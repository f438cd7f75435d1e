import type { DType } from "../../../kernels/dtype.ts";
import { binaryPrimitives, type Primitive, unaryPrimitives } from "../../../kernels/primitives.ts";
import { checkPrimitive, type Operand, operand, rng, skipReason } from "./_harness.ts";

const ignore = skipReason !== null;
const floats: DType[] = ["float32", "float16", "bfloat16"];
const ints: DType[] = ["int32", "uint32"];

const floatOnlyUnary = new Set<string>([
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

function unaryDtypes(prim: string): DType[] {
  if (prim === "logical_not") return ["bool", ...ints];
  if (floatOnlyUnary.has(prim)) return floats;
  return [...floats, ...ints];
}

function binaryDtypes(prim: string): DType[] {
  if (prim === "pow" || prim === "atan2") return floats;
  if (prim === "and" || prim === "or" || prim === "xor") return ["bool", ...ints];
  if (prim === "shift_left" || prim === "shift_right") return ints;
  if (prim === "eq" || prim === "ne") return [...floats, ...ints, "bool"];
  return [...floats, ...ints];
}

Deno.test({
  name: "webgpu unary primitives match the reference on random and special values",
  ignore,
  async fn() {
    const r = rng(1);
    for (const prim of unaryPrimitives) {
      for (const dtype of unaryDtypes(prim)) {
        // sin/cos lose accuracy at huge arguments on every GPU: keep them moderate.
        const kind = prim === "sin" || prim === "cos" ? "normal" : "special";
        const tol: [number, number] | undefined = dtype === "float32" &&
            (prim === "erf" || prim === "tanh" || prim === "sin" || prim === "cos")
          ? [1e-5, 1e-6]
          : undefined;
        await checkPrimitive(prim, {}, [operand([3, 37], dtype, r, kind)], tol);
      }
    }
  },
});

Deno.test({
  name:
    "webgpu binary primitives match the reference, integer wrapping and division by zero included",
  ignore,
  async fn() {
    const r = rng(2);
    for (const prim of binaryPrimitives) {
      for (const dtype of binaryDtypes(prim)) {
        const shape = [5, 13];
        const a = operand(shape, dtype, r, "special");
        let b = operand(shape, dtype, r, prim === "pow" ? "normal" : "special");
        if ((prim === "div" || prim === "rem") && (dtype === "int32" || dtype === "uint32")) {
          // Include zero divisors: x / 0 = x and x % 0 = 0.
          const data = b.data.slice();
          for (let i = 0; i < data.length; i += 4) data[i] = 0;
          b = { aval: b.aval, data };
        }
        const tol: [number, number] | undefined = prim === "pow" && dtype === "float32"
          ? [1e-4, 1e-5]
          : undefined;
        await checkPrimitive(prim, {}, [a, b], tol);
      }
    }
  },
});

Deno.test({
  name: "webgpu select, cast, bitcast and stop_gradient match the reference",
  ignore,
  async fn() {
    const r = rng(3);
    const shape = [4, 9];
    for (const dtype of [...floats, ...ints, "bool"] as DType[]) {
      await checkPrimitive("select", {}, [
        operand(shape, "bool", r),
        operand(shape, dtype, r),
        operand(shape, dtype, r),
      ]);
      await checkPrimitive("stop_gradient", {}, [operand(shape, dtype, r)]);
      for (const to of [...floats, ...ints, "bool"] as DType[]) {
        await checkPrimitive("cast", { dtype: to }, [operand(shape, dtype, r, "special")]);
      }
    }
    const widths: DType[][] = [["float32", "int32", "uint32"], ["float16", "bfloat16"]];
    for (const group of widths) {
      for (const from of group) {
        for (const to of group) {
          await checkPrimitive("bitcast", { dtype: to }, [operand(shape, from, r, "special")]);
        }
      }
    }
  },
});

Deno.test({
  name: "webgpu reductions, arg reductions and cumsum match the reference",
  ignore,
  async fn() {
    const r = rng(4);
    const shape = [3, 5, 7];
    for (const dtype of ["float32", "bfloat16", "float16", "int32", "uint32"] as DType[]) {
      for (const axes of [[0], [1], [2], [0, 2], [1, 2], [0, 1, 2], []]) {
        for (const prim of ["reduce_sum", "reduce_max", "reduce_min"] as const) {
          await checkPrimitive(prim, { axes }, [operand(shape, dtype, r)]);
        }
      }
      for (const axis of [0, 1, 2]) {
        await checkPrimitive("argmax", { axis }, [operand(shape, dtype, r)]);
        await checkPrimitive("argmin", { axis }, [operand(shape, dtype, r)]);
        await checkPrimitive("cumsum", { axis, reverse: axis === 1 }, [operand(shape, dtype, r)]);
      }
    }
    // NaN propagates through max/min and wins argmax; long rows take the cooperative path.
    await checkPrimitive("reduce_max", { axes: [1] }, [
      operand([4, 1000], "float32", r, "special"),
    ]);
    await checkPrimitive("argmax", { axis: 1 }, [operand([4, 1000], "float32", r, "special")]);
    await checkPrimitive("argmin", { axis: 1 }, [operand([3, 5000], "float32", r)]);
    await checkPrimitive("reduce_sum", { axes: [0, 1] }, [operand([70, 90], "float32", r)], [
      1e-4,
      1e-4,
    ]);
  },
});

Deno.test({
  name: "webgpu movement primitives match the reference (views, no copies until read)",
  ignore,
  async fn() {
    const r = rng(5);
    for (const dtype of ["float32", "float16", "bfloat16", "int32", "bool"] as DType[]) {
      const x = operand([2, 3, 4], dtype, r);
      await checkPrimitive("reshape", { shape: [4, 6] }, [x]);
      await checkPrimitive("reshape", { shape: [24] }, [x]);
      await checkPrimitive("transpose", { perm: [2, 0, 1] }, [x]);
      await checkPrimitive("broadcast", { shape: [5, 2, 3, 4], dims: [1, 2, 3] }, [x]);
      await checkPrimitive("broadcast", { shape: [2, 6, 3, 4], dims: [0, 2, 3] }, [
        operand([2, 1, 4], dtype, r),
      ]);
      await checkPrimitive("slice", { start: [0, 1, 1], limit: [2, 3, 4], strides: [1, 1, 2] }, [
        x,
      ]);
      await checkPrimitive(
        "pad",
        { lo: [1, -1, 2], hi: [0, 2, -1], interior: [0, 1, 2], value: 1 },
        [x],
      );
      await checkPrimitive("flip", { axes: [0, 2] }, [x]);
      await checkPrimitive("concatenate", { axis: 1 }, [x, operand([2, 1, 4], dtype, r), x]);
    }
    // Many operands: a tree of concatenations stays within the binding limit.
    const parts: Operand[] = Array.from({ length: 21 }, () => operand([2, 3], "float32", r));
    await checkPrimitive("concatenate", { axis: 0 }, parts);
    await checkPrimitive("pad", { lo: [2], hi: [3], interior: [0], value: 0 }, [
      operand([0], "float32", r),
    ]);
  },
});

Deno.test({
  name: "webgpu take and scatter_add match the reference, out-of-range indices clamped",
  ignore,
  async fn() {
    const r = rng(6);
    for (const dtype of ["float32", "bfloat16", "int32"] as DType[]) {
      const idx = {
        aval: { shape: [2, 3], dtype: "int32" as DType },
        data: Int32Array.from([0, 4, -2, 2, 9, 1]),
      };
      await checkPrimitive("take", { axis: 1 }, [operand([3, 5, 2], dtype, r), idx]);
      await checkPrimitive("scatter_add", { axis: 1, size: 5 }, [
        operand([3, 2, 3, 2], dtype, r),
        idx,
      ]);
    }
  },
});

Deno.test({
  name: "webgpu matmul matches the reference for batches, odd sizes, integers and half types",
  ignore,
  async fn() {
    const r = rng(7);
    const cases: [number[], number[]][] = [
      [[1, 1], [1, 1]],
      [[3, 5], [5, 7]],
      [[2, 17, 33], [2, 33, 9]],
      [[65, 130], [130, 70]],
      [[4, 2048], [2048, 3]],
      [[2, 3, 8, 12], [2, 3, 12, 16]],
    ];
    for (const [a, b] of cases) {
      for (const dtype of ["float32", "float16", "bfloat16", "int32"] as DType[]) {
        const k = a[a.length - 1]!;
        const tol: [number, number] | undefined = dtype === "float32"
          ? [1e-4, 1e-4 * Math.sqrt(k)]
          : dtype === "float16"
          ? [4e-3, 4e-3]
          : undefined;
        await checkPrimitive("matmul", {}, [
          operand(a, dtype, r, "small"),
          operand(b, dtype, r, "small"),
        ], tol);
      }
    }
  },
});

Deno.test({
  name: "webgpu conv matches the reference for strides, padding, dilations and groups",
  ignore,
  async fn() {
    const r = rng(8);
    const cases = [
      {
        x: [2, 3, 9],
        w: [4, 3, 3],
        strides: [2],
        padding: [[1, 2]],
        lhs: [1],
        rhs: [1],
        groups: 1,
      },
      {
        x: [1, 4, 6, 5],
        w: [6, 2, 3, 2],
        strides: [1, 2],
        padding: [[1, 1], [0, 1]],
        lhs: [1, 1],
        rhs: [2, 1],
        groups: 2,
      },
      {
        x: [1, 2, 4, 4],
        w: [3, 2, 3, 3],
        strides: [1, 1],
        padding: [[2, 2], [2, 2]],
        lhs: [2, 2],
        rhs: [1, 1],
        groups: 1,
      },
      {
        x: [1, 2, 3, 4, 4],
        w: [2, 2, 2, 3, 3],
        strides: [1, 1, 1],
        padding: [[1, 0], [1, 1], [1, 1]],
        lhs: [1, 1, 1],
        rhs: [1, 1, 1],
        groups: 1,
      },
    ];
    for (const c of cases) {
      for (const dtype of ["float32", "float16"] as DType[]) {
        const params = {
          strides: c.strides,
          padding: c.padding as [number, number][],
          lhsDilation: c.lhs,
          rhsDilation: c.rhs,
          groups: c.groups,
        };
        await checkPrimitive("conv", params, [
          operand(c.x, dtype, r, "small"),
          operand(c.w, dtype, r, "small"),
        ], dtype === "float32" ? [1e-4, 1e-5] : [4e-3, 4e-3]);
      }
    }
  },
});

Deno.test({
  name: "webgpu attention forward and backward match the reference (causal, Sq != Sk, S = 1)",
  ignore,
  async fn() {
    const r = rng(9);
    for (const [sq, sk] of [[1, 1], [5, 7], [7, 5], [17, 17]] as [number, number][]) {
      for (const causal of [false, true]) {
        for (const dtype of ["float32", "float16"] as DType[]) {
          const q = operand([2, 2, sq, 8], dtype, r, "small");
          const k = operand([2, 2, sk, 8], dtype, r, "small");
          const v = operand([2, 2, sk, 6], dtype, r, "small");
          const tol: [number, number] = dtype === "float32" ? [1e-4, 1e-5] : [5e-3, 5e-3];
          await checkPrimitive("attention", { scale: 0.4, causal }, [q, k, v], tol);
          const out = operand([2, 2, sq, 6], dtype, r, "small");
          const lse = operand([2, 2, sq], "float32", r, "small");
          const dOut = operand([2, 2, sq, 6], dtype, r, "small");
          await checkPrimitive(
            "attention_bwd",
            { scale: 0.4, causal },
            [q, k, v, out, lse, dOut],
            tol,
          );
        }
      }
    }
  },
});

Deno.test({
  name: "webgpu int8 attention matches the reference's int8 attention (causal, ragged, S = 1)",
  ignore,
  async fn() {
    const r = rng(19);
    // Sk = 70 spans two key blocks; D = 40 and Dv = 6 pad to the product tiles.
    for (const [sq, sk] of [[1, 1], [7, 5], [33, 70]] as [number, number][]) {
      for (const causal of [false, true]) {
        const q = operand([2, 2, sq, 40], "float32", r, "small");
        const k = operand([2, 2, sk, 40], "float32", r, "small");
        const v = operand([2, 2, sk, 6], "float32", r, "small");
        const params = { scale: 0.4, causal, quantization: "int8" as const };
        // The kernels compute the reference's integers up to rounding ties of float32 division
        // and exp2 (see attention_int8_test.ts), each worth at most one value step (2 / 127
        // for these operands); the template test bounds the typical error much tighter.
        await checkPrimitive("attention", params, [q, k, v], [0, 2e-2]);
      }
    }
  },
});

Deno.test({
  name: "webgpu iota, full and threefry2x32 match the reference",
  ignore,
  async fn() {
    const r = rng(10);
    for (const dtype of ["float32", "float16", "int32", "uint32", "bool"] as DType[]) {
      await checkPrimitive("iota", { shape: [3, 70], axis: 1, dtype }, []);
      await checkPrimitive("full", { shape: [4, 5], value: 2.7, dtype }, []);
    }
    await checkPrimitive("full", { shape: [3], value: NaN, dtype: "float32" }, []);
    const u = () => operand([7, 11], "uint32", r, "special");
    await checkPrimitive("threefry2x32", {}, [u(), u(), u(), u()]);
  },
});

/** Every primitive is exercised by some test above. */
Deno.test("webgpu primitive tests cover every primitive", () => {
  const covered = new Set<Primitive>([
    ...unaryPrimitives,
    ...binaryPrimitives,
    "select",
    "cast",
    "bitcast",
    "stop_gradient",
    "reduce_sum",
    "reduce_max",
    "reduce_min",
    "argmax",
    "argmin",
    "cumsum",
    "reshape",
    "transpose",
    "broadcast",
    "slice",
    "pad",
    "flip",
    "concatenate",
    "take",
    "scatter_add",
    "matmul",
    "conv",
    "attention",
    "attention_bwd",
    "iota",
    "full",
    "threefry2x32",
  ]);
  const all: Record<Primitive, true> = {
    neg: true,
    recip: true,
    exp: true,
    log: true,
    sqrt: true,
    rsqrt: true,
    sin: true,
    cos: true,
    tanh: true,
    logistic: true,
    erf: true,
    abs: true,
    sign: true,
    floor: true,
    ceil: true,
    round: true,
    logical_not: true,
    is_nan: true,
    add: true,
    sub: true,
    mul: true,
    div: true,
    rem: true,
    pow: true,
    max: true,
    min: true,
    atan2: true,
    eq: true,
    ne: true,
    lt: true,
    le: true,
    gt: true,
    ge: true,
    and: true,
    or: true,
    xor: true,
    shift_left: true,
    shift_right: true,
    select: true,
    cast: true,
    bitcast: true,
    stop_gradient: true,
    reduce_sum: true,
    reduce_max: true,
    reduce_min: true,
    argmax: true,
    argmin: true,
    cumsum: true,
    reshape: true,
    transpose: true,
    broadcast: true,
    slice: true,
    pad: true,
    flip: true,
    concatenate: true,
    take: true,
    scatter_add: true,
    matmul: true,
    conv: true,
    attention: true,
    attention_bwd: true,
    iota: true,
    full: true,
    threefry2x32: true,
  };
  for (const p of Object.keys(all) as Primitive[]) {
    if (!covered.has(p)) throw new Error(`primitive ${p} has no WebGPU test`);
  }
});
