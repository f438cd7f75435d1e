/**
 * Memory without reference counting: scope frees what it created except what it returns,
 * dispose frees now, freed arrays throw when read, and jit's cached programs survive scopes.
 */
import { device, grad, jit, type NDArray, np, scope, vmap } from "../../autograd/mod.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import { read } from "../_host.ts";

device.use("reference");

const live = () => device.memoryStats().liveArrays;
const bytes = () => device.memoryStats().liveBytes;

Deno.test("scope frees intermediates and keeps the returned arrays", () => {
  const x = np.array([1, 2, 3]);
  const before = live(), beforeBytes = bytes();
  let intermediate: NDArray | null = null;
  const result = scope(() => {
    intermediate = np.exp(x);
    const b = np.sin(intermediate);
    return np.add(b, np.multiply(b, 2));
  });
  assertEquals(live(), before + 1);
  assertEquals(bytes(), beforeBytes + 12);
  assert(intermediate!.isDisposed, "the intermediate must be freed");
  assert(!x.isDisposed, "arrays created outside the scope stay alive");
  assertEquals(read(result).length, 3);
});

Deno.test("scope keeps every array of a returned pytree and nests", () => {
  const before = live();
  const out = scope(() => {
    const inner = scope(() => {
      const t = np.ones([2]);
      return { a: np.add(t, 1), list: [np.multiply(t, 3)] };
    });
    const dropped = np.zeros([5]);
    return {
      kept: inner.a,
      also: inner.list[0]!,
      n: 3,
      dropped: null as NDArray | null,
      _: dropped.size,
    };
  });
  assertEquals(live(), before + 2);
  assertEquals(read(out.kept), [2, 2]);
  assertEquals(read(out.also), [3, 3]);
});

Deno.test("scope frees everything when its function throws", () => {
  const before = live();
  assertThrows(
    () =>
      scope(() => {
        np.ones([3]);
        np.zeros([2]);
        throw new Error("boom");
      }),
    Error,
    "boom",
  );
  assertEquals(live(), before);
});

Deno.test("async scope frees when the promise settles", async () => {
  const before = live();
  const out = await scope(async () => {
    const a = np.ones([2]);
    const b = np.add(a, 1);
    await Promise.resolve();
    return b;
  });
  assertEquals(live(), before + 1);
  assertEquals(read(out), [2, 2]);
  await assertRejects(
    () =>
      scope(async () => {
        np.ones([1]);
        await Promise.resolve();
        throw new Error("late");
      }),
    Error,
    "late",
  );
  assertEquals(live(), before + 1);
});

Deno.test("scope inside transformations defers freeing: gradients stay correct", () => {
  const f = (x: NDArray) => scope(() => np.sum(np.square(np.sin(x))));
  const x = np.array([0.5, -1]);
  const g = grad(f)(x) as NDArray;
  const want = [0.5, -1].map((v) => Math.fround(2 * Math.sin(v) * Math.cos(v)));
  assertEquals(read(g).map((v, i) => Math.abs(v - want[i]!) < 1e-6), [true, true]);
  assertEquals(read(vmap(f)(np.array([[1, 2], [3, 4]]))).length, 2);
});

Deno.test("reading a freed array throws; dispose is idempotent; `using` frees", () => {
  const x = np.array([1, 2]);
  x.dispose();
  x.dispose();
  assert(x.isDisposed);
  assertThrows(() => x.dataSync(), Error, "was freed");
  assertThrows(() => np.add(x, 1), Error, "was freed");
  const before = live();
  {
    using y = np.ones([4]);
    assertEquals(live(), before + 1);
    assertEquals(read(y), [1, 1, 1, 1]);
  }
  assertEquals(live(), before);
});

Deno.test("memoryStats counts bytes per dtype and tracks the peak", () => {
  const before = device.memoryStats();
  const a = np.zeros([10], { dtype: "float16" });
  const b = np.zeros([3], { dtype: "bool" });
  const c = np.zeros([2], { dtype: "int32" });
  const mid = device.memoryStats();
  assertEquals(mid.liveBytes - before.liveBytes, 20 + 3 + 8);
  assert(mid.peakBytes >= mid.liveBytes);
  for (const x of [a, b, c]) x.dispose();
  assertEquals(device.memoryStats().liveBytes, before.liveBytes);
  assertEquals(device.memoryStats().peakBytes, Math.max(mid.peakBytes, before.peakBytes));
});

Deno.test("a jitted function keeps working when its first call ran inside a scope", () => {
  // Tracing makes constants (the 0.3 below); the cached program must own them.
  const f = jit((w: NDArray) => np.multiply(w, 0.3));
  const first = scope(() => f(np.array([1, 2])));
  const second = scope(() => f(np.array([1, 2])));
  assertEquals(read(second), read(first));
});
