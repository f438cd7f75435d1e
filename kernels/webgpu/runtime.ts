/**
 * The Dawn runtime under the WebGPU backend: pooled buffers, a pipeline cache keyed by WGSL
 * source, many dispatches recorded into one command encoder and submitted once, asynchronous
 * readback with polite polling, and (with `DROPLET_DEBUG=1`) per-kernel GPU times from
 * timestamp queries.
 *
 * @module
 */

import type { GpuContext } from "./device.ts";
import { fixedSubgroupSize, GpuValidationError, WgslCompileError } from "./device.ts";
import type { KernelTarget } from "./kernel.ts";
import type { RuntimeKernel } from "./codegen.ts";
import { Storage } from "./lazy.ts";
import { waitForGpu } from "./gpu_wait.ts";

/**
 * The pool size class of a request: 256 bytes at least, else the next of four steps per power
 * of two (at most 25% waste).
 *
 * @example
 * ```ts
 * import { sizeClass } from "./runtime.ts";
 * sizeClass(1000); // 1024
 * sizeClass(1100); // 1280
 * ```
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const step = p / 4;
  return Math.ceil(bytes / step) * step;
}

/** Counters the runtime keeps (tests assert fusion through `launches`). */
export interface RuntimeCounters {
  /** Kernel dispatches recorded since the runtime started. */
  launches: number;
  /** Command buffers submitted. */
  submits: number;
  /** Pipelines compiled (distinct WGSL sources). */
  pipelines: number;
  /** Buffers created (pool misses). */
  buffersCreated: number;
  /** Staging buffers created for reads (staging pool misses). */
  stagingCreated: number;
  /** Dispatches that reused a cached bind group. */
  bindGroupHits: number;
}

/** Bind groups cached at most (the cache is emptied when full). */
const maxCachedBindGroups = 4096;

/** One kernel of a debug timing report. */
interface TimedKernel {
  readonly name: string;
  readonly workgroups: readonly number[];
}

/**
 * Owns GPU buffers and pipelines and records work.
 *
 * @example
 * ```ts ignore
 * const rt = new Runtime(gpu);
 * const s = rt.allocate(1024);
 * rt.dispatch(kernel, new Map([["out0", s.buffer]]));
 * rt.submit();
 * ```
 */
export class Runtime {
  readonly device: GPUDevice;
  readonly target: KernelTarget;
  readonly counters: RuntimeCounters = {
    launches: 0,
    submits: 0,
    pipelines: 0,
    buffersCreated: 0,
    stagingCreated: 0,
    bindGroupHits: 0,
  };
  /** Bytes held by live storage (not counting pooled free buffers). */
  liveBytes = 0;
  peakBytes = 0;
  /** Most bytes the pool keeps in free buffers before destroying them. */
  poolLimitBytes = 1 << 30;
  /** Most bytes kept in free staging buffers for reads. */
  stagingLimitBytes = 256 << 20;
  readonly debug: boolean;
  readonly maxBindingBytes: number;
  #pipelines = new Map<string, GPUComputePipeline>();
  #layouts = new Map<string, GPUPipelineLayout>();
  #groupLayouts = new Map<GPUPipelineLayout, GPUBindGroupLayout>();
  #kernelLayouts = new Map<string, GPUBindGroupLayout>();
  #free = new Map<number, GPUBuffer[]>();
  #pooledBytes = 0;
  #staging = new Map<number, GPUBuffer[]>();
  #stagingBytes = 0;
  #encoder: GPUCommandEncoder | null = null;
  /** Buffers released while `#encoder` was open: destroyed right after it is submitted. */
  #retired: GPUBuffer[] = [];
  #pass: GPUComputePassEncoder | null = null;
  /** The pipeline last set on `#pass`. */
  #passPipeline: GPUComputePipeline | null = null;
  #bindGroups = new Map<string, { group: GPUBindGroup; buffers: readonly GPUBuffer[] }>();
  /** Keys of the cached bind groups that bind each buffer (to drop them when it dies). */
  #groupKeys = new Map<GPUBuffer, Set<string>>();
  #bufferIds = new WeakMap<GPUBuffer, number>();
  #nextBufferId = 0;
  /** Errors found by settled error scopes, not yet reported. */
  #found: Error[] = [];
  /** Settles when every error scope opened so far has been examined. */
  #settled: Promise<unknown> = Promise.resolve();
  #timed: TimedKernel[] = [];
  #querySet: GPUQuerySet | null = null;
  #debugLog: (line: string) => void;

  constructor(
    readonly gpu: GpuContext,
    options: { debug?: boolean; log?: (line: string) => void } = {},
  ) {
    this.device = gpu.device;
    const limits = gpu.info.limits;
    this.target = {
      shaderF16: gpu.has("shader-f16"),
      subgroups: gpu.has("subgroups"),
      subgroupMinSize: gpu.info.subgroupMinSize,
      subgroupMatrixInt8: gpu.info.subgroupMatrixInt8,
      ...(gpu.info.int8MatrixUnits ? { int8MatrixUnits: gpu.info.int8MatrixUnits } : {}),
      maxWorkgroupsPerDimension: limits["maxComputeWorkgroupsPerDimension"] ?? 65535,
      maxWorkgroupStorageBytes: limits["maxComputeWorkgroupStorageSize"] ?? 16384,
      maxInvocationsPerWorkgroup: limits["maxComputeInvocationsPerWorkgroup"] ?? 256,
      maxStorageBuffersPerStage: limits["maxStorageBuffersPerShaderStage"] ?? 8,
      ...fixedSubgroupSize(gpu),
    };
    this.maxBindingBytes = Math.min(
      limits["maxStorageBufferBindingSize"] ?? 134217728,
      limits["maxBufferSize"] ?? 268435456,
    );
    this.debug = options.debug ?? false;
    this.#debugLog = options.log ?? ((line) => console.error(line));
  }

  /** Bytes held by free buffers in the pool. */
  get pooledBytes(): number {
    return this.#pooledBytes;
  }

  /** Storage of at least `bytes` bytes, reusing a pooled buffer of its size class if any. */
  allocate(bytes: number): Storage {
    if (bytes > this.maxBindingBytes) {
      throw new Error(
        `Cannot allocate ${bytes} bytes: the adapter binds at most ${this.maxBindingBytes} bytes per buffer`,
      );
    }
    const capacity = Math.min(sizeClass(bytes), Math.max(bytes, this.maxBindingBytes));
    const list = this.#free.get(capacity);
    let buffer = list?.pop();
    if (buffer) {
      this.#pooledBytes -= capacity;
    } else {
      buffer = this.device.createBuffer({
        size: capacity,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      this.counters.buffersCreated++;
    }
    this.liveBytes += capacity;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    return new Storage(buffer, capacity);
  }

  /** Drops one reference; at zero the buffer returns to the pool (or is destroyed). */
  release(storage: Storage): void {
    if (--storage.refs > 0) return;
    if (storage.refs < 0) throw new Error("Internal: storage released twice");
    this.liveBytes -= storage.capacity;
    if (this.#pooledBytes + storage.capacity > this.poolLimitBytes) {
      this.#retire(storage.buffer);
      return;
    }
    let list = this.#free.get(storage.capacity);
    if (!list) this.#free.set(storage.capacity, list = []);
    list.push(storage.buffer);
    this.#pooledBytes += storage.capacity;
  }

  /**
   * Destroys every pooled free buffer (after recorded work that may use them is submitted) and
   * every free staging buffer.
   */
  trimPool(): void {
    for (const list of this.#free.values()) for (const b of list) this.#retire(b);
    this.#free.clear();
    this.#pooledBytes = 0;
    for (const list of this.#staging.values()) for (const b of list) b.destroy();
    this.#staging.clear();
    this.#stagingBytes = 0;
  }

  /**
   * Destroys a buffer no array holds any more. WebGPU lets a buffer be destroyed once the
   * command buffers that use it are submitted (the GPU keeps it until they finish), but a
   * command buffer that still references a destroyed buffer fails to submit ("used in submit
   * while destroyed") and none of its kernels run. Releases happen while kernels are being
   * recorded (a step's scratch, intermediates after their last reader, donated arguments), so
   * while an encoder is open the destruction waits for its submit.
   */
  #retire(buffer: GPUBuffer): void {
    if (this.#encoder) this.#retired.push(buffer);
    else this.#destroy(buffer);
  }

  /** Writes host bytes into storage (after any recorded work was submitted). */
  write(storage: Storage, data: ArrayBufferView, byteLength: number): void {
    this.submit();
    const padded = Math.ceil(byteLength / 4) * 4;
    if (padded === byteLength) {
      this.device.queue.writeBuffer(storage.buffer, 0, data.buffer, data.byteOffset, byteLength);
    } else {
      const tmp = new Uint8Array(padded);
      tmp.set(new Uint8Array(data.buffer, data.byteOffset, byteLength));
      this.device.queue.writeBuffer(storage.buffer, 0, tmp);
    }
  }

  /** The compute pipeline of a kernel (compiled once per distinct source). */
  pipeline(kernel: RuntimeKernel): GPUComputePipeline {
    let p = this.#pipelines.get(kernel.code);
    if (p) return p;
    if (this.debug) {
      this.#debugLog(`[droplet kernel] ${kernel.name} compile\n${kernel.code}`);
    }
    this.device.pushErrorScope("internal");
    this.device.pushErrorScope("validation");
    const module = this.device.createShaderModule({ label: kernel.name, code: kernel.code });
    p = this.device.createComputePipeline({
      label: kernel.name,
      layout: this.#layout(kernel),
      compute: { module, entryPoint: "main" },
    });
    const name = kernel.name, code = kernel.code;
    const validation = this.device.popErrorScope();
    const internal = this.device.popErrorScope();
    this.#track(
      Promise.all([validation, internal]).then(async ([v, i]) => {
        const error = v ?? i;
        if (!error) return null;
        // Forget the broken pipeline so that a later use reports this error again.
        this.#pipelines.delete(code);
        const info = await module.getCompilationInfo().catch(() => null);
        const messages = (info?.messages ?? [])
          .filter((m) => m.type === "error")
          .map((m) => ({ line: m.lineNum, column: m.linePos, text: m.message }));
        if (messages.length > 0) return new WgslCompileError(name, messages, code);
        return new GpuValidationError(`Kernel "${name}"`, error.message);
      }),
    );
    this.#pipelines.set(kernel.code, p);
    this.counters.pipelines++;
    return p;
  }

  /**
   * An explicit pipeline layout from the kernel's bindings (an "auto" layout would drop
   * bindings the shader does not use, and the bind group would no longer match it).
   */
  #layout(kernel: RuntimeKernel): GPUPipelineLayout {
    const key = kernel.bindings.map((b) => b.access).join(",");
    let layout = this.#layouts.get(key);
    if (!layout) {
      const group = this.device.createBindGroupLayout({
        entries: kernel.bindings.map((b, i) => ({
          binding: i,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: b.access === "read" ? "read-only-storage" : "storage" },
        })),
      });
      layout = this.device.createPipelineLayout({ bindGroupLayouts: [group] });
      this.#layouts.set(key, layout);
      this.#groupLayouts.set(layout, group);
    }
    return layout;
  }

  /** Records one dispatch; `buffers` maps binding names (`in0`, `out0`, scratch) to buffers. */
  dispatch(kernel: RuntimeKernel, buffers: ReadonlyMap<string, GPUBuffer>): void {
    const pipeline = this.pipeline(kernel);
    this.#encoder ??= this.device.createCommandEncoder();
    if (kernel.clear && kernel.clear.length > 0) {
      this.#endPass();
      for (const name of kernel.clear) {
        this.#encoder.clearBuffer(this.#buffer(buffers, name, kernel));
      }
    }
    const bindGroup = this.#bindGroup(kernel, buffers);
    if (this.debug) {
      this.#debugLog(
        `[droplet kernel] ${kernel.name} workgroups=[${kernel.workgroups.join(",")}]`,
      );
    }
    const timing = this.debug && this.gpu.has("timestamp-query");
    if (timing) {
      this.#endPass();
      this.#querySet ??= this.device.createQuerySet({ type: "timestamp", count: 4096 });
      const i = this.#timed.length;
      if (i >= 2048) {
        this.submit();
        this.#encoder = this.device.createCommandEncoder();
        return this.dispatch(kernel, buffers);
      }
      this.#pass = this.#encoder.beginComputePass({
        timestampWrites: {
          querySet: this.#querySet,
          beginningOfPassWriteIndex: 2 * i,
          endOfPassWriteIndex: 2 * i + 1,
        },
      });
      this.#timed.push({ name: kernel.name, workgroups: kernel.workgroups });
    }
    this.#pass ??= this.#encoder.beginComputePass();
    // Replays of one kernel over many inputs (and chains of one template) skip the rebind.
    if (this.#passPipeline !== pipeline) {
      this.#pass.setPipeline(pipeline);
      this.#passPipeline = pipeline;
    }
    this.#pass.setBindGroup(0, bindGroup);
    const [x, y, z] = kernel.workgroups;
    this.#pass.dispatchWorkgroups(x, y, z);
    if (timing) this.#endPass();
    this.counters.launches++;
  }

  /**
   * The bind group of `kernel` over `buffers`, cached by layout and buffer identity: pooled
   * buffers come back in the same order call after call, so a jit replay or a training loop
   * binds the same buffers again, and `createBindGroup` was a third of a dispatch's CPU cost.
   * Entries are dropped when one of their buffers is destroyed.
   */
  #bindGroup(kernel: RuntimeKernel, buffers: ReadonlyMap<string, GPUBuffer>): GPUBindGroup {
    const accessKey = kernel.bindings.map((b) => b.access).join(",");
    let groupLayout = this.#kernelLayouts.get(accessKey);
    if (!groupLayout) {
      groupLayout = this.#groupLayouts.get(this.#layout(kernel))!;
      this.#kernelLayouts.set(accessKey, groupLayout);
    }
    const bound = kernel.bindings.map((b) => this.#buffer(buffers, b.buffer, kernel));
    let key = accessKey;
    for (const b of bound) key += `|${this.#bufferId(b)}`;
    const cached = this.#bindGroups.get(key);
    if (cached) {
      this.counters.bindGroupHits++;
      return cached.group;
    }
    const group = this.device.createBindGroup({
      layout: groupLayout,
      entries: bound.map((buffer, i) => ({ binding: i, resource: { buffer } })),
    });
    if (this.#bindGroups.size >= maxCachedBindGroups) this.#forgetBindGroups();
    const distinct = [...new Set(bound)];
    this.#bindGroups.set(key, { group, buffers: distinct });
    for (const b of distinct) {
      let keys = this.#groupKeys.get(b);
      if (!keys) this.#groupKeys.set(b, keys = new Set());
      keys.add(key);
    }
    return group;
  }

  #bufferId(buffer: GPUBuffer): number {
    let id = this.#bufferIds.get(buffer);
    if (id === undefined) this.#bufferIds.set(buffer, id = this.#nextBufferId++);
    return id;
  }

  #forgetBindGroups(): void {
    this.#bindGroups.clear();
    this.#groupKeys.clear();
  }

  /** Destroys a storage buffer and the cached bind groups that reference it. */
  #destroy(buffer: GPUBuffer): void {
    const keys = this.#groupKeys.get(buffer);
    if (keys) {
      this.#groupKeys.delete(buffer);
      for (const k of keys) {
        const entry = this.#bindGroups.get(k);
        this.#bindGroups.delete(k);
        for (const b of entry?.buffers ?? []) this.#groupKeys.get(b)?.delete(k);
      }
    }
    buffer.destroy();
  }

  #buffer(buffers: ReadonlyMap<string, GPUBuffer>, name: string, kernel: RuntimeKernel): GPUBuffer {
    const b = buffers.get(name);
    if (!b) {
      throw new Error(`Internal: kernel ${kernel.name} binds "${name}", which was not provided`);
    }
    return b;
  }

  #endPass(): void {
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
      this.#passPipeline = null;
    }
  }

  /** Submits everything recorded so far as one command buffer (no-op when nothing is). */
  submit(): void {
    if (!this.#encoder) return;
    this.#endPass();
    const encoder = this.#encoder;
    this.#encoder = null;
    // Errors of a bad kernel resurface at finish/submit ("invalid due to a previous error"):
    // capture them so they are reported once, after the kernel's own compile error.
    this.device.pushErrorScope("validation");
    let timing: { buffer: GPUBuffer; kernels: TimedKernel[] } | null = null;
    if (this.#timed.length > 0 && this.#querySet) {
      const n = this.#timed.length * 2;
      const resolve = this.device.createBuffer({
        size: n * 8,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      });
      const staging = this.device.createBuffer({
        size: n * 8,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      encoder.resolveQuerySet(this.#querySet, 0, n, resolve, 0);
      encoder.copyBufferToBuffer(resolve, 0, staging, 0, n * 8);
      timing = { buffer: staging, kernels: this.#timed };
      this.#timed = [];
      this.device.queue.submit([encoder.finish()]);
      resolve.destroy();
    } else {
      this.device.queue.submit([encoder.finish()]);
    }
    this.counters.submits++;
    const retired = this.#retired;
    this.#retired = [];
    for (const b of retired) this.#destroy(b);
    this.#track(
      this.device.popErrorScope().then((e) =>
        e ? new GpuValidationError("Submitting recorded kernels", e.message) : null
      ),
    );
    if (timing) {
      const { buffer, kernels } = timing;
      waitForGpu(buffer.mapAsync(GPUMapMode.READ)).then(() => {
        const t = new BigInt64Array(buffer.getMappedRange());
        kernels.forEach((k, i) => {
          const ns = Number(t[2 * i + 1]! - t[2 * i]!);
          this.#debugLog(`[droplet time] ${k.name} ${(ns / 1e3).toFixed(1)} us`);
        });
        buffer.destroy();
      }).catch(() => buffer.destroy());
    }
  }

  #track(scope: Promise<Error | null>): void {
    const recorded = scope.then((e) => {
      if (e) this.#found.push(e);
    });
    this.#settled = Promise.all([this.#settled, recorded]);
  }

  /** Throws the first pipeline or validation error recorded since the last check. */
  async checkErrors(): Promise<void> {
    await waitForGpu(this.#settled);
    const errors = this.#found;
    this.#found = [];
    // A kernel's own compile error explains the submit errors that follow from it.
    const first = errors.find((e) => e instanceof WgslCompileError) ??
      errors.find((e) => e !== null);
    if (first) throw first;
    this.gpu.check();
  }

  /**
   * Copies `bytes` bytes of storage to the host and hands them to `consume`, which must copy
   * what it keeps: the `ArrayBuffer` it gets is the mapped staging memory, detached as soon as
   * `consume` returns. This saves the extra host copy (and the fresh allocation) that returning
   * a sliced `ArrayBuffer` costs; at 64 MB each such copy is tens of milliseconds, most of it
   * first-touch page faults. The copy into staging is recorded into the current command encoder,
   * so the kernels that produce the storage and the copy go out in one submit; it is recorded
   * before the first await, so the storage may be released right after the call.
   */
  async readWith<T>(
    storage: Storage,
    bytes: number,
    consume: (mapped: ArrayBuffer) => T,
  ): Promise<T> {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    if (size > storage.capacity) {
      throw new Error(`Cannot read ${bytes} bytes from a buffer of ${storage.capacity} bytes`);
    }
    const staging = this.#takeStaging(size);
    this.#encoder ??= this.device.createCommandEncoder();
    this.#endPass();
    this.#encoder.copyBufferToBuffer(storage.buffer, 0, staging.buffer, 0, size);
    this.submit();
    // Map while the error scopes settle, not after: both wait on the same polling.
    const mapping = waitForGpu(staging.buffer.mapAsync(GPUMapMode.READ, 0, size));
    mapping.catch(() => {}); // awaited below unless checkErrors throws first
    try {
      await this.checkErrors();
      await mapping;
      this.gpu.check();
    } catch (error) {
      // Destroying aborts a pending map; the copy was submitted, so that is allowed.
      staging.buffer.destroy();
      throw error;
    }
    try {
      return consume(staging.buffer.getMappedRange(0, size));
    } finally {
      staging.buffer.unmap();
      this.#returnStaging(staging);
    }
  }

  /**
   * Copies `bytes` bytes of storage to a new `ArrayBuffer` (see {@link Runtime.readWith}, which
   * avoids the copy this makes when the caller converts the bytes anyway).
   */
  read(storage: Storage, bytes: number): Promise<ArrayBuffer> {
    return this.readWith(storage, bytes, (mapped) => mapped.slice(0, bytes));
  }

  /** Bind groups in the cache (each binds only live or pooled buffers). */
  get cachedBindGroups(): number {
    return this.#bindGroups.size;
  }

  /** Bytes held by free staging (MAP_READ) buffers. */
  get stagingBytes(): number {
    return this.#stagingBytes;
  }

  /**
   * A MAP_READ staging buffer of at least `size` bytes, pooled by size class: creating one per
   * read costs a fresh host allocation the GPU writes into (page faults, driver pinning) and,
   * on lavapipe, made mapping a 64 MB read ~20x slower than into a reused buffer.
   */
  #takeStaging(size: number): { buffer: GPUBuffer; capacity: number } {
    const capacity = sizeClass(size);
    const buffer = this.#staging.get(capacity)?.pop();
    if (buffer) {
      this.#stagingBytes -= capacity;
      return { buffer, capacity };
    }
    this.counters.stagingCreated++;
    return {
      buffer: this.device.createBuffer({
        size: capacity,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      }),
      capacity,
    };
  }

  /** Pools an unmapped staging buffer (no pending GPU work uses it: its map completed). */
  #returnStaging(staging: { buffer: GPUBuffer; capacity: number }): void {
    if (this.#stagingBytes + staging.capacity > this.stagingLimitBytes) {
      staging.buffer.destroy();
      return;
    }
    let list = this.#staging.get(staging.capacity);
    if (!list) this.#staging.set(staging.capacity, list = []);
    list.push(staging.buffer);
    this.#stagingBytes += staging.capacity;
  }

  /** Resolves when every submitted command has finished. */
  async sync(): Promise<void> {
    this.submit();
    await this.checkErrors();
    await waitForGpu(this.device.queue.onSubmittedWorkDone());
  }
}
