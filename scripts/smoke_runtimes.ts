/**
 * Runs `scripts/gpu_smoke.ts` (one small GPU computation) under Deno, Bun and Node and reports
 * each. Bun comes through `npx -y bun@1.4` and uses the `bun-webgpu` binding; Node 20 cannot run
 * TypeScript, so the script is bundled to JavaScript with `deno bundle` first.
 *
 * Usage: `deno run -A scripts/smoke_runtimes.ts [deno|bun|node ...]`; exits 1 if any run fails.
 *
 * @module
 */

/** What one runtime's run of the smoke script printed. */
export interface SmokeResult {
  runtime: string;
  ok: boolean;
  output: string;
}

const root = new URL("../", import.meta.url);
const smokeScript = new URL("scripts/gpu_smoke.ts", root).pathname;

async function capture(cmd: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      cwd: root.pathname,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { ok: out.success, output: text.trim() };
  } catch (error) {
    return { ok: false, output: `could not start ${cmd}: ${String(error)}` };
  }
}

/** Runs the smoke computation under one runtime. */
export async function smoke(runtime: "deno" | "bun" | "node"): Promise<SmokeResult> {
  let result: { ok: boolean; output: string };
  if (runtime === "deno") {
    result = await capture(Deno.execPath(), ["run", "-A", smokeScript]);
  } else if (runtime === "bun") {
    result = await capture("npx", ["-y", "bun@1.4", "run", smokeScript]);
  } else {
    const bundle = new URL("out/gpu_smoke.mjs", root).pathname;
    const bundled = await capture(Deno.execPath(), [
      "bundle",
      "--quiet",
      "--packages",
      "external",
      "--external",
      "webgpu",
      "-o",
      bundle,
      smokeScript,
    ]);
    result = bundled.ok ? await capture("node", [bundle]) : bundled;
  }
  const ok = result.ok && result.output.includes(`smoke ok ${runtime}`);
  return { runtime, ok, output: result.output };
}

if (import.meta.main) {
  const runtimes = (Deno.args.length > 0 ? Deno.args : ["deno", "bun", "node"]) as (
    | "deno"
    | "bun"
    | "node"
  )[];
  let failed = 0;
  for (const runtime of runtimes) {
    const { ok, output } = await smoke(runtime);
    const line = output.split("\n").find((l) => l.startsWith("smoke")) ?? output;
    console.log(`${ok ? "PASS" : "FAIL"} ${runtime}: ${ok ? line : output}`);
    if (!ok) failed++;
  }
  Deno.exit(failed === 0 ? 0 : 1);
}
