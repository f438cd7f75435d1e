/**
 * Reverse mode against finite differences, for every primitive with a derivative; the
 * primitives without one must say so in their rules; coverage of the primitive set.
 */
import { device, grad, lax, np, vjp } from "../../autograd/mod.ts";
import { bind } from "../../autograd/array.ts";
import { jvpRules } from "../../autograd/jvp.ts";
import { batchRules } from "../../autograd/vmap.ts";
import { vjpRules } from "../../autograd/vjp_rules.ts";
import { isFloat } from "../../kernels/dtype.ts";
import type { Aval, Params, Primitive } from "../../kernels/primitives.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { property, rngFrom, seedArb, uniformValues } from "../_arbitraries.ts";
import { checkVjpMatchesFiniteDifferences } from "../_fd.ts";
import { read, recordExecutions, upload } from "../_host.ts";
import { allPrimitives, diffIndices, primitiveCases, sampleInputs } from "../_primitive_cases.ts";

device.use("reference");

Deno.test("every primitive of the jvp, vjp and batching rule tables has a test case", () => {
  const sorted = (xs: readonly string[]) => [...xs].sort();
  assertEquals(sorted(Object.keys(jvpRules)), sorted(allPrimitives));
  assertEquals(sorted(Object.keys(vjpRules)), sorted(allPrimitives));
  assertEquals(sorted(Object.keys(batchRules)), sorted(allPrimitives));
});

Deno.test("every primitive's test instance applies that primitive", () => {
  for (const prim of allPrimitives) {
    for (let seed = 0; seed < 5; seed++) {
      const rng = rngFrom(seed);
      const instance = primitiveCases[prim].make(rng);
      const args = sampleInputs(instance, rng).map(upload);
      const { executions } = recordExecutions(() => instance.f(...args));
      assert(
        executions.some((e) => e.prim === prim),
        `the ${prim} case (${instance.describe}) does not apply ${prim}`,
      );
    }
  }
});

for (const prim of allPrimitives) {
  const kase = primitiveCases[prim];
  if (kase.kind !== "derivative") continue;
  Deno.test(`vjp matches finite differences for ${prim}`, () => {
    property(seedArb, (seed) => {
      const rng = rngFrom(seed);
      const instance = kase.make(rng);
      const inputs = sampleInputs(instance, rng);
      const direction = instance.direction;
      checkVjpMatchesFiniteDifferences(instance.f, inputs, diffIndices(instance), {
        rng,
        label: `(${prim}: ${instance.describe})`,
        ...(instance.h === undefined ? {} : { h: instance.h }),
        ...(direction === undefined ? {} : { direction: (_i, t) => direction(t) }),
      });
    }, { numRuns: 80 });
  });
}

/** A concrete array with random contents for an aval. */
function randomArray(aval: Aval, seed: number) {
  const rng = rngFrom(seed);
  const n = aval.shape.reduce((a, b) => a * b, 1);
  const dtype = aval.dtype;
  const data = isFloat(aval.dtype)
    ? uniformValues(rng, n, -2, 2)
    : Array.from({ length: n }, () => Math.floor(rng() * (aval.dtype === "bool" ? 2 : 5)));
  return upload({ shape: aval.shape, dtype, data });
}

for (const prim of allPrimitives) {
  const kase = primitiveCases[prim];
  if (kase.kind !== "none") continue;
  Deno.test(`${prim} has no derivative: its jvp and vjp rules return no tangent`, () => {
    for (let seed = 0; seed < 4; seed++) {
      const rng = rngFrom(seed);
      const instance = kase.make(rng);
      const args = sampleInputs(instance, rng).map(upload);
      const { executions } = recordExecutions(() => instance.f(...args));
      const eqns = executions.filter((e) => e.prim === prim);
      assert(eqns.length > 0, `no ${prim} in ${instance.describe}`);
      for (const eqn of eqns) {
        const params = eqn.params;
        const primals = eqn.inputs.map((aval, i) => randomArray(aval, seed * 7 + i));
        const tangents = primals.map((p, i) =>
          isFloat(p.dtype) ? randomArray(p.aval, 100 + i) : null
        );
        const rule = jvpRules[prim] as unknown as (
          p: typeof primals,
          t: typeof tangents,
          params: Params<Primitive>,
          outAvals: readonly unknown[],
        ) => [np.NDArray[], (np.NDArray | null)[]];
        const [outs, outTangents] = rule(primals, tangents, params, eqn.outputs);
        assertEquals(outs.length, eqn.outputs.length);
        for (const t of outTangents) {
          assert(t === null || read(t).every((x) => x === 0), `${prim} jvp gave a tangent`);
        }
        const outputs = bind(prim, params, primals);
        const cts = outputs.map((o, i) => (isFloat(o.dtype) ? randomArray(o.aval, 200 + i) : null));
        const back = (vjpRules[prim] as unknown as (
          c: typeof cts,
          i: typeof primals,
          o: typeof outputs,
          params: Params<Primitive>,
        ) => (np.NDArray | null)[])(cts, primals, outputs, params);
        for (const c of back) {
          assert(c === null || read(c).every((x) => x === 0), `${prim} vjp gave a cotangent`);
        }
      }
    }
  });
}

Deno.test("stop_gradient blocks gradients: grad(x * stopGradient(x)) = x", () => {
  const x = np.array([0.5, -1.5, 2]);
  const g = grad((a: np.NDArray) => np.sum(np.multiply(a, lax.stopGradient(a))))(x);
  assertEquals(read(g), read(x));
});

Deno.test("differentiating fused attention twice throws a documented error", () => {
  const rng = rngFrom(3);
  const q = upload({ shape: [1, 1, 2, 2], dtype: "float32", data: uniformValues(rng, 4, -1, 1) });
  const params = { scale: 0.5, causal: false };
  const inner = (x: np.NDArray) => np.sum(np.square(lax.attention(x, x, x, params)[0]));
  assertThrows(
    () => grad((x: np.NDArray) => np.sum(grad(inner)(x)))(q),
    Error,
    "Second derivatives through fused attention are not supported",
  );
});

Deno.test("a cotangent for fused attention's logsumexp output throws a documented error", () => {
  const rng = rngFrom(4);
  const q = upload({ shape: [1, 1, 2, 2], dtype: "float32", data: uniformValues(rng, 4, -1, 1) });
  const [out, pullback] = vjp(
    (x: np.NDArray) => lax.attention(x, x, x, { scale: 1, causal: false }),
    q,
  );
  assertThrows(
    () => pullback([np.onesLike(out[0]), np.onesLike(out[1])]),
    Error,
    "log-sum-exp output of fused attention",
  );
});
