import { device, type NDArray, np } from "../../../autograd/mod.ts";
import { adam, adamw } from "../../../models/optim/adam.ts";
import { clipByGlobalNorm, globalNorm } from "../../../models/optim/clip.ts";
import { ema } from "../../../models/optim/ema.ts";
import {
  constant,
  cosineDecay,
  linearWarmup,
  warmupCosine,
} from "../../../models/optim/schedules.ts";
import { sgd } from "../../../models/optim/sgd.ts";
import { assertClose, assertEquals, assertThrows } from "../../_assert.ts";
import { host } from "../_check.ts";

device.use("reference");

const p0 = () => ({ layer: { weight: np.array([1, -2]), bias: np.array([0.5]) } });
const g1 = { layer: { weight: np.array([0.5, 0.1]), bias: np.array([-0.3]) } };
const g2 = { layer: { weight: np.array([-0.2, 0.4]), bias: np.array([0]) } };

function flat(tree: { layer: { weight: NDArray; bias: NDArray } }): number[] {
  return [...host(tree.layer.weight), ...host(tree.layer.bias)];
}

Deno.test("adamw: two steps match hand-computed values (decoupled decay, bias correction)", () => {
  const opt = adamw({ lr: 0.1, weightDecay: 0.01 });
  let params = p0();
  let state = opt.init(params);
  [params, state] = opt.update(g1, state, params);
  // Step 1: m_hat = g, v_hat = g^2, so p <- p (1 - lr wd) - lr g / (|g| + eps).
  assertClose(flat(params), [0.899000002, -2.09799999, 0.5994999966666668], { rtol: 1e-6 });
  [params, state] = opt.update(g2, state, params);
  assertClose(flat(params), [0.8635404181145108, -2.1843396360348826, 0.6659063189241788], {
    rtol: 1e-6,
  });
  assertEquals(host(state.count), [2]);
  const mu = state.mu as ReturnType<typeof p0>, nu = state.nu as ReturnType<typeof p0>;
  assertClose(flat(mu), [0.025, 0.049, -0.027], { rtol: 1e-5 });
  assertClose(flat(nu), [0.00028975, 0.00016999, 0.00008991], { rtol: 1e-5 });
});

Deno.test("adam: weight decay is an L2 term in the gradient (PyTorch's Adam)", () => {
  const opt = adam({ lr: 0.1, weightDecay: 0.01 });
  let params = p0();
  let state = opt.init(params);
  [params, state] = opt.update(g1, state, params);
  assertClose(flat(params), [0.9000000019607843, -2.0999999875000017, 0.5999999966101696], {
    rtol: 1e-6,
  });
  [params, state] = opt.update(g2, state, params);
  assertClose(flat(params), [0.8633641380701821, -2.186643013131826, 0.6654780075145955], {
    rtol: 1e-6,
  });
});

Deno.test("adamw decayMask exempts params from decay; float16 params stay float16", () => {
  const opt = adamw({ lr: 0.1, weightDecay: 0.5, decayMask: (path) => !path.endsWith("bias") });
  const params = { layer: { weight: np.array([1, -2]), bias: np.array([0.5]) } };
  const zero = { layer: { weight: np.zeros([2]), bias: np.zeros([1]) } };
  const [next] = opt.update(zero, opt.init(params), params);
  assertClose(flat(next), [0.95, -1.9, 0.5], { rtol: 1e-6 }); // zero grads: decay only
  const half = { w: np.array([1, 2], { dtype: "float16" }) };
  const [h] = adamw({ lr: 0.1 }).update(
    { w: np.array([1, 1], { dtype: "float16" }) },
    adamw({ lr: 0.1 }).init(half),
    half,
  );
  assertEquals(h.w.dtype, "float16");
});

Deno.test("sgd with momentum and nesterov: two steps match hand-computed values", () => {
  for (
    const [nesterov, expected1, expected2] of [
      [false, [0.95, -2.01], [0.925, -2.059]],
      [true, [0.905, -2.019], [0.9025, -2.1031]],
    ] as const
  ) {
    const opt = sgd({ lr: 0.1, momentum: 0.9, nesterov });
    let params = { w: np.array([1, -2]) };
    let state = opt.init(params);
    [params, state] = opt.update({ w: np.array([0.5, 0.1]) }, state, params);
    assertClose(host(params.w), [...expected1], { rtol: 1e-6 });
    [params, state] = opt.update({ w: np.array([-0.2, 0.4]) }, state, params);
    assertClose(host(params.w), [...expected2], { rtol: 1e-6 });
  }
  const plain = sgd({ lr: 0.5 });
  const s = plain.init({ w: np.array([1]) });
  assertEquals(Object.keys(s), ["count"]);
  assertClose(host(plain.update({ w: np.array([2]) }, s, { w: np.array([1]) })[0].w), [0]);
});

Deno.test("optimizers report mismatched gradient trees by path", () => {
  const opt = adamw({ lr: 0.1 });
  const params = p0();
  const state = opt.init(params);
  assertThrows(
    () => opt.update<unknown>({ layer: { weight: np.zeros([2]) } }, state, params),
    Error,
    "missing layer.bias",
  );
  assertThrows(
    () => opt.update({ layer: { weight: np.zeros([3]), bias: np.zeros([1]) } }, state, params),
    Error,
    "layer.weight",
  );
  assertThrows(() => opt.init({ n: np.array([1], { dtype: "int32" }) }), Error, "float");
});

Deno.test("schedules: constant, linear warmup, cosine, warmup + cosine at chosen steps", () => {
  const at = (s: (step: number) => NDArray, steps: number[]) => steps.map((t) => host(s(t))[0]!);
  assertClose(at(constant(0.3), [0, 100]), [0.3, 0.3], { rtol: 1e-6 });
  assertClose(at(linearWarmup({ init: 0.1, peak: 1, warmupSteps: 4 }), [0, 2, 4, 8]), [
    0.1,
    0.55,
    1,
    1,
  ], {
    rtol: 1e-6,
  });
  assertClose(at(cosineDecay({ init: 2, decaySteps: 100, alpha: 0.1 }), [0, 50, 100, 150]), [
    2,
    1.1,
    0.2,
    0.2,
  ], {
    rtol: 1e-5,
  });
  const wc = warmupCosine({ peak: 1, warmupSteps: 10, decaySteps: 110, end: 0.1 });
  assertClose(at(wc, [0, 5, 10, 60, 110, 200]), [0, 0.5, 1, 0.55, 0.1, 0.1], {
    rtol: 1e-5,
    atol: 1e-7,
  });
  // Schedules take the optimizer's int32 count too.
  assertClose(host(wc(np.array(5, { dtype: "int32" }))), [0.5], { rtol: 1e-6 });
  assertThrows(() => warmupCosine({ peak: 1, warmupSteps: 10, decaySteps: 5 }), Error, "exceed");
});

Deno.test("a schedule drives the learning rate from the step count", () => {
  const opt = sgd({ lr: linearWarmup({ peak: 1, warmupSteps: 2 }) });
  let params = { w: np.array([0]) };
  let state = opt.init(params);
  const g = { w: np.array([1]) };
  [params, state] = opt.update(g, state, params); // lr(0) = 0
  assertClose(host(params.w), [0]);
  [params, state] = opt.update(g, state, params); // lr(1) = 0.5
  assertClose(host(params.w), [-0.5]);
  [params, state] = opt.update(g, state, params); // lr(2) = 1
  assertClose(host(params.w), [-1.5]);
});

Deno.test("clipByGlobalNorm scales all gradients by maxNorm / norm above the limit", () => {
  const grads = { a: np.array([3]), b: [np.array([4, 0])] };
  assertClose(host(globalNorm(grads)), [5]);
  const [clipped, norm] = clipByGlobalNorm(grads, 1);
  assertClose(host(norm), [5]);
  assertClose([...host(clipped.a), ...host(clipped.b[0]!)], [0.6, 0.8, 0], { rtol: 1e-6 });
  const [same] = clipByGlobalNorm(grads, 10);
  assertEquals([...host(same.a), ...host(same.b[0]!)], [3, 4, 0]);
});

Deno.test("ema averages params, with an optional warmup of the decay", () => {
  const avg = ema({ decay: 0.9 });
  let state = avg.init({ w: np.array([1]) });
  let out;
  [out, state] = avg.update({ w: np.array([2]) }, state);
  assertClose(host(out.w), [1.1], { rtol: 1e-6 });
  [out, state] = avg.update({ w: np.array([2]) }, state);
  assertClose(host(out.w), [1.19], { rtol: 1e-6 });
  const warm = ema({ decay: 0.9, warmup: true });
  const [w1] = warm.update({ w: np.array([2]) }, warm.init({ w: np.array([1]) }));
  assertClose(host(w1.w), [1.9], { rtol: 1e-6 }); // d_0 = min(0.9, 1/10)
});
