/**
 * Counter-based hashing for the data layer's randomness: a key is a 32-bit integer, and the
 * i-th draw under a key is a pure function `hash(key, i)`, so samplers and shufflers are
 * reproducible, need no state, and can be evaluated in any order (as threefry is in JAX).
 *
 * The mixer is murmur3's 32-bit finalizer (`fmix32`) applied to a splitmix-style combination of
 * key and counter: not cryptographic, but every output bit depends on every input bit. This is
 * a stand-in until the core's `random.key` exists; only the data layer uses it.
 *
 * @module
 */

/** A 32-bit key: an unsigned integer in [0, 2^32). Derive sub-keys with {@linkcode foldKey}. */
export type Key = number;

const GOLDEN = 0x9e3779b9;

/**
 * Murmur3's `fmix32` finalizer: a bijection on uint32 with full avalanche.
 *
 * @example
 * ```ts
 * import { mix32 } from "./hash.ts";
 * mix32(1) !== mix32(2); // true
 * ```
 */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The `counter`-th 32-bit draw under `key` (both integers; `counter` may exceed 2^32, its high
 * part is folded in).
 *
 * @example
 * ```ts
 * import { hash32 } from "./hash.ts";
 * hash32(7, 0) === hash32(7, 0); // true: pure
 * ```
 */
export function hash32(key: Key, counter: number): number {
  const lo = counter >>> 0;
  const hi = Math.floor(counter / 4294967296) >>> 0;
  let h = mix32((key >>> 0) ^ GOLDEN);
  h = mix32((h + Math.imul(lo, GOLDEN)) >>> 0 ^ hi);
  return mix32(h ^ (lo + 0x7f4a7c15));
}

/**
 * A sub-key of `key` for the purpose `data` (an integer or a string): use one per consumer
 * (epoch, worker, clip) so their streams never overlap.
 *
 * @example
 * ```ts
 * import { foldKey } from "./hash.ts";
 * const epochKey = foldKey(42, 3); // key of epoch 3 under seed 42
 * ```
 */
export function foldKey(key: Key, data: number | string): Key {
  const d = typeof data === "number" ? data : hashString(data);
  return hash32(mix32(key ^ 0x5bd1e995), d);
}

/**
 * A uniform float in [0, 1) from the `counter`-th draw under `key` (32 bits of resolution).
 *
 * @example
 * ```ts
 * import { uniform } from "./hash.ts";
 * const u = uniform(1, 0); // 0 <= u < 1
 * ```
 */
export function uniform(key: Key, counter: number): number {
  return hash32(key, counter) / 4294967296;
}

/**
 * A uniform integer in [0, n) from the `counter`-th draw under `key` (n at most 2^32).
 *
 * @example
 * ```ts
 * import { randomInt } from "./hash.ts";
 * const start = randomInt(5, 0, 10); // one of 0..9
 * ```
 */
export function randomInt(key: Key, counter: number, n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 4294967296) {
    throw new RangeError(`randomInt needs an integer n in [1, 2^32], got ${n}`);
  }
  return Math.floor(uniform(key, counter) * n);
}

/**
 * FNV-1a hash of a string's UTF-16 code units, finalized with {@linkcode mix32}.
 *
 * @example
 * ```ts
 * import { hashString } from "./hash.ts";
 * hashString("abc") === hashString("abc"); // true
 * ```
 */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}
