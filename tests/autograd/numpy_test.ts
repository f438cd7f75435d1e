/**
 * The `np` layer's NumPy rules: broadcasting for random shape pairs (against an independent
 * implementation), reduction shapes with axis/keepdims, dtype promotion with weak scalars,
 * errors that name the offending shapes, and values of the main ops against host loops.
 */
import fc from "fast-check";
import { device, type NDArray, np } from "../../autograd/mod.ts";
import { resultType } from "../../autograd/numpy/convert.ts";
import { type DType, promoteTypes } from "../../kernels/dtype.ts";
import { broadcastShapes } from "../../kernels/shape.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { property, rngFrom, seedArb, uniformValues } from "../_arbitraries.ts";
import { read, sizeOfShape, stridesOfShape, upload } from "../_host.ts";
import { checkVjpMatchesFiniteDifferences } from "../_fd.ts";

device.use("reference");

/** NumPy's broadcasting rule, written independently: right-align, sizes equal or 1. */
function numpyBroadcast(a: readonly number[], b: readonly number[]): number[] | null {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1, y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

const shapeArb = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 });
/** Pairs biased toward broadcastable ones (the second derived from the first). */
const pairArb = fc.oneof(
  fc.tuple(shapeArb, shapeArb),
  fc.tuple(shapeArb, fc.array(fc.boolean(), { maxLength: 4 }), fc.nat(2)).map((
    [a, ones, drop],
  ) => [a, a.slice(Math.min(drop, a.length)).map((d, i) => (ones[i] ? 1 : d))] as const),
);

Deno.test("broadcastShapes follows NumPy's rules for random shape pairs", () => {
  property(pairArb, ([a, b]) => {
    const want = numpyBroadcast(a, b);
    if (want === null) {
      const error = assertThrows(() => broadcastShapes(a, b));
      const fmt = (s: readonly number[]) => `[${s.join(",")}]`;
      assert(
        error.message.includes(fmt(a)) && error.message.includes(fmt(b)),
        `message should name both shapes: ${error.message}`,
      );
    } else {
      assertEquals(broadcastShapes(a, b), want);
      assertEquals(broadcastShapes(b, a), want);
    }
  }, { numRuns: 500 });
});

Deno.test("np.add broadcasts values as NumPy does (and throws naming both shapes)", () => {
  property(fc.record({ pair: pairArb, seed: seedArb }), ({ pair: [sa, sb], seed }) => {
    const rng = rngFrom(seed);
    const da = uniformValues(rng, sizeOfShape(sa), -5, 5),
      db = uniformValues(rng, sizeOfShape(sb), -5, 5);
    const a = upload({ shape: sa, dtype: "float32", data: da });
    const b = upload({ shape: sb, dtype: "float32", data: db });
    const want = numpyBroadcast(sa, sb);
    if (want === null) {
      const error = assertThrows(() => np.add(a, b));
      assert(error.message.includes(`[${sa}]`) && error.message.includes(`[${sb}]`), error.message);
      return;
    }
    const out = np.add(a, b);
    assertEquals([...out.shape], want);
    const got = read(out);
    const sA = stridesOfShape(sa), sB = stridesOfShape(sb), sOut = stridesOfShape(want);
    for (let flat = 0; flat < got.length; flat++) {
      let ia = 0, ib = 0;
      want.forEach((_, d) => {
        const i = Math.floor(flat / sOut[d]!) % want[d]!;
        const offA = d - (want.length - sa.length), offB = d - (want.length - sb.length);
        if (offA >= 0 && sa[offA] !== 1) ia += i * sA[offA]!;
        if (offB >= 0 && sb[offB] !== 1) ib += i * sB[offB]!;
      });
      assertEquals(got[flat], Math.fround(da[ia]! + db[ib]!));
    }
  }, { numRuns: 150 });
});

/** The reduced shape NumPy gives for `axis` (undefined: all) and keepdims. */
function reducedShape(
  shape: readonly number[],
  axis: number | number[] | undefined,
  keepdims: boolean,
): number[] {
  const axes = axis === undefined
    ? shape.map((_, i) => i)
    : (typeof axis === "number" ? [axis] : axis).map((a) => (a < 0 ? a + shape.length : a));
  return keepdims
    ? shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : shape.filter((_, i) => !axes.includes(i));
}

const reductionArb = fc.record({
  shape: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }),
  pick: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  form: fc.constantFrom("all", "one", "list", "negative"),
  keepdims: fc.boolean(),
  seed: seedArb,
});

Deno.test("reductions follow NumPy's axis and keepdims shapes; sum matches a host loop", () => {
  property(reductionArb, ({ shape, pick, form, keepdims, seed }) => {
    const rank = shape.length;
    const chosen = shape.map((_, i) => i).filter((i) => pick[i]);
    const axis = form === "all"
      ? undefined
      : form === "one"
      ? (chosen[0] ?? 0)
      : form === "negative"
      ? (chosen[0] ?? 0) - rank
      : chosen;
    const data = uniformValues(rngFrom(seed), sizeOfShape(shape), -3, 3);
    const x = upload({ shape, dtype: "float32", data });
    const want = reducedShape(shape, axis, keepdims);
    for (const f of [np.sum, np.mean, np.max, np.min, np.logsumexp, np.variance]) {
      assertEquals([...f(x, axis, { keepdims }).shape], want, `${f.name} axis ${axis}`);
    }
    // Values of sum against a host loop.
    const axes = new Set(
      axis === undefined
        ? shape.map((_, i) => i)
        : (typeof axis === "number" ? [axis] : axis).map((a) => (a < 0 ? a + rank : a)),
    );
    const outShape = shape.filter((_, i) => !axes.has(i));
    const acc = new Array<number>(sizeOfShape(outShape)).fill(0);
    const strides = stridesOfShape(shape), outStrides = stridesOfShape(outShape);
    data.forEach((v, flat) => {
      let o = 0, k = 0;
      shape.forEach((d, i) => {
        const idx = Math.floor(flat / strides[i]!) % d;
        if (!axes.has(i)) o += idx * outStrides[k++]!;
      });
      acc[o]! += v;
    });
    assertClose(read(np.sum(x, axis)), acc.map(Math.fround), { rtol: 1e-6, atol: 1e-6 });
  }, { numRuns: 100 });
});

Deno.test("argmax/argmin follow NumPy's shapes, flattened when axis is omitted", () => {
  const x = np.array([[1, 5, 2], [7, 0, 7]]);
  assertEquals(read(np.argmax(x)), [3]);
  assertEquals([...np.argmax(x).shape], []);
  assertEquals([...np.argmax(x, undefined, { keepdims: true }).shape], [1, 1]);
  assertEquals(read(np.argmax(x, 1)), [1, 0]);
  assertEquals([...np.argmax(x, -1, { keepdims: true }).shape], [2, 1]);
  assertEquals(read(np.argmin(x, 0)), [0, 1, 0]);
  assertEquals(np.argmax(x).dtype, "int32");
});

Deno.test("promoteTypes follows the JAX lattice: bool < ints < floats", () => {
  const table: Record<DType, Record<DType, DType>> = {
    bool: {
      bool: "bool",
      uint32: "uint32",
      int32: "int32",
      float16: "float16",
      bfloat16: "bfloat16",
      float32: "float32",
    },
    uint32: {
      bool: "uint32",
      uint32: "uint32",
      int32: "int32",
      float16: "float16",
      bfloat16: "bfloat16",
      float32: "float32",
    },
    int32: {
      bool: "int32",
      uint32: "int32",
      int32: "int32",
      float16: "float16",
      bfloat16: "bfloat16",
      float32: "float32",
    },
    float16: {
      bool: "float16",
      uint32: "float16",
      int32: "float16",
      float16: "float16",
      bfloat16: "float32",
      float32: "float32",
    },
    bfloat16: {
      bool: "bfloat16",
      uint32: "bfloat16",
      int32: "bfloat16",
      float16: "float32",
      bfloat16: "bfloat16",
      float32: "float32",
    },
    float32: {
      bool: "float32",
      uint32: "float32",
      int32: "float32",
      float16: "float32",
      bfloat16: "float32",
      float32: "float32",
    },
  };
  for (const a of Object.keys(table) as DType[]) {
    for (const b of Object.keys(table) as DType[]) {
      assertEquals(promoteTypes(a, b), table[a][b], `${a} with ${b}`);
      const x = np.zeros([1], { dtype: a }), y = np.zeros([1], { dtype: b });
      assertEquals(resultType(x, y), table[a][b]);
    }
  }
});

Deno.test("weak scalars take the array's dtype unless they cannot represent the value", () => {
  const i = np.array([1, 2], { dtype: "int32" });
  const h = np.array([1, 2], { dtype: "float16" });
  const u = np.array([1, 2], { dtype: "uint32" });
  const b = np.array([true, false]);
  assertEquals(np.add(i, 2).dtype, "int32");
  assertEquals(np.add(i, 2.5).dtype, "float32");
  assertEquals(read(np.add(i, 2.5)), [3.5, 4.5]);
  assertEquals(np.multiply(h, 3).dtype, "float16");
  assertEquals(np.multiply(h, 0.1).dtype, "float16");
  assertEquals(np.add(u, 1).dtype, "uint32");
  assertEquals(np.add(b, 1).dtype, "int32");
  assertEquals(np.multiply(b, 1.5).dtype, "float32");
  assertEquals(np.where(b, i, 0.5).dtype, "float32");
  assertEquals(np.add(2, 3).dtype, "float32"); // numbers alone are float32 in Droplet
  assertEquals(np.divide(i, i).dtype, "float32");
  assertEquals(np.power(i, i).dtype, "int32");
  assertEquals(read(np.power(i, 3)), [1, 8]);
  assertEquals(np.mean(i).dtype, "float32");
  assertEquals(np.sum(b).dtype, "int32");
  assertEquals(np.exp(i).dtype, "float32");
  assertEquals(np.equal(h, 1).dtype, "bool");
});

Deno.test("astype converts with NumPy semantics (integers wrap, floats truncate)", () => {
  assertEquals(read(np.astype(np.array([-1, 7], { dtype: "int32" }), "uint32")), [4294967295, 7]);
  assertEquals(read(np.astype(np.array([4294967295], { dtype: "uint32" }), "int32")), [-1]);
  assertEquals(read(np.astype(np.array([-2.7, 2.7]), "int32")), [-2, 2]);
  assertEquals(read(np.astype(np.array([0, 0.5]), "bool")), [0, 1]);
  assertEquals(read(np.astype(np.array([1 / 3]), "float16")), [0.333251953125]);
});

Deno.test("matmul of [2,3] with [4,5] throws naming both shapes and inner sizes", () => {
  const error = assertThrows(() => np.matmul(np.ones([2, 3]), np.ones([4, 5])));
  for (const part of ["[2,3]", "[4,5]", "3", "4"]) {
    assert(error.message.includes(part), `"${error.message}" lacks ${part}`);
  }
  assertEquals(
    error.message,
    "matmul: cannot contract [2,3] with [4,5]: inner sizes 3 and 4 differ",
  );
});

Deno.test("shape errors name the offending shapes", () => {
  const msg = (fn: () => unknown) => assertThrows(fn).message;
  assert(msg(() => np.reshape(np.ones([2, 3]), [4])).includes("[2,3]"));
  assert(msg(() => np.broadcastTo(np.ones([3]), [2, 4])).includes("[3]"));
  assert(msg(() => np.concatenate([np.ones([2, 3]), np.ones([2, 4])], 0)).includes("[2,4]"));
  assert(msg(() => np.sum(np.ones([2]), 3)).includes("3"));
  assert(msg(() => np.squeeze(np.ones([2, 3]), 0)).includes("size 2"));
});

Deno.test("matmul, einsum and outer agree with host loops (batched, broadcast, vectors)", () => {
  property(seedArb, (seed) => {
    const rng = rngFrom(seed);
    const [m, k, n] = [
      1 + Math.floor(rng() * 3),
      1 + Math.floor(rng() * 3),
      1 + Math.floor(rng() * 3),
    ];
    const batch = 1 + Math.floor(rng() * 2);
    const da = uniformValues(rng, batch * m * k, -2, 2), db = uniformValues(rng, k * n, -2, 2);
    const a = upload({ shape: [batch, m, k], dtype: "float32", data: da });
    const b = upload({ shape: [k, n], dtype: "float32", data: db });
    const want: number[] = [];
    for (let bi = 0; bi < batch; bi++) {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let t = 0; t < k; t++) s += da[bi * m * k + i * k + t]! * db[t * n + j]!;
          want.push(Math.fround(s));
        }
      }
    }
    assertEquals(read(np.matmul(a, b)), want);
    assertClose(read(np.einsum("bij,jk->bik", a, b)), want, { rtol: 1e-6, atol: 1e-6 });
    const v = np.index(b, [null, 0]); // [k]
    assertEquals([...np.matmul(a, v).shape], [batch, m]);
    assertEquals([...np.outer(v, v).shape], [k, k]);
  }, { numRuns: 30 });
});

Deno.test("movement ops: slices with steps, pad, flip, stack/split, take, where", () => {
  const x = np.arange(10, undefined, 1, { dtype: "float32" });
  assertEquals(read(np.sliceAxis(x, 0, 1, 8, 3)), [1, 4, 7]);
  assertEquals(read(np.sliceAxis(x, 0, null, null, -3)), [9, 6, 3, 0]);
  assertEquals(read(np.sliceAxis(x, 0, -2, 2, -2)), [8, 6, 4]);
  assertEquals(read(np.sliceAxis(x, 0, 5, 2, 1)), []);
  const m = np.reshape(np.arange(6, undefined, 1, { dtype: "float32" }), [2, 3]);
  assertEquals(read(np.index(m, [-1, { start: 0, step: 2 }])), [3, 5]);
  assertEquals(read(np.pad(m, [[0, 1], [1, 0]], { constantValue: -1 })), [
    -1,
    0,
    1,
    2,
    -1,
    3,
    4,
    5,
    -1,
    -1,
    -1,
    -1,
  ]);
  assertEquals(read(np.pad(np.array([1, 2]), 2, { mode: "edge" })), [1, 1, 1, 2, 2, 2]);
  assertEquals(read(np.flip(m, 1)), [2, 1, 0, 5, 4, 3]);
  const [p, q] = np.split(np.stack([m, m], 0), 2, 0) as [NDArray, NDArray];
  assertEquals([...p.shape], [1, 2, 3]);
  assertEquals(read(q), read(m));
  assertEquals(read(np.take(m, np.array([-1, 0], { dtype: "int32" }), 1)), [2, 0, 5, 3]);
  assertEquals(read(np.takeAlongAxis(m, np.array([[2], [0]], { dtype: "int32" }), 1)), [2, 3]);
  assertEquals(read(np.where(np.greater(m, 2), m, np.array([10, 20, 30]))), [10, 20, 30, 3, 4, 5]);
  assertEquals(read(np.tile(np.array([1, 2]), [2])), [1, 2, 1, 2]);
  assertEquals(read(np.repeat(np.array([1, 2]), 2)), [1, 1, 2, 2]);
  assertEquals(read(np.moveaxis(np.zeros([2, 3, 4]), 0, -1)).length, 24);
  assertEquals([...np.moveaxis(np.zeros([2, 3, 4]), 0, -1).shape], [3, 4, 2]);
});

/** Naive einsum on the host: loop over every assignment of every label. */
function hostEinsum(
  inputs: readonly string[][],
  output: readonly string[],
  sizes: ReadonlyMap<string, number>,
  operands: readonly { shape: number[]; data: number[] }[],
): number[] {
  const labels = [...sizes.keys()];
  const out = new Array<number>(output.reduce((n, l) => n * sizes.get(l)!, 1)).fill(0);
  const total = labels.reduce((n, l) => n * sizes.get(l)!, 1);
  for (let flat = 0; flat < total; flat++) {
    const at = new Map<string, number>();
    let rest = flat;
    for (let i = labels.length - 1; i >= 0; i--) {
      const n = sizes.get(labels[i]!)!;
      at.set(labels[i]!, rest % n);
      rest = Math.floor(rest / n);
    }
    let product = 1;
    inputs.forEach((ls, k) => {
      const { shape, data } = operands[k]!;
      let idx = 0;
      ls.forEach((l, ax) => (idx = idx * shape[ax]! + (shape[ax] === 1 ? 0 : at.get(l)!)));
      product *= data[idx]!;
    });
    let o = 0;
    for (const l of output) o = o * sizes.get(l)! + at.get(l)!;
    out[o]! += product;
  }
  return out;
}

Deno.test("einsum matches a naive host einsum on random subscripts", () => {
  property(seedArb, (seed) => {
    const rng = rngFrom(seed);
    const pool = ["a", "b", "c", "d"];
    const sizes = new Map(pool.map((l) => [l, 1 + Math.floor(rng() * 3)]));
    const count = 1 + Math.floor(rng() * 3);
    const inputs = Array.from({ length: count }, () => {
      const chosen = pool.filter(() => rng() < 0.5);
      return chosen.sort(() => rng() - 0.5);
    });
    const used = [...new Set(inputs.flat())];
    const explicit = rng() < 0.6;
    const output = explicit
      ? used.filter(() => rng() < 0.5).sort(() => rng() - 0.5)
      : used.filter((l) => inputs.flat().filter((x) => x === l).length === 1).sort();
    const spec = inputs.map((ls) => ls.join("")).join(",") +
      (explicit ? `->${output.join("")}` : "");
    const operands = inputs.map((ls) => {
      // Now and then a size-1 axis that broadcasts against the label's size.
      const shape = ls.map((l) => (rng() < 0.15 ? 1 : sizes.get(l)!));
      return { shape, data: uniformValues(rng, sizeOfShape(shape), -2, 2) };
    });
    // A label's size is the largest of its axes (size-1 axes broadcast), as in NumPy.
    const usedSizes = new Map(used.map((l) => [
      l,
      Math.max(
        ...inputs.flatMap((ls, k) => (ls.includes(l) ? [operands[k]!.shape[ls.indexOf(l)]!] : [])),
      ),
    ]));
    const want = hostEinsum(inputs, output, usedSizes, operands);
    const got = np.einsum(spec, ...operands.map((o) => upload({ ...o, dtype: "float32" })));
    assertEquals([...got.shape], output.map((l) => usedSizes.get(l)!), spec);
    assertClose(read(got), want, { rtol: 1e-5, atol: 1e-5, message: spec });
  }, { numRuns: 150 });
});

Deno.test("einsum handles ellipses and rejects mismatched subscripts", () => {
  const rng = rngFrom(2);
  const a = upload({ shape: [2, 3, 4], dtype: "float32", data: uniformValues(rng, 24, -1, 1) });
  const b = upload({ shape: [4, 5], dtype: "float32", data: uniformValues(rng, 20, -1, 1) });
  assertClose(read(np.einsum("...ij,jk->...ik", a, b)), read(np.matmul(a, b)), { rtol: 1e-6 });
  assertClose(read(np.einsum("...j,jk", a, b)), read(np.matmul(a, b)), { rtol: 1e-6 });
  assertThrows(() => np.einsum("ij,jk", a, b), Error, "operand 0");
  assertThrows(() => np.einsum("ii", np.ones([2, 2])), Error, "repeated label");
});

Deno.test("np.power of integers is exact and wraps on overflow, as NumPy", () => {
  property(
    fc.array(fc.tuple(fc.integer({ min: -20, max: 20 }), fc.integer({ min: 0, max: 40 })), {
      minLength: 1,
      maxLength: 8,
    }),
    (pairs) => {
      const a = np.array(pairs.map(([x]) => x), { dtype: "int32" });
      const b = np.array(pairs.map(([, y]) => y), { dtype: "int32" });
      const want = pairs.map(([x, y]) => Number(BigInt.asIntN(32, BigInt(x) ** BigInt(y))));
      assertEquals(read(np.power(a, b)), want);
    },
    { numRuns: 100 },
  );
  assertEquals(read(np.power(np.array([3], { dtype: "uint32" }), 21)), [1870418611]);
  assertEquals(read(np.power(np.array([2, -1, 1], { dtype: "int32" }), -1)), [0, -1, 1]);
});

/** The indices Python's `range(*slice(start, stop, step).indices(n))` visits. */
function pythonSlice(n: number, start: number | null, stop: number | null, step: number): number[] {
  const [lower, upper] = step > 0 ? [0, n] : [-1, n - 1];
  const norm = (v: number | null, dflt: number) => {
    if (v === null) return dflt;
    const w = v < 0 ? v + n : v;
    return w < lower ? lower : w > upper ? upper : w;
  };
  const s = norm(start, step > 0 ? lower : upper), e = norm(stop, step > 0 ? upper : lower);
  const out: number[] = [];
  for (let i = s; step > 0 ? i < e : i > e; i += step) out.push(i);
  return out;
}

Deno.test("np.sliceAxis follows Python slice semantics (negative, omitted, out-of-range bounds)", () => {
  const bound = fc.option(fc.integer({ min: -9, max: 9 }), { nil: null });
  property(
    fc.record({
      n: fc.integer({ min: 0, max: 6 }),
      start: bound,
      stop: bound,
      step: fc.integer({ min: -3, max: 3 }).filter((s) => s !== 0),
    }),
    ({ n, start, stop, step }) => {
      const x = np.arange(n, undefined, 1, { dtype: "int32" });
      assertEquals(read(np.sliceAxis(x, 0, start, stop, step)), pythonSlice(n, start, stop, step));
    },
    { numRuns: 400 },
  );
});

Deno.test("gradients of np composites match finite differences", () => {
  const idx = np.array([[2, 0], [1, 1]], { dtype: "int32" });
  const fns: [string, (x: NDArray) => NDArray][] = [
    ["takeAlongAxis", (x) => np.takeAlongAxis(x, idx, 1)],
    ["prod", (x) => np.prod(x, 1)],
    ["std", (x) => np.std(x, 0)],
    ["einsum", (x) => np.einsum("ij,kj->ik", x, np.multiply(x, x))],
    ["tile", (x) => np.tile(x, [2, 1])],
    ["repeat", (x) => np.repeat(x, 2, 1)],
    ["edge pad", (x) => np.pad(x, [[1, 0], [0, 2]], { mode: "edge" })],
    ["split/stack", (x) => np.stack(np.split(x, [1], 1).map((p) => np.sum(p, 1)), -1)],
    ["index", (x) => np.index(x, [-1, { start: 2, stop: 0, step: -2 }])],
    ["moveaxis/swapaxes", (x) => np.swapaxes(np.moveaxis(np.reshape(x, [2, 1, 3]), 0, -1), 0, 1)],
    ["log1p/expm1", (x) => np.add(np.log1p(np.square(x)), np.expm1(x))],
    ["tan", (x) => np.tan(np.multiply(x, 0.5))],
  ];
  property(seedArb, (seed) => {
    const rng = rngFrom(seed);
    const data = uniformValues(rng, 6, 0.5, 1.5).map((v, i) => (i % 2 ? v : -v));
    for (const [name, f] of fns) {
      checkVjpMatchesFiniteDifferences(f, [{ shape: [2, 3], dtype: "float32", data }], [0], {
        rng,
        label: name,
      });
    }
  }, { numRuns: 15 });
});

Deno.test("np.add and np.multiply on bools are logical or and and, as NumPy", () => {
  device.use("reference");
  const a = np.array([true, true, false, false]), b = np.array([true, false, true, false]);
  assertEquals(Array.from(np.add(a, b).dataSync()), [1, 1, 1, 0]);
  assertEquals(Array.from(np.multiply(a, b).dataSync()), [1, 0, 0, 0]);
  assertEquals(np.add(a, b).dtype, "bool");
});
