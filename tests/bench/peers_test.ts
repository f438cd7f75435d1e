/**
 * jax-js and TF.js run on Dawn and compute what Droplet's reference interpreter computes, checked
 * through the harness itself (`--check-only`, small sizes) in a child process, so the Dawn shim
 * (`navigator.gpu`, WebGPU globals, `setImmediate`) never leaks into the test process.
 */
import { assert } from "../_assert.ts";
import { sharedGpu } from "../../mod.ts";

const gpu = await sharedGpu();

Deno.test({
  name:
    "bench --check-only: jax-js and TF.js agree with Droplet's reference on matmul and attention",
  ignore: gpu === null,
  async fn() {
    const main = new URL("../../bench/main.ts", import.meta.url);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main.href, "--check-only", "--only", "matmul,attention"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const err = new TextDecoder().decode(out.stderr);
    assert(out.success, `bench --check-only failed:\n${text}\n${err}`);
    for (const library of ["jax-js", "tfjs"]) {
      const lines = text.split("\n").filter((l) => l.includes(`| ${library} |`));
      assert(lines.length >= 3, `no check lines for ${library}:\n${text}\n${err}`);
      assert(lines.every((l) => l.includes("| agrees |")), `${library} did not agree:\n${text}`);
    }
  },
});

if (gpu === null) {
  console.warn("bench peers test skipped: no WebGPU adapter (run `deno task setup`)");
}
