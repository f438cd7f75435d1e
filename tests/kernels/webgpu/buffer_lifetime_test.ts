/**
 * Regression tests: a buffer released while kernels that use it are recorded but not yet
 * submitted must not be destroyed before the submit (Dawn rejects the whole command buffer:
 * "[Buffer] used in submit while destroyed", seen on an H200 with 437 MB attention buffers,
 * which were over the pool's cap and so destroyed instead of pooled). Each test sets the pool
 * cap to 0 so that every release destroys, and covers one path that releases mid-recording:
 * eager intermediates, jit replay intermediates and donated arguments, a step's scratch
 * buffer, and trimming the pool.
 */

import { assertEquals } from "../../_assert.ts";
import type { Program, Var } from "../../../kernels/backend.ts";
import type { Aval } from "../../../kernels/primitives.ts";
import { floatToHalfBits, halfBitsToFloat } from "../../../kernels/half.ts";
import { createWebgpuBackend, type WebgpuBackend } from "../../../kernels/webgpu/backend.ts";
import { sharedGpu } from "../../../kernels/webgpu/device.ts";
import { schedule } from "../../../kernels/webgpu/schedule.ts";
import { skipReason } from "./_harness.ts";

const ignore = skipReason !== null;
const f32 = (shape: number[]): Aval => ({ shape, dtype: "float32" });

/** A fresh backend whose pool keeps nothing: every released buffer is destroyed. */
async function noPoolBackend(): Promise<WebgpuBackend> {
  const backend = createWebgpuBackend((await sharedGpu())!)!;
  backend.runtime.poolLimitBytes = 0;
  return backend;
}

/** `[n, n]` with entry (i, j) = i + 2j, and its host copy. */
function ramp(n: number): Float32Array {
  return Float32Array.from({ length: n * n }, (_, k) => Math.floor(k / n) + 2 * (k % n));
}

function hostMatmul(a: Float32Array, b: Float32Array, n: number): Float32Array {
  const c = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      for (let j = 0; j < n; j++) c[i * n + j]! += a[i * n + k]! * b[k * n + j]!;
    }
  }
  return c;
}

Deno.test({
  name: "release of an eager intermediate with an unsubmitted reader defers its destruction",
  ignore,
  async fn() {
    const backend = await noPoolBackend();
    const n = 16;
    const host = ramp(n);
    const a = backend.fromHost(host, f32([n, n]));
    // Two matmuls never fuse: t is an intermediate freed right after its reader is recorded.
    const [t] = backend.execute("matmul", {}, [a, a], [f32([n, n])]);
    const [u] = backend.execute("matmul", {}, [t!, a], [f32([n, n])]);
    backend.release(t!);
    const out = await backend.read(u!);
    assertEquals([...out], [...hostMatmul(hostMatmul(host, host, n), host, n)]);
    backend.release(a);
    backend.release(u!);
  },
});

Deno.test({
  name: "jit replay destroys donated arguments and temporaries only after submitting",
  ignore,
  async fn() {
    const backend = await noPoolBackend();
    const n = 8;
    const v = (id: number): Var => ({ id, aval: f32([n, n]) });
    // f(a, b) = (a b) b with `a` donated: both `a` and `a b` die mid-recording.
    const program: Program = {
      constVars: [],
      inputs: [v(0), v(1)],
      equations: [
        { call: { prim: "matmul", params: {} }, inputs: [v(0), v(1)], outputs: [v(2)] },
        { call: { prim: "matmul", params: {} }, inputs: [v(2), v(1)], outputs: [v(3)] },
      ],
      outputs: [v(3)],
    };
    const exe = backend.compile(program, { donate: [0] });
    const host = ramp(n);
    const b = backend.fromHost(host, f32([n, n]));
    const expected = hostMatmul(hostMatmul(host, host, n), host, n);
    for (let call = 0; call < 2; call++) {
      const a = backend.fromHost(host, f32([n, n]));
      const [out] = exe.run([a, b]);
      backend.release(a);
      assertEquals([...(await backend.read(out!))], [...expected], `call ${call}`);
      backend.release(out!);
    }
    backend.release(b);
  },
});

Deno.test({
  name: "a step's scratch buffer outlives the submit of the kernels that use it",
  ignore,
  async fn() {
    const backend = await noPoolBackend();
    // float16 scatter_add accumulates in an f32 scratch buffer, then rounds into the output.
    const updates = [1.5, 2, -0.25, 4, 8];
    const indices = [0, 2, 0, 1, 2];
    const u = backend.fromHost(
      Uint16Array.from(updates, floatToHalfBits),
      { shape: [5], dtype: "float16" },
    );
    const idx = backend.fromHost(Int32Array.from(indices), { shape: [5], dtype: "int32" });
    const [y] = backend.execute("scatter_add", { axis: 0, size: 3 }, [u, idx], [
      { shape: [3], dtype: "float16" },
    ]);
    const out = await backend.read(y!);
    assertEquals([...out].map(halfBitsToFloat), [1.25, 4, 10]);
    for (const x of [u, idx, y!]) backend.release(x);
  },
});

Deno.test({
  name: "trimPool while kernels are recorded keeps the buffers they use until the submit",
  ignore,
  async fn() {
    const backend = createWebgpuBackend((await sharedGpu())!)!;
    const n = 16;
    const host = ramp(n);
    const a = backend.fromHost(host, f32([n, n]));
    const [t] = backend.execute("matmul", {}, [a, a], [f32([n, n])]);
    const [u] = backend.execute("matmul", {}, [t!, a], [f32([n, n])]);
    backend.release(t!);
    // Record without submitting: t's buffer goes back to the pool after its last reader.
    const target = backend.node(u!);
    backend.runSteps(schedule([target], backend.config), new Set([target]));
    backend.runtime.trimPool();
    assertEquals(backend.runtime.pooledBytes, 0);
    const out = await backend.read(u!);
    assertEquals([...out], [...hostMatmul(hostMatmul(host, host, n), host, n)]);
    backend.release(a);
    backend.release(u!);
  },
});
