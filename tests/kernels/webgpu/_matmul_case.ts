/**
 * What the matmul kernel tests share: a batched product `[B, M, K] @ [B, K, N] + bias[N]` with
 * either operand optionally stored transposed, planned straight from `matmulPlan` with given
 * tiles, run on the adapter, and checked entry by entry against a float64 (or exact integer)
 * host product.
 *
 * @module
 */
import { assert } from "../../_assert.ts";
import type { GpuContext } from "../../../kernels/webgpu/device.ts";
import type { KernelTarget } from "../../../kernels/webgpu/kernel.ts";
import { ExpBuilder } from "../../../kernels/webgpu/ir.ts";
import { matmulPlan, type MatmulTiles } from "../../../kernels/webgpu/templates/matmul.ts";
import { runPlan } from "./templates/_run_plan.ts";

/** A product's shape and layouts. */
export interface MatmulCase {
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** A stored `[B, K, M]` (read transposed) instead of `[B, M, K]`. */
  readonly aT: boolean;
  /** B stored `[B, N, K]` (read transposed) instead of `[B, K, N]`. */
  readonly bT: boolean;
}

/**
 * Plans `c` with `tiles` (float32 or wrapping int32 throughout), runs it on `gpu` with inputs
 * `A`, `B`, `bias` and asserts every output entry: exactly for int32, within
 * `1e-4 sqrt(K) + 1e-5 |expected|` for float32. Messages name the case, tiles and entry.
 *
 * @example
 * ```ts ignore
 * await checkBiasMatmul(gpu, target, c, tiles, "f32", false, A, B, bias);
 * ```
 */
export async function checkBiasMatmul(
  gpu: GpuContext,
  target: KernelTarget,
  c: MatmulCase,
  tiles: MatmulTiles,
  type: "f32" | "i32",
  software: boolean,
  A: Float32Array | Int32Array,
  B: Float32Array | Int32Array,
  bias: Float32Array | Int32Array,
): Promise<void> {
  const { batch, m, n, k } = c;
  const b = new ExpBuilder();
  const bt = b.variable("bt", batch), j = b.variable("j", n);
  const plan = matmulPlan({
    name: "mm_test",
    batch,
    m,
    n,
    k,
    a: {
      slot: 0,
      format: type,
      base: b.mul(bt, b.idx(m * k)),
      rowStride: c.aT ? 1 : k,
      kStride: c.aT ? m : 1,
    },
    b: {
      slot: 1,
      format: type,
      base: b.mul(bt, b.idx(k * n)),
      rowStride: c.bT ? k : 1,
      kStride: c.bT ? 1 : n,
    },
    type,
    inputs: [type, type, type],
    output: type,
    epilogue: b.add(b.ref("acc", type), b.load(2, type, j)),
    builder: b,
    target,
    tiles,
    software,
  });
  const [bytes] = await runPlan(gpu, plan, [A, B, bias], [batch * m * n * 4]);
  const got = type === "i32" ? new Int32Array(bytes!) : new Float32Array(bytes!);
  for (let t = 0; t < batch; t++) {
    for (let i = 0; i < m; i++) {
      for (let jj = 0; jj < n; jj++) {
        let s = 0;
        for (let q = 0; q < k; q++) {
          const av = A[t * m * k + (c.aT ? q * m + i : i * k + q)]!;
          const bv = B[t * k * n + (c.bT ? jj * k + q : q * n + jj)]!;
          s += av * bv;
        }
        s += bias[jj]!;
        const g = got[(t * m + i) * n + jj]!;
        const tol = type === "i32" ? 0 : 1e-4 * Math.sqrt(k) + 1e-5 * Math.abs(s);
        assert(
          Math.abs(g - s) <= tol,
          `case ${JSON.stringify(c)} tiles ${
            JSON.stringify(tiles)
          }: out[${t}, ${i}, ${jj}] = ${g}, expected ${s}`,
        );
      }
    }
  }
}
