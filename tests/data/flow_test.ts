import fc from "fast-check";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import * as device from "../../autograd/device.ts";
import { type NDArray, np, scope } from "../../autograd/mod.ts";
import type { CameraMotion } from "../../data/camera_labels.ts";
import { clipFlow, framePairFlows, opticalFlow, readFlow } from "../../data/flow.ts";
import { framesToArray, makeFrames } from "../../data/frames.ts";
import { foldKey } from "../../data/hash.ts";
import { luma } from "../../data/image_ops.ts";
import { randomClipSpec, renderClip } from "../../data/synthetic.ts";
import { oracleFlow } from "./_flow_oracle.ts";

device.use("reference");

Deno.test("framePairFlows matches the plain-TS oracle flow on synthetic clips", async () => {
  // Every camera motion kind, square and non-square frames, 3 pairs each.
  const cases: [CameraMotion, number, number][] = [
    ["pan_left", 32, 32],
    ["tilt_down", 48, 32],
    ["zoom_out", 32, 32],
    ["roll_ccw", 32, 40],
    ["orbit", 32, 32],
    ["static", 32, 32],
  ];
  let worstFlow = 0, worstConfidence = 0;
  for (const [i, [camera, width, height]] of cases.entries()) {
    const spec = randomClipSpec(foldKey(77, i), {
      camera,
      frames: 4,
      width,
      height,
      speed: "fast",
    });
    const frames = renderClip(spec);
    const flows = await framePairFlows(frames);
    assertEquals(flows.length, 3);
    flows.forEach((flow, t) => {
      const expected = oracleFlow(luma(frames, t), luma(frames, t + 1));
      const maxConfidence = Math.max(...expected.confidence.data);
      for (let k = 0; k < width * height; k++) {
        const d = Math.hypot(
          flow.u.data[k]! - expected.u.data[k]!,
          flow.v.data[k]! - expected.v.data[k]!,
        );
        worstFlow = Math.max(worstFlow, d);
        const c = Math.abs(flow.confidence.data[k]! - expected.confidence.data[k]!) / maxConfidence;
        worstConfidence = Math.max(worstConfidence, c);
      }
    });
  }
  console.log(
    `max |flow - oracle| ${worstFlow.toExponential(2)} px, ` +
      `max |confidence - oracle| / max confidence ${worstConfidence.toExponential(2)}`,
  );
  assert(worstFlow < 1e-3, `flow differs from the oracle by ${worstFlow} px`);
  assert(worstConfidence < 1e-4, `confidence differs from the oracle by ${worstConfidence}`);
});

/** Two planes [1, 32, 32] of a smooth two-scale pattern, the second moved by (dx, dy) px. */
function shiftedPair(dx: number, dy: number): [NDArray, NDArray] {
  const f = (x: number, y: number) =>
    128 + 50 * Math.sin((2 * Math.PI * (x + 0.5 * y)) / 23) +
    40 * Math.cos((2 * Math.PI * (y - 0.3 * x)) / 17);
  const plane = (sx: number, sy: number) =>
    Float32Array.from({ length: 32 * 32 }, (_, i) => f((i % 32) - sx, Math.floor(i / 32) - sy));
  return [
    np.array(plane(0, 0), { shape: [1, 32, 32] }),
    np.array(plane(dx, dy), { shape: [1, 32, 32] }),
  ];
}

Deno.test("opticalFlow recovers a known translation up to 2.5 px (median over the interior)", () => {
  // The median, not every pixel: bilinear warping biases single pixels by a few hundredths and
  // border clamping at the 8x8 coarsest level disturbs some interior pixels by up to ~2.5 px
  // (the plain-TS oracle behaves identically); the median stays within 0.05 px.
  const median = (a: ArrayLike<number>) => {
    const inner: number[] = [];
    for (let y = 6; y < 26; y++) for (let x = 6; x < 26; x++) inner.push(a[y * 32 + x]!);
    return inner.sort((p, q) => p - q)[inner.length >> 1]!;
  };
  fc.assert(
    fc.property(
      fc.double({ min: -2.5, max: 2.5, noNaN: true }),
      fc.double({ min: -2.5, max: 2.5, noNaN: true }),
      (dx, dy) => {
        const [prev, next] = shiftedPair(dx, dy);
        const { u, v } = opticalFlow(prev, next);
        assertClose(median(u.dataSync()), dx, { atol: 0.1, message: "median u" });
        assertClose(median(v.dataSync()), dy, { atol: 0.1, message: "median v" });
      },
    ),
    { numRuns: 6 },
  );
});

Deno.test("clipFlow of a stack equals opticalFlow pair by pair (planes never mix)", () => {
  const frames = renderClip(
    randomClipSpec(3, { camera: "zoom_in", frames: 4, width: 24, height: 16 }),
  );
  const lumaStack = (t: number) => np.array(luma(frames, t).data, { shape: [1, 16, 24] });
  const batched = clipFlow(framesToArray(frames, { dtype: "int32" }));
  assertEquals(batched.u.shape, [3, 16, 24]);
  for (let t = 0; t < 3; t++) {
    const single = opticalFlow(lumaStack(t), lumaStack(t + 1));
    const plane = (x: NDArray) => Array.from(x.dataSync().slice(t * 384, (t + 1) * 384));
    // Same luma up to float rounding (host vs matmul), so agreement is near-exact, not bitwise.
    assertClose(plane(batched.u), Array.from(single.u.dataSync()), { atol: 1e-4 });
    assertClose(plane(batched.v), Array.from(single.v.dataSync()), { atol: 1e-4 });
  }
});

Deno.test("opticalFlow leaves only its outputs alive and survives a scope around its first call", () => {
  const [prev, next] = shiftedPair(1, 0.5);
  const shape = [2, 18, 20]; // a shape no other test compiles
  const a = np.broadcastTo(np.sliceAxis(np.reshape(prev, [32, 32]), 0, 0, 18), [2, 18, 32]);
  const b = np.broadcastTo(np.sliceAxis(np.reshape(next, [32, 32]), 0, 0, 18), [2, 18, 32]);
  const p1 = np.sliceAxis(a, 2, 0, 20), p2 = np.sliceAxis(b, 2, 0, 20);
  assertEquals(p1.shape, shape);
  const before = device.memoryStats().liveArrays;
  // First call (tracing and compiling every level) inside a scope that frees all it made.
  const first = scope(() => opticalFlow(p1, p2).u.dataSync().slice());
  assertEquals(device.memoryStats().liveArrays, before, "nothing survives the scope");
  // A compiled program holding a constant freed by that scope would throw here.
  const again = opticalFlow(p1, p2);
  assertEquals(device.memoryStats().liveArrays, before + 3, "only u, v and confidence");
  assertEquals(again.u.dataSync(), first);
});

Deno.test("framePairFlows gives the same flows whatever pairsPerCall, over a frame range", async () => {
  const frames = renderClip(
    randomClipSpec(4, { camera: "pan_right", frames: 6, width: 16, height: 16 }),
  );
  const all = await framePairFlows(frames, { start: 1, end: 6 });
  const chunked = await framePairFlows(frames, { start: 1, end: 6, pairsPerCall: 3 });
  assertEquals(all.length, 4);
  assertEquals(chunked, all);
  const fromArrays = await readFlow(
    clipFlow(framesToArray(makeFrames(frames.data.slice(16 * 16 * 3), 5, 16, 16))),
  );
  assertEquals(fromArrays, all);
  assertEquals(await framePairFlows(frames, { start: 2, end: 3 }), []);
});

Deno.test("opticalFlow and clipFlow refuse bad shapes, dtypes and options with the values", async () => {
  const a = np.zeros([2, 16, 16]);
  assertThrows(
    () => opticalFlow(a, np.zeros([2, 16, 15])),
    RangeError,
    "[2,16,16] and next [2,16,15]",
  );
  assertThrows(() => opticalFlow(np.zeros([16, 16]), np.zeros([16, 16])), RangeError, "[P, H, W]");
  assertThrows(
    () =>
      opticalFlow(np.zeros([1, 4, 4], { dtype: "int32" }), np.zeros([1, 4, 4], { dtype: "int32" })),
    TypeError,
    "int32[1,4,4]",
  );
  assertThrows(
    () => opticalFlow(a, a, { levels: 0 }),
    RangeError,
    "levels must be an integer >= 1, got 0",
  );
  assertThrows(() => opticalFlow(a, a, { regularization: 0 }), RangeError, "got 0");
  assertThrows(() => clipFlow(np.zeros([1, 8, 8, 3])), RangeError, "at least 2 frames, got 1");
  const frames = makeFrames(new Uint8Array(3 * 8 * 8 * 3), 3, 8, 8);
  let error: unknown = null;
  await framePairFlows(frames, { end: 4 }).catch((e) => (error = e));
  assert(
    error instanceof RangeError && error.message.includes("[0, 4) is outside [0, 3)"),
    String(error),
  );
});
