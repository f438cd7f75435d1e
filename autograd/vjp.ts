/**
 * Reverse mode: `vjp`, `grad`, `valueAndGrad`, plus `checkpoint` (rematerialization) and
 * `customVjp`.
 *
 * Forward, a {@link VjpTrace} records a tape: one entry per primitive applied to a value that
 * depends on the inputs, holding the forward inputs and outputs. Backward walks the tape in
 * reverse, applying each primitive's rule from `vjp_rules.ts` with public ops; those ops are
 * seen by whatever transformations are active around the backward pass, which is how
 * `grad(grad(f))` and `vmap(grad(f))` compose. (One vjp table, not linearize + transpose.)
 *
 * @module
 */

import { isFloat } from "../kernels/dtype.ts";
import type { Aval, Params, Primitive } from "../kernels/primitives.ts";
import { fmtShape } from "../kernels/shape.ts";
import { bind, NDArray } from "./array.ts";
import * as lax from "./lax.ts";
import { nextLevel, Trace, withTrace } from "./trace.ts";
import { defToString, flatten, unflatten } from "./tree.ts";
import { applyVjp, type Cotangent } from "./vjp_rules.ts";
import * as np from "./numpy.ts";

/** A traced value of reverse mode: its forward value and its node on the tape (-1: constant). */
class VjpTracer extends NDArray {
  constructor(trace: VjpTrace, readonly primal: NDArray, readonly node: number) {
    super(primal.aval, trace);
  }
}

/** One tape entry: which nodes went in and came out, and how to pull cotangents back. */
interface TapeEntry {
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  readonly outAvals: readonly Aval[];
  readonly backward: (cts: readonly Cotangent[]) => Cotangent[];
}

class VjpTrace extends Trace {
  readonly tape: TapeEntry[] = [];
  #nextNode = 0;

  constructor(level: number) {
    super(level, "vjp");
  }

  newNode(): number {
    return this.#nextNode++;
  }

  lift(x: NDArray): NDArray {
    return new VjpTracer(this, x, -1);
  }

  process<P extends Primitive>(
    prim: P,
    params: Params<P>,
    inputs: readonly NDArray[],
    _outAvals: readonly Aval[],
  ): NDArray[] {
    const tracers = inputs as readonly VjpTracer[];
    const primalsIn = tracers.map((t) => t.primal);
    const primalsOut = bind(prim, params, primalsIn);
    return this.record(
      tracers,
      primalsOut,
      (cts) => applyVjp(prim, params, cts, primalsIn, primalsOut),
    );
  }

  /** Wraps forward outputs as tracers and records how to pull back through them. */
  record(
    inputs: readonly VjpTracer[],
    outputs: readonly NDArray[],
    backward: (cts: readonly Cotangent[]) => Cotangent[],
  ): VjpTracer[] {
    const depends = inputs.some((t) => t.node >= 0);
    const outs = outputs.map((p) =>
      new VjpTracer(this, p, depends && isFloat(p.dtype) ? this.newNode() : -1)
    );
    if (depends && outs.some((o) => o.node >= 0)) {
      this.tape.push({
        inputs: inputs.map((t) => t.node),
        outputs: outs.map((o) => o.node),
        outAvals: outputs.map((o) => o.aval),
        backward,
      });
    }
    return outs;
  }
}

function addCotangents(a: Cotangent, b: Cotangent): Cotangent {
  if (a === null) return b;
  if (b === null) return a;
  return lax.binary("add", a, b);
}

/** Walks the tape backwards from output cotangents to the cotangents of `inputNodes`. */
function backpropagate(
  trace: VjpTrace,
  outputNodes: readonly number[],
  outputCts: readonly Cotangent[],
  inputNodes: readonly number[],
): Cotangent[] {
  const cts = new Map<number, NDArray>();
  outputNodes.forEach((node, i) => {
    const ct = outputCts[i];
    if (node >= 0 && ct) cts.set(node, cts.has(node) ? lax.binary("add", cts.get(node)!, ct) : ct);
  });
  for (let e = trace.tape.length - 1; e >= 0; e--) {
    const entry = trace.tape[e]!;
    if (!entry.outputs.some((n) => n >= 0 && cts.has(n))) continue;
    const outCts = entry.outputs.map((n) => {
      const ct = n >= 0 ? cts.get(n) ?? null : null;
      if (n >= 0) cts.delete(n);
      return ct;
    });
    const inCts = entry.backward(outCts);
    entry.inputs.forEach((node, i) => {
      const ct = inCts[i] ?? null;
      if (node < 0 || ct === null) return;
      cts.set(node, addCotangents(cts.get(node) ?? null, ct)!);
    });
  }
  return inputNodes.map((n) => cts.get(n) ?? null);
}

function toFloatArray(x: unknown, what: string): NDArray {
  if (x instanceof NDArray) return x;
  if (typeof x === "number") return np.array(x);
  throw new Error(
    `${what}: expected arrays (or numbers) as leaves, got ${x === null ? "null" : typeof x}`,
  );
}

/**
 * Reverse-mode derivative: evaluates `f(...primals)` and returns `[out, pullback]`, where
 * `pullback(cotangent)` (a pytree like `out`) returns one cotangent pytree per primal.
 *
 * @example
 * ```ts ignore
 * const [y, pullback] = vjp((x) => np.sum(np.square(x)), np.array([1, 2]));
 * const [dx] = pullback(np.array(1)); // [2, 4]
 * ```
 */
export function vjp<T>(
  f: (...args: never[]) => T,
  ...primals: readonly unknown[]
): [T, (cotangent: unknown) => unknown[]] {
  const [pLeaves, pDef] = flatten(primals);
  const arrays = pLeaves.map((x) => toFloatArray(x, "vjp"));
  const trace = new VjpTrace(nextLevel());
  let inputNodes: number[] = [];
  const [outLeaves, outDef] = withTrace(trace, () => {
    const inputs = arrays.map((a) =>
      new VjpTracer(trace, a, isFloat(a.dtype) ? trace.newNode() : -1)
    );
    inputNodes = inputs.map((t) => t.node);
    return flatten((f as (...args: unknown[]) => T)(...unflatten<unknown[]>(pDef, inputs)));
  });
  const outputNodes = outLeaves.map((
    l,
  ) => (l instanceof VjpTracer && l.trace === trace ? l.node : -1));
  const primalOut = unflatten<T>(
    outDef,
    outLeaves.map((l) => (l instanceof VjpTracer && l.trace === trace ? l.primal : l)),
  );
  const pullback = (cotangent: unknown): unknown[] => {
    const [ctLeaves, ctDef] = flatten(cotangent);
    if (defToString(ctDef) !== defToString(outDef)) {
      throw new Error(
        `vjp: cotangent has structure ${defToString(ctDef)}, output ${defToString(outDef)}`,
      );
    }
    const cts = ctLeaves.map((c, i) => {
      const leaf = outLeaves[i];
      if (!(leaf instanceof NDArray)) return null;
      const ct = toFloatArray(c, "vjp cotangent");
      if (ct.shape.join() !== leaf.shape.join()) {
        throw new Error(
          `vjp: cotangent ${i} has shape ${fmtShape(ct.shape)}, output ${fmtShape(leaf.shape)}`,
        );
      }
      return lax.cast(ct, leaf.dtype);
    });
    const inCts = backpropagate(trace, outputNodes, cts, inputNodes);
    const leaves = inCts.map((ct, i) => ct ?? lax.full(arrays[i]!.shape, 0, arrays[i]!.dtype));
    return unflatten<unknown[]>(pDef, leaves);
  };
  return [primalOut, pullback];
}

/** Options of `grad` and `valueAndGrad`. */
export interface GradOptions {
  /** Which positional arguments to differentiate: one index (default 0) or several. */
  readonly argnums?: number | readonly number[];
  /** `f` returns `[value, aux]`; aux is returned alongside, not differentiated. */
  readonly hasAux?: boolean;
}

/**
 * The type of gradients: the differentiated argument's own type (gradients have the structure
 * of what they differentiate), or a list of them when `argnums` is a list.
 */
export type GradsOf<A extends unknown[], O extends GradOptions> = O extends
  { argnums: readonly number[] } ? unknown[]
  : A[O extends { argnums: infer N extends number } ? N : 0];

/** The value `valueAndGrad` returns: the loss, or `[loss, aux]` with `hasAux`. */
export type ValueOf<O extends GradOptions> = O extends { hasAux: true } ? [NDArray, unknown]
  : NDArray;

function checkScalarLoss(value: unknown, what: string): NDArray {
  if (!(value instanceof NDArray) || value.size !== 1 || !isFloat(value.dtype)) {
    const got = value instanceof NDArray ? value.describe() : typeof value;
    throw new Error(`${what}: the function must return a float scalar (size-1) array, got ${got}`);
  }
  return value;
}

function checkDifferentiable(tree: unknown, argnum: number): void {
  for (const leaf of flatten(tree)[0]) {
    if (leaf instanceof NDArray && !isFloat(leaf.dtype)) {
      throw new Error(
        `grad: argument ${argnum} has a ${leaf.describe()} leaf; only float inputs can be differentiated`,
      );
    }
  }
}

/**
 * Returns `(...args) => [value, grads]`: the value of `f` (a float scalar) and its gradient
 * with respect to the arguments in `argnums` (one pytree, or a list when `argnums` is a list).
 *
 * @example
 * ```ts ignore
 * const [loss, dParams] = valueAndGrad(lossFn)(params, batch);
 * ```
 */
export function valueAndGrad<A extends unknown[], O extends GradOptions = Record<never, never>>(
  f: (...args: A) => unknown,
  options: O = {} as O,
): (...args: A) => [ValueOf<O>, GradsOf<A, O>] {
  const argnums = options.argnums ?? 0;
  const list = typeof argnums === "number" ? [argnums] : [...argnums];
  return (...args: A) => {
    for (const i of list) {
      if (!Number.isInteger(i) || i < 0 || i >= args.length) {
        throw new Error(
          `grad: argnums ${JSON.stringify(argnums)} out of range for ${args.length} arguments`,
        );
      }
      checkDifferentiable(args[i], i);
    }
    let aux: unknown = undefined;
    const partial = (...diffArgs: unknown[]) => {
      const full = [...args] as unknown[];
      list.forEach((i, j) => (full[i] = diffArgs[j]));
      const result = (f as (...a: unknown[]) => unknown)(...full);
      if (options.hasAux) {
        if (!Array.isArray(result) || result.length !== 2) {
          throw new Error("grad: with hasAux, f must return [value, aux]");
        }
        aux = result[1];
        return checkScalarLoss(result[0], "grad");
      }
      return checkScalarLoss(result, "grad");
    };
    const [value, pullback] = vjp(partial, ...list.map((i) => args[i]));
    const grads = pullback(lax.full(value.shape, 1, value.dtype));
    const g = typeof argnums === "number" ? grads[0] : grads;
    return [
      (options.hasAux ? [value, stripTracers(aux)] : value) as ValueOf<O>,
      g as GradsOf<A, O>,
    ];
  };
}

function stripTracers(aux: unknown): unknown {
  // Aux values computed inside vjp are VjpTracers of a finished trace; hand back their values.
  const [leaves, def] = flatten(aux);
  return unflatten(def, leaves.map((l) => (l instanceof VjpTracer ? l.primal : l)));
}

/**
 * Returns `(...args) => grads`: the gradient of the float scalar `f` with respect to the
 * arguments in `argnums`.
 *
 * @example
 * ```ts ignore
 * const df = grad((x) => np.sum(np.tanh(x)));
 * await df(np.array([0, 1])).data();
 * ```
 */
export function grad<A extends unknown[], O extends GradOptions = Record<never, never>>(
  f: (...args: A) => unknown,
  options: O = {} as O,
): (...args: A) => O extends { hasAux: true } ? [GradsOf<A, O>, unknown] : GradsOf<A, O> {
  const vg = valueAndGrad(f, options);
  return (...args: A) => {
    const [value, g] = vg(...args);
    return (options.hasAux ? [g, (value as unknown[])[1]] : g) as O extends { hasAux: true }
      ? [GradsOf<A, O>, unknown]
      : GradsOf<A, O>;
  };
}

/** The top-most VjpTrace among pytree leaves, if it is the highest trace there. */
function topVjpTrace(leaves: readonly unknown[]): VjpTrace | null {
  let top: Trace | null = null;
  for (const l of leaves) {
    if (l instanceof NDArray && (top === null || l.trace.level > top.level)) top = l.trace;
  }
  return top instanceof VjpTrace ? top : null;
}

/**
 * Rematerialization: `checkpoint(f)` computes the same values and gradients as `f`, but a
 * reverse pass stores only `f`'s inputs and recomputes its intermediates when it needs them,
 * trading compute for memory. Differentiated values must reach `f` as arguments (not through
 * a closure).
 *
 * @example
 * ```ts ignore
 * const block = checkpoint((x, w) => np.tanh(np.matmul(x, w)));
 * const g = grad((w) => np.sum(block(x, w)))(w);
 * ```
 */
export function checkpoint<A extends unknown[], R>(f: (...args: A) => R): (...args: A) => R {
  return (...args: A): R => {
    const [leaves, def] = flatten(args);
    const trace = topVjpTrace(leaves);
    if (!trace) return f(...args);
    const tracers = leaves.map((
      l,
    ) => (l instanceof NDArray
      ? (l.trace === trace ? l as VjpTracer : trace.lift(l) as VjpTracer)
      : null)
    );
    const primalArgs = unflatten<A>(def, leaves.map((l, i) => tracers[i]?.primal ?? l));
    const out = f(...primalArgs);
    const [outLeaves, outDef] = flatten(out);
    const arrayOuts = outLeaves.filter((l): l is NDArray => l instanceof NDArray);
    const inputs = tracers.filter((t): t is VjpTracer => t !== null);
    const recorded = trace.record(inputs, arrayOuts, (cts) => {
      // Recompute f under a fresh vjp and pull the cotangents back through it.
      const [, pullback] = vjp((...xs: unknown[]) => {
        const argLeaves = [...leaves];
        let k = 0;
        leaves.forEach((l, i) => l instanceof NDArray && (argLeaves[i] = xs[k++]));
        return flatten(f(...unflatten<A>(def, argLeaves)))[0].filter((l) => l instanceof NDArray);
      }, ...inputs.map((t) => t.primal));
      const filled = cts.map((ct, i) =>
        ct ?? lax.full(arrayOuts[i]!.shape, 0, arrayOuts[i]!.dtype)
      );
      return pullback(filled) as Cotangent[];
    });
    let k = 0;
    return unflatten<R>(outDef, outLeaves.map((l) => (l instanceof NDArray ? recorded[k++] : l)));
  };
}

/**
 * A function with a hand-written reverse rule, for numerically special functions: `fwd(...args)`
 * returns `[out, residuals]`, `bwd(residuals, ct)` returns one cotangent per argument (null for
 * none). Under forward mode (`jvp`) and without differentiation, `f` itself runs.
 *
 * @example
 * ```ts ignore
 * const safeLog = customVjp(
 *   (x: NDArray) => np.log(x),
 *   (x: NDArray) => [np.log(x), x],
 *   (x: NDArray, ct: NDArray) => [np.divide(ct, np.maximum(x, 1e-6))],
 * );
 * ```
 */
export function customVjp<A extends NDArray[], R extends NDArray, S>(
  f: (...args: A) => R,
  fwd: (...args: A) => [R, S],
  bwd: (residuals: S, ct: R) => (NDArray | null)[],
): (...args: A) => R {
  return (...args: A): R => {
    const trace = topVjpTrace(args);
    if (!trace) return f(...args);
    const tracers = args.map((
      a,
    ) => (a.trace === trace ? a as VjpTracer : trace.lift(a) as VjpTracer));
    const [out, residuals] = fwd(...(tracers.map((t) => t.primal) as A));
    if (!(out instanceof NDArray)) {
      throw new Error("customVjp: fwd must return [out: NDArray, residuals]");
    }
    const [recorded] = trace.record(tracers, [out], ([ct]) => {
      const cts = bwd(residuals, (ct ?? lax.full(out.shape, 0, out.dtype)) as R);
      if (cts.length !== args.length) {
        throw new Error(
          `customVjp: bwd returned ${cts.length} cotangents for ${args.length} arguments`,
        );
      }
      return cts;
    });
    return recorded as unknown as R;
  };
}
