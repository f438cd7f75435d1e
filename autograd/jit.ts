/**
 * `jit`: trace a function once per input signature into a program (a jaxpr-like IR, see
 * `kernels/backend.ts`), hand it to the backend to compile, and run the compiled program on
 * later calls. `makeJaxpr` exposes the traced program for inspection.
 *
 * Semantics worth knowing:
 * - Array leaves of the arguments are traced; every other leaf (numbers, strings, booleans) is
 *   static: it is part of the cache key, and a new value compiles anew.
 * - Inside another transformation (`grad(jit(f))`, `vmap(jit(f))`), `jit` runs `f` inline: the
 *   surrounding transformation sees its operations, and lazy evaluation still fuses them.
 * - Arrays captured by closure become constants of the compiled program.
 * - `donate: [argnums]` lets the program reuse the storage of those arguments; the donated
 *   arrays are freed by the call and must not be used again (a training step donates its params
 *   and optimizer state so memory stays flat).
 *
 * @module
 */

import type { Backend, Equation, Program, Var } from "../kernels/backend.ts";
import { programToString } from "../kernels/backend.ts";
import type { Aval, Params, Primitive } from "../kernels/primitives.ts";
import { fmtShape } from "../kernels/shape.ts";
import { NDArray } from "./array.ts";
import { defaultBackend } from "./backends.ts";
import { insideTransformation, nextLevel, Trace, withTrace } from "./trace.ts";
import { defToString, flatten, type TreeDef, unflatten } from "./tree.ts";

/** A tracer of program construction: stands for one program variable. */
class ProgramTracer extends NDArray {
  constructor(trace: ProgramTrace, readonly variable: Var) {
    super(variable.aval, trace);
  }
}

/** Thrown while tracing when `f` closes over a tracer of an enclosing transformation. */
class CapturedTracerError extends Error {}

class ProgramTrace extends Trace {
  readonly equations: Equation[] = [];
  readonly constVars: Var[] = [];
  readonly constValues: NDArray[] = [];
  readonly #constOf = new Map<NDArray, Var>();
  #nextId = 0;

  constructor(level: number) {
    super(level, "jit");
  }

  newVar(aval: Aval): Var {
    return { id: this.#nextId++, aval: { shape: [...aval.shape], dtype: aval.dtype } };
  }

  lift(x: NDArray): NDArray {
    if (!x.isConcrete) throw new CapturedTracerError(`captured a ${x.trace.kind} tracer`);
    let v = this.#constOf.get(x);
    if (!v) {
      v = this.newVar(x.aval);
      this.#constOf.set(x, v);
      this.constVars.push(v);
      this.constValues.push(x);
    }
    return new ProgramTracer(this, v);
  }

  process<P extends Primitive>(
    prim: P,
    params: Params<P>,
    inputs: readonly NDArray[],
    outAvals: readonly Aval[],
  ): NDArray[] {
    const outputs = outAvals.map((a) => this.newVar(a));
    this.equations.push({
      call: { prim, params } as Equation["call"],
      inputs: (inputs as readonly ProgramTracer[]).map((t) => t.variable),
      outputs,
    });
    return outputs.map((v) => new ProgramTracer(this, v));
  }
}

/** A traced function: its program, captured constants and the structure of its output. */
export interface TracedProgram {
  readonly program: Program;
  /** The arrays bound to `program.constVars`, in order. */
  readonly constValues: readonly NDArray[];
  /** Output pytree structure; array leaves are program outputs in order. */
  readonly outDef: TreeDef;
  /** For each output leaf: the index of its program output, or the static value itself. */
  readonly outLeaves: readonly ({ readonly output: number } | { readonly value: unknown })[];
  /** The program printed in jaxpr-like form. */
  toString(): string;
}

function traceProgram(f: (...args: never[]) => unknown, args: readonly unknown[]): TracedProgram {
  const [leaves, def] = flatten(args);
  return withTrace(new ProgramTrace(nextLevel()), (trace) => {
    const inputVars: Var[] = [];
    const tracedLeaves = leaves.map((leaf) => {
      if (!(leaf instanceof NDArray)) return leaf;
      const v = trace.newVar(leaf.aval);
      inputVars.push(v);
      return new ProgramTracer(trace, v);
    });
    const out = (f as (...a: unknown[]) => unknown)(...unflatten<unknown[]>(def, tracedLeaves));
    const [outLeaves, outDef] = flatten(out);
    const outputs: Var[] = [];
    const described = outLeaves.map((leaf) => {
      if (!(leaf instanceof NDArray)) return { value: leaf };
      const tracer = leaf.trace === trace
        ? leaf as ProgramTracer
        : trace.lift(leaf) as ProgramTracer;
      outputs.push(tracer.variable);
      return { output: outputs.length - 1 };
    });
    const program: Program = {
      constVars: trace.constVars,
      inputs: inputVars,
      equations: trace.equations,
      outputs,
    };
    return {
      program,
      constValues: trace.constValues,
      outDef,
      outLeaves: described,
      toString: () => programToString(program),
    };
  });
}

/**
 * Traces `f` on example arguments and returns its program (print it with `toString()`).
 *
 * @example
 * ```ts ignore
 * console.log(makeJaxpr((x) => np.tanh(np.add(x, 1)))(np.zeros([3])).toString());
 * ```
 */
export function makeJaxpr<A extends unknown[]>(
  f: (...args: A) => unknown,
): (...args: A) => TracedProgram {
  return (...args: A) => traceProgram(f as (...args: never[]) => unknown, args);
}

/** Options of `jit`. */
export interface JitOptions {
  /** Positional arguments whose arrays the compiled program may reuse; they are freed by the call. */
  readonly donate?: readonly number[];
}

interface CacheEntry {
  readonly traced: TracedProgram;
  readonly run: (args: readonly NDArray[]) => NDArray[];
}

function staticKey(leaf: unknown): string {
  if (leaf === undefined) return "undefined";
  if (typeof leaf === "function") {
    throw new Error("jit: functions cannot be arguments of a jitted function; close over them");
  }
  return JSON.stringify(leaf) ?? String(leaf);
}

function debugEnabled(): boolean {
  const proc = (globalThis as { process?: { env: Record<string, string | undefined> } }).process;
  try {
    return (proc?.env["DROPLET_DEBUG"] ?? "0") !== "0";
  } catch {
    return false;
  }
}

/**
 * Compiles `f`: the first call with a new signature (array shapes and dtypes, static leaves)
 * traces and compiles; later calls run the compiled program.
 *
 * @example
 * ```ts ignore
 * const step = jit((params, batch) => update(params, batch), { donate: [0] });
 * params = step(params, batch);
 * ```
 */
export function jit<A extends unknown[], R>(
  f: (...args: A) => R,
  options: JitOptions = {},
): (...args: A) => R {
  const cache = new Map<string, CacheEntry | "inline">();
  const donate = new Set(options.donate ?? []);
  const jitted = (...args: A): R => {
    if (insideTransformation()) return f(...args);
    const [leaves, def] = flatten(args);
    const arrays: NDArray[] = [];
    const keyParts: string[] = [];
    let backend: Backend | null = null;
    for (const leaf of leaves) {
      if (leaf instanceof NDArray) {
        const value = leaf.backendValue();
        if (backend && value.backend !== backend) {
          throw new Error(
            `jit: arguments live on different devices (${backend.name} and ${value.backend.name})`,
          );
        }
        backend = value.backend;
        arrays.push(leaf);
        keyParts.push(`${leaf.dtype}${fmtShape(leaf.shape)}`);
      } else {
        keyParts.push(staticKey(leaf));
      }
    }
    const target: Backend = backend ?? defaultBackend();
    const key = `${target.name}|${defToString(def)}|${keyParts.join(";")}`;
    let entry = cache.get(key);
    if (entry === undefined) {
      entry = compileEntry(
        f as (...a: never[]) => unknown,
        args,
        target,
        donatedLeaves(args, donate),
      );
      cache.set(key, entry);
    }
    if (entry === "inline") return f(...args);
    const outs = entry.run(arrays);
    for (const i of donate) {
      for (const leaf of flatten(args[i])[0]) if (leaf instanceof NDArray) leaf.dispose();
    }
    const traced = entry.traced;
    return unflatten<R>(
      traced.outDef,
      traced.outLeaves.map((l) => ("output" in l ? outs[l.output] : l.value)),
    );
  };
  return jitted;
}

/** The indices (among array leaves) of the arrays inside donated positional arguments. */
function donatedLeaves(args: readonly unknown[], donate: ReadonlySet<number>): number[] {
  const out: number[] = [];
  let k = 0;
  args.forEach((arg, i) => {
    for (const leaf of flatten(arg)[0]) {
      if (leaf instanceof NDArray) {
        if (donate.has(i)) out.push(k);
        k++;
      }
    }
  });
  return out;
}

function compileEntry(
  f: (...args: never[]) => unknown,
  args: readonly unknown[],
  backend: Backend,
  donate: readonly number[],
): CacheEntry | "inline" {
  let traced: TracedProgram;
  try {
    traced = traceProgram(f, args);
  } catch (error) {
    // f closes over a tracer of an enclosing transformation: run it inline instead.
    if (error instanceof CapturedTracerError) return "inline";
    throw error;
  }
  for (const c of traced.constValues) {
    if (c.backendValue().backend !== backend) {
      throw new Error(
        `jit: a captured constant (${c.describe()}) lives on ${c.device}, the arguments on ${backend.name}`,
      );
    }
  }
  const executable = backend.compile(traced.program, { donate });
  if (debugEnabled()) {
    console.error(
      `[droplet jit] ${traced.program.equations.length} equations\n${traced.toString()}\n${executable.describe()}`,
    );
  }
  // The compiled program owns its captured constants: a scope around the first call may free
  // the arrays created while tracing (e.g. scalars), but later calls still need their values.
  const constants = traced.constValues.map((c) => {
    const value = c.backendValue();
    value.backend.retain(value);
    return value;
  });
  return {
    traced,
    run: (arrays) => {
      const values = [...constants, ...arrays.map((a) => a.backendValue())];
      return executable.run(values).map((v) => NDArray.fromBackend(v));
    },
  };
}
