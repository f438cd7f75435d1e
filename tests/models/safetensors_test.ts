import { device, type NDArray, np } from "../../autograd/mod.ts";
import { floatToBfloat16Bits } from "../../kernels/half.ts";
import {
  openSafetensors,
  readSafetensorsHeader,
  saveSafetensors,
} from "../../models/safetensors.ts";
import { loadSafetensors } from "../../models/checkpoint.ts";
import { assertEquals, assertRejects } from "../_assert.ts";

device.use("reference");

const dir = await Deno.makeTempDir({ prefix: "droplet_safetensors_" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

/** Writes a safetensors file by hand: header JSON, then `data`. */
async function writeRaw(name: string, header: unknown, data: Uint8Array, lengthOverride?: bigint) {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  const path = `${dir}/${name}`;
  await Deno.writeFile(path, new Uint8Array([...len, ...json, ...data]));
  return path;
}

async function bitsOf(x: NDArray): Promise<number[]> {
  return Array.from(await x.rawData());
}

Deno.test("saveSafetensors / loadSafetensors round-trip every dtype bit for bit", async () => {
  const tree = {
    f32: np.array(new Float32Array([1.5, -0, Infinity, -Infinity, NaN, 1e-45, 3.4e38]), {
      shape: [7],
    }),
    // float16 bit patterns: 1, -0, a subnormal, max, inf, a NaN with a payload.
    f16: np.fromRaw(new Uint16Array([0x3c00, 0x8000, 0x0001, 0x7bff, 0x7c00, 0x7e01]), {
      shape: [2, 3],
      dtype: "float16",
    }),
    bf16: np.fromRaw(new Uint16Array([0x3f80, 0xff80, 0x7fc1, 0x0001]), {
      shape: [4],
      dtype: "bfloat16",
    }),
    nested: {
      i32: np.array(new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0]), { shape: [3, 1] }),
      u32: np.array(new Uint32Array([0, 2 ** 32 - 1]), { shape: [2] }),
      flags: [np.array([true, false, true])],
      scalar: np.array(2.5),
    },
  };
  const path = `${dir}/all.safetensors`;
  await saveSafetensors(path, tree, { metadata: { format: "pt", note: "test" } });
  const header = await readSafetensorsHeader(path);
  assertEquals(header.metadata, { format: "pt", note: "test" });
  assertEquals(header.dataStart % 8, 0);
  assertEquals(header.tensors.map((t) => [t.name, t.dtype]), [
    ["f32", "F32"],
    ["f16", "F16"],
    ["bf16", "BF16"],
    ["nested.i32", "I32"],
    ["nested.u32", "U32"],
    ["nested.flags.0", "BOOL"],
    ["nested.scalar", "F32"],
  ]);
  const back = await loadSafetensors(path, { floatDtype: "keep" });
  const expected: [string, NDArray][] = [
    ["f32", tree.f32],
    ["f16", tree.f16],
    ["bf16", tree.bf16],
    ["nested.i32", tree.nested.i32],
    ["nested.u32", tree.nested.u32],
    ["nested.flags.0", tree.nested.flags[0]!],
    ["nested.scalar", tree.nested.scalar],
  ];
  for (const [name, x] of expected) {
    const y = back[name]!;
    assertEquals([y.dtype, y.shape], [x.dtype, x.shape], name);
    assertEquals(await bitsOf(y), await bitsOf(x), name);
  }
});

Deno.test("BF16 loads as float32 exactly, every one of the 65536 bit patterns", async () => {
  const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const path = await writeRaw(
    "bf16.safetensors",
    { x: { dtype: "BF16", shape: [65536], data_offsets: [0, 131072] } },
    new Uint8Array(bits.buffer),
  );
  const x = (await loadSafetensors(path)).x!;
  assertEquals(x.dtype, "float32");
  const got = await x.rawData() as Float32Array;
  const wide = new Uint32Array(got.buffer, got.byteOffset, got.length);
  for (let i = 0; i < 65536; i++) {
    // The reference device keeps floats as JS numbers, which quiet signaling NaNs; any NaN
    // must stay a NaN, every other pattern must be exactly the top half of the float32.
    const isNaN = (i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0;
    const ok = isNaN ? Number.isNaN(got[i]) : wide[i] === (i << 16) >>> 0;
    if (!ok) {
      throw new Error(`bf16 0x${i.toString(16)} loaded as float32 bits 0x${wide[i]!.toString(16)}`);
    }
  }
});

Deno.test("BF16 and F32 load as float16 rounded to nearest; float16 overflow is refused", async () => {
  // 65280 is the largest bfloat16 below float16's maximum (65504 itself rounds to 65536 in bf16).
  const values = [1, -2.5, 0.1, 1000.5, 65280, 1e-6];
  const bf = Uint16Array.from(values, floatToBfloat16Bits);
  const path = await writeRaw(
    "bf16h.safetensors",
    { x: { dtype: "BF16", shape: [6], data_offsets: [0, 12] } },
    new Uint8Array(bf.buffer),
  );
  const h = (await loadSafetensors(path, { floatDtype: "float16" })).x!;
  assertEquals(h.dtype, "float16");
  const asF32 = Array.from(bf, (b) => new Float32Array(new Uint32Array([b << 16]).buffer)[0]!);
  assertEquals(
    Array.from(h.dataSync()),
    Array.from(np.array(asF32, { dtype: "float16" }).dataSync()),
  );
  const big = await writeRaw(
    "big.safetensors",
    { x: { dtype: "F32", shape: [1], data_offsets: [0, 4] } },
    new Uint8Array(new Float32Array([1e6]).buffer),
  );
  await assertRejects(
    () => loadSafetensors(big, { floatDtype: "float16" }),
    Error,
    "beyond float16's range",
  );
});

Deno.test("integer, float64 and bool file dtypes convert, I64 out of int32 range is refused", async () => {
  const parts: [string, string, number[], Uint8Array][] = [
    ["f64", "F64", [2], new Uint8Array(new Float64Array([0.1, -3]).buffer)],
    ["i64", "I64", [3], new Uint8Array(new BigInt64Array([-5n, 2147483647n, -2147483648n]).buffer)],
    ["u64", "U64", [1], new Uint8Array(new BigUint64Array([4294967295n]).buffer)],
    ["i16", "I16", [2], new Uint8Array(new Int16Array([-300, 300]).buffer)],
    ["u16", "U16", [1], new Uint8Array(new Uint16Array([65535]).buffer)],
    ["i8", "I8", [2], new Uint8Array(new Int8Array([-128, 127]).buffer)],
    ["u8", "U8", [2], new Uint8Array([0, 255])],
    ["b", "BOOL", [3], new Uint8Array([1, 0, 1])],
  ];
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, dtype, shape, bytes] of parts) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
  }
  const data = new Uint8Array(offset);
  offset = 0;
  for (const [, , , bytes] of parts) {
    data.set(bytes, offset);
    offset += bytes.length;
  }
  const path = await writeRaw("ints.safetensors", header, data);
  const t = await loadSafetensors(path);
  assertEquals([t.f64!.dtype, Array.from(t.f64!.dataSync())], ["float32", [Math.fround(0.1), -3]]);
  assertEquals([t.i64!.dtype, Array.from(t.i64!.dataSync())], ["int32", [
    -5,
    2147483647,
    -2147483648,
  ]]);
  assertEquals([t.u64!.dtype, Array.from(t.u64!.dataSync())], ["uint32", [4294967295]]);
  assertEquals(Array.from(t.i16!.dataSync()), [-300, 300]);
  assertEquals(Array.from(t.u16!.dataSync()), [65535]);
  assertEquals([t.i8!.dtype, Array.from(t.i8!.dataSync())], ["int32", [-128, 127]]);
  assertEquals(Array.from(t.u8!.dataSync()), [0, 255]);
  assertEquals([t.b!.dtype, Array.from(t.b!.dataSync())], ["bool", [1, 0, 1]]);
  const bad = await writeRaw(
    "i64big.safetensors",
    { big: { dtype: "I64", shape: [2], data_offsets: [0, 16] } },
    new Uint8Array(new BigInt64Array([1n, 2n ** 40n]).buffer),
  );
  await assertRejects(
    () => loadSafetensors(bad),
    Error,
    'tensor "big" (I64) holds 1099511627776 at element 1',
  );
});

Deno.test("a truncated file is rejected naming the tensors cut off", async () => {
  const path = `${dir}/cut.safetensors`;
  await saveSafetensors(path, { a: np.ones([4]), b: np.ones([8]), c: np.ones([2]) });
  const bytes = await Deno.readFile(path);
  await Deno.writeFile(path, bytes.subarray(0, bytes.length - 20));
  const error = await assertRejects(() => openSafetensors(path), Error, "is truncated");
  assertEquals(error.message.includes("2 tensors cut off: b, c"), true, error.message);
  await Deno.writeFile(path, bytes.subarray(0, 5));
  await assertRejects(() => openSafetensors(path), Error, "cannot hold the 8-byte header length");
  await Deno.writeFile(path, bytes.subarray(0, 30));
  await assertRejects(() => openSafetensors(path), Error, "header length");
});

Deno.test("a header with overlapping offsets is rejected naming both tensors", async () => {
  const path = await writeRaw("overlap.safetensors", {
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
  }, new Uint8Array(12));
  await assertRejects(
    () => openSafetensors(path),
    Error,
    'tensors "a" [0, 8) and "b" [4, 12) overlap',
  );
});

Deno.test("corrupt headers are rejected with the reason: gap, size, dtype, JSON, trailing bytes", async () => {
  const cases: [string, unknown, number, string][] = [
    ["gap", { a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, 8, "belong to no tensor"],
    ["size", { a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, 8, "needs 12 bytes"],
    [
      "dtype",
      { a: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } },
      1,
      "unsupported dtype",
    ],
    ["trail", { a: { dtype: "U8", shape: [1], data_offsets: [0, 1] } }, 5, "after the last tensor"],
    ["meta", { __metadata__: { n: 1 } }, 0, "not a string"],
  ];
  for (const [name, header, size, message] of cases) {
    const path = await writeRaw(`${name}.safetensors`, header, new Uint8Array(size));
    await assertRejects(() => openSafetensors(path), Error, message);
  }
  const json = await writeRaw("json.safetensors", {}, new Uint8Array(0));
  const bytes = await Deno.readFile(json);
  bytes[9] = 0x22; // '{}' -> '{"'
  await Deno.writeFile(json, bytes);
  await assertRejects(() => openSafetensors(json), Error, "not valid JSON");
});

Deno.test("reading one tensor seeks past 16 GiB of a sparse file without reading it", async () => {
  const gap = 16 * 2 ** 30;
  const path = await writeRaw("sparse.safetensors", {
    big: { dtype: "U8", shape: [gap], data_offsets: [0, gap] },
    w: { dtype: "F32", shape: [2], data_offsets: [gap, gap + 8] },
  }, new Uint8Array(0));
  const file0 = await Deno.open(path, { write: true });
  const headerEnd = (await file0.stat()).size;
  await file0.truncate(headerEnd + gap + 8); // sparse: no bytes written, none stored
  await file0.seek(headerEnd + gap, Deno.SeekMode.Start);
  await file0.write(new Uint8Array(new Float32Array([3, -4]).buffer));
  file0.close();
  const file = await openSafetensors(path);
  try {
    const t0 = performance.now();
    const w = await file.read("w");
    assertEquals(Array.from(w.dataSync()), [3, -4]);
    assertEquals(performance.now() - t0 < 2000, true);
    await assertRejects(() => file.read("missing"), Error, "has no tensor");
  } finally {
    file.close();
  }
});

Deno.test("concurrent reads of one open file each get their own tensor", async () => {
  const path = `${dir}/many.safetensors`;
  const tree = Object.fromEntries(
    Array.from({ length: 12 }, (_, i) => [`t${i}`, np.full([i + 1], i)]),
  );
  await saveSafetensors(path, tree);
  const file = await openSafetensors(path);
  try {
    const all = await Promise.all(file.names.map((n) => file.read(n)));
    all.forEach((x, i) => assertEquals(Array.from(x.dataSync()), Array(i + 1).fill(i)));
  } finally {
    file.close();
  }
});

Deno.test("saveSafetensors refuses non-array leaves and duplicate names", async () => {
  await assertRejects(() => saveSafetensors(`${dir}/x.safetensors`, { a: 1 }), Error, "a (number)");
  await assertRejects(
    () => saveSafetensors(`${dir}/x.safetensors`, { "a.b": np.ones([1]), a: { b: np.ones([1]) } }),
    Error,
    "a.b",
  );
});
