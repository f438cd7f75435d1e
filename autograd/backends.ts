/**
 * Which backend new arrays are created on. The choice is explicit: `device.use("reference")`
 * or `DROPLET_DEVICE=reference` selects the CPU interpreter; `await device.init()` (done by
 * `mod.ts`) selects WebGPU when an adapter exists. With neither, creating an array throws and
 * says how to get a device; nothing falls back silently.
 *
 * @module
 */

import type { Backend, BackendName } from "../kernels/backend.ts";
import { ReferenceBackend } from "../kernels/reference/backend.ts";
import { createWebgpuBackend } from "../kernels/webgpu/backend.ts";
import { sharedGpu } from "../kernels/webgpu/device.ts";

/** Creates the WebGPU backend, or returns null where no adapter exists (set by `device.init`). */
export type WebgpuFactory = () => Promise<Backend | null>;

let current: Backend | null = null;
let reference: ReferenceBackend | null = null;
let webgpu: Backend | null = null;
// The compiler in kernels/webgpu, on the process-wide Dawn device.
let webgpuFactory: WebgpuFactory | null = async () => createWebgpuBackend(await sharedGpu());
let webgpuMissingReason = "the WebGPU backend was not initialized (call `await device.init()`)";

/**
 * The backend new arrays go to; throws with instructions when none was selected.
 *
 * @example
 * ```ts ignore
 * defaultBackend().name; // "webgpu"
 * ```
 */
export function defaultBackend(): Backend {
  if (current) return current;
  const env = readEnv("DROPLET_DEVICE");
  if (env === "reference") return useBackend("reference");
  throw new Error(
    `No device selected: ${webgpuMissingReason}. Run \`deno task setup\` to install a WebGPU ` +
      `driver, or select the CPU interpreter with device.use("reference") or DROPLET_DEVICE=reference.`,
  );
}

/**
 * Selects the backend for new arrays. `"webgpu"` requires a successful `device.init()`.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backends.ts";
 * useBackend("reference").name; // "reference"
 * ```
 */
export function useBackend(name: BackendName): Backend {
  if (name === "reference") {
    reference ??= new ReferenceBackend();
    current = reference;
  } else {
    if (!webgpu) throw new Error(`Cannot use the webgpu device: ${webgpuMissingReason}`);
    current = webgpu;
  }
  return current;
}

/**
 * Registers how to create the WebGPU backend (the compiler in `kernels/webgpu` does this).
 *
 * @example
 * ```ts ignore
 * setWebgpuFactory(async () => createWebgpuBackend(await sharedGpu()));
 * ```
 */
export function setWebgpuFactory(factory: WebgpuFactory): void {
  webgpuFactory = factory;
}

/**
 * Acquires the GPU and selects it, unless `DROPLET_DEVICE=reference` or a backend was already
 * chosen. Resolves to the backend in use, or null when there is no adapter (then creating an
 * array throws with instructions, unless the reference device is selected).
 *
 * @example
 * ```ts ignore
 * await initDefaultBackend();
 * ```
 */
export async function initDefaultBackend(): Promise<Backend | null> {
  if (current) return current;
  const env = readEnv("DROPLET_DEVICE");
  if (env === "reference") return useBackend("reference");
  if (env !== undefined && env !== "webgpu") {
    throw new Error(`DROPLET_DEVICE must be "webgpu" or "reference", got "${env}"`);
  }
  if (!webgpuFactory) {
    webgpuMissingReason = "this build has no WebGPU backend registered";
    return null;
  }
  webgpu = await webgpuFactory();
  if (!webgpu) {
    webgpuMissingReason = "no WebGPU adapter was found";
    return null;
  }
  current = webgpu;
  return current;
}

/**
 * The backend of this name if it exists (without selecting it).
 *
 * @example
 * ```ts ignore
 * backendNamed("reference");
 * ```
 */
export function backendNamed(name: BackendName): Backend | null {
  if (name === "reference") {
    reference ??= new ReferenceBackend();
    return reference;
  }
  return webgpu;
}

function readEnv(name: string): string | undefined {
  const proc = (globalThis as { process?: { env: Record<string, string | undefined> } }).process;
  try {
    return proc?.env[name];
  } catch {
    return undefined; // Deno without --allow-env
  }
}
