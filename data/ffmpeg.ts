/**
 * Locates and runs an ffmpeg binary, always with an argument array (no shell).
 *
 * Lookup order: `$DROPLET_FFMPEG`, then `ffmpeg` on `$PATH` (a system build, usually newer),
 * then the static build shipped by the npm package `@ffmpeg-installer/ffmpeg` (installed with
 * the project's other npm packages, so a fresh machine without internet access beyond npm has
 * one).
 *
 * @module
 */

let cached: Promise<string> | null = null;

async function isExecutable(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    return info.isFile && (info.mode === null || (info.mode & 0o111) !== 0);
  } catch {
    return false;
  }
}

async function locate(): Promise<string> {
  const tried: string[] = [];
  const fromEnv = Deno.env.get("DROPLET_FFMPEG");
  if (fromEnv) {
    if (await isExecutable(fromEnv)) return fromEnv;
    throw new Error(`DROPLET_FFMPEG is set to ${fromEnv}, which is not an executable file`);
  }
  const exe = Deno.build.os === "windows" ? "ffmpeg.exe" : "ffmpeg";
  const sep = Deno.build.os === "windows" ? ";" : ":";
  for (const dir of (Deno.env.get("PATH") ?? "").split(sep)) {
    if (!dir) continue;
    const candidate = `${dir}/${exe}`;
    if (await isExecutable(candidate)) return candidate;
  }
  tried.push("$PATH");
  try {
    const mod: { default: { path: string } } = await import("@ffmpeg-installer/ffmpeg");
    const path = mod.default.path;
    if (await isExecutable(path)) return path;
    // Deno skips npm install scripts, and this package's only script is `chmod u+x ffmpeg`.
    await Deno.chmod(path, 0o755).catch(() => {});
    if (await isExecutable(path)) return path;
    tried.push(path);
  } catch (error) {
    tried.push(`@ffmpeg-installer/ffmpeg (${String(error)})`);
  }
  throw new Error(`No ffmpeg binary found; tried ${tried.join(", ")}. Set DROPLET_FFMPEG.`);
}

/**
 * The path of the ffmpeg binary in use (looked up once per process).
 *
 * @example
 * ```ts ignore
 * import { ffmpegPath } from "./ffmpeg.ts";
 * console.log(await ffmpegPath()); // e.g. /usr/bin/ffmpeg
 * ```
 */
export function ffmpegPath(): Promise<string> {
  cached ??= locate();
  return cached;
}

/** What a finished ffmpeg run returns. */
export interface FfmpegResult {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/**
 * Runs ffmpeg with `args` (an array; no shell), feeding `stdin` when given, collecting stdout
 * and stderr.
 *
 * @example
 * ```ts ignore
 * import { runFfmpeg } from "./ffmpeg.ts";
 * const { code, stderr } = await runFfmpeg(["-hide_banner", "-version"]);
 * ```
 */
export async function runFfmpeg(
  args: readonly string[],
  stdin?: Uint8Array,
): Promise<FfmpegResult> {
  const command = new Deno.Command(await ffmpegPath(), {
    args: [...args],
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  });
  const child = command.spawn();
  const output = child.output();
  if (stdin) {
    const writer = child.stdin.getWriter();
    try {
      await writer.write(stdin);
      await writer.close();
    } catch {
      // ffmpeg exited early (bad arguments); its stderr explains, below.
    }
  }
  const { code, stdout, stderr } = await output;
  return { code, stdout, stderr: new TextDecoder().decode(stderr) };
}
