/** Threefry-2x32 (20 rounds) against Random123's known-answer vectors. */
import { threefry2x32 } from "../../../kernels/reference/threefry.ts";
import { assertEquals } from "../../_assert.ts";

Deno.test("threefry2x32 reproduces Random123's known-answer vectors", () => {
  // Random123 kat_vectors, threefry2x32_20: key, counter -> output.
  assertEquals(threefry2x32(0, 0, 0, 0), [0x6b200159, 0x99ba4efe]);
  assertEquals(
    threefry2x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff),
    [0x1cb996fc, 0xbb002be7],
  );
  assertEquals(
    threefry2x32(0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3),
    [0xc4923a9c, 0x483df7a0],
  );
});

Deno.test("threefry2x32 returns unsigned 32-bit words and depends on every input word", () => {
  const base = threefry2x32(1, 2, 3, 4);
  for (const w of base) assertEquals(w >>> 0, w);
  const variants = [
    threefry2x32(0, 2, 3, 4),
    threefry2x32(1, 0, 3, 4),
    threefry2x32(1, 2, 0, 4),
    threefry2x32(1, 2, 3, 0),
  ];
  for (const v of variants) assertEquals(v[0] !== base[0] && v[1] !== base[1], true);
});
