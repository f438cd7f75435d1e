import { device, grad, type NDArray, np, random } from "../../autograd/mod.ts";
import { loadInto, loadSafetensors, openCheckpoint } from "../../models/checkpoint.ts";
import { CausalConv3d } from "../../models/nn/causal_conv.ts";
import { Linear } from "../../models/nn/linear.ts";
import { LayerNorm } from "../../models/nn/norm.ts";
import { adamw } from "../../models/optim/adam.ts";
import { entries, specs } from "../../models/param_tree.ts";
import { saveSafetensors } from "../../models/safetensors.ts";
import { assertEquals, assertRejects } from "../_assert.ts";

device.use("reference");

const dir = await Deno.makeTempDir({ prefix: "droplet_checkpoint_" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

/** A small model whose paths look like the DiT's: attn1.to_q.weight, norm1.norm.bias, ... */
function block(key: NDArray) {
  const [k1, k2, k3] = random.split(key, 3);
  return {
    attn1: {
      to_q: Linear.init(k1!, { inFeatures: 4, outFeatures: 4 }),
      to_out: [Linear.init(k2!, { inFeatures: 4, outFeatures: 4 })],
    },
    norm1: { norm: LayerNorm.init(null, { dim: 4 }) },
    conv_in: CausalConv3d.init(k3!, { inChannels: 2, outChannels: 3, kernelSize: 3 }),
  };
}

async function sameBits(a: unknown, b: unknown): Promise<void> {
  const ea = entries(a), eb = entries(b);
  assertEquals(ea.map(([p]) => p), eb.map(([p]) => p));
  for (let i = 0; i < ea.length; i++) {
    const [path, x] = ea[i]!, y = eb[i]![1];
    assertEquals([y.dtype, y.shape], [x.dtype, x.shape], path);
    assertEquals(Array.from(await y.rawData()), Array.from(await x.rawData()), path);
  }
}

Deno.test("params plus AdamW state save and load back bit for bit", async () => {
  const model = { transformer_blocks: [block(random.key(0)), block(random.key(1))] };
  const opt = adamw({ lr: 1e-2 });
  let params = model;
  let state = opt.init(params);
  const loss = (p: typeof model) =>
    np.sum(np.square(p.transformer_blocks[1]!.attn1.to_q.weight)) as NDArray;
  for (let i = 0; i < 2; i++) [params, state] = opt.update(grad(loss)(params), state, params);
  const path = `${dir}/train.safetensors`;
  await saveSafetensors(path, { params, opt: state }, { metadata: { step: "2" } });
  const names = (await openCheckpoint(path)).names;
  assertEquals(names.includes("params.transformer_blocks.1.attn1.to_out.0.weight"), true);
  assertEquals(names.includes("params.transformer_blocks.0.conv_in.conv.weight"), true);
  assertEquals(names.includes("opt.count"), true);
  const back = await loadInto({ params, opt: state }, path);
  await sameBits(back, { params, opt: state });
  assertEquals(back.opt.count.dtype, "int32");
  // and it keeps training: the loaded state steps like the original.
  const [p1] = opt.update(grad(loss)(params), state, params);
  const [p2] = opt.update(grad(loss)(back.params), back.opt, back.params);
  await sameBits(p2, p1);
});

Deno.test("loadInto reports missing, unexpected and mismatched keys together, capped", async () => {
  const saved = block(random.key(2));
  const path = `${dir}/block.safetensors`;
  await saveSafetensors(path, saved);
  const expected = block(random.key(3)) as Record<string, unknown>;
  const changed = {
    ...expected,
    attn1: { to_q: { weight: np.zeros([4, 5]), bias: np.zeros([4]) } }, // shape change, to_out missing
    extra: { weight: np.zeros([2]) },
  };
  const error = await assertRejects(
    () => loadInto(changed, path),
    Error,
    "does not match the model",
  );
  const m = error.message;
  assertEquals(m.includes("1 missing key: extra.weight"), true, m);
  assertEquals(
    m.includes("2 unexpected keys: attn1.to_out.0.weight, attn1.to_out.0.bias"),
    true,
    m,
  );
  assertEquals(m.includes("attn1.to_q.weight (checkpoint F32[4,4], model [4,5])"), true, m);
  // Long lists are capped with a count.
  const many: Record<string, NDArray> = {};
  for (let i = 0; i < 30; i++) many[`w${i}`] = np.zeros([1]);
  const capped = await assertRejects(() => loadInto(many, path), Error, "30 missing keys");
  assertEquals(capped.message.includes("(and 10 more)"), true, capped.message);
});

Deno.test("loadInto takes shape specs, converts to the expected dtype, allows missing/unexpected", async () => {
  const saved = block(random.key(4));
  const path = `${dir}/block2.safetensors`;
  await saveSafetensors(path, saved);
  const spec = specs(saved);
  const flat = await loadInto(spec, path);
  assertEquals(Object.keys(flat).length, 8);
  assertEquals(flat["attn1.to_q.weight"]!.shape, [4, 4]);
  // float16 expected: loaded float16, rounded to nearest.
  const half = await loadInto(
    { attn1: { to_q: { weight: { shape: [4, 4], dtype: "float16" as const } } } },
    path,
    {
      allowUnexpected: true,
    },
  );
  assertEquals(half.attn1.to_q.weight.dtype, "float16");
  const want = saved.attn1.to_q.weight.dataSync();
  const got = half.attn1.to_q.weight.dataSync();
  assertEquals(
    Array.from(got),
    Array.from(np.astype(np.array(Array.from(want)), "float16").dataSync()),
  );
  // allowMissing keeps the given array for keys the checkpoint lacks.
  const fresh = np.ones([3]);
  const withNew = await loadInto({ ...saved, new_head: { bias: fresh } }, path, {
    allowMissing: (p) => p.startsWith("new_head."),
  });
  assertEquals(withNew.new_head.bias, fresh);
  await assertRejects(
    () =>
      loadInto({ w: { shape: [4, 4], dtype: "int32" as const } }, path, {
        allowUnexpected: true,
        allowMissing: true,
      }),
    Error,
    "missing key: w",
  );
  await assertRejects(
    () =>
      loadInto({ attn1: { to_q: { bias: { shape: [4], dtype: "int32" as const } } } }, path, {
        allowUnexpected: true,
      }),
    Error,
    "attn1.to_q.bias (checkpoint F32, model int32)",
  );
});

Deno.test("sharded checkpoints load through their index, from the index or its folder", async () => {
  const shardDir = `${dir}/text_encoder`;
  await Deno.mkdir(shardDir);
  const a = { "shared.weight": np.arange(6).reshape([2, 3]), "encoder.block.0.w": np.ones([2]) };
  const b = { "encoder.final_layer_norm.weight": np.full([3], 2) };
  await saveSafetensors(`${shardDir}/model-00001-of-00002.safetensors`, a);
  await saveSafetensors(`${shardDir}/model-00002-of-00002.safetensors`, b);
  const index = {
    metadata: { total_size: 44 },
    weight_map: {
      "shared.weight": "model-00001-of-00002.safetensors",
      "encoder.block.0.w": "model-00001-of-00002.safetensors",
      "encoder.final_layer_norm.weight": "model-00002-of-00002.safetensors",
    },
  };
  await Deno.writeTextFile(`${shardDir}/model.safetensors.index.json`, JSON.stringify(index));
  for (const path of [`${shardDir}/model.safetensors.index.json`, shardDir]) {
    const all = await loadSafetensors(path);
    assertEquals(Object.keys(all).sort(), Object.keys(index.weight_map).sort());
    assertEquals(Array.from(all["encoder.final_layer_norm.weight"]!.dataSync()), [2, 2, 2]);
  }
  const nested = await loadInto({
    shared: { weight: { shape: [2, 3] } },
    encoder: { block: [{ w: { shape: [2] } }], final_layer_norm: { weight: { shape: [3] } } },
  }, shardDir);
  assertEquals(Array.from(nested.shared.weight.dataSync()), [0, 1, 2, 3, 4, 5]);
  // An index that names a tensor its shard lacks is refused with the name.
  const broken = {
    ...index,
    weight_map: { ...index.weight_map, "lost.weight": "model-00002-of-00002.safetensors" },
  };
  await Deno.writeTextFile(`${shardDir}/model.safetensors.index.json`, JSON.stringify(broken));
  await assertRejects(
    () => loadSafetensors(shardDir),
    Error,
    "missing from their shard: lost.weight",
  );
  await Deno.writeTextFile(`${dir}/extra.safetensors.index.json`, "{}");
  await assertRejects(
    () => openCheckpoint(`${dir}/extra.safetensors.index.json`),
    Error,
    "weight_map",
  );
  await assertRejects(() => openCheckpoint(`${dir}/nope`), Error, "does not exist");
});
