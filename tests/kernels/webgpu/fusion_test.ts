/**
 * Fusion asserted by kernel counts (the backend's launch counter), values checked against the
 * reference interpreter.
 */
import { assert, assertEquals } from "../../_assert.ts";
import { device, functions, jit, type NDArray, np } from "../../../mod.ts";
import { backendNamed } from "../../../autograd/backends.ts";
import { WebgpuBackend } from "../../../kernels/webgpu/backend.ts";
import { compareHost, rng, skipReason } from "./_harness.ts";

const ignore = skipReason !== null;

function gpuBackend(): WebgpuBackend {
  device.use("webgpu");
  const backend = backendNamed("webgpu");
  if (!(backend instanceof WebgpuBackend)) {
    throw new Error("the webgpu device is not the WebGPU backend");
  }
  return backend;
}

function randomArray(shape: number[], seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1);
}

/** Builds `f` on the GPU, counts the kernels its read launches, and checks it against the CPU. */
async function kernelsFor(
  f: (...xs: NDArray[]) => NDArray,
  inputs: { shape: number[]; seed: number }[],
): Promise<number> {
  const backend = gpuBackend();
  const xs = inputs.map((x) => np.array(randomArray(x.shape, x.seed), { shape: x.shape }));
  const y = f(...xs);
  const before = backend.counters.launches;
  const got = await y.data();
  const launches = backend.counters.launches - before;
  device.use("reference");
  const want = await f(
    ...inputs.map((x) => np.array(randomArray(x.shape, x.seed), { shape: x.shape })),
  )
    .data();
  compareHost(got as Float32Array, want as Float32Array, "float32", "fused result", [1e-4, 1e-5]);
  return launches;
}

Deno.test({
  name: "fusion: gelu(x @ W + b) is one matmul kernel with its epilogue",
  ignore,
  async fn() {
    const n = await kernelsFor(
      (x, w, b) => functions.gelu(np.add(np.matmul(x, w), b!)),
      [{ shape: [33, 64], seed: 1 }, { shape: [64, 40], seed: 2 }, { shape: [40], seed: 3 }],
    );
    assertEquals(n, 1);
  },
});

Deno.test({
  name: "fusion: a linear layer with a transposed [out, in] weight reads it in place (one kernel)",
  ignore,
  async fn() {
    const n = await kernelsFor(
      (x, w, b) => np.add(np.matmul(x, np.transpose(w!)), b!),
      [{ shape: [2, 9, 16], seed: 4 }, { shape: [24, 16], seed: 5 }, { shape: [24], seed: 6 }],
    );
    assertEquals(n, 1);
  },
});

Deno.test({
  name: "fusion: layerNorm on [N, C] takes at most 2 kernels (one pass per row)",
  ignore,
  async fn() {
    const n = await kernelsFor(
      (x, w, b) => functions.layerNorm(x!, { weight: w!, bias: b! }),
      [{ shape: [64, 300], seed: 7 }, { shape: [300], seed: 8 }, { shape: [300], seed: 9 }],
    );
    assert(n <= 2, `layerNorm took ${n} kernels`);
  },
});

Deno.test({
  name: "fusion: softmax and groupNorm are one kernel each",
  ignore,
  async fn() {
    assertEquals(
      await kernelsFor((x) => functions.softmax(x!, -1), [{ shape: [16, 500], seed: 10 }]),
      1,
    );
    const groupNorm = await kernelsFor(
      (x, w, b) => functions.groupNorm(x!, 4, { weight: w!, bias: b! }),
      [{ shape: [2, 8, 3, 5], seed: 11 }, { shape: [8], seed: 12 }, { shape: [8], seed: 13 }],
    );
    assertEquals(groupNorm, 1);
  },
});

Deno.test({
  name: "fusion: chained row reductions split where the chain gets deep (3 softmaxes, 3 kernels)",
  ignore,
  async fn() {
    // One kernel would recompute the first softmax in each of the later passes over the row:
    // O(k^2) work for k softmaxes. Past two chained reductions the input gets its own storage.
    const softmaxes = (x: NDArray, k: number) => {
      for (let i = 0; i < k; i++) x = functions.softmax(np.multiply(x, 50), -1);
      return x;
    };
    assertEquals(await kernelsFor((x) => softmaxes(x!, 3), [{ shape: [16, 500], seed: 14 }]), 3);
    // Layer norm (mean, then variance) and a softmax: cut where the chain would get 3 deep.
    const normThenSoftmax = await kernelsFor(
      (x, w, b) => functions.softmax(functions.layerNorm(x!, { weight: w!, bias: b! }), -1),
      [{ shape: [16, 300], seed: 15 }, { shape: [300], seed: 16 }, { shape: [300], seed: 17 }],
    );
    assertEquals(normThenSoftmax, 2);
  },
});

Deno.test({
  name: "fusion: a 10-op elementwise chain with broadcasts and views is one kernel",
  ignore,
  async fn() {
    const n = await kernelsFor((x, b) => {
      let y = np.transpose(x!); // [40, 30]
      y = np.add(y, b!); // b [40, 1] broadcast
      y = np.tanh(y);
      y = np.multiply(y, 1.5);
      y = np.exp(y);
      y = np.subtract(y, 0.25);
      y = np.sin(y);
      y = np.maximum(y, -0.5);
      y = np.sqrt(np.add(np.square(y), 1));
      return np.reshape(y, [20, 60]);
    }, [{ shape: [30, 40], seed: 14 }, { shape: [40, 1], seed: 15 }]);
    assertEquals(n, 1);
  },
});

Deno.test({
  name: "fusion: a reduction absorbs its elementwise producers (one kernel)",
  ignore,
  async fn() {
    const n = await kernelsFor(
      (x) => np.sum(np.exp(np.multiply(np.transpose(x!), 0.5)), 0),
      [{ shape: [64, 200], seed: 16 }],
    );
    assertEquals(n, 1);
  },
});

Deno.test({
  name: "fusion: independent elementwise outputs of one size share one kernel (horizontal)",
  ignore,
  async fn() {
    const backend = gpuBackend();
    const f = jit((x: NDArray, y: NDArray) => [np.exp(x), np.sin(np.add(x, y)), np.multiply(y, 2)]);
    const x = np.array(randomArray([8, 16], 21), { shape: [8, 16] });
    const y = np.array(randomArray([8, 16], 22), { shape: [8, 16] });
    f(x, y); // compile
    const before = backend.counters.launches;
    const [a, b, c] = f(x, y) as NDArray[];
    assertEquals(backend.counters.launches - before, 1);
    const xs = randomArray([8, 16], 21), ys = randomArray([8, 16], 22);
    const want = [xs.map(Math.exp), xs.map((v, i) => Math.sin(v + ys[i]!)), ys.map((v) => 2 * v)];
    const got = [await a!.data(), await b!.data(), await c!.data()];
    got.forEach((g, k) =>
      compareHost(g as Float32Array, Float32Array.from(want[k]!), "float32", `output ${k}`, [
        1e-5,
        1e-6,
      ])
    );
  },
});
