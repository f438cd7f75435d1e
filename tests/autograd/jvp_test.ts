/**
 * Forward mode: jvp is the adjoint of vjp for every differentiable primitive, and agrees with
 * finite differences where reverse mode cannot reach (fused attention's logsumexp output).
 */
import { device, jvp, lax, np } from "../../autograd/mod.ts";
import { assertClose, assertEquals } from "../_assert.ts";
import { property, rngFrom, seedArb, uniformValues } from "../_arbitraries.ts";
import { checkJvpVjpAdjoint } from "../_fd.ts";
import { read, upload } from "../_host.ts";
import { allPrimitives, diffIndices, primitiveCases, sampleInputs } from "../_primitive_cases.ts";

device.use("reference");

for (const prim of allPrimitives) {
  const kase = primitiveCases[prim];
  if (kase.kind !== "derivative") continue;
  Deno.test(`jvp and vjp are adjoint for ${prim}: <u, J v> = <J^T u, v>`, () => {
    property(seedArb, (seed) => {
      const rng = rngFrom(seed);
      const instance = kase.make(rng);
      checkJvpVjpAdjoint(instance.f, sampleInputs(instance, rng), diffIndices(instance), {
        rng,
        label: `(${prim}: ${instance.describe})`,
        ...(instance.adjointRtol === undefined ? {} : { rtol: instance.adjointRtol }),
      });
    }, { numRuns: 80 });
  });
}

Deno.test("jvp of fused attention's logsumexp output matches finite differences", () => {
  property(seedArb, (seed) => {
    const rng = rngFrom(seed);
    const causal = rng() < 0.5;
    const shapes = [[1, 2, 3, 2], [1, 2, 3, 2], [1, 2, 3, 2]];
    const data = shapes.map((s) => uniformValues(rng, s.reduce((a, b) => a * b), -1.5, 1.5));
    const dirs = shapes.map((s) => uniformValues(rng, s.reduce((a, b) => a * b), -1, 1));
    const params = { scale: 0.6, causal };
    const lse = (q: np.NDArray, k: np.NDArray, v: np.NDArray) => lax.attention(q, k, v, params)[1];
    const arrays = (xs: number[][]) =>
      xs.map((d, i) => upload({ shape: shapes[i]!, dtype: "float32", data: d }));
    const [, tangent] = jvp(lse, arrays(data), arrays(dirs));
    const h = 2e-3;
    const plus = arrays(data.map((d, i) => d.map((x, j) => x + h * dirs[i]![j]!)));
    const minus = arrays(data.map((d, i) => d.map((x, j) => x - h * dirs[i]![j]!)));
    const lp = read(lse(plus[0]!, plus[1]!, plus[2]!));
    const lm = read(lse(minus[0]!, minus[1]!, minus[2]!));
    const fd = lp.map((p, j) => (p - lm[j]!) / (2 * h));
    assertClose(read(tangent), fd, { rtol: 1e-2, atol: 2e-3 });
  }, { numRuns: 20 });
});

Deno.test("jvp returns f's value and a zero tangent for outputs that do not depend on inputs", () => {
  const x = np.array([1, 2]);
  const c = np.array([5, 6, 7]);
  const [[y, z], [ty, tz]] = jvp((a: np.NDArray) => [np.multiply(a, 3), c], [x], [np.ones([2])]);
  assertEquals(read(y!), [3, 6]);
  assertEquals(read(z!), [5, 6, 7]);
  assertEquals(read(ty!), [3, 3]);
  assertEquals(read(tz!), [0, 0, 0]);
});
