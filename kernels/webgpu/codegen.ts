/**
 * Kernel skeletons for generated code: a *map* kernel (one thread per output element, or per
 * pair of elements when an output is packed half precision) and a *row* kernel (a workgroup,
 * or a single thread, per row: cooperative reductions into workgroup memory, then the row's
 * outputs). The element expressions come from the lowering; this file only decides which
 * thread evaluates what, and how values are stored in each layout.
 *
 * @module
 */

import type { Kernel, KernelBinding, KernelTarget } from "./kernel.ts";
import { workgroupGrid } from "./kernel.ts";
import type { Exp, ExpBuilder, ExpType, StorageFormat } from "./ir.ts";
import { toposort } from "./ir.ts";
import { reusedBody, type UnrolledLoop, unrollFactor, unrollLoop } from "./row_unroll.ts";
import { bindingDecl, literal, WgslEmitter, wgslType } from "./wgsl_render.ts";
import { helperSource } from "./wgsl_helpers.ts";

/** A kernel plus what the runtime must do around it that the plain contract lacks. */
export interface RuntimeKernel extends Kernel {
  /** Bindings (by buffer name) to zero before the dispatch (packed outputs written by atomicOr). */
  readonly clear?: readonly string[];
}

/** An output binding of a generated kernel. */
export interface OutputDecl {
  readonly format: StorageFormat;
}

/**
 * True for two-per-word half layouts.
 *
 * @example
 * ```ts
 * import { isPacked } from "./codegen.ts";
 * isPacked("bf16x2"); // true
 * ```
 */
export function isPacked(format: StorageFormat): boolean {
  return format === "f16x2" || format === "bf16x2";
}

/** The binding declarations, `enable` directives and the linear thread index prelude. */
function header(
  inputs: readonly StorageFormat[],
  outputs: readonly OutputDecl[],
  atomicOutputs: boolean,
  extraEnables: readonly string[] = [],
  vec4: { readonly inputs: ReadonlySet<number>; readonly outputs: boolean } | null = null,
): { decls: string; bindings: KernelBinding[] } {
  const lines: string[] = [];
  const needF16 = [...inputs, ...outputs.map((o) => o.format)].includes("f16");
  if (needF16) lines.push("enable f16;");
  for (const e of extraEnables) lines.push(`enable ${e};`);
  // Rows spread over one subgroup's lanes leave the lanes' loops divergent before each
  // reduction; every lane of the subgroup works on the same row, so the shuffles are safe.
  if (extraEnables.includes("subgroups")) lines.push("diagnostic(off, subgroup_uniformity);");
  const bindings: KernelBinding[] = [];
  const vecDecl = (name: string, access: string) =>
    `@group(0) @binding(${bindings.length}) var<storage, ${access}> ${name}: array<vec4<f32>>;`;
  inputs.forEach((format, i) => {
    lines.push(
      vec4?.inputs.has(i)
        ? vecDecl(`in${i}`, "read")
        : bindingDecl(bindings.length, `in${i}`, format, "read"),
    );
    bindings.push({ buffer: `in${i}`, access: "read" });
  });
  outputs.forEach((o, i) => {
    const atomic = atomicOutputs && isPacked(o.format);
    lines.push(
      vec4?.outputs
        ? vecDecl(`out${i}`, "read_write")
        : bindingDecl(bindings.length, `out${i}`, o.format, "read_write", atomic),
    );
    bindings.push({ buffer: `out${i}`, access: "read_write" });
  });
  return { decls: lines.join("\n"), bindings };
}

/**
 * A WGSL expression reading element `index` of storage buffer `buf` in `format`, widened to its
 * register type (f32 for every float layout, bool for bool32). Adds needed helpers to `helpers`.
 *
 * @example
 * ```ts
 * import { loadExpr } from "./codegen.ts";
 * loadExpr("f16", "in0", "i", new Set()); // "f32(in0[i])"
 * ```
 */
export function loadExpr(
  format: StorageFormat,
  buf: string,
  index: string,
  helpers: Set<string>,
): string {
  switch (format) {
    case "f32":
    case "i32":
    case "u32":
      return `${buf}[${index}]`;
    case "f16":
      return `f32(${buf}[${index}])`;
    case "bool32":
      return `(${buf}[${index}] != 0u)`;
    case "f16x2":
      helpers.add("d_f16_from_bits");
      return `d_f16_from_bits((${buf}[(${index}) >> 1u] >> (u32((${index}) & 1i) << 4u)) & 0xffffu)`;
    case "bf16x2":
      return `bitcast<f32>(((${buf}[(${index}) >> 1u] >> (u32((${index}) & 1i) << 4u)) & 0xffffu) << 16u)`;
  }
}

/**
 * WGSL statement storing `value` as element `index` of output `name` in `format`. Packed
 * layouts use `atomicOr` into a zeroed buffer, since two threads share each word.
 *
 * @example
 * ```ts
 * import { storeStatement } from "./codegen.ts";
 * storeStatement("out0", "f32", "i", "v"); // "out0[i] = v;"
 * ```
 */
export function storeStatement(
  name: string,
  format: StorageFormat,
  index: string,
  value: string,
  helpers?: Set<string>,
): string {
  switch (format) {
    case "f32":
    case "i32":
    case "u32":
      return `${name}[${index}] = ${value};`;
    case "bool32":
      return `${name}[${index}] = select(0u, 1u, ${value});`;
    case "f16":
      helpers?.add("d_f16_bits");
      return `${name}[${index}] = bitcast<vec2<f16>>(d_f16_bits(${value})).x;`;
    case "f16x2":
    case "bf16x2": {
      const bits = format === "f16x2" ? "d_f16_bits" : "d_bf16_bits";
      helpers?.add(bits);
      return `atomicOr(&${name}[(${index}) >> 1u], ${bits}(${value}) << (u32((${index}) & 1i) << 4u));`;
    }
  }
}

/**
 * The launch grid for `count` threads of `wg` each, at most `maxGroups` workgroups (threads then
 * loop, grid-stride: on lavapipe every workgroup costs several microseconds of scheduling, so
 * a few hundred looping workgroups beat tens of thousands of short ones); `expr` is the linear
 * workgroup index and `stride` the number of threads launched.
 */
function threadIndex(count: number, wg: number, target: KernelTarget, maxGroups: number): {
  workgroups: [number, number, number];
  expr: string;
  groups: number;
} {
  const groups = Math.max(1, Math.min(Math.ceil(count / wg), maxGroups));
  const workgroups = workgroupGrid(groups, target.maxWorkgroupsPerDimension);
  const [gx, gy] = workgroups;
  const linear = workgroups[1] === 1 && workgroups[2] === 1
    ? "wid.x"
    : `(wid.x + wid.y * ${gx}u + wid.z * ${gx * gy}u)`;
  return { workgroups, expr: linear, groups: workgroups[0] * workgroups[1] * workgroups[2] };
}

/** Options of {@link buildMapKernel}. */
export interface MapKernelSpec {
  readonly name: string;
  /** Number of output elements (all outputs have this many). */
  readonly size: number;
  readonly inputs: readonly StorageFormat[];
  readonly outputs: readonly OutputDecl[];
  readonly builder: ExpBuilder;
  /** The output values at flat element `flat` (an `idx` expression). */
  readonly valueAt: (flat: Exp) => readonly Exp[];
  readonly target: KernelTarget;
  readonly workgroupSize?: number;
  /** Most workgroups to launch (threads loop over the rest). */
  readonly maxWorkgroups?: number;
  /** Input formats known only after `valueAt` ran (overrides `inputs`). */
  readonly inputsFrom?: () => readonly StorageFormat[];
}

/**
 * A kernel computing every element of its outputs independently.
 *
 * @example
 * ```ts ignore
 * buildMapKernel({ name: "exp", size: 8, inputs: ["f32"], outputs: [{ format: "f32" }], ... });
 * ```
 */
export function buildMapKernel(spec: MapKernelSpec): RuntimeKernel {
  const b = spec.builder;
  const wg = spec.workgroupSize ?? 256;
  const paired = spec.outputs.some((o) => isPacked(o.format));
  const threads = paired ? Math.ceil(spec.size / 2) : spec.size;
  const { workgroups, expr, groups } = threadIndex(
    threads,
    wg,
    spec.target,
    spec.maxWorkgroups ?? Infinity,
  );
  const emitter = new WgslEmitter((slot) => `in${slot}`);
  const body: string[] = [];
  const t = b.variable("tid", threads);
  if (!paired) {
    const values = spec.valueAt(t);
    const texts = emitter.emit(values, body, "  ");
    spec.outputs.forEach((o, k) => {
      body.push("  " + storeStatement(`out${k}`, o.format, "tid", texts[k]!, emitter.helpers));
    });
  } else {
    const first = b.mul(t, b.idx(2));
    const second = b.binary("min", b.add(first, b.idx(1)), b.idx(spec.size - 1));
    const v0 = emitter.emit(spec.valueAt(first), body, "  ");
    const v1 = emitter.emit(spec.valueAt(second), body, "  ");
    const hasSecond = `(tid * 2i + 1i < ${spec.size}i)`;
    spec.outputs.forEach((o, k) => {
      const out = `out${k}`;
      if (isPacked(o.format)) {
        const bits = o.format === "f16x2" ? "d_f16_bits" : "d_bf16_bits";
        emitter.helpers.add(bits);
        body.push(
          `  ${out}[tid] = ${bits}(${v0[k]}) | select(0u, ${bits}(${v1[k]}) << 16u, ${hasSecond});`,
        );
      } else {
        body.push("  " + storeStatement(out, o.format, "tid * 2i", v0[k]!, emitter.helpers));
        body.push(
          `  if ${hasSecond} { ${
            storeStatement(out, o.format, "tid * 2i + 1i", v1[k]!, emitter.helpers)
          } }`,
        );
      }
    });
  }
  const { decls, bindings } = header(spec.inputsFrom?.() ?? spec.inputs, spec.outputs, false);
  const code = [
    decls,
    helperSource(emitter.helpers),
    `@compute @workgroup_size(${wg})`,
    "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {",
    `  let first = i32(${expr} * ${wg}u + lid);`,
    `  for (var tid = first; tid < ${threads}i; tid = tid + ${groups * wg}i) {`,
    ...body.map((l) => "  " + l),
    "  }",
    "}",
  ].join("\n");
  return { name: spec.name, code, bindings, workgroups };
}

/** The reduction a row-kernel stage performs. */
export type StageOp = "sum" | "max" | "min" | "argmax" | "argmin";

/** One cooperative reduction of a row kernel; its result is the ref named `name`. */
export interface StageSpec {
  readonly name: string;
  readonly op: StageOp;
  /** Register type of the reduced values. */
  readonly type: ExpType;
  /** Name of the loop variable `body` depends on. */
  readonly loopVar: string;
  /** Loop range `[start, end)` (may depend on the row). */
  readonly start: Exp;
  readonly end: Exp;
  readonly body: Exp;
}

/** Options of {@link buildRowKernel}. */
export interface RowKernelSpec {
  readonly name: string;
  readonly rows: number;
  /** Threads cooperating on one row (1: one thread per row; else a power of two). */
  readonly threadsPerRow: number;
  readonly inputs: readonly StorageFormat[];
  readonly outputs: readonly OutputDecl[];
  readonly builder: ExpBuilder;
  readonly stages: readonly StageSpec[];
  /** Per-column outputs: value of output k at (`row`, `col`), stored at `row * cols + col`. */
  readonly cols?: { readonly count: number; readonly values: readonly Exp[] };
  /** Per-row outputs: value of output k at `row`, stored at `row`. */
  readonly rowValues?: readonly Exp[];
  readonly target: KernelTarget;
  /** Most workgroups to launch (rows loop over the rest). */
  readonly maxWorkgroups?: number;
  /**
   * The workgroup is one subgroup of exactly `threadsPerRow` lanes (the adapter's fixed
   * subgroup size, `subgroups` enabled): reduce with shuffles, without barriers.
   */
  readonly subgroup?: boolean;
}

function identity(op: StageOp, type: ExpType): string {
  if (op === "sum") return literal(0, type);
  if (op === "argmax" || op === "argmin") return literal(0, type);
  const high = op === "min";
  if (type === "f32") return high ? "d_inf()" : "(-d_inf())";
  if (type === "u32") return high ? "4294967295u" : "0u";
  return high ? "2147483647i" : "(-2147483647i - 1i)";
}

function combine(op: StageOp, type: ExpType, a: string, b: string, helpers: Set<string>): string {
  if (op === "sum") return `${a} + ${b}`;
  const f = op === "max" ? "max" : "min";
  if (type === "f32") {
    helpers.add(op === "max" ? "d_fmax" : "d_fmin");
    return `d_f${f}(${a}, ${b})`;
  }
  return `${f}(${a}, ${b})`;
}

/** Whether candidate (v2, i2) beats the current best (v1, i1), lower index winning ties. */
function argBetter(
  op: StageOp,
  type: ExpType,
  v1: string,
  i1: string,
  v2: string,
  i2: string,
): string {
  const cmp = op === "argmax" ? ">" : "<";
  const plain = `(${v2} ${cmp} ${v1} || (${v2} == ${v1} && ${i2} < ${i1}))`;
  if (type !== "f32") return plain;
  return `((d_isnan(${v2}) && (!d_isnan(${v1}) || ${i2} < ${i1})) || (!d_isnan(${v1}) && !d_isnan(${v2}) && ${plain}))`;
}

/** Every expression an unrolled loop evaluates, its vector load indices included. */
function unrolledRoots(loop: UnrolledLoop): Exp[] {
  return [...loop.copies.flat(), ...[...loop.vectorLoads.values()].map((l) => l.index)];
}

/**
 * A kernel that reduces rows (cooperatively, when `threadsPerRow > 1`) and writes per-row and
 * per-column outputs computed from the reduced values: a standalone reduction, or softmax or
 * layer norm in one pass per row.
 *
 * With `subgroup`, one subgroup of `threadsPerRow` lanes (the workgroup) owns each row and
 * combines its lanes' partial results with subgroup shuffles instead of workgroup memory and
 * barriers: on a CPU adapter (lavapipe) a workgroup's invocations are SIMD lanes of one thread
 * and every barrier suspends and resumes each group of lanes, which cost most of a softmax.
 * Whole-row loops are then unrolled by 4 with aligned float32 operands read as `vec4<f32>`
 * (`row_unroll.ts`), float32 outputs written the same way.
 *
 * @example
 * ```ts ignore
 * buildRowKernel({ name: "sum_rows", rows: 4, threadsPerRow: 64, stages: [...], rowValues: [...], ... });
 * ```
 */
export function buildRowKernel(spec: RowKernelSpec): RuntimeKernel {
  const T = spec.threadsPerRow;
  const coop = T > 1;
  const sub = coop && spec.subgroup === true;
  const wg = coop ? T : 64;
  const b = spec.builder;
  const { workgroups, expr, groups } = threadIndex(
    coop ? spec.rows * T : spec.rows,
    wg,
    spec.target,
    spec.maxWorkgroups ?? Infinity,
  );
  const atomics = spec.outputs.some((o) => isPacked(o.format));
  // Unrolled loops, by original loop variable ("col" for the column loop).
  const loops = new Map<string, UnrolledLoop>();
  if (sub) {
    for (const st of spec.stages) {
      const loop = unrollLoop(b, [st.body], st.loopVar, st.start, st.end);
      if (loop) loops.set(st.loopVar, loop);
    }
    if (spec.cols) {
      const loop = unrollLoop(b, spec.cols.values, "col", b.idx(0), b.idx(spec.cols.count));
      if (loop) loops.set("col", loop);
    }
  }
  const colLoop = loops.get("col");
  const vecOutputs = colLoop !== undefined && spec.outputs.every((o) => o.format === "f32");
  // An input is declared `array<vec4<f32>>` when every load of it is an aligned one.
  const vecInputs = new Set<number>();
  if (sub) {
    const plain = [
      ...spec.stages.flatMap((
        st,
      ) => [st.start, st.end, ...(loops.has(st.loopVar) ? [] : [st.body])]),
      ...(spec.rowValues ?? []),
      ...(spec.cols && !colLoop ? spec.cols.values : []),
    ];
    const blocked = new Set<number>();
    const visit = (nodes: readonly Exp[], aligned: ReadonlyMap<Exp, unknown>) => {
      for (const n of toposort(nodes)) {
        if (n.op !== "load") continue;
        const slot = (n.arg as { slot: number }).slot;
        if (aligned.has(n)) vecInputs.add(slot);
        else blocked.add(slot);
      }
    };
    visit(plain, new Map());
    for (const loop of loops.values()) visit(loop.copies.flat(), loop.vectorLoads);
    for (const slot of blocked) vecInputs.delete(slot);
  }
  // The last whole-row stage whose body the single float32 output recomputes per column
  // (softmax's exp) writes it to the output as it goes; the column loop reads it back (the same
  // lane wrote the same elements, so no barrier) instead of evaluating it again.
  let reuse: { stage: StageSpec; node: Exp } | null = null;
  if (vecOutputs && spec.outputs.length === 1) {
    for (const st of spec.stages) {
      const loop = loops.get(st.loopVar);
      if (!loop || loop.count !== colLoop.count || st.type !== "f32") continue;
      if (st.op === "argmax" || st.op === "argmin") continue;
      const node = reusedBody(st.body, st.loopVar, spec.cols!.values, "col");
      if (node) reuse = { stage: st, node };
    }
  }
  const { decls, bindings } = header(
    spec.inputs,
    spec.outputs,
    atomics,
    sub ? ["subgroups"] : [],
    sub ? { inputs: vecInputs, outputs: vecOutputs } : null,
  );
  const emitter = new WgslEmitter((slot) => `in${slot}`);
  emitter.helpers.add("d_isnan");
  const lines: string[] = [];
  const shared = new Set<string>();
  const lane = coop ? "lane" : "0i";
  let vecCount = 0;
  /**
   * Opens the unrolled loop `loop` (grid-strided over the lanes), loads its aligned operands
   * once as vec4 and emits the copies of its roots; returns each copy's root texts. `extra`
   * replaces nodes by text per copy.
   */
  const openUnrolled = (loop: UnrolledLoop, extra: (u: number) => Map<Exp, string>) => {
    lines.push(
      `  for (var ${loop.q}: i32 = ${lane}; ${loop.q} < ${loop.count}i + dz; ${loop.q} = ${loop.q} + ${T}i) {`,
    );
    const overrides = new Map<Exp, string>();
    loop.copies.forEach((_, u) => extra(u).forEach((text, n) => overrides.set(n, text)));
    const live = new Set(toposort(loop.copies.flat(), (n) => overrides.has(n)));
    const vectors = new Map<string, string>();
    for (const [n, { slot, index, u }] of loop.vectorLoads) {
      if (!vecInputs.has(slot) || !live.has(n)) continue;
      const key = `${slot}:${index.id}`;
      let name = vectors.get(key);
      if (!name) {
        name = `v${vecCount++}`;
        const [at] = emitter.emit([index], lines, "    ");
        lines.push(`    let ${name} = in${slot}[${at}];`);
        vectors.set(key, name);
      }
      overrides.set(n, `${name}[${u}]`);
    }
    for (const [n, text] of overrides) emitter.overrides.set(n, text);
    const texts = loop.copies.map((roots) => emitter.emit(roots, lines, "    "));
    emitter.overrides.clear();
    return texts;
  };
  for (const stage of spec.stages) {
    const ty = wgslType(stage.type);
    const arg = stage.op === "argmax" || stage.op === "argmin";
    const acc = `${stage.name}_acc`;
    const at = `${stage.name}_at`;
    const r = stage.loopVar;
    const loop = loops.get(r);
    const roots = loop ? unrolledRoots(loop) : [stage.body];
    emitter.hoist([...roots, stage.start, stage.end], [loop ? loop.q : r], lines, "  ");
    const [startText, endText] = emitter.emit([stage.start, stage.end], lines, "  ");
    lines.push(`  var ${acc}: ${ty} = ${identity(stage.op, stage.type)};`);
    if (arg) lines.push(`  var ${at}: i32 = -1i;`);
    const accumulate = (v: string, index: string, indent: string) => {
      if (arg) {
        const cmp = stage.op === "argmax" ? ">" : "<";
        const better = stage.type === "f32"
          ? `(!d_isnan(${acc}) && (d_isnan(${v}) || ${v} ${cmp} ${acc}))`
          : `(${v} ${cmp} ${acc})`;
        lines.push(`${indent}if (${at} < 0i || ${better}) { ${acc} = ${v}; ${at} = ${index}; }`);
      } else {
        lines.push(`${indent}${acc} = ${combine(stage.op, stage.type, acc, v, emitter.helpers)};`);
      }
    };
    if (loop) {
      emitter.scope(() => {
        const texts = openUnrolled(loop, () => new Map());
        texts.forEach(([v], u) => accumulate(v!, `${loop.q} * ${unrollFactor}i + ${u}i`, "    "));
        if (reuse?.stage === stage) {
          const kept = texts.map(([v]) => v).join(", ");
          lines.push(
            `    out0[row * ${loop.count}i + ${loop.q}] = vec4<f32>(${kept});`,
          );
        }
      });
    } else {
      lines.push(
        `  for (var ${r}: i32 = ${startText} + ${lane}; ${r} < ${endText} + dz; ${r} = ${r} + ${T}i) {`,
      );
      emitter.scope(() => {
        const [v] = emitter.emit([stage.body], lines, "    ");
        accumulate(v!, r, "    ");
      });
    }
    lines.push("  }");
    if (sub) {
      // Butterfly over the subgroup: every lane ends with the same (bitwise) result.
      for (let s = T / 2; s >= 1; s /= 2) {
        if (arg) {
          const ov = `${stage.name}_v${s}`, oa = `${stage.name}_a${s}`;
          lines.push(`  let ${ov} = subgroupShuffleXor(${acc}, ${s}u);`);
          lines.push(`  let ${oa} = subgroupShuffleXor(${at}, ${s}u);`);
          const better = argBetter(stage.op, stage.type, acc, at, ov, oa);
          lines.push(
            `  if (${oa} >= 0i && (${at} < 0i || ${better})) { ${acc} = ${ov}; ${at} = ${oa}; }`,
          );
        } else {
          const other = `subgroupShuffleXor(${acc}, ${s}u)`;
          lines.push(`  ${acc} = ${combine(stage.op, stage.type, acc, other, emitter.helpers)};`);
        }
      }
      lines.push(`  let ${stage.name} = ${arg ? at : acc};`);
    } else if (coop) {
      const sv = `sh_${ty}`;
      shared.add(`var<workgroup> ${sv}: array<${ty}, ${T}>;`);
      if (arg) shared.add(`var<workgroup> sh_at: array<i32, ${T}>;`);
      lines.push(`  ${sv}[lane] = ${acc};`);
      if (arg) lines.push(`  sh_at[lane] = ${at};`);
      lines.push("  workgroupBarrier();");
      for (let s = T / 2; s >= 1; s /= 2) {
        if (arg) {
          const better = argBetter(
            stage.op,
            stage.type,
            `${sv}[lane]`,
            "sh_at[lane]",
            `${sv}[lane + ${s}]`,
            `sh_at[lane + ${s}]`,
          );
          lines.push(
            `  if (lane < ${s}i && sh_at[lane + ${s}] >= 0i && (sh_at[lane] < 0i || ${better})) { ${sv}[lane] = ${sv}[lane + ${s}]; sh_at[lane] = sh_at[lane + ${s}]; }`,
          );
        } else {
          lines.push(
            `  if (lane < ${s}i) { ${sv}[lane] = ${
              combine(stage.op, stage.type, `${sv}[lane]`, `${sv}[lane + ${s}]`, emitter.helpers)
            }; }`,
          );
        }
        lines.push("  workgroupBarrier();");
      }
      lines.push(`  let ${stage.name} = ${arg ? "sh_at[0]" : `${sv}[0]`};`);
      lines.push("  workgroupBarrier();");
    } else {
      lines.push(`  let ${stage.name} = ${arg ? at : acc};`);
    }
  }
  const clear: string[] = [];
  let k = 0;
  if (spec.rowValues) {
    const texts = emitter.emit(spec.rowValues, lines, "  ");
    const stores = texts.map((v, i) => {
      const o = spec.outputs[k + i]!;
      if (isPacked(o.format)) clear.push(`out${k + i}`);
      return storeStatement(`out${k + i}`, o.format, "row", v, emitter.helpers);
    });
    if (coop) lines.push(`  if (lane == 0i) { ${stores.join(" ")} }`);
    else lines.push(...stores.map((s) => `  ${s}`));
    k += texts.length;
  }
  if (spec.cols) {
    const K = spec.cols.count;
    const values = spec.cols.values;
    const storeAt = (indent: string, flat: string, texts: readonly string[]) => {
      texts.forEach((v, i) => {
        const o = spec.outputs[k + i]!;
        if (isPacked(o.format)) clear.push(`out${k + i}`);
        lines.push(indent + storeStatement(`out${k + i}`, o.format, flat, v, emitter.helpers));
      });
    };
    if (colLoop) {
      const loop = colLoop;
      emitter.hoist(unrolledRoots(loop), [loop.q], lines, "  ");
      emitter.scope(() => {
        const kept = reuse ? `kept${vecCount++}` : "";
        const extra = (u: number) => {
          const copy = reuse ? loop.memos[u]!.get(reuse.node) : undefined;
          return copy ? new Map([[copy, `${kept}[${u}]`]]) : new Map<Exp, string>();
        };
        // The kept values are read before the loop's other loads (same lane, same elements).
        const at = lines.length + 1;
        const texts = openUnrolled(loop, extra);
        if (reuse) lines.splice(at, 0, `    let ${kept} = out0[row * ${loop.count}i + ${loop.q}];`);
        if (vecOutputs) {
          values.forEach((_, i) => {
            const parts = texts.map((t) => t[i]!).join(", ");
            lines.push(`    out${k + i}[row * ${loop.count}i + ${loop.q}] = vec4<f32>(${parts});`);
          });
        } else {
          texts.forEach((t, u) =>
            storeAt("    ", `row * ${K}i + ${loop.q} * ${unrollFactor}i + ${u}i`, t)
          );
        }
      });
    } else {
      emitter.hoist(values, ["col"], lines, "  ");
      lines.push(`  for (var col: i32 = ${lane}; col < ${K}i + dz; col = col + ${T}i) {`);
      emitter.scope(() => {
        const texts = emitter.emit(values, lines, "    ");
        lines.push(`    let flat = row * ${K}i + col;`);
        storeAt("    ", "flat", texts);
      });
    }
    lines.push("  }");
  }
  // Rows loop grid-stride; with one row per workgroup the row index stays uniform, so the
  // barriers inside remain in uniform control flow.
  const prelude = coop
    ? [
      `  let lane = i32(lid);`,
      `  let dz = i32(wid.x >> 31u);`,
      `  for (var row = i32(${expr}); row < ${spec.rows}i; row = row + ${groups}i) {`,
    ]
    : [
      `  let dz = i32(wid.x >> 31u);`,
      `  for (var row = i32(${expr} * ${wg}u + lid); row < ${spec.rows}i; row = row + ${
        groups * wg
      }i) {`,
    ];
  const code = [
    decls,
    ...shared,
    helperSource(emitter.helpers),
    `@compute @workgroup_size(${wg})`,
    "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {",
    ...prelude,
    ...lines.map((l) => "  " + l),
    "  }",
    "}",
  ].join("\n");
  return clear.length > 0
    ? { name: spec.name, code, bindings, workgroups, clear }
    : { name: spec.name, code, bindings, workgroups };
}
