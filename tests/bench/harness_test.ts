import { assert, assertEquals } from "../_assert.ts";
import { parseArgs } from "../../bench/args.ts";
import { agreementTolerance, compareOutputs } from "../../bench/compare.ts";
import {
  isSoftwareAdapter,
  pollCount,
  pollPolicyInEffect,
  restorePolling,
  setPollPolicy,
} from "../../bench/dawn.ts";
import { makeInputs, transposeHost, uniformTensor } from "../../bench/inputs.ts";
import { markdownTable, ratio, type RowResult } from "../../bench/report.ts";
import type { Timing } from "../../bench/measure.ts";
import { benchRows, bytesMoved, flops } from "../../bench/workloads.ts";

Deno.test("parseArgs reads --only after deno task's -- separator and --poll=VALUE", () => {
  const o = parseArgs(["--", "--only", "matmul,attention", "--poll=sleep", "--no-check"]);
  assertEquals(o.only, ["matmul", "attention"]);
  assertEquals(o.poll, "sleep");
  assertEquals(o.check, false);
  assertEquals(parseArgs([]).libraries, ["droplet", "jax-js", "tfjs"]);
});

Deno.test("parseArgs rejects an unknown group, library or flag naming it", () => {
  for (const args of [["--only", "matmul,bogus"], ["--libraries", "torch"], ["--fast"]]) {
    let message = "";
    try {
      parseArgs(args);
    } catch (error) {
      message = (error as Error).message;
    }
    assert(message.includes(args.at(-1)!.split(",").at(-1)!), `no error naming ${args}`);
  }
});

Deno.test("transposeHost matches index arithmetic and its inverse restores the input", () => {
  const t = uniformTensor([2, 3, 4, 5], 1, 3);
  const perm = [2, 0, 3, 1];
  const out = transposeHost(t, perm);
  assertEquals(out.shape, [4, 2, 5, 3]);
  // out[a, b, c, d] = t[b, d, a, c]
  for (const [a, b, c, d] of [[0, 0, 0, 0], [3, 1, 4, 2], [1, 0, 2, 1], [2, 1, 0, 2]]) {
    const o = ((a! * 2 + b!) * 5 + c!) * 3 + d!;
    const i = ((b! * 3 + d!) * 4 + a!) * 5 + c!;
    assertEquals(out.data[o], t.data[i]);
  }
  const inverse = [1, 3, 0, 2]; // inverse[perm[i]] = i
  assertEquals(transposeHost(out, inverse).data, t.data);
});

Deno.test("makeInputs is deterministic, in range, and names every input of a workload", () => {
  const w = { kind: "mlp", tokens: 3, dim: 4, hidden: 8 } as const;
  const [a, b] = [makeInputs(w), makeInputs(w)];
  assertEquals(Object.keys(a), ["x", "w1", "b1", "w2", "b2", "g"]);
  assertEquals(a.w1!.data, b.w1!.data);
  assert(a.x!.data.every((v) => v >= -1 && v < 1), "x outside [-1, 1)");
  assert(a.x!.data.some((v, i) => v !== a.g!.data[i]), "different inputs share a seed");
});

Deno.test("flops and bytesMoved follow the textbook counts", () => {
  assertEquals(flops({ kind: "matmul", m: 2, k: 3, n: 4 }), 48);
  assertEquals(
    flops({ kind: "attention", batch: 1, heads: 2, seq: 8, headDim: 4 }),
    4 * 2 * 64 * 4,
  );
  // Forward 4TDF, backward 8TDF.
  assertEquals(flops({ kind: "mlp", tokens: 2, dim: 3, hidden: 5 }), 12 * 30);
  assertEquals(bytesMoved({ kind: "elementwise", n: 10 }), 80);
  assertEquals(bytesMoved({ kind: "softmax", rows: 2, cols: 3 }), 48);
});

Deno.test("benchRows has unique ids and software sizes no larger than full ones", () => {
  const [soft, full, check] = [benchRows("software"), benchRows("full"), benchRows("check")];
  for (const rows of [soft, full, check]) {
    assertEquals(new Set(rows.map((r) => r.id)).size, rows.length);
    assert(rows.every((r) => r.work > 0), "a row does no work");
  }
  assertEquals(new Set(soft.map((r) => r.group)), new Set(full.map((r) => r.group)));
  for (const r of soft) {
    const f = full.find((x) => x.id === r.id);
    if (f) assert(r.work <= f.work, `${r.id} is larger on software`);
  }
  assert(full.some((r) => r.id === "matmul_2048"), "full sizes lack matmul 2048");
  const attention = full.find((r) => r.group === "attention")!.workload;
  assertEquals(attention, { kind: "attention", batch: 1, heads: 48, seq: 4096, headDim: 64 });
});

Deno.test("compareOutputs agrees within tolerance and flags layout errors and NaN", () => {
  const e = new Float32Array([1, -2, 3, 100]);
  assert(compareOutputs([e.map((v) => v * (1 + agreementTolerance / 4))], [e]).agrees);
  assert(!compareOutputs([new Float32Array([-2, 1, 3, 100])], [e]).agrees, "swap agreed");
  assert(!compareOutputs([new Float32Array([1, -2, NaN, 100])], [e]).agrees, "NaN agreed");
  assertEquals(compareOutputs([e, e], [e]).agrees, false);
});

Deno.test("isSoftwareAdapter recognizes lavapipe and SwiftShader but not a real GPU", () => {
  assert(isSoftwareAdapter("llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)"));
  assert(isSoftwareAdapter("SwiftShader Device (Subzero)"));
  assert(!isSoftwareAdapter("NVIDIA H100 80GB HBM3"));
});

Deno.test("setPollPolicy counts polls, detects replacement, and restorePolling undoes it", async () => {
  const original = globalThis.setImmediate;
  try {
    setPollPolicy("sleep");
    assertEquals(pollPolicyInEffect(), "sleep");
    const before = pollCount();
    await new Promise<void>((resolve) => setImmediate(resolve));
    assertEquals(pollCount() - before, 1);
    const mine = globalThis.setImmediate;
    globalThis.setImmediate = original;
    assertEquals(pollPolicyInEffect(), "replaced");
    globalThis.setImmediate = mine;
  } finally {
    restorePolling();
  }
  assert(globalThis.setImmediate === original, "setImmediate not restored");
  assertEquals(pollPolicyInEffect(), "unset");
});

function timing(medianMs: number): Timing {
  return {
    firstMs: medianMs,
    samples: 3,
    medianMs,
    minMs: medianMs,
    maxMs: medianMs,
    p75Ms: medianMs,
    cpuPerWall: 1,
    pollsPerRun: 0,
    loadAverage: 0,
    collectedBetweenSamples: true,
  };
}

Deno.test("markdownTable shows rates, Droplet/peer ratios, and unavailable reasons", () => {
  const row = benchRows("check")[0]!;
  const result: RowResult = {
    row,
    pollPolicy: "immediate",
    results: [
      { library: "droplet", status: "ok", timing: timing(1), rate: 30 },
      { library: "jax-js", status: "ok", timing: timing(2), rate: 10 },
      { library: "tfjs", status: "unavailable", reason: "unavailable: no adapter" },
    ],
  };
  const table = markdownTable([result]);
  assert(table.includes("| 3.00x | - |"), table);
  assert(table.includes("unavailable: no adapter"), table);
  assertEquals(ratio(result.results[1], result.results[0]), "0.33x");
});
