import { assert, assertEquals } from "../../_assert.ts";
import type { Backend, BackendArray, Var } from "../../../kernels/backend.ts";
import { createWebgpuBackend } from "../../../kernels/webgpu/backend.ts";
import { sharedGpu } from "../../../kernels/webgpu/device.ts";
import { sizeClass } from "../../../kernels/webgpu/runtime.ts";
import { skipReason } from "./_harness.ts";

const ignore = skipReason !== null;
const f32 = (shape: number[]) => ({ shape, dtype: "float32" as const });

Deno.test("sizeClass rounds up by at most a quarter of a power of two", () => {
  assertEquals(sizeClass(1), 256);
  assertEquals(sizeClass(4096), 4096);
  assertEquals(sizeClass(4097), 5120);
  for (let b = 300; b < 1e7; b = Math.floor(b * 1.37)) {
    const c = sizeClass(b);
    assert(c >= b && c <= b * 1.25 + 256, `sizeClass(${b}) = ${c}`);
  }
});

Deno.test({
  name: "a kernel reading more buffers than the adapter binds is split, and stays correct",
  ignore,
  async fn() {
    const backend = createWebgpuBackend((await sharedGpu())!)!;
    const n = backend.runtime.target.maxStorageBuffersPerStage + 4;
    const xs = Array.from(
      { length: n },
      (_, i) => backend.fromHost(new Float32Array([i, 2 * i]), f32([2])),
    );
    let sum: BackendArray = xs[0]!;
    for (const x of xs.slice(1)) sum = backend.execute("add", {}, [sum, x], [f32([2])])[0]!;
    const before = backend.counters.launches;
    const out = await backend.read(sum);
    const launches = backend.counters.launches - before;
    const total = (n * (n - 1)) / 2;
    assertEquals([...out], [total, 2 * total]);
    assert(launches >= 2 && launches <= 4, `expected a split into a few kernels, got ${launches}`);
  },
});

Deno.test({
  name: "more than 65,535 workgroups dispatch as a 2-D grid",
  ignore,
  async fn() {
    const backend = createWebgpuBackend((await sharedGpu())!, { maxWorkgroups: 1 << 22 })!;
    const n = 65_536 * 256 + 300;
    const [y] = backend.execute("iota", { shape: [n], axis: 0, dtype: "int32" }, [], [
      { shape: [n], dtype: "int32" },
    ]);
    const out = await backend.read(y!) as Int32Array;
    for (const i of [0, 1, 65_535 * 256, 65_536 * 256, n - 1]) assertEquals(out[i], i);
    backend.release(y!);
  },
});

Deno.test({
  name: "freed buffers are reused by size class and memoryStats counts live arrays and bytes",
  ignore,
  async fn() {
    const backend = createWebgpuBackend((await sharedGpu())!)!;
    const x = backend.fromHost(new Float32Array(1000).fill(1), f32([1000]));
    const base = backend.memoryStats();
    assertEquals(base.liveArrays, 1);
    assertEquals(base.liveBytes, 4096);
    let created = -1;
    for (let i = 0; i < 5; i++) {
      const [y] = backend.execute("exp", {}, [x], [f32([1000])]);
      await backend.read(y!);
      assertEquals(backend.memoryStats().liveBytes, 8192);
      backend.release(y!);
      if (i === 1) created = backend.counters.buffersCreated;
    }
    assertEquals(backend.counters.buffersCreated, created, "each iteration allocated a new buffer");
    assertEquals(backend.memoryStats().liveBytes, 4096);
    // retain/release: the array lives until its last handle goes.
    backend.retain(x);
    backend.release(x);
    assertEquals(backend.memoryStats().liveArrays, 1);
    backend.release(x);
    assertEquals(backend.memoryStats().liveArrays, 0);
    assertEquals(backend.memoryStats().liveBytes, 0);
    const asBackend: Backend = backend;
    assert(asBackend.readSync === undefined, "the WebGPU backend must only read asynchronously");
  },
});

Deno.test({
  name: "a lazy intermediate stays valid after the arrays it came from are released",
  ignore,
  async fn() {
    const backend = createWebgpuBackend((await sharedGpu())!)!;
    const x = backend.fromHost(new Float32Array([1, 2, 3]), f32([3]));
    const [y] = backend.execute("mul", {}, [x, x], [f32([3])]);
    backend.release(x); // y still needs x's storage
    const [z] = backend.execute("neg", {}, [y!], [f32([3])]);
    backend.release(y!);
    assertEquals([...(await backend.read(z!))], [-1, -4, -9]);
    backend.release(z!);
    assertEquals(backend.memoryStats().liveArrays, 0);
  },
});

Deno.test({
  name: "the same computation on new arrays renders the same WGSL (pipeline cache hits)",
  ignore,
  async fn() {
    const backend = createWebgpuBackend((await sharedGpu())!)!;
    const run = async () => {
      const x = backend.fromHost(new Float32Array(64 * 300).fill(0.5), f32([64, 300]));
      // softmax over rows: two reductions staged inside one row kernel.
      const [m] = backend.execute("reduce_max", { axes: [1] }, [x], [f32([64])]);
      const [mb] = backend.execute("broadcast", { shape: [64, 300], dims: [0] }, [m!], [
        f32([64, 300]),
      ]);
      const [d] = backend.execute("sub", {}, [x, mb!], [f32([64, 300])]);
      const [e] = backend.execute("exp", {}, [d!], [f32([64, 300])]);
      const [s] = backend.execute("reduce_sum", { axes: [1] }, [e!], [f32([64])]);
      const [sb] = backend.execute("broadcast", { shape: [64, 300], dims: [0] }, [s!], [
        f32([64, 300]),
      ]);
      const [y] = backend.execute("div", {}, [e!, sb!], [f32([64, 300])]);
      const out = await backend.read(y!);
      for (const a of [x, m, mb, d, e, s, sb, y]) backend.release(a!);
      return out[0]!;
    };
    assert(Math.abs((await run()) - 1 / 300) < 1e-7);
    const pipelines = backend.counters.pipelines;
    await run();
    assertEquals(backend.counters.pipelines, pipelines, "a repeated computation compiled again");
  },
});

Deno.test({
  name: "read computes and copies out in one submit and reuses its staging buffers",
  ignore,
  async fn() {
    const backend = createWebgpuBackend((await sharedGpu())!)!;
    const x = backend.fromHost(Float32Array.from({ length: 3000 }, (_, i) => i), f32([3000]));
    const read = async () => {
      const [y] = backend.execute("neg", {}, [x], [f32([3000])]);
      const before = backend.counters.submits;
      const out = await backend.read(y!);
      backend.release(y!);
      assertEquals(backend.counters.submits - before, 1, "the kernel and the copy were split");
      return out;
    };
    const first = await read();
    assertEquals([first[0], first[1], first[2999]], [-0, -1, -2999]);
    const staged = backend.counters.stagingCreated;
    for (let i = 0; i < 3; i++) await read();
    assertEquals(backend.counters.stagingCreated, staged, "each read created a staging buffer");
    assert(backend.runtime.stagingBytes > 0, "the staging buffer was not pooled");
    // Reads in flight together each take their own staging buffer.
    const [a] = backend.execute("mul", {}, [x, x], [f32([3000])]);
    const [b] = backend.execute("add", {}, [x, x], [f32([3000])]);
    const [ra, rb] = await Promise.all([backend.read(a!), backend.read(b!)]);
    assertEquals([ra[3], ra[2999], rb[3], rb[2999]], [9, 2999 * 2999, 6, 5998]);
    for (const y of [a!, b!, x]) backend.release(y);
    backend.runtime.trimPool();
    assertEquals(backend.runtime.stagingBytes, 0);
  },
});

Deno.test({
  name: "read converts bool words to bytes and copies odd-length float16 exactly",
  ignore,
  async fn() {
    const backend = createWebgpuBackend((await sharedGpu())!)!;
    const flags = backend.fromHost(Uint8Array.from([1, 0, 0, 1, 1]), { shape: [5], dtype: "bool" });
    const [not] = backend.execute("logical_not", {}, [flags], [{ shape: [5], dtype: "bool" }]);
    assertEquals([...(await backend.read(not!))], [0, 1, 1, 0, 0]);
    // Three halves are 6 bytes: the staging copy is padded to 8, the result must not be.
    const bits = Uint16Array.from([0x3c00, 0xc000, 0x7bff]);
    const h = backend.fromHost(bits, { shape: [3], dtype: "float16" });
    const out = await backend.read(h);
    assert(out instanceof Uint16Array && out.length === 3, "float16 reads as 3 raw halves");
    assertEquals([...out], [...bits]);
    for (const y of [flags, not!, h]) backend.release(y);
  },
});

Deno.test({
  name: "jit replays reuse cached bind groups, dropped when their buffers are destroyed",
  ignore,
  async fn() {
    const backend = createWebgpuBackend((await sharedGpu())!)!;
    const v = (id: number): Var => ({ id, aval: f32([4, 4]) });
    // (a b) b: two kernels with an intermediate taken from the pool on every call.
    const exe = backend.compile({
      constVars: [],
      inputs: [v(0), v(1)],
      equations: [
        { call: { prim: "matmul", params: {} }, inputs: [v(0), v(1)], outputs: [v(2)] },
        { call: { prim: "matmul", params: {} }, inputs: [v(2), v(1)], outputs: [v(3)] },
      ],
      outputs: [v(3)],
    });
    const a = backend.fromHost(new Float32Array(16).fill(1), f32([4, 4]));
    const b = backend.fromHost(new Float32Array(16).fill(2), f32([4, 4]));
    const run = async () => {
      const [out] = exe.run([a, b]);
      const host = await backend.read(out!);
      backend.release(out!);
      assertEquals([...host], new Array(16).fill(64));
    };
    // The pool hands out last-freed first, so the intermediate and the output trade buffers
    // from one call to the next: after two calls every binding has been seen.
    await run();
    await run();
    const hits = backend.counters.bindGroupHits;
    await run();
    await run();
    assertEquals(backend.counters.bindGroupHits - hits, 4, "warm calls created bind groups");
    // Every cached group binds the intermediate or the output, both pooled now: destroying
    // them drops the groups (they would keep dead buffers' groups alive otherwise).
    assert(backend.runtime.cachedBindGroups > 0, "nothing was cached");
    backend.runtime.trimPool();
    assertEquals(backend.runtime.cachedBindGroups, 0);
    await run();
    backend.runtime.poolLimitBytes = 0;
    await run();
    await run();
    for (const x of [a, b]) backend.release(x);
  },
});

Deno.test({
  name: "with debug timing, each timed pass sets its pipeline even when the kernel repeats",
  ignore: ignore || !(await sharedGpu())?.has("timestamp-query"),
  async fn() {
    const lines: string[] = [];
    const backend = createWebgpuBackend((await sharedGpu())!, {
      debug: true,
      log: (l) => lines.push(l),
    })!;
    const a = backend.fromHost(new Float32Array(16).fill(1), f32([4, 4]));
    const b = backend.fromHost(new Float32Array(16).fill(1), f32([4, 4]));
    // ((a b) b) b: the last two matmuls are the same pipeline twice in a row, each in its own
    // timed pass.
    const [t] = backend.execute("matmul", {}, [a, b], [f32([4, 4])]);
    const [u] = backend.execute("matmul", {}, [t!, b], [f32([4, 4])]);
    const [w] = backend.execute("matmul", {}, [u!, b], [f32([4, 4])]);
    assertEquals([...(await backend.read(w!))], new Array(16).fill(64));
    assert(lines.filter((l) => l.includes("workgroups=")).length >= 3, lines.join("\n"));
    for (const x of [a, b, t!, u!, w!]) backend.release(x);
  },
});
