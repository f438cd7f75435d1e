/**
 * TensorFlow.js (`@tensorflow/tfjs-core` + `@tensorflow/tfjs-backend-webgpu`) under test, on its
 * `webgpu` backend through Dawn.
 *
 * Gradients (the MLP and conv3d rows) need `@tensorflow/tfjs`, the union package: tfjs-core alone
 * ships no gradient functions.
 *
 * Setup: the WebGPU backend registers itself when its module is evaluated, and only if
 * `navigator.gpu` exists at that moment; its factory then calls `navigator.gpu.requestAdapter`
 * and `adapter.requestDevice` (with `timestamp-query` where offered). So the backend is imported
 * dynamically, after `installDawnForPeers()`, and we check that the device it made is Dawn's.
 *
 * TensorFlow.js executes ops eagerly (no jit), batching command buffers until a readback; each
 * run is wrapped in `tf.tidy` so intermediates are freed. Its ops are channels-last: conv3d takes
 * `[N, T, H, W, C]` and kernels `[kT, kH, kW, C, O]`, converted on the host outside timing.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { assertDawnDevice, type DawnForPeers } from "../dawn.ts";
import { type HostInputs, type HostTensor, input, transposeHost } from "../inputs.ts";
import type { Workload } from "../workloads.ts";
import type { BenchLibrary, Prepared } from "./library.ts";
import { toFloat32 } from "./library.ts";

type Fn = (...args: tf.Tensor[]) => tf.Tensor[];

/** `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`: TF.js core has no gelu op. */
function geluTanh(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

/** `x [T, D] -> x + gelu_tanh(x W1 + b1) W2 + b2`. */
function mlpBlock(x: tf.Tensor, w1: tf.Tensor, b1: tf.Tensor, w2: tf.Tensor, b2: tf.Tensor) {
  const h = geluTanh(tf.add(tf.matMul(x as tf.Tensor2D, w1 as tf.Tensor2D), b1)); // [T, F]
  return tf.add(x, tf.add(tf.matMul(h as tf.Tensor2D, w2 as tf.Tensor2D), b2)); // [T, D]
}

/** The elementwise chain of `workloads.ts`, op for op. */
function elementwiseChain(x: tf.Tensor): tf.Tensor {
  let t = tf.mul(x, 1.5);
  t = tf.add(t, 0.25);
  t = tf.sin(t);
  t = tf.mul(t, x);
  t = tf.sub(t, 0.125);
  t = tf.abs(t);
  t = tf.sqrt(t);
  t = tf.mul(t, 0.5);
  t = tf.exp(t);
  return tf.maximum(t, x);
}

/** `(x - mean) / sqrt(var + eps)` over `axis` (biased variance, as JAX and PyTorch). */
function standardize(x: tf.Tensor, axis: number, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, axis, true);
  return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
}

/** Attention composed from batched matmuls and softmax on `[B, H, S, D]` (scores materialized). */
function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, headDim: number): tf.Tensor {
  const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(headDim)); // [B, H, S, S]
  return tf.matMul(tf.softmax(scores, -1), v); // [B, H, S, D]
}

/** What one workload computes in TF.js: argument names, function, layout conversions. */
interface TfWorkload {
  readonly names: readonly string[];
  readonly fn: Fn;
  readonly toNative?: (name: string, t: HostTensor) => HostTensor;
  readonly canonical?: (outputs: Float32Array[]) => Float32Array[];
}

function workloadFn(w: Workload): TfWorkload {
  switch (w.kind) {
    case "matmul":
      return { names: ["a", "b"], fn: (a, b) => [tf.matMul(a!, b!)] };
    case "elementwise":
      return { names: ["x"], fn: (x) => [elementwiseChain(x!)] };
    case "softmax":
      return { names: ["x"], fn: (x) => [tf.softmax(x!, -1)] };
    case "layerNorm":
      return {
        names: ["x", "weight", "bias"],
        fn: (x, weight, bias) => [tf.add(tf.mul(standardize(x!, -1, 1e-5), weight!), bias!)],
      };
    case "attention":
      return { names: ["q", "k", "v"], fn: (q, k, v) => [attention(q!, k!, v!, w.headDim)] };
    case "mlp":
      return {
        names: ["x", "w1", "b1", "w2", "b2", "g"],
        fn: (x, w1, b1, w2, b2, g) => {
          const { value, grads } = tf.valueAndGrads((...p: tf.Tensor[]) =>
            mlpBlock(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!)
          )([x!, w1!, b1!, w2!, b2!], g!);
          return [value, ...grads];
        },
      };
    case "conv3d": {
      const channelsLast = [0, 2, 3, 4, 1]; // [N, C, T, H, W] -> [N, T, H, W, C]
      const kernelLast = [2, 3, 4, 1, 0]; // [O, C, kT, kH, kW] -> [kT, kH, kW, C, O]
      const nthwc = [w.batch, w.frames, w.height, w.width];
      const toCanonical = (data: Float32Array, channels: number) =>
        transposeHost({ shape: [...nthwc, channels], data }, [0, 4, 1, 2, 3]).data;
      return {
        names: ["x", "w", "g"],
        fn: (x, wt, g) => {
          const { value, grads } = tf.valueAndGrads((...p: tf.Tensor[]) =>
            tf.conv3d(p[0] as tf.Tensor5D, p[1] as tf.Tensor5D, 1, "same")
          )([x!, wt!], g as tf.Tensor5D);
          return [value, ...grads];
        },
        toNative: (name, t) => transposeHost(t, name === "w" ? kernelLast : channelsLast),
        canonical: ([y, dx, dw]) => [
          toCanonical(y!, w.outChannels),
          toCanonical(dx!, w.channels),
          // [kT, kH, kW, C, O] -> [O, C, kT, kH, kW]
          transposeHost({ shape: [3, 3, 3, w.channels, w.outChannels], data: dw! }, [
            4,
            3,
            0,
            1,
            2,
          ]).data,
        ],
      };
    }
    case "groupNorm":
      return {
        names: ["x", "weight", "bias"],
        fn: (x, weight, bias) => {
          const shape = x!.shape;
          const [n, c] = [shape[0]!, shape[1]!];
          const grouped = tf.reshape(x!, [n, w.groups, -1]); // [N, G, C/G * T*H*W]
          const normed = tf.reshape(standardize(grouped, -1, 1e-6), shape);
          const perChannel = [1, c, 1, 1, 1]; // broadcast [C] over [N, C, T, H, W]
          return [
            tf.add(tf.mul(normed, tf.reshape(weight!, perChannel)), tf.reshape(bias!, perChannel)),
          ];
        },
      };
  }
}

/**
 * Registers TF.js's WebGPU backend on Dawn, selects it and returns it as a {@link BenchLibrary};
 * throws when the backend cannot be set.
 *
 * @example
 * ```ts ignore
 * const dawn = await installDawnForPeers();
 * const lib = await createTfjs(dawn!);
 * ```
 */
export async function createTfjs(dawn: DawnForPeers): Promise<BenchLibrary> {
  // Evaluated now, after navigator.gpu is Dawn's: the module registers "webgpu" only if it exists.
  await import("@tensorflow/tfjs-backend-webgpu");
  // tfjs-core registers no gradient functions; the union package registers all of them (into
  // tfjs-core's global registry, shared with our import) when it loads.
  await import("@tensorflow/tfjs");
  if (!(await tf.setBackend("webgpu"))) {
    throw new Error("TF.js could not initialize its webgpu backend on Dawn");
  }
  await tf.ready();
  // WebGPUBackend keeps its GPUDevice in `device` (the class is not in the typed exports).
  assertDawnDevice(dawn, Reflect.get(tf.backend(), "device"), "TF.js");
  return {
    name: "tfjs",
    version: tf.version_core,
    device: `webgpu: ${dawn.adapterName}`,
    unsupported: () => null,
    prepare(w, inputs: HostInputs): Promise<Prepared> {
      const spec = workloadFn(w);
      const args = spec.names.map((name) => {
        const canonical = input(inputs, name, w);
        const t = spec.toNative ? spec.toNative(name, canonical) : canonical;
        return tf.tensor(t.data, [...t.shape], "float32");
      });
      const run = async (): Promise<Float32Array[]> => {
        const outs = tf.tidy(() => spec.fn(...args));
        try {
          const data = await Promise.all(outs.map((o) => o.data<"float32">()));
          return data.map(toFloat32);
        } finally {
          tf.dispose(outs);
        }
      };
      return Promise.resolve({
        run,
        ...(spec.canonical ? { canonical: spec.canonical } : {}),
        dispose: () => tf.dispose(args),
      });
    },
  };
}
