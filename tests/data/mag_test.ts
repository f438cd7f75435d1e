import fc from "fast-check";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { sample, strideWindow } from "../../data/mag.ts";

const clipArb = fc.record({
  clipFrames: fc.integer({ min: 1, max: 5000 }),
  fps: fc.double({ min: 1, max: 120, noNaN: true }),
  n: fc.integer({ min: 1, max: 200 }),
});

Deno.test("mag.sample gives exactly N strictly increasing indices inside the trimmed range", () => {
  fc.assert(
    fc.property(clipArb, ({ clipFrames, fps, n }) => {
      const cut = Math.floor(0.1 * clipFrames);
      fc.pre(clipFrames - 2 * cut >= n);
      const { indices, rangeStart, rangeEnd } = sample({ clipFrames, fps, n });
      assertEquals(indices.length, n);
      assertEquals([rangeStart, rangeEnd], [cut, clipFrames - cut]);
      for (let i = 0; i < n; i++) {
        assert(indices[i]! >= cut && indices[i]! < clipFrames - cut, `index ${indices[i]}`);
        if (i > 0) assert(indices[i]! > indices[i - 1]!, `not increasing at ${i}`);
      }
    }),
  );
});

Deno.test("mag.sample spacing is uniform within one frame of rounding", () => {
  fc.assert(
    fc.property(clipArb, ({ clipFrames, fps, n }) => {
      const cut = Math.floor(0.1 * clipFrames);
      const usable = clipFrames - 2 * cut;
      fc.pre(usable >= n && n >= 2);
      const { indices } = sample({ clipFrames, fps, n });
      const step = (usable - 1) / (n - 1);
      for (let i = 1; i < n; i++) {
        const gap = indices[i]! - indices[i - 1]!;
        assert(Math.abs(gap - step) < 1, `gap ${gap} vs step ${step}`);
        assert(Math.abs(indices[i]! - (cut + i * step)) < 1, `index ${i} off the line`);
      }
      assertEquals(indices[0], cut);
      assertEquals(indices[n - 1], clipFrames - cut - 1);
    }),
  );
});

Deno.test("mag.sample M is positive, linear in fps and inversely proportional to clip length", () => {
  fc.assert(
    fc.property(clipArb, fc.integer({ min: 2, max: 5 }), ({ clipFrames, fps, n }, k) => {
      const opts = { clipFrames, fps, n, allowRepeats: true };
      const { m } = sample(opts);
      assert(m > 0);
      assertClose(m, (n * fps) / clipFrames, { rtol: 1e-12 });
      assertClose(sample({ ...opts, fps: fps * k }).m, k * m, { rtol: 1e-12 });
      assertClose(sample({ ...opts, clipFrames: clipFrames * k }).m, m / k, { rtol: 1e-12 });
    }),
  );
});

Deno.test("mag.sample refuses a clip with fewer usable frames than N, naming both counts", () => {
  const error = assertThrows(() => sample({ clipFrames: 50, fps: 30, n: 49 }), RangeError);
  assert(error.message.includes("40 frames") && error.message.includes("49"), error.message);
});

Deno.test("mag.sample with allowRepeats returns N non-decreasing indices, never fewer", () => {
  fc.assert(
    fc.property(clipArb, ({ clipFrames, fps, n }) => {
      const { indices, rangeStart, rangeEnd } = sample({ clipFrames, fps, n, allowRepeats: true });
      assertEquals(indices.length, n);
      for (let i = 0; i < n; i++) {
        assert(indices[i]! >= rangeStart && indices[i]! < rangeEnd);
        if (i > 0) assert(indices[i]! >= indices[i - 1]!);
      }
    }),
  );
});

Deno.test("mag.sample rejects invalid fps, N and clip lengths with the values", () => {
  assertThrows(() => sample({ clipFrames: 100, fps: 0, n: 4 }), RangeError, "got 0");
  assertThrows(() => sample({ clipFrames: 100, fps: 30, n: 2.5 }), RangeError, "2.5");
  assertThrows(() => sample({ clipFrames: 0, fps: 30, n: 4 }), RangeError, "got 0");
});

Deno.test("mag.strideWindow picks N frames at the stride inside the clip, pure in its key", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2000 }),
      fc.integer({ min: 1, max: 50 }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      (clipFrames, n, stride, key) => {
        fc.pre((n - 1) * stride + 1 <= clipFrames);
        const a = strideWindow({ clipFrames, fps: 24, n, stride, key });
        assertEquals(a, strideWindow({ clipFrames, fps: 24, n, stride, key }));
        assertEquals(a.indices.length, n);
        for (let i = 1; i < n; i++) assertEquals(a.indices[i]! - a.indices[i - 1]!, stride);
        assert(a.indices[0]! >= 0 && a.indices[n - 1]! < clipFrames);
        assertClose(a.m, 24 / stride);
      },
    ),
  );
  assertThrows(
    () => strideWindow({ clipFrames: 10, fps: 24, n: 6, stride: 2, key: 0 }),
    RangeError,
    "11 frames",
  );
});
