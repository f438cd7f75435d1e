/**
 * One Dawn instance for the peer libraries (jax-js, TensorFlow.js), installed where browser code
 * looks for WebGPU, plus the polling policy that decides how dawn.node waits for the GPU.
 *
 * Both peers are written for browsers: they call `navigator.gpu.requestAdapter()` and use the
 * WebGPU constants (`GPUBufferUsage`, `GPUMapMode`, ...) as globals. Deno ships its own wgpu-based
 * `navigator.gpu`, so without this shim the peers would silently run on a different WebGPU
 * implementation than Droplet. {@link installDawnForPeers} replaces it with dawn.node's `GPU`
 * object before either peer is imported.
 *
 * Polling: dawn.node completes its promises (`mapAsync`, `onSubmittedWorkDone`,
 * `createComputePipelineAsync`) by calling `globalThis.setImmediate` again and again until the
 * work is done. Under Deno that is a busy loop on the main thread, which takes a core away from a
 * software adapter (lavapipe runs its shaders on the same CPU cores). {@link setPollPolicy}
 * replaces `setImmediate` process-wide, so one policy applies to all three libraries alike.
 *
 * @module
 */

import { create, globals } from "webgpu";

/** How dawn.node's event polling waits between two polls. */
export type PollPolicy =
  /** dawn.node as shipped: back-to-back `setImmediate` (a busy loop under Deno). */
  | "immediate"
  /** Each poll first sleeps 200 us on the main thread (`Atomics.wait`), freeing the core. */
  | "sleep";

/** The Dawn objects the peers run on, kept alive for the whole process. */
export interface DawnForPeers {
  /** dawn.node's `GPU` entry point, installed as `navigator.gpu`. */
  readonly gpu: GPU;
  /** The adapter we probed (held so the instance outlives every peer's own adapter). */
  readonly adapter: GPUAdapter;
  /** The adapter's name, e.g. `"llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)"`. */
  readonly adapterName: string;
  /** True for CPU implementations (llvmpipe/lavapipe, SwiftShader). */
  readonly isSoftware: boolean;
  /** dawn.node's `GPUDevice` class, to check that a peer's device really is Dawn's. */
  readonly deviceClass: abstract new (...args: never[]) => GPUDevice;
}

/**
 * dawn.node frees its native instance when the JavaScript `GPU` object is garbage-collected, and
 * asynchronous calls on devices made from it then crash the process. This module-level reference
 * keeps the instance (and the adapter) alive until exit.
 */
let keepAlive: DawnForPeers | null = null;

/** Adapter names of CPU implementations of WebGPU. */
const softwareAdapterPattern = /llvmpipe|lavapipe|swiftshader|warp|software/i;

/**
 * True when the adapter name is a software (CPU) implementation.
 *
 * @example
 * ```ts
 * import { isSoftwareAdapter } from "./dawn.ts";
 * isSoftwareAdapter("llvmpipe (LLVM 15.0.6, 256 bits)"); // true
 * isSoftwareAdapter("NVIDIA H100 80GB HBM3"); // false
 * ```
 */
export function isSoftwareAdapter(name: string): boolean {
  return softwareAdapterPattern.test(name);
}

/** The WebGPU constants and classes dawn.node exports (its own typings say only `Object`). */
const dawnGlobals = globals as Record<string, unknown>;

/**
 * Installs dawn.node for browser-oriented libraries: the WebGPU globals they use
 * (`GPUBufferUsage`, `GPUMapMode`, `GPUShaderStage`, ...) and `navigator.gpu`. Call it before
 * importing a peer: TensorFlow.js registers its WebGPU backend at import time only if
 * `navigator.gpu` exists then. Resolves to null when Dawn finds no adapter.
 *
 * @example
 * ```ts ignore
 * import { installDawnForPeers } from "./dawn.ts";
 * const dawn = await installDawnForPeers();
 * console.log(dawn?.adapterName);
 * ```
 */
export async function installDawnForPeers(): Promise<DawnForPeers | null> {
  if (keepAlive) return keepAlive;
  for (const [name, value] of Object.entries(dawnGlobals)) {
    // Deno defines some of these (GPUBufferUsage, ...) itself; ours must win, because the peers'
    // `instanceof` checks and flags are against Dawn's objects.
    Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  const gpu = create(["enable-dawn-features=allow_unsafe_apis"]);
  // Deno's `navigator.gpu` is a getter on Navigator.prototype; an own property shadows it.
  Object.defineProperty(navigator, "gpu", { value: gpu, configurable: true });
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return null;
  const info = adapter.info;
  const adapterName = [info.description, info.device].find((s) => s && s.length > 0) ??
    `${info.vendor} ${info.architecture}`.trim();
  const deviceClass = dawnGlobals["GPUDevice"];
  if (typeof deviceClass !== "function") {
    throw new Error("The webgpu package exported no GPUDevice class; cannot verify peer devices");
  }
  keepAlive = {
    gpu,
    adapter,
    adapterName,
    isSoftware: isSoftwareAdapter(`${adapterName} ${info.vendor}`),
    deviceClass: deviceClass as DawnForPeers["deviceClass"],
  };
  return keepAlive;
}

/**
 * Throws unless `device` was created by dawn.node (and not, say, by Deno's built-in WebGPU).
 *
 * @example
 * ```ts ignore
 * assertDawnDevice(dawn, jax.getWebGPUDevice(), "jax-js");
 * ```
 */
export function assertDawnDevice(dawn: DawnForPeers, device: unknown, library: string): void {
  if (!(device instanceof dawn.deviceClass)) {
    throw new Error(
      `${library} did not get a Dawn device (got ${Object.prototype.toString.call(device)}); ` +
        `install Dawn as navigator.gpu before importing it`,
    );
  }
}

type Immediate = (callback: () => void, ...args: unknown[]) => unknown;

interface PollState {
  readonly original: Immediate;
  installed: Immediate;
  policy: PollPolicy;
  polls: number;
}

let pollState: PollState | null = null;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Sleep before each poll under the "sleep" policy, in milliseconds (200 us, measured best here). */
const pollSleepMs = 0.2;

function globalImmediate(): Immediate {
  const value = (globalThis as { setImmediate?: unknown }).setImmediate;
  if (typeof value !== "function") {
    throw new Error("This runtime has no global setImmediate; dawn.node cannot poll without it");
  }
  return value as Immediate;
}

/**
 * Sets how dawn.node polls for completed GPU work, process-wide (it looks up
 * `globalThis.setImmediate` at every poll). Also starts counting polls ({@link pollCount}).
 *
 * @example
 * ```ts ignore
 * setPollPolicy("sleep");
 * ```
 */
export function setPollPolicy(policy: PollPolicy): void {
  const original = pollState?.original ?? globalImmediate();
  const state: PollState = pollState ?? { original, installed: original, policy, polls: 0 };
  const installed: Immediate = policy === "immediate"
    ? (callback, ...args) => {
      state.polls++;
      return original(callback, ...args);
    }
    : (callback, ...args) => {
      state.polls++;
      return original(() => {
        // A real sleep: the thread blocks in the kernel instead of spinning.
        Atomics.wait(sleepCell, 0, 0, pollSleepMs);
        callback(...(args as []));
      });
    };
  state.installed = installed;
  state.policy = policy;
  pollState = state;
  (globalThis as { setImmediate?: unknown }).setImmediate = installed;
}

/**
 * The poll policy in effect, or `"replaced"` when some other code (e.g. a library's own polling
 * scheme) swapped `globalThis.setImmediate` after {@link setPollPolicy}.
 *
 * @example
 * ```ts ignore
 * pollPolicyInEffect(); // "immediate"
 * ```
 */
export function pollPolicyInEffect(): PollPolicy | "replaced" | "unset" {
  if (!pollState) return "unset";
  return globalImmediate() === pollState.installed ? pollState.policy : "replaced";
}

/**
 * How many times `setImmediate` was called since the policy was set (each is one dawn.node poll
 * while GPU work is pending; other Node-style code in the process may add a few).
 *
 * @example
 * ```ts ignore
 * const before = pollCount(); await x.data(); console.log(pollCount() - before);
 * ```
 */
export function pollCount(): number {
  return pollState?.polls ?? 0;
}

/**
 * Puts back the `setImmediate` that was in place before {@link setPollPolicy} and stops counting.
 *
 * @example
 * ```ts ignore
 * setPollPolicy("sleep");
 * await runBenchmarks();
 * restorePolling();
 * ```
 */
export function restorePolling(): void {
  if (!pollState) return;
  (globalThis as { setImmediate?: unknown }).setImmediate = pollState.original;
  pollState = null;
}
