/**
 * Shared helpers of the WebGPU backend tests: backends (reference, WebGPU with native and
 * packed float16), random host data per dtype (with NaN, infinities and signed zeros where a
 * primitive must handle them), and comparison with per-dtype tolerances.
 *
 * @module
 */

import type { Backend, BackendArray } from "../../../kernels/backend.ts";
import { allocHost, type DType, type HostArray } from "../../../kernels/dtype.ts";
import {
  bfloat16BitsToFloat,
  floatToBfloat16Bits,
  floatToHalfBits,
  halfBitsToFloat,
} from "../../../kernels/half.ts";
import {
  abstractEval,
  type Aval,
  type Params,
  type Primitive,
} from "../../../kernels/primitives.ts";
import { ReferenceBackend } from "../../../kernels/reference/backend.ts";
import { sizeOf } from "../../../kernels/shape.ts";
import { createWebgpuBackend, type WebgpuBackend } from "../../../kernels/webgpu/backend.ts";
import { sharedGpu } from "../../../kernels/webgpu/device.ts";

const gpu = await sharedGpu();

/** Why GPU tests are skipped (null when an adapter exists). */
export const skipReason: string | null = gpu ? null : "no WebGPU adapter (run `deno task setup`)";
if (skipReason) console.warn(`SKIP webgpu backend tests: ${skipReason}`);

/** The WebGPU backend under test (float16 native where the adapter has shader-f16). */
export const webgpu: WebgpuBackend | null = createWebgpuBackend(gpu);
/** A second WebGPU backend storing float16 packed two per u32 (the path without shader-f16). */
export const webgpuPacked: WebgpuBackend | null = createWebgpuBackend(gpu, { packHalf: true });
/** The oracle. */
export const reference = new ReferenceBackend();

/** A tiny deterministic generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Kinds of float data. */
export type FloatKind = "normal" | "positive" | "special" | "small";

const specials = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 0.5, -2.5, 3e38, -1e-30];

/**
 * Random host data of `dtype` (raw bits for half types).
 *
 * @example
 * ```ts ignore
 * randomHost("float32", 10, rng(1), "special");
 * ```
 */
export function randomHost(
  dtype: DType,
  n: number,
  r: () => number,
  kind: FloatKind = "normal",
): HostArray {
  const out = allocHost(dtype, n);
  for (let i = 0; i < n; i++) {
    let v: number;
    if (dtype === "bool") v = r() < 0.5 ? 1 : 0;
    else if (dtype === "int32") v = Math.floor((r() - 0.5) * (kind === "special" ? 2 ** 32 : 20));
    else if (dtype === "uint32") v = Math.floor(r() * (kind === "special" ? 2 ** 32 : 20));
    else {
      const u = r() * 8 - 4;
      v = kind === "positive"
        ? r() * 4 + 0.05
        : kind === "small"
        ? (r() - 0.5) * 2
        : kind === "special" && r() < 0.3
        ? specials[Math.floor(r() * specials.length)]!
        : u;
      if (dtype === "float16") v = floatToHalfBits(v);
      else if (dtype === "bfloat16") v = floatToBfloat16Bits(v);
    }
    out[i] = v;
  }
  return out;
}

/** Host data as plain numbers (half types decoded). */
export function toNumbers(data: HostArray, dtype: DType): number[] {
  const out: number[] = [];
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    out.push(
      dtype === "float16" ? halfBitsToFloat(v) : dtype === "bfloat16" ? bfloat16BitsToFloat(v) : v,
    );
  }
  return out;
}

/** Default tolerances per dtype: [rtol, atol]. */
export function tolerance(dtype: DType): [number, number] {
  switch (dtype) {
    case "float32":
      return [2e-5, 1e-5];
    case "float16":
      return [2e-3, 1e-3];
    case "bfloat16":
      return [1.6e-2, 1e-2];
    default:
      return [0, 0];
  }
}

/** Throws naming the first element where `actual` and `expected` differ beyond tolerance. */
export function compareHost(
  actual: HostArray,
  expected: HostArray,
  dtype: DType,
  what: string,
  tol: [number, number] = tolerance(dtype),
): void {
  const a = toNumbers(actual, dtype), e = toNumbers(expected, dtype);
  if (a.length !== e.length) {
    throw new Error(`${what}: ${a.length} elements vs expected ${e.length}`);
  }
  const [rtol, atol] = tol;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = e[i]!;
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (x === y) continue;
    if (!(Math.abs(x - y) <= atol + rtol * Math.abs(y))) {
      throw new Error(
        `${what}: element ${i} is ${x}, expected ${y} (|diff| ${
          Math.abs(x - y)
        }, rtol ${rtol}, atol ${atol})`,
      );
    }
  }
}

/** One operand of a primitive check. */
export interface Operand {
  readonly aval: Aval;
  readonly data: HostArray;
}

/** A random operand of `shape` and `dtype`. */
export function operand(
  shape: readonly number[],
  dtype: DType,
  r: () => number,
  kind?: FloatKind,
): Operand {
  return { aval: { shape, dtype }, data: randomHost(dtype, sizeOf(shape), r, kind) };
}

/** Runs one primitive on a backend; returns the host data of each output. */
export async function runOn<P extends Primitive>(
  backend: Backend,
  prim: P,
  params: Params<P>,
  inputs: readonly Operand[],
): Promise<HostArray[]> {
  const xs = inputs.map((x) => backend.fromHost(x.data, x.aval));
  const outAvals = abstractEval(prim, inputs.map((x) => x.aval), params);
  const outs: BackendArray[] = backend.execute(prim, params, xs, outAvals);
  const data = await Promise.all(outs.map((o) => backend.read(o)));
  for (const x of [...xs, ...outs]) backend.release(x);
  return data;
}

/**
 * Asserts that `prim` gives the reference interpreter's outputs on every WebGPU backend.
 *
 * @example
 * ```ts ignore
 * await checkPrimitive("exp", {}, [operand([3, 4], "float32", rng(1))]);
 * ```
 */
export async function checkPrimitive<P extends Primitive>(
  prim: P,
  params: Params<P>,
  inputs: readonly Operand[],
  tol?: [number, number],
): Promise<void> {
  const expected = await runOn(reference, prim, params, inputs);
  const outAvals = abstractEval(prim, inputs.map((x) => x.aval), params);
  const halves = inputs.some((x) => x.aval.dtype === "float16") ||
    outAvals.some((a) => a.dtype === "float16");
  const backends = halves ? [webgpu!, webgpuPacked!] : [webgpu!];
  for (const backend of backends) {
    const actual = await runOn(backend, prim, params, inputs);
    const label = `${prim} ${JSON.stringify(params)} on ${
      inputs.map((x) => `${x.aval.dtype}[${x.aval.shape}]`).join(", ")
    }${backend === webgpuPacked ? " (packed f16)" : ""}`;
    actual.forEach((a, k) =>
      compareHost(
        a,
        expected[k]!,
        outAvals[k]!.dtype,
        `${label} output ${k}`,
        tol ?? tolerance(outAvals[k]!.dtype),
      )
    );
  }
}
