/**
 * vmap equals a loop: for every primitive's batching rule (batched and unbatched operands,
 * batch axes anywhere, `outAxes`, the loop fallbacks), and for per-example gradients.
 */
import { device, grad, lax, type NDArray, np, vmap } from "../../autograd/mod.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { pick, property, randInt, type Rng, rngFrom, seedArb } from "../_arbitraries.ts";
import {
  arrayLeaves,
  download,
  type HostTensor,
  indexLeading,
  moveAxis,
  recordExecutions,
  stackHost,
  upload,
} from "../_host.ts";
import { allPrimitives, type Instance, primitiveCases } from "../_primitive_cases.ts";
import { sizeOfShape } from "../_host.ts";

device.use("reference");

function sameValues(got: HostTensor, want: HostTensor, label: string): void {
  assertEquals(got.shape, want.shape, `shape ${label}`);
  assertEquals(got.dtype, want.dtype, `dtype ${label}`);
  if (got.dtype === "float32" || got.dtype === "float16" || got.dtype === "bfloat16") {
    assertClose(got.data, want.data, { rtol: 1e-6, atol: 1e-6, message: label });
  } else {
    assertEquals(got.data, want.data, label);
  }
}

/**
 * Runs `vmap(f, { inAxes, outAxes })` on stacked per-example inputs and compares every output
 * with a loop of `f` over the examples (batch axis moved and sliced on the host).
 */
function checkVmapAgainstLoop(
  instance: Instance,
  rng: Rng,
  batch: number,
  inAxes: readonly (number | null)[],
  outAxes: number,
  label: string,
): void {
  const perExample: HostTensor[][] = [];
  const shared = instance.inputs.map((spec) => ({
    shape: spec.shape,
    dtype: spec.dtype,
    data: spec.sample(rng, sizeOfShape(spec.shape)),
  }));
  for (let b = 0; b < batch; b++) {
    perExample.push(
      instance.inputs.map((spec, i) =>
        inAxes[i] === null ? shared[i]! : {
          shape: spec.shape,
          dtype: spec.dtype,
          data: spec.sample(rng, sizeOfShape(spec.shape)),
        }
      ),
    );
  }
  const batchedArgs = instance.inputs.map((spec, i) => {
    const axis = inAxes[i];
    if (axis === null || axis === undefined) return upload(shared[i]!);
    const stacked = stackHost(perExample.map((ex) => ex[i]!));
    const rank = spec.shape.length + 1;
    return upload(moveAxis(stacked, 0, axis < 0 ? axis + rank : axis));
  });
  const vmapped = arrayLeaves(vmap(instance.f, { inAxes, outAxes })(...batchedArgs)).map(download);
  const loops = perExample.map((ex) => arrayLeaves(instance.f(...ex.map(upload))).map(download));
  assertEquals(vmapped.length, loops[0]!.length, `number of outputs ${label}`);
  vmapped.forEach((out, j) => {
    const axis = outAxes < 0 ? outAxes + out.shape.length : outAxes;
    const front = moveAxis(out, axis, 0);
    assertEquals(front.shape[0], batch, `batch size of output ${j} ${label}`);
    for (let b = 0; b < batch; b++) {
      sameValues(indexLeading(front, b), loops[b]![j]!, `output ${j}, example ${b} ${label}`);
    }
  });
}

/** Random batching: each input batched (at a random axis, sometimes negative) or not. */
function randomAxes(rng: Rng, instance: Instance): (number | null)[] {
  const axes = instance.inputs.map((spec): number | null => {
    if (rng() < 0.3) return null;
    const rank = spec.shape.length + 1;
    const axis = randInt(rng, 0, rank - 1);
    return rng() < 0.25 ? axis - rank : axis;
  });
  if (!axes.some((a) => a !== null)) axes[randInt(rng, 0, axes.length - 1)] = 0;
  return axes;
}

/** An `outAxes` valid for every output of the instance (outputs gain one axis). */
function randomOutAxes(rng: Rng, instance: Instance): number {
  const probe = instance.inputs.map((spec) =>
    upload({
      shape: spec.shape,
      dtype: spec.dtype,
      data: spec.sample(rng, sizeOfShape(spec.shape)),
    })
  );
  const minRank = Math.min(...arrayLeaves(instance.f(...probe)).map((x) => x.ndim)) + 1;
  return randInt(rng, -minRank, minRank - 1);
}

for (const prim of allPrimitives) {
  const kase = primitiveCases[prim];
  Deno.test(`vmap matches a loop over the batch for ${prim}`, () => {
    property(seedArb, (seed) => {
      const rng = rngFrom(seed);
      const instance = kase.make(rng);
      const inAxes = randomAxes(rng, instance);
      const outAxes = randomOutAxes(rng, instance);
      const batch = randInt(rng, 1, 3);
      checkVmapAgainstLoop(
        instance,
        rng,
        batch,
        inAxes,
        outAxes,
        `(${prim}: ${instance.describe}; inAxes ${JSON.stringify(inAxes)} outAxes ${outAxes})`,
      );
    }, { numRuns: 50 });
  });
}

Deno.test("vmap of take with batched indices and batched x uses the loop fallback correctly", () => {
  property(seedArb, (seed) => {
    const rng = rngFrom(seed);
    const instance = primitiveCases.take.make(rng);
    const inAxes = [pick(rng, [0, -1]), pick(rng, [0, -1])];
    checkVmapAgainstLoop(instance, rng, randInt(rng, 2, 3), inAxes, 0, instance.describe);
  }, { numRuns: 15 });
});

Deno.test("vmap of conv with batched weights uses the loop fallback correctly", () => {
  property(seedArb, (seed) => {
    const rng = rngFrom(seed);
    const instance = primitiveCases.conv.make(rng);
    const inAxes = [pick(rng, [null, 0, 2]), pick(rng, [0, 1])];
    checkVmapAgainstLoop(
      instance,
      rng,
      randInt(rng, 2, 3),
      inAxes,
      pick(rng, [0, 1]),
      instance.describe,
    );
  }, { numRuns: 10 });
});

Deno.test("vmap of scatter_add with batched indices uses the loop fallback correctly", () => {
  property(seedArb, (seed) => {
    const rng = rngFrom(seed);
    const instance = primitiveCases.scatter_add.make(rng);
    const inAxes = [pick(rng, [null, 0]), 0];
    checkVmapAgainstLoop(instance, rng, randInt(rng, 2, 3), inAxes, 0, instance.describe);
  }, { numRuns: 15 });
});

Deno.test("vmap of matmul batches either operand, the other, or both", () => {
  for (const inAxes of [[0, null], [null, 0], [1, 1], [-1, 0]] as const) {
    property(seedArb, (seed) => {
      const rng = rngFrom(seed);
      const instance = primitiveCases.matmul.make(rng);
      checkVmapAgainstLoop(instance, rng, 2, inAxes, 0, `${instance.describe} ${inAxes}`);
    }, { numRuns: 8 });
  }
});

Deno.test("vmap's batching rules run batched primitives, not a hidden loop", () => {
  // tanh of a batch of 3 is one tanh execution, not three.
  const x = np.ones([3, 4]);
  const { executions } = recordExecutions(() => vmap((a: NDArray) => np.tanh(a))(x));
  assertEquals(executions.filter((e) => e.prim === "tanh").length, 1);
});

function mlpLoss(params: { w: NDArray; b: NDArray }, x: NDArray, y: NDArray): NDArray {
  const hidden = np.tanh(np.add(np.matmul(x, params.w), params.b)); // [H]
  return np.sum(np.square(np.subtract(np.sum(hidden), y)));
}

Deno.test("vmap(grad(f)) per-example gradients equal a loop of grads", () => {
  property(seedArb, (seed) => {
    const rng = rngFrom(seed);
    const [n, d, h] = [randInt(rng, 1, 4), randInt(rng, 1, 3), randInt(rng, 1, 3)];
    const values = (shape: number[]) => {
      const size = sizeOfShape(shape);
      return Array.from({ length: size }, () => rng() * 2 - 1);
    };
    const params = {
      w: upload({ shape: [d, h], dtype: "float32", data: values([d, h]) }),
      b: upload({ shape: [h], dtype: "float32", data: values([h]) }),
    };
    const xs = upload({ shape: [n, d], dtype: "float32", data: values([n, d]) });
    const ys = upload({ shape: [n], dtype: "float32", data: values([n]) });
    const perExample = vmap(grad(mlpLoss), { inAxes: [null, 0, 0] })(params, xs, ys) as {
      w: NDArray;
      b: NDArray;
    };
    assertEquals(perExample.w.shape, [n, d, h]);
    for (let i = 0; i < n; i++) {
      const xi = np.index(xs, [i]), yi = np.index(ys, [i]);
      const g = grad(mlpLoss)(params, xi, yi) as { w: NDArray; b: NDArray };
      assertClose(download(np.index(perExample.w, [i])).data, download(g.w).data, { rtol: 1e-6 });
      assertClose(download(np.index(perExample.b, [i])).data, download(g.b).data, { rtol: 1e-6 });
    }
  }, { numRuns: 10 });
});

Deno.test("vmap nests: vmap(vmap(f)) over two axes equals a double loop", () => {
  const rng = rngFrom(11);
  const data = Array.from({ length: 2 * 3 * 4 }, () => rng());
  const x = upload({ shape: [2, 3, 4], dtype: "float32", data });
  const w = upload({ shape: [4], dtype: "float32", data: [1, -2, 0.5, 3] });
  const f = (row: NDArray) => np.sum(np.multiply(np.sin(row), w));
  const out = vmap(vmap(f), { inAxes: 1, outAxes: 1 })(x); // outer over axis 1 of x
  assertEquals(out.shape, [2, 3]);
  const got = download(out).data;
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 3; j++) {
      const expected = download(f(np.index(x, [i, j]))).data[0]!;
      assertClose(got[i * 3 + j]!, expected, { rtol: 1e-6 });
    }
  }
});

Deno.test("vmap over pytrees: inAxes per argument, unbatched outputs are broadcast", () => {
  const xs = np.array([[1, 2], [3, 4], [5, 6]]);
  const ys = np.array([10, 20, 30]);
  const c = np.array([10, 20]);
  const out = vmap(
    (p: { x: NDArray; y: NDArray }, s: NDArray) => ({ sum: np.add(p.x, p.y), s, k: c }),
    { inAxes: [0, null] },
  )({ x: xs, y: ys }, np.array(7)) as { sum: NDArray; s: NDArray; k: NDArray };
  assertEquals(download(out.sum).data, [11, 12, 23, 24, 35, 36]);
  assertEquals(out.s.shape, [3]);
  assertEquals(download(out.s).data, [7, 7, 7]);
  assertEquals(out.k.shape, [3, 2]);
  assertEquals(download(out.k).data, [10, 20, 10, 20, 10, 20]);
});

Deno.test("vmap rejects differing batch sizes, all-null inAxes and out-of-range axes", () => {
  const a = np.ones([2, 3]), b = np.ones([4, 3]);
  const error = assertThrows(() => vmap((x: NDArray, y: NDArray) => np.add(x, y))(a, b));
  assert(error.message.includes("2") && error.message.includes("4"), error.message);
  assertThrows(() => vmap((x: NDArray) => x, { inAxes: null })(a), Error, "no argument");
  assertThrows(() => vmap((x: NDArray) => x, { inAxes: 2 })(a), Error, "out of range");
  // The output of a scalar function batched over 2 has rank 1: outAxes 1, 2 and -2 do not exist.
  for (const outAxes of [1, 2, -2]) {
    assertThrows(
      () => vmap((x: NDArray) => np.sum(x), { outAxes })(a),
      Error,
      `outAxes ${outAxes}`,
    );
  }
  assertEquals([...vmap((x: NDArray) => np.sum(x), { outAxes: -1 })(a).shape], [2]);
});

Deno.test("vmap of lax.iota and full inside f broadcasts the unbatched constants", () => {
  const x = np.array([[1, 2, 3], [4, 5, 6]]);
  const out = vmap((r: NDArray) => np.add(r, lax.iota([3], 0, "float32")))(x);
  assertEquals(download(out).data, [1, 3, 5, 4, 6, 8]);
});
