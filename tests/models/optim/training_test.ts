import { device, grad, type NDArray, np, random, valueAndGrad } from "../../../autograd/mod.ts";
import { Linear } from "../../../models/nn/linear.ts";
import { adamw } from "../../../models/optim/adam.ts";
import { allFinite, dynamicLossScale, withLossScale } from "../../../models/optim/loss_scale.ts";
import { warmupCosine } from "../../../models/optim/schedules.ts";
import { cast } from "../../../models/param_tree.ts";
import { policy } from "../../../models/precision.ts";
import { assert, assertEquals } from "../../_assert.ts";
import { host } from "../_check.ts";

device.use("reference");

type Mlp = { fc1: ReturnType<typeof Linear.init>; fc2: ReturnType<typeof Linear.init> };

function initMlp(key: NDArray, hidden: number, dtype: "float32" | "float16" = "float32"): Mlp {
  const [k1, k2] = random.split(key);
  return {
    fc1: Linear.init(k1!, { inFeatures: 1, outFeatures: hidden, dtype }),
    fc2: Linear.init(k2!, { inFeatures: hidden, outFeatures: 1, dtype }),
  };
}

function mlp(p: Mlp, x: NDArray): NDArray {
  return Linear.apply(p.fc2, np.tanh(Linear.apply(p.fc1, x)));
}

Deno.test("training a small MLP with AdamW and a warmup-cosine schedule cuts the loss 10x", () => {
  const x = np.reshape(np.linspace(-2, 2, 32), [32, 1]);
  const y = np.sin(np.multiply(x, 1.5));
  const loss = (p: Mlp) => np.mean(np.square(np.subtract(mlp(p, x), y)));
  let params = initMlp(random.key(0), 16);
  const opt = adamw({
    lr: warmupCosine({ peak: 0.05, warmupSteps: 10, decaySteps: 150 }),
    weightDecay: 1e-4,
  });
  let state = opt.init(params);
  const first = host(loss(params))[0]!;
  let last = first;
  for (let step = 0; step < 150; step++) {
    const [value, grads] = valueAndGrad(loss)(params);
    [params, state] = opt.update(grads, state, params);
    last = host(value)[0]!;
  }
  last = host(loss(params))[0]!;
  assert(last * 10 <= first, `loss went from ${first} to ${last}, less than a 10x drop`);
  assertEquals(host(state.count), [150]);
});

Deno.test("loss scaling recovers float16 gradients that underflow without it", () => {
  // d(loss)/dw = 2^-26, below float16's smallest subnormal (2^-24): unscaled it flushes to 0.
  const x = np.array([2 ** -14], { dtype: "float16" });
  const f = (w: NDArray) => np.sum(np.multiply(np.multiply(w, x), 2 ** -12));
  const w = np.array([1], { dtype: "float16" });
  assertEquals(host(grad(f)(w)), [0]);
  const ls = dynamicLossScale({ initScale: 2 ** 15 });
  const state = ls.init();
  const scaled = grad((w: NDArray) => ls.scale(f(w), state))(w);
  assertEquals(host(ls.unscale(scaled, state)), [2 ** -26]);
});

Deno.test("dynamic loss scale: skip and shrink on overflow, grow after the interval", () => {
  const ls = dynamicLossScale({ initScale: 8, growthInterval: 2 });
  let s = ls.init();
  const yes = np.array(true), no = np.array(false);
  s = ls.adjust(s, yes);
  assertEquals([host(s.scale)[0], host(s.goodSteps)[0]], [8, 1]);
  s = ls.adjust(s, yes);
  assertEquals([host(s.scale)[0], host(s.goodSteps)[0]], [16, 0]);
  s = ls.adjust(s, no);
  assertEquals([host(s.scale)[0], host(s.goodSteps)[0]], [8, 0]);
  assertEquals(host(allFinite({ a: np.array([1, Infinity]) })), [0]);
  assertEquals(host(allFinite({ a: np.array([1, 2]), n: np.array([3], { dtype: "int32" }) })), [1]);
});

Deno.test("withLossScale keeps params and state on non-finite gradients and steps otherwise", () => {
  const opt = withLossScale(adamw({ lr: 0.1 }), { initScale: 1024 });
  const params = { w: np.array([1, 2], { dtype: "float16" }) };
  let state = opt.init(params);
  const [same, s1] = opt.update(
    { w: np.array([Infinity, 1], { dtype: "float16" }) },
    state,
    params,
  );
  assertEquals(host(same.w), [1, 2]);
  assertEquals(host((s1.inner as { count: NDArray }).count), [0]);
  assertEquals(host(s1.lossScale.scale), [512]);
  state = s1;
  const [moved, s2] = opt.update({ w: np.array([512, -512], { dtype: "float16" }) }, state, same);
  assertEquals(moved.w.dtype, "float16");
  assert(host(moved.w)[0]! < 1 && host(moved.w)[1]! > 2, `params did not step: ${host(moved.w)}`);
  assertEquals(host((s2.inner as { count: NDArray }).count), [1]);
});

Deno.test("mixed precision: float32 master params, float16 compute, loss scaling, converges", () => {
  const mp = policy({ compute: "float16" });
  assertEquals(mp.computeDtype, "float16");
  const x = np.reshape(np.linspace(-2, 2, 16), [16, 1]);
  const y = np.sin(x);
  const loss = (p: Mlp) => {
    const out = mlp(mp.castToCompute(p), mp.castToCompute(x)); // float16 forward
    return np.mean(np.square(np.subtract(mp.castToOutput(out), y))); // float32 loss
  };
  let params = initMlp(random.key(1), 8);
  const opt = withLossScale(adamw({ lr: 0.05, weightDecay: 0 }), { initScale: 2 ** 10 });
  let state = opt.init(params);
  const first = host(loss(params))[0]!;
  for (let step = 0; step < 60; step++) {
    const grads = grad((p: Mlp) => opt.lossScale.scale(loss(p), state.lossScale))(params);
    [params, state] = opt.update(grads, state, params);
  }
  const last = host(loss(params))[0]!;
  assertEquals(params.fc1.weight.dtype, "float32");
  assert(last * 5 <= first, `float16 training went from ${first} to ${last}`);
  // params.cast gives float16 copies for inference.
  assertEquals(cast(params, "float16").fc2.bias!.dtype, "float16");
});
