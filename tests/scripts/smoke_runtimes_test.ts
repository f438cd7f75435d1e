import { assert } from "../_assert.ts";
import { smoke } from "../../scripts/smoke_runtimes.ts";
import { sharedGpu } from "../../kernels/webgpu/device.ts";

const ignore = (await sharedGpu()) === null;

for (const runtime of ["deno", "bun", "node"] as const) {
  Deno.test({
    name: `the GPU smoke computation runs and checks out under ${runtime}`,
    ignore,
    async fn() {
      const result = await smoke(runtime);
      assert(result.ok, `${runtime} smoke run failed:\n${result.output}`);
    },
  });
}
