import fc from "fast-check";
import { device, grad, lax, type NDArray, np } from "../../../autograd/mod.ts";
import { attention, mergeHeads, splitHeads } from "../../../models/nn/attention.ts";
import { assertClose, assertEquals, assertThrows } from "../../_assert.ts";
import { checkGradients, host, randn, weightedSum } from "../_check.ts";

device.use("reference");

/** Host softmax attention over [B*H, Sq, D] blocks. */
function naiveAttention(
  q: number[],
  k: number[],
  v: number[],
  [bh, sq, sk, d, dv]: number[],
  scale: number,
  visible: (i: number, j: number) => boolean,
): number[] {
  const out: number[] = [];
  for (let n = 0; n < bh!; n++) {
    for (let i = 0; i < sq!; i++) {
      const scores: number[] = [];
      for (let j = 0; j < sk!; j++) {
        let s = 0;
        for (let t = 0; t < d!; t++) s += q[(n * sq! + i) * d! + t]! * k[(n * sk! + j) * d! + t]!;
        scores.push(visible(i, j) ? s * scale : -Infinity);
      }
      const m = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let t = 0; t < dv!; t++) {
        let acc = 0;
        for (let j = 0; j < sk!; j++) acc += (e[j]! / z) * v[(n * sk! + j) * dv! + t]!;
        out.push(acc);
      }
    }
  }
  return out;
}

Deno.test("attention (fused and unfused) matches host softmax attention, causal or not", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1e6 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 4 }),
      fc.boolean(),
      (seed, sq, sk, causal) => {
        const q = randn(seed, [1, 2, sq, 4]), k = randn(seed + 1, [1, 2, sk, 4]);
        const v = randn(seed + 2, [1, 2, sk, 3]);
        const expected = naiveAttention(
          host(q),
          host(k),
          host(v),
          [2, sq, sk, 4, 3],
          0.5,
          (i, j) => !causal || j <= i + (sk - sq),
        );
        // A fully masked causal row (sq > sk) has no defined value; compare the others.
        fc.pre(!causal || sq <= sk);
        for (const fused of [true, false]) {
          const y = attention(q, k, v, { scale: 0.5, causal, fused });
          assertEquals(y.shape, [1, 2, sq, 3]);
          assertClose(host(y), expected, { rtol: 1e-5, atol: 1e-6, message: `fused ${fused}` });
        }
      },
    ),
    { numRuns: 12 },
  );
});

Deno.test("attention with a mask hides the masked keys (unfused path)", () => {
  const q = randn(1, [1, 1, 2, 4]), k = randn(2, [1, 1, 3, 4]), v = randn(3, [1, 1, 3, 2]);
  const mask = np.array([[true, false, true], [false, true, true]]);
  const y = attention(q, k, v, { mask });
  const m = [[true, false, true], [false, true, true]];
  const expected = naiveAttention(
    host(q),
    host(k),
    host(v),
    [1, 2, 3, 4, 2],
    0.5,
    (i, j) => m[i]![j]!,
  );
  assertClose(host(y), expected, { rtol: 1e-5, atol: 1e-6 });
  assertThrows(() => attention(q, k, v, { mask, fused: true }), Error, "no mask");
  assertThrows(() => attention(q, k, v, { mask: np.ones([2, 3]) }), Error, "bool");
});

Deno.test("attention gradients match finite differences on both paths", () => {
  const q = randn(4, [1, 2, 3, 4]), k = randn(5, [1, 2, 3, 4]), v = randn(6, [1, 2, 3, 4]);
  for (const fused of [true, false]) {
    checkGradients((q, k, v) => weightedSum(attention(q!, k!, v!, { fused }), 7), [q, k, v], {
      seed: fused ? 1 : 2,
    });
  }
  // Second derivatives need the unfused path; they exist there.
  const g2 = grad((x: np.NDArray) =>
    np.sum(grad((y: np.NDArray) => np.sum(np.square(attention(y, k, v, { fused: false }))))(x))
  )(q);
  assertEquals(g2.shape, q.shape);
});

Deno.test("splitHeads and mergeHeads are inverse reshapes [B, S, H*D] <-> [B, H, S, D]", () => {
  const x = randn(8, [2, 3, 12]);
  const h = splitHeads(x, 4);
  assertEquals(h.shape, [2, 4, 3, 3]);
  // head 1 of token 2 of batch 0 is features 3..5
  assertEquals(
    host(h).slice((1 * 3 + 2) * 3, (1 * 3 + 2) * 3 + 3),
    host(x).slice(2 * 12 + 3, 2 * 12 + 6),
  );
  assertEquals(host(mergeHeads(h)), host(x));
  assertThrows(() => splitHeads(x, 5), Error, "5 heads");
  assertThrows(() => attention(randn(1, [1, 2, 3]), x, x), Error, "[B, H, Sq, D]");
});

Deno.test("attention with int8 quantization stays close to float attention, values and gradients", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1e6 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 90 }),
      fc.boolean(),
      (seed, sq, sk, causal) => {
        fc.pre(!causal || sq <= sk);
        const q = randn(seed, [1, 2, sq, 16]), k = randn(seed + 1, [1, 2, sk, 16]);
        const v = randn(seed + 2, [1, 2, sk, 8]);
        const exact = host(attention(q, k, v, { causal }));
        const int8 = host(attention(q, k, v, { causal, quantization: "int8" }));
        // Relative L2 error: about 1e-2 on such inputs (bfloat16 inputs give about 3e-3).
        let err = 0, norm = 0;
        exact.forEach((x, i) => {
          err += (int8[i]! - x) ** 2;
          norm += x * x;
        });
        assertClose(Math.sqrt(err / Math.max(norm, 1e-12)), 0, { atol: 6e-2 });
        // Straight-through gradient: the float backward pass at the quantized output.
        const loss = (quantization: "none" | "int8") => (q: NDArray) =>
          weightedSum(attention(q, k, v, { causal, quantization }), seed);
        const [g8, g] = [host(grad(loss("int8"))(q)), host(grad(loss("none"))(q))];
        let gErr = 0, gNorm = 0;
        g.forEach((x, i) => {
          gErr += (g8[i]! - x) ** 2;
          gNorm += x * x;
        });
        assertClose(Math.sqrt(gErr / Math.max(gNorm, 1e-12)), 0, { atol: 1e-1 });
      },
    ),
    { numRuns: 8 },
  );
});

Deno.test("attention with int8 quantization refuses masks and the unfused path; widens halves", () => {
  const q = randn(1, [1, 1, 3, 4]), k = randn(2, [1, 1, 3, 4]), v = randn(3, [1, 1, 3, 4]);
  const mask = np.ones([1, 1, 3, 3], { dtype: "bool" });
  assertThrows(() => attention(q, k, v, { mask, quantization: "int8" }), Error, "fused path");
  assertThrows(() => attention(q, k, v, { fused: false, quantization: "int8" }), Error, "fused");
  // Half-precision operands run through the float32 kernels and come back in their dtype.
  for (const dtype of ["float16", "bfloat16"] as const) {
    const [qh, kh, vh] = [q, k, v].map((x) => x.astype(dtype));
    const out = attention(qh!, kh!, vh!, { quantization: "int8" });
    assertEquals(out.dtype, dtype);
    const want = attention(qh!.astype("float32"), kh!.astype("float32"), vh!.astype("float32"), {
      quantization: "int8",
    });
    assertClose(host(out.astype("float32")), host(want), { rtol: 1e-2, atol: 1e-2 });
  }
  // The primitive itself takes float32 only, and says so.
  const half = (x: NDArray) => x.astype("float16");
  assertThrows(
    () =>
      lax.attention(half(q), half(k), half(v), { scale: 1, causal: false, quantization: "int8" }),
    Error,
    "float32 q, k and v, got float16",
  );
  assertThrows(
    // @ts-expect-error: an unknown quantization is refused at run time too
    () => attention(q, k, v, { quantization: "int4" }),
    Error,
    'got "int4"',
  );
});
