import fc from "fast-check";
import { assert, assertEquals } from "../../_assert.ts";
import {
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

Deno.test("a 5 ms wait on the hardware schedule is noticed within a fraction of a millisecond", async () => {
  usePollScheduleFor({ isSoftware: false });
  try {
    const event = polledEvent(5);
    const t0 = performance.now();
    await waitForGpu(event.done);
    const late = performance.now() - t0 - 5;
    // The default schedule sleeps up to ~0.3 ms (plus timer slack) at this point of the wait.
    assert(late < 2, `the event was noticed ${late.toFixed(3)} ms late`);
    assert(event.polls() > 50, `${event.polls()} polls in 5 ms: the wait did not spin`);
  } finally {
    usePollScheduleFor({ isSoftware: true });
    setPollSchedule(null);
  }
});
