/**
 * Waiting on the GPU without starving it.
 *
 * dawn.node completes its promises (buffer mapping, `onSubmittedWorkDone`) by calling the
 * global `setImmediate` in a loop until the event fires. Under Deno that loop spins a CPU core
 * at 100%, and on a software adapter (lavapipe) that core is one the GPU work itself needs:
 * on 2 cores we measured 5-20x stalls. While we wait, {@link waitForGpu} replaces the global
 * `setImmediate` with a polite one: a few immediate polls (short waits finish fast), then
 * blocking sleeps (`Atomics.wait`, which frees the core without spinning) whose length grows
 * with the time already waited, from tens of microseconds up to half a millisecond. The poll
 * after the event fires therefore comes at most ~1/16 of the wait (and 0.5 ms) late, and a
 * long wait costs ~2,000 cheap polls a second. Timers are not used: Deno's timers have 1 ms
 * granularity and nested ones measured 2.4 ms apart, which added up to that much latency to
 * every read on a real GPU. Outside our waits the original `setImmediate` is restored.
 *
 * On a hardware adapter no core is taken from the GPU, but a sleep is up to 1/16 of the wait
 * late (and Linux adds ~50 us of timer slack to every sleep): at a 3.3 ms matmul that is ~0.2
 * ms, 6% of the call. So `device.ts` installs {@link hardwarePollSchedule}, which polls without
 * sleeping for the first 20 ms of every wait and only then sleeps as above.
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
  /** And every poll within this many microseconds of the wait's start (default 0). */
  readonly spinMicros?: number;
  /** Then each poll first sleeps this fraction of the time waited so far... */
  readonly sleepFraction: number;
  /** ...but at least this many microseconds... */
  readonly minSleepMicros: number;
  /** ...and at most this many. */
  readonly maxSleepMicros: number;
}

/**
 * The schedule on software adapters, and the default until an adapter is picked (measured on
 * lavapipe with 2 cores, see `scripts/webgpu_perf.ts`).
 *
 * @example
 * ```ts
 * import { defaultPollSchedule } from "./gpu_wait.ts";
 * defaultPollSchedule.maxSleepMicros; // 500
 * ```
 */
export const defaultPollSchedule: PollSchedule = {
  immediate: 4,
  sleepFraction: 1 / 16,
  minSleepMicros: 20,
  maxSleepMicros: 500,
};

const sleeper = new Int32Array(new SharedArrayBuffer(4));
let waiters = 0;
let polls = 0;
/** When the current wait began (`performance.now()`, ms). */
let waitStart = 0;
let original: Immediate | undefined;
/** The schedule `setPollSchedule` chose, which the adapter's does not replace; null: none. */
let chosen: PollSchedule | null = null;
/** The schedule of the process's adapter (see usePollScheduleFor). */
let adapterSchedule: PollSchedule = defaultPollSchedule;
/** `setPollSchedule("native")`: dawn.node's own polling, no polite waits. */
let native = false;

/**
 * The schedule on hardware adapters: dawn.node's own busy polling for the first 20 ms of a wait
 * (an idle CPU core costs the GPU nothing), then the default's growing sleeps, so that long
 * waits do not spin.
 *
 * @example
 * ```ts
 * import { hardwarePollSchedule, sleepBeforePoll } from "./gpu_wait.ts";
 * sleepBeforePoll(hardwarePollSchedule, 100, 3300); // 0: spinning
 * ```
 */
export const hardwarePollSchedule: PollSchedule = { ...defaultPollSchedule, spinMicros: 20_000 };

/**
 * The sleep before poll number `poll` (1-based) after `waitedMicros` of waiting, in
 * microseconds (0: poll at once).
 *
 * @example
 * ```ts
 * import { defaultPollSchedule, sleepBeforePoll } from "./gpu_wait.ts";
 * sleepBeforePoll(defaultPollSchedule, 1, 0); // 0
 * sleepBeforePoll(defaultPollSchedule, 10, 4000); // 250
 * ```
 */
export function sleepBeforePoll(s: PollSchedule, poll: number, waitedMicros: number): number {
  if (poll <= s.immediate || waitedMicros < (s.spinMicros ?? 0)) return 0;
  return Math.min(s.maxSleepMicros, Math.max(s.minSleepMicros, waitedMicros * s.sleepFraction));
}

function politeImmediate(callback: (...args: unknown[]) => void, ...args: unknown[]): unknown {
  polls++;
  const micros = sleepBeforePoll(
    currentPollSchedule(),
    polls,
    (performance.now() - waitStart) * 1000,
  );
  if (micros > 0) Atomics.wait(sleeper, 0, 0, micros / 1000);
  return original!(callback, ...args);
}

/**
 * Sets the poll schedule (`null` restores the adapter's, see {@link usePollScheduleFor});
 * `"native"` keeps dawn.node's own
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
  chosen = next === null || next === "native" ? null : next;
}

/**
 * The schedule waits use now.
 *
 * @example
 * ```ts
 * import { currentPollSchedule } from "./gpu_wait.ts";
 * currentPollSchedule().maxSleepMicros; // 500
 * ```
 */
export function currentPollSchedule(): PollSchedule {
  return chosen ?? adapterSchedule;
}

/**
 * Picks the schedule for the process's adapter: {@link hardwarePollSchedule} on a GPU, the
 * default on a software adapter (whose cores are the GPU). A schedule given to
 * `setPollSchedule`, before or after, takes precedence until `setPollSchedule(null)`.
 *
 * @example
 * ```ts
 * import { usePollScheduleFor } from "./gpu_wait.ts";
 * usePollScheduleFor({ isSoftware: true }); // the default schedule
 * ```
 */
export function usePollScheduleFor(adapter: { readonly isSoftware: boolean }): void {
  adapterSchedule = adapter.isSoftware ? defaultPollSchedule : hardwarePollSchedule;
}

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
    waitStart = performance.now();
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
