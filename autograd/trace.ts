/**
 * The trace stack: how primitives find the transformation that should interpret them.
 *
 * Every transformation (jvp, vjp, vmap, tracing for jit) pushes a {@link Trace} with the next
 * level; its tracers remember their trace. `bind` sends a primitive to the highest-level trace
 * among its operands, which interprets it by calling primitives again on the values one level
 * down. Level 0 is evaluation on a backend. This is JAX's design (autodidax), and it is what
 * makes transformations compose to any depth: `grad(grad(f))`, `vmap(grad(f))`, `jvp(grad(f))`.
 *
 * @module
 */

import type { Aval, Params, Primitive } from "../kernels/primitives.ts";
import type { NDArray } from "./array.ts";

/** A transformation's interpreter at one level of the stack. */
export abstract class Trace {
  /** False once the transformation has returned; its tracers must not be used any more. */
  active = true;

  constructor(
    /** Position on the stack: higher levels interpret first. */
    readonly level: number,
    /** Name for error messages (`"jvp"`, `"vjp"`, `"vmap"`, `"jit"`). */
    readonly kind: string,
  ) {}

  /** Wraps a value from a lower level as a tracer of this trace (a constant to it). */
  abstract lift(x: NDArray): NDArray;

  /** Interprets a primitive whose operands are all tracers of this trace. */
  abstract process<P extends Primitive>(
    prim: P,
    params: Params<P>,
    inputs: readonly NDArray[],
    outAvals: readonly Aval[],
  ): NDArray[];
}

const stack: Trace[] = [];

/**
 * The level the next transformation gets.
 *
 * @example
 * ```ts ignore
 * const trace = new JvpTrace(nextLevel());
 * ```
 */
export function nextLevel(): number {
  return stack.length + 1;
}

/**
 * Runs `body` with `trace` on top of the stack, then deactivates it (so leaked tracers throw).
 *
 * @example
 * ```ts ignore
 * const out = withTrace(new JvpTrace(nextLevel()), (trace) => f(...wrap(trace, primals)));
 * ```
 */
export function withTrace<T extends Trace, R>(trace: T, body: (trace: T) => R): R {
  if (trace.level !== stack.length + 1) {
    throw new Error(`Internal: trace level ${trace.level} pushed at depth ${stack.length}`);
  }
  stack.push(trace);
  try {
    return body(trace);
  } finally {
    stack.pop();
    trace.active = false;
  }
}

/**
 * True when any transformation is being traced (used by `jit` and scopes to behave
 * transparently inside transformations).
 *
 * @example
 * ```ts ignore
 * if (insideTransformation()) return f(...args);
 * ```
 */
export function insideTransformation(): boolean {
  return stack.length > 0;
}

/**
 * The kinds of the transformations on the stack, outermost first (for error messages).
 *
 * @example
 * ```ts ignore
 * activeTransformations(); // ["vmap", "vjp"]
 * ```
 */
export function activeTransformations(): string[] {
  return stack.map((t) => t.kind);
}

let dynamic: Trace | null = null;

/**
 * The trace that receives every operation while a program is being traced (set by `jit`), or
 * null.
 *
 * @example
 * ```ts ignore
 * dynamicTrace()?.kind; // "jit" while tracing a jitted function
 * ```
 */
export function dynamicTrace(): Trace | null {
  return dynamic;
}

/**
 * Runs `body` with `trace` as the dynamic trace (restoring the previous one after).
 *
 * @example
 * ```ts ignore
 * withDynamicTrace(programTrace, () => f(...tracers));
 * ```
 */
export function withDynamicTrace<R>(trace: Trace, body: () => R): R {
  const previous = dynamic;
  dynamic = trace;
  try {
    return body();
  } finally {
    dynamic = previous;
  }
}
