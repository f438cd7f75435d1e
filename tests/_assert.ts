/**
 * The assertions our tests use, on top of `node:assert/strict` (JSR's `@std/assert` is not
 * reachable from our machines).
 *
 * @module
 */
import nodeAssert from "node:assert/strict";

/** Asserts `condition` is truthy. */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new Error(message);
}

/** Deep strict equality (Object.is for numbers, so NaN equals NaN and 0 differs from -0). */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Asserts `|actual - expected| <= atol + rtol * |expected|`, elementwise for arrays. */
export function assertClose(
  actual: ArrayLike<number> | number,
  expected: ArrayLike<number> | number,
  { rtol = 1e-5, atol = 1e-6, message = "" }: { rtol?: number; atol?: number; message?: string } =
    {},
): void {
  const a = typeof actual === "number" ? [actual] : actual;
  const e = typeof expected === "number" ? [expected] : expected;
  if (a.length !== e.length) {
    throw new Error(`${message} length ${a.length} differs from expected ${e.length}`.trim());
  }
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = e[i]!;
    if (Number.isNaN(y) && Number.isNaN(x)) continue;
    if (x === y) continue;
    if (!(Math.abs(x - y) <= atol + rtol * Math.abs(y))) {
      throw new Error(
        `${message} element ${i}: ${x} vs expected ${y} (|diff| ${
          Math.abs(x - y)
        }, atol ${atol}, rtol ${rtol})`
          .trim(),
      );
    }
  }
}

/** Asserts `fn` throws an error (of `ErrorClass`, whose message includes `includes`); returns it. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  ErrorClass?: new (...args: never[]) => E,
  includes?: string,
): E {
  try {
    fn();
  } catch (error) {
    checkError(error, ErrorClass, includes);
    return error as E;
  }
  throw new Error("expected the function to throw");
}

/** Asserts the promise rejects (with `ErrorClass`, whose message includes `includes`); returns it. */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  ErrorClass?: new (...args: never[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    checkError(error, ErrorClass, includes);
    return error as E;
  }
  throw new Error("expected the promise to reject");
}

function checkError(
  error: unknown,
  ErrorClass: (new (...args: never[]) => Error) | undefined,
  includes: string | undefined,
): void {
  if (ErrorClass && !(error instanceof ErrorClass)) {
    throw new Error(`expected ${ErrorClass.name}, got ${String(error)}`);
  }
  if (includes !== undefined && !(error instanceof Error && error.message.includes(includes))) {
    throw new Error(`expected the error message to include "${includes}", got: ${String(error)}`);
  }
}
