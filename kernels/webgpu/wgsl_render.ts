/**
 * Renders IR expressions ({@link Exp}) to WGSL: one `let` per node in topological order (shared
 * subexpressions once, thanks to hash-consing), NaN/Inf edge cases through the helpers of
 * `wgsl_helpers.ts`, loads in each storage layout (native, packed half, bool as u32).
 *
 * @module
 */

import {
  dependsOn,
  type Exp,
  type ExpType,
  type LoadArg,
  type StorageFormat,
  toposort,
} from "./ir.ts";

/**
 * The WGSL scalar type of a register type.
 *
 * @example
 * ```ts
 * import { wgslType } from "./wgsl_render.ts";
 * wgslType("idx"); // "i32"
 * ```
 */
export function wgslType(type: ExpType): string {
  switch (type) {
    case "f32":
      return "f32";
    case "i32":
    case "idx":
      return "i32";
    case "u32":
      return "u32";
    case "bool":
      return "bool";
    case "u32x2":
      return "vec2<u32>";
  }
}

/**
 * The WGSL element type of a storage binding in `format`.
 *
 * @example
 * ```ts
 * import { storageElementType } from "./wgsl_render.ts";
 * storageElementType("bf16x2"); // "u32"
 * ```
 */
export function storageElementType(format: StorageFormat): string {
  switch (format) {
    case "f32":
      return "f32";
    case "f16":
      return "f16";
    case "i32":
      return "i32";
    default:
      return "u32";
  }
}

/**
 * A WGSL literal for a constant of `type`.
 *
 * @example
 * ```ts
 * import { literal } from "./wgsl_render.ts";
 * literal(0.5, "f32"); // "0.5f"
 * literal(-3, "i32"); // "(-3i)"
 * ```
 */
export function literal(value: number, type: ExpType): string {
  switch (type) {
    case "bool":
      return value ? "true" : "false";
    case "u32":
      return `${value >>> 0}u`;
    case "i32":
    case "idx":
      if (value === -2147483648) return "(-2147483647i - 1i)";
      return value < 0 ? `(${value}i)` : `${value}i`;
    case "f32": {
      if (Number.isNaN(value)) return "d_nan()";
      if (value === Infinity) return "d_inf()";
      if (value === -Infinity) return "(-d_inf())";
      if (Object.is(value, -0)) return "(-0.0f)";
      const abs = Math.abs(value);
      if (abs !== 0 && abs < 1.1754943508222875e-38) {
        const bits = new Uint32Array(new Float32Array([value]).buffer)[0]!;
        return `bitcast<f32>(0x${bits.toString(16)}u)`;
      }
      const text = String(value);
      return value < 0 ? `(${text}f)` : `${text}f`;
    }
    case "u32x2":
      throw new Error("Internal: no literal of a pair");
  }
}

/**
 * Turns expressions into WGSL statements. Names defined inside {@link scope} are forgotten
 * when it ends (loop bodies).
 *
 * @example
 * ```ts
 * import { ExpBuilder } from "./ir.ts";
 * import { WgslEmitter } from "./wgsl_render.ts";
 * const b = new ExpBuilder();
 * const e = new WgslEmitter((slot) => `in${slot}`);
 * const lines: string[] = [];
 * const [v] = e.emit([b.unary("exp", b.load(0, "f32", b.variable("i", 8)))], lines, "  ");
 * // lines: ["  let t0 = in0[i];", "  let t1 = d_exp(t0);"], v === "t1"
 * ```
 */
export class WgslEmitter {
  /** Helper functions the emitted code calls. */
  readonly helpers = new Set<string>();
  /**
   * Text that replaces the rendering of particular nodes (a component of a vector loaded once
   * for several unrolled iterations); set and cleared by the kernel skeleton.
   */
  readonly overrides = new Map<Exp, string>();
  #names = new Map<Exp, string>();
  #next = 0;

  constructor(readonly bindingName: (slot: number) => string) {}

  /** Runs `fn`; names it defines are dropped afterwards (they are out of scope in WGSL). */
  scope<T>(fn: () => T): T {
    const saved = new Map(this.#names);
    try {
      return fn();
    } finally {
      this.#names = saved;
    }
  }

  /** Defines every node `roots` need; returns the expression text of each root. */
  emit(roots: readonly Exp[], lines: string[], indent: string): string[] {
    const overridden = (n: Exp) => this.overrides.has(n);
    for (const node of toposort(roots, overridden)) this.#define(node, lines, indent);
    return roots.map((r) => this.#text(r));
  }

  /**
   * Defines, in the current (outer) scope, the nodes of `roots` that do not depend on any of
   * `inner` (loop variables and loop-carried refs), so a loop body recomputes only what varies.
   */
  hoist(roots: readonly Exp[], inner: readonly string[], lines: string[], indent: string): void {
    const memos = inner.map(() => new Map<Exp, boolean>());
    for (const node of toposort(roots)) {
      if (inner.some((name, i) => dependsOn(node, name, memos[i]))) continue;
      this.#define(node, lines, indent);
    }
  }

  #text(node: Exp): string {
    if (node.op === "const") return literal(node.value, node.type);
    if (node.op === "var" || node.op === "ref") return node.arg as string;
    const name = this.#names.get(node);
    if (name === undefined) throw new Error(`Internal: ${node.op} used before definition`);
    return name;
  }

  #define(node: Exp, lines: string[], indent: string): void {
    if (node.op === "const" || node.op === "var" || node.op === "ref") return;
    if (this.#names.has(node)) return;
    const code = this.overrides.get(node) ?? this.#render(node);
    const name = `t${this.#next++}`;
    lines.push(`${indent}let ${name} = ${code};`);
    this.#names.set(node, name);
  }

  #call(helper: string, ...args: string[]): string {
    this.helpers.add(helper);
    return `${helper}(${args.join(", ")})`;
  }

  #render(node: Exp): string {
    const s = node.src.map((x) => this.#text(x));
    const [a = "", b = "", c = ""] = s;
    const t = node.src[0]?.type ?? node.type;
    const isF = t === "f32";
    switch (node.op) {
      case "load":
        return this.#renderLoad(node.arg as LoadArg, a);
      case "neg":
        return t === "u32" ? `(0u - ${a})` : `(-${a})`;
      case "recip":
        return `(1.0f / ${a})`;
      case "exp":
        return this.#call("d_exp", a);
      case "log":
        return this.#call("d_log", a);
      case "sqrt":
        return this.#call("d_sqrt", a);
      case "rsqrt":
        return this.#call("d_rsqrt", a);
      case "sin":
        return this.#call("d_sin", a);
      case "cos":
        return this.#call("d_cos", a);
      case "tanh":
        return this.#call("d_tanh", a);
      case "logistic":
        return this.#call("d_logistic", a);
      case "erf":
        return this.#call("d_erf", a);
      case "abs":
        return t === "u32" ? a : `abs(${a})`;
      case "sign":
        if (isF) return this.#call("d_sign", a);
        return t === "u32" ? `select(0u, 1u, ${a} > 0u)` : `sign(${a})`;
      case "floor":
        return `floor(${a})`;
      case "ceil":
        return `ceil(${a})`;
      case "round":
        return `round(${a})`;
      case "not":
        return t === "bool" ? `(!${a})` : `(~${a})`;
      case "isnan":
        return this.#call("d_isnan", a);
      case "round_f16":
        return this.#call("d_round_f16", a);
      case "round_bf16":
        return this.#call("d_round_bf16", a);
      case "f16_bits":
        return this.#call("d_f16_bits", a);
      case "bf16_bits":
        return this.#call("d_bf16_bits", a);
      case "f16_from_bits":
        return this.#call("d_f16_from_bits", a);
      case "bf16_from_bits":
        return this.#call("d_bf16_from_bits", a);
      case "add":
        return `(${a} + ${b})`;
      case "sub":
        return `(${a} - ${b})`;
      case "mul":
        return `(${a} * ${b})`;
      case "div":
        if (t === "i32") return this.#call("d_div_i32", a, b);
        if (t === "u32") return this.#call("d_div_u32", a, b);
        return `(${a} / ${b})`;
      case "rem":
        if (t === "i32") return this.#call("d_rem_i32", a, b);
        if (t === "u32") return this.#call("d_rem_u32", a, b);
        if (t === "idx") return `(${a} % ${b})`;
        return this.#call("d_fmod", a, b);
      case "pow":
        return this.#call("d_pow", a, b);
      case "max":
        return isF ? this.#call("d_fmax", a, b) : `max(${a}, ${b})`;
      case "min":
        return isF ? this.#call("d_fmin", a, b) : `min(${a}, ${b})`;
      case "atan2":
        return this.#call("d_atan2", a, b);
      case "eq":
        return isF ? this.#call("d_feq", a, b) : `(${a} == ${b})`;
      case "ne":
        return isF ? `(!${this.#call("d_feq", a, b)})` : `(${a} != ${b})`;
      case "lt":
        return isF ? this.#call("d_flt", a, b) : `(${a} < ${b})`;
      case "le":
        return isF ? this.#call("d_fle", a, b) : `(${a} <= ${b})`;
      case "gt":
        return isF ? this.#call("d_flt", b, a) : `(${a} > ${b})`;
      case "ge":
        return isF ? this.#call("d_fle", b, a) : `(${a} >= ${b})`;
      case "and":
        return t === "bool" ? `(${a} && ${b})` : `(${a} & ${b})`;
      case "or":
        return t === "bool" ? `(${a} || ${b})` : `(${a} | ${b})`;
      case "xor":
        return t === "bool" ? `(${a} != ${b})` : `(${a} ^ ${b})`;
      case "shl":
        return `(${a} << (u32(${b}) & 31u))`;
      case "shr":
        return `(${a} >> (u32(${b}) & 31u))`;
      case "where":
        return `select(${c}, ${b}, ${a})`;
      case "cast":
        return this.#renderCast(node.src[0]!.type, node.type, a);
      case "bitcast":
        return `bitcast<${wgslType(node.type)}>(${a})`;
      case "threefry":
        return this.#call("d_threefry", a, b, c, s[3] ?? "");
      case "component":
        return `${a}.${node.arg === 0 ? "x" : "y"}`;
      default:
        throw new Error(`Internal: cannot render ${node.op}`);
    }
  }

  #renderLoad(arg: LoadArg, index: string): string {
    const buf = this.bindingName(arg.slot);
    switch (arg.format) {
      case "f32":
      case "i32":
      case "u32":
        return `${buf}[${index}]`;
      case "bool32":
        return `(${buf}[${index}] != 0u)`;
      case "f16":
        return `f32(${buf}[${index}])`;
      case "f16x2":
        return this.#call(
          "d_f16_from_bits",
          `((${buf}[(${index}) >> 1u] >> (u32((${index}) & 1i) << 4u)) & 0xffffu)`,
        );
      case "bf16x2":
        return `bitcast<f32>(((${buf}[(${index}) >> 1u] >> (u32((${index}) & 1i) << 4u)) & 0xffffu) << 16u)`;
    }
  }

  #renderCast(from: ExpType, to: ExpType, a: string): string {
    if (to === "bool") {
      if (from === "f32") return `((bitcast<u32>(${a}) & 0x7fffffffu) != 0u)`;
      return from === "u32" ? `(${a} != 0u)` : `(${a} != 0i)`;
    }
    if (from === "bool") {
      return `select(${literal(0, to)}, ${literal(1, to)}, ${a})`;
    }
    if (from === "f32" && (to === "i32" || to === "idx")) return this.#call("d_f32_to_i32", a);
    if (from === "f32" && to === "u32") return this.#call("d_f32_to_u32", a);
    // Between the integer types the bits carry over (two's complement wrap, as NumPy and the
    // reference interpreter); only index arithmetic clamps, so a huge u32 cannot index backwards.
    if (from === "i32" && to === "u32") return `bitcast<u32>(${a})`;
    if (from === "u32" && to === "i32") return `bitcast<i32>(${a})`;
    if (from === "u32" && to === "idx") return `i32(min(${a}, 2147483647u))`;
    if (from === "idx" && to === "u32") return `u32(max(${a}, 0i))`;
    if ((from === "idx" && to === "i32") || (from === "i32" && to === "idx")) return a;
    return `${wgslType(to)}(${a})`;
  }
}

/**
 * The storage binding declaration of one buffer.
 *
 * @example
 * ```ts
 * import { bindingDecl } from "./wgsl_render.ts";
 * bindingDecl(0, "in0", "f32", "read"); // "@group(0) @binding(0) var<storage, read> in0: array<f32>;"
 * ```
 */
export function bindingDecl(
  binding: number,
  name: string,
  format: StorageFormat,
  access: "read" | "read_write",
  atomic = false,
): string {
  const elem = atomic ? `atomic<${storageElementType(format)}>` : storageElementType(format);
  return `@group(0) @binding(${binding}) var<storage, ${access}> ${name}: array<${elem}>;`;
}
