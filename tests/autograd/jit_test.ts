/**
 * jit: the compiled program computes what f computes (every primitive, values and gradients),
 * traces once per signature (shapes, dtypes, static leaves, tree structure), frees donated
 * inputs, and makeJaxpr prints the traced program.
 */
import {
  device,
  grad,
  jit,
  makeJaxpr,
  type NDArray,
  np,
  scope,
  valueAndGrad,
  vmap,
} from "../../autograd/mod.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { property, rngFrom, seedArb, uniformValues } from "../_arbitraries.ts";
import { arrayLeaves, download, read, upload } from "../_host.ts";
import { allPrimitives, primitiveCases, sampleInputs } from "../_primitive_cases.ts";

device.use("reference");

for (const prim of allPrimitives) {
  Deno.test(`jit(f) equals f for ${prim}`, () => {
    property(seedArb, (seed) => {
      const rng = rngFrom(seed);
      const instance = primitiveCases[prim].make(rng);
      const args = sampleInputs(instance, rng).map(upload);
      const want = arrayLeaves(instance.f(...args)).map(download);
      const got = arrayLeaves(jit(instance.f)(...args)).map(download);
      assertEquals(got, want, `${prim}: ${instance.describe}`);
    }, { numRuns: 10 });
  });
}

function mlp(params: { w1: NDArray; w2: NDArray }, x: NDArray): NDArray {
  return np.matmul(np.tanh(np.matmul(x, params.w1)), params.w2);
}
const loss = (params: { w1: NDArray; w2: NDArray }, x: NDArray) =>
  np.mean(np.square(mlp(params, x)));

function randomParams(seed: number) {
  const rng = rngFrom(seed);
  return {
    params: {
      w1: upload({ shape: [3, 4], dtype: "float32", data: uniformValues(rng, 12, -1, 1) }),
      w2: upload({ shape: [4, 2], dtype: "float32", data: uniformValues(rng, 8, -1, 1) }),
    },
    x: upload({ shape: [5, 3], dtype: "float32", data: uniformValues(rng, 15, -1, 1) }),
  };
}

Deno.test("jit(grad(f)) and grad(jit(f)) equal grad(f)", () => {
  property(seedArb, (seed) => {
    const { params, x } = randomParams(seed);
    const want = grad(loss)(params, x) as { w1: NDArray; w2: NDArray };
    for (const got of [jit(grad(loss))(params, x), grad(jit(loss))(params, x)]) {
      const g = got as { w1: NDArray; w2: NDArray };
      assertEquals(read(g.w1), read(want.w1));
      assertEquals(read(g.w2), read(want.w2));
    }
    const [v1] = jit(valueAndGrad(loss))(params, x);
    assertEquals(read(v1 as NDArray), read(loss(params, x)));
  }, { numRuns: 10 });
});

Deno.test("vmap(jit(f)) equals vmap(f)", () => {
  const { params, x } = randomParams(4);
  const perRow = (row: NDArray) => mlp(params, row);
  assertEquals(read(vmap(jit(perRow))(x)), read(vmap(perRow)(x)));
});

Deno.test("jit traces once per signature: shapes, dtypes, static leaves and tree structure", () => {
  let traces = 0;
  const f = jit((x: NDArray, opts: { scale: number; mode: string }) => {
    traces++;
    return opts.mode === "sin" ? np.multiply(np.sin(x), opts.scale) : np.multiply(x, opts.scale);
  });
  const a = np.ones([3]), b = np.zeros([3]), c = np.ones([4]);
  assertEquals(read(f(a, { scale: 2, mode: "id" })), [2, 2, 2]);
  assertEquals(traces, 1);
  assertEquals(read(f(b, { scale: 2, mode: "id" })), [0, 0, 0]); // same signature: cached
  assertEquals(traces, 1);
  f(c, { scale: 2, mode: "id" }); // new shape
  assertEquals(traces, 2);
  f(a, { scale: 3, mode: "id" }); // new static value
  assertEquals(traces, 3);
  assertEquals(read(f(a, { scale: 3, mode: "sin" })), read(np.multiply(np.sin(a), 3)));
  assertEquals(traces, 4);
  f(np.ones([3], { dtype: "float16" }), { scale: 2, mode: "id" }); // new dtype
  assertEquals(traces, 5);
  f(a, { scale: 2, mode: "id" });
  f(c, { scale: 2, mode: "id" });
  assertEquals(traces, 5); // all cached
  const g = jit((t: NDArray[]) => {
    traces++;
    return np.add(t[0]!, t[t.length - 1]!);
  });
  g([a, a]);
  g([a, a, a]); // new tree structure
  assertEquals(traces, 7);
});

Deno.test("jit keeps static numbers apart: NaN, +-Infinity, -0 and null are different keys", () => {
  let traces = 0;
  const f = jit((x: NDArray, c: number | null) => {
    traces++;
    return c === null ? x : np.add(x, c);
  });
  const x = np.array([1]);
  const values = [Infinity, -Infinity, NaN, null, 0, -0, 2];
  const got = values.map((c) => read(f(x, c))[0]);
  assertEquals(got, [Infinity, -Infinity, NaN, 1, 1, 1, 3]);
  assertEquals(traces, values.length);
  const g = jit((a: NDArray, c: number) => np.divide(a, c));
  assertEquals([read(g(x, 0))[0], read(g(x, -0))[0]], [Infinity, -Infinity]);
});

Deno.test("jit passes static outputs through and captures closed-over arrays as constants", () => {
  const bias = np.array([10, 20]);
  const f = jit((x: NDArray) => ({ y: np.add(x, bias), note: "ok", n: 3 }));
  const out = f(np.array([1, 2]));
  assertEquals(read(out.y), [11, 22]);
  assertEquals(out.note, "ok");
  assertEquals(out.n, 3);
  const traced = makeJaxpr((x: NDArray) => np.add(x, bias))(np.array([1, 2]));
  assertEquals(traced.program.constVars.length, 1);
  assertEquals(traced.constValues[0], bias);
});

Deno.test("jit with donate frees the donated inputs; memory stays flat over steps", () => {
  const step = jit(
    (p: { w: NDArray }, g: NDArray) => ({ w: np.subtract(p.w, np.multiply(g, 0.1)) }),
    { donate: [0] },
  );
  let params = { w: np.ones([4]) };
  const g = np.ones([4]);
  const first = params.w;
  params = step(params, g);
  assert(first.isDisposed, "the donated input must be freed");
  assertThrows(() => first.dataSync(), Error, "was freed");
  assert(!g.isDisposed, "arguments that are not donated stay alive");
  const before = device.memoryStats().liveArrays;
  for (let i = 0; i < 5; i++) params = step(params, g);
  assertEquals(device.memoryStats().liveArrays, before);
  assertClose(read(params.w), [0.4, 0.4, 0.4, 0.4], { rtol: 1e-6 });
});

Deno.test("makeJaxpr prints the traced program", () => {
  const text = makeJaxpr((x: NDArray, y: NDArray) => np.sum(np.multiply(x, y), 0))(
    np.zeros([2, 3]),
    np.zeros([3]),
  ).toString();
  assertEquals(
    text,
    [
      "{ lambda ; a:f32[2,3] b:f32[3]. let",
      "    c:f32[2,3] = broadcast[shape=[2,3] dims=[1]] b",
      "    d:f32[2,3] = mul a c",
      "    e:f32[3] = reduce_sum[axes=[0]] d",
      "  in (e) }",
    ].join("\n"),
  );
  // Literals are traced into the program (omnistaging), so they fuse instead of being captured.
  const withLiteral = makeJaxpr((x: NDArray) => np.tanh(np.add(x, 1)))(np.zeros([3])).toString();
  assert(withLiteral.startsWith("{ lambda ; a:f32[3]. let"), withLiteral);
  assert(withLiteral.includes('b:f32[] = full[shape=[] value=1 dtype="float32"]'), withLiteral);
  assert(withLiteral.includes("e:f32[3] = tanh d"), withLiteral);
  // Arrays captured by closure become constants of the program.
  const captured = np.ones([3]);
  const withConst = makeJaxpr((x: NDArray) => np.multiply(x, captured))(np.zeros([3])).toString();
  assert(withConst.startsWith("{ lambda a:f32[3] ; b:f32[3]. let"), withConst);
  assert(withConst.includes("c:f32[3] = mul b a"), withConst);
});

Deno.test("jit rejects functions as arguments; inside scope its outputs survive", () => {
  const f = jit((x: NDArray, _g: unknown) => x);
  assertThrows(() => f(np.ones([1]), () => 1), Error, "functions cannot be arguments");
  const h = jit((x: NDArray) => np.exp(x));
  const kept = scope(() => h(np.zeros([2])));
  assertEquals(read(kept), [1, 1]);
});

Deno.test("jit refuses static leaves it cannot key (Map, Set, class instances)", () => {
  const f = jit((x: NDArray, _options: unknown) => x);
  assertThrows(() => f(np.ones([1]), new Map([["a", 1]])), Error, "static argument of type Map");
});
