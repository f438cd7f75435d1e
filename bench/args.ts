/**
 * Command-line options of `deno task bench`.
 *
 * ```
 * deno task bench                          # every row, sizes for the adapter found
 * deno task bench -- --only matmul,attention
 * deno task bench -- --full                # the real sizes, even on a software adapter
 * deno task bench -- --poll sleep          # dawn.node polls with 200 us sleeps (see dawn.ts)
 * deno task bench -- --libraries jax-js,tfjs --no-check --out out/bench
 * ```
 *
 * @module
 */

import type { PollPolicy } from "./dawn.ts";
import type { LibraryName } from "./libraries/library.ts";
import { type BenchGroup, benchGroups } from "./workloads.ts";

/** Parsed options. */
export interface BenchOptions {
  /** Groups to run (all when `--only` is absent). */
  readonly only: readonly BenchGroup[];
  /** Use the real sizes even on a software adapter. */
  readonly full: boolean;
  readonly poll: PollPolicy;
  /** Compare every library's outputs on a small size before timing (on by default). */
  readonly check: boolean;
  /** Run only that comparison, no timing. */
  readonly checkOnly: boolean;
  readonly libraries: readonly LibraryName[];
  /** Directory for the JSON results. */
  readonly out: string;
}

const libraryNames: readonly LibraryName[] = ["droplet", "jax-js", "tfjs"];
const pollPolicies: readonly PollPolicy[] = ["immediate", "sleep"];

/** The usage text printed for `--help` and after a bad option. */
export const usage = `Usage: deno task bench -- [options]
  --only GROUPS       comma-separated groups: ${benchGroups.join(", ")}
  --full              real-GPU sizes (default on a hardware adapter)
  --poll POLICY       dawn.node polling: immediate (as shipped, default) or sleep (200 us sleeps)
  --libraries NAMES   comma-separated: ${libraryNames.join(", ")} (default all)
  --no-check          skip the cross-library output check
  --check-only        run only the output check (small sizes, no timing)
  --out DIR           JSON output directory (default out/bench)`;

function listOf<T extends string>(value: string, allowed: readonly T[], flag: string): T[] {
  const items = value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  const bad = items.filter((s) => !(allowed as readonly string[]).includes(s));
  if (bad.length > 0 || items.length === 0) {
    throw new Error(
      `${flag} got ${bad.length > 0 ? `unknown ${bad.join(", ")}` : "nothing"}; expected some of ${
        allowed.join(", ")
      }`,
    );
  }
  return items as T[];
}

/**
 * Parses the options (throws with the offending flag on a bad one).
 *
 * @example
 * ```ts
 * import { parseArgs } from "./args.ts";
 * parseArgs(["--", "--only", "matmul,attention"]).only; // ["matmul", "attention"]
 * ```
 */
export function parseArgs(args: readonly string[]): BenchOptions {
  let only: BenchGroup[] = [...benchGroups];
  let full = false;
  let poll: PollPolicy = "immediate";
  let check = true;
  let checkOnly = false;
  let libraries: LibraryName[] = [...libraryNames];
  let out = "out/bench";
  const rest = [...args];
  const value = (flag: string): string => {
    const v = rest.shift();
    if (v === undefined || v.startsWith("--")) throw new Error(`${flag} needs a value`);
    return v;
  };
  while (rest.length > 0) {
    const arg = rest.shift()!;
    const [flag, inline] = arg.includes("=") ? arg.split("=", 2) as [string, string] : [arg, null];
    const next = () => inline ?? value(flag);
    switch (flag) {
      case "--": // `deno task bench -- ...` may pass the separator through.
        break;
      case "--only":
        only = listOf(next(), benchGroups, "--only");
        break;
      case "--full":
        full = true;
        break;
      case "--poll":
        poll = listOf(next(), pollPolicies, "--poll")[0]!;
        break;
      case "--no-check":
        check = false;
        break;
      case "--check-only":
        checkOnly = true;
        break;
      case "--libraries":
        libraries = listOf(next(), libraryNames, "--libraries");
        break;
      case "--out":
        out = next();
        break;
      default:
        throw new Error(`Unknown option ${arg}\n${usage}`);
    }
  }
  if (checkOnly && !check) throw new Error("--check-only and --no-check contradict each other");
  return { only, full, poll, check, checkOnly, libraries, out };
}

/**
 * The value after `--name` in the command line, or `fallback` (the GPU sweep scripts' options).
 *
 * @example
 * ```ts
 * import { flag } from "./args.ts";
 * flag("reps", "5", ["--reps", "9"]); // "9"
 * ```
 */
export function flag(name: string, fallback: string, args: readonly string[] = Deno.args): string {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback;
}
