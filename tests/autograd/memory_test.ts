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

Deno.test("scope around a transformation leaves only the returned arrays alive", () => {
  const x = np.array([[0.5, -1], [2, 0.25]]);
  const w = np.array([1, -2]);
  const f = (a: NDArray) => np.sum(np.tanh(np.matmul(a, w)));
  const jitted = jit(grad(f));
  jitted(x).dispose(); // traced once: its constants now belong to the jitted function
  const runs: [string, () => unknown][] = [
    ["grad", () => grad(f)(x)],
    ["grad of grad", () => grad((a: NDArray) => np.sum(grad(f)(a) as NDArray))(x)],
    ["vmap", () => vmap((r: NDArray) => np.exp(r))(x)],
    ["vmap of grad", () => vmap(grad((r: NDArray) => np.sum(np.sin(r))))(x)],
    ["a cached jit of grad", () => jitted(x)],
  ];
  for (const [name, run] of runs) {
    const before = live();
    const result = scope(run);
    assertEquals(live(), before + 1, `${name} leaves ${live() - before} arrays`);
    (result as NDArray).dispose();
  }
});

Deno.test("garbage collection frees dropped arrays and the constants of dropped jitted functions", async () => {
  // Needs --expose-gc, so it runs in a child Deno.
  const script = `
    import { device, jit, np } from ${
    JSON.stringify(new URL("../../autograd/mod.ts", import.meta.url).href)
  };
    device.use("reference");
    const gc = (globalThis as unknown as { gc(): void }).gc;
    const settle = async () => {
      for (let i = 0; i < 5; i++) { gc(); await new Promise((r) => setTimeout(r, 10)); }
    };
    const x = np.ones([8]);
    await settle();
    const base = device.memoryStats().liveArrays;
    (() => {
      for (let i = 0; i < 20; i++) {
        np.exp(np.add(x, i));               // dropped without dispose
        jit((a: np.NDArray) => np.multiply(np.add(a, i + 0.5), 3))(x); // its constants too
      }
    })();
    const peak = device.memoryStats().liveArrays;
    await settle();
    console.log(JSON.stringify({ base, peak, after: device.memoryStats().liveArrays }));
  `;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, script);
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-check", "--v8-flags=--expose-gc", file],
    }).output();
    const text = new TextDecoder().decode(stdout);
    assertEquals(code, 0, new TextDecoder().decode(stderr));
    const { base, peak, after } = JSON.parse(text.trim().split("\n").pop()!);
    assert(peak > base + 40, `expected garbage to pile up first: ${text}`);
    assertEquals(after, base, `live arrays after collection: ${text}`);
  } finally {
    await Deno.remove(file);
  }
});
