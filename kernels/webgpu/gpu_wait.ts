/**
 * Waiting on the GPU without starving it.
 *
 * dawn.node completes its promises (buffer mapping, `onSubmittedWorkDone`) by calling the
 * global `setImmediate` in a loop until the event fires. Under Deno that loop spins a CPU core
 * at 100%, and on a software adapter (lavapipe) that core is one the GPU work itself needs:
 * on 2 cores we measured 5-20x stalls. While we wait, {@link waitForGpu} replaces the global
 * `setImmediate` with a polite one: a few immediate polls (short waits finish fast), then
 * sleeps of ~50 us (`Atomics.wait`, which blocks without spinning), then 1 ms timers.
 * Outside our waits the original `setImmediate` is restored.
 *
 * @module
 */

type Immediate = (callback: (...args: unknown[]) => void, ...args: unknown[]) => unknown;

interface ImmediateGlobal {
  setImmediate?: Immediate;
}

/** How polls are spaced while waiting (exported for measurement). */
export interface PollSchedule {
  /** Polls passed straight to the original `setImmediate`. */
  readonly immediate: number;
  /** Then this many polls after a short blocking sleep. */
  readonly shortSleeps: number;
  /** Length of each short sleep, in microseconds. */
  readonly shortSleepMicros: number;
  /** After that, each poll waits on a timer of this many milliseconds. */
  readonly timerMillis: number;
}

/**
 * The schedule in use (measured on lavapipe with 2 cores and on an H200, see
 * `scripts/webgpu_perf.ts`).
 *
 * @example
 * ```ts
 * import { defaultPollSchedule } from "./gpu_wait.ts";
 * defaultPollSchedule.shortSleepMicros; // 50
 * ```
 */
export const defaultPollSchedule: PollSchedule = {
  immediate: 4,
  shortSleeps: 40,
  shortSleepMicros: 50,
  timerMillis: 1,
};

const sleeper = new Int32Array(new SharedArrayBuffer(4));
let waiters = 0;
let polls = 0;
let schedule: PollSchedule = defaultPollSchedule;
let original: Immediate | undefined;

function politeImmediate(callback: (...args: unknown[]) => void, ...args: unknown[]): unknown {
  polls++;
  const native = original!;
  if (polls <= schedule.immediate) return native(callback, ...args);
  if (polls <= schedule.immediate + schedule.shortSleeps) {
    Atomics.wait(sleeper, 0, 0, schedule.shortSleepMicros / 1000);
    return native(callback, ...args);
  }
  return setTimeout(() => callback(...args), schedule.timerMillis);
}

/**
 * Sets the poll schedule (`null` restores the default); `"native"` keeps dawn.node's own
 * `setImmediate` loop (for measuring the difference).
 *
 * @example
 * ```ts
 * import { setPollSchedule } from "./gpu_wait.ts";
 * setPollSchedule(null);
 * ```
 */
export function setPollSchedule(next: PollSchedule | "native" | null): void {
  native = next === "native";
  schedule = next === null || next === "native" ? defaultPollSchedule : next;
}

let native = false;

/**
 * Awaits a promise that dawn.node resolves by polling, with the polite poll schedule.
 *
 * @example
 * ```ts ignore
 * await waitForGpu(staging.mapAsync(GPUMapMode.READ));
 * ```
 */
export async function waitForGpu<T>(promise: Promise<T>): Promise<T> {
  const g = globalThis as ImmediateGlobal;
  if (native || typeof g.setImmediate !== "function") return await promise;
  if (waiters++ === 0) {
    polls = 0;
    original = g.setImmediate;
    g.setImmediate = politeImmediate;
  }
  try {
    return await promise;
  } finally {
    if (--waiters === 0 && original) {
      g.setImmediate = original;
      original = undefined;
    }
  }
}
