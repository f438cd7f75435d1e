/**
 * Shared helpers of the models tests: random arrays from integer seeds, host copies, and a
 * gradient check against central finite differences along random directions.
 *
 * @module
 */
import { grad, type NDArray, np, random } from "../../autograd/mod.ts";
import { assertClose } from "../_assert.ts";

/** Standard normal float32 array of `shape` from an integer seed. */
export function randn(seed: number, shape: readonly number[], scale = 1): NDArray {
  const z = random.normal(random.key(seed), shape);
  return scale === 1 ? z : np.multiply(z, scale);
}

/** The elements of an array as plain numbers (reference device). */
export function host(x: NDArray): number[] {
  return Array.from(x.dataSync() as ArrayLike<number>);
}

/** Row-major strides of a shape. */
export function strides(shape: readonly number[]): number[] {
  const out = shape.map(() => 1);
  for (let i = shape.length - 2; i >= 0; i--) out[i] = out[i + 1]! * shape[i + 1]!;
  return out;
}

/**
 * Checks `grad(f)` against central finite differences: for random unit directions `v` (one per
 * argument), `<grad f(x), v>` must match `(f(x + h v) - f(x - h v)) / 2h`.
 */
export function checkGradients(
  f: (...args: NDArray[]) => NDArray,
  args: readonly NDArray[],
  options: { seed?: number; h?: number; rtol?: number; atol?: number; directions?: number } = {},
): void {
  const h = options.h ?? 1e-2;
  const argnums = args.map((_, i) => i);
  const grads = grad(f, { argnums })(...args) as NDArray[];
  for (let d = 0; d < (options.directions ?? 2); d++) {
    const dirs = args.map((a, i) => {
      const v = randn((options.seed ?? 0) * 7919 + d * 31 + i, a.shape);
      return np.divide(v, np.sqrt(np.sum(np.square(v))));
    });
    let analytic = 0;
    grads.forEach((g, i) => (analytic += np.sum(np.multiply(g, dirs[i]!)).dataSync()[0]!));
    const plus = f(...args.map((a, i) => np.add(a, np.multiply(dirs[i]!, h)))).dataSync()[0]!;
    const minus = f(...args.map((a, i) => np.subtract(a, np.multiply(dirs[i]!, h)))).dataSync()[0]!;
    const numeric = (plus - minus) / (2 * h);
    assertClose(analytic, numeric, {
      rtol: options.rtol ?? 2e-2,
      atol: options.atol ?? 2e-3,
      message: `directional derivative ${d}:`,
    });
  }
}

/** A scalar loss that weights every output element differently (so no gradient cancels). */
export function weightedSum(y: NDArray, seed: number): NDArray {
  return np.sum(np.multiply(y, randn(seed + 1000, y.shape)));
}
