import { device, np, random } from "../../autograd/mod.ts";
import { Linear } from "../../models/nn/linear.ts";
import * as params from "../../models/param_tree.ts";
import { computeDtype, policy, supportsFloat16 } from "../../models/precision.ts";
import { assertEquals, assertThrows } from "../_assert.ts";

device.use("reference");

const model = () => ({
  blocks: [
    { to_q: Linear.init(random.key(0), { inFeatures: 3, outFeatures: 2 }) },
    { to_q: Linear.init(random.key(1), { inFeatures: 3, outFeatures: 2, bias: false }) },
  ],
  step: np.array(0, { dtype: "int32" }),
});

Deno.test("params.paths/list/count/bytes describe a tree by its checkpoint names", () => {
  const p = model();
  assertEquals(params.paths(p), [
    "blocks.0.to_q.weight",
    "blocks.0.to_q.bias",
    "blocks.1.to_q.weight",
    "step",
  ]);
  assertEquals(params.list(p)[1], {
    path: "blocks.0.to_q.bias",
    shape: [2],
    dtype: "float32",
    size: 2,
  });
  assertEquals(params.count(p), 6 + 2 + 6 + 1);
  assertEquals(params.bytes(p), 15 * 4);
  assertEquals(params.specs(p)["blocks.1.to_q.weight"], { shape: [2, 3], dtype: "float32" });
  assertThrows(() => params.count({ a: np.ones([1]), b: 3 }), Error, "b (number)");
});

Deno.test("params.map and params.cast keep the structure; cast leaves integers alone", () => {
  const p = model();
  const zeroed = params.map(p, (x, path) => (path.endsWith("bias") ? np.zerosLike(x) : x));
  assertEquals(Array.from(zeroed.blocks[0]!.to_q.bias!.dataSync()), [0, 0]);
  assertEquals(zeroed.blocks[1]!.to_q.weight, p.blocks[1]!.to_q.weight);
  const half = params.cast(p, "float16");
  assertEquals(params.list(half).map((x) => x.dtype), ["float16", "float16", "float16", "int32"]);
  assertThrows(() => params.cast(p, "int32"), Error, "float");
  assertEquals(params.formatKeys(["a", "b", "c"], 2), "a, b (and 1 more)");
});

Deno.test("precision: the reference device computes in float16; policies cast trees", () => {
  assertEquals(supportsFloat16(), true);
  assertEquals(computeDtype("auto"), "float16");
  assertEquals(computeDtype("float32"), "float32");
  const mp = policy({ compute: "auto" });
  const t = mp.castToCompute({ w: np.ones([2]), i: np.array([1], { dtype: "int32" }) });
  assertEquals([t.w.dtype, t.i.dtype], ["float16", "int32"]);
  assertEquals(mp.castToParam(t).w.dtype, "float32");
  assertThrows(() => policy({ param: "int32" }), Error, "float");
});
