/**
 * Accuracy of the int8 attention (`quantization: "int8"`, specified by
 * `kernels/reference/attention_int8.ts`) against float64 softmax attention, next to attention
 * on bfloat16-rounded inputs with a bfloat16-rounded output (what PyTorch's bf16 SDPA stores),
 * on a few input distributions. Host only (the int8 reference computes the kernels' integers).
 *
 * Usage: `deno run -A bench/attention_int8_accuracy.ts`. Prints one JSON line per case and writes
 * `out/bench/attention_int8_accuracy.json`.
 *
 * @module
 */

import { int8AttentionReference } from "../kernels/reference/attention_int8.ts";
import { bfloat16BitsToFloat, floatToBfloat16Bits } from "../kernels/half.ts";

/** A seeded standard normal stream (Box-Muller over an LCG). */
function normals(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
}

const bf16 = (x: number) => bfloat16BitsToFloat(floatToBfloat16Bits(x));

/** Float64 softmax attention of one head: q `[Sq, D]`, k `[Sk, D]`, v `[Sk, Dv]`. */
function exact(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  [sq, sk, d, dv]: readonly number[],
  scale: number,
): Float64Array {
  const out = new Float64Array(sq! * dv!);
  const scores = new Float64Array(sk!);
  for (let i = 0; i < sq!; i++) {
    let m = -Infinity;
    for (let j = 0; j < sk!; j++) {
      let dot = 0;
      for (let c = 0; c < d!; c++) dot += q[i * d! + c]! * k[j * d! + c]!;
      scores[j] = dot * scale;
      m = Math.max(m, scores[j]!);
    }
    let sum = 0;
    for (let j = 0; j < sk!; j++) sum += Math.exp(scores[j]! - m);
    for (let c = 0; c < dv!; c++) {
      let acc = 0;
      for (let j = 0; j < sk!; j++) acc += Math.exp(scores[j]! - m) / sum * v[j * dv! + c]!;
      out[i * dv! + c] = acc;
    }
  }
  return out;
}

function relativeL2(a: Float64Array, want: Float64Array): number {
  let err = 0, norm = 0;
  for (let i = 0; i < a.length; i++) {
    err += (a[i]! - want[i]!) ** 2;
    norm += want[i]! ** 2;
  }
  return Math.sqrt(err / norm);
}

/** The cases: [name, Sk, query scale, key bias, value bias (on the first 8 channels)]. */
const cases: [string, number, number, number, number][] = [
  ["random normal", 1024, 1, 0, 0],
  ["random normal", 4096, 1, 0, 0],
  ["sharper softmax (q x 3)", 1024, 3, 0, 0],
  ["keys +4 and values +2 on 8 channels", 1024, 1, 4, 2],
];
const [sq, d, dv] = [64, 64, 64];
const rows: Record<string, unknown>[] = [];
for (const [name, sk, qScale, keyBias, valueBias] of cases) {
  const next = normals(7);
  const q = Float64Array.from({ length: sq * d }, () => qScale * next());
  const k = Float64Array.from({ length: sk * d }, (_, i) => next() + (i % d < 8 ? keyBias : 0));
  const v = Float64Array.from({ length: sk * dv }, (_, i) => next() + (i % dv < 8 ? valueBias : 0));
  const scale = 1 / Math.sqrt(d);
  const want = exact(q, k, v, [sq, sk, d, dv], scale);
  const shape = { batch: 1, heads: 1, seqQ: sq, seqK: sk, headDim: d, headDimV: dv, scale };
  const int8 = int8AttentionReference({ ...shape, causal: false }, q, k, v).out;
  const half = exact(q.map(bf16), k.map(bf16), v.map(bf16), [sq, sk, d, dv], scale).map(bf16);
  const row = {
    case: name,
    shape: `Sq=${sq} Sk=${sk} D=${d}`,
    int8RelL2: relativeL2(int8, want),
    bfloat16RelL2: relativeL2(half, want),
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}
await Deno.mkdir("out/bench", { recursive: true });
await Deno.writeTextFile("out/bench/attention_int8_accuracy.json", JSON.stringify(rows, null, 2));
