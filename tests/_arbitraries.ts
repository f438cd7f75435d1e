/**
 * Shared generators for property tests: fast-check arbitraries for shapes and seeds, a seeded
 * host PRNG for array contents (so a counterexample is a short `{ shape, seed }`, not thousands
 * of floats), and `property`, which runs `fc.assert` with a replayable seed.
 *
 * Replay a failure: fast-check prints `{ seed: S, path: "P" }`; rerun the test with
 * `FC_SEED=S FC_PATH=P` in the environment. Hunt for rare failures with `FC_RUNS_SCALE=20`
 * (multiplies every property's number of runs).
 *
 * @module
 */
import fc from "fast-check";

/** A uniform generator on `[0, 1)`. */
export type Rng = () => number;

/**
 * A small, fast, seeded generator (mulberry32): deterministic per seed, good enough for test
 * data.
 *
 * @example
 * ```ts
 * import { rngFrom } from "./_arbitraries.ts";
 * const rng = rngFrom(1);
 * rng(); // a number in [0, 1)
 * ```
 */
export function rngFrom(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in `[lo, hi]`. */
export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/** One element of `items`. */
export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]!;
}

/** A random permutation of `0..n-1`. */
export function permutation(rng: Rng, n: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** A random shape of rank in `[minRank, maxRank]`, sizes in `[minDim, maxDim]`. */
export function randShape(
  rng: Rng,
  { minRank = 0, maxRank = 3, minDim = 1, maxDim = 3 } = {},
): number[] {
  const rank = randInt(rng, minRank, maxRank);
  return Array.from({ length: rank }, () => randInt(rng, minDim, maxDim));
}

/**
 * Two shapes that broadcast together: a full shape, each operand taking a suffix of it with some
 * axes set to 1 (so size-1 axes and missing leading axes both occur).
 */
export function randBroadcastShapes(
  rng: Rng,
  count: number,
  { maxRank = 3, maxDim = 3 } = {},
): number[][] {
  const full = randShape(rng, { minRank: 0, maxRank, minDim: 1, maxDim });
  return Array.from({ length: count }, () => {
    const rank = randInt(rng, 0, full.length);
    return full.slice(full.length - rank).map((d) => (rng() < 0.3 ? 1 : d));
  });
}

/** `n` float32-representable values uniform in `[lo, hi)`. */
export function uniformValues(rng: Rng, n: number, lo: number, hi: number): number[] {
  return Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * rng()));
}

/** `n` float32 values with magnitude in `[lo, hi)` and random sign (kept away from zero). */
export function signedValues(rng: Rng, n: number, lo: number, hi: number): number[] {
  return Array.from(
    { length: n },
    () => Math.fround((rng() < 0.5 ? -1 : 1) * (lo + (hi - lo) * rng())),
  );
}

/**
 * `n` distinct values at least `gap` apart (a shuffled grid with a little jitter): inputs of
 * max/min/sort-like ops stay away from ties, where derivatives jump.
 */
export function distinctValues(rng: Rng, n: number, gap = 0.3): number[] {
  const order = permutation(rng, n);
  const offset = -gap * (n - 1) / 2;
  return order.map((k) => Math.fround(offset + gap * k + (rng() - 0.5) * gap * 0.2));
}

/** A seed arbitrary for the host PRNG. */
export const seedArb: fc.Arbitrary<number> = fc.integer({ min: 0, max: 0x7fffffff });

function envOf(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * Runs a property with `fc.assert`. On failure fast-check's message carries the seed and path;
 * setting `FC_SEED` (and `FC_PATH`) replays exactly that run.
 *
 * @example
 * ```ts ignore
 * property(seedArb, (seed) => { ... }, { numRuns: 20 });
 * ```
 */
export function property<T>(
  arb: fc.Arbitrary<T>,
  predicate: (value: T) => void,
  { numRuns = 20 }: { numRuns?: number } = {},
): void {
  const seed = envOf("FC_SEED");
  const path = envOf("FC_PATH");
  const scale = Number(envOf("FC_RUNS_SCALE") ?? "1");
  const params: fc.Parameters<[T]> = { numRuns: Math.max(1, Math.round(numRuns * scale)) };
  if (seed !== undefined) params.seed = Number(seed);
  if (path !== undefined) params.path = path;
  fc.assert(fc.property(arb, predicate), params);
}
