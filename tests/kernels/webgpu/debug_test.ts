import { assert } from "../../_assert.ts";
import { createWebgpuBackend } from "../../../kernels/webgpu/backend.ts";
import { sharedGpu } from "../../../kernels/webgpu/device.ts";
import { skipReason } from "./_harness.ts";

Deno.test({
  name: "debug mode prints each kernel's name, launch size, WGSL and GPU time",
  ignore: skipReason !== null,
  async fn() {
    const gpu = (await sharedGpu())!;
    const lines: string[] = [];
    const backend = createWebgpuBackend(gpu, { debug: true, log: (l) => lines.push(l) })!;
    const x = backend.fromHost(new Float32Array([1, 2, 3]), { shape: [3], dtype: "float32" });
    const [y] = backend.execute("exp", {}, [x], [x.aval]);
    await backend.read(y!);
    await backend.sync();
    const text = lines.join("\n");
    assert(/\[droplet kernel\] map_exp_float32_3 compile\n[^]*@compute/.test(text), text);
    assert(text.includes("[droplet kernel] map_exp_float32_3 workgroups=[1,1,1]"), text);
    if (gpu.has("timestamp-query")) {
      for (let i = 0; i < 100 && !text.includes("[droplet time]"); i++) {
        await new Promise((r) => setTimeout(r, 10));
        if (lines.some((l) => l.startsWith("[droplet time] map_exp_float32_3"))) break;
      }
      assert(
        lines.some((l) => /^\[droplet time\] map_exp_float32_3 [\d.]+ us$/.test(l)),
        lines.join("\n"),
      );
    }
  },
});
