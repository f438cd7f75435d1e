/**
 * The benchmark's Droplet workloads, run on the reference interpreter at small sizes, against
 * direct float64 host computations: the rows time what their labels say.
 */
import { assertClose, assertEquals } from "../_assert.ts";
import { createDroplet, dropletUnavailableReason } from "../../bench/libraries/droplet.ts";
import { type HostTensor, makeInputs } from "../../bench/inputs.ts";
import { elementwiseChainScalar, type Workload } from "../../bench/workloads.ts";

async function runDroplet(
  w: Workload,
): Promise<{ inputs: Record<string, HostTensor>; out: Float32Array[] }> {
  const inputs = makeInputs(w, 11);
  const prepared = await createDroplet("reference").prepare(w, inputs);
  try {
    return { inputs, out: await prepared.run() };
  } finally {
    prepared.dispose();
  }
}

/** `a [M, K] @ b [K, N]` in float64; `bT` reads b as `[N, K]` (for q k^T). */
function matmulHost(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  k: number,
  n: number,
  bT = false,
) {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += a[i * k + p]! * b[bT ? j * k + p : p * n + j]!;
      out[i * n + j] = acc;
    }
  }
  return out;
}

function softmaxRows(x: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * cols, (r + 1) * cols);
    const max = Math.max(...row);
    const e = row.map((v) => Math.exp(v - max));
    const sum = e.reduce((s, v) => s + v, 0);
    out.set(e.map((v) => v / sum), r * cols);
  }
  return out;
}

Deno.test("Droplet rows are marked unavailable while its device is not webgpu", () => {
  createDroplet("reference");
  assertEquals(dropletUnavailableReason(), "unavailable: no webgpu backend");
});

Deno.test("Droplet matmul workload equals the float64 product", async () => {
  const { inputs, out } = await runDroplet({ kind: "matmul", m: 5, k: 7, n: 3 });
  assertClose(out[0]!, matmulHost(inputs.a!.data, inputs.b!.data, 5, 7, 3), {
    rtol: 1e-5,
    atol: 1e-5,
  });
});

Deno.test("Droplet elementwise workload applies the 10-op chain", async () => {
  const { inputs, out } = await runDroplet({ kind: "elementwise", n: 64 });
  assertClose(out[0]!, Array.from(inputs.x!.data, elementwiseChainScalar), {
    rtol: 1e-5,
    atol: 1e-6,
  });
});

Deno.test("Droplet softmax and attention workloads match the float64 formulas", async () => {
  const soft = await runDroplet({ kind: "softmax", rows: 3, cols: 9 });
  assertClose(soft.out[0]!, softmaxRows(Float64Array.from(soft.inputs.x!.data), 3, 9), {
    rtol: 1e-5,
    atol: 1e-7,
  });

  const [h, s, d] = [2, 5, 4];
  const { inputs, out } = await runDroplet({
    kind: "attention",
    batch: 1,
    heads: h,
    seq: s,
    headDim: d,
  });
  const expected = new Float64Array(h * s * d);
  for (let head = 0; head < h; head++) {
    const slice = (t: HostTensor) => t.data.subarray(head * s * d, (head + 1) * s * d);
    const scores = matmulHost(slice(inputs.q!), slice(inputs.k!), s, d, s, true).map((v) =>
      v / Math.sqrt(d)
    );
    expected.set(matmulHost(softmaxRows(scores, s, s), slice(inputs.v!), s, s, d), head * s * d);
  }
  assertClose(out[0]!, expected, { rtol: 1e-5, atol: 1e-6 });
});

Deno.test("Droplet group norm workload normalizes each group then applies the affine", async () => {
  const w = {
    kind: "groupNorm",
    batch: 1,
    channels: 4,
    frames: 2,
    height: 2,
    width: 3,
    groups: 2,
  } as const;
  const { inputs, out } = await runDroplet(w);
  const x = inputs.x!.data, per = 12; // elements per channel (T*H*W)
  const expected = new Float64Array(x.length);
  for (let g = 0; g < 2; g++) {
    const group = Array.from(x.subarray(g * 2 * per, (g + 1) * 2 * per));
    const mean = group.reduce((a, b) => a + b, 0) / group.length;
    const variance = group.reduce((a, b) => a + (b - mean) ** 2, 0) / group.length;
    group.forEach((v, i) => {
      const c = g * 2 + Math.floor(i / per);
      expected[g * 2 * per + i] =
        (v - mean) / Math.sqrt(variance + 1e-6) * inputs.weight!.data[c]! +
        inputs.bias!.data[c]!;
    });
  }
  assertClose(out[0]!, expected, { rtol: 1e-4, atol: 1e-5 });
});
