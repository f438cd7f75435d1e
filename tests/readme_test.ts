import { assert } from "./_assert.ts";

/** Runs the README's core example (its first `ts` block) on the reference device. */
Deno.test("the README's core example runs and trains", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert(block, "README has no ts example");
  const dir = new URL("../out/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  const file = new URL("readme_example.ts", dir);
  await Deno.writeTextFile(file, block.replaceAll('"./mod.ts"', '"../mod.ts"'));
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", file.pathname],
    env: { DROPLET_DEVICE: "reference", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert(out.success, `README example failed:\n${text}`);
  const [, before, after] = /loss ([\d.e-]+) -> ([\d.e-]+)/.exec(text) ?? [];
  assert(Number(after) < Number(before) / 10, `README example's loss did not drop 10x:\n${text}`);
});
