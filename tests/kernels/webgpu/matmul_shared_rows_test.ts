/**
 * The register-tiled matmul kernel with rows shared across a subgroup (`MatmulTiles.lanes`,
 * what software adapters with a fixed subgroup size get): each lane loads `tm / lanes` rows of
 * A and `subgroupBroadcast`s them. Checked against float64 (or exact integer) products for
 * every A layout (vec4 along K, scalar rows, transposed), partial row tiles, split-K, K not a
 * multiple of 4, workgroups looping over tiles, an integer product and a bias epilogue.
 */
import { assert } from "../../_assert.ts";
import { sharedGpu } from "../../../kernels/webgpu/device.ts";
import { createWebgpuBackend } from "../../../kernels/webgpu/backend.ts";
import { chooseTiles, type MatmulTiles } from "../../../kernels/webgpu/templates/matmul.ts";
import { checkBiasMatmul, type MatmulCase } from "./_matmul_case.ts";

const gpu = await sharedGpu();
const backend = createWebgpuBackend(gpu);
const lanes = backend?.runtime.target.subgroupSize;
// chooseTiles picks the shared-row kernel only on software adapters, whose lanes run in
// lockstep; on an H200 (32 lanes) this test failed, so GPUs never get it (see chooseTiles).
const ignore = gpu === null || backend === null || lanes === undefined || !gpu.info.isSoftware;
if (ignore) {
  console.log(
    "skipping shared-row matmul tests: " +
      (gpu === null
        ? "no WebGPU adapter"
        : !gpu.info.isSoftware
        ? "the kernel is only used on software adapters"
        : "the adapter reports no fixed subgroup size"),
  );
}

interface Case extends MatmulCase {
  readonly type: "f32" | "i32";
  /** Tiles beyond chooseTiles' choice (merged into it). */
  readonly tiles?: Partial<MatmulTiles>;
}

Deno.test({
  name:
    "shared-row matmul kernel matches exact products for every layout, partial tiles, split-K and a bias epilogue",
  ignore,
  async fn() {
    const target = backend!.runtime.target;
    const cases: Case[] = [
      // vec4 A and B, partial row and column tiles.
      { batch: 2, m: 37, n: 76, k: 44, aT: false, bT: false, type: "f32" },
      // Scalar A rows (K % 4 != 0 runs the one-step loop), B read transposed.
      { batch: 1, m: 40, n: 50, k: 45, aT: false, bT: true, type: "f32" },
      // A transposed (strided along K: scalar loads, then broadcasts), 8 <= m < 16.
      { batch: 1, m: 12, n: 33, k: 20, aT: true, bT: false, type: "f32" },
      // Few tiles and a long K: split-K partials through the reduce kernel.
      { batch: 1, m: 20, n: 40, k: 600, aT: false, bT: false, type: "f32" },
      // 3 workgroups looping over 12 tiles.
      { batch: 1, m: 48, n: 120, k: 16, aT: false, bT: false, type: "f32", tiles: { groups: 3 } },
      // Wrapping integer accumulation.
      { batch: 1, m: 24, n: 36, k: 28, aT: true, bT: true, type: "i32" },
    ];
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5;
    for (const c of cases) {
      const { batch, m, n, k } = c;
      const isInt = c.type === "i32";
      const make = (count: number) =>
        isInt
          ? Int32Array.from({ length: count }, () => Math.round(rand() * 20))
          : Float32Array.from({ length: count }, rand);
      const A = make(batch * m * k), B = make(batch * k * n), bias = make(n);
      const tiles = { ...chooseTiles(batch, m, n, k, true, true, lanes!), ...c.tiles };
      assert(tiles.lanes === lanes, `case ${JSON.stringify(c)} does not share rows`);
      await checkBiasMatmul(gpu!, target, c, tiles, c.type, true, A, B, bias);
    }
  },
});

Deno.test("chooseTiles shares rows only on software adapters with a fixed subgroup size", () => {
  assert(chooseTiles(1, 1024, 1024, 1024, true, true, 8).lanes === 8, "lavapipe, 8 lanes");
  assert(chooseTiles(1, 1024, 1024, 1024, true, true, 8).tm === 16, "16 rows per tile");
  assert(chooseTiles(1, 12, 64, 64, true, true, 8).tm === 8, "8 <= m < 16: one row per lane");
  assert(chooseTiles(1, 4, 64, 64, true, true, 8).lanes === undefined, "m < lanes: unshared");
  assert(chooseTiles(1, 1024, 1024, 1024, true).lanes === undefined, "subgroup size unknown");
  assert(chooseTiles(1, 1024, 1024, 1024, false, false, 32).lanes === undefined, "GPU");
});
