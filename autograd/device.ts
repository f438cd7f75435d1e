/**
 * `device`: which backend runs, what it is, and how much memory is alive.
 *
 * @module
 */

import type { BackendName, MemoryStats } from "../kernels/backend.ts";
import { NDArray } from "./array.ts";
import { backendNamed, defaultBackend, initDefaultBackend, useBackend } from "./backends.ts";

/** What `device.info()` reports. */
export interface DeviceInfo {
  readonly backend: BackendName;
  /** The adapter's name (`"reference interpreter"` on the CPU reference device). */
  readonly adapter: string;
  readonly features: readonly string[];
}

/** Adapter details a backend may expose. */
interface Describable {
  describeAdapter?(): { adapter: string; features: readonly string[] };
}

/**
 * Acquires the GPU and makes it the default (resolves to false when there is none).
 *
 * @example
 * ```ts ignore
 * await device.init();
 * ```
 */
export async function init(): Promise<boolean> {
  return (await initDefaultBackend()) !== null;
}

/**
 * Selects the device new arrays are created on.
 *
 * @example
 * ```ts ignore
 * device.use("reference");
 * ```
 */
export function use(name: BackendName): void {
  useBackend(name);
}

/**
 * The current device.
 *
 * @example
 * ```ts ignore
 * device.info(); // { backend: "webgpu", adapter: "NVIDIA H200", features: [...] }
 * ```
 */
export function info(): DeviceInfo {
  const backend = defaultBackend();
  const described = (backend as Describable).describeAdapter?.();
  return {
    backend: backend.name,
    adapter: described?.adapter ?? "reference interpreter (CPU, float64 accumulation)",
    features: described?.features ?? [],
  };
}

/**
 * Live arrays and bytes on the current device (and the peak).
 *
 * @example
 * ```ts ignore
 * device.memoryStats().liveBytes;
 * ```
 */
export function memoryStats(): MemoryStats {
  return defaultBackend().memoryStats();
}

/**
 * Copies an array to another device.
 *
 * @example
 * ```ts ignore
 * const onCpu = await device.put(x, "reference");
 * ```
 */
export async function put(x: NDArray, name: BackendName): Promise<NDArray> {
  const target = name === defaultBackend().name ? defaultBackend() : backendNamed(name);
  if (!target) throw new Error(`device.put: the ${name} device is not available`);
  const value = x.backendValue();
  if (value.backend === target) return x;
  const data = await value.backend.read(value);
  return NDArray.fromBackend(target.fromHost(data, x.aval));
}

/**
 * Submits pending work and waits until the device has finished it: for timing compute without
 * reading results back.
 *
 * @example
 * ```ts ignore
 * const t0 = performance.now(); step(params); await device.sync(); console.log(performance.now() - t0);
 * ```
 */
export async function sync(): Promise<void> {
  const backend = defaultBackend();
  backend.flush();
  await backend.sync?.();
}
