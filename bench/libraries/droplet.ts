/**
 * Droplet under test, through its public API only (`mod.ts`), so the same code runs unchanged
 * on whichever device `device.init()` selected.
 *
 * Each workload is one `jit`-compiled function: Droplet compiles per input shapes and dtypes, so
 * the harness's first (untimed, but reported) run pays for tracing and kernel compilation. Outputs are read
 * with `await x.data()` and freed at once; intermediates are reclaimed by `scope`.
 *
 * Timing is only meaningful on the WebGPU device: {@link dropletUnavailableReason} tells the
 * harness to mark rows unavailable rather than time the CPU reference interpreter as if it were a
 * GPU. The test suite runs these same workloads on the reference device (small sizes) to check
 * that they compute what the peers compute.
 *
 * @module
 */

import { device, functions, jit, lax, NDArray, np, scope, vjp } from "../../mod.ts";
import { type HostInputs, input } from "../inputs.ts";
import type { Workload, WorkloadOf } from "../workloads.ts";
import type { BenchLibrary, Prepared } from "./library.ts";
import { toFloat32 } from "./library.ts";

/**
 * Why Droplet cannot be timed in this process, or null when its current device is WebGPU.
 *
 * @example
 * ```ts ignore
 * dropletUnavailableReason(); // "unavailable: no webgpu backend" until the backend is merged
 * ```
 */
export function dropletUnavailableReason(): string | null {
  try {
    // `info()` throws when no device was selected (no WebGPU backend and no DROPLET_DEVICE).
    if (device.info().backend === "webgpu") return null;
  } catch {
    // Fall through: no device at all is no WebGPU backend either.
  }
  return "unavailable: no webgpu backend";
}

type Fn = (...args: NDArray[]) => NDArray[];

/** Same padding for a 3x3x3 kernel at stride 1 (`[low, high]` per spatial axis). */
const conv3dParams = {
  strides: [1, 1, 1],
  padding: [[1, 1], [1, 1], [1, 1]] as const,
  lhsDilation: [1, 1, 1],
  rhsDilation: [1, 1, 1],
  groups: 1,
};

/** `x [T, D] -> x + gelu_tanh(x W1 + b1) W2 + b2` (the MLP block of the workload). */
function mlpBlock(x: NDArray, w1: NDArray, b1: NDArray, w2: NDArray, b2: NDArray): NDArray {
  const h = functions.gelu(np.add(np.matmul(x, w1), b1), { approximate: "tanh" }); // [T, F]
  return np.add(x, np.add(np.matmul(h, w2), b2)); // [T, D]
}

/** The elementwise chain of `workloads.ts`, op for op. */
function elementwiseChain(x: NDArray): NDArray {
  let t = np.multiply(x, 1.5);
  t = np.add(t, 0.25);
  t = np.sin(t);
  t = np.multiply(t, x);
  t = np.subtract(t, 0.125);
  t = np.abs(t);
  t = np.sqrt(t);
  t = np.multiply(t, 0.5);
  t = np.exp(t);
  return np.maximum(t, x);
}

/** The cotangents a pullback returned, checked to be arrays (`vjp` types them `unknown`). */
function arrays(xs: readonly unknown[]): NDArray[] {
  return xs.map((x, i) => {
    if (!(x instanceof NDArray)) throw new Error(`Cotangent ${i} is not an array: ${String(x)}`);
    return x;
  });
}

/** The function a workload computes, its argument names, in order. */
function workloadFn(w: Workload): { names: string[]; fn: Fn } {
  switch (w.kind) {
    case "matmul":
      return { names: ["a", "b"], fn: (a, b) => [np.matmul(a!, b!)] };
    case "elementwise":
      return { names: ["x"], fn: (x) => [elementwiseChain(x!)] };
    case "softmax":
      return { names: ["x"], fn: (x) => [functions.softmax(x!, -1)] };
    case "layerNorm":
      return {
        names: ["x", "weight", "bias"],
        fn: (
          x,
          weight,
          bias,
        ) => [functions.layerNorm(x!, { weight: weight!, bias: bias!, eps: 1e-5 })],
      };
    case "attention":
      return { names: ["q", "k", "v"], fn: (q, k, v) => [attention(w, q!, k!, v!)] };
    case "mlp":
      return {
        names: ["x", "w1", "b1", "w2", "b2", "g"],
        fn: (x, w1, b1, w2, b2, g) => {
          const [y, back] = vjp(mlpBlock, x!, w1!, b1!, w2!, b2!);
          return [y, ...arrays(back(g!))];
        },
      };
    case "conv3d":
      return {
        names: ["x", "w", "g"],
        fn: (x, wt, g) => {
          const [y, back] = vjp((a: NDArray, b: NDArray) => lax.conv(a, b, conv3dParams), x!, wt!);
          return [y, ...arrays(back(g!))];
        },
      };
    case "groupNorm":
      return {
        names: ["x", "weight", "bias"],
        fn: (x, weight, bias) => [
          functions.groupNorm(x!, w.groups, { weight: weight!, bias: bias!, eps: 1e-6 }),
        ],
      };
  }
}

/** Fused attention (`lax.attention`) on `[B, H, S, D]`; the log-sum-exp output is dropped. */
function attention(w: WorkloadOf<"attention">, q: NDArray, k: NDArray, v: NDArray): NDArray {
  const [out] = lax.attention(q, k, v, { scale: 1 / Math.sqrt(w.headDim), causal: false });
  return out;
}

/**
 * Droplet as a {@link BenchLibrary} on the named device. Each `prepare` selects that device
 * first, so a GPU instance and a reference instance (the checking oracle) can coexist.
 *
 * @example
 * ```ts ignore
 * const lib = createDroplet("webgpu");
 * const prepared = await lib.prepare(workload, makeInputs(workload));
 * const outputs = await prepared.run();
 * ```
 */
export function createDroplet(backend: "webgpu" | "reference"): BenchLibrary {
  device.use(backend);
  const info = device.info();
  return {
    name: "droplet",
    version: "working tree",
    device: `${info.backend}: ${info.adapter}`,
    unsupported: () => null,
    prepare(w, inputs: HostInputs): Promise<Prepared> {
      device.use(backend);
      const { names, fn } = workloadFn(w);
      const args = names.map((name) => {
        const t = input(inputs, name, w);
        return np.array(t.data, { shape: [...t.shape] });
      });
      const compiled = jit(fn);
      const run = async (): Promise<Float32Array[]> => {
        const outs = scope(() => compiled(...args));
        try {
          const data = await Promise.all(outs.map((o) => o.data()));
          return data.map(toFloat32);
        } finally {
          for (const o of outs) o.dispose();
        }
      };
      return Promise.resolve({
        run,
        dispose: () => {
          for (const a of args) a.dispose();
        },
      });
    },
  };
}
