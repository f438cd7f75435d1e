import fc from "fast-check";
import { assert, assertEquals } from "../../_assert.ts";
import {
  currentPollSchedule,
  defaultPollSchedule,
  hardwarePollSchedule,
  setPollSchedule,
  sleepBeforePoll,
  usePollScheduleFor,
  waitForGpu,
} from "../../../kernels/webgpu/gpu_wait.ts";

type Immediate = (callback: () => void) => unknown;
const g = globalThis as unknown as { setImmediate: Immediate };

/**
 * An event done `ms` from now that, like dawn.node's mapAsync, is only noticed by a chain of
 * polls, each scheduled through whatever `globalThis.setImmediate` is at that moment.
 */
function polledEvent(ms: number): { done: Promise<void>; polls: () => number } {
  const due = performance.now() + ms;
  let polls = 0;
  const done = new Promise<void>((resolve) => {
    const tick = () => {
      polls++;
      if (performance.now() >= due) resolve();
      else g.setImmediate(tick);
    };
    g.setImmediate(tick);
  });
  return { done, polls: () => polls };
}

Deno.test("sleepBeforePoll is zero for the first polls, then bounded and growing with the wait", () => {
  const s = defaultPollSchedule;
  for (let p = 1; p <= s.immediate; p++) assertEquals(sleepBeforePoll(s, p, 1e6), 0);
  fc.assert(
    fc.property(
      fc.integer({ min: s.immediate + 1, max: 1e6 }),
      fc.double({ min: 0, max: 1e8, noNaN: true }),
      fc.double({ min: 0, max: 1e8, noNaN: true }),
      (poll, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const x = sleepBeforePoll(s, poll, lo), y = sleepBeforePoll(s, poll, hi);
        return x >= s.minSleepMicros && y <= s.maxSleepMicros && x <= y &&
          x <= Math.max(s.minSleepMicros, lo * s.sleepFraction);
      },
    ),
  );
});

Deno.test("waitForGpu polls a 30 ms event politely, late by well under a timer tick, then restores setImmediate", async () => {
  const before = g.setImmediate;
  const event = polledEvent(30);
  let during: Immediate | null = null;
  const t0 = performance.now();
  await waitForGpu(
    Promise.all([event.done, Promise.resolve().then(() => (during = g.setImmediate))]),
  );
  const late = performance.now() - t0 - 30;
  assert(during !== before, "setImmediate was not replaced during the wait");
  assertEquals(g.setImmediate, before, "setImmediate was not restored after the wait");
  // A busy loop polls thousands of times in 30 ms; sleeps of up to 0.5 ms need ~70 polls.
  assert(event.polls() < 400, `${event.polls()} polls in 30 ms: the wait spins`);
  // Generous for a loaded 2-core machine; the old 1 ms timer schedule was ~1.7 ms late here.
  assert(late < 10, `the event was noticed ${late.toFixed(2)} ms late`);
});

Deno.test("nested waitForGpu calls restore setImmediate only when the last one ends", async () => {
  const before = g.setImmediate;
  const slow = waitForGpu(polledEvent(20).done);
  await waitForGpu(polledEvent(2).done);
  assert(g.setImmediate !== before, "the outer wait lost its polite setImmediate");
  await slow;
  assertEquals(g.setImmediate, before);
});

Deno.test("the hardware schedule spins for its first 20 ms, then sleeps like the default", () => {
  const s = hardwarePollSchedule;
  for (const waited of [0, 100, 3_300, 19_999]) assertEquals(sleepBeforePoll(s, 1000, waited), 0);
  for (const waited of [20_000, 1e5, 1e7]) {
    assertEquals(
      sleepBeforePoll(s, 1000, waited),
      sleepBeforePoll(defaultPollSchedule, 1000, waited),
    );
    assert(sleepBeforePoll(s, 1000, waited) > 0, `no sleep after ${waited} us`);
  }
});

Deno.test("waits on the hardware schedule spin: 3 ms events are noticed at once", async () => {
  usePollScheduleFor({ isSoftware: false });
  try {
    const lates: number[] = [], polls: number[] = [];
    for (let i = 0; i < 7; i++) {
      const event = polledEvent(3);
      const t0 = performance.now();
      await waitForGpu(event.done);
      lates.push(performance.now() - t0 - 3);
      polls.push(event.polls());
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[3]!;
    // The default schedule sleeps its way through 3 ms in ~20 polls (~0.14 ms late, median on
    // lavapipe); spinning polls hundreds of times and is ~3 us late. Medians, because a loaded
    // 2-core machine now and then stalls any single wait by milliseconds.
    assert(median(polls) > 200, `median ${median(polls)} polls in 3 ms: the wait did not spin`);
    assert(median(lates) < 1, `median lateness ${median(lates).toFixed(3)} ms`);
  } finally {
    usePollScheduleFor({ isSoftware: true });
    setPollSchedule(null);
  }
});

Deno.test("a schedule set explicitly survives the adapter's choice until reset", () => {
  const custom = { ...defaultPollSchedule, spinMicros: 1_000 };
  try {
    setPollSchedule(custom);
    usePollScheduleFor({ isSoftware: false });
    assertEquals(currentPollSchedule(), custom);
    setPollSchedule(null);
    assertEquals(currentPollSchedule(), hardwarePollSchedule);
  } finally {
    usePollScheduleFor({ isSoftware: true });
    setPollSchedule(null);
  }
});
