/**
 * Derivative checks against finite differences and between modes, designed for the reference
 * interpreter (float64 arithmetic, every primitive's result rounded to float32 once).
 *
 * Finite differences: for input `i` and a random direction `v`, the perturbed inputs
 * `x± = fround(x ± h v)` are float32, so `dx = x+ - x-` is exact in float64 and the check is
 * `<u, f(x+) - f(x-)> ≈ <J^T u, dx>` with only truncation error `O(h^3 f''')` and output
 * rounding (`~2^-24 |u||f| / h`) left; the tolerance is relative to the size of the terms.
 *
 * @module
 */
import { jvp, NDArray, tree, vjp } from "../autograd/mod.ts";
import { isFloat } from "../kernels/dtype.ts";
import { arrayLeaves, type HostTensor, read, upload } from "./_host.ts";
import { type Rng, uniformValues } from "./_arbitraries.ts";

/** A function of arrays returning an array or a pytree of arrays. */
export type ArrayFn = (...xs: NDArray[]) => unknown;

/** Options of the derivative checks. */
export interface CheckOptions {
  /** Random source for directions and cotangents. */
  readonly rng: Rng;
  /** Finite-difference step (default 2e-3). */
  readonly h?: number;
  /** Relative tolerance of the finite-difference check (default 1e-2). */
  readonly rtol?: number;
  /** A direction for input `i` (default uniform in [-1, 1]); must make `x ± h v` exact. */
  readonly direction?: (i: number, t: HostTensor) => number[];
  /** What the failure message should mention (the case, its shapes). */
  readonly label?: string;
}

function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function absDot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! * b[i]!);
  return s;
}

/** Random cotangents for the float leaves of `out` (zeros elsewhere), and their host values. */
export function randomCotangent(out: unknown, rng: Rng): { tree: unknown; values: number[][] } {
  const values: number[][] = [];
  const ct = tree.map((leaf: unknown) => {
    if (!(leaf instanceof NDArray)) return leaf;
    const x = leaf;
    const u = isFloat(x.dtype)
      ? uniformValues(rng, x.size, -1, 1)
      : new Array<number>(x.size).fill(0);
    values.push(u);
    return upload({ shape: x.shape, dtype: isFloat(x.dtype) ? x.dtype : "float32", data: u });
  }, out);
  return { tree: ct, values };
}

/** `<u, out>` over the array leaves of `out`, and the matching sum of absolute products. */
function pair(out: unknown, us: readonly number[][]): [number, number] {
  const leaves = arrayLeaves(out);
  let s = 0, a = 0;
  leaves.forEach((x, j) => {
    if (!isFloat(x.dtype)) return;
    const v = read(x);
    s += dot(us[j]!, v);
    a += absDot(us[j]!, v);
  });
  return [s, a];
}

/** Binds the non-differentiated inputs as constants: `g(...diffArrays)`. */
function partial(
  f: ArrayFn,
  inputs: readonly HostTensor[],
  diff: readonly number[],
): { g: ArrayFn; arrays: NDArray[] } {
  const arrays = inputs.map(upload);
  const g = (...xs: NDArray[]) => {
    const all = [...arrays];
    diff.forEach((i, k) => (all[i] = xs[k]!));
    return f(...all);
  };
  return { g, arrays: diff.map((i) => arrays[i]!) };
}

/**
 * Checks `vjp(f)` against central finite differences, one differentiated input at a time.
 * Throws with the offending numbers on a mismatch.
 */
export function checkVjpMatchesFiniteDifferences(
  f: ArrayFn,
  inputs: readonly HostTensor[],
  diff: readonly number[],
  options: CheckOptions,
): void {
  const { rng, h = 2e-3, rtol = 1e-2, label = "" } = options;
  const { g, arrays } = partial(f, inputs, diff);
  const [out, pullback] = vjp(g, ...arrays);
  const { tree: ct, values: us } = randomCotangent(out, rng);
  const cts = pullback(ct) as NDArray[];
  diff.forEach((i, k) => {
    const t = inputs[i]!;
    if (t.dtype !== "float32") throw new Error(`finite differences need float32 inputs (${label})`);
    const v = options.direction?.(i, t) ?? uniformValues(rng, t.data.length, -1, 1);
    const plus = t.data.map((x, j) => Math.fround(x + h * v[j]!));
    const minus = t.data.map((x, j) => Math.fround(x - h * v[j]!));
    const dx = plus.map((p, j) => p - minus[j]!);
    const at = (data: number[]) => {
      const xs = [...arrays];
      xs[k] = upload({ ...t, data });
      return pair(g(...xs), us);
    };
    const [gp, ap] = at(plus);
    const [gm, am] = at(minus);
    const fd = gp - gm;
    const ctValues = read(cts[k]!);
    const ad = dot(ctValues, dx);
    const scale = Math.max(absDot(ctValues, dx), Math.abs(fd));
    const noise = 2 ** -19 * (ap + am);
    if (!(Math.abs(fd - ad) <= rtol * scale + noise)) {
      throw new Error(
        `vjp disagrees with finite differences for input ${i} [${t.shape}] ${label}: ` +
          `<u, f(x+) - f(x-)> = ${fd}, <vjp(u), dx> = ${ad} (|diff| ${Math.abs(fd - ad)}, ` +
          `allowed ${rtol * scale + noise})`,
      );
    }
  });
}

/**
 * Checks that forward and reverse mode are adjoint: `<u, J v> == <J^T u, v>` for random `u`
 * and `v` (over all differentiated inputs at once), and that both modes return `f`'s value.
 */
export function checkJvpVjpAdjoint(
  f: ArrayFn,
  inputs: readonly HostTensor[],
  diff: readonly number[],
  options: { rng: Rng; rtol?: number; label?: string },
): void {
  const { rng, rtol = 1e-4, label = "" } = options;
  const { g, arrays } = partial(f, inputs, diff);
  const vs = arrays.map((x) => uniformValues(rng, x.size, -1, 1));
  const tangents = arrays.map((x, k) => upload({ shape: x.shape, dtype: x.dtype, data: vs[k]! }));
  const [outJ, tOut] = jvp(g, arrays, tangents);
  const [outV, pullback] = vjp(g, ...arrays);
  const plain = arrayLeaves(g(...arrays)).map(read);
  for (const [name, out] of [["jvp", outJ], ["vjp", outV]] as const) {
    const got = arrayLeaves(out).map(read);
    if (JSON.stringify(got) !== JSON.stringify(plain)) {
      throw new Error(`${name} primal output differs from f's output ${label}`);
    }
  }
  const { tree: ct, values: us } = randomCotangent(outV, rng);
  const cts = (pullback(ct) as NDArray[]).map(read);
  const [lhs, lhsAbs] = pair(tOut, us);
  let rhs = 0, rhsAbs = 0;
  cts.forEach((c, k) => {
    rhs += dot(c, vs[k]!);
    rhsAbs += absDot(c, vs[k]!);
  });
  const scale = lhsAbs + rhsAbs;
  if (!(Math.abs(lhs - rhs) <= rtol * scale + 1e-300) || Number.isNaN(lhs) || Number.isNaN(rhs)) {
    throw new Error(
      `jvp and vjp are not adjoint ${label}: <u, Jv> = ${lhs}, <J^T u, v> = ${rhs} ` +
        `(|diff| ${Math.abs(lhs - rhs)}, scale ${scale})`,
    );
  }
}
