/**
 * Picks the WebGPU binding for the JavaScript runtime we run in.
 *
 * - Deno and Node: `webgpu` (dawn.node, Dawn's official Node addon).
 * - Bun: `bun-webgpu` (Dawn over Bun's FFI), because dawn.node segfaults inside Bun.
 *
 * Deno also ships its own wgpu-based `navigator.gpu`; we deliberately do not use it, so that every
 * runtime runs the same Dawn shader compiler and the same kernels behave the same everywhere.
 *
 * @module
 */

/** Which JavaScript runtime this process is. */
export type RuntimeName = "deno" | "bun" | "node";

/**
 * The runtime this process runs in.
 *
 * @example
 * ```ts
 * import { runtimeName } from "./binding.ts";
 * console.log(runtimeName()); // "deno" under `deno run`
 * ```
 */
export function runtimeName(): RuntimeName {
  if ("Bun" in globalThis) return "bun";
  if ("Deno" in globalThis) return "deno";
  return "node";
}

/** The `webgpu` package's entry, typed by hand (its own `types.d.ts` says `globals: Object`). */
interface DawnNodeModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

/** The part of `bun-webgpu` we use. */
interface BunWebgpuModule {
  setupGlobals(): void;
}

/** Dawn toggles passed to dawn.node; `allow_unsafe_apis` exposes experimental features. */
const defaultDawnFlags = [
  "enable-dawn-features=allow_unsafe_apis,disable_robustness",
  "disable-dawn-features=lazy_clear_resource_on_first_use",
];

/**
 * Loads the runtime's Dawn binding and returns its `GPU` entry point (the `navigator.gpu` object).
 * It also installs the WebGPU constants (`GPUBufferUsage`, `GPUMapMode`, ...) as globals.
 *
 * @param dawnFlags Flags for dawn.node's `create` (ignored under Bun).
 * @example
 * ```ts ignore
 * import { loadGpu } from "./binding.ts";
 * const gpu = await loadGpu();
 * const adapter = await gpu.requestAdapter();
 * ```
 */
export async function loadGpu(dawnFlags: string[] = defaultDawnFlags): Promise<GPU> {
  if (runtimeName() === "bun") {
    // A computed specifier keeps Deno's type checker away from bun-webgpu's `bun:ffi` types.
    const specifier = "bun-webgpu";
    const bunWebgpu = (await import(specifier)) as BunWebgpuModule;
    bunWebgpu.setupGlobals();
    return (globalThis.navigator as Navigator & { gpu: GPU }).gpu;
  }
  const dawn = (await import("webgpu")) as unknown as DawnNodeModule;
  for (const [name, value] of Object.entries(dawn.globals)) {
    // Deno defines some of these (GPUBufferUsage, ...) itself; the values are the spec's constants.
    if (!(name in globalThis)) {
      Object.defineProperty(globalThis, name, { value, configurable: true });
    }
  }
  return dawn.create(dawnFlags);
}
