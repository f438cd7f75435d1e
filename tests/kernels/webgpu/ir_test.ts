import fc from "fast-check";
import { assert, assertEquals } from "../../_assert.ts";
import {
  type Exp,
  ExpBuilder,
  isMultipleOf,
  linearIn,
  substitute,
  toposort,
} from "../../../kernels/webgpu/ir.ts";
import { ravel, unravel } from "../../../kernels/webgpu/lower.ts";

/** Evaluates an `idx`/bool expression with the given variable values (WGSL semantics). */
function evaluate(e: Exp, env: Record<string, number>): number {
  const s = e.src.map((x) => evaluate(x, env));
  const [a = 0, b = 0, c = 0] = s;
  switch (e.op) {
    case "const":
      return e.value;
    case "var":
      return env[e.arg as string]!;
    case "add":
      return a + b;
    case "sub":
      return a - b;
    case "mul":
      return a * b;
    case "div":
      return Math.trunc(a / b);
    case "rem":
      return a % b;
    case "max":
      return Math.max(a, b);
    case "min":
      return Math.min(a, b);
    case "lt":
      return a < b ? 1 : 0;
    case "le":
      return a <= b ? 1 : 0;
    case "ge":
      return a >= b ? 1 : 0;
    case "gt":
      return a > b ? 1 : 0;
    case "eq":
      return a === b ? 1 : 0;
    case "and":
      return a & b;
    case "where":
      return a ? b : c;
    default:
      throw new Error(`cannot evaluate ${e.op}`);
  }
}

Deno.test("ExpBuilder folds unravel-then-ravel back to the flat index", () => {
  const b = new ExpBuilder();
  const g = b.variable("g", 2 * 3 * 4 * 5);
  const shape = [2, 3, 4, 5];
  assert(ravel(b, unravel(b, g, shape), shape) === g, "ravel(unravel(g)) should be g");
  // Through a reshape [2,3,4,5] -> [6, 20]: the flat index is still g.
  const reshaped = unravel(b, ravel(b, unravel(b, g, shape), shape), [6, 20]);
  assert(ravel(b, reshaped, [6, 20]) === g);
});

Deno.test("ExpBuilder hash-conses equal expressions into one node", () => {
  const b = new ExpBuilder();
  const x = b.variable("x", 10);
  const e1 = b.add(b.mul(x, b.idx(3)), b.idx(1));
  const e2 = b.add(b.idx(1), b.mul(b.idx(3), x));
  assert(e1 === e2);
  assertEquals(toposort([e1]).length, toposort([e2]).length);
});

Deno.test("ExpBuilder simplifies a row-split index so group reductions see only the row", () => {
  // groupNorm: out [2, 8, 4, 4] split as rows of 32; the reduction over [2, 4, 32] axis 2 must
  // be indexed by the row alone.
  const b = new ExpBuilder();
  const row = b.variable("row", 8), col = b.variable("col", 32);
  const idx = unravel(b, b.add(b.mul(row, b.idx(32)), col), [2, 8, 4, 4]);
  const grouped = unravel(b, ravel(b, idx, [2, 8, 4, 4]), [2, 4, 32]);
  assertEquals(grouped[2], col);
  for (const e of grouped.slice(0, 2)) {
    assert(toposort([e]).every((n) => n !== col), "reduced index depends on the column");
  }
});

Deno.test("linearIn extracts strides of a transposed, broadcast view", () => {
  const b = new ExpBuilder();
  const i = b.variable("i", 7), k = b.variable("k", 9), bt = b.variable("bt", 3);
  const flat = b.add(b.add(b.mul(k, b.idx(7)), i), b.mul(bt, b.idx(0)));
  const byI = linearIn(b, flat, i)!;
  assertEquals(byI.coef, 1);
  assertEquals(linearIn(b, byI.rest, k)!.coef, 7);
  assertEquals(linearIn(b, b.idiv(b.add(i, k), 2), i), null);
});

Deno.test("ExpBuilder index simplification preserves values (fast-check)", () => {
  type Tree =
    | { op: "var"; v: 0 | 1 | 2 }
    | { op: "const"; c: number }
    | { op: "add" | "mul"; a: Tree; b: Tree }
    | { op: "div" | "mod"; a: Tree; d: number };
  const tree: fc.Arbitrary<Tree> = fc.letrec<{ t: Tree }>((tie) => ({
    t: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.record({
        op: fc.constant("var" as const),
        v: fc.constantFrom(0 as const, 1 as const, 2 as const),
      }),
      fc.record({ op: fc.constant("const" as const), c: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ op: fc.constantFrom("add" as const, "mul" as const), a: tie("t"), b: tie("t") }),
      fc.record({
        op: fc.constantFrom("div" as const, "mod" as const),
        a: tie("t"),
        d: fc.integer({ min: 1, max: 24 }),
      }),
    ),
  })).t;
  const sizes = [7, 12, 30];
  fc.assert(
    fc.property(tree, fc.array(fc.nat(), { minLength: 3, maxLength: 3 }), (t, values) => {
      const b = new ExpBuilder();
      const vars = sizes.map((n, i) => b.variable(`v${i}`, n));
      const env: Record<string, number> = {};
      sizes.forEach((n, i) => (env[`v${i}`] = values[i]! % n));
      const build = (x: Tree): Exp => {
        switch (x.op) {
          case "var":
            return vars[x.v]!;
          case "const":
            return b.idx(x.c);
          case "add":
            return b.add(build(x.a), build(x.b));
          case "mul":
            return b.mul(build(x.a), build(x.b));
          case "div":
            return b.idiv(build(x.a), x.d);
          case "mod":
            return b.mod(build(x.a), x.d);
        }
      };
      const direct = (x: Tree): number => {
        switch (x.op) {
          case "var":
            return env[`v${x.v}`]!;
          case "const":
            return x.c;
          case "add":
            return direct(x.a) + direct(x.b);
          case "mul":
            return direct(x.a) * direct(x.b);
          case "div":
            return Math.trunc(direct(x.a) / x.d);
          case "mod":
            return direct(x.a) % x.d;
        }
      };
      const e = build(t);
      const want = direct(t);
      if (Math.abs(want) > 2 ** 30) return;
      assertEquals(evaluate(e, env), want);
      assert(e.min <= want && want <= e.max, `range [${e.min}, ${e.max}] misses ${want}`);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("substitute: 4q + u for c keeps every value and folds the shared division", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 0, max: 3 }),
      (k, d, u) => {
        const b = new ExpBuilder();
        const count = 4 * k * d;
        const c = b.variable("c", count), q = b.variable("q", count / 4);
        const row = b.variable("row", 3);
        // A group-norm style index: a channel from the column, plus a row offset.
        const e = b.add(b.mul(row, b.idx(7)), b.idiv(b.add(c, b.mul(row, b.idx(count))), 4 * d));
        const [s] = substitute(b, [e], "c", b.add(b.mul(q, b.idx(4)), b.idx(u)));
        for (let qv = 0; qv < count / 4; qv++) {
          for (let r = 0; r < 3; r++) {
            const want = evaluate(e, { c: 4 * qv + u, row: r });
            assertEquals(evaluate(s!, { q: qv, row: r }), want);
          }
        }
        // The four copies share one expression: u < 4 divides out.
        const [s0] = substitute(b, [e], "c", b.mul(q, b.idx(4)));
        assert(s === s0, `copy ${u} differs from copy 0`);
      },
    ),
    { seed: 1234, numRuns: 40 },
  );
});

Deno.test("isMultipleOf holds exactly for linear forms with multiple coefficients", () => {
  const b = new ExpBuilder();
  const row = b.variable("row", 10), col = b.variable("col", 10);
  assert(isMultipleOf(b.add(b.mul(row, b.idx(3072)), b.idx(8)), 4));
  assert(!isMultipleOf(b.add(b.mul(row, b.idx(3072)), b.idx(1)), 4));
  assert(!isMultipleOf(b.add(b.mul(row, b.idx(258)), col), 4));
  assert(!isMultipleOf(b.idiv(row, 2), 4));
});
