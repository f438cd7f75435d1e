import fc from "fast-check";
import { assert, assertEquals } from "../_assert.ts";
import { foldKey, hash32, randomInt, uniform } from "../../data/hash.ts";
import { permuteIndex } from "../../data/permutation.ts";

Deno.test("hash32 is pure and uniform draws lie in [0, 1)", () => {
  fc.assert(
    fc.property(fc.nat(), fc.nat(), (key, counter) => {
      assertEquals(hash32(key, counter), hash32(key, counter));
      const u = uniform(key, counter);
      assert(u >= 0 && u < 1);
    }),
  );
});

Deno.test("randomInt is roughly uniform over its range", () => {
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < 100_000; i++) counts[randomInt(123, i, 10)]!++;
  for (const c of counts) assert(Math.abs(c - 10_000) < 500, `bucket count ${c}`);
});

Deno.test("foldKey gives distinct sub-keys for distinct purposes", () => {
  const keys = new Set(Array.from({ length: 1000 }, (_, i) => foldKey(9, i)));
  assertEquals(keys.size, 1000);
  assert(foldKey(9, "epoch") !== foldKey(9, "worker"));
});

Deno.test("permuteIndex is a bijection on [0, n) and depends on the key", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 3000 }), fc.nat(), (n, key) => {
      const seen = new Uint8Array(n);
      for (let p = 0; p < n; p++) seen[permuteIndex(p, n, key)]!++;
      assert(seen.every((c) => c === 1), `not a permutation of [0, ${n})`);
    }),
    { numRuns: 60 },
  );
  const a = Array.from({ length: 100 }, (_, p) => permuteIndex(p, 100, 1));
  const b = Array.from({ length: 100 }, (_, p) => permuteIndex(p, 100, 2));
  assert(a.join() !== b.join());
});
