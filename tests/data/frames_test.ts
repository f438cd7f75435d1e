import { assertEquals, assertThrows } from "../_assert.ts";
import * as device from "../../autograd/device.ts";
import { framesToArray, makeFrames, toFloat } from "../../data/frames.ts";

device.use("reference");

Deno.test("framesToArray makes float32 [T, H, W, 3] in [0, 1] or int32 0..255 on the device", () => {
  const frames = makeFrames(Uint8Array.from({ length: 2 * 2 * 3 * 3 }, (_, i) => i * 7), 2, 2, 3);
  const asFloat = framesToArray(frames);
  assertEquals([asFloat.shape, asFloat.dtype, asFloat.device], [
    [2, 2, 3, 3],
    "float32",
    "reference",
  ]);
  assertEquals(Array.from(asFloat.dataSync()), Array.from(toFloat(frames).data));
  const asInt = framesToArray(frames, { dtype: "int32" });
  assertEquals(asInt.dtype, "int32");
  assertEquals(Array.from(asInt.dataSync()), Array.from(frames.data));
  const floatFrames = toFloat(frames);
  assertEquals(framesToArray(floatFrames).dataSync(), floatFrames.data);
});

Deno.test("framesToArray takes loader batches [B, N, H, W, 3] and refuses bad buffers", () => {
  const batch = { data: new Uint8Array(2 * 3 * 2 * 2 * 3).fill(255), shape: [2, 3, 2, 2, 3] };
  const x = framesToArray(batch);
  assertEquals(x.shape, [2, 3, 2, 2, 3]);
  assertEquals(new Set(x.dataSync()), new Set([1]));
  assertThrows(
    () => framesToArray({ data: new Uint8Array(12), shape: [1, 2, 2, 4] }),
    RangeError,
    "[..., 3] (RGB, channels last), got [1,2,2,4]",
  );
  assertThrows(
    () => framesToArray({ data: new Uint8Array(11), shape: [1, 2, 2, 3] }),
    RangeError,
    "11 values do not fill [1,2,2,3] (12 values)",
  );
  assertThrows(
    () => framesToArray(toFloat(makeFrames(new Uint8Array(3), 1, 1, 1)), { dtype: "int32" }),
    TypeError,
    "convert only to float32, not int32",
  );
});
