/**
 * The main job (`deno task quickstart`): a short end-to-end tour on the GPU (or the device
 * `mod.ts` selected), asserting its own targets so a silent regression fails loudly.
 *
 * 1. Reports the adapter (name, features, limits).
 * 2. Data: renders synthetic clips with known camera motion, classifies each one from optical
 *    flow computed with the core's array ops on the device, and MAG-samples a clip.
 * 3. Training: a jitted AdamW step (warmup + cosine) of a 2-layer MLP on a synthetic regression,
 *    donating params and optimizer state so device memory stays flat; the loss must drop 10x.
 *
 * @module
 */
import {
  data,
  device,
  jit,
  type NDArray,
  nn,
  np,
  optim,
  random,
  scope,
  valueAndGrad,
} from "../mod.ts";
import { sharedGpu } from "../kernels/webgpu/device.ts";

const failures: string[] = [];
function expect(ok: boolean, what: string): void {
  console.log(`  ${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
}

// 1. The device.
const info = device.info();
console.log(`device:   ${info.backend} on ${info.adapter}`);
const gpu = info.backend === "webgpu" ? await sharedGpu() : null;
if (gpu) {
  console.log(`runtime:  ${gpu.info.runtime}; features: ${gpu.info.features.join(", ")}`);
  console.log(
    `limits:   maxBufferSize ${gpu.info.limits["maxBufferSize"]}, ` +
      `maxStorageBufferBindingSize ${gpu.info.limits["maxStorageBufferBindingSize"]}`,
  );
}

// 2. Data: synthetic clips with known camera motion, classified from on-device optical flow.
console.log("\ndata: camera motion of synthetic clips from optical flow (array ops on the device)");
for (const camera of ["pan_left", "zoom_in", "tilt_up"] as const) {
  const spec = data.randomClipSpec(7, { camera, width: 48, height: 48, frames: 8, speed: "fast" });
  const result = await data.classifyCameraMotion(data.renderClip(spec));
  expect(result.label === camera, `${camera.padEnd(9)} -> ${result.label}`);
}
const sample = data.mag.sample({ clipFrames: 120, fps: 24, n: 8 });
console.log(`MAG: 8 of 120 frames at 24 fps -> indices [${sample.indices}], M = ${sample.m}`);
expect(
  sample.indices.length === 8 && sample.m === 1.6,
  "MAG sample has 8 indices and M = 8 * 24 / 120",
);

// 3. Training: a jitted, donating AdamW step of a 2-layer MLP.
console.log("\ntraining: 2-layer MLP, AdamW with warmup + cosine, jitted step donating its state");
const [kx, k1, k2] = random.split(random.key(0), 3);
const x = random.normal(kx!, [256, 4]); // [N, 4]
const y = np.sin(np.sum(np.multiply(x, np.array([0.5, -1, 0.25, 1])), 1, { keepdims: true })); // [N, 1]
type Params = { hidden: nn.LinearParams; out: nn.LinearParams };
let params: Params = {
  hidden: nn.Linear.init(k1!, { inFeatures: 4, outFeatures: 64 }),
  out: nn.Linear.init(k2!, { inFeatures: 64, outFeatures: 1 }),
};
const predict = (p: Params, inputs: NDArray) =>
  nn.Linear.apply(p.out, np.tanh(nn.Linear.apply(p.hidden, inputs))); // [N, 1]
const loss = (p: Params) => np.mean(np.square(np.subtract(predict(p, x), y)));
const optimizer = optim.adamw({
  lr: optim.warmupCosine({ peak: 3e-2, warmupSteps: 20, decaySteps: 400 }),
  weightDecay: 1e-4,
});
let state = optimizer.init(params);
const step = jit((p: Params, s: typeof state) => {
  const [value, grads] = valueAndGrad(loss)(p);
  const [nextParams, nextState] = optimizer.update(grads, s, p);
  return { params: nextParams, state: nextState, loss: value };
}, { donate: [0, 1] });

const initial = await scope(() => loss(params)).item();
let lastLoss = initial;
let liveAt50 = 0;
const t0 = performance.now();
for (let i = 1; i <= 400; i++) {
  const out = step(params, state);
  params = out.params;
  state = out.state;
  if (i === 50) liveAt50 = device.memoryStats().liveBytes;
  if (i % 100 === 0) {
    lastLoss = await out.loss.item();
    console.log(
      `  step ${i}: loss ${lastLoss.toFixed(5)}, live ${device.memoryStats().liveBytes} bytes`,
    );
  }
  out.loss.dispose();
}
const seconds = (performance.now() - t0) / 1e3;
const liveAt400 = device.memoryStats().liveBytes;
console.log(`  400 steps in ${seconds.toFixed(2)} s (${(400 / seconds).toFixed(0)} steps/s)`);
expect(
  lastLoss < initial / 10,
  `loss ${initial.toFixed(4)} -> ${lastLoss.toFixed(5)} (at least 10x lower)`,
);
expect(
  liveAt400 <= liveAt50,
  `device memory flat: ${liveAt50} bytes at step 50, ${liveAt400} at step 400`,
);

if (failures.length > 0) {
  console.error(`\nquickstart: ${failures.length} target(s) missed: ${failures.join("; ")}`);
  Deno.exit(1);
}
console.log("\nquickstart: all targets met");
Deno.exit(0);
