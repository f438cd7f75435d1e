/**
 * Composite functions (activations, softmax, normalizations, unfused attention): values
 * against float64 host formulas, gradients against finite differences, numerical stability at
 * extreme inputs, and the unfused attention against the fused primitive.
 */
import { device, functions, grad, lax, type NDArray, np } from "../../autograd/mod.ts";
import { assert, assertClose, assertEquals } from "../_assert.ts";
import { property, randInt, randShape, rngFrom, seedArb, uniformValues } from "../_arbitraries.ts";
import { checkVjpMatchesFiniteDifferences } from "../_fd.ts";
import { read, sizeOfShape, upload } from "../_host.ts";
import { erf } from "../../kernels/reference/scalar_math.ts";

device.use("reference");

const vec = (data: number[]) => upload({ shape: [data.length], dtype: "float32", data });

const gelu = {
  tanh: (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  erf: (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
};

Deno.test("activations match their float64 formulas", () => {
  const xs = [-6, -2.5, -1, -0.1, 0, 0.3, 1, 2.5, 6];
  const x = vec(xs);
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const checks: [string, NDArray, (v: number) => number][] = [
    ["gelu tanh", functions.gelu(x), gelu.tanh],
    ["gelu erf", functions.gelu(x, { approximate: "erf" }), gelu.erf],
    ["silu", functions.silu(x), (v) => v * sig(v)],
    ["relu", functions.relu(x), (v) => Math.max(v, 0)],
    ["softplus", functions.softplus(x), (v) => Math.log1p(Math.exp(v))],
  ];
  for (const [name, got, f] of checks) {
    assertClose(read(got), xs.map(f), { rtol: 1e-5, atol: 1e-6, message: name });
  }
});

Deno.test("softmax, logSoftmax and logsumexp are stable at extreme inputs", () => {
  const x = vec([1000, 999, -1000]);
  assertClose(read(functions.softmax(x)), [0.7310586, 0.2689414, 0], { rtol: 1e-5, atol: 1e-7 });
  assertClose(read(functions.logSoftmax(x)), [-0.3132617, -1.3132617, -2000.3132617], {
    rtol: 1e-5,
  });
  assertClose(read(np.logsumexp(x)), [1000.3132617], { rtol: 1e-6 });
  const masked = vec([-Infinity, 0, -Infinity]);
  assertClose(read(functions.softmax(masked)), [0, 1, 0]);
  assert(read(np.logsumexp(vec([-Infinity, -Infinity]))).every((v) => v === -Infinity));
  assertClose(read(functions.softplus(vec([100, -100]))), [100, Math.exp(-100)], { rtol: 1e-6 });
  assertClose(read(functions.silu(vec([-100]))), [-100 * Math.exp(-100)], { rtol: 1e-5 });
});

/** Host softmax along the last axis. */
function hostSoftmaxRows(data: number[], cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < data.length / cols; r++) {
    const row = data.slice(r * cols, (r + 1) * cols);
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b);
    out.push(...e.map((v) => v / s));
  }
  return out;
}

Deno.test("softmax and normalizations match host formulas on random shapes", () => {
  property(seedArb, (seed) => {
    const rng = rngFrom(seed);
    const shape = [...randShape(rng, { minRank: 1, maxRank: 2 }), randInt(rng, 2, 5)];
    const cols = shape[shape.length - 1]!;
    const data = uniformValues(rng, sizeOfShape(shape), -3, 3);
    const x = upload({ shape, dtype: "float32", data });
    assertClose(read(functions.softmax(x, -1)), hostSoftmaxRows(data, cols), {
      rtol: 1e-5,
      atol: 1e-7,
    });
    const rows = data.length / cols;
    const ln: number[] = [], rms: number[] = [];
    const w = uniformValues(rng, cols, 0.5, 1.5), b = uniformValues(rng, cols, -1, 1);
    for (let r = 0; r < rows; r++) {
      const row = data.slice(r * cols, (r + 1) * cols);
      const mean = row.reduce((s, v) => s + v, 0) / cols;
      const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / cols;
      ln.push(...row.map((v, j) => ((v - mean) / Math.sqrt(variance + 1e-5)) * w[j]! + b[j]!));
      const ms = row.reduce((s, v) => s + v * v, 0) / cols;
      rms.push(...row.map((v, j) => (v / Math.sqrt(ms + 1e-6)) * w[j]!));
    }
    const layer = functions.layerNorm(x, { weight: vec(w), bias: vec(b) });
    assertClose(read(layer), ln, { rtol: 1e-4, atol: 1e-5, message: "layerNorm" });
    assertClose(read(functions.rmsNorm(x, { weight: vec(w) })), rms, { rtol: 1e-4, atol: 1e-5 });
  }, { numRuns: 30 });
});

Deno.test("groupNorm normalizes each group over its channels and positions", () => {
  const rng = rngFrom(5);
  const [n, c, t] = [2, 4, 3];
  const data = uniformValues(rng, n * c * t, -2, 2);
  const x = upload({ shape: [n, c, t], dtype: "float32", data });
  const out = read(functions.groupNorm(x, 2, { eps: 1e-6 }));
  const want: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let g = 0; g < 2; g++) {
      const part = data.slice(i * c * t + g * 2 * t, i * c * t + (g + 1) * 2 * t);
      const mean = part.reduce((s, v) => s + v, 0) / part.length;
      const variance = part.reduce((s, v) => s + (v - mean) ** 2, 0) / part.length;
      want.push(...part.map((v) => (v - mean) / Math.sqrt(variance + 1e-6)));
    }
  }
  assertClose(out, want, { rtol: 1e-4, atol: 1e-5 });
});

Deno.test("gradients of the composite functions match finite differences", () => {
  const fns: [string, (x: NDArray) => NDArray][] = [
    ["softmax", (x) => functions.softmax(x, -1)],
    ["logSoftmax", (x) => functions.logSoftmax(x, 0)],
    ["gelu tanh", (x) => functions.gelu(x)],
    ["gelu erf", (x) => functions.gelu(x, { approximate: "erf" })],
    ["silu", functions.silu],
    ["softplus", functions.softplus],
    ["standardize", (x) => functions.standardize(x, -1)],
    ["rmsNorm", (x) => functions.rmsNorm(x)],
    ["groupNorm", (x) => functions.groupNorm(np.reshape(x, [1, 4, -1]), 2)],
    ["logsumexp", (x) => np.logsumexp(x, -1)],
    ["variance", (x) => np.variance(x, 0)],
  ];
  property(seedArb, (seed) => {
    const rng = rngFrom(seed);
    const data = uniformValues(rng, 8, -2, 2);
    for (const [name, f] of fns) {
      checkVjpMatchesFiniteDifferences(f, [{ shape: [2, 4], dtype: "float32", data }], [0], {
        rng,
        label: name,
      });
    }
  }, { numRuns: 15 });
});

Deno.test("unfused dotProductAttention equals fused attention, values and gradients", () => {
  property(seedArb, (seed) => {
    const rng = rngFrom(seed);
    const [b, h, sq, sk, d] = [1, 2, randInt(rng, 1, 4), randInt(rng, 1, 4), randInt(rng, 1, 3)];
    const causal = sq <= sk && rng() < 0.5; // rows with no visible key have no softmax
    const mk = (s: number[]) =>
      upload({ shape: s, dtype: "float32", data: uniformValues(rng, sizeOfShape(s), -1.5, 1.5) });
    const q = mk([b, h, sq, d]), k = mk([b, h, sk, d]), v = mk([b, h, sk, d]);
    const scale = 1 / Math.sqrt(d);
    const fused = lax.attention(q, k, v, { scale, causal })[0];
    const unfused = functions.dotProductAttention(q, k, v, { scale, causal });
    assertClose(read(unfused), read(fused), { rtol: 1e-5, atol: 1e-6 });
  }, { numRuns: 30 });
});

Deno.test("relu has derivative 0 at 0, as jax.nn.relu", () => {
  device.use("reference");
  const g = grad((x: NDArray) => np.sum(functions.relu(x)))(np.array([-1, 0, 2]));
  assertEquals(Array.from(g.dataSync()), [0, 0, 1]);
});
