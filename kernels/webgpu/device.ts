/**
 * One `GPUDevice` through Dawn, with the features and limits we use, and errors that throw.
 *
 * WebGPU reports most failures asynchronously (validation errors as `uncapturederror` events,
 * device loss as a promise, shader errors as compilation messages). Left alone, a bad kernel
 * shows up as zeros in a readback or as a readback that never resolves. This module turns each
 * of them into a thrown error that names the kernel, at the call that can be blamed.
 *
 * @module
 */

import type { Int8MatrixUnits } from "./kernel.ts";
import { probeInt8MatrixUnits } from "./int8_matrix_probe.ts";
import { existsSync as fsExistsSync } from "node:fs";
import { loadGpu, runtimeName } from "./binding.ts";
import { usePollScheduleFor } from "./gpu_wait.ts";

/** Optional features we request whenever the adapter offers them. */
export const wantedFeatures = ["shader-f16", "subgroups", "timestamp-query"] as const;

/** What `requestAdapter` found, in plain data. */
export interface AdapterReport {
  /** Human-readable adapter name, e.g. `"llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)"`. */
  readonly name: string;
  readonly vendor: string;
  readonly architecture: string;
  /** True for CPU implementations (lavapipe/llvmpipe, SwiftShader, WARP). */
  readonly isSoftware: boolean;
  /** Features enabled on our device (a subset of what the adapter offers). */
  readonly features: readonly string[];
  /** The limits of our device (we request the adapter's maxima). */
  readonly limits: Readonly<Record<string, number>>;
  /** The adapter's smallest and largest subgroup sizes (0 when it does not say). */
  readonly subgroupMinSize: number;
  readonly subgroupMaxSize: number;
  /**
   * The adapter's subgroup matrix configurations as `"i8 x i8 -> i32 16x16x32"` (`M x N x K`);
   * empty when it has none or the feature is not offered.
   */
  readonly subgroupMatrixConfigs: readonly string[];
  /**
   * `chromium-experimental-subgroup-matrix` is enabled and offers 16x16x32 int8 x int8 -> int32
   * products on a fixed 32-lane subgroup (see `templates/attention_int8.ts`).
   */
  readonly subgroupMatrixInt8: boolean;
  /**
   * How int8 subgroup-matrix loads count their offsets and strides on this device, found by the
   * start-up probe (`int8_matrix_probe.ts`); null where there are none, or no convention fit
   * (then {@link AdapterReport.subgroupMatrixInt8} is false too).
   */
  readonly int8MatrixUnits: Int8MatrixUnits | null;
  /** What the int8 subgroup-matrix probe found, or why it did not run. */
  readonly int8MatrixNote: string;
  /** The JavaScript runtime and binding this device came through. */
  readonly runtime: string;
}

/** The experimental feature that exposes subgroup matrices (needs Dawn's `allow_unsafe_apis`). */
const subgroupMatrixFeature = "chromium-experimental-subgroup-matrix";

/** One entry of Dawn's `GPUAdapterInfo.subgroupMatrixConfigs`. */
interface SubgroupMatrixConfig {
  readonly componentType: string;
  readonly resultComponentType: string;
  readonly M: number;
  readonly N: number;
  readonly K: number;
}

/** `"i8 x i8 -> i32 16x16x32"` for a configuration. */
function describeMatrixConfig(c: SubgroupMatrixConfig): string {
  return `${c.componentType} x ${c.componentType} -> ${c.resultComponentType} ${c.M}x${c.N}x${c.K}`;
}

/** A WGSL kernel failed to compile; the message names the kernel and quotes the offending lines. */
export class WgslCompileError extends Error {
  constructor(
    /** The kernel's name, as given to {@link GpuContext.compile}. */
    readonly kernelName: string,
    /** The compiler's messages, one per error, each with a 1-based line and column. */
    readonly messages: readonly { line: number; column: number; text: string }[],
    source: string,
  ) {
    super(formatCompileMessages(kernelName, messages, source));
    this.name = "WgslCompileError";
  }
}

/** The GPU device was lost (driver reset, out of memory, `destroy()`); nothing more will run on it. */
export class DeviceLostError extends Error {
  constructor(reason: string, detail: string) {
    super(`GPU device lost (${reason}): ${detail || "no detail given"}`);
    this.name = "DeviceLostError";
  }
}

/** A WebGPU validation or out-of-memory error, raised where it was detected. */
export class GpuValidationError extends Error {
  constructor(what: string, detail: string) {
    super(`${what}: ${detail}`);
    this.name = "GpuValidationError";
  }
}

function formatCompileMessages(
  kernelName: string,
  messages: readonly { line: number; column: number; text: string }[],
  source: string,
): string {
  const lines = source.split("\n");
  const parts = messages.map(({ line, column, text }) => {
    const shown: string[] = [];
    for (let l = Math.max(1, line - 1); l <= Math.min(lines.length, line + 1); l++) {
      shown.push(`${String(l).padStart(5)} | ${lines[l - 1] ?? ""}`);
      if (l === line) shown.push(`${" ".repeat(5)} | ${" ".repeat(Math.max(0, column - 1))}^`);
    }
    return `  line ${line}, column ${column}: ${text}\n${shown.join("\n")}`;
  });
  return `WGSL kernel "${kernelName}" failed to compile:\n${parts.join("\n")}`;
}

/**
 * Our handle on one Dawn device: compile kernels, submit work, read back, with errors surfaced.
 *
 * @example
 * ```ts ignore
 * import { acquireGpu } from "./device.ts";
 * const gpu = await acquireGpu();
 * if (gpu) console.log(gpu.info.name, gpu.info.features);
 * ```
 */
export class GpuContext {
  #lost: DeviceLostError | null = null;
  #uncaptured: GpuValidationError | null = null;
  readonly #lostSignal: Promise<never>;

  /**
   * @param keepAlive The `GPU` and `GPUAdapter` objects the device came from. dawn.node frees the
   * Dawn instance when its JavaScript object is collected, and later asynchronous calls on the
   * device (pipeline creation, buffer mapping) then crash the process; holding them here keeps
   * the instance alive as long as the device.
   */
  constructor(
    readonly device: GPUDevice,
    readonly info: AdapterReport,
    private readonly keepAlive: readonly object[] = [],
  ) {
    this.#lostSignal = device.lost.then((lostInfo) => {
      this.#lost = new DeviceLostError(lostInfo.reason ?? "unknown", lostInfo.message);
      throw this.#lost;
    });
    // Keep the rejection from being reported as unhandled when nobody is waiting on it.
    this.#lostSignal.catch(() => {});
    device.onuncapturederror = (event: GPUUncapturedErrorEvent) => {
      this.#uncaptured ??= new GpuValidationError("Uncaptured WebGPU error", event.error.message);
    };
  }

  /** True when the adapter has the feature and we enabled it. */
  has(feature: (typeof wantedFeatures)[number]): boolean {
    return this.device.features.has(feature);
  }

  /** Throws if the device was lost or an uncaptured error arrived since the last check. */
  check(): void {
    if (this.#lost) throw this.#lost;
    const pending = this.#uncaptured;
    if (pending) {
      this.#uncaptured = null;
      throw pending;
    }
  }

  /**
   * Compiles a WGSL compute kernel. Errors come back as {@link WgslCompileError} naming the kernel
   * and quoting the lines; a pipeline that validation rejects throws {@link GpuValidationError}.
   * `layout` defaults to `"auto"`, which drops bindings the shader never reads; pass an explicit
   * one to bind them anyway.
   */
  async compile(
    kernelName: string,
    code: string,
    entryPoint = "main",
    layout: GPUPipelineLayout | "auto" = "auto",
  ): Promise<GPUComputePipeline> {
    this.check();
    const device = this.device;
    device.pushErrorScope("validation");
    const module = device.createShaderModule({ label: kernelName, code });
    const messages = await this.#compilationErrors(module);
    const moduleError = await device.popErrorScope();
    if (messages.length > 0) throw new WgslCompileError(kernelName, messages, code);
    if (moduleError) this.#throwShaderError(kernelName, moduleError.message, code);
    try {
      return await this.#raceLost(device.createComputePipelineAsync({
        label: kernelName,
        layout,
        compute: { module, entryPoint },
      }));
    } catch (error) {
      if (error instanceof DeviceLostError) throw error;
      this.#throwShaderError(
        kernelName,
        error instanceof Error ? error.message : String(error),
        code,
      );
    }
  }

  /** Error messages of a shader module, or `[]` where the binding lacks `getCompilationInfo`. */
  async #compilationErrors(
    module: GPUShaderModule,
  ): Promise<{ line: number; column: number; text: string }[]> {
    // bun-webgpu 0.1 prints "getCompilationInfo not implemented" and throws; Dawn's pipeline
    // error then carries the located message instead.
    if (this.info.runtime === "bun") return [];
    let info: GPUCompilationInfo;
    try {
      info = await this.#raceLost(module.getCompilationInfo());
    } catch (error) {
      if (error instanceof DeviceLostError) throw error;
      return [];
    }
    return info.messages
      .filter((m) => m.type === "error")
      .map((m) => ({ line: m.lineNum, column: m.linePos, text: m.message }));
  }

  /**
   * Throws a {@link WgslCompileError} when Dawn's message locates a WGSL error
   * (`:LINE:COL error: ...`), else a {@link GpuValidationError}.
   */
  #throwShaderError(kernelName: string, detail: string, code: string): never {
    const located = [...detail.matchAll(/:(\d+):(\d+) error: ([^\n]*)/g)].map((m) => ({
      line: Number(m[1]),
      column: Number(m[2]),
      text: m[3] ?? "",
    }));
    if (located.length > 0) throw new WgslCompileError(kernelName, located, code);
    throw new GpuValidationError(`Kernel "${kernelName}"`, detail);
  }

  /** Copies `size` bytes of a storage buffer to the host; rejects (never hangs) on device loss. */
  async read(buffer: GPUBuffer, size: number, offset = 0): Promise<ArrayBuffer> {
    this.check();
    const alignedSize = Math.ceil(size / 4) * 4;
    const staging = this.device.createBuffer({
      size: alignedSize,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    try {
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(buffer, offset, staging, 0, alignedSize);
      this.device.queue.submit([encoder.finish()]);
      await this.#raceLost(staging.mapAsync(GPUMapMode.READ));
      this.check();
      return staging.getMappedRange().slice(0, size);
    } finally {
      staging.destroy();
    }
  }

  /** Resolves when all submitted work is done; rejects if the device is lost meanwhile. */
  async sync(): Promise<void> {
    await this.#raceLost(this.device.queue.onSubmittedWorkDone());
    this.check();
  }

  /** Releases the device; later calls throw {@link DeviceLostError}. */
  destroy(): void {
    this.device.destroy();
  }

  #raceLost<T>(promise: Promise<T>): Promise<T> {
    if (this.#lost) return Promise.reject(this.#lost);
    return Promise.race([promise, this.#lostSignal]);
  }
}

const lavapipeIcd = "/usr/share/vulkan/icd.d/lvp_icd.json";

/**
 * Points the Vulkan loader at Mesa's lavapipe when no driver list was given and the file exists
 * (installed by `scripts/setup_gpu.ts`); returns whether it did.
 */
function useLavapipeIfPresent(): boolean {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process
    ?.env;
  if (!env || env["VK_ICD_FILENAMES"] || env["VK_DRIVER_FILES"]) return false;
  try {
    // Deno, Bun and Node all provide `process`; `existsSync` keeps this synchronous and portable.
    if (!fsExistsSync(lavapipeIcd)) return false;
  } catch {
    return false;
  }
  env["VK_ICD_FILENAMES"] = lavapipeIcd;
  return true;
}

const softwareAdapterPattern = /llvmpipe|lavapipe|swiftshader|warp|software|cpu/i;

/**
 * Acquires a Dawn device on the best adapter present, requesting {@link wantedFeatures} where
 * offered and the adapter's maximum limits. Resolves to `null` when there is no usable adapter
 * (run `deno task setup` to install the software Vulkan driver on a machine without a GPU).
 *
 * @example
 * ```ts ignore
 * import { acquireGpu } from "./device.ts";
 * const gpu = await acquireGpu();
 * console.log(gpu?.info.name ?? "no adapter");
 * ```
 */
export async function acquireGpu(
  options: { powerPreference?: GPUPowerPreference } = {},
): Promise<GpuContext | null> {
  const request = { powerPreference: options.powerPreference ?? "high-performance" } as const;
  let gpu = await loadGpu();
  let adapter = await gpu.requestAdapter(request);
  if (!adapter && useLavapipeIfPresent()) {
    gpu = await loadGpu();
    adapter = await gpu.requestAdapter(request);
  }
  if (!adapter) return null;
  const features: string[] = wantedFeatures.filter((f) => adapter.features.has(f));
  const matrixConfigs =
    (adapter.info as unknown as { subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[] })
      .subgroupMatrixConfigs ?? [];
  const int8Matrix = adapter.features.has(subgroupMatrixFeature) &&
    adapter.info.subgroupMinSize === 32 && adapter.info.subgroupMaxSize === 32 &&
    matrixConfigs.some((c) => describeMatrixConfig(c) === "i8 x i8 -> i32 16x16x32");
  if (int8Matrix) features.push(subgroupMatrixFeature);
  const requiredLimits: Record<string, number> = {};
  // GPUSupportedLimits is an interface object: its fields are getters on the prototype.
  for (const key in adapter.limits) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === "number") requiredLimits[key] = value;
  }
  const requestDevice = (list: readonly string[]) =>
    adapter.requestDevice({ requiredFeatures: list as GPUFeatureName[], requiredLimits });
  // The subgroup-matrix feature is experimental: if the device refuses it, go on without it
  // (the int8 attention then emulates its products) rather than without a GPU.
  const device = await requestDevice(features).catch((error: unknown) => {
    if (!int8Matrix) throw error;
    console.warn(`Dawn refused ${subgroupMatrixFeature} (${error}); continuing without it`);
    return requestDevice(features.filter((f) => f !== subgroupMatrixFeature));
  });
  const adapterInfo = adapter.info;
  const name = [adapterInfo.description, adapterInfo.device].find((s) => s && s.length > 0) ??
    `${adapterInfo.vendor} ${adapterInfo.architecture}`.trim();
  const limits: Record<string, number> = {};
  for (const key in device.limits) {
    const value = (device.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === "number") limits[key] = value;
  }
  const info: Mutable<AdapterReport> = {
    name,
    vendor: adapterInfo.vendor,
    architecture: adapterInfo.architecture,
    isSoftware: softwareAdapterPattern.test(`${name} ${adapterInfo.vendor}`),
    features: [...device.features].sort(),
    limits,
    subgroupMinSize: adapterInfo.subgroupMinSize ?? 0,
    subgroupMaxSize: adapterInfo.subgroupMaxSize ?? 0,
    subgroupMatrixConfigs: matrixConfigs.map(describeMatrixConfig),
    subgroupMatrixInt8: false,
    int8MatrixUnits: null,
    int8MatrixNote: int8Matrix ? "Dawn refused the feature" : "the adapter offers no 16x16x32 " +
      "int8 subgroup matrices on 32-lane subgroups",
    runtime: runtimeName(),
  };
  usePollScheduleFor(info);
  const context = new GpuContext(device, info, [gpu, adapter]);
  if (device.features.has(subgroupMatrixFeature)) {
    // Kernels are planned from the report, so the convention is settled before any of them.
    const { units, detail } = await probeInt8MatrixUnits(context);
    info.subgroupMatrixInt8 = units !== null;
    info.int8MatrixUnits = units;
    info.int8MatrixNote = units
      ? detail
      : `native int8 products disabled (the int8 attention emulates them): ${detail}`;
    if (!units) console.warn(`Droplet: ${info.int8MatrixNote}`);
  }
  return context;
}

/** `T` with its fields writable (the report is completed after the device probe). */
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * `{ subgroupSize }` for a `KernelTarget` when the device has `subgroups` enabled and the
 * adapter reports one fixed subgroup size (kernels may then name lanes by constant indices),
 * else `{}`.
 *
 * @example
 * ```ts ignore
 * const gpu = await sharedGpu();
 * if (gpu) console.log(fixedSubgroupSize(gpu)); // { subgroupSize: 8 } on lavapipe (AVX2)
 * ```
 */
export function fixedSubgroupSize(gpu: GpuContext): { subgroupSize?: number } {
  const { subgroupMinSize: min, subgroupMaxSize: max } = gpu.info;
  return gpu.has("subgroups") && min > 0 && min === max ? { subgroupSize: min } : {};
}

let shared: Promise<GpuContext | null> | null = null;

/**
 * The process-wide device, acquired on first use; `null` when the machine has no usable adapter.
 *
 * @example
 * ```ts ignore
 * import { sharedGpu } from "./device.ts";
 * const gpu = await sharedGpu();
 * ```
 */
export function sharedGpu(): Promise<GpuContext | null> {
  shared ??= acquireGpu();
  return shared;
}
