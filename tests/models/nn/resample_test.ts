import fc from "fast-check";
import { device, np } from "../../../autograd/mod.ts";
import {
  avgPool,
  nearestSourceIndex,
  resizeNearest,
  upsampleNearest,
} from "../../../models/nn/resample.ts";
import { assertClose, assertEquals, assertThrows } from "../../_assert.ts";
import { checkGradients, host, randn, strides, weightedSum } from "../_check.ts";

device.use("reference");

/** Host average pooling of [B, C, D0, D1] with zero padding counted (PyTorch's default). */
function naivePool2d(
  x: number[],
  shape: number[],
  win: number[],
  stride: number[],
  pad: number[],
): { out: number[]; shape: number[] } {
  const [b, c, h, w] = shape as [number, number, number, number];
  const oh = Math.floor((h + 2 * pad[0]! - win[0]!) / stride[0]!) + 1;
  const ow = Math.floor((w + 2 * pad[1]! - win[1]!) / stride[1]!) + 1;
  const st = strides(shape);
  const out: number[] = [];
  for (let n = 0; n < b * c; n++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let acc = 0;
        for (let di = 0; di < win[0]!; di++) {
          for (let dj = 0; dj < win[1]!; dj++) {
            const y = i * stride[0]! + di - pad[0]!, z = j * stride[1]! + dj - pad[1]!;
            if (y >= 0 && y < h && z >= 0 && z < w) acc += x[n * st[1]! + y * st[2]! + z]!;
          }
        }
        out.push(acc / (win[0]! * win[1]!));
      }
    }
  }
  return { out, shape: [b, c, oh, ow] };
}

Deno.test("avgPool matches host pooling, non-overlapping (with remainder) and strided/padded", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1e6 }),
      fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
      fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
      fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 })),
      fc.boolean(),
      (seed, win, stride, pad, plain) => {
        const shape = [1, 2, 5, 4];
        const x = randn(seed, shape);
        const s = plain ? win : stride, p = plain ? [0, 0] : pad;
        fc.pre(p.every((v, i) => v * 2 <= win[i]!)); // PyTorch: pad <= kernel / 2
        const y = avgPool(x, win, plain ? {} : { stride: s, padding: p });
        const ref = naivePool2d(host(x), shape, win, s, p);
        assertEquals(y.shape, ref.shape);
        assertClose(host(y), ref.out, { rtol: 1e-5, atol: 1e-6 });
      },
    ),
    { numRuns: 20 },
  );
});

Deno.test("avgPool averages pairs of frames in time; gradients match finite differences", () => {
  const x = randn(1, [1, 2, 4, 2, 2]);
  const y = avgPool(x, [2, 1, 1]);
  assertEquals(y.shape, [1, 2, 2, 2, 2]);
  const xs = host(x);
  // frame pairs (0, 1) and (2, 3) of channel 0, position 0
  assertClose(host(y)[0]!, (xs[0]! + xs[4]!) / 2, { atol: 1e-6 });
  assertClose(host(y)[4]!, (xs[8]! + xs[12]!) / 2, { atol: 1e-6 });
  checkGradients((x) => weightedSum(avgPool(x!, [2, 1, 2]), 1), [x]);
  checkGradients((x) => weightedSum(avgPool(x!, 2, { stride: 1, padding: 1 }), 2), [x], {
    seed: 4,
  });
  assertThrows(() => avgPool(np.ones([1, 1, 1, 4]), [2, 2]), Error, "does not fit");
});

Deno.test("upsampleNearest repeats every element along each upsampled axis", () => {
  const x = randn(2, [1, 1, 2, 2, 3]);
  const y = upsampleNearest(x, [2, 1, 2]);
  assertEquals(y.shape, [1, 1, 4, 2, 6]);
  const xs = host(x), ys = host(y);
  for (let t = 0; t < 4; t++) {
    for (let h = 0; h < 2; h++) {
      for (let w = 0; w < 6; w++) {
        assertEquals(
          ys[(t * 2 + h) * 6 + w],
          xs[(Math.floor(t / 2) * 2 + h) * 3 + Math.floor(w / 2)],
        );
      }
    }
  }
  checkGradients((x) => weightedSum(upsampleNearest(x!, 2), 3), [x]);
});

Deno.test("nearestSourceIndex follows PyTorch's nearest rule", () => {
  // in 3 -> out 7: floor(d * f32(3/7)).
  assertEquals([0, 1, 2, 3, 4, 5, 6].map((d) => nearestSourceIndex(d, 3, 7)), [
    0,
    0,
    0,
    1,
    1,
    2,
    2,
  ]);
  // doubling and identity are exact shortcuts; downsizing 5 -> 3 reads 0, 1, 3.
  assertEquals([0, 1, 2, 3].map((d) => nearestSourceIndex(d, 2, 4)), [0, 0, 1, 1]);
  assertEquals([0, 1, 2].map((d) => nearestSourceIndex(d, 5, 3)), [0, 1, 3]);
  assertEquals([0, 1, 2].map((d) => nearestSourceIndex(d, 3, 3)), [0, 1, 2]);
});

Deno.test("resizeNearest gathers the PyTorch source indices per axis; gradients scatter back", () => {
  const x = randn(5, [1, 2, 3, 5]);
  const y = resizeNearest(x, [7, 3]);
  assertEquals(y.shape, [1, 2, 7, 3]);
  const xs = host(x), ys = host(y);
  const rows = [0, 0, 0, 1, 1, 2, 2], cols = [0, 1, 3];
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < 7; i++) {
      for (let j = 0; j < 3; j++) {
        assertEquals(ys[(c * 7 + i) * 3 + j], xs[(c * 3 + rows[i]!) * 5 + cols[j]!]);
      }
    }
  }
  checkGradients((x) => weightedSum(resizeNearest(x!, [7, 3]), 6), [x]);
});
