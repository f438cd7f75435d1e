/**
 * Random programs of 1-12 operations over random shapes evaluate the same on the WebGPU backend
 * (lazily fused, and compiled through `jit`) as on the reference interpreter, and so do their
 * gradients through `jit(grad(f))`.
 */
import fc from "fast-check";
import { device, grad, jit, type NDArray, np } from "../../../mod.ts";
import type { DType } from "../../../kernels/dtype.ts";
import { sizeOf } from "../../../kernels/shape.ts";
import { compareHost, rng, skipReason } from "./_harness.ts";
import { floatToHalfBits } from "../../../kernels/half.ts";

const ignore = skipReason !== null;

type Step =
  | { kind: "unary"; op: number; src: number }
  | { kind: "binary"; op: number; a: number; b: number }
  | { kind: "reduce"; op: number; src: number; axis: number; keepdims: boolean }
  | { kind: "move"; op: number; src: number; axis: number; n: number }
  | { kind: "matmul"; src: number; n: number }
  | { kind: "softmax"; src: number; axis: number }
  | { kind: "where"; src: number };

interface ProgramSpec {
  readonly shape: number[];
  readonly inputs: number;
  readonly steps: Step[];
  readonly seed: number;
}

const unary: ((x: NDArray) => NDArray)[] = [
  (x) => np.negative(x),
  (x) => np.tanh(x),
  (x) => np.sin(x),
  (x) => np.abs(x),
  (x) => np.sigmoid(x),
  (x) => np.multiply(np.square(np.tanh(x)), 2),
  (x) => np.divide(x, np.add(np.abs(x), 1)),
  (x) => np.erf(x),
  (x) => np.sqrt(np.add(np.square(x), 1)),
  (x) => np.exp(np.tanh(x)),
];
const binary: ((a: NDArray, b: NDArray) => NDArray)[] = [
  (a, b) => np.add(a, b),
  (a, b) => np.subtract(a, b),
  (a, b) => np.multiply(a, b),
  (a, b) => np.maximum(a, b),
  (a, b) => np.minimum(a, b),
  (a, b) => np.divide(a, np.add(np.abs(b), 1)),
];

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("unary" as const), op: fc.nat(unary.length - 1), src: fc.nat() }),
  fc.record({
    kind: fc.constant("binary" as const),
    op: fc.nat(binary.length - 1),
    a: fc.nat(),
    b: fc.nat(),
  }),
  fc.record({
    kind: fc.constant("reduce" as const),
    op: fc.nat(2),
    src: fc.nat(),
    axis: fc.nat(),
    keepdims: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant("move" as const),
    op: fc.nat(7),
    src: fc.nat(),
    axis: fc.nat(),
    n: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({
    kind: fc.constant("matmul" as const),
    src: fc.nat(),
    n: fc.integer({ min: 1, max: 6 }),
  }),
  fc.record({ kind: fc.constant("softmax" as const), src: fc.nat(), axis: fc.nat() }),
  fc.record({ kind: fc.constant("where" as const), src: fc.nat() }),
);

const programArb: fc.Arbitrary<ProgramSpec> = fc.record({
  shape: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 0, maxLength: 3 }),
  inputs: fc.integer({ min: 1, max: 3 }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 12 }),
  seed: fc.nat(),
});

/** Deterministic arrays for a program: the same on both devices. */
class Fresh {
  #r: () => number;
  constructor(seed: number, readonly dtype: DType) {
    this.#r = rng(seed + 1);
  }
  values(n: number): number[] {
    return Array.from({ length: n }, () => Math.round((this.#r() * 4 - 2) * 64) / 64);
  }
  array(shape: readonly number[]): NDArray {
    const v = this.values(sizeOf(shape));
    if (this.dtype === "float16") {
      return np.array(Uint16Array.from(v, floatToHalfBits), { shape, dtype: "float16" });
    }
    return np.array(Float32Array.from(v), { shape, dtype: this.dtype });
  }
}

/** Runs the steps on `inputs`; returns the last value (every value stays small: <= 4096). */
function interpret(spec: ProgramSpec, inputs: readonly NDArray[], fresh: Fresh): NDArray {
  const pool: NDArray[] = [...inputs];
  const pick = (k: number) => pool[k % pool.length]!;
  for (const step of spec.steps) {
    let out: NDArray | null = null;
    switch (step.kind) {
      case "unary":
        out = unary[step.op]!(pick(step.src));
        break;
      case "binary": {
        const a = pick(step.a);
        const same = pool.filter((x) => x.shape.join() === a.shape.join());
        out = binary[step.op]!(a, same[step.b % same.length]!);
        break;
      }
      case "reduce": {
        const x = pick(step.src);
        if (x.ndim === 0) break;
        const axis = step.axis % x.ndim;
        const f = [np.sum, np.max, np.mean][step.op]!;
        out = f(x, axis, { keepdims: step.keepdims });
        break;
      }
      case "move": {
        const x = pick(step.src);
        const axis = x.ndim > 0 ? step.axis % x.ndim : 0;
        switch (step.op) {
          case 0:
            out = np.transpose(x);
            break;
          case 1:
            out = np.reshape(x, [-1]);
            break;
          case 2:
            if (x.ndim > 0) out = np.flip(x, axis);
            break;
          case 3:
            if (x.ndim > 0) {
              out = np.sliceAxis(x, axis, Math.min(step.n - 1, x.shape[axis]! - 1), null, step.n);
            }
            break;
          case 4:
            if (x.ndim > 0) {
              out = np.pad(
                x,
                x.shape.map((_, d) => (d === axis ? [step.n, 1] : [0, 0]) as [number, number]),
                {
                  constantValue: 0.5,
                },
              );
            }
            break;
          case 5:
            if (x.ndim > 0 && x.size * 2 <= 4096) out = np.concatenate([x, np.negative(x)], axis);
            break;
          case 6:
            if (x.size * step.n <= 4096) {
              out = np.broadcastTo(np.expandDims(x, 0), [step.n, ...x.shape]);
            }
            break;
          case 7:
            if (x.ndim > 0) out = np.cumsum(x, axis);
            break;
        }
        break;
      }
      case "matmul": {
        const x = pick(step.src);
        if (x.ndim === 0) break;
        const k = x.shape[x.ndim - 1]!;
        const w = fresh.array([k, step.n]);
        out = np.matmul(x, w);
        break;
      }
      case "softmax": {
        const x = pick(step.src);
        if (x.ndim === 0) break;
        const axis = step.axis % x.ndim;
        const e = np.exp(np.subtract(x, np.max(x, axis, { keepdims: true })));
        out = np.divide(e, np.sum(e, axis, { keepdims: true }));
        break;
      }
      case "where": {
        const x = pick(step.src);
        const cond = np.greater(fresh.array(x.shape), 0);
        out = np.where(cond, x, fresh.array(x.shape));
        break;
      }
    }
    if (out) pool.push(out);
  }
  return pool[pool.length - 1]!;
}

async function evaluateOn(
  name: "reference" | "webgpu",
  spec: ProgramSpec,
  dtype: DType,
  compiled: boolean,
): Promise<{ data: Float32Array | Uint16Array; dtype: DType }> {
  device.use(name);
  const fresh = new Fresh(spec.seed, dtype);
  const inputs = Array.from({ length: spec.inputs }, () => fresh.array(spec.shape));
  const run = (...xs: NDArray[]) => interpret(spec, xs, new Fresh(spec.seed + 7, dtype));
  const out = compiled ? jit(run)(...inputs) : run(...inputs);
  const value = out.backendValue();
  const raw = await value.backend.read(value);
  return { data: raw as Float32Array | Uint16Array, dtype: out.dtype };
}

const tolerances: Record<string, [number, number]> = {
  float32: [2e-4, 2e-4],
  float16: [2e-2, 2e-2],
};

Deno.test({
  name: "random programs evaluate on webgpu (lazy and jit) as on the reference interpreter",
  ignore,
  async fn() {
    await fc.assert(
      fc.asyncProperty(programArb, fc.boolean(), async (spec, compiled) => {
        const want = await evaluateOn("reference", spec, "float32", false);
        const got = await evaluateOn("webgpu", spec, "float32", compiled);
        compareHost(
          got.data,
          want.data,
          want.dtype,
          `program ${JSON.stringify(spec)}`,
          tolerances.float32,
        );
      }),
      { numRuns: 40 },
    );
  },
});

Deno.test({
  name: "random float16 programs evaluate on webgpu as on the reference interpreter",
  ignore,
  async fn() {
    await fc.assert(
      fc.asyncProperty(programArb, async (spec) => {
        const want = await evaluateOn("reference", spec, "float16", false);
        const got = await evaluateOn("webgpu", spec, "float16", false);
        compareHost(
          got.data,
          want.data,
          want.dtype,
          `program ${JSON.stringify(spec)}`,
          tolerances.float16,
        );
      }),
      { numRuns: 12 },
    );
  },
});

Deno.test({
  name: "gradients of random programs through jit(grad(f)) on webgpu match the reference",
  ignore,
  async fn() {
    await fc.assert(
      fc.asyncProperty(programArb, async (spec) => {
        const results: Float32Array[] = [];
        for (const name of ["reference", "webgpu"] as const) {
          device.use(name);
          const fresh = new Fresh(spec.seed, "float32");
          const x = fresh.array(spec.shape);
          const weights = new Fresh(spec.seed + 3, "float32");
          const f = (a: NDArray) => {
            const out = interpret(spec, [a], new Fresh(spec.seed + 7, "float32"));
            return np.sum(np.multiply(out, weights.array(out.shape)));
          };
          const g = name === "webgpu" ? jit(grad(f))(x) : grad(f)(x);
          const value = g.backendValue();
          results.push((await value.backend.read(value)) as Float32Array);
        }
        compareHost(results[1]!, results[0]!, "float32", `grad of ${JSON.stringify(spec)}`, [
          1e-3,
          1e-3,
        ]);
      }),
      { numRuns: 20 },
    );
  },
});
