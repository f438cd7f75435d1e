/**
 * Randomness: JAX-compatible keys and bits (known answers), independent split keys, sampler
 * statistics within bounds, the documented ranges, and vmap over keys.
 */
import { device, jit, lax, type NDArray, np, random, vmap } from "../../autograd/mod.ts";
import { threefry2x32 } from "../../kernels/reference/threefry.ts";
import { assert, assertEquals } from "../_assert.ts";
import { property, seedArb } from "../_arbitraries.ts";
import { read, upload } from "../_host.ts";
import fc from "fast-check";

device.use("reference");

const u32 = (values: number[]) => upload({ shape: [values.length], dtype: "uint32", data: values });

Deno.test("random.split(random.key(0)) equals jax.random.split(jax.random.PRNGKey(0))", async () => {
  const keys = random.split(random.key(0));
  assertEquals(await keys.stacked.toArray(), [[4146024105, 967050713], [2718843009, 1272950319]]);
  assertEquals(read(keys[0]!), [4146024105, 967050713]);
  assertEquals(read(keys[1]!), [2718843009, 1272950319]);
});

Deno.test("threefry2x32 on the reference device reproduces Random123's known answers", () => {
  const [y0, y1] = lax.threefry2x32(
    u32([0, 0xffffffff, 0x13198a2e]),
    u32([0, 0xffffffff, 0x03707344]),
    u32([0, 0xffffffff, 0x243f6a88]),
    u32([0, 0xffffffff, 0x85a308d3]),
  );
  assertEquals(read(y0), [0x6b200159, 0x1cb996fc, 0xc4923a9c]);
  assertEquals(read(y1), [0x99ba4efe, 0xbb002be7, 0x483df7a0]);
});

Deno.test("random.key follows jax.random.PRNGKey for large and negative seeds", () => {
  assertEquals(read(random.key(0)), [0, 0]);
  assertEquals(read(random.key(42)), [0, 42]);
  assertEquals(read(random.key(2 ** 32 + 5)), [1, 5]);
  assertEquals(read(random.key(-1)), [0xffffffff, 0xffffffff]);
});

Deno.test("random.bits hashes counters 0..n-1 in two halves, as JAX's threefry_2x32", () => {
  property(fc.record({ seed: seedArb, n: fc.integer({ min: 1, max: 9 }) }), ({ seed, n }) => {
    const key = random.key(seed);
    const got = read(random.bits(key, [n]));
    const half = Math.ceil(n / 2);
    const counts = [...Array.from({ length: n }, (_, i) => i), ...(n % 2 ? [0] : [])];
    const y0: number[] = [], y1: number[] = [];
    for (let i = 0; i < half; i++) {
      const [a, b] = threefry2x32(0, seed, counts[i]!, counts[half + i]!);
      y0.push(a);
      y1.push(b);
    }
    assertEquals(got, [...y0, ...y1].slice(0, n));
  }, { numRuns: 20 });
});

Deno.test("random.uniform takes 23 mantissa bits: bitcast((bits >> 9) | 0x3f800000) - 1", () => {
  const key = random.key(7);
  const bits = read(random.bits(key, [64]));
  const expected = bits.map((b) => {
    const f = new Float32Array(new Uint32Array([(b >>> 9) | 0x3f800000]).buffer)[0]!;
    return Math.fround(f - 1);
  });
  assertEquals(read(random.uniform(key, [64])), expected);
});

Deno.test("random.split gives distinct keys, distinct from the parent", () => {
  property(fc.record({ seed: seedArb, num: fc.integer({ min: 2, max: 64 }) }), ({ seed, num }) => {
    const parent = random.key(seed);
    const keys = read(random.split(parent, num).stacked);
    const seen = new Set([read(parent).join(",")]);
    for (let i = 0; i < num; i++) seen.add(`${keys[2 * i]},${keys[2 * i + 1]}`);
    assertEquals(seen.size, num + 1);
  }, { numRuns: 20 });
});

Deno.test("random.fold gives distinct keys for distinct data and is deterministic", () => {
  const key = random.key(3);
  const folded = Array.from({ length: 20 }, (_, i) => read(random.fold(key, i)).join(","));
  assertEquals(new Set(folded).size, 20);
  assertEquals(read(random.fold(key, 5)).join(","), folded[5]);
});

Deno.test("a fixed key gives the same samples every time; different keys differ", () => {
  const [a, b] = random.split(random.key(123));
  assertEquals(read(random.normal(a!, [16])), read(random.normal(a!, [16])));
  assert(read(random.normal(a!, [16])).join() !== read(random.normal(b!, [16])).join());
});

/** Mean and (population) variance of values. */
function moments(xs: readonly number[]): [number, number] {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
  return [mean, variance];
}

Deno.test("random.normal has mean 0 and variance 1 within 4 sigma on 10^5 samples", () => {
  const n = 100_000;
  const xs = read(random.normal(random.key(2024), [n]));
  const [mean, variance] = moments(xs);
  // Standard errors: mean 1/sqrt(n), variance sqrt(2/n) for a normal.
  assert(Math.abs(mean) < 4 / Math.sqrt(n), `mean ${mean}`);
  assert(Math.abs(variance - 1) < 4 * Math.sqrt(2 / n), `variance ${variance}`);
  // The CDF at a few points, each a binomial proportion within 4 sigma.
  for (const [z, cdf] of [[-1, 0.15865525], [0, 0.5], [1.5, 0.93319280]] as const) {
    const p = xs.filter((x) => x < z).length / n;
    assert(Math.abs(p - cdf) < 4 * Math.sqrt(cdf * (1 - cdf) / n), `P(x < ${z}) = ${p}`);
  }
  assert(xs.every(Number.isFinite), "non-finite normal sample");
});

Deno.test("random.uniform samples lie in [minval, maxval) with the right mean", () => {
  const cases = [
    { minval: 0, maxval: 1, dtype: "float32" },
    { minval: -3, maxval: 5, dtype: "float32" },
    { minval: 0, maxval: 1, dtype: "float16" },
    { minval: -1, maxval: 1, dtype: "bfloat16" },
  ] as const;
  const n = 40_000;
  cases.forEach(({ minval, maxval, dtype }, i) => {
    const xs = read(random.uniform(random.key(i), [n], { minval, maxval, dtype }));
    const outside = xs.filter((x) => !(x >= minval && x < maxval));
    assertEquals(outside.length, 0, `${dtype} [${minval}, ${maxval}): ${outside.slice(0, 5)}`);
    const [mean, variance] = moments(xs);
    const width = maxval - minval;
    const sd = width / Math.sqrt(12);
    assert(Math.abs(mean - (minval + maxval) / 2) < 4 * sd / Math.sqrt(n), `mean ${mean}`);
    assert(Math.abs(variance - sd * sd) < 0.02 * sd * sd, `variance ${variance}`);
  });
});

Deno.test("random.bernoulli is true with probability p", () => {
  const n = 20_000;
  for (const p of [0, 0.1, 0.5, 0.9, 1]) {
    const hits = read(random.bernoulli(random.key(9), p, [n])).filter((x) => x === 1).length;
    assert(Math.abs(hits / n - p) <= 4 * Math.sqrt(p * (1 - p) / n), `p ${p}: ${hits / n}`);
  }
});

Deno.test("random.randint is uniform over [minval, maxval)", () => {
  const n = 20_000;
  const [lo, hi] = [-3, 4];
  const xs = read(random.randint(random.key(5), [n], lo, hi));
  const counts = new Map<number, number>();
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
  assertEquals([...counts.keys()].sort((a, b) => a - b), [-3, -2, -1, 0, 1, 2, 3]);
  const expected = n / (hi - lo);
  for (const c of counts.values()) {
    assert(Math.abs(c - expected) < 4 * Math.sqrt(expected), `count ${c} vs ${expected}`);
  }
});

Deno.test("random.categorical samples classes with softmax(logits) frequencies", () => {
  const n = 20_000;
  const logits = np.array([0, 1, -1, 0.5]);
  const rows = np.broadcastTo(logits, [n, 4]);
  const xs = read(random.categorical(random.key(8), rows, -1));
  const z = [0, 1, -1, 0.5].map(Math.exp);
  const total = z.reduce((a, b) => a + b);
  z.forEach((w, k) => {
    const p = w / total;
    const f = xs.filter((x) => x === k).length / n;
    assert(Math.abs(f - p) < 4 * Math.sqrt(p * (1 - p) / n), `class ${k}: ${f} vs ${p}`);
  });
});

Deno.test("random.permutation is a permutation of 0..n-1", () => {
  property(fc.record({ seed: seedArb, n: fc.integer({ min: 0, max: 20 }) }), ({ seed, n }) => {
    const perm = read(random.permutation(random.key(seed), n));
    assertEquals([...perm].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
  }, { numRuns: 20 });
});

Deno.test("vmap over keys equals a loop over keys", () => {
  const keys = random.split(random.key(77), 4);
  const sample = (k: NDArray) => [random.bits(k, [3]), random.normal(k, [2])];
  const [bits, normals] = vmap(sample)(keys.stacked) as NDArray[];
  keys.forEach((k, i) => {
    const [b, z] = sample(k) as [NDArray, NDArray];
    assertEquals(read(bits!).slice(3 * i, 3 * i + 3), read(b));
    assertEquals(read(normals!).slice(2 * i, 2 * i + 2), read(z));
  });
});

Deno.test("random samplers reject invalid keys and arguments, naming them", () => {
  const err = (fn: () => unknown, text: string) => {
    try {
      fn();
    } catch (e) {
      assert((e as Error).message.includes(text), (e as Error).message);
      return;
    }
    throw new Error(`expected an error mentioning ${text}`);
  };
  err(() => random.split(np.zeros([2])), "float32[2]");
  err(() => random.bernoulli(random.key(0), 1.5, [2]), "1.5");
  err(() => random.randint(random.key(0), [2], 3, 3), "3 and 3");
});

Deno.test("samplers give the same numbers under jit as eagerly", () => {
  const key = random.key(31);
  const sample = (k: NDArray) => ({
    n: random.normal(k, [5]),
    u: random.uniform(k, [3], { minval: -2, maxval: 2 }),
    i: random.randint(k, [4], 0, 10),
    p: random.permutation(k, 6),
    b: random.bernoulli(k, 0.3, [4]),
  });
  const eager = sample(key), compiled = jit(sample)(key);
  for (const name of ["n", "u", "i", "p", "b"] as const) {
    assertEquals(read(compiled[name]), read(eager[name]), name);
  }
});
