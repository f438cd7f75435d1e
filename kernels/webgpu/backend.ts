/**
 * The WebGPU backend: lazy arrays compiled to fused WGSL kernels and run through Dawn.
 *
 * `execute` only records a node; values are computed when read (`read`), when forced
 * (`flush`), or when a chain of pending nodes grows long. Realization schedules the pending
 * graph into fused kernels (`schedule.ts`), records them into one command encoder and submits
 * once. `compile` turns a traced program into a replayable plan (`compile.ts`) with memory
 * planned by liveness and donated inputs reused. Storage is counted internally (handles from
 * the autograd layer, uses by pending nodes) and recycled through a size-class pool.
 *
 * @module
 */

import type {
  Backend,
  BackendArray,
  CompileOptions,
  Executable,
  MemoryStats,
  Program,
} from "../backend.ts";
import { allocHost, type HostArray } from "../dtype.ts";
import type { Aval, Params, Primitive, PrimitiveCall } from "../primitives.ts";
import { fmtShape, sizeOf } from "../shape.ts";
import { fixedSubgroupSize, type GpuContext } from "./device.ts";
import { LazyNode, type Storage } from "./lazy.ts";
import { storageBytes, storageFormat } from "./lower_elementwise.ts";
import { Runtime, type RuntimeCounters } from "./runtime.ts";
import { schedule, type ScheduleConfig, type Step } from "./schedule.ts";
import { compileProgram } from "./compile.ts";
import type { StorageFormat } from "./ir.ts";

/** Options of {@link createWebgpuBackend}. */
export interface WebgpuOptions {
  /** Store float16 packed two per u32 even when `shader-f16` is available (tests the path
   * adapters without `shader-f16` take). */
  readonly packHalf?: boolean;
  /** Print kernels, launch sizes, WGSL and GPU times (default: `DROPLET_DEBUG` is set). */
  readonly debug?: boolean;
  /** Where debug lines go (default: stderr). */
  readonly log?: (line: string) => void;
  /** Realize a pending chain once it is this many nodes deep (bounds kernel size). */
  readonly maxPendingDepth?: number;
  /** Most workgroups a generated kernel launches (default: 256 on software adapters). */
  readonly maxWorkgroups?: number;
  /**
   * On a software adapter with a fixed subgroup size, reduce long rows one row per subgroup
   * (default true); false keeps the workgroup-memory row kernel that GPUs use (tests cover it).
   */
  readonly subgroupRows?: boolean;
}

function debugFromEnv(): boolean {
  const proc = (globalThis as { process?: { env: Record<string, string | undefined> } }).process;
  try {
    return (proc?.env["DROPLET_DEBUG"] ?? "0") !== "0";
  } catch {
    return false;
  }
}

/**
 * The WebGPU backend. Create it with {@link createWebgpuBackend}.
 *
 * @example
 * ```ts ignore
 * const gpu = await sharedGpu();
 * const backend = createWebgpuBackend(gpu)!;
 * const x = backend.fromHost(new Float32Array([1, 2]), { shape: [2], dtype: "float32" });
 * const [y] = backend.execute("exp", {}, [x], [x.aval]);
 * await backend.read(y!); // Float32Array [2.718..., 7.389...]
 * ```
 */
export class WebgpuBackend implements Backend {
  readonly name = "webgpu" as const;
  readonly runtime: Runtime;
  readonly config: ScheduleConfig;
  readonly #maxDepth: number;
  #live = new Set<LazyNode>();
  /** Set while a program is being compiled: no eager realization then. */
  #tracing = 0;

  constructor(readonly gpu: GpuContext, options: WebgpuOptions = {}) {
    this.runtime = new Runtime(gpu, {
      debug: options.debug ?? debugFromEnv(),
      ...(options.log ? { log: options.log } : {}),
    });
    this.config = {
      target: this.runtime.target,
      nativeF16: this.runtime.target.shaderF16 && !(options.packHalf ?? false),
      // A software adapter schedules each workgroup on a CPU thread at a high fixed cost: a
      // few hundred looping workgroups keep both cores busy; a GPU wants many more.
      maxWorkgroups: options.maxWorkgroups ?? (gpu.info.isSoftware ? 256 : 1 << 20),
      software: gpu.info.isSoftware,
      ...(options.subgroupRows ?? true ? fixedSubgroupSize(gpu) : {}),
    };
    this.#maxDepth = options.maxPendingDepth ?? 48;
  }

  /** Kernel launches, submits, pipelines and buffers created so far (fusion tests count them). */
  get counters(): Readonly<RuntimeCounters> {
    return this.runtime.counters;
  }

  /** The adapter's name and enabled features (for `device.info()`). */
  describeAdapter(): { adapter: string; features: readonly string[] } {
    return { adapter: this.gpu.info.name, features: this.gpu.info.features };
  }

  /** The storage layout of arrays of `aval`'s dtype on this backend. */
  formatOf(aval: Aval): StorageFormat {
    return storageFormat(aval.dtype, this.config.nativeF16);
  }

  /** @internal Wraps a node with one handle and tracks it as live. */
  adopt(node: LazyNode): LazyNode {
    node.handles = 1;
    this.#live.add(node);
    return node;
  }

  /** @internal The node behind a backend array of this backend. */
  node(x: BackendArray): LazyNode {
    if (!(x instanceof LazyNode) || x.backend !== this) {
      throw new Error(`The webgpu backend got an array of the ${x.backend.name} backend`);
    }
    if (x.dead) {
      throw new Error(`Cannot use a freed ${x.aval.dtype}${fmtShape(x.aval.shape)} array`);
    }
    return x;
  }

  fromHost(data: HostArray, aval: Aval): BackendArray {
    const n = sizeOf(aval.shape);
    if (data.length !== n) {
      throw new Error(
        `fromHost: ${data.length} elements cannot fill shape ${fmtShape(aval.shape)}`,
      );
    }
    const format = this.formatOf(aval);
    const storage = this.runtime.allocate(storageBytes(format, n));
    if (aval.dtype === "bool") {
      this.runtime.write(storage, Uint32Array.from(data as Uint8Array, (v) => (v ? 1 : 0)), n * 4);
    } else {
      this.runtime.write(storage, data, data.byteLength);
    }
    return this.adopt(new LazyNode(this, aval, { kind: "leaf" }, [], storage));
  }

  execute<P extends Primitive>(
    prim: P,
    params: Params<P>,
    inputs: readonly BackendArray[],
    outAvals: readonly Aval[],
  ): BackendArray[] {
    const nodes = inputs.map((x) => this.node(x));
    const call = { prim, params } as PrimitiveCall;
    const outs = this.record(call, nodes, outAvals);
    for (const o of outs) this.adopt(o);
    if (this.#tracing === 0 && outs.some((o) => o.depth > this.#maxDepth)) this.realize(outs);
    return outs;
  }

  /** @internal Records a primitive application as pending nodes (no handles yet). */
  record(call: PrimitiveCall, inputs: readonly LazyNode[], outAvals: readonly Aval[]): LazyNode[] {
    if (call.prim === "concatenate" && inputs.length > 8) {
      // A kernel binds every operand; a tree of 8-way concatenations keeps each one small.
      const axis = call.params.axis;
      const groups: LazyNode[] = [];
      for (let i = 0; i < inputs.length; i += 8) {
        const part = inputs.slice(i, i + 8);
        const size = part.reduce((s, x) => s + x.aval.shape[axis]!, 0);
        const shape = part[0]!.aval.shape.map((d, k) => (k === axis ? size : d));
        groups.push(...this.record(call, part, [{ shape, dtype: part[0]!.aval.dtype }]));
      }
      return this.record(call, groups, outAvals);
    }
    const outs = outAvals.map((aval, k) =>
      new LazyNode(this, aval, { kind: "op", call, output: k }, inputs)
    );
    if (outs.length > 1) { for (const o of outs) o.siblings = outs; }
    // Each output holds its inputs until it is realized or freed.
    for (let k = 0; k < outs.length; k++) for (const x of inputs) x.users++;
    return outs;
  }

  async read(x: BackendArray): Promise<HostArray> {
    const node = this.node(x);
    // The kernels computing the node and the copy to the host go out in one submit.
    if (!node.storage) this.realize([node], { submit: false });
    const storage = node.storage!;
    storage.refs++;
    const n = node.size;
    const dtype = node.aval.dtype;
    const bytes = storageBytes(this.formatOf(node.aval), n);
    try {
      const out = allocHost(dtype, n);
      // One copy, straight from the mapped staging memory into the array we return. readWith
      // submits the kernels and the copy before it first awaits.
      const pending = this.runtime.readWith(storage, bytes, (mapped) => {
        if (dtype === "bool") {
          const words = new Uint32Array(mapped, 0, n);
          const flags = out as Uint8Array;
          for (let i = 0; i < n; i++) flags[i] = words[i]! ? 1 : 0;
        } else {
          new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(
            new Uint8Array(mapped, 0, out.byteLength),
          );
        }
        return out;
      });
      touchPages(out);
      return await pending;
    } finally {
      this.runtime.release(storage);
    }
  }

  retain(x: BackendArray): void {
    this.node(x).handles++;
  }

  release(x: BackendArray): void {
    if (!(x instanceof LazyNode) || x.dead) return;
    if (x.handles <= 0) throw new Error("Internal: released an array with no handles");
    x.handles--;
    this.maybeFree(x);
  }

  /** @internal Frees `start` and whatever it kept alive, if nothing holds them any more. */
  maybeFree(start: LazyNode): void {
    const stack = [start];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n.dead || n.handles > 0 || n.users > 0) continue;
      n.dead = true;
      this.#live.delete(n);
      if (n.storage) {
        this.runtime.release(n.storage);
        n.storage = null;
      }
      for (const x of n.inputs) {
        x.users--;
        stack.push(x);
      }
      n.inputs = [];
    }
  }

  compile(program: Program, options: CompileOptions = {}): Executable {
    this.#tracing++;
    try {
      return compileProgram(this, program, options);
    } finally {
      this.#tracing--;
    }
  }

  /**
   * Computes every pending array that no other pending array uses (the sinks of the lazy
   * graph), fused as usual; intermediates between them stay lazy. Then submits.
   */
  flush(): void {
    const pending = [...this.#live].filter((n) => !n.isLeaf && n.handles > 0 && n.users === 0);
    if (pending.length > 0) this.realize(pending);
    this.runtime.submit();
  }

  /** Waits until the GPU finished all submitted work (benchmarks). */
  async sync(): Promise<void> {
    this.flush();
    await this.runtime.sync();
  }

  memoryStats(): MemoryStats {
    return {
      liveArrays: this.#live.size,
      liveBytes: this.runtime.liveBytes,
      peakBytes: this.runtime.peakBytes,
    };
  }

  /** Resets the peak of `memoryStats` to the current live bytes. */
  resetPeak(): void {
    this.runtime.peakBytes = this.runtime.liveBytes;
  }

  /**
   * @internal Computes `targets` (fused) and records the kernels; submits them unless
   * `submit` is false (the caller then records more work and submits it together).
   */
  realize(targets: readonly LazyNode[], options: { submit?: boolean } = {}): void {
    const pending = targets.filter((t) => !t.isLeaf);
    if (pending.length === 0) return;
    this.runSteps(schedule(pending, this.config), new Set(pending));
    if (options.submit ?? true) this.runtime.submit();
  }

  /** @internal Allocates, dispatches and frees for a schedule; then makes its outputs leaves. */
  runSteps(steps: readonly Step[], keep: ReadonlySet<LazyNode>): void {
    const materialized = new Set<LazyNode>();
    for (const s of steps) for (const o of s.outputs) materialized.add(o);
    const scheduledUsers = new Map<LazyNode, number>();
    for (const u of materialized) {
      for (const x of u.inputs) scheduledUsers.set(x, (scheduledUsers.get(x) ?? 0) + 1);
    }
    const lastUse = new Map<LazyNode, number>();
    steps.forEach((s, i) => s.inputs.forEach((x) => lastUse.set(x, i)));
    steps.forEach((step, i) => {
      this.runStep(step);
      for (const x of new Set(step.inputs)) {
        const freeable = lastUse.get(x) === i && materialized.has(x) && !keep.has(x) &&
          x.handles === 0 && (scheduledUsers.get(x) ?? 0) === x.users && x.storage !== null;
        if (freeable) {
          this.runtime.release(x.storage!);
          x.storage = null;
        }
      }
    });
    for (const u of materialized) {
      u.source = { kind: "leaf" };
      const inputs = u.inputs;
      u.inputs = [];
      for (const x of inputs) {
        x.users--;
        this.maybeFree(x);
      }
    }
    for (const u of materialized) this.maybeFree(u);
  }

  /** @internal Runs one step: allocates its outputs and scratch, records its kernels. */
  runStep(
    step: Step,
    storageOf: (n: LazyNode) => Storage | null = (n) => n.storage,
    bind: (n: LazyNode, s: Storage) => void = (n, s) => (n.storage = s),
  ): void {
    if (step.alias) {
      const s = storageOf(step.inputs[0]!);
      if (!s) throw new Error("Internal: aliased input has no storage");
      s.refs++;
      bind(step.outputs[0]!, s);
      return;
    }
    const buffers = new Map<string, GPUBuffer>();
    step.inputs.forEach((x, k) => {
      const s = storageOf(x);
      if (!s) throw new Error(`Internal: input ${k} of a step has no storage`);
      buffers.set(`in${k}`, s.buffer);
    });
    step.outputs.forEach((o, k) => {
      const s = this.runtime.allocate(storageBytes(this.formatOf(o.aval), o.size));
      bind(o, s);
      buffers.set(`out${k}`, s.buffer);
    });
    const scratch = step.plan.scratch.map((s) => {
      const storage = this.runtime.allocate(Math.max(4, s.bytes));
      buffers.set(s.name, storage.buffer);
      return storage;
    });
    for (const kernel of step.plan.kernels) this.runtime.dispatch(kernel, buffers);
    for (const s of scratch) this.runtime.release(s);
  }
}

/**
 * Writes one byte per 4 KiB page of a freshly allocated host array, while the GPU computes
 * what will be copied into it. The first write to each page of a new allocation is a page
 * fault, and on the 2-core VM we measure on those cost tens of microseconds each: copying a
 * 16 MB result into a fresh array took 50-100 ms after a ~15 ms kernel, and done here, in the
 * shadow of the kernel, the whole read took ~20 ms. Pages already mapped cost one store each.
 */
function touchPages(view: ArrayBufferView): void {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  for (let i = 0; i < bytes.length; i += 4096) bytes[i] = 0;
}

/**
 * The WebGPU backend on `gpu`, or null without an adapter.
 *
 * @example
 * ```ts ignore
 * import { sharedGpu } from "./device.ts";
 * const backend = createWebgpuBackend(await sharedGpu());
 * ```
 */
export function createWebgpuBackend(
  gpu: GpuContext | null,
  options: WebgpuOptions = {},
): WebgpuBackend | null {
  return gpu ? new WebgpuBackend(gpu, options) : null;
}
