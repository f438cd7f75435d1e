import { device, np, random } from "../../../autograd/mod.ts";
import { dropout, gelu, silu } from "../../../models/nn/activations.ts";
import { timestepEmbedding, timestepFrequencies } from "../../../models/nn/timestep.ts";
import { assertClose, assertEquals, assertThrows } from "../../_assert.ts";
import { checkGradients, host, randn, weightedSum } from "../_check.ts";

device.use("reference");

/** erf by its Maclaurin series (|x| <= 3 here; converges to double precision). */
function erf(x: number): number {
  let term = x, sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

Deno.test("gelu (tanh and erf) and silu match their formulas and finite differences", () => {
  const x = randn(1, [20], 1.5);
  const xs = host(x);
  const tanhRef = xs.map((v) =>
    0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))
  );
  assertClose(host(gelu(x)), tanhRef, { rtol: 1e-5, atol: 1e-6 });
  assertClose(
    host(gelu(x, { approximate: "erf" })),
    xs.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))),
    {
      rtol: 1e-5,
      atol: 1e-6,
    },
  );
  assertClose(host(silu(x)), xs.map((v) => v / (1 + Math.exp(-v))), { rtol: 1e-5, atol: 1e-6 });
  checkGradients((x) => weightedSum(gelu(x!), 1), [x]);
  checkGradients((x) => weightedSum(gelu(x!, { approximate: "erf" }), 2), [x]);
  checkGradients((x) => weightedSum(silu(x!), 3), [x]);
});

Deno.test("dropout keeps about 1 - rate, scales kept values, and is a function of its key", () => {
  const x = np.ones([4000]);
  const key = random.key(7);
  const y = host(dropout(x, 0.25, key));
  const kept = y.filter((v) => v !== 0);
  assertEquals(kept.every((v) => Math.abs(v - 1 / 0.75) < 1e-6), true);
  assertEquals(Math.abs(kept.length / 4000 - 0.75) < 0.03, true);
  assertEquals(host(dropout(x, 0.25, key)), y);
  assertEquals(host(dropout(x, 0.25, random.key(8))).some((v, i) => v !== y[i]), true);
  assertEquals(dropout(x, 0.5, key, { deterministic: true }), x);
  assertThrows(() => dropout(x, 1, key), Error, "[0, 1)");
  const small = randn(2, [6]);
  checkGradients((s) => weightedSum(dropout(s!, 0.5, key), 4), [small]);
});

Deno.test("timestepEmbedding is [cos | sin] of t * exp(-ln(1e4) i / half) by default", () => {
  const t = np.array([0, 1, 999]);
  const y = timestepEmbedding(t, 8);
  assertEquals(y.shape, [3, 8]);
  const freqs = [1, 0.1, 0.01, 0.001];
  const expected = [0, 1, 999].flatMap((
    v,
  ) => [...freqs.map((f) => Math.cos(v * f)), ...freqs.map((f) => Math.sin(v * f))]);
  assertClose(host(y), expected, { rtol: 1e-5, atol: 2e-5 });
  // diffusers' defaults: [sin | cos], shift 1 (frequencies exp(-ln(1e4) i / 3)).
  const d = timestepEmbedding(np.array([2]), 8, { flipSinToCos: false, shift: 1 });
  const f2 = [0, 1, 2, 3].map((i) => Math.exp((-Math.log(10000) * i) / 3));
  assertClose(host(d), [...f2.map((f) => Math.sin(2 * f)), ...f2.map((f) => Math.cos(2 * f))], {
    rtol: 1e-5,
    atol: 1e-6,
  });
  assertEquals(timestepEmbedding(np.array([1]), 7).shape, [1, 7]);
  assertEquals(host(timestepEmbedding(np.array([1]), 7))[6], 0);
  assertEquals(timestepFrequencies(3072).length, 1536);
  assertThrows(() => timestepEmbedding(np.array([[1]]), 8), Error, "[N]");
});
