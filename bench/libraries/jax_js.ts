/**
 * jax-js (`@jax-js/jax`) under test, on its `webgpu` device through Dawn.
 *
 * Setup: jax-js's `init("webgpu")` calls `navigator.gpu.requestAdapter({ powerPreference:
 * "high-performance" })` and `adapter.requestDevice` with the adapter's limits and the
 * `shader-f16` / `timestamp-query` features, so `installDawnForPeers()` must run first; we then
 * check that the device it made (`getWebGPUDevice()`) is a Dawn `GPUDevice`.
 *
 * Every workload is `jit`-compiled, as jax-js recommends (jit is what fuses chains of ops into one
 * kernel). jax-js owns arrays by reference count: every call consumes its array arguments, so
 * inputs are passed as `x.ref` and outputs are consumed by `data()`.
 *
 * @module
 */

import * as jax from "@jax-js/jax";
import { assertDawnDevice, type DawnForPeers } from "../dawn.ts";
import { type HostInputs, type HostTensor, input, transposeHost } from "../inputs.ts";
import type { Workload } from "../workloads.ts";
import type { BenchLibrary, Prepared } from "./library.ts";
import { toFloat32 } from "./library.ts";

const { numpy: np, nn, lax } = jax;
type JArray = jax.Array;
type Fn = (...args: JArray[]) => JArray[];

/** The version of the installed package (from its package.json). */
async function packageVersion(): Promise<string> {
  try {
    const url = import.meta.resolve("@jax-js/jax").replace(/dist\/index\.js$/, "package.json");
    const text = url.startsWith("file:") ? await Deno.readTextFile(new URL(url)) : "";
    return (JSON.parse(text) as { version?: string }).version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** `x [T, D] -> x + gelu_tanh(x W1 + b1) W2 + b2`; consumes its arguments (jax-js convention). */
function mlpBlock(x: JArray, w1: JArray, b1: JArray, w2: JArray, b2: JArray): JArray {
  const h = nn.gelu(np.add(np.matmul(x.ref, w1), b1), { approximate: true }); // [T, F]
  return np.add(x, np.add(np.matmul(h, w2), b2)); // [T, D]
}

/** The elementwise chain of `workloads.ts`, op for op (`x` is used three times). */
function elementwiseChain(x: JArray): JArray {
  let t = np.multiply(x.ref, 1.5);
  t = np.add(t, 0.25);
  t = np.sin(t);
  t = np.multiply(t, x.ref);
  t = np.subtract(t, 0.125);
  t = np.abs(t);
  t = np.sqrt(t);
  t = np.multiply(t, 0.5);
  t = np.exp(t);
  return np.maximum(t, x);
}

/** Group norm on `[N, C, T, H, W]` composed from `standardize` (jax-js has no groupNorm). */
function groupNorm(x: JArray, weight: JArray, bias: JArray, groups: number): JArray {
  const shape = x.shape;
  const [n, c] = [shape[0]!, shape[1]!];
  const grouped = np.reshape(x, [n, groups, -1]); // [N, G, C/G * T*H*W]
  const normed = np.reshape(nn.standardize(grouped, -1, { epsilon: 1e-6 }), shape);
  const perChannel = [1, c, 1, 1, 1]; // broadcast [C] over [N, C, T, H, W]
  return np.add(np.multiply(normed, np.reshape(weight, perChannel)), np.reshape(bias, perChannel));
}

/** What one workload computes in jax-js: argument names, function, layout conversions. */
interface JaxWorkload {
  readonly names: readonly string[];
  readonly fn: Fn;
  /** Converts a canonical input to jax-js's layout (default: as is). */
  readonly toNative?: (name: string, t: HostTensor) => HostTensor;
  readonly canonical?: (outputs: Float32Array[]) => Float32Array[];
}

function workloadFn(w: Workload): JaxWorkload {
  switch (w.kind) {
    case "matmul":
      return { names: ["a", "b"], fn: (a, b) => [np.matmul(a!, b!)] };
    case "elementwise":
      return { names: ["x"], fn: (x) => [elementwiseChain(x!)] };
    case "softmax":
      return { names: ["x"], fn: (x) => [nn.softmax(x!, -1)] };
    case "layerNorm":
      return {
        names: ["x", "weight", "bias"],
        fn: (x, weight, bias) => [
          np.add(np.multiply(nn.standardize(x!, -1, { epsilon: 1e-5 }), weight!), bias!),
        ],
      };
    case "attention": {
      // jax-js (like JAX) takes [B, S, H, D]; canonical is [B, H, S, D].
      const seqMajor = [0, 2, 1, 3];
      return {
        names: ["q", "k", "v"],
        fn: (q, k, v) => [nn.dotProductAttention(q!, k!, v!, { scale: 1 / Math.sqrt(w.headDim) })],
        toNative: (_, t) => transposeHost(t, seqMajor),
        canonical: ([out]) => [
          transposeHost({ shape: [w.batch, w.seq, w.heads, w.headDim], data: out! }, seqMajor)
            .data,
        ],
      };
    }
    case "mlp":
      return {
        names: ["x", "w1", "b1", "w2", "b2", "g"],
        fn: (x, w1, b1, w2, b2, g) => {
          const [y, back] = jax.vjp(mlpBlock, [x!, w1!, b1!, w2!, b2!]);
          const grads = back(g!);
          back.dispose();
          return [y, ...grads];
        },
      };
    case "conv3d":
      return {
        names: ["x", "w", "g"],
        fn: (x, wt, g) => {
          const conv = (a: JArray, b: JArray) =>
            lax.convGeneralDilated(a, b, [1, 1, 1], [[1, 1], [1, 1], [1, 1]]);
          const [y, back] = jax.vjp(conv, [x!, wt!]);
          const grads = back(g!);
          back.dispose();
          return [y, ...grads];
        },
      };
    case "groupNorm":
      return {
        names: ["x", "weight", "bias"],
        fn: (x, weight, bias) => [groupNorm(x!, weight!, bias!, w.groups)],
      };
  }
}

/**
 * Initializes jax-js's WebGPU device on Dawn and returns it as a {@link BenchLibrary}; throws when
 * jax-js could not create a WebGPU device.
 *
 * @example
 * ```ts ignore
 * const dawn = await installDawnForPeers();
 * const lib = await createJaxJs(dawn!);
 * ```
 */
export async function createJaxJs(dawn: DawnForPeers): Promise<BenchLibrary> {
  const devices = await jax.init("webgpu");
  if (!devices.includes("webgpu")) {
    throw new Error(`jax-js found no WebGPU device (devices: ${devices.join(", ")})`);
  }
  jax.defaultDevice("webgpu");
  assertDawnDevice(dawn, jax.getWebGPUDevice(), "jax-js");
  const version = await packageVersion();
  return {
    name: "jax-js",
    version,
    device: `webgpu: ${dawn.adapterName}`,
    unsupported: () => null,
    async prepare(w, inputs: HostInputs): Promise<Prepared> {
      const spec = workloadFn(w);
      const args = spec.names.map((name) => {
        const canonical = input(inputs, name, w);
        const t = spec.toNative ? spec.toNative(name, canonical) : canonical;
        return np.array(t.data, { shape: [...t.shape], device: "webgpu" });
      });
      await jax.blockUntilReady(args); // Upload before timing.
      const compiled = jax.jit(spec.fn);
      return {
        // `.ref` keeps the inputs alive across calls; `data()` consumes each output.
        run: async () =>
          (await Promise.all(compiled(...args.map((a) => a.ref)).map((o) => o.data()))).map(
            toFloat32,
          ),
        ...(spec.canonical ? { canonical: spec.canonical } : {}),
        dispose: () => {
          compiled.dispose();
          for (const a of args) a.dispose();
        },
      };
    },
  };
}
