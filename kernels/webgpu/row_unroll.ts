/**
 * Unrolling the whole-row loops of a row kernel for CPU adapters (lavapipe). Each loop over
 * `[0, E)` (E a multiple of 4) becomes a loop over `q` in `[0, E / 4)` whose body is the
 * original body at `4q + u` for u = 0..3, rebuilt through the expression builder so that index
 * math shared by the four copies folds to one expression (`(4q + u) / 9216` is `q / 2304`).
 * Every float32 load at `base + 4q + u` with `base` a multiple of 4 is then a component of one
 * aligned `vec4<f32>` load: on lavapipe each storage access is a bounds-checked gather over the
 * SIMD lanes, so a quarter of the accesses is most of the speed-up of a memory-bound row.
 *
 * @module
 */

import {
  dependsOn,
  type Exp,
  type ExpBuilder,
  isMultipleOf,
  linearIn,
  type LoadArg,
  substitute,
  toposort,
} from "./ir.ts";

/**
 * Iterations an unrolled row loop folds into one (one `vec4<f32>` per aligned load).
 *
 * @example
 * ```ts
 * import { unrollFactor } from "./row_unroll.ts";
 * unrollFactor; // 4
 * ```
 */
export const unrollFactor = 4;

/**
 * A row loop unrolled by {@link unrollFactor}.
 *
 * @example
 * ```ts ignore
 * const loop: UnrolledLoop = unrollLoop(b, [body], "r0", b.idx(0), b.idx(3072))!;
 * loop.q; // "r0v", over [0, 768)
 * ```
 */
export interface UnrolledLoop {
  /** The original loop variable. */
  readonly v: string;
  /** The new loop variable: the index of the `vec4` group, in `[0, count)`. */
  readonly q: string;
  readonly count: number;
  /** The loop's roots at `4q + u`, by u. */
  readonly copies: readonly (readonly Exp[])[];
  /** Original node to its copy at `4q + u`, by u (to find inner nodes' copies). */
  readonly memos: readonly Map<Exp, Exp>[];
  /** Aligned float32 loads of the copies: input slot, `vec4` index and component. */
  readonly vectorLoads: ReadonlyMap<Exp, { slot: number; index: Exp; u: number }>;
}

/**
 * Unrolls the loop of variable `v` over `[start, end)` computing `roots`, or null when the
 * bounds are not `[0, E)` with E a positive multiple of {@link unrollFactor}.
 *
 * @example
 * ```ts ignore
 * const loop = unrollLoop(b, [stage.body], "r1", stage.start, stage.end);
 * loop?.copies.length; // 4
 * ```
 */
export function unrollLoop(
  b: ExpBuilder,
  roots: readonly Exp[],
  v: string,
  start: Exp,
  end: Exp,
): UnrolledLoop | null {
  if (!start.is(0) || end.op !== "const" || end.value <= 0 || end.value % unrollFactor !== 0) {
    return null;
  }
  const count = end.value / unrollFactor;
  const q = `${v}v`;
  const qVar = b.variable(q, count);
  const copies: Exp[][] = [];
  const memos: Map<Exp, Exp>[] = [];
  const vectorLoads = new Map<Exp, { slot: number; index: Exp; u: number }>();
  for (let u = 0; u < unrollFactor; u++) {
    const memo = new Map<Exp, Exp>();
    const at = b.add(b.mul(qVar, b.idx(unrollFactor)), b.idx(u));
    const copy = substitute(b, roots, v, at, memo);
    copies.push(copy);
    memos.push(memo);
    const uses = new Map<Exp, boolean>();
    for (const n of toposort(copy)) {
      if (n.op !== "load" || (n.arg as LoadArg).format !== "f32") continue;
      const lin = linearIn(b, n.src[0]!, qVar);
      if (!lin || lin.coef !== unrollFactor) continue;
      const base = b.sub(lin.rest, b.idx(u));
      // A base that still depends on q (inside a division, say) is not a fixed offset.
      if (!isMultipleOf(base, unrollFactor) || dependsOn(base, q, uses)) continue;
      const index = b.add(b.idiv(base, unrollFactor), qVar);
      vectorLoads.set(n, { slot: (n.arg as LoadArg).slot, index, u });
    }
  }
  return { v, q, count, copies, memos, vectorLoads };
}

/**
 * True when `a` (an expression of loop variable `from`) is `b` with `from` renamed `to`.
 * Operands of `add` and `mul` may come in either order (the builder orders them by node id).
 */
function sameUnder(a: Exp, b: Exp, from: string, to: string, memo: Map<string, boolean>): boolean {
  if (a === b) return true;
  const key = `${a.id},${b.id}`;
  const known = memo.get(key);
  if (known !== undefined) return known;
  let same = a.op === b.op && a.type === b.type && a.src.length === b.src.length;
  if (same) {
    if (a.op === "var") same = a.arg === from ? b.arg === to : a.arg === b.arg;
    else if (a.op === "load") {
      const [x, y] = [a.arg as LoadArg, b.arg as LoadArg];
      same = x.slot === y.slot && x.format === y.format;
    } else same = a.arg === b.arg;
  }
  if (same) {
    const pairwise = (order: readonly number[]) =>
      a.src.every((x, i) => sameUnder(x, b.src[order[i]!]!, from, to, memo));
    same = pairwise([0, 1, 2, 3].slice(0, a.src.length)) ||
      ((a.op === "add" || a.op === "mul") && a.src.length === 2 && pairwise([1, 0]));
  }
  memo.set(key, same);
  return same;
}

/**
 * The node of `values` (expressions of loop variable `to`) that is `body` (an expression of
 * `from`) at the same position, as softmax's `exp(x - max)` under the division by its sum;
 * null when there is none or `body` is a plain load (re-reading it costs as much).
 *
 * @example
 * ```ts ignore
 * reusedBody(stage.body, stage.loopVar, cols.values, "col"); // the exp node of the output
 * ```
 */
export function reusedBody(
  body: Exp,
  from: string,
  values: readonly Exp[],
  to: string,
): Exp | null {
  if (body.op === "load" || body.op === "const" || body.op === "var" || body.op === "ref") {
    return null;
  }
  const memo = new Map<string, boolean>();
  for (const n of toposort(values)) {
    if (n.op === body.op && sameUnder(body, n, from, to, memo)) return n;
  }
  return null;
}
