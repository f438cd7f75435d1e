/**
 * The reference backend: eager, on the CPU, through the interpreter. Selected explicitly
 * (`device.use("reference")` or `DROPLET_DEVICE=reference`), never as a silent fallback.
 *
 * @module
 */

import type { Backend, BackendArray, Executable, MemoryStats, Program, Var } from "../backend.ts";
import { programToString } from "../backend.ts";
import { byteSize, type HostArray } from "../dtype.ts";
import type { Aval, Params, Primitive } from "../primitives.ts";
import { sizeOf } from "../shape.ts";
import { evaluatePrimitive } from "./interpreter.ts";
import { hostToRef, RefArray, refToHost } from "./ref_array.ts";

function asRef(x: BackendArray): RefArray {
  if (!(x instanceof RefArray)) {
    throw new Error(`Reference backend got an array of the ${x.backend.name} backend`);
  }
  return x;
}

/**
 * The CPU reference backend.
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "./backend.ts";
 * const cpu = new ReferenceBackend();
 * const x = cpu.fromHost(new Float32Array([1, 2]), { shape: [2], dtype: "float32" });
 * const [y] = cpu.execute("exp", {}, [x], [{ shape: [2], dtype: "float32" }]);
 * cpu.readSync(y!); // Float32Array [2.718..., 7.389...]
 * ```
 */
export class ReferenceBackend implements Backend {
  readonly name = "reference" as const;
  #handles = new Map<RefArray, number>();
  #liveBytes = 0;
  #peakBytes = 0;

  #track(x: RefArray): RefArray {
    this.#handles.set(x, 1);
    this.#liveBytes += sizeOf(x.aval.shape) * byteSize(x.aval.dtype);
    this.#peakBytes = Math.max(this.#peakBytes, this.#liveBytes);
    return x;
  }

  fromHost(data: HostArray, aval: Aval): BackendArray {
    if (data.length !== sizeOf(aval.shape)) {
      throw new Error(`fromHost: ${data.length} elements cannot fill shape [${aval.shape}]`);
    }
    return this.#track(new RefArray(aval, hostToRef(data, aval.dtype), this));
  }

  execute<P extends Primitive>(
    prim: P,
    params: Params<P>,
    inputs: readonly BackendArray[],
    outAvals: readonly Aval[],
  ): BackendArray[] {
    const refs = inputs.map(asRef);
    const outs = evaluatePrimitive(prim, params, refs, outAvals);
    return outs.map((data, i) => this.#track(new RefArray(outAvals[i]!, data, this)));
  }

  read(x: BackendArray): Promise<HostArray> {
    return Promise.resolve(this.readSync(x));
  }

  readonly readSync = (x: BackendArray): HostArray => {
    const ref = asRef(x);
    if (!this.#handles.has(ref)) throw new Error("Cannot read an array that was already freed");
    return refToHost(ref.data, ref.aval.dtype);
  };

  retain(x: BackendArray): void {
    const ref = asRef(x);
    const count = this.#handles.get(ref);
    if (count === undefined) throw new Error("Cannot retain an array that was already freed");
    this.#handles.set(ref, count + 1);
  }

  release(x: BackendArray): void {
    const ref = asRef(x);
    const count = this.#handles.get(ref);
    if (count === undefined) return;
    if (count > 1) {
      this.#handles.set(ref, count - 1);
      return;
    }
    this.#handles.delete(ref);
    this.#liveBytes -= sizeOf(ref.aval.shape) * byteSize(ref.aval.dtype);
  }

  compile(program: Program): Executable {
    return {
      run: (args) => interpretProgram(this, program, args),
      describe: () => `reference interpreter over:\n${programToString(program)}`,
    };
  }

  flush(): void {}

  memoryStats(): MemoryStats {
    return {
      liveArrays: this.#handles.size,
      liveBytes: this.#liveBytes,
      peakBytes: this.#peakBytes,
    };
  }
}

/**
 * Runs a program equation by equation on any backend, releasing each intermediate after its
 * last use. Backends without a compiler of their own use it as theirs.
 *
 * @example
 * ```ts ignore
 * const outs = interpretProgram(backend, program, [...consts, ...inputs]);
 * ```
 */
export function interpretProgram(
  backend: Backend,
  program: Program,
  args: readonly BackendArray[],
): BackendArray[] {
  const params = [...program.constVars, ...program.inputs];
  if (args.length !== params.length) {
    throw new Error(`Program expects ${params.length} arguments, got ${args.length}`);
  }
  const env = new Map<number, BackendArray>();
  const owned = new Set<number>();
  params.forEach((v, i) => env.set(v.id, args[i]!));
  const lastUse = new Map<number, number>();
  program.equations.forEach((eqn, i) => eqn.inputs.forEach((v) => lastUse.set(v.id, i)));
  const outputs = new Set(program.outputs.map((v) => v.id));
  const read = (v: Var): BackendArray => {
    const value = env.get(v.id);
    if (!value) throw new Error(`Program variable ${v.id} used before definition`);
    return value;
  };
  program.equations.forEach((eqn, i) => {
    const outs = backend.execute(
      eqn.call.prim,
      eqn.call.params as Params<typeof eqn.call.prim>,
      eqn.inputs.map(read),
      eqn.outputs.map((v) => v.aval),
    );
    eqn.outputs.forEach((v, j) => {
      env.set(v.id, outs[j]!);
      owned.add(v.id);
    });
    for (const v of new Set(eqn.inputs)) {
      if (lastUse.get(v.id) === i && owned.has(v.id) && !outputs.has(v.id)) {
        backend.release(env.get(v.id)!);
        owned.delete(v.id);
      }
    }
  });
  // Unused results of equations are released too; outputs that are arguments get a new handle.
  for (const id of owned) if (!outputs.has(id)) backend.release(env.get(id)!);
  const seen = new Set<number>();
  return program.outputs.map((v) => {
    const value = read(v);
    if (!owned.has(v.id) || seen.has(v.id)) backend.retain(value);
    seen.add(v.id);
    return value;
  });
}
