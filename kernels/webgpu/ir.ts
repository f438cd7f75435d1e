/**
 * The kernel IR: an immutable, hash-consed graph of scalar expressions (like tinygrad's UOp or
 * jax-js's AluExp). Every WGSL kernel we generate is a handful of such expressions (what each
 * output element is) plus a fixed skeleton (which thread computes which element).
 *
 * Registers hold four value types (`f32`, `i32`, `u32`, `bool`) plus `idx`, the index type: an
 * `i32` on the GPU, but one that never overflows, so the builder may simplify it algebraically
 * (`(g / 4) * 4 + g % 4` becomes `g`). That simplification, driven by the value ranges every
 * `idx` node carries, is what turns movement primitives (reshape, transpose, broadcast, slice,
 * pad, flip, concatenate) into cheap index math instead of copies.
 *
 * Half-precision values live in `f32` registers; the lowering inserts `round_f16`/`round_bf16`
 * after each operation so results match the reference interpreter's per-primitive rounding.
 *
 * @module
 */
import { dependsOn } from "./ir_graph.ts";

export { dependsOn, substitute, toposort } from "./ir_graph.ts";

/** The type of a register value (`idx` is an `i32` index that may be simplified algebraically). */
export type ExpType = "f32" | "i32" | "u32" | "bool" | "idx" | "u32x2";

/** How an array's elements are laid out in a storage buffer. */
export type StorageFormat =
  | "f32"
  | "i32"
  | "u32"
  /** bool, one u32 (0 or 1) per element. */
  | "bool32"
  /** float16 as `array<f16>` (needs `shader-f16`). */
  | "f16"
  /** float16, two per u32 (element 2i in the low half). */
  | "f16x2"
  /** bfloat16, two per u32 (element 2i in the low half). */
  | "bf16x2";

/** Unary operations. */
export type UnaryOp =
  | "neg"
  | "recip"
  | "exp"
  | "log"
  | "sqrt"
  | "rsqrt"
  | "sin"
  | "cos"
  | "tanh"
  | "logistic"
  | "erf"
  | "abs"
  | "sign"
  | "floor"
  | "ceil"
  | "round"
  | "not"
  | "isnan"
  | "round_f16"
  | "round_bf16"
  | "f16_bits"
  | "bf16_bits"
  | "f16_from_bits"
  | "bf16_from_bits";

/** Binary operations (operands of one type; comparisons give bool). */
export type BinaryOp =
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "rem"
  | "pow"
  | "max"
  | "min"
  | "atan2"
  | "eq"
  | "ne"
  | "lt"
  | "le"
  | "gt"
  | "ge"
  | "and"
  | "or"
  | "xor"
  | "shl"
  | "shr";

/** Every operation of the IR. */
export type ExpOp =
  | "const"
  | "var"
  | "ref"
  | "load"
  | UnaryOp
  | BinaryOp
  | "where"
  | "cast"
  | "bitcast"
  | "threefry"
  | "component";

/** Argument of a `load`: which kernel input, and its storage layout. */
export interface LoadArg {
  readonly slot: number;
  readonly format: StorageFormat;
}

/**
 * An expression node. Build with {@link ExpBuilder}; equal structure means the same object.
 *
 * @example
 * ```ts
 * import { ExpBuilder } from "./ir.ts";
 * const e = new ExpBuilder().idx(3);
 * e.op; // "const"
 * ```
 */
export class Exp {
  constructor(
    readonly id: number,
    readonly op: ExpOp,
    readonly type: ExpType,
    readonly src: readonly Exp[],
    /** `const`: the value; `var`/`ref`: the name; `load`: {@link LoadArg}; `component`: 0/1. */
    readonly arg: number | string | LoadArg | null,
    /** Smallest value (exact for `idx` and integer constants; -Infinity when unknown). */
    readonly min: number,
    /** Largest value (+Infinity when unknown). */
    readonly max: number,
  ) {}

  /** The constant's value; throws for other nodes. */
  get value(): number {
    if (this.op !== "const") throw new Error(`Internal: ${this.op} is not a constant`);
    return this.arg as number;
  }

  /** True for a constant equal to `v`. */
  is(v: number): boolean {
    return this.op === "const" && this.arg === v;
  }
}

const unaryOps = new Set<string>([
  "neg",
  "recip",
  "exp",
  "log",
  "sqrt",
  "rsqrt",
  "sin",
  "cos",
  "tanh",
  "logistic",
  "erf",
  "abs",
  "sign",
  "floor",
  "ceil",
  "round",
  "not",
  "isnan",
  "round_f16",
  "round_bf16",
  "f16_bits",
  "bf16_bits",
  "f16_from_bits",
  "bf16_from_bits",
]);

/**
 * True for unary operations.
 *
 * @example
 * ```ts
 * import { isUnaryOp } from "./ir.ts";
 * isUnaryOp("exp"); // true
 * ```
 */
export function isUnaryOp(op: ExpOp): op is UnaryOp {
  return unaryOps.has(op);
}

const comparisonOps = new Set<string>(["eq", "ne", "lt", "le", "gt", "ge"]);

/** A linear form `sum(coef * term) + k` over `idx` terms. */
interface Linear {
  readonly terms: Map<Exp, number>;
  k: number;
}

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

/**
 * Builds hash-consed expressions, folding constants and simplifying index arithmetic. One
 * builder per kernel-generation pass: nodes of different builders are never mixed.
 *
 * @example
 * ```ts
 * import { ExpBuilder } from "./ir.ts";
 * const b = new ExpBuilder();
 * const g = b.variable("gid", 24);
 * // Unravel g over [6, 4] and ravel it back: the index math folds away.
 * const e = b.add(b.mul(b.idiv(g, 4), b.idx(4)), b.mod(g, 4));
 * e === g; // true
 * ```
 */
export class ExpBuilder {
  #intern = new Map<string, Exp>();
  #nextId = 0;

  /** Number of distinct nodes built so far. */
  get size(): number {
    return this.#intern.size;
  }

  #make(
    op: ExpOp,
    type: ExpType,
    src: readonly Exp[],
    arg: number | string | LoadArg | null,
    min = -Infinity,
    max = Infinity,
  ): Exp {
    const argKey = arg === null
      ? ""
      : typeof arg === "object"
      ? `${arg.slot}:${arg.format}`
      : typeof arg === "number"
      ? (Object.is(arg, -0) ? "-0" : String(arg))
      : arg;
    const key = `${op}|${type}|${argKey}|${src.map((s) => s.id).join(",")}`;
    const found = this.#intern.get(key);
    if (found) return found;
    const node = new Exp(this.#nextId++, op, type, src, arg, min, max);
    this.#intern.set(key, node);
    return node;
  }

  /** A constant of `type` (bool: 0 or 1). */
  constant(value: number, type: ExpType): Exp {
    let v = value;
    if (type === "i32" || type === "idx") v = value | 0;
    else if (type === "u32") v = value >>> 0;
    else if (type === "bool") v = value ? 1 : 0;
    else if (type === "f32") v = Math.fround(value);
    return this.#make("const", type, [], v, v, v);
  }

  /** An `idx` constant. */
  idx(value: number): Exp {
    return this.constant(value, "idx");
  }

  /** A named `idx` variable with values in `[0, size)` (a thread or loop index). */
  variable(name: string, size: number): Exp {
    return this.#make("var", "idx", [], name, 0, Math.max(0, size - 1));
  }

  /** A named value defined by the kernel skeleton (an accumulator, a reduced row value). */
  ref(name: string, type: ExpType): Exp {
    return this.#make("ref", type, [], name);
  }

  /** Element `index` of kernel input `slot`, widened to its register type. */
  load(slot: number, format: StorageFormat, index: Exp): Exp {
    return this.#make("load", registerTypeOf(format), [index], { slot, format });
  }

  /** `cond ? a : b` (both sides are evaluated; loads are clamped by the caller). */
  where(cond: Exp, a: Exp, b: Exp): Exp {
    if (cond.op === "const") return cond.value ? a : b;
    if (a === b) return a;
    if (a.type === "bool" && a.is(1) && b.is(0)) return cond;
    const lo = Math.min(a.min, b.min), hi = Math.max(a.max, b.max);
    return this.#make("where", a.type, [cond, a, b], null, lo, hi);
  }

  /** Converts to `type` with the semantics of {@link castScalar} (saturating float to integer). */
  cast(x: Exp, type: ExpType): Exp {
    if (x.type === type) return x;
    if (x.op === "const") return this.constant(castScalar(x.value, x.type, type), type);
    if (type === "idx" && (x.type === "i32" || x.type === "u32")) {
      return this.#make("cast", type, [x], null, I32_MIN, I32_MAX);
    }
    if (x.type === "idx" && (type === "i32")) return this.#make("cast", type, [x], null);
    return this.#make("cast", type, [x], null);
  }

  /** Reinterprets the 32 bits of `x` as `type`. */
  bitcast(x: Exp, type: ExpType): Exp {
    if (x.type === type) return x;
    return this.#make("bitcast", type, [x], null);
  }

  /** Threefry-2x32 of four u32 values, as a pair; take halves with {@link component}. */
  threefry(k0: Exp, k1: Exp, x0: Exp, x1: Exp): Exp {
    return this.#make("threefry", "u32x2", [k0, k1, x0, x1], null);
  }

  /** Component 0 or 1 of a pair. */
  component(pair: Exp, which: 0 | 1): Exp {
    return this.#make("component", "u32", [pair], which);
  }

  /** A unary operation. */
  unary(op: UnaryOp, x: Exp): Exp {
    const type: ExpType = op === "isnan"
      ? "bool"
      : op === "f16_bits" || op === "bf16_bits"
      ? "u32"
      : op === "f16_from_bits" || op === "bf16_from_bits"
      ? "f32"
      : x.type;
    if (x.op === "const" && (x.type === "idx" || x.type === "i32" || x.type === "bool")) {
      if (op === "neg") return this.constant(-x.value, x.type);
      if (op === "not") return this.constant(x.type === "bool" ? 1 - x.value : ~x.value, x.type);
      if (op === "abs") return this.constant(Math.abs(x.value), x.type);
    }
    if (x.type === "idx" && op === "neg") return this.mul(x, this.idx(-1));
    if (op === "not" && x.op === "not") return x.src[0]!;
    return this.#make(op, type, [x], null);
  }

  /** A binary operation on operands of one type. */
  binary(op: BinaryOp, a: Exp, b: Exp): Exp {
    if (a.type !== b.type) {
      throw new Error(`Internal: ${op} of ${a.type} and ${b.type}`);
    }
    if (a.type === "idx") return this.#indexBinary(op, a, b);
    if (a === b && a.type === "f32" && (op === "sub" || op === "div")) return this.#selfOp(op, a);
    const type: ExpType = comparisonOps.has(op) ? "bool" : a.type;
    if (a.op === "const" && b.op === "const" && (a.type === "bool" || a.type === "i32")) {
      const folded = foldInteger(op, a.value, b.value, a.type);
      if (folded !== null) return this.constant(folded, type);
    }
    if (a.type === "bool") {
      if (op === "and") {
        if (a.op === "const") return a.value ? b : a;
        if (b.op === "const") return b.value ? a : b;
      }
      if (op === "or") {
        if (a.op === "const") return a.value ? a : b;
        if (b.op === "const") return b.value ? b : a;
      }
    }
    return this.#make(op, type, [a, b], null);
  }

  /**
   * `x - x` and `x / x` with their IEEE values spelled out: shader compilers may fold them to 0
   * and 1 (WGSL leaves NaN and infinity unspecified), which is wrong for infinite or NaN `x`
   * (and for `0 / 0`). Finiteness is a bit test on the exponent, which no compiler folds.
   */
  #selfOp(op: "sub" | "div", x: Exp): Exp {
    const magnitude = this.binary("and", this.bitcast(x, "u32"), this.constant(0x7fffffff, "u32"));
    let ok = this.binary("lt", magnitude, this.constant(0x7f800000, "u32"));
    if (op === "div") ok = this.and(ok, this.binary("ne", magnitude, this.constant(0, "u32")));
    return this.where(ok, this.constant(op === "sub" ? 0 : 1, "f32"), this.constant(NaN, "f32"));
  }

  add(a: Exp, b: Exp): Exp {
    return this.binary("add", a, b);
  }
  sub(a: Exp, b: Exp): Exp {
    return this.binary("sub", a, b);
  }
  mul(a: Exp, b: Exp): Exp {
    return this.binary("mul", a, b);
  }
  /** Index division by a positive constant (truncating; operands are non-negative in practice). */
  idiv(a: Exp, d: number): Exp {
    return this.binary("div", a, this.idx(d));
  }
  /** Index remainder by a positive constant. */
  mod(a: Exp, d: number): Exp {
    return this.binary("rem", a, this.idx(d));
  }
  lt(a: Exp, b: Exp): Exp {
    return this.binary("lt", a, b);
  }
  and(a: Exp, b: Exp): Exp {
    return this.binary("and", a, b);
  }

  // ---- Index arithmetic -------------------------------------------------------------------

  #indexBinary(op: BinaryOp, a: Exp, b: Exp): Exp {
    switch (op) {
      case "add":
        return this.#fromLinear(addLinear(linearOf(a), linearOf(b), 1));
      case "sub":
        return this.#fromLinear(addLinear(linearOf(a), linearOf(b), -1));
      case "mul":
        if (b.op === "const") return this.#fromLinear(scaleLinear(linearOf(a), b.value));
        if (a.op === "const") return this.#fromLinear(scaleLinear(linearOf(b), a.value));
        return this.#make("mul", "idx", [a, b].sort(byId), null, ...mulRange(a, b));
      case "div":
        return b.op === "const" && b.value > 0
          ? this.#divConst(a, b.value)
          : this.#opaque(op, a, b);
      case "rem":
        return b.op === "const" && b.value > 0
          ? this.#modConst(a, b.value)
          : this.#opaque(op, a, b);
      case "max":
      case "min": {
        if (a.op === "const" && b.op === "const") {
          return this.idx(op === "max" ? Math.max(a.value, b.value) : Math.min(a.value, b.value));
        }
        if (op === "max" && a.min >= b.max) return a;
        if (op === "max" && b.min >= a.max) return b;
        if (op === "min" && a.max <= b.min) return a;
        if (op === "min" && b.max <= a.min) return b;
        const lo = op === "max" ? Math.max(a.min, b.min) : Math.min(a.min, b.min);
        const hi = op === "max" ? Math.max(a.max, b.max) : Math.min(a.max, b.max);
        return this.#make(op, "idx", [a, b], null, lo, hi);
      }
      case "eq":
      case "ne":
      case "lt":
      case "le":
      case "gt":
      case "ge": {
        const known = compareRanges(op, a, b);
        if (known !== null) return this.constant(known ? 1 : 0, "bool");
        return this.#make(op, "bool", [a, b], null);
      }
      default:
        throw new Error(`Internal: ${op} is not an index operation`);
    }
  }

  #opaque(op: BinaryOp, a: Exp, b: Exp): Exp {
    return this.#make(op, "idx", [a, b], null);
  }

  #fromLinear(lin: Linear): Exp {
    recombine(this, lin);
    const entries = [...lin.terms.entries()].filter(([, c]) => c !== 0).sort((x, y) =>
      x[0].id - y[0].id
    );
    let acc: Exp | null = null;
    for (const [term, coef] of entries) {
      const scaled = coef === 1 ? term : this.#make(
        "mul",
        "idx",
        [term, this.idx(coef)],
        null,
        Math.min(term.min * coef, term.max * coef),
        Math.max(term.min * coef, term.max * coef),
      );
      acc = acc === null
        ? scaled
        : this.#make("add", "idx", [acc, scaled], null, acc.min + scaled.min, acc.max + scaled.max);
    }
    if (acc === null) return this.idx(lin.k);
    if (lin.k === 0) return acc;
    const k = this.idx(lin.k);
    return this.#make("add", "idx", [acc, k], null, acc.min + lin.k, acc.max + lin.k);
  }

  #divConst(a: Exp, d: number): Exp {
    if (d === 1) return a;
    if (a.op === "const") return this.idx(Math.trunc(a.value / d));
    if (a.min >= 0 && a.max < d) return this.idx(0);
    if (a.min >= 0) {
      if (a.op === "div" && a.src[1]!.op === "const") {
        return this.#divConst(a.src[0]!, d * a.src[1]!.value);
      }
      const lin = linearOf(a);
      if (allNonNegative(lin)) {
        // (sum c_i t_i + k) / d with every part >= 0: terms whose coefficient d divides come out.
        const quotient: Linear = { terms: new Map(), k: Math.floor(lin.k / d) };
        const rest: Linear = { terms: new Map(), k: lin.k - quotient.k * d };
        for (const [t, c] of lin.terms) {
          if (c % d === 0) quotient.terms.set(t, c / d);
          else rest.terms.set(t, c);
        }
        if (quotient.terms.size > 0 || quotient.k !== 0) {
          const r = this.#fromLinear(rest);
          return this.add(this.#fromLinear(quotient), this.#divConst(r, d));
        }
        // (g*A + R) / (g*h) = A / h when 0 <= R < g.
        const split = splitByCommonFactor(lin, d);
        if (split) return this.#divConst(this.#fromLinear(split.high), d / split.g);
      }
    }
    const lo = a.min >= 0 ? Math.floor(a.min / d) : -Infinity;
    const hi = a.min >= 0 ? Math.floor(a.max / d) : Infinity;
    return this.#make("div", "idx", [a, this.idx(d)], null, lo, hi);
  }

  #modConst(a: Exp, d: number): Exp {
    if (d === 1) return this.idx(0);
    if (a.op === "const") return this.idx(a.value % d);
    if (a.min >= 0 && a.max < d) return a;
    if (a.min >= 0) {
      if (a.op === "rem" && a.src[1]!.op === "const" && a.src[1]!.value % d === 0) {
        return this.#modConst(a.src[0]!, d);
      }
      const lin = linearOf(a);
      if (allNonNegative(lin)) {
        const rest: Linear = { terms: new Map(), k: lin.k % d };
        let dropped = lin.k !== rest.k;
        for (const [t, c] of lin.terms) {
          if (c % d === 0) dropped = true;
          else rest.terms.set(t, c);
        }
        if (dropped) return this.#modConst(this.#fromLinear(rest), d);
        // (g*A + R) % (g*h) = g * (A % h) + R when 0 <= R < g.
        const split = splitByCommonFactor(lin, d);
        if (split) {
          const high = this.#modConst(this.#fromLinear(split.high), d / split.g);
          return this.add(this.mul(high, this.idx(split.g)), this.#fromLinear(split.low));
        }
      }
      return this.#make("rem", "idx", [a, this.idx(d)], null, 0, Math.min(d - 1, a.max));
    }
    return this.#make("rem", "idx", [a, this.idx(d)], null, -(d - 1), d - 1);
  }
}

function byId(a: Exp, b: Exp): number {
  return a.id - b.id;
}

function registerTypeOf(format: StorageFormat): ExpType {
  switch (format) {
    case "f32":
    case "f16":
    case "f16x2":
    case "bf16x2":
      return "f32";
    case "i32":
      return "i32";
    case "u32":
      return "u32";
    case "bool32":
      return "bool";
  }
}

function mulRange(a: Exp, b: Exp): [number, number] {
  const c = [a.min * b.min, a.min * b.max, a.max * b.min, a.max * b.max].map((v) =>
    Number.isNaN(v) ? 0 : v
  );
  return [Math.min(...c), Math.max(...c)];
}

/** The linear form of an `idx` expression (a sum of scaled terms plus a constant). */
function linearOf(e: Exp): Linear {
  const terms = new Map<Exp, number>();
  let k = 0;
  const visit = (x: Exp, scale: number): void => {
    if (x.op === "const") k += x.value * scale;
    else if (x.op === "add") {
      visit(x.src[0]!, scale);
      visit(x.src[1]!, scale);
    } else if (x.op === "mul" && x.src[1]!.op === "const") {
      visit(x.src[0]!, scale * x.src[1]!.value);
    } else terms.set(x, (terms.get(x) ?? 0) + scale);
  };
  visit(e, 1);
  return { terms, k };
}

function addLinear(a: Linear, b: Linear, sign: number): Linear {
  const terms = new Map(a.terms);
  for (const [t, c] of b.terms) terms.set(t, (terms.get(t) ?? 0) + sign * c);
  return { terms, k: a.k + sign * b.k };
}

function scaleLinear(a: Linear, s: number): Linear {
  const terms = new Map<Exp, number>();
  if (s !== 0) { for (const [t, c] of a.terms) terms.set(t, c * s); }
  return { terms, k: a.k * s };
}

function allNonNegative(lin: Linear): boolean {
  if (lin.k < 0) return false;
  for (const [t, c] of lin.terms) if (c < 0 || t.min < 0) return false;
  return true;
}

/**
 * Folds unravel-then-ravel pairs in a sum: `(x / a) * a*c + (x % a) * c` -> `x * c` and
 * `((x / a) % b) * a*c + (x % a) * c` -> `(x % (a*b)) * c`, until none is left.
 */
function recombine(b: ExpBuilder, lin: Linear): void {
  let changed = true;
  while (changed) {
    changed = false;
    for (const [t2, c] of lin.terms) {
      if (c === 0 || t2.op !== "rem" || t2.src[1]!.op !== "const" || t2.min < 0) continue;
      const x = t2.src[0]!, a = t2.src[1]!.value;
      for (const [t1, c1] of lin.terms) {
        if (c1 !== c * a) continue;
        let merged: Exp | null = null;
        if (t1.op === "div" && t1.src[0] === x && t1.src[1]!.is(a)) merged = x;
        else if (
          t1.op === "rem" && t1.src[1]!.op === "const" && t1.src[0]!.op === "div" &&
          t1.src[0]!.src[0] === x && t1.src[0]!.src[1]!.is(a)
        ) {
          merged = b.mod(x, a * t1.src[1]!.value);
        }
        if (merged === null) continue;
        lin.terms.delete(t1);
        lin.terms.delete(t2);
        // The merged term may itself be a sum (x was one); fold it back in.
        const inner = linearOf(merged);
        for (const [t, cc] of inner.terms) lin.terms.set(t, (lin.terms.get(t) ?? 0) + cc * c);
        lin.k += inner.k * c;
        changed = true;
        break;
      }
      if (changed) break;
    }
  }
}

function gcd(a: number, b: number): number {
  let x = Math.abs(a), y = Math.abs(b);
  while (y) [x, y] = [y, x % y];
  return x;
}

/**
 * Splits a non-negative linear form as `g * high + low` with `g > 1` dividing `d` and
 * `0 <= low < g` (so that division and remainder by `d` only see `high`); null if none.
 */
function splitByCommonFactor(
  lin: Linear,
  d: number,
): { g: number; high: Linear; low: Linear } | null {
  const candidates = new Set<number>();
  for (const c of lin.terms.values()) {
    const g = gcd(c, d);
    if (g > 1) candidates.add(g);
  }
  for (const g of [...candidates].sort((a, b) => b - a)) {
    const high: Linear = { terms: new Map(), k: Math.floor(lin.k / g) };
    const low: Linear = { terms: new Map(), k: lin.k % g };
    let lowMax = low.k;
    for (const [t, c] of lin.terms) {
      if (c % g === 0) high.terms.set(t, c / g);
      else {
        low.terms.set(t, c);
        lowMax += c * t.max;
      }
    }
    if (lowMax < g && high.terms.size > 0) return { g, high, low };
  }
  return null;
}

function compareRanges(op: BinaryOp, a: Exp, b: Exp): boolean | null {
  switch (op) {
    case "lt":
      if (a.max < b.min) return true;
      if (a.min >= b.max) return false;
      return null;
    case "le":
      if (a.max <= b.min) return true;
      if (a.min > b.max) return false;
      return null;
    case "gt":
      return compareRanges("lt", b, a);
    case "ge":
      return compareRanges("le", b, a);
    case "eq":
      if (a === b) return true;
      if (a.max < b.min || a.min > b.max) return false;
      if (a.op === "const" && b.op === "const") return a.value === b.value;
      return null;
    case "ne": {
      const eq = compareRanges("eq", a, b);
      return eq === null ? null : !eq;
    }
    default:
      return null;
  }
}

function foldInteger(op: BinaryOp, a: number, b: number, type: ExpType): number | null {
  if (type === "bool") {
    switch (op) {
      case "and":
        return a & b;
      case "or":
        return a | b;
      case "xor":
      case "ne":
        return a ^ b;
      case "eq":
        return a === b ? 1 : 0;
      default:
        return null;
    }
  }
  switch (op) {
    case "add":
      return (a + b) | 0;
    case "sub":
      return (a - b) | 0;
    case "mul":
      return Math.imul(a, b);
    case "eq":
      return a === b ? 1 : 0;
    case "lt":
      return a < b ? 1 : 0;
    default:
      return null;
  }
}

/**
 * Converts a scalar between register types the way the generated WGSL does (the reference
 * interpreter's `convertScalar`): float to integer truncates and saturates, NaN gives 0;
 * integer to integer saturates; anything to bool is `x != 0`.
 *
 * @example
 * ```ts
 * import { castScalar } from "./ir.ts";
 * castScalar(-2.7, "f32", "i32"); // -2
 * castScalar(-1, "i32", "u32"); // 0
 * ```
 */
export function castScalar(value: number, from: ExpType, to: ExpType): number {
  if (to === "bool") return value !== 0 ? 1 : 0;
  if (from === "bool") return value ? 1 : 0;
  if (to === "f32") return Math.fround(value);
  // Integer to integer keeps the bits (wraps), as the reference interpreter does.
  if (from === "i32" && to === "u32") return value >>> 0;
  if (from === "u32" && to === "i32") return value | 0;
  if (Number.isNaN(value)) return 0;
  if (to === "u32") return Math.max(0, Math.min(4294967295, Math.trunc(value)));
  return Math.max(I32_MIN, Math.min(I32_MAX, Math.trunc(value)));
}

/**
 * Splits an `idx` expression into `coef * v + rest` for variable `v`, when `v` occurs only as
 * a direct linear term; returns null otherwise (e.g. `v` inside a division).
 *
 * @example
 * ```ts
 * import { ExpBuilder, linearIn } from "./ir.ts";
 * const b = new ExpBuilder();
 * const k = b.variable("k", 8);
 * linearIn(b, b.add(b.mul(k, b.idx(3)), b.idx(5)), k)?.coef; // 3
 * ```
 */
export function linearIn(
  b: ExpBuilder,
  e: Exp,
  v: Exp,
): { coef: number; rest: Exp } | null {
  const lin = linearOf(e);
  const coef = lin.terms.get(v) ?? 0;
  lin.terms.delete(v);
  const memo = new Map<Exp, boolean>();
  for (const t of lin.terms.keys()) if (dependsOn(t, v.arg as string, memo)) return null;
  let rest = b.idx(lin.k);
  for (const [t, c] of lin.terms) rest = b.add(rest, b.mul(t, b.idx(c)));
  return { coef, rest };
}

/**
 * True when the `idx` expression `e` is a multiple of `q` for every value of its variables:
 * its linear form's constant and every coefficient are (terms are integers).
 *
 * @example
 * ```ts
 * import { ExpBuilder, isMultipleOf } from "./ir.ts";
 * const b = new ExpBuilder();
 * const row = b.variable("row", 8);
 * isMultipleOf(b.mul(row, b.idx(3072)), 4); // true
 * isMultipleOf(b.add(row, b.idx(4)), 4); // false
 * ```
 */
export function isMultipleOf(e: Exp, q: number): boolean {
  const lin = linearOf(e);
  if (lin.k % q !== 0) return false;
  for (const c of lin.terms.values()) if (c % q !== 0) return false;
  return true;
}
