/**
 * `jit` on the WebGPU backend: compiled programs with donation keep memory flat over a long
 * training loop without any `dispose` in user code.
 */
import { assert, assertEquals } from "../../_assert.ts";
import { device, jit, type NDArray, np, random, scope, tree, valueAndGrad } from "../../../mod.ts";
import { backendNamed } from "../../../autograd/backends.ts";
import { WebgpuBackend } from "../../../kernels/webgpu/backend.ts";
import { skipReason } from "./_harness.ts";

const ignore = skipReason !== null;

interface Mlp {
  w1: NDArray;
  b1: NDArray;
  w2: NDArray;
  b2: NDArray;
}

function mlp(p: Mlp, x: NDArray): NDArray {
  const h = np.tanh(np.add(np.matmul(x, p.w1), p.b1)); // [B, H]
  return np.add(np.matmul(h, p.w2), p.b2); // [B, 1]
}

function loss(p: Mlp, x: NDArray, y: NDArray): NDArray {
  return np.mean(np.square(np.subtract(mlp(p, x), y)));
}

Deno.test({
  name: "jit training loop of an MLP keeps liveBytes flat over 1,000 steps (donation + scopes)",
  ignore,
  async fn() {
    device.use("webgpu");
    const backend = backendNamed("webgpu") as WebgpuBackend;
    const [k1, k2, k3] = random.split(random.key(0), 3);
    const x = random.normal(k1!, [32, 4]);
    const y = np.sin(np.sum(x, 1, { keepdims: true }));
    let params: Mlp = {
      w1: np.multiply(random.normal(k2!, [4, 16]), 0.5),
      b1: np.zeros([16]),
      w2: np.multiply(random.normal(k3!, [16, 1]), 0.25),
      b2: np.zeros([1]),
    };
    const step = jit((p: Mlp, xb: NDArray, yb: NDArray) => {
      const [value, grads] = valueAndGrad(loss)(p, xb, yb);
      const next = tree.map(
        (w: NDArray, g: NDArray) => np.subtract(w, np.multiply(g, 0.1)),
        p,
        grads,
      );
      return [next, value] as [Mlp, NDArray];
    }, { donate: [0] });
    const first = await loss(params, x, y).item();
    let settled = 0;
    for (let i = 0; i < 1000; i++) {
      params = scope(() => step(params, x, y)[0]);
      if (i === 20) settled = backend.memoryStats().liveBytes;
      if (i > 20 && i % 100 === 0) {
        assertEquals(backend.memoryStats().liveBytes, settled, `liveBytes grew by step ${i}`);
      }
    }
    assertEquals(backend.memoryStats().liveBytes, settled);
    const last = await loss(params, x, y).item();
    assert(last < first * 0.5, `training did not reduce the loss: ${first} -> ${last}`);
  },
});

Deno.test({
  name: "jit with donate reuses the donated buffers for its outputs",
  ignore,
  async fn() {
    device.use("webgpu");
    const backend = backendNamed("webgpu") as WebgpuBackend;
    const f = jit((a: NDArray, b: NDArray) => np.add(np.multiply(a, 2), b), { donate: [0] });
    const a0 = np.ones([256, 256]);
    const b = np.ones([256, 256]);
    await a0.data();
    const warm = f(a0, b); // compile once
    await warm.data();
    const created = backend.counters.buffersCreated;
    let a = warm;
    for (let i = 0; i < 20; i++) a = f(a, b);
    assertEquals(backend.counters.buffersCreated, created, "a donating call allocated new buffers");
    const data = await a.data();
    assertEquals(data[0], 2 ** 21 + 2 ** 21 - 1);
  },
});
