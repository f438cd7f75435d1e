/**
 * The narrow interface every execution backend implements (the CPU reference interpreter and
 * the WebGPU compiler), and the program IR that `jit` hands to a backend to compile.
 *
 * A backend owns its arrays' storage. The autograd layer never looks inside a
 * {@link BackendArray}; it only asks the backend to create, execute, read and release.
 *
 * @module
 */

import type { DType, HostArray } from "./dtype.ts";
import { type Aval, type Params, type Primitive, type PrimitiveCall } from "./primitives.ts";
import { fmtShape } from "./shape.ts";

/** The backends that exist. */
export type BackendName = "reference" | "webgpu";

/** An array owned by a backend: opaque outside it, except for its shape and dtype. */
export interface BackendArray {
  readonly aval: Aval;
  readonly backend: Backend;
}

/** Live memory as a backend counts it. */
export interface MemoryStats {
  /** Arrays whose storage is alive (user-visible handles, plus intermediates still needed). */
  readonly liveArrays: number;
  /** Bytes of device storage held by live arrays. */
  readonly liveBytes: number;
  /** The highest `liveBytes` seen since the backend started (or since `resetPeak`). */
  readonly peakBytes: number;
}

/** A compiled program: runs on backend arrays, returns backend arrays (possibly lazily). */
export interface Executable {
  /** Runs the program on `[...consts, ...inputs]`, in the order of `constVars` then `inputs`. */
  run(args: readonly BackendArray[]): BackendArray[];
  /** A human-readable account of what was compiled (kernels, memory plan); for debugging. */
  describe(): string;
}

/** Options for compiling a program. */
export interface CompileOptions {
  /** Indices into the program's `inputs` whose storage the program may reuse for outputs. */
  readonly donate?: readonly number[];
}

/**
 * The operations a backend provides. Every primitive of `primitives.ts` must be executable.
 */
export interface Backend {
  readonly name: BackendName;
  /** Wraps host data (raw bit patterns for half types) as a backend array; copies it. */
  fromHost(data: HostArray, aval: Aval): BackendArray;
  /** Applies a primitive; returns one array per output aval (eager or lazy). */
  execute<P extends Primitive>(
    prim: P,
    params: Params<P>,
    inputs: readonly BackendArray[],
    outAvals: readonly Aval[],
  ): BackendArray[];
  /** Reads an array's elements back to the host (raw bit patterns for half types). */
  read(x: BackendArray): Promise<HostArray>;
  /** Reads synchronously, where the backend can (the reference interpreter); else undefined. */
  readonly readSync?: (x: BackendArray) => HostArray;
  /** Marks one handle on `x` as dropped; storage is freed when nothing needs it any more. */
  release(x: BackendArray): void;
  /** Adds a handle on `x` (the counterpart of `release`). */
  retain(x: BackendArray): void;
  /** Compiles a traced program. */
  compile(program: Program, options?: CompileOptions): Executable;
  /** Forces pending lazy work to run now (no-op for eager backends). */
  flush(): void;
  /** Resolves when all submitted work has finished on the device (eager backends: at once). */
  sync?(): Promise<void>;
  memoryStats(): MemoryStats;
}

/** A variable of a program: one array-valued SSA name. */
export interface Var {
  readonly id: number;
  readonly aval: Aval;
}

/** One program step: a primitive applied to variables, binding new variables. */
export interface Equation {
  readonly call: PrimitiveCall;
  readonly inputs: readonly Var[];
  readonly outputs: readonly Var[];
}

/**
 * A traced program (like a jaxpr): SSA equations over primitives. `constVars` are bound to
 * arrays captured at trace time; `inputs` to the arguments.
 */
export interface Program {
  readonly constVars: readonly Var[];
  readonly inputs: readonly Var[];
  readonly equations: readonly Equation[];
  readonly outputs: readonly Var[];
}

function typeOf(aval: Aval): string {
  const short: Record<DType, string> = {
    float32: "f32",
    float16: "f16",
    bfloat16: "bf16",
    int32: "i32",
    uint32: "u32",
    bool: "bool",
  };
  return `${short[aval.dtype]}${fmtShape(aval.shape)}`;
}

function paramString(params: object): string {
  const entries = Object.entries(params);
  if (entries.length === 0) return "";
  return "[" + entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ") + "]";
}

/**
 * Prints a program in a jaxpr-like text form, one equation per line.
 *
 * @example
 * ```ts ignore
 * console.log(programToString(makeProgram((x) => np.tanh(x), np.zeros([3]))));
 * // { lambda ; a:f32[3]. let b:f32[3] = tanh a in (b) }
 * ```
 */
export function programToString(program: Program): string {
  const names = new Map<number, string>();
  const name = (v: Var): string => {
    let n = names.get(v.id);
    if (n === undefined) {
      let i = names.size;
      n = "";
      do {
        n = String.fromCharCode(97 + (i % 26)) + n;
        i = Math.floor(i / 26) - 1;
      } while (i >= 0);
      names.set(v.id, n);
    }
    return n;
  };
  const decl = (v: Var) => `${name(v)}:${typeOf(v.aval)}`;
  const lines: string[] = [];
  const consts = program.constVars.map(decl).join(" ");
  lines.push(`{ lambda ${consts}${consts ? " " : ""}; ${program.inputs.map(decl).join(" ")}. let`);
  for (const eqn of program.equations) {
    const outs = eqn.outputs.map(decl).join(" ");
    const ins = eqn.inputs.map(name).join(" ");
    lines.push(`    ${outs} = ${eqn.call.prim}${paramString(eqn.call.params)} ${ins}`);
  }
  lines.push(`  in (${program.outputs.map(name).join(", ")}) }`);
  return lines.join("\n");
}
