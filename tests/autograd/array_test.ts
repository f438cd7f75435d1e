/**
 * NDArray basics: creation from JavaScript data, reading back (data, toArray, item), dtype
 * widening of half types, method forms, and the device API on the reference interpreter.
 */
import { device, type NDArray, np } from "../../autograd/mod.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import { read } from "../_host.ts";

device.use("reference");

Deno.test("np.array infers shape and dtype; toArray nests; item reads size-1 arrays", async () => {
  const x = np.array([[1, 2, 3], [4, 5, 6]]);
  assertEquals([...x.shape], [2, 3]);
  assertEquals(x.dtype, "float32");
  assertEquals(await x.toArray(), [[1, 2, 3], [4, 5, 6]]);
  assertEquals(np.array([true, false]).dtype, "bool");
  assertEquals(np.array(new Int32Array([1, 2])).dtype, "int32");
  assertEquals(np.array(new Uint8Array([1, 2])).dtype, "int32");
  assertEquals([...np.array(new Float32Array(6), { shape: [2, 3] }).shape], [2, 3]);
  assertEquals(await np.array(7).toArray(), 7);
  assertEquals(await np.array([[5]]).item(), 5);
  await assertRejects(() => x.item(), Error, "size-1");
  assertThrows(() => np.array([[1, 2], [3]]), Error, "Ragged");
  assertThrows(() => np.array([1, 2, 3], { shape: [2, 2] }), Error, "[2,2]");
});

Deno.test("half-precision arrays read back widened to float32, rounded to their precision", async () => {
  const h = np.array([1 / 3, 70000, -0], { dtype: "float16" });
  const data = await h.data();
  assert(data instanceof Float32Array);
  assertEquals(Array.from(data), [0.333251953125, Infinity, -0]);
  const b = np.array([1 / 3], { dtype: "bfloat16" });
  assertEquals(Array.from(await b.data()), [0.333984375]);
});

Deno.test("method forms equal the np functions", () => {
  const x = np.array([[0.5, -1], [2, 0.25]]);
  const y = np.array([3, -2]);
  const pairs: [NDArray, NDArray][] = [
    [x.add(y), np.add(x, y)],
    [x.sub(1), np.subtract(x, 1)],
    [x.mul(y).div(2), np.divide(np.multiply(x, y), 2)],
    [x.abs().sqrt().exp().log(), np.log(np.exp(np.sqrt(np.abs(x))))],
    [x.T, np.transpose(x)],
    [x.sum(0, { keepdims: true }), np.sum(x, 0, { keepdims: true })],
    [x.max(1), np.max(x, 1)],
    [x.argmax(1), np.argmax(x, 1)],
    [x.reshape([4]), x.flatten()],
    [x.expandDims(0).squeeze(0), x],
    [x.matmul(x), np.matmul(x, x)],
    [x.astype("int32"), np.astype(x, "int32")],
    [x.maximum(0).minimum(1), np.clip(x, 0, 1)],
    [x.pow(2), np.square(x)],
    [x.less(y), np.less(x, y)],
  ];
  pairs.forEach(([a, b], i) => {
    assertEquals([...a.shape], [...b.shape], `pair ${i}`);
    assertEquals(read(a), read(b), `pair ${i}`);
  });
  assertEquals(x.describe(), "float32[2,2] array");
  assertEquals(x.ndim, 2);
  assertEquals(x.size, 4);
});

Deno.test("device reports the reference interpreter and moves arrays explicitly", async () => {
  const info = device.info();
  assertEquals(info.backend, "reference");
  assert(info.adapter.includes("reference"), info.adapter);
  const x = np.ones([2]);
  assertEquals(x.device, "reference");
  assert((await device.put(x, "reference")) === x);
  await assertRejects(() => device.put(x, "webgpu"), Error, "webgpu");
});

Deno.test("creation functions: arange, linspace, eye, tri, full, zerosLike", () => {
  assertEquals(read(np.arange(5)), [0, 1, 2, 3, 4]);
  assertEquals(np.arange(5).dtype, "int32");
  assertEquals(read(np.arange(0, 1, 0.25)), [0, 0.25, 0.5, 0.75]);
  assertEquals(read(np.arange(3, 0, -1)), [3, 2, 1]);
  assertEquals(read(np.arange(2, 2)), []);
  assertEquals(read(np.linspace(0, 1, 5)), [0, 0.25, 0.5, 0.75, 1]);
  assertEquals(read(np.linspace(0, 1, 4, { endpoint: false })), [0, 0.25, 0.5, 0.75]);
  assertEquals(read(np.linspace(2, 3, 1)), [2]);
  assertEquals(read(np.eye(2, 3, { k: 1 })), [0, 1, 0, 0, 0, 1]);
  assertEquals(read(np.tri(3, 3, { k: -1 })), [0, 0, 0, 1, 0, 0, 1, 1, 0]);
  assertEquals(read(np.full([2], 7, { dtype: "int32" })), [7, 7]);
  assertEquals(np.full([1], true).dtype, "bool");
  assertEquals(read(np.zerosLike(np.ones([2], { dtype: "uint32" }))), [0, 0]);
  assertThrows(() => np.zeros([2, -1]), Error, "[2,-1]");
  assertThrows(() => np.arange(0, 1, 0), Error, "step");
});
