/**
 * Acceptance: a 2-layer MLP trained with valueAndGrad and plain SGD on a small synthetic
 * regression lowers its loss by 10x.
 */
import { device, jit, type NDArray, np, random, scope, valueAndGrad } from "../../autograd/mod.ts";
import { assert } from "../_assert.ts";

device.use("reference");

interface Params {
  w1: NDArray; // [2, H]
  b1: NDArray; // [H]
  w2: NDArray; // [H, 1]
  b2: NDArray; // [1]
}

function init(key: NDArray, hidden: number): Params {
  const [k1, k2] = random.split(key);
  return {
    w1: np.multiply(random.normal(k1!, [2, hidden]), 1 / Math.sqrt(2)),
    b1: np.zeros([hidden]),
    w2: np.multiply(random.normal(k2!, [hidden, 1]), 1 / Math.sqrt(hidden)),
    b2: np.zeros([1]),
  };
}

function predict(p: Params, x: NDArray): NDArray {
  const h = np.tanh(np.add(np.matmul(x, p.w1), p.b1)); // [N, H]
  return np.add(np.matmul(h, p.w2), p.b2); // [N, 1]
}

function loss(p: Params, x: NDArray, y: NDArray): NDArray {
  return np.mean(np.square(np.subtract(predict(p, x), y)));
}

Deno.test("a 2-layer MLP trained with valueAndGrad and SGD lowers the loss by 10x", () => {
  const [kx, kp] = random.split(random.key(0));
  const x = random.uniform(kx!, [64, 2], { minval: -1, maxval: 1 }); // [N, 2]
  const [x0, x1] = np.split(x, 2, 1) as [NDArray, NDArray];
  // y = sin(2 x0) + x0 x1: smooth, nonlinear, within [-2, 2].
  const y = np.add(np.sin(np.multiply(x0, 2)), np.multiply(x0, x1)); // [N, 1]
  let params = init(kp!, 16);
  const step = jit((p: Params) => {
    const [value, grads] = valueAndGrad(loss)(p, x, y);
    const g = grads as Params;
    const lr = 0.3;
    const update = (w: NDArray, d: NDArray) => np.subtract(w, np.multiply(d, lr));
    return {
      value,
      params: {
        w1: update(p.w1, g.w1),
        b1: update(p.b1, g.b1),
        w2: update(p.w2, g.w2),
        b2: update(p.b2, g.b2),
      },
    };
  }, { donate: [0] });
  const initial = loss(params, x, y).dataSync()[0]!;
  let last = initial;
  for (let i = 0; i < 400; i++) {
    const out = scope(() => step(params));
    params = out.params;
    last = out.value.dataSync()[0]!;
    out.value.dispose();
  }
  const final = loss(params, x, y).dataSync()[0]!;
  assert(Number.isFinite(final), `final loss ${final}`);
  assert(final * 10 <= initial, `loss went from ${initial} to ${final} (last step ${last}): < 10x`);
});
