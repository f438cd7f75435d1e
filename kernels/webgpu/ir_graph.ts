/**
 * Walks over kernel IR expression graphs (`ir.ts`): dependence on a variable, a topological
 * order, and substitution of a variable. Both are iterative or memoized, since fused kernels' graphs share
 * subexpressions heavily and can be deep.
 *
 * @module
 */

import type { BinaryOp, Exp, ExpBuilder, LoadArg, UnaryOp } from "./ir.ts";

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
 *
 * Nodes for which `leaf` holds are listed without their operands (unless reached otherwise).
 */
export function toposort(roots: readonly Exp[], leaf?: (e: Exp) => boolean): Exp[] {
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
    if (i < node.src.length && !(i === 0 && leaf?.(node))) {
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

/**
 * `roots` with variable `name` replaced by `value`, rebuilt through the builder (so index
 * arithmetic simplifies again); subtrees without the variable are kept as they are. `memo`
 * (original node to rebuilt node) may be passed to look rebuilt inner nodes up afterwards.
 *
 * @example
 * ```ts
 * import { ExpBuilder } from "./ir.ts";
 * import { substitute } from "./ir_graph.ts";
 * const b = new ExpBuilder();
 * const c = b.variable("c", 16), q = b.variable("q", 4);
 * const [e] = substitute(b, [b.idiv(c, 8)], "c", b.add(b.mul(q, b.idx(4)), b.idx(1)));
 * e === b.idiv(q, 2); // true: (4q + 1) / 8 = q / 2
 * ```
 */
export function substitute(
  b: ExpBuilder,
  roots: readonly Exp[],
  name: string,
  value: Exp,
  memo: Map<Exp, Exp> = new Map(),
): Exp[] {
  const uses = new Map<Exp, boolean>();
  const go = (e: Exp): Exp => {
    const known = memo.get(e);
    if (known) return known;
    let out: Exp;
    if (e.op === "var") out = e.arg === name ? value : e;
    else if (!dependsOn(e, name, uses)) out = e;
    else out = rebuild(b, e, e.src.map(go));
    memo.set(e, out);
    return out;
  };
  return roots.map(go);
}

/** `e`'s operation applied to new operands `s`. */
function rebuild(b: ExpBuilder, e: Exp, s: readonly Exp[]): Exp {
  switch (e.op) {
    case "load": {
      const arg = e.arg as LoadArg;
      return b.load(arg.slot, arg.format, s[0]!);
    }
    case "where":
      return b.where(s[0]!, s[1]!, s[2]!);
    case "cast":
      return b.cast(s[0]!, e.type);
    case "bitcast":
      return b.bitcast(s[0]!, e.type);
    case "threefry":
      return b.threefry(s[0]!, s[1]!, s[2]!, s[3]!);
    case "component":
      return b.component(s[0]!, e.arg === 1 ? 1 : 0);
    default:
      // Every other operation with one operand is unary, with two binary.
      if (s.length === 1) return b.unary(e.op as UnaryOp, s[0]!);
      return b.binary(e.op as BinaryOp, s[0]!, s[1]!);
  }
}
