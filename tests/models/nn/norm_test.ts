import fc from "fast-check";
import { device, np, random } from "../../../autograd/mod.ts";
import {
  GroupNorm,
  groupNorm,
  LayerNorm,
  layerNorm,
  RMSNorm,
  rmsNorm,
} from "../../../models/nn/norm.ts";
import { assertClose, assertEquals, assertThrows } from "../../_assert.ts";
import { checkGradients, host, randn, weightedSum } from "../_check.ts";

device.use("reference");

/** Normalizes each row of `values` (rows of length n) on the host: (x - mean) / sqrt(var + eps). */
function normalizeRows(values: number[], n: number, eps: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < values.length / n; r++) {
    const row = values.slice(r * n, (r + 1) * n);
    const mean = row.reduce((a, b) => a + b, 0) / n;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    out.push(...row.map((v) => (v - mean) / Math.sqrt(variance + eps)));
  }
  return out;
}

Deno.test("layerNorm matches the host formula with affine params", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 2, max: 6 }), (seed, c) => {
      const x = randn(seed, [3, c], 2), w = randn(seed + 1, [c]), b = randn(seed + 2, [c]);
      const y = layerNorm(x, w, b, { eps: 1e-5 });
      const [ws, bs] = [host(w), host(b)];
      const expected = normalizeRows(host(x), c, 1e-5).map((v, i) => v * ws[i % c]! + bs[i % c]!);
      assertClose(host(y), expected, { rtol: 1e-4, atol: 1e-5 });
    }),
    { numRuns: 10 },
  );
});

Deno.test("layerNorm gradients match finite differences", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), (seed) => {
      const x = randn(seed, [2, 5]), w = randn(seed + 1, [5]), b = randn(seed + 2, [5]);
      checkGradients((x, w, b) => weightedSum(layerNorm(x!, w!, b!), seed), [x, w, b], { seed });
    }),
    { numRuns: 3 },
  );
});

Deno.test("groupNorm matches per-group host statistics", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1e6 }),
      fc.constantFrom(1, 2, 4),
      fc.integer({ min: 1, max: 2 }),
      (seed, groups, perGroup) => {
        const c = groups * perGroup;
        const x = randn(seed, [2, c, 3, 2]), w = randn(seed + 1, [c]), b = randn(seed + 2, [c]);
        const y = groupNorm(x, w, b, { groups, eps: 1e-6 });
        // [B, C, 3, 2] rows of one group are contiguous: C/G * 6 values each.
        const n = perGroup * 6;
        const [ws, bs] = [host(w), host(b)];
        const expected = normalizeRows(host(x), n, 1e-6).map((v, i) => {
          const ch = Math.floor(i / 6) % c;
          return v * ws[ch]! + bs[ch]!;
        });
        assertClose(host(y), expected, { rtol: 1e-4, atol: 1e-5 });
      },
    ),
    { numRuns: 8 },
  );
});

Deno.test("groupNorm with chunks equals normalizing each chunk of frames on its own", () => {
  const x = randn(7, [1, 4, 5, 2, 2], 3);
  const w = randn(8, [4]), b = randn(9, [4]);
  const y = groupNorm(x, w, b, { groups: 2, eps: 1e-6, chunks: [1, 4] });
  const first = groupNorm(np.sliceAxis(x, 2, 0, 1), w, b, { groups: 2, eps: 1e-6 });
  const rest = groupNorm(np.sliceAxis(x, 2, 1, 5), w, b, { groups: 2, eps: 1e-6 });
  assertClose(host(y), host(np.concatenate([first, rest], 2)), { rtol: 1e-6, atol: 1e-6 });
  // and differs from whole-clip statistics
  const whole = host(groupNorm(x, w, b, { groups: 2, eps: 1e-6 }));
  assertEquals(host(y).some((v, i) => Math.abs(v - whole[i]!) > 1e-3), true);
  assertThrows(() => groupNorm(x, w, b, { groups: 2, chunks: [2, 2] }), Error, "sum");
});

Deno.test("groupNorm gradients match finite differences, with and without chunks", () => {
  const x = randn(1, [1, 4, 3, 2]), w = randn(2, [4]), b = randn(3, [4]);
  checkGradients((x, w, b) => weightedSum(groupNorm(x!, w!, b!, { groups: 2 }), 1), [x, w, b]);
  checkGradients(
    (x, w, b) => weightedSum(groupNorm(x!, w!, b!, { groups: 2, chunks: [1, 2] }), 2),
    [x, w, b],
    { seed: 5 },
  );
});

Deno.test("groupNorm rejects channels that do not split into groups", () => {
  assertThrows(() => groupNorm(np.ones([1, 6, 2]), null, null, { groups: 4 }), Error, "groups");
  assertThrows(
    () => groupNorm(np.ones([1, 4, 2]), np.ones([3]), null, { groups: 2 }),
    Error,
    "does not match",
  );
});

Deno.test("rmsNorm matches the host formula and finite differences", () => {
  const x = randn(4, [3, 6]), w = randn(5, [6]);
  const y = rmsNorm(x, w, { eps: 1e-6 });
  const xs = host(x), ws = host(w);
  const expected = xs.map((v, i) => {
    const row = xs.slice(Math.floor(i / 6) * 6, Math.floor(i / 6) * 6 + 6);
    const ms = row.reduce((a, b) => a + b * b, 0) / 6;
    return (v / Math.sqrt(ms + 1e-6)) * ws[i % 6]!;
  });
  assertClose(host(y), expected, { rtol: 1e-5, atol: 1e-6 });
  checkGradients((x, w) => weightedSum(rmsNorm(x!, w!), 3), [x, w]);
});

Deno.test("norm layers init weight 1 and bias 0 under PyTorch's names", () => {
  const ln = LayerNorm.init(null, { dim: 4 });
  assertEquals(Object.keys(ln), ["weight", "bias"]);
  assertEquals(host(ln.weight!), [1, 1, 1, 1]);
  assertEquals(host(ln.bias!), [0, 0, 0, 0]);
  assertEquals(Object.keys(LayerNorm.init(null, { dim: 4, affine: false })), []);
  const gn = GroupNorm.init(random.key(0), { channels: 64 });
  assertEquals(gn.weight!.shape, [64]);
  assertThrows(() => GroupNorm.init(null, { channels: 48 }), Error, "32 groups");
  const rn = RMSNorm.init(null, { dim: 3 });
  assertEquals(Object.keys(rn), ["weight"]);
  const x = randn(1, [2, 4]);
  assertClose(host(LayerNorm.apply(ln, x)), host(layerNorm(x, null, null)), { atol: 1e-6 });
});
