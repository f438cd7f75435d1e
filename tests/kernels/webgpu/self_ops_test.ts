/**
 * `x - x` and `x / x` of one array: shader compilers may fold them to 0 and 1 (WGSL leaves NaN
 * and infinity unspecified), so the IR spells out their IEEE values. Found by the random
 * programs test (a float16 sum that overflowed, minus itself, read 0 instead of NaN).
 */
import { assert } from "../../_assert.ts";
import { device, np } from "../../../mod.ts";
import { skipReason } from "./_harness.ts";

const ignore = skipReason !== null;

Deno.test({
  name: "webgpu x - x and x / x give NaN for infinite and NaN x (and 0 / 0), as IEEE says",
  ignore,
  async fn() {
    device.use("webgpu");
    try {
      const values = [Infinity, -Infinity, NaN, 0, 2.5, -3];
      for (const dtype of ["float32", "float16"] as const) {
        const x = np.array(values, { dtype });
        const diff = await np.subtract(x, x).data();
        const ratio = await np.divide(x, x).data();
        // Through a reduction too: the case the random programs found.
        const s = np.sum(np.array([60000, 30000], { dtype }), 0);
        const sdiff = await np.subtract(s, s).data();
        values.forEach((v, i) => {
          const wantDiff = Number.isFinite(v) ? 0 : NaN;
          const wantRatio = Number.isFinite(v) && v !== 0 ? 1 : NaN;
          assert(Object.is(diff[i], wantDiff), `${dtype} ${v} - ${v}: got ${diff[i]}`);
          assert(Object.is(ratio[i], wantRatio), `${dtype} ${v} / ${v}: got ${ratio[i]}`);
        });
        const wantS = dtype === "float16" ? NaN : 0; // 90000 overflows float16 to inf
        assert(Object.is(sdiff[0], wantS), `${dtype} sum - sum: got ${sdiff[0]}, want ${wantS}`);
      }
    } finally {
      device.use("reference");
    }
  },
});
