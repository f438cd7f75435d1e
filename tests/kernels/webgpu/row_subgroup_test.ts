/**
 * Long-row reductions on the WebGPU backend against the reference interpreter, at sizes where
 * a software adapter with a fixed subgroup size takes the subgroup row kernel (one subgroup per
 * row, shuffles instead of barriers, loops unrolled by 4 with aligned `vec4<f32>` operands):
 * extents that are and are not multiples of 4, aligned and misaligned row bases, strided
 * (non-last-axis) rows, NaN and ties for the arg reductions, half-precision layouts, and the
 * fused softmax / layer norm / group norm kernels, including softmax's reuse of its `exp`.
 */
import { assert, assertEquals } from "../../_assert.ts";
import { device, functions, type NDArray, np } from "../../../mod.ts";
import { sharedGpu } from "../../../kernels/webgpu/device.ts";
import { createWebgpuBackend } from "../../../kernels/webgpu/backend.ts";
import {
  checkPrimitive,
  compareHost,
  operand,
  reference,
  rng,
  runOn,
  skipReason,
} from "./_harness.ts";

const ignore = skipReason !== null;

Deno.test({
  name: "reductions over long rows match the reference (aligned, odd, strided; NaN and ties)",
  ignore,
  async fn() {
    const r = rng(31);
    // [rows, extent]: a multiple of 4 (unrolled, vec4), not one (plain loop), a long row.
    for (const shape of [[5, 256], [3, 130], [2, 1000]]) {
      for (const kind of ["normal", "special"] as const) {
        const x = operand(shape, "float32", r, kind);
        await checkPrimitive("reduce_sum", { axes: [1] }, [x], [1e-4, 1e-4]);
        await checkPrimitive("reduce_max", { axes: [1] }, [x]);
        await checkPrimitive("reduce_min", { axes: [1] }, [x]);
        await checkPrimitive("argmax", { axis: 1 }, [x]);
        await checkPrimitive("argmin", { axis: 1 }, [x]);
      }
      // Small integers: many ties, the lowest index must win.
      const ties = operand(shape, "int32", r);
      await checkPrimitive("argmax", { axis: 1 }, [ties]);
      await checkPrimitive("argmin", { axis: 1 }, [ties]);
      await checkPrimitive("reduce_sum", { axes: [1] }, [ties]);
    }
    // Rows along axis 0 (stride 3: no vec4 loads) and over two axes.
    const strided = operand([260, 3], "float32", r);
    await checkPrimitive("reduce_sum", { axes: [0] }, [strided], [1e-4, 1e-4]);
    await checkPrimitive("argmax", { axis: 0 }, [strided]);
    await checkPrimitive("reduce_max", { axes: [1, 2] }, [operand([3, 16, 12], "float32", r)]);
    await checkPrimitive("cumsum", { axis: 1, reverse: false }, [operand([3, 200], "float32", r)], [
      1e-4,
      1e-4,
    ]);
    // Half layouts (native and packed two per word): no vec4 loads, packed atomic stores.
    const h = operand([4, 256], "float16", r);
    await checkPrimitive("reduce_sum", { axes: [1] }, [h], [4e-3, 4e-3]);
    await checkPrimitive("argmax", { axis: 1 }, [h]);
  },
});

function randomArray(shape: readonly number[], seed: number, specials = false): Float32Array {
  const r = rng(seed);
  return Float32Array.from(
    { length: shape.reduce((a, b) => a * b, 1) },
    () => specials && r() < 0.05 ? -Infinity : r() * 6 - 3,
  );
}

/** `f` on the GPU and on the reference interpreter, compared. */
async function agrees(
  what: string,
  f: (...xs: NDArray[]) => NDArray,
  inputs: { shape: number[]; seed: number; specials?: boolean }[],
): Promise<void> {
  const run = async (dev: "webgpu" | "reference") => {
    device.use(dev);
    const xs = inputs.map((x) =>
      np.array(randomArray(x.shape, x.seed, x.specials), { shape: x.shape })
    );
    return await f(...xs).data() as Float32Array;
  };
  compareHost(await run("webgpu"), await run("reference"), "float32", what, [1e-4, 1e-5]);
}

Deno.test({
  name: "fused softmax, logSoftmax, layerNorm and groupNorm on long rows match the reference",
  ignore,
  async fn() {
    await agrees("softmax", (x) => functions.softmax(x!, -1), [{ shape: [6, 512], seed: 1 }]);
    await agrees("softmax with -inf", (x) => functions.softmax(x!, -1), [
      { shape: [5, 260], seed: 2, specials: true },
    ]);
    await agrees("softmax, odd row", (x) => functions.softmax(x!, -1), [
      { shape: [3, 301], seed: 3 },
    ]);
    // Columns 1..256 of each row: row bases are not multiples of 4.
    await agrees(
      "softmax of a misaligned slice",
      (x) => functions.softmax(np.sliceAxis(x!, 1, 1, 257), -1),
      [{ shape: [4, 258], seed: 4 }],
    );
    await agrees("logSoftmax", (x) => functions.logSoftmax(x!, -1), [{ shape: [4, 384], seed: 5 }]);
    await agrees(
      "layerNorm",
      (x, w, b) => functions.layerNorm(x!, { weight: w!, bias: b! }),
      [{ shape: [4, 384], seed: 6 }, { shape: [384], seed: 7 }, { shape: [384], seed: 8 }],
    );
    await agrees(
      "groupNorm",
      (x, w, b) => functions.groupNorm(x!, 4, { weight: w!, bias: b!, eps: 1e-6 }),
      [{ shape: [2, 8, 3, 8, 8], seed: 9 }, { shape: [8], seed: 10 }, { shape: [8], seed: 11 }],
    );
  },
});

Deno.test({
  name:
    "on a fixed-subgroup software adapter, a long-row reduction is one barrier-free vec4 kernel",
  ignore,
  async fn() {
    const lines: string[] = [];
    const backend = createWebgpuBackend(await sharedGpu(), {
      debug: true,
      log: (line) => lines.push(line),
    })!;
    if (!backend.config.software || backend.config.subgroupSize === undefined) {
      console.warn("SKIP subgroup row kernel shape: not a software adapter with fixed subgroups");
      return;
    }
    const x = backend.fromHost(randomArray([8, 512], 12), { shape: [8, 512], dtype: "float32" });
    const [m] = backend.execute("reduce_max", { axes: [1] }, [x], [{
      shape: [8],
      dtype: "float32",
    }]);
    await backend.read(m!);
    const code = lines.filter((l) => l.includes("compile")).join("\n");
    assert(code.includes("subgroupShuffleXor"), "the row kernel reduces with shuffles");
    assert(!code.includes("workgroupBarrier"), "the row kernel has no barriers");
    assert(code.includes("array<vec4<f32>>"), "the row is read as vec4");
    assertEquals(backend.counters.launches, 1);
    for (const a of [x, m!]) backend.release(a);
  },
});

Deno.test({
  name: "the workgroup-memory row kernel (the GPU path) still matches the reference",
  ignore,
  async fn() {
    const barriers = createWebgpuBackend(await sharedGpu(), { subgroupRows: false })!;
    const r = rng(77);
    for (const shape of [[5, 256], [3, 130]]) {
      const x = operand(shape, "float32", r, "special");
      for (
        const [prim, params] of [
          ["reduce_sum", { axes: [1] }],
          ["reduce_max", { axes: [1] }],
          ["argmax", { axis: 1 }],
          ["argmin", { axis: 1 }],
        ] as const
      ) {
        const [want] = await runOn(reference, prim, params, [x]);
        const [got] = await runOn(barriers, prim, params, [x]);
        const dtype = prim.startsWith("arg") ? "int32" : "float32";
        compareHost(got!, want!, dtype, `${prim} ${shape} without subgroups`, [1e-4, 1e-4]);
      }
    }
  },
});
