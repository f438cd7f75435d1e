/**
 * A keyed pseudo-random permutation of [0, n) evaluated one index at a time in O(1) memory: a
 * 4-round Feistel network over the smallest even-bit power-of-two domain holding n, with cycle
 * walking to stay inside [0, n). The loader's epoch order and the readers' sharding use it, so
 * a 10M-row order costs no 40 MB index array and any position can be resumed directly.
 *
 * @module
 */
import { hash32, type Key } from "./hash.ts";

/**
 * The position-th element of a permutation of [0, n) chosen by `key`; a bijection on [0, n)
 * for each (n, key). n may be up to 2^32.
 *
 * @example
 * ```ts
 * import { permuteIndex } from "./permutation.ts";
 * const order = [0, 1, 2, 3, 4].map((p) => permuteIndex(p, 5, 42)); // 0..4 in a shuffled order
 * ```
 */
export function permuteIndex(position: number, n: number, key: Key): number {
  if (!Number.isInteger(n) || n < 1 || n > 4294967296) {
    throw new RangeError(`permuteIndex needs an integer n in [1, 2^32], got ${n}`);
  }
  if (!Number.isInteger(position) || position < 0 || position >= n) {
    throw new RangeError(`Position ${position} is outside [0, ${n})`);
  }
  if (n === 1) return 0;
  const bits = Math.max(2, Math.ceil(Math.log2(n)));
  const half = Math.ceil(bits / 2);
  const mask = half === 16 ? 0xffff : (1 << half) - 1;
  const size = 2 ** (2 * half);
  let x = position;
  do {
    let left = Math.floor(x / 2 ** half);
    let right = x % 2 ** half;
    for (let round = 0; round < 4; round++) {
      const f = hash32(key + round * 0x632be5ab, right) & mask;
      const next = (left ^ f) & mask;
      left = right;
      right = next;
    }
    x = left * 2 ** half + right;
    if (x >= size) throw new Error("permuteIndex: internal error, left the domain");
  } while (x >= n);
  return x;
}
