/**
 * Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC 2011), the counter-based generator JAX uses: the same key and counter give the same bits on
 * every backend.
 *
 * @module
 */

const rotations = [[13, 15, 26, 6], [17, 29, 16, 24]] as const;

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

/**
 * One Threefry-2x32 block: key `(k0, k1)`, counter `(x0, x1)` -> two random 32-bit words.
 *
 * @example
 * ```ts
 * import { threefry2x32 } from "./threefry.ts";
 * threefry2x32(0, 0, 0, 0); // [0x6b200159, 0x99ba4efe] (Random123's known answer)
 * ```
 */
export function threefry2x32(k0: number, k1: number, x0: number, x1: number): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (k0 ^ k1 ^ 0x1bd11bda) >>> 0];
  let a = (x0 + ks[0]!) >>> 0;
  let b = (x1 + ks[1]!) >>> 0;
  for (let group = 0; group < 5; group++) {
    for (const r of rotations[group % 2]!) {
      a = (a + b) >>> 0;
      b = rotl(b, r) ^ a;
    }
    // Key injection after every 4 rounds: ks[(s+1)%3], ks[(s+2)%3] + s + 1.
    a = (a + ks[(group + 1) % 3]!) >>> 0;
    b = (b + ks[(group + 2) % 3]! + group + 1) >>> 0;
  }
  return [a, b >>> 0];
}
