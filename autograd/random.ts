/**
 * Counter-based randomness with explicit keys (JAX's design): a key is a `uint32 [2]` array;
 * `split` derives independent keys, and every sampler is a pure function of its key, so the
 * same key gives the same numbers on every backend and every run.
 *
 * Bits come from Threefry-2x32 exactly as JAX's classic (non-partitionable) scheme: `split(k,
 * n)` hashes counters `0..2n-1`, `bits(k, shape)` hashes `0..size-1` (split in halves), so keys
 * and bits match `jax.random` with `jax_threefry_partitionable=False`.
 *
 * @module
 */

import type { DType } from "../kernels/dtype.ts";
import { isFloat } from "../kernels/dtype.ts";
import { type Shape, sizeOf } from "../kernels/shape.ts";
import type { NDArray } from "./array.ts";
import * as lax from "./lax.ts";
import { array } from "./numpy/convert.ts";

function checkKey(key: NDArray, what: string): void {
  if (key.dtype !== "uint32" || key.shape.length !== 1 || key.shape[0] !== 2) {
    throw new Error(
      `${what}: expected a key (uint32 [2] array from random.key), got ${key.describe()}`,
    );
  }
}

/**
 * A key from an integer seed (`[0, seed]` for seeds below 2^32, as `jax.random.PRNGKey`).
 *
 * @example
 * ```ts ignore
 * const key = random.key(0);
 * ```
 */
export function key(seed: number): NDArray {
  if (!Number.isSafeInteger(seed)) {
    throw new Error(`random.key: seed must be a safe integer, got ${seed}`);
  }
  // The two 32-bit words of the seed as a 64-bit two's complement integer (JAX's threefry_seed):
  // floor division and `>>> 0` (modulo 2^32) are exact for safe integers, negative ones included.
  const hi = Math.floor(seed / 2 ** 32) >>> 0, lo = seed >>> 0;
  return array(new Uint32Array([hi, lo]), { dtype: "uint32" });
}

/** Threefry over a flat uint32 counter array, JAX's `threefry_2x32(keypair, count)`. */
function hashCounts(k: NDArray, counts: NDArray): NDArray {
  const n = counts.size;
  const flat = lax.reshape(counts, [n]);
  const padded = n % 2 === 1 ? lax.concatenate([flat, lax.full([1], 0, "uint32")], 0) : flat;
  const half = padded.size / 2;
  const x0 = lax.slice(padded, [0], [half]);
  const x1 = lax.slice(padded, [half], [2 * half]);
  const k0 = lax.broadcast(lax.reshape(lax.slice(k, [0], [1]), []), [half], []);
  const k1 = lax.broadcast(lax.reshape(lax.slice(k, [1], [2]), []), [half], []);
  const [y0, y1] = lax.threefry2x32(k0, k1, x0, x1);
  const joined = lax.concatenate([y0, y1], 0);
  return lax.reshape(n % 2 === 1 ? lax.slice(joined, [0], [n]) : joined, counts.shape);
}

/**
 * Splits a key into `num` new keys (`[num, 2]`).
 *
 * @example
 * ```ts ignore
 * const [k1, k2] = random.split(key);
 * ```
 */
export function split(k: NDArray, num = 2): NDArray[] & { stacked: NDArray } {
  checkKey(k, "random.split");
  if (!Number.isInteger(num) || num < 1) {
    throw new Error(`random.split: num must be a positive integer, got ${num}`);
  }
  const stacked = lax.reshape(hashCounts(k, lax.iota([num * 2], 0, "uint32")), [num, 2]);
  const keys = Array.from(
    { length: num },
    (_, i) => lax.reshape(lax.slice(stacked, [i, 0], [i + 1, 2]), [2]),
  );
  return Object.assign(keys, { stacked });
}

/**
 * Folds an integer into a key (`jax.random.fold_in`): a new key per step or per layer.
 *
 * @example
 * ```ts ignore
 * const stepKey = random.fold(key, step);
 * ```
 */
export function fold(k: NDArray, data: number): NDArray {
  checkKey(k, "random.fold");
  if (!Number.isInteger(data)) throw new Error(`random.fold: data must be an integer, got ${data}`);
  return hashCounts(k, array(new Uint32Array([0, data >>> 0]), { dtype: "uint32" }));
}

/**
 * Uniformly random 32-bit words of `shape`.
 *
 * @example
 * ```ts ignore
 * random.bits(key, [4]);
 * ```
 */
export function bits(k: NDArray, shape: Shape): NDArray {
  checkKey(k, "random.bits");
  return hashCounts(k, lax.iota([sizeOf(shape)], 0, "uint32")).reshape([...shape]);
}

/**
 * Uniform samples in `[minval, maxval)` (float32 by default): 23 random mantissa bits, as JAX.
 *
 * @example
 * ```ts ignore
 * random.uniform(key, [2, 3], { minval: -1, maxval: 1 });
 * ```
 */
export function uniform(
  k: NDArray,
  shape: Shape,
  options: { minval?: number; maxval?: number; dtype?: DType } = {},
): NDArray {
  const dtype = options.dtype ?? "float32";
  if (!isFloat(dtype)) throw new Error(`random.uniform: dtype must be a float type, got ${dtype}`);
  const minval = options.minval ?? 0, maxval = options.maxval ?? 1;
  const b = bits(k, shape);
  // [1, 2) from the top 23 bits as a float32 mantissa, minus 1. For 16-bit dtypes only as many
  // bits as their mantissa holds (10 or 7), as JAX does: otherwise values within half an ulp of
  // 1 round up to 1 in the final cast and the sample equals maxval.
  const nmant = dtype === "float16" ? 10 : dtype === "bfloat16" ? 7 : 23;
  let mantissa = lax.binary("shift_right", b, lax.full(b.shape, 32 - nmant, "uint32"));
  if (nmant < 23) {
    mantissa = lax.binary("shift_left", mantissa, lax.full(b.shape, 23 - nmant, "uint32"));
  }
  const oneBits = lax.binary("or", mantissa, lax.full(b.shape, 0x3f800000, "uint32"));
  const unit = lax.binary("sub", lax.bitcast(oneBits, "float32"), lax.full(b.shape, 1, "float32"));
  const scaled = lax.binary(
    "add",
    lax.binary("mul", unit, lax.full(b.shape, maxval - minval, "float32")),
    lax.full(b.shape, minval, "float32"),
  );
  // Rounding can land on maxval in low precision; keep samples below it as documented.
  return lax.cast(lax.binary("max", scaled, lax.full(b.shape, minval, "float32")), dtype);
}

/**
 * Standard normal samples (Box-Muller on two independent uniforms).
 *
 * @example
 * ```ts ignore
 * random.normal(key, [3]);
 * ```
 */
export function normal(k: NDArray, shape: Shape, options: { dtype?: DType } = {}): NDArray {
  const [k1, k2] = split(k);
  // u1 in (0, 1] so the logarithm is finite.
  const u1 = lax.binary("sub", lax.full([...shape], 1, "float32"), uniform(k1!, shape));
  const u2 = uniform(k2!, shape);
  const radius = lax.unary(
    "sqrt",
    lax.binary("mul", lax.full([...shape], -2, "float32"), lax.unary("log", u1)),
  );
  const angle = lax.binary("mul", u2, lax.full([...shape], 2 * Math.PI, "float32"));
  return lax.cast(lax.binary("mul", radius, lax.unary("cos", angle)), options.dtype ?? "float32");
}

/**
 * True with probability `p` (bool array).
 *
 * @example
 * ```ts ignore
 * random.bernoulli(key, 0.9, [128]); // a dropout keep-mask
 * ```
 */
export function bernoulli(k: NDArray, p: number, shape: Shape): NDArray {
  if (!(p >= 0 && p <= 1)) throw new Error(`random.bernoulli: p must be in [0, 1], got ${p}`);
  return lax.binary("lt", uniform(k, shape), lax.full([...shape], p, "float32"));
}

/**
 * Integers uniform in `[minval, maxval)` (int32).
 *
 * @example
 * ```ts ignore
 * random.randint(key, [8], 0, 1000); // timesteps
 * ```
 */
export function randint(k: NDArray, shape: Shape, minval: number, maxval: number): NDArray {
  if (!Number.isInteger(minval) || !Number.isInteger(maxval) || maxval <= minval) {
    throw new Error(`random.randint: need integers minval < maxval, got ${minval} and ${maxval}`);
  }
  const span = maxval - minval;
  if (span > 2 ** 31) throw new Error(`random.randint: range ${span} exceeds 2^31`);
  // Two words per sample, combined as JAX does: ((hi mod span) * m + lo mod span) mod span with
  // m = 2^32 mod span, in wrapping uint32 arithmetic, which keeps the modulo bias negligible.
  const [k1, k2] = split(k);
  const hi = bits(k1!, shape), lo = bits(k2!, shape);
  const full = (v: number) => lax.full([...shape], v, "uint32");
  const spanU = full(span);
  const half = 65536 % span;
  const multiplier = (half * half) % span;
  const offset = lax.binary(
    "rem",
    lax.binary(
      "add",
      lax.binary("mul", lax.binary("rem", hi, spanU), full(multiplier)),
      lax.binary("rem", lo, spanU),
    ),
    spanU,
  );
  const combined = offset;
  return lax.binary("add", lax.cast(combined, "int32"), lax.full([...shape], minval, "int32"));
}

/**
 * Samples class indices from unnormalized log-probabilities along `axis` (Gumbel-max).
 *
 * @example
 * ```ts ignore
 * random.categorical(key, logits); // [B, V] -> [B]
 * ```
 */
export function categorical(k: NDArray, logits: NDArray, axis = -1): NDArray {
  const ax = axis < 0 ? axis + logits.ndim : axis;
  const u = uniform(k, logits.shape, { minval: 1e-12, maxval: 1 });
  const gumbel = lax.unary("neg", lax.unary("log", lax.unary("neg", lax.unary("log", u))));
  return lax.argReduce("argmax", lax.binary("add", lax.cast(logits, "float32"), gumbel), ax);
}

/**
 * A random permutation of `0..n-1` (int32), by sorting random keys.
 *
 * @example
 * ```ts ignore
 * random.permutation(key, 10);
 * ```
 */
export function permutation(k: NDArray, n: number): NDArray {
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`random.permutation: n must be >= 0, got ${n}`);
  }
  // rank[i] = #{j : u[j] < u[i]} (ties broken by index): a permutation computed with ops only.
  const u = uniform(k, [n]);
  const ui = lax.broadcast(u, [n, n], [0]);
  const uj = lax.broadcast(u, [n, n], [1]);
  const ii = lax.iota([n, n], 0, "int32"), jj = lax.iota([n, n], 1, "int32");
  const before = lax.binary(
    "or",
    lax.binary("lt", uj, ui),
    lax.binary("and", lax.binary("eq", uj, ui), lax.binary("lt", jj, ii)),
  );
  const rank = lax.reduceSum(lax.cast(before, "int32"), [1]); // position of element i
  // Invert: perm[rank[i]] = i.
  const onehot = lax.binary("eq", lax.broadcast(rank, [n, n], [0]), jj); // [i, r]
  return lax.reduceSum(lax.select(onehot, ii, lax.full([n, n], 0, "int32")), [0]);
}
