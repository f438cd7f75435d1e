/**
 * Checks that libraries computed the same thing: outputs in canonical layout compared elementwise
 * with a tolerance scaled to the output's magnitude (float32 kernels sum in different orders, so
 * bit-equality is not expected; a wrong formula or layout shows up as errors of order 1).
 *
 * @module
 */

/** How far one set of outputs is from another. */
export interface Agreement {
  /** Largest `|a - b| / (1 + |b|)` over all elements of all outputs. */
  readonly maxError: number;
  /** True when `maxError` is within {@link agreementTolerance}. */
  readonly agrees: boolean;
  /** Why they cannot be compared (different counts or lengths), if so. */
  readonly mismatch?: string;
}

/**
 * The largest relative error two float32 implementations may differ by and still "agree": loose
 * enough for different summation orders and approximate transcendental functions on GPUs, tight
 * enough that a transposed layout or a wrong constant fails.
 */
export const agreementTolerance = 2e-3;

/**
 * Compares two lists of outputs elementwise.
 *
 * @example
 * ```ts
 * import { compareOutputs } from "./compare.ts";
 * compareOutputs([new Float32Array([1, 2])], [new Float32Array([1, 2.001])]).agrees; // true
 * ```
 */
export function compareOutputs(
  actual: readonly Float32Array[],
  expected: readonly Float32Array[],
): Agreement {
  if (actual.length !== expected.length) {
    return {
      maxError: Infinity,
      agrees: false,
      mismatch: `${actual.length} outputs vs ${expected.length}`,
    };
  }
  let maxError = 0;
  for (let o = 0; o < actual.length; o++) {
    const a = actual[o]!, e = expected[o]!;
    if (a.length !== e.length) {
      return {
        maxError: Infinity,
        agrees: false,
        mismatch: `output ${o} has ${a.length} elements vs ${e.length}`,
      };
    }
    for (let i = 0; i < a.length; i++) {
      const err = Math.abs(a[i]! - e[i]!) / (1 + Math.abs(e[i]!));
      // NaN on either side counts as total disagreement.
      if (!(err <= maxError)) maxError = Number.isNaN(err) ? Infinity : err;
    }
  }
  return { maxError, agrees: maxError <= agreementTolerance };
}
