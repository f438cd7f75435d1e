/**
 * Checks that source folders import only downward:
 * `kernels` <- `autograd` <- `models` <- `experiments`, and `data` uses the core (autograd and
 * kernels) but no models or experiments. Prints each offending import; exits 1 if any.
 *
 * Usage: `deno run -A scripts/check_layers.ts`
 *
 * @module
 */

/** For each layer, the layers its files may import from (itself included). */
export const allowedImports: Readonly<Record<string, readonly string[]>> = {
  kernels: ["kernels"],
  autograd: ["kernels", "autograd"],
  models: ["kernels", "autograd", "models"],
  data: ["kernels", "autograd", "data"],
  experiments: ["kernels", "autograd", "models", "data", "experiments"],
};

const importPattern =
  /(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

/** The relative import specifiers of a TypeScript source text. */
export function relativeImports(source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(importPattern)) {
    const specifier = match[1] ?? match[2];
    if (specifier?.startsWith(".")) found.push(specifier);
  }
  return found;
}

/** The violations in one file: `file: imports target (layer may import only ...)`. */
export function violations(file: string, source: string): string[] {
  const layer = file.split("/")[0]!;
  const allowed = allowedImports[layer];
  if (!allowed) return [];
  const out: string[] = [];
  for (const specifier of relativeImports(source)) {
    const target = new URL(specifier, `file:///${file}`).pathname.slice(1);
    const targetLayer = target.split("/")[0]!;
    if (targetLayer in allowedImports && !allowed.includes(targetLayer)) {
      out.push(`${file}: imports ${target} (${layer} may import only ${allowed.join(", ")})`);
    }
  }
  return out;
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile && path.endsWith(".ts")) yield path;
  }
}

if (import.meta.main) {
  const root = new URL("../", import.meta.url).pathname;
  Deno.chdir(root);
  const problems: string[] = [];
  let files = 0;
  for (const layer of Object.keys(allowedImports)) {
    try {
      await Deno.stat(layer);
    } catch {
      continue;
    }
    for await (const file of walk(layer)) {
      files++;
      problems.push(...violations(file, await Deno.readTextFile(file)));
    }
  }
  for (const problem of problems) console.error(problem);
  console.log(`layers: ${files} files checked, ${problems.length} upward imports`);
  Deno.exit(problems.length === 0 ? 0 : 1);
}
