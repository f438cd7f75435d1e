import fc from "fast-check";
import { device, np, random } from "../../../autograd/mod.ts";
import { Embedding, embedding, Linear, linear } from "../../../models/nn/linear.ts";
import { assertClose, assertEquals, assertThrows } from "../../_assert.ts";
import { checkGradients, host, randn, weightedSum } from "../_check.ts";

device.use("reference");

Deno.test("linear matches x W^T + b computed on the host for random shapes", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1e6 }),
      fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 5 }),
      (seed, lead, inF, outF) => {
        const x = randn(seed, [...lead, inF]);
        const w = randn(seed + 1, [outF, inF]);
        const b = randn(seed + 2, [outF]);
        const y = linear(x, w, b);
        assertEquals(y.shape, [...lead, outF]);
        const [xs, ws, bs] = [host(x), host(w), host(b)];
        const rows = xs.length / inF;
        const expected: number[] = [];
        for (let r = 0; r < rows; r++) {
          for (let o = 0; o < outF; o++) {
            let acc = bs[o]!;
            for (let i = 0; i < inF; i++) acc += xs[r * inF + i]! * ws[o * inF + i]!;
            expected.push(acc);
          }
        }
        assertClose(host(y), expected, { rtol: 1e-5, atol: 1e-5 });
      },
    ),
    { numRuns: 15 },
  );
});

Deno.test("linear gradients match finite differences", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), (seed) => {
      const x = randn(seed, [2, 3, 4]), w = randn(seed + 1, [5, 4]), b = randn(seed + 2, [5]);
      checkGradients((x, w, b) => weightedSum(linear(x!, w!, b!), seed), [x, w, b], { seed });
    }),
    { numRuns: 4 },
  );
});

Deno.test("Linear.init draws PyTorch's bound and names params weight and bias", () => {
  const p = Linear.init(random.key(3), { inFeatures: 16, outFeatures: 8 });
  assertEquals(Object.keys(p), ["weight", "bias"]);
  assertEquals(p.weight.shape, [8, 16]);
  const w = host(p.weight);
  const bound = 1 / Math.sqrt(16);
  assertEquals(w.every((v) => Math.abs(v) <= bound), true);
  assertEquals(Math.max(...w.map(Math.abs)) > bound / 2, true);
  const noBias = Linear.init(random.key(3), { inFeatures: 4, outFeatures: 2, bias: false });
  assertEquals(Object.keys(noBias), ["weight"]);
  assertEquals(Linear.apply(noBias, np.ones([3, 4])).shape, [3, 2]);
  const half = Linear.init(random.key(1), { inFeatures: 4, outFeatures: 2, dtype: "float16" });
  assertEquals(half.weight.dtype, "float16");
});

Deno.test("linear rejects mismatched features and dtypes with the shapes in the message", () => {
  assertThrows(() => linear(np.ones([2, 3]), np.ones([4, 5])), Error, "[4,5]");
  assertThrows(
    () => linear(np.ones([2, 5], { dtype: "float16" }), np.ones([4, 5])),
    Error,
    "differ in dtype",
  );
  assertThrows(() => linear(np.ones([2, 5]), np.ones([4, 5]), np.ones([3])), Error, "bias");
});

Deno.test("embedding gathers rows and its gradient scatters back", () => {
  const table = randn(5, [6, 3]);
  const ids = np.array([[1, 4], [4, 0]], { dtype: "int32" });
  const y = embedding(ids, table);
  assertEquals(y.shape, [2, 2, 3]);
  const t = host(table);
  const expected = [1, 4, 4, 0].flatMap((i) => t.slice(i * 3, i * 3 + 3));
  assertEquals(host(y), expected);
  checkGradients((tb) => weightedSum(embedding(ids, tb!), 9), [table]);
  const p = Embedding.init(random.key(0), { numEmbeddings: 10, dim: 4 });
  assertEquals(p.weight.shape, [10, 4]);
  assertThrows(() => embedding(np.array([1.5]), table), Error, "int32");
});
