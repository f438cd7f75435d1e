/**
 * Makes WebGPU usable on this machine: if Dawn finds no adapter, installs Mesa's software Vulkan
 * driver (lavapipe) from Debian's bookworm-backports suite, then checks that Dawn sees it.
 *
 * Why backports: Debian 12's own lavapipe (Mesa 22.3) lacks
 * `shaderUniformBufferArrayDynamicIndexing` and friends, and Dawn rejects it; Mesa 25 from
 * bookworm-backports works, with shader-f16 and subgroups.
 *
 * It never installs anything when an adapter is already present, so a second run is a no-op.
 * When it cannot install (not root, no apt-get), it exits non-zero saying what to install.
 *
 * Usage: `deno run -A scripts/setup_gpu.ts [--quiet]`
 *
 * @module
 */

const lavapipeIcd = "/usr/share/vulkan/icd.d/lvp_icd.json";
const quiet = Deno.args.includes("--quiet");

function log(message: string): void {
  if (!quiet) console.error(`[setup] ${message}`);
}

/** Runs the adapter probe in a child process (the Vulkan loader reads its ICD list once). */
async function probe(env: Record<string, string> = {}): Promise<string | null> {
  const probeScript = new URL("./probe_gpu.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", probeScript.href],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  return out.success && text.length > 0 ? text : null;
}

async function run(cmd: string, args: string[]): Promise<void> {
  log(`$ ${cmd} ${args.join(" ")}`);
  const { success, code } = await new Deno.Command(cmd, {
    args,
    stdout: quiet ? "null" : "inherit",
    stderr: "inherit",
    env: { DEBIAN_FRONTEND: "noninteractive" },
  }).output();
  if (!success) throw new Error(`${cmd} ${args.join(" ")} exited with code ${code}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function readOr(path: string, fallback: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return fallback;
  }
}

/**
 * Derives a bookworm-backports source entry from the machine's own Debian source, so that the
 * same mirror (and signing key) is used. Handles deb822 `.sources` files and one-line lists.
 */
export function backportsEntry(
  debSources: string,
  oneLineList: string,
): { file: string; text: string } | null {
  for (const stanza of debSources.split(/\n\s*\n/)) {
    const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
    if (!suites.includes("bookworm")) continue;
    const text = stanza.replace(/^Suites:.*$/m, "Suites: bookworm-backports").trim() + "\n";
    return { file: "/etc/apt/sources.list.d/droplet-backports.sources", text };
  }
  for (const line of oneLineList.split("\n")) {
    const match = /^deb\s+(\[[^\]]*\]\s+)?(\S+)\s+bookworm\s+(.*)$/.exec(line.trim());
    if (!match) continue;
    const text = `deb ${match[1] ?? ""}${match[2]} bookworm-backports main\n`;
    return { file: "/etc/apt/sources.list.d/droplet-backports.list", text };
  }
  return null;
}

async function installLavapipe(): Promise<void> {
  const instructions =
    "Install Mesa's software Vulkan driver from bookworm-backports as root: add a source entry " +
    "for the suite bookworm-backports (copy your Debian entry and change its suite), then run " +
    "`apt-get update && apt-get install -t bookworm-backports mesa-vulkan-drivers`; or run on a " +
    "machine with a GPU and a Vulkan driver.";
  const osRelease = await readOr("/etc/os-release", "");
  if (!/VERSION_CODENAME=bookworm/.test(osRelease)) {
    throw new Error(`No WebGPU adapter, and this is not Debian 12 (bookworm). ${instructions}`);
  }
  if (Deno.uid() !== 0) {
    throw new Error(
      `No WebGPU adapter, and installing needs root (uid ${Deno.uid()}). ${instructions}`,
    );
  }
  if (!(await exists("/usr/bin/apt-get"))) {
    throw new Error(`No WebGPU adapter, and apt-get is missing. ${instructions}`);
  }
  const entry = backportsEntry(
    await readOr("/etc/apt/sources.list.d/debian.sources", ""),
    await readOr("/etc/apt/sources.list", ""),
  );
  if (!entry) {
    throw new Error(`No Debian bookworm source entry found to derive from. ${instructions}`);
  }
  if (!(await exists(entry.file))) {
    log(`adding ${entry.file}`);
    await Deno.writeTextFile(entry.file, entry.text);
  }
  await run("apt-get", ["update", "-qq"]);
  await run("apt-get", ["install", "-y", "-qq", "-t", "bookworm-backports", "mesa-vulkan-drivers"]);
}

async function main(): Promise<void> {
  const present = await probe();
  if (present) {
    log(`adapter: ${present}`);
    return;
  }
  log("no WebGPU adapter found; installing Mesa's lavapipe from bookworm-backports");
  await installLavapipe();
  const after = await probe({ VK_ICD_FILENAMES: lavapipeIcd });
  if (!after) {
    throw new Error(
      `Installed mesa-vulkan-drivers, but Dawn still finds no adapter through ${lavapipeIcd}.`,
    );
  }
  log(`adapter: ${after}`);
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(`[setup] ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(1);
  }
}
