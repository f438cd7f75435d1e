import fc from "fast-check";
import { device, np, random } from "../../../autograd/mod.ts";
import { conv, Conv2d, conv2d, Conv3d, conv3d, resolvePadding } from "../../../models/nn/conv.ts";
import { assertClose, assertEquals, assertThrows } from "../../_assert.ts";
import { checkGradients, host, randn, strides, weightedSum } from "../_check.ts";

device.use("reference");

/** A plain nested-loop N-d convolution on the host (float64), PyTorch semantics. */
function naiveConv(
  x: number[],
  xShape: number[],
  w: number[],
  wShape: number[],
  b: number[] | null,
  stride: number[],
  pad: [number, number][],
  dilation: number[],
  groups: number,
): { out: number[]; shape: number[] } {
  const nd = xShape.length - 2;
  const [batch, cIn] = xShape as [number, number];
  const [cOut, cPerGroup] = wShape as [number, number];
  const kernel = wShape.slice(2), spatial = xShape.slice(2);
  const outSpatial = spatial.map((n, i) =>
    Math.floor((n + pad[i]![0] + pad[i]![1] - dilation[i]! * (kernel[i]! - 1) - 1) / stride[i]!) + 1
  );
  const shape = [batch, cOut, ...outSpatial];
  const xs = strides(xShape), ws = strides(wShape);
  const out: number[] = [];
  const outCount = outSpatial.reduce((a, b) => a * b, 1);
  const kCount = kernel.reduce((a, b) => a * b, 1);
  const unravel = (flat: number, dims: number[]) => {
    const idx = dims.map(() => 0);
    for (let d = dims.length - 1; d >= 0; d--) {
      idx[d] = flat % dims[d]!;
      flat = Math.floor(flat / dims[d]!);
    }
    return idx;
  };
  const oPerGroup = cOut / groups;
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < cOut; o++) {
      const g = Math.floor(o / oPerGroup);
      for (let p = 0; p < outCount; p++) {
        const pos = unravel(p, outSpatial);
        let acc = b ? b[o]! : 0;
        for (let c = 0; c < cPerGroup; c++) {
          for (let k = 0; k < kCount; k++) {
            const kIdx = unravel(k, kernel);
            let xOff = n * xs[0]! + (g * cPerGroup + c) * xs[1]!;
            let inside = true;
            for (let d = 0; d < nd; d++) {
              const q = pos[d]! * stride[d]! + kIdx[d]! * dilation[d]! - pad[d]![0];
              if (q < 0 || q >= spatial[d]!) inside = false;
              xOff += q * xs[2 + d]!;
            }
            if (!inside) continue;
            let wOff = o * ws[0]! + c * ws[1]!;
            for (let d = 0; d < nd; d++) wOff += kIdx[d]! * ws[2 + d]!;
            acc += x[xOff]! * w[wOff]!;
          }
        }
        out.push(acc);
      }
    }
  }
  void cIn;
  return { out, shape };
}

const small = fc.integer({ min: 1, max: 2 });

Deno.test("conv3d matches a nested-loop reference for random strides, paddings, dilations, groups", () => {
  fc.assert(
    fc.property(
      fc.record({
        seed: fc.integer({ min: 0, max: 1e6 }),
        groups: fc.constantFrom(1, 2),
        cPer: small,
        oPer: small,
        kernel: fc.tuple(
          fc.integer({ min: 1, max: 3 }),
          fc.integer({ min: 1, max: 3 }),
          fc.integer({ min: 1, max: 3 }),
        ),
        stride: fc.tuple(small, small, small),
        dilation: fc.tuple(small, small, small),
        pad: fc.tuple(
          fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
          fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
          fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
        ),
        bias: fc.boolean(),
      }),
      ({ seed, groups, cPer, oPer, kernel, stride, dilation, pad, bias }) => {
        const xShape = [1, groups * cPer, 4, 5, 4];
        // Keep every axis large enough for the dilated kernel.
        const spatialOk = xShape.slice(2).every((n, i) =>
          n + pad[i]![0] + pad[i]![1] >= dilation[i]! * (kernel[i]! - 1) + 1
        );
        fc.pre(spatialOk);
        const wShape = [groups * oPer, cPer, ...kernel];
        const x = randn(seed, xShape), w = randn(seed + 1, wShape);
        const b = bias ? randn(seed + 2, [groups * oPer]) : null;
        const y = conv3d(x, w, b, { stride, padding: pad, dilation, groups });
        const ref = naiveConv(
          host(x),
          xShape,
          host(w),
          wShape,
          b ? host(b) : null,
          stride,
          pad,
          dilation,
          groups,
        );
        assertEquals(y.shape, ref.shape);
        assertClose(host(y), ref.out, { rtol: 1e-5, atol: 1e-5 });
      },
    ),
    { numRuns: 25 },
  );
});

Deno.test("conv2d matches the nested-loop reference (same, valid and per-axis padding)", () => {
  const x = randn(1, [2, 3, 5, 6]), w = randn(2, [4, 3, 3, 2]), b = randn(3, [4]);
  for (const padding of ["same", "valid", [1, 0], [[2, 1], [0, 1]]] as const) {
    const y = conv2d(x, w, b, { padding });
    const pairs = resolvePadding("t", padding, [3, 2], [1, 1], [1, 1]);
    const ref = naiveConv(host(x), [2, 3, 5, 6], host(w), [4, 3, 3, 2], host(b), [1, 1], pairs, [
      1,
      1,
    ], 1);
    assertEquals(y.shape, ref.shape);
    assertClose(host(y), ref.out, { rtol: 1e-5, atol: 1e-5 });
  }
  assertEquals(conv2d(x, w, b, { padding: "same" }).shape, [2, 4, 5, 6]);
  assertEquals(resolvePadding("t", "same", [3, 4], [1, 1], [1, 1]), [[1, 1], [1, 2]]);
});

Deno.test("conv3d gradients match finite differences (strided, dilated, grouped)", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), fc.constantFrom(1, 2), (seed, groups) => {
      const x = randn(seed, [1, 2, 3, 4, 4]);
      const w = randn(seed + 1, [2, 2 / groups, 2, 2, 3]);
      const b = randn(seed + 2, [2]);
      const f = (x: np.NDArray, w: np.NDArray, b: np.NDArray) =>
        weightedSum(
          conv3d(x, w, b, { stride: [1, 2, 1], padding: 1, dilation: [1, 1, 2], groups }),
          seed,
        );
      checkGradients((x, w, b) => f(x!, w!, b!), [x, w, b], { seed });
    }),
    { numRuns: 3 },
  );
});

Deno.test("conv layers init with PyTorch's fan-in bound and apply their options", () => {
  const cfg = {
    inChannels: 4,
    outChannels: 6,
    kernelSize: [1, 3, 3],
    groups: 2,
    padding: [0, 1, 1],
  } as const;
  const p = Conv3d.init(random.key(0), cfg);
  assertEquals(p.weight.shape, [6, 2, 1, 3, 3]);
  assertEquals(p.bias!.shape, [6]);
  const bound = 1 / Math.sqrt(2 * 9);
  assertEquals(host(p.weight).every((v) => Math.abs(v) <= bound), true);
  const x = randn(4, [1, 4, 2, 5, 5]);
  assertEquals(Conv3d.apply(p, x, cfg).shape, [1, 6, 2, 5, 5]);
  const p2 = Conv2d.init(random.key(1), {
    inChannels: 3,
    outChannels: 8,
    kernelSize: 2,
    bias: false,
  });
  assertEquals(Object.keys(p2), ["weight"]);
  assertEquals(Conv2d.apply(p2, randn(2, [1, 3, 4, 4]), { stride: 2 }).shape, [1, 8, 2, 2]);
});

Deno.test("conv rejects mismatched channels, dtypes and oversized kernels with shapes", () => {
  assertThrows(() => conv3d(np.ones([1, 3, 2, 2, 2]), np.ones([4, 2, 1, 1, 1])), Error, "channels");
  assertThrows(
    () => conv(np.ones([1, 2, 4]), np.ones([4, 2, 5])),
    Error,
    "smaller than the dilated kernel",
  );
  assertThrows(
    () => conv2d(np.ones([1, 2, 4, 4], { dtype: "float16" }), np.ones([4, 2, 1, 1])),
    Error,
    "differ in dtype",
  );
  assertThrows(
    () =>
      conv2d(np.ones([1, 2, 4, 4]), np.ones([4, 2, 3, 3]), null, { padding: "same", stride: 2 }),
    Error,
    "stride 1",
  );
});
