/**
 * The contract between the harness and each library under test (Droplet, jax-js, TensorFlow.js).
 *
 * A library prepares one workload at a time: it uploads the host inputs and compiles what it
 * compiles (untimed), and hands back a {@link Prepared} whose `run` executes the workload once
 * and reads every output back to the host. The harness times `run` only.
 *
 * Why time until the outputs are on the host: all three libraries are lazy or asynchronous (ops
 * only record work; jax-js and Droplet fuse and dispatch on demand, TensorFlow.js batches command
 * buffers), so a timer stopped when the call returns would measure nothing. The three share no
 * other sync: jax-js has `blockUntilReady`, TensorFlow.js has none that waits for the GPU without
 * reading, and Droplet's public API reads with `await x.data()`. A host readback is the one sync
 * all three have, and the same for all; its cost is part of each number (rows report it).
 *
 * @module
 */

import type { HostInputs } from "../inputs.ts";
import type { Workload } from "../workloads.ts";

/** The libraries compared. */
export type LibraryName = "droplet" | "jax-js" | "tfjs";

/** A workload prepared on a library, ready to run repeatedly. */
export interface Prepared {
  /** Runs the workload once and resolves with every output on the host (library layout). */
  run(): Promise<Float32Array[]>;
  /** Converts outputs of {@link run} to the canonical layouts (untimed; identity by default). */
  canonical?(outputs: Float32Array[]): Float32Array[];
  /** Frees the inputs and anything cached for this workload. */
  dispose(): void;
}

/** A library under test. */
export interface BenchLibrary {
  readonly name: LibraryName;
  /** The package version or commit measured. */
  readonly version: string;
  /** The device it runs on, in words (adapter name and backend). */
  readonly device: string;
  /**
   * Null when the library runs this workload, else why not (shown in the table). Checked before
   * {@link prepare}.
   */
  unsupported(w: Workload): string | null;
  /** Uploads inputs and builds the workload; not timed. */
  prepare(w: Workload, inputs: HostInputs): Promise<Prepared>;
}

/** A library that could not be set up at all, and why. */
export interface UnavailableLibrary {
  readonly name: LibraryName;
  readonly reason: string;
}

/**
 * Reads `Float32Array` data from whatever typed array a library's readback returns.
 *
 * @example
 * ```ts
 * import { toFloat32 } from "./library.ts";
 * toFloat32(new Float64Array([1, 2])); // Float32Array [1, 2]
 * ```
 */
export function toFloat32(data: ArrayLike<number>): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}
