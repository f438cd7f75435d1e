/**
 * Pytrees: flatten/unflatten round-trips, map, dotted paths as checkpoint keys, and structure
 * errors that name both structures.
 */
import fc from "fast-check";
import { device, np, tree } from "../../autograd/mod.ts";
import { defToString } from "../../autograd/tree.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { property } from "../_arbitraries.ts";

device.use("reference");

const keyArb = fc.stringMatching(/^[a-z_][a-z0-9_]{0,5}$/);
const { node: treeArb } = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.integer(),
    fc.constant(null),
    fc.array(tie("node"), { maxLength: 3 }),
    fc.dictionary(keyArb, tie("node"), { maxKeys: 3, noNullPrototype: true }),
  ),
}));

Deno.test("tree.unflatten(flatten(t)) rebuilds t; leaves come depth first", () => {
  property(treeArb, (t) => {
    const [leaves, def] = tree.flatten(t);
    assertEquals(tree.unflatten(def, leaves), t);
    assertEquals(tree.leaves(t), leaves);
    assertEquals(tree.numLeaves(def), leaves.length);
    // Replacing leaves keeps the structure.
    const again = tree.unflatten(def, leaves.map((_, i) => i));
    assertEquals(defToString(tree.flatten(again)[1]), defToString(def));
  }, { numRuns: 300 });
});

Deno.test("tree.map applies f leafwise over trees of one structure", () => {
  property(treeArb, (t) => {
    const doubled = tree.map((x: number | null) => (x === null ? null : x * 2), t);
    const [a] = tree.flatten(t), [b] = tree.flatten(doubled);
    assertEquals(b, a.map((x) => (x === null ? null : (x as number) * 2)));
    const summed = tree.map(
      (x: number | null, y: number | null) => (x === null ? y : x + y!),
      t,
      doubled,
    );
    assertEquals(tree.flatten(summed)[0], a.map((x) => (x === null ? null : (x as number) * 3)));
  }, { numRuns: 200 });
});

Deno.test("tree.map rejects trees of different structure, naming both", () => {
  const error = assertThrows(() =>
    tree.map((a: number, b: number) => a + b, { x: 1, y: [2] }, { x: 1, y: 2 })
  );
  assert(
    error.message.includes("{x:*,y:*}") && error.message.includes("{x:*,y:[*]}"),
    error.message,
  );
  assertThrows(() => tree.unflatten(tree.flatten([1, 2])[1], [1]), Error, "too few leaves");
  assertThrows(() => tree.unflatten(tree.flatten([1, 2])[1], [1, 2, 3]), Error, "3 leaves");
});

Deno.test("arrays, strings and class instances are leaves, not nodes", () => {
  const x = np.ones([2]);
  const [leaves, def] = tree.flatten({ w: x, name: "layer", nested: [x, undefined] });
  assertEquals(leaves.length, 4);
  assert(leaves[0] === x);
  assertEquals(defToString(def), "{w:*,name:*,nested:[*,*]}");
});

Deno.test("flattenWithPaths and unflattenFromPaths round-trip checkpoint-style trees", () => {
  const params = {
    transformer_blocks: [
      { attn1: { to_q: { weight: 1, bias: 2 } } },
      { attn1: { to_q: { weight: 3, bias: 4 } } },
    ],
    norm_out: { weight: 5 },
  };
  const entries = tree.flattenWithPaths(params);
  assertEquals(entries.map(([p]) => p), [
    "transformer_blocks.0.attn1.to_q.weight",
    "transformer_blocks.0.attn1.to_q.bias",
    "transformer_blocks.1.attn1.to_q.weight",
    "transformer_blocks.1.attn1.to_q.bias",
    "norm_out.weight",
  ]);
  assertEquals(tree.unflattenFromPaths(entries), params);
  // Paths in any order rebuild the same lists.
  assertEquals(tree.unflattenFromPaths([...entries].reverse()), {
    norm_out: { weight: 5 },
    transformer_blocks: params.transformer_blocks,
  });
  assertThrows(() => tree.unflattenFromPaths([["a", 1], ["a", 2]]), Error, "Duplicate path");
  assertThrows(() => tree.unflattenFromPaths([["a", 1], ["a.b", 2]]), Error, "conflicts");
});

Deno.test("flattenWithPaths -> unflattenFromPaths is the identity on trees without empty nodes", () => {
  // Leaves at non-numeric keys; lists hold at least one element; no empty dicts.
  const { node } = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: "small" },
      fc.integer(),
      fc.array(tie("node"), { minLength: 1, maxLength: 3 }),
      fc.dictionary(keyArb, tie("node"), { minKeys: 1, maxKeys: 3, noNullPrototype: true }),
    ),
  }));
  const rootArb = fc.dictionary(keyArb, node, { minKeys: 1, maxKeys: 3, noNullPrototype: true });
  property(rootArb, (t) => {
    assertEquals(tree.unflattenFromPaths(tree.flattenWithPaths(t)), t);
  }, { numRuns: 200 });
});
