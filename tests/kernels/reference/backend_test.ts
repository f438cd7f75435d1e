/**
 * The reference backend: storage accounting (live arrays, bytes, peak), handles, reading freed
 * arrays, and program interpretation that frees intermediates after their last use.
 */
import type { Program, Var } from "../../../kernels/backend.ts";
import { programToString } from "../../../kernels/backend.ts";
import { ReferenceBackend } from "../../../kernels/reference/backend.ts";
import { assertEquals, assertThrows } from "../../_assert.ts";

const f32 = (shape: number[]) => ({ shape, dtype: "float32" as const });

Deno.test("ReferenceBackend counts live arrays and bytes, and keeps the peak", () => {
  const cpu = new ReferenceBackend();
  const a = cpu.fromHost(new Float32Array([1, 2, 3]), f32([3]));
  const b = cpu.fromHost(new Uint16Array([0x3c00]), { shape: [1], dtype: "float16" });
  assertEquals(cpu.memoryStats(), { liveArrays: 2, liveBytes: 14, peakBytes: 14 });
  cpu.retain(a);
  cpu.release(a);
  assertEquals(cpu.memoryStats().liveArrays, 2); // one handle left
  cpu.release(a);
  cpu.release(a); // releasing a freed array is a no-op
  assertEquals(cpu.memoryStats(), { liveArrays: 1, liveBytes: 2, peakBytes: 14 });
  cpu.release(b);
  assertEquals(cpu.memoryStats(), { liveArrays: 0, liveBytes: 0, peakBytes: 14 });
});

Deno.test("ReferenceBackend throws when reading or retaining a freed array", () => {
  const cpu = new ReferenceBackend();
  const a = cpu.fromHost(new Float32Array([1]), f32([1]));
  cpu.release(a);
  assertThrows(() => cpu.readSync(a), Error, "already freed");
  assertThrows(() => cpu.retain(a), Error, "already freed");
});

Deno.test("ReferenceBackend rejects host data that does not fill the shape", () => {
  const cpu = new ReferenceBackend();
  assertThrows(() => cpu.fromHost(new Float32Array(5), f32([2, 3])), Error, "[2,3]");
});

Deno.test("a compiled program frees its intermediates and returns only its outputs", () => {
  const cpu = new ReferenceBackend();
  const v = (id: number): Var => ({ id, aval: f32([2]) });
  // out = exp(x) * (x + x); exp(x) and x + x are intermediates.
  const program: Program = {
    constVars: [],
    inputs: [v(0)],
    equations: [
      { call: { prim: "exp", params: {} }, inputs: [v(0)], outputs: [v(1)] },
      { call: { prim: "add", params: {} }, inputs: [v(0), v(0)], outputs: [v(2)] },
      { call: { prim: "mul", params: {} }, inputs: [v(1), v(2)], outputs: [v(3)] },
      { call: { prim: "neg", params: {} }, inputs: [v(3)], outputs: [v(4)] }, // unused
    ],
    outputs: [v(3), v(0)],
  };
  const x = cpu.fromHost(new Float32Array([0, 1]), f32([2]));
  const exe = cpu.compile(program);
  const [out, same] = exe.run([x]);
  assertEquals(Array.from(cpu.readSync(out!)), [0, Math.fround(Math.E * 2)]);
  // Live: x (its own handle plus the returned one) and out.
  assertEquals(cpu.memoryStats().liveArrays, 2);
  cpu.release(same!);
  assertEquals(Array.from(cpu.readSync(x)), [0, 1]); // the caller's handle survives
  cpu.release(x);
  assertEquals(cpu.memoryStats().liveArrays, 1);
  assertEquals(exe.describe().includes(programToString(program)), true);
  assertThrows(() => exe.run([]), Error, "expects 1 arguments");
});
