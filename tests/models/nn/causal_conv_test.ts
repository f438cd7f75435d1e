import fc from "fast-check";
import { device, lax, np, random } from "../../../autograd/mod.ts";
import { CausalConv3d, causalConv3d } from "../../../models/nn/causal_conv.ts";
import { conv3d } from "../../../models/nn/conv.ts";
import { assertClose, assertEquals, assertThrows } from "../../_assert.ts";
import { checkGradients, host, randn, weightedSum } from "../_check.ts";

device.use("reference");

Deno.test("causalConv3d without cache equals conv3d of the clip prefixed by two copies of frame 0", () => {
  const x = randn(1, [1, 2, 4, 3, 3]), w = randn(2, [3, 2, 3, 3, 3]), b = randn(3, [3]);
  const { out, cache } = causalConv3d(x, w, b);
  const first = np.sliceAxis(x, 2, 0, 1);
  const padded = np.concatenate([first, first, x], 2); // [1, 2, 6, 3, 3]
  const expected = conv3d(padded, w, b, { padding: [[0, 0], [1, 1], [1, 1]] });
  assertEquals(out.shape, [1, 3, 4, 3, 3]);
  assertClose(host(out), host(expected), { rtol: 1e-6, atol: 1e-6 });
  // The cache is the last 2 frames of the time-padded input.
  assertEquals(cache!.shape, [1, 2, 2, 3, 3]);
  assertEquals(host(cache!), host(np.sliceAxis(x, 2, 2, 4)));
});

Deno.test("causalConv3d chunk by chunk with a carried cache equals one call on the whole clip", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1e6 }),
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }),
      fc.constantFrom(1, 2, 3),
      (seed, chunks, kT) => {
        const t = chunks.reduce((a, b) => a + b, 0);
        const x = randn(seed, [1, 2, t, 3, 2]);
        const w = randn(seed + 1, [2, 2, kT, 3, 1]), b = randn(seed + 2, [2]);
        const whole = causalConv3d(x, w, b).out;
        const outs = [];
        let cache = null;
        let start = 0;
        for (const n of chunks) {
          const r = causalConv3d(np.sliceAxis(x, 2, start, start + n), w, b, { cache });
          outs.push(r.out);
          cache = r.cache;
          start += n;
        }
        if (kT === 1) assertEquals(cache, null);
        assertClose(host(np.concatenate(outs, 2)), host(whole), { rtol: 1e-6, atol: 1e-6 });
      },
    ),
    { numRuns: 15 },
  );
});

Deno.test("causalConv3d output frame t depends on input frames <= t only", () => {
  const x = randn(4, [1, 1, 5, 2, 2]), w = randn(5, [1, 1, 3, 3, 3]);
  const base = host(causalConv3d(x, w).out);
  // Perturb frame 3: outputs 0..2 must not move.
  const bumped = np.add(x, np.multiply(np.equal(lax.iota([1, 1, 5, 2, 2], 2), 3), 1));
  const moved = host(causalConv3d(bumped, w).out);
  const perFrame = 4;
  for (let i = 0; i < 3 * perFrame; i++) assertEquals(moved[i], base[i]);
  assertEquals(moved.slice(3 * perFrame).some((v, i) => v !== base[3 * perFrame + i]), true);
});

Deno.test("causalConv3d gradients match finite differences, with a cache input", () => {
  const x = randn(7, [1, 2, 3, 3, 3]), w = randn(8, [2, 2, 3, 3, 3]), b = randn(9, [2]);
  const cache = randn(10, [1, 2, 2, 3, 3]);
  checkGradients((x, w, b) => weightedSum(causalConv3d(x!, w!, b!).out, 1), [x, w, b]);
  checkGradients(
    (x, w, c) => weightedSum(causalConv3d(x!, w!, null, { cache: c! }).out, 2),
    [x, w, cache],
    { seed: 3 },
  );
});

Deno.test("CausalConv3d nests params under conv as the checkpoint does and checks the cache", () => {
  const p = CausalConv3d.init(random.key(0), { inChannels: 3, outChannels: 4, kernelSize: 3 });
  assertEquals(Object.keys(p), ["conv"]);
  assertEquals(p.conv.weight.shape, [4, 3, 3, 3, 3]);
  assertEquals(p.conv.bias!.shape, [4]);
  const x = randn(1, [1, 3, 2, 4, 4]);
  const { out, cache } = CausalConv3d.apply(p, x);
  assertEquals(out.shape, [1, 4, 2, 4, 4]);
  assertThrows(
    () => CausalConv3d.apply(p, randn(2, [1, 3, 2, 5, 4]), { cache }),
    Error,
    "does not fit",
  );
  const strided = causalConv3d(randn(3, [1, 1, 5, 3, 3]), randn(4, [1, 1, 3, 3, 3]), null, {
    stride: 2,
  });
  assertEquals(strided.out.shape, [1, 1, 3, 3, 3]);
  assertThrows(() => causalConv3d(x, randn(5, [1, 3, 3, 2, 2])), Error, "must be odd");
});
