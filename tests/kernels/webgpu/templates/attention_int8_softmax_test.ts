/**
 * The lean softmax passes' addressing (`attention_int8_softmax.ts`): reading score `j` at a
 * constant offset from one of two per-lane bases must land on the same element as the general
 * passes' rotated index, for every lane, rotation and key count the main kernel uses. The
 * kernels built from them are checked against the int8 reference in `attention_int8_test.ts`.
 */

import { assertEquals, assertThrows } from "../../../_assert.ts";
import { leanSoftmaxPasses } from "../../../../kernels/webgpu/templates/attention_int8_softmax.ts";

const plain = { toFloat: (x: string) => `f32(${x})`, toInt: (x: string) => `i32(${x})` };

/** Evaluates `base + j` from the generated bases for a lane (`half`), with `row` as sRow/pRow. */
function addresses(keys: number, rotation: number, half: 0 | 1, row: number) {
  const { bases, passOne, passTwo } = leanSoftmaxPasses({
    keys,
    rotation,
    integerMax: true,
    ...plain,
  });
  const env: Record<string, number> = { sRow: row, pRow: row, half };
  for (const [, name, expr] of bases.matchAll(/let (\w+) = ([^;]+);/g)) {
    // Bases are sums and differences of names and `<n>u`, products of `half` and a constant.
    env[name!] = expr!.split(/\s*(?=[+-])/).reduce((sum, term) => {
      const sign = term.trim().startsWith("-") ? -1 : 1;
      const body = term.replace(/^[+-]\s*/, "").trim();
      const value = body.split(" * ").reduce(
        (p, f) => p * (f.endsWith("u") ? Number(f.slice(0, -1)) : env[f]!),
        1,
      );
      return sum + sign * value;
    }, 0);
  }
  const at = (text: string, array: string) =>
    [...text.matchAll(new RegExp(`${array}\\[(\\w+) \\+ (\\d+)u\\]`, "g"))].map((m) =>
      env[m[1]!]! + Number(m[2])
    );
  return { scores: at(passOne, "sS"), words: at(passTwo, "sP") };
}

Deno.test("lean softmax passes read the rotated half's scores and words in place", () => {
  for (
    const [keys, rotation] of [[32, 16], [32, 4], [64, 0], [32, 0]] as const
  ) {
    for (const half of [0, 1] as const) {
      const row = 1000;
      const { scores, words } = addresses(keys, rotation, half, row);
      // The general passes: score j of the lane at row + (j + half * rotation) mod keys; word w
      // at row + (w + half * rotation / 4) mod (keys / 4).
      assertEquals(
        scores,
        Array.from({ length: keys }, (_, j) => row + (j + half * rotation) % keys),
        `scores, keys ${keys}, rotation ${rotation}, half ${half}`,
      );
      assertEquals(
        words,
        Array.from({ length: keys / 4 }, (_, w) => row + (w + (half * rotation) / 4) % (keys / 4)),
        `words, keys ${keys}, rotation ${rotation}, half ${half}`,
      );
    }
  }
});

Deno.test("leanSoftmaxPasses refuses rotations it cannot address, naming them", () => {
  assertThrows(
    () => leanSoftmaxPasses({ keys: 32, rotation: 6, integerMax: false, ...plain }),
    Error,
    "keys 32 and rotation 6",
  );
  assertThrows(
    () => leanSoftmaxPasses({ keys: 32, rotation: 32, integerMax: false, ...plain }),
    Error,
    "0 <= rotation < keys",
  );
});
