/**
 * Walks over kernel IR expression graphs (`ir.ts`): dependence on a variable and a
 * topological order. Both are iterative or memoized, since fused kernels' graphs share
 * subexpressions heavily and can be deep.
 *
 * @module
 */

import type { Exp } from "./ir.ts";

/**
 * Whether `e` depends on the variable or ref named `name` (memoized per call via `memo`).
 *
 * @example
 * ```ts
 * import { ExpBuilder } from "./ir.ts";
 * import { dependsOn } from "./ir_graph.ts";
 * const b = new ExpBuilder();
 * dependsOn(b.add(b.variable("r", 4), b.idx(1)), "r"); // true
 * ```
 */
export function dependsOn(e: Exp, name: string, memo = new Map<Exp, boolean>()): boolean {
  const known = memo.get(e);
  if (known !== undefined) return known;
  let result = (e.op === "var" || e.op === "ref") && e.arg === name;
  if (!result) { for (const s of e.src) if (dependsOn(s, name, memo)) result = true; }
  memo.set(e, result);
  return result;
}

/**
 * Every node reachable from `roots`, each after its sources (a topological order).
 *
 * @example
 * ```ts
 * import { ExpBuilder } from "./ir.ts";
 * import { toposort } from "./ir_graph.ts";
 * const b = new ExpBuilder();
 * toposort([b.add(b.variable("i", 4), b.idx(1))]).length; // 3
 * ```
 */
export function toposort(roots: readonly Exp[]): Exp[] {
  const out: Exp[] = [];
  const seen = new Set<Exp>();
  const stack: [Exp, number][] = roots.map((r) => [r, 0]);
  stack.reverse();
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [node, i] = top;
    if (seen.has(node)) {
      stack.pop();
      continue;
    }
    if (i < node.src.length) {
      top[1] = i + 1;
      const child = node.src[i]!;
      if (!seen.has(child)) stack.push([child, 0]);
    } else {
      stack.pop();
      seen.add(node);
      out.push(node);
    }
  }
  return out;
}
