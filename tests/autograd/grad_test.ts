/**
 * grad / valueAndGrad semantics, derivatives of derivatives (grad of grad, Hessian-vector
 * products in forward-over-reverse and reverse-over-reverse), checkpoint, customVjp, and the
 * errors users meet (non-scalar losses, integer arguments, leaked tracers).
 */
import {
  checkpoint,
  customVjp,
  device,
  grad,
  jit,
  jvp,
  lax,
  type NDArray,
  np,
  valueAndGrad,
  vjp,
  vmap,
} from "../../autograd/mod.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { property, rngFrom, seedArb, uniformValues } from "../_arbitraries.ts";
import { read, recordExecutions, upload } from "../_host.ts";

device.use("reference");

const vec = (data: number[]) => upload({ shape: [data.length], dtype: "float32", data });

/** d/dx of sum(df(x)): for elementwise f, the diagonal of the Hessian (f'' elementwise). */
const secondDerivative = (f: (x: NDArray) => NDArray) =>
  grad((x: NDArray) => np.sum(grad((y: NDArray) => np.sum(f(y)))(x) as NDArray));

Deno.test("grad(grad(f)) equals the analytic second derivative for tanh, exp, sin, cos", () => {
  property(seedArb, (seed) => {
    const xs = uniformValues(rngFrom(seed), 5, -2, 2);
    const x = vec(xs);
    const cases: [string, (x: NDArray) => NDArray, (v: number) => number][] = [
      ["tanh", np.tanh, (v) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2)],
      ["exp", np.exp, Math.exp],
      ["sin", np.sin, (v) => -Math.sin(v)],
      ["cos", np.cos, (v) => -Math.cos(v)],
      ["x^3", (y) => np.multiply(np.multiply(y, y), y), (v) => 6 * v],
      ["sigmoid", np.sigmoid, (v) => {
        const s = 1 / (1 + Math.exp(-v));
        return s * (1 - s) * (1 - 2 * s);
      }],
    ];
    for (const [name, f, d2] of cases) {
      assertClose(read(secondDerivative(f)(x) as NDArray), xs.map(d2), {
        rtol: 1e-5,
        atol: 1e-6,
        message: name,
      });
    }
  }, { numRuns: 20 });
});

Deno.test("third derivative: grad(grad(grad(sin))) = -cos", () => {
  const xs = [-1, 0, 0.5, 2];
  const d3 = grad((x: NDArray) => np.sum(secondDerivative(np.sin)(x) as NDArray))(vec(xs));
  assertClose(read(d3 as NDArray), xs.map((v) => -Math.cos(v)), { rtol: 1e-5, atol: 1e-6 });
});

Deno.test("grad(grad) of products gives the mixed partials of x^2 y", () => {
  property(seedArb, (seed) => {
    const rng = rngFrom(seed);
    const xs = uniformValues(rng, 4, -2, 2), ys = uniformValues(rng, 4, -2, 2);
    const f = (x: NDArray, y: NDArray) => np.sum(np.multiply(np.multiply(x, x), y));
    const gx = (x: NDArray, y: NDArray) => np.sum(grad(f)(x, y) as NDArray); // sum 2xy
    const [dxx, dxy] = grad(gx, { argnums: [0, 1] })(vec(xs), vec(ys)) as NDArray[];
    assertClose(read(dxx!), ys.map((y) => Math.fround(2 * y)), { rtol: 1e-6 });
    assertClose(read(dxy!), xs.map((x) => Math.fround(2 * x)), { rtol: 1e-6 });
  }, { numRuns: 20 });
});

/** A smooth non-quadratic scalar function of a vector, with a matrix inside. */
function makeObjective(seed: number, n: number) {
  const rng = rngFrom(seed);
  const w = upload({ shape: [n, n], dtype: "float32", data: uniformValues(rng, n * n, -1, 1) });
  const c = vec(uniformValues(rng, n, -1, 1));
  return (x: NDArray) =>
    np.add(
      np.sum(np.square(np.tanh(np.matmul(w, x)))),
      np.sum(np.multiply(np.multiply(np.sin(x), np.exp(np.multiply(x, 0.3))), c)),
    );
}

Deno.test("Hessian-vector products: forward-over-reverse and reverse-over-reverse agree with finite differences of gradients", () => {
  property(seedArb, (seed) => {
    const n = 4;
    const rng = rngFrom(seed + 1);
    const f = makeObjective(seed, n);
    const xs = uniformValues(rng, n, -1, 1), vs = uniformValues(rng, n, -1, 1);
    const x = vec(xs), v = vec(vs);
    const g = grad(f) as (x: NDArray) => NDArray;
    const forwardOverReverse = read(jvp(g, [x], [v])[1]);
    const reverseOverReverse = read(
      grad((y: NDArray) => np.sum(np.multiply(g(y), v)))(x) as NDArray,
    );
    const h = 1e-2;
    const plus = read(g(vec(xs.map((xi, i) => xi + h * vs[i]!))));
    const minus = read(g(vec(xs.map((xi, i) => xi - h * vs[i]!))));
    const fd = plus.map((p, i) => (p - minus[i]!) / (2 * h));
    const scale = Math.max(...fd.map(Math.abs), 1e-3);
    assertClose(forwardOverReverse, fd, { rtol: 1e-2, atol: 1e-2 * scale, message: "jvp(grad f)" });
    assertClose(reverseOverReverse, fd, {
      rtol: 1e-2,
      atol: 1e-2 * scale,
      message: "grad(<grad f, v>)",
    });
    assertClose(forwardOverReverse, reverseOverReverse, { rtol: 1e-4, atol: 1e-5 * scale });
  }, { numRuns: 20 });
});

Deno.test("the Hessian-vector product of a quadratic 1/2 x^T A x is A v exactly", () => {
  const a = upload({ shape: [3, 3], dtype: "float32", data: [2, 1, 0, 1, 3, -1, 0, -1, 4] });
  const f = (x: NDArray) => np.multiply(np.sum(np.multiply(x, np.matmul(a, x))), 0.5);
  const v = vec([1, -2, 0.5]);
  const hv = jvp(grad(f) as (x: NDArray) => NDArray, [vec([0.3, 0.1, -0.7])], [v])[1];
  assertEquals(read(hv), [0, -5.5, 4]);
});

Deno.test("valueAndGrad returns the value and gradients for argnums, with aux untraced", () => {
  const f = (x: NDArray, y: NDArray, scale: number) => {
    const loss = np.multiply(np.sum(np.multiply(x, y)), scale);
    return [loss, { doubled: np.multiply(x, 2) }];
  };
  const x = vec([1, 2]), y = vec([3, 4]);
  const [[value, aux], grads] = valueAndGrad(f, { argnums: [0, 1], hasAux: true })(x, y, 10);
  assertEquals(read(value), [110]);
  const doubled = (aux as { doubled: NDArray }).doubled;
  assert(doubled.isConcrete, "aux must be concrete arrays, not tracers");
  assertEquals(read(doubled), [2, 4]);
  assertEquals(read((grads as NDArray[])[0]!), [30, 40]);
  assertEquals(read((grads as NDArray[])[1]!), [10, 20]);
});

Deno.test("grad over pytrees returns gradients of the same structure", () => {
  const params = { w: vec([1, -1]), layers: [{ b: vec([0.5]) }] };
  const g = grad((p: typeof params) =>
    np.sum(np.multiply(np.add(p.w, p.layers[0]!.b), np.add(p.w, p.layers[0]!.b)))
  )(params) as typeof params;
  assertEquals(read(g.w), [3, -1]);
  assertEquals(read(g.layers[0]!.b), [2]);
});

Deno.test("grad of a function that does not use its input is zero", () => {
  const g = grad((_x: NDArray) => np.sum(np.ones([2])))(vec([1, 2, 3])) as NDArray;
  assertEquals(read(g), [0, 0, 0]);
});

function mlpBlock(x: NDArray, w1: NDArray, w2: NDArray): NDArray {
  return np.tanh(np.matmul(np.tanh(np.matmul(x, w1)), w2));
}

Deno.test("checkpoint(f) gives bitwise-identical gradients and recomputes the forward pass", () => {
  property(seedArb, (seed) => {
    const rng = rngFrom(seed);
    const x = upload({ shape: [2, 3], dtype: "float32", data: uniformValues(rng, 6, -1, 1) });
    const w1 = upload({ shape: [3, 4], dtype: "float32", data: uniformValues(rng, 12, -1, 1) });
    const w2 = upload({ shape: [4, 2], dtype: "float32", data: uniformValues(rng, 8, -1, 1) });
    const loss = (block: typeof mlpBlock) => (a: NDArray, b: NDArray, c: NDArray) =>
      np.sum(
        np.square(
          block(
            block(a, b, c),
            upload({ shape: [2, 4], dtype: "float32", data: [1, 0, 0, 1, 0, 1, 1, 0] }),
            b.T,
          ),
        ),
      );
    const argnums = { argnums: [0, 1, 2] } as const;
    const plain = recordExecutions(() => grad(loss(mlpBlock), argnums)(x, w1, w2) as NDArray[]);
    const ckpt = recordExecutions(() =>
      grad(loss(checkpoint(mlpBlock)), argnums)(x, w1, w2) as NDArray[]
    );
    plain.result.forEach((g, i) => assertEquals(read(ckpt.result[i]!), read(g), `gradient ${i}`));
    const tanhs = (e: { prim: string }[]) => e.filter((x) => x.prim === "tanh").length;
    // Forward: 4 tanh. Checkpointed backward recomputes both blocks' 4 tanh.
    assertEquals(tanhs(plain.executions), 4);
    assertEquals(tanhs(ckpt.executions), 8);
  }, { numRuns: 10 });
});

Deno.test("checkpoint composes: second derivatives, pytrees, static arguments, vmap", () => {
  const f = (x: NDArray, opts: { k: number }) => np.multiply(np.sin(np.multiply(x, x)), opts.k);
  const c = checkpoint(f);
  const x = vec([0.3, -0.8, 1.1]);
  const d2 = (g: typeof f) => secondDerivative((y) => g(y, { k: 2 }))(x) as NDArray;
  assertEquals(read(d2(c)), read(d2(f)));
  const pair = checkpoint((p: { a: NDArray; b: NDArray }) => ({
    s: np.add(p.a, p.b),
    p: np.multiply(p.a, p.b),
  }));
  const g = grad((a: NDArray) => {
    const out = pair({ a, b: vec([2, 3, 4]) });
    return np.sum(np.add(out.s, out.p));
  })(x) as NDArray;
  assertClose(read(g), [3, 4, 5], { rtol: 1e-6 });
  const rows = [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]];
  const perExample = vmap(grad((y: NDArray) => np.sum(c(y, { k: 3 }))))(
    upload({ shape: [2, 3], dtype: "float32", data: rows.flat() }),
  ) as NDArray;
  const loop = rows.map((r) =>
    read(grad((y: NDArray) => np.sum(f(y, { k: 3 })))(vec(r)) as NDArray)
  );
  assertClose(read(perExample), loop.flat(), { rtol: 1e-6 });
});

Deno.test("customVjp: grad uses the custom backward rule, jvp differentiates f itself", () => {
  // A gradient-clipping identity: forward x, backward clip(ct, -1, 1).
  const clipGrad = customVjp(
    (x: NDArray) => np.multiply(x, 1),
    (x: NDArray) => [np.multiply(x, 1), null] as [NDArray, null],
    (_res: null, ct: NDArray) => [np.clip(ct, -1, 1)],
  );
  const x = vec([1, 2, 3]);
  const g = grad((a: NDArray) => np.sum(np.multiply(clipGrad(a), vec([5, -0.5, -7]))))(
    x,
  ) as NDArray;
  assertEquals(read(g), [1, -0.5, -1]);
  const [y, t] = jvp(clipGrad, [x], [vec([5, -0.5, -7])]);
  assertEquals(read(y), [1, 2, 3]);
  assertEquals(read(t), [5, -0.5, -7]); // f's own derivative, not the clipped one
  // Residuals flow from fwd to bwd; a null cotangent means no gradient for that argument.
  const scaled = customVjp(
    (a: NDArray, b: NDArray) => np.multiply(a, b),
    (a: NDArray, b: NDArray) => [np.multiply(a, b), b] as [NDArray, NDArray],
    (b: NDArray, ct: NDArray) => [np.multiply(ct, b), null],
  );
  const [ga, gb] = grad((a: NDArray, b: NDArray) => np.sum(scaled(a, b)), { argnums: [0, 1] })(
    x,
    vec([4, 5, 6]),
  ) as NDArray[];
  assertEquals(read(ga!), [4, 5, 6]);
  assertEquals(read(gb!), [0, 0, 0]);
  // vjp sees the custom rule too.
  const [, pullback] = vjp(clipGrad, x);
  assertEquals(read((pullback(vec([10, 0.2, -3])) as NDArray[])[0]!), [1, Math.fround(0.2), -1]);
});

Deno.test("grad of a non-scalar function throws naming the output", () => {
  assertThrows(() => grad((x: NDArray) => np.tanh(x))(vec([1, 2, 3])), Error, "float32[3]");
  assertThrows(() => grad((x: NDArray) => np.tanh(x))(vec([1, 2, 3])), Error, "scalar");
});

Deno.test("grad rejects integer arguments and out-of-range argnums", () => {
  const ints = np.array([1, 2], { dtype: "int32" });
  assertThrows(() => grad((x: NDArray) => np.sum(x))(ints), Error, "int32[2]");
  assertThrows(() => grad((x: NDArray) => np.sum(x), { argnums: 1 })(vec([1])), Error, "argnums");
});

Deno.test("a leaked tracer throws when used after its transformation returned", () => {
  let leaked: NDArray | null = null;
  grad((x: NDArray) => {
    leaked = np.multiply(x, 2);
    return np.sum(x);
  })(vec([1, 2]));
  assertThrows(() => np.add(leaked!, 1), Error, "leaked tracer");
  let fromVmap: NDArray | null = null;
  vmap((x: NDArray) => (fromVmap = np.sin(x)))(vec([1, 2]));
  assertThrows(() => np.exp(fromVmap!), Error, "vmap");
  let fromJvp: NDArray | null = null;
  jvp((x: NDArray) => (fromJvp = np.cos(x)), [vec([1])], [vec([1])]);
  assertThrows(() => np.exp(fromJvp!), Error, "jvp");
  // Reading a tracer's value inside the transformation explains itself.
  assertThrows(
    () => grad((x: NDArray) => np.sum(np.array(x.dataSync())))(vec([1])),
    Error,
    "has no value",
  );
});

Deno.test("stopGradient and lax ops inside grad: d/dx [x * sg(x)^2] = sg(x)^2", () => {
  const g = grad((x: NDArray) => np.sum(np.multiply(x, np.square(lax.stopGradient(x)))))(
    vec([2, -3]),
  ) as NDArray;
  assertEquals(read(g), [4, 9]);
});

Deno.test("transformations handle zero-size arrays (empty axes, empty slices, K = 0)", () => {
  const conv1 = {
    strides: [1],
    padding: [[0, 0] as const],
    lhsDilation: [1],
    rhsDilation: [1],
    groups: 1,
  };
  // [name, f, input shape, expected gradient value of every element (inputs are ones)]
  const cases: [string, (x: NDArray) => NDArray, number[], number][] = [
    ["sum of exp over an empty array", (x) => np.sum(np.exp(x)), [0, 3], 0],
    ["concatenate with an empty piece", (x) => np.sum(np.concatenate([x, np.ones([2, 0])], 1)), [
      2,
      3,
    ], 1],
    ["slice to nothing", (x) => np.sum(np.sliceAxis(x, 1, 2, 2)), [2, 3], 0],
    ["strided slice to nothing", (x) => np.sum(lax.slice(x, [0, 3], [2, 3], [1, 2])), [2, 3], 0],
    ["matmul with K = 0", (x) => np.sum(np.matmul(x, np.ones([0, 4]))), [2, 0], 0],
    ["matmul with M = 0", (x) => np.sum(np.matmul(x, np.ones([3, 4]))), [0, 3], 0],
    ["pad of an empty array", (x) => np.sum(lax.pad(x, [1, 1], [0, 2], [1, 1], 2)), [0, 3], 0],
    ["pad cropping everything", (x) => np.sum(lax.pad(x, [0, -3], [0, 0], [0, 0], 0)), [2, 3], 0],
    ["take with no indices", (x) => np.sum(np.take(x, np.zeros([0], { dtype: "int32" }), 1)), [
      2,
      3,
    ], 0],
    ["reshape of an empty array", (x) => np.sum(np.reshape(x, [3, 0, 1])), [0, 3], 0],
    ["broadcast to an empty axis", (x) => np.sum(np.broadcastTo(x, [2, 0, 3])), [1, 3], 0],
    ["cumsum along an empty axis", (x) => np.sum(np.cumsum(x, 1)), [2, 0], 0],
    [
      "scatter_add of no updates",
      (x) => np.sum(lax.scatterAdd(x, np.zeros([0], { dtype: "int32" }), 1, 3)),
      [2, 0],
      0,
    ],
    [
      "conv with an empty batch",
      (x) => np.sum(lax.conv(x, np.ones([1, 1, 2]), conv1)),
      [0, 1, 3],
      0,
    ],
    ["conv with no output positions", (x) => np.sum(lax.conv(x, np.ones([1, 1, 3]), conv1)), [
      1,
      1,
      2,
    ], 0],
    [
      "attention with no queries",
      (x) =>
        np.sum(
          lax.attention(x, np.ones([1, 1, 2, 2]), np.ones([1, 1, 2, 2]), {
            scale: 1,
            causal: false,
          })[0],
        ),
      [1, 1, 0, 2],
      0,
    ],
  ];
  for (const [name, f, shape, dx] of cases) {
    const x = np.ones(shape);
    const size = shape.reduce((a, b) => a * b, 1);
    assertEquals(read(f(x)).length, 1, name);
    const g = grad(f)(x) as NDArray;
    assertEquals([...g.shape], shape, `${name}: gradient shape`);
    assertEquals(read(g), new Array<number>(size).fill(dx), `${name}: gradient`);
    assertEquals([...jvp(f, [x], [np.ones(shape)])[1].shape], [], `${name}: jvp`);
    assertEquals([...vmap(f)(np.ones([2, ...shape])).shape], [2], `${name}: vmap`);
    assertEquals(read(jit(f)(x)), read(f(x)), `${name}: jit`);
  }
});

Deno.test("mixed precision: gradients come back in each input's dtype", () => {
  const xh = np.array([0.5, -1.25, 2], { dtype: "float16" });
  const w = np.array([1 / 3, 2, -0.1]);
  const [gh, gw] = grad((a: NDArray, b: NDArray) => np.sum(np.multiply(np.tanh(a), b)), {
    argnums: [0, 1],
  })(
    xh,
    w,
  ) as NDArray[];
  assertEquals(gh!.dtype, "float16");
  assertEquals(gw!.dtype, "float32");
  const xs = read(xh), ws = read(w);
  // tanh and its derivative run in float16 (a few roundings of 2^-11), the product in float32.
  const want = xs.map((x, i) => (1 - Math.tanh(x) ** 2) * ws[i]!);
  assertClose(read(gh!), want, { rtol: 4e-3, atol: 1e-4 });
  assertClose(read(gw!), xs.map((x) => Math.tanh(x)), { rtol: 1e-3 }); // tanh in float16
  const gb = grad((a: NDArray) => np.sum(np.square(a)))(
    np.array([1.5, -2], { dtype: "bfloat16" }),
  ) as NDArray;
  assertEquals(gb.dtype, "bfloat16");
  assertEquals(read(gb), [3, -4]);
});
