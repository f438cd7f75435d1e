/**
 * A minimal executor of {@link KernelPlan}s on the shared Dawn device, for testing and timing the
 * kernel templates without the WebGPU backend: one buffer per input, output and scratch entry,
 * one pipeline per kernel source, dispatches in plan order, readback of the outputs.
 *
 * Outputs and scratch are filled with NaN bit patterns before the plan runs (by default; see
 * {@link BindOptions.fill}), so a kernel that forgets to write an element (or reads scratch it
 * never wrote) fails the comparison instead of passing on WebGPU's zero-initialized memory.
 *
 * @module
 */

import process from "node:process";
import { fixedSubgroupSize, type GpuContext } from "../../../../kernels/webgpu/device.ts";
import type { Kernel, KernelPlan, KernelTarget } from "../../../../kernels/webgpu/kernel.ts";

type Immediate = (callback: (...args: unknown[]) => void, ...args: unknown[]) => unknown;

/**
 * Runs `wait` with `setImmediate` replaced by a 1 ms timer. dawn.node completes its promises by
 * re-arming `setImmediate` until the GPU is done, which under Deno is a busy loop that takes one
 * of the two cores lavapipe computes on (measured: a 3-dispatch attention run took 550 ms with
 * the busy loop, 183 ms with 1 ms timers). The global is restored afterwards.
 *
 * @example
 * ```ts ignore
 * await withTimerPolling(() => gpu.sync());
 * ```
 */
export async function withTimerPolling<T>(wait: () => Promise<T>): Promise<T> {
  const g = globalThis as unknown as { setImmediate?: Immediate };
  const original = g.setImmediate;
  if (!("Deno" in globalThis) || original === undefined) return await wait();
  g.setImmediate = (callback, ...args) => setTimeout(() => callback(...args), 1);
  try {
    return await wait();
  } finally {
    g.setImmediate = original;
  }
}

/**
 * The capabilities of `gpu` as kernel generators see them, with optional overrides (tests use
 * small limits to force 2-D grids and small tiles).
 *
 * @example
 * ```ts ignore
 * const target = kernelTarget(gpu, { maxWorkgroupsPerDimension: 4 });
 * ```
 */
export function kernelTarget(gpu: GpuContext, overrides: Partial<KernelTarget> = {}): KernelTarget {
  const limit = (name: string): number => {
    const value = gpu.info.limits[name];
    if (value === undefined) throw new Error(`Adapter reports no limit "${name}"`);
    return value;
  };
  return {
    shaderF16: gpu.has("shader-f16"),
    subgroups: gpu.has("subgroups"),
    subgroupMinSize: gpu.info.subgroupMinSize,
    maxWorkgroupsPerDimension: limit("maxComputeWorkgroupsPerDimension"),
    maxWorkgroupStorageBytes: limit("maxComputeWorkgroupStorageSize"),
    maxInvocationsPerWorkgroup: limit("maxComputeInvocationsPerWorkgroup"),
    maxStorageBuffersPerStage: limit("maxStorageBuffersPerShaderStage"),
    subgroupMatrixInt8: gpu.info.subgroupMatrixInt8,
    ...(gpu.info.int8MatrixUnits ? { int8MatrixUnits: gpu.info.int8MatrixUnits } : {}),
    ...fixedSubgroupSize(gpu),
    ...overrides,
  };
}

interface BoundPipeline {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

const pipelineCache = new WeakMap<GpuContext, Map<string, Promise<BoundPipeline>>>();

/**
 * The kernel's pipeline with an explicit layout from its binding list (an automatic layout would
 * drop bindings the shader never reads, e.g. the scalar view of a matmul operand read as `vec4`).
 */
function pipelineFor(gpu: GpuContext, kernel: Kernel): Promise<BoundPipeline> {
  let cache = pipelineCache.get(gpu);
  if (!cache) {
    cache = new Map();
    pipelineCache.set(gpu, cache);
  }
  const key = `${kernel.bindings.map((b) => b.access).join(",")}\n${kernel.code}`;
  let pipeline = cache.get(key);
  if (!pipeline) {
    const layout = gpu.device.createBindGroupLayout({
      entries: kernel.bindings.map((b, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: b.access === "read" ? "read-only-storage" as const : "storage" as const },
      })),
    });
    const pipelineLayout = gpu.device.createPipelineLayout({ bindGroupLayouts: [layout] });
    pipeline = gpu.compile(kernel.name, kernel.code, "main", pipelineLayout)
      .then((compiled) => ({ pipeline: compiled, layout }));
    // A failed compile must not poison the cache for the next attempt.
    pipeline.catch(() => cache.delete(key));
    cache.set(key, pipeline);
  }
  return pipeline;
}

/**
 * A plan bound to device buffers, ready to dispatch repeatedly.
 *
 * @example
 * ```ts ignore
 * const bound = await bindPlan(gpu, plan, [x], [n * 4]);
 * bound.submit();
 * const out = await bound.readOutput(0);
 * bound.destroy();
 * ```
 */
export interface BoundPlan {
  /** Encodes and submits every kernel of the plan once (one command buffer). */
  submit(times?: number): void;
  /** Reads output `k` back (after the submitted work completes). */
  readOutput(k: number): Promise<ArrayBuffer>;
  /** Frees the buffers. */
  destroy(): void;
}

const storageUsage = () =>
  GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

function nanFill(bytes: number): Uint32Array {
  // 0x7fc0_7e00: a quiet float32 NaN whose low half is a float16 NaN, so both dtypes read NaN.
  return new Uint32Array(Math.ceil(bytes / 4)).fill(0x7fc07e00);
}

/**
 * Options of {@link bindPlan}.
 *
 * @example
 * ```ts ignore
 * const timing: BindOptions = { shared: uploadInputs(gpu, [q, k, v]), fill: false };
 * ```
 */
export interface BindOptions {
  /**
   * Buffers made elsewhere (e.g. by {@link uploadInputs}), bound by name (`in0`, ...) instead of
   * creating them; `destroy()` leaves them alone. Timing sweeps share gigabytes of inputs across
   * plans this way instead of uploading them again for every plan.
   */
  readonly shared?: ReadonlyMap<string, GPUBuffer>;
  /**
   * Fill outputs and scratch with NaN from the host before the plan runs (default true: a kernel
   * that skips an element fails its check). Off for timing, where uploading the fill of large
   * buffers only costs time: the buffers are then cleared to zeros on the GPU, which still shows
   * an unwritten output. (They must be cleared: the device turns off Dawn's lazy clearing of new
   * buffers, so a new buffer may hold whatever a freed one held, e.g. a previous plan's output.)
   */
  readonly fill?: boolean;
}

/** `bytes` rounded up to whole words, at least one: the size of a plan's storage buffer. */
const wordSize = (bytes: number) => Math.max(4, Math.ceil(bytes / 4) * 4);

/** Creates a storage buffer of at least `bytes` (rounded up to words), filled from `data`. */
function createFilled(
  device: GPUDevice,
  name: string,
  bytes: number,
  data: ArrayBufferView | null,
): GPUBuffer {
  const size = wordSize(bytes);
  const buffer = device.createBuffer({ label: name, size, usage: storageUsage() });
  if (data !== null) {
    const padded = new Uint8Array(size);
    padded.set(new Uint8Array(data.buffer, data.byteOffset, Math.min(data.byteLength, size)));
    device.queue.writeBuffer(buffer, 0, padded);
  }
  return buffer;
}

/**
 * Uploads `inputs` as buffers `in0`, `in1`, ... once, for {@link BindOptions.shared}. The caller
 * destroys them.
 *
 * @example
 * ```ts ignore
 * const inputs = uploadInputs(gpu, [q, k, v]);
 * const bound = await bindPlan(gpu, plan, [], outBytes, { shared: inputs, fill: false });
 * ```
 */
export function uploadInputs(
  gpu: GpuContext,
  inputs: readonly ArrayBufferView[],
): Map<string, GPUBuffer> {
  return new Map(
    inputs.map((data, k) => [`in${k}`, createFilled(gpu.device, `in${k}`, data.byteLength, data)]),
  );
}

/**
 * Creates buffers for a plan's inputs (uploaded from `inputs`, or taken from
 * {@link BindOptions.shared}), outputs (`outputBytes` each) and scratch, and compiles its
 * kernels. Throws if a binding names a buffer the plan does not have.
 *
 * @example
 * ```ts ignore
 * const bound = await bindPlan(gpu, convPlan(spec, target), [x, w], [outBytes]);
 * ```
 */
export async function bindPlan(
  gpu: GpuContext,
  plan: KernelPlan,
  inputs: readonly ArrayBufferView[],
  outputBytes: readonly number[],
  options: BindOptions = {},
): Promise<BoundPlan> {
  const device = gpu.device;
  const fill = options.fill ?? true;
  const buffers = new Map<string, GPUBuffer>(options.shared ?? []);
  const owned: GPUBuffer[] = [];
  // Buffers created without data (outputs and scratch when not filled): cleared on the GPU.
  const unwritten: GPUBuffer[] = [];
  const create = (name: string, bytes: number, data: ArrayBufferView | null) => {
    if (buffers.has(name)) throw new Error(`Buffer "${name}" is both shared and created`);
    const buffer = createFilled(device, name, bytes, data);
    owned.push(buffer);
    if (data === null) unwritten.push(buffer);
    buffers.set(name, buffer);
  };
  inputs.forEach((data, k) => create(`in${k}`, data.byteLength, data));
  outputBytes.forEach((bytes, k) => create(`out${k}`, bytes, fill ? nanFill(bytes) : null));
  for (const { name, bytes } of plan.scratch) {
    if (buffers.has(name)) throw new Error(`Scratch buffer "${name}" shadows another buffer`);
    create(name, bytes, fill ? nanFill(bytes) : null);
  }
  if (unwritten.length > 0) {
    const encoder = device.createCommandEncoder();
    for (const buffer of unwritten) encoder.clearBuffer(buffer);
    device.queue.submit([encoder.finish()]);
  }
  const steps = await withTimerPolling(() =>
    Promise.all(plan.kernels.map(async (kernel) => {
      const { pipeline, layout } = await pipelineFor(gpu, kernel);
      const entries = kernel.bindings.map((binding, i) => {
        const buffer = buffers.get(binding.buffer);
        if (!buffer) {
          throw new Error(
            `Kernel "${kernel.name}" binds "${binding.buffer}", which the plan does not have ` +
              `(buffers: ${[...buffers.keys()].join(", ")})`,
          );
        }
        return { binding: i, resource: { buffer } };
      });
      const bindGroup = device.createBindGroup({ layout, entries });
      return { pipeline, bindGroup, workgroups: kernel.workgroups };
    }))
  );
  gpu.check();
  return {
    submit(times = 1) {
      const encoder = device.createCommandEncoder();
      for (let t = 0; t < times; t++) {
        for (const step of steps) {
          // One pass per kernel: later kernels must see earlier kernels' writes.
          const pass = encoder.beginComputePass();
          pass.setPipeline(step.pipeline);
          pass.setBindGroup(0, step.bindGroup);
          pass.dispatchWorkgroups(...step.workgroups);
          pass.end();
        }
      }
      device.queue.submit([encoder.finish()]);
    },
    async readOutput(k) {
      const bytes = outputBytes[k];
      const buffer = buffers.get(`out${k}`);
      if (bytes === undefined || !buffer) throw new Error(`The plan has no output ${k}`);
      return await withTimerPolling(() => gpu.read(buffer, wordSize(bytes)));
    },
    destroy() {
      for (const buffer of owned) buffer.destroy();
    },
  };
}

/**
 * Median milliseconds per pass of a bound plan: after `warmup` passes, three samples of `reps`
 * passes in one submit each, waited on with 1 ms timers (see {@link withTimerPolling}). Wall
 * time over many passes per submit, so per-submit costs are spread and no readback is timed.
 *
 * @example
 * ```ts ignore
 * const ms = await medianPassMs(gpu, bound, 5);
 * ```
 */
export async function medianPassMs(
  gpu: GpuContext,
  bound: BoundPlan,
  reps: number,
  warmup = 1,
): Promise<number> {
  bound.submit(warmup);
  await withTimerPolling(() => gpu.sync());
  const samples: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    bound.submit(reps);
    await withTimerPolling(() => gpu.sync());
    samples.push((performance.now() - t0) / reps);
  }
  return samples.sort((x, y) => x - y)[1]!;
}

/**
 * Runs a plan once and returns its outputs' bytes.
 *
 * @example
 * ```ts ignore
 * const [out] = await runPlan(gpu, plan, [new Float32Array(x)], [n * 4]);
 * ```
 */
export async function runPlan(
  gpu: GpuContext,
  plan: KernelPlan,
  inputs: readonly ArrayBufferView[],
  outputBytes: readonly number[],
): Promise<ArrayBuffer[]> {
  const bound = await bindPlan(gpu, plan, inputs, outputBytes);
  try {
    bound.submit();
    const outs: ArrayBuffer[] = [];
    for (let k = 0; k < outputBytes.length; k++) {
      outs.push((await bound.readOutput(k)).slice(0, outputBytes[k]!));
    }
    await withTimerPolling(() => gpu.sync());
    return outs;
  } finally {
    bound.destroy();
  }
}

/**
 * CPU milliseconds used so far by every thread of this process except the main one, read from
 * `/proc` (Linux); the whole process's CPU time elsewhere.
 *
 * @example
 * ```ts ignore
 * const before = workerCpuMs();
 * // ... run GPU work ...
 * console.log(workerCpuMs() - before, "ms of lavapipe worker CPU");
 * ```
 */
export function workerCpuMs(): number {
  const pid = Deno.pid;
  try {
    let ticks = 0;
    for (const entry of Deno.readDirSync(`/proc/${pid}/task`)) {
      if (entry.name === String(pid)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${pid}/task/${entry.name}/stat`);
        // Fields after the parenthesized command: utime and stime are the 12th and 13th.
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        ticks += Number(fields[11]) + Number(fields[12]);
      } catch {
        // The thread exited between listing and reading.
      }
    }
    return ticks * 10; // USER_HZ is 100 on Linux.
  } catch {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  }
}

/**
 * Timing of one run of a plan: median wall time and the worker CPU time it took.
 *
 * @example
 * ```ts ignore
 * const { wallMs, cpuMs }: PlanTiming = await timePlan(gpu, plan, inputs, outBytes);
 * ```
 */
export interface PlanTiming {
  /** Median wall-clock milliseconds per run. */
  readonly wallMs: number;
  /**
   * Median CPU milliseconds per run of every thread but the JavaScript one (lavapipe's workers
   * do the work; the JavaScript thread only polls). On a shared machine this is steadier than
   * wall time; divided by the core count it estimates the wall time on an idle machine. Falls
   * back to the whole process's CPU time where `/proc` is unavailable.
   */
  readonly cpuMs: number;
}

/**
 * Times a plan over `repeats` submissions after a warm-up (whose first dispatch includes
 * lavapipe's JIT compile), waiting with {@link withTimerPolling}.
 *
 * @example
 * ```ts ignore
 * const { wallMs } = await timePlan(gpu, plan, [q, k, v], [outBytes, lseBytes]);
 * ```
 */
export async function timePlan(
  gpu: GpuContext,
  plan: KernelPlan,
  inputs: readonly ArrayBufferView[],
  outputBytes: readonly number[],
  repeats = 3,
): Promise<PlanTiming> {
  const bound = await bindPlan(gpu, plan, inputs, outputBytes);
  try {
    bound.submit();
    await withTimerPolling(() => gpu.sync());
    const walls: number[] = [], cpus: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const cpu0 = workerCpuMs();
      const start = performance.now();
      bound.submit();
      await withTimerPolling(() => gpu.sync());
      walls.push(performance.now() - start);
      cpus.push(workerCpuMs() - cpu0);
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return { wallMs: median(walls), cpuMs: median(cpus) };
  } finally {
    bound.destroy();
  }
}
