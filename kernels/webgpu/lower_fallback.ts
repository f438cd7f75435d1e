/**
 * Straightforward (correct, unfused) WGSL for the opaque primitives: direct convolution for
 * every `ConvParams`, attention forward (online softmax, one thread per query row, never
 * materializing the scores) and backward (one thread per query row for dq, one per key row for
 * dk/dv), and `scatter_add` (atomic adds; floats by compare-and-swap).
 *
 * `attentionForwardPlan`, `attentionBackwardPlan` and `convPlan` have the signatures of the
 * hand-written templates (`templates/attention.ts`, `templates/conv.ts`), which replace them.
 *
 * @module
 */

import type { DType } from "../dtype.ts";
import type { Aval, ConvParams } from "../primitives.ts";
import { sizeOf, stridesOf } from "../shape.ts";
import type { StorageFormat } from "./ir.ts";
import type { KernelPlan, KernelTarget } from "./kernel.ts";
import { workgroupGrid } from "./kernel.ts";
import { isPacked, loadExpr, type RuntimeKernel, storeStatement } from "./codegen.ts";
import { bindingDecl } from "./wgsl_render.ts";
import { helperSource } from "./wgsl_helpers.ts";
import type { RuntimePlan } from "./schedule.ts";

/** A plan operand: its aval and storage layout. */
export interface PlanOperand {
  readonly aval: Aval;
  readonly format: StorageFormat;
}

function roundFor(format: StorageFormat, value: string, helpers: Set<string>): string {
  if (format === "f16" || format === "f16x2") {
    helpers.add("d_round_f16");
    return `d_round_f16(${value})`;
  }
  if (format === "bf16x2") {
    helpers.add("d_round_bf16");
    return `d_round_bf16(${value})`;
  }
  return value;
}

interface KernelParts {
  readonly name: string;
  readonly inputs: readonly StorageFormat[];
  readonly outputs: readonly {
    readonly name: string;
    readonly format: StorageFormat;
    /** Declared `atomic<u32>` (floats accumulated by compare-and-swap). */
    readonly atomicU32?: boolean;
    /** Declared atomic in its own format (integer atomicAdd). */
    readonly atomic?: boolean;
  }[];
  readonly threads: number;
  readonly body: (helpers: Set<string>) => string[];
  readonly target: KernelTarget;
  readonly wg?: number;
}

/** Assembles a one-thread-per-item kernel; the body sees `gid` (i32) below `threads`. */
function simpleKernel(parts: KernelParts): RuntimeKernel {
  const wg = parts.wg ?? 64;
  const helpers = new Set<string>();
  const lines: string[] = [];
  const formats = [...parts.inputs, ...parts.outputs.map((o) => o.format)];
  if (formats.includes("f16")) lines.push("enable f16;");
  const bindings: { buffer: string; access: "read" | "read_write" }[] = [];
  parts.inputs.forEach((f, i) => {
    lines.push(bindingDecl(bindings.length, `in${i}`, f, "read"));
    bindings.push({ buffer: `in${i}`, access: "read" });
  });
  const clear: string[] = [];
  for (const o of parts.outputs) {
    const atomic = o.atomicU32 === true || o.atomic === true || isPacked(o.format);
    if (atomic) clear.push(o.name);
    const format: StorageFormat = o.atomicU32 ? "u32" : o.format;
    lines.push(bindingDecl(bindings.length, o.name, format, "read_write", atomic));
    bindings.push({ buffer: o.name, access: "read_write" });
  }
  const grid = workgroupGrid(Math.ceil(parts.threads / wg), parts.target.maxWorkgroupsPerDimension);
  const body = parts.body(helpers);
  const code = [
    ...lines,
    helperSource(helpers),
    `@compute @workgroup_size(${wg})`,
    "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {",
    `  let gid = i32((wid.x + wid.y * ${grid[0]}u + wid.z * ${
      grid[0] * grid[1]
    }u) * ${wg}u + lid);`,
    `  if (gid >= ${parts.threads}i) { return; }`,
    // A zero the compiler cannot prove: outer loop bounds use it so that LLVM (lavapipe) does
    // not fully unroll nested constant-trip loops, which made single kernels take 30 s to build.
    `  let dz = i32(wid.x >> 31u);`,
    ...body.map((l) => "  " + l),
    "}",
  ].join("\n");
  const kernel: RuntimeKernel = { name: parts.name, code, bindings, workgroups: grid };
  return clear.length > 0 ? { ...kernel, clear } : kernel;
}

// ---- Convolution ---------------------------------------------------------------------------

/** The spec of a convolution plan (as the `templates/conv.ts` contract). */
export interface ConvSpec {
  readonly lhsShape: readonly number[];
  readonly rhsShape: readonly number[];
  readonly outShape: readonly number[];
  readonly params: ConvParams;
  readonly dtype: "f32" | "f16";
}

/**
 * A direct convolution kernel on operands in any storage layout.
 *
 * @example
 * ```ts ignore
 * convKernel(xShape, wShape, outShape, params, { x: "bf16x2", w: "bf16x2", out: "bf16x2" }, target);
 * ```
 */
export function convKernel(
  xs: readonly number[],
  ws: readonly number[],
  os: readonly number[],
  p: ConvParams,
  formats: { x: StorageFormat; w: StorageFormat; out: StorageFormat },
  target: KernelTarget,
): RuntimeKernel {
  const nd = xs.length - 2;
  const [, cPerGroup] = [ws[0]!, ws[1]!];
  const outC = ws[0]!;
  const oPerGroup = outC / p.groups;
  const xStr = stridesOf(xs), wStr = stridesOf(ws), oStr = stridesOf(os);
  const kSpatial = ws.slice(2);
  const kSize = sizeOf(kSpatial);
  const kStr = stridesOf(kSpatial);
  return simpleKernel({
    name: `conv${nd}d_fallback_${os.join("x")}`,
    inputs: [formats.x, formats.w],
    outputs: [{ name: "out0", format: formats.out }],
    threads: sizeOf(os),
    target,
    body: (helpers) => {
      const lines = [
        `let n = gid / ${oStr[0]}i;`,
        `let o = (gid / ${oStr[1]}i) % ${os[1]}i;`,
        `let g = o / ${oPerGroup}i;`,
      ];
      for (let d = 0; d < nd; d++) {
        lines.push(`let p${d} = (gid / ${oStr[2 + d]}i) % ${os[2 + d]}i;`);
      }
      lines.push(`var acc = 0.0f;`);
      lines.push(`for (var c = 0i; c < ${cPerGroup}i + dz; c = c + 1i) {`);
      lines.push(`  let xBase = n * ${xStr[0]}i + (g * ${cPerGroup}i + c) * ${xStr[1]}i;`);
      lines.push(`  let wBase = o * ${wStr[0]}i + c * ${wStr[1]}i;`);
      lines.push(`  for (var kk = 0i; kk < ${kSize}i + dz; kk = kk + 1i) {`);
      lines.push(`    var ok = true;`, `    var xOff = xBase;`);
      for (let d = 0; d < nd; d++) {
        const [lo] = p.padding[d]!;
        const ld = p.lhsDilation[d]!;
        lines.push(
          `    let k${d} = (kk / ${kStr[d]}i) % ${kSpatial[d]}i;`,
          `    let q${d} = p${d} * ${p.strides[d]}i + k${d} * ${p.rhsDilation[d]}i - ${lo}i;`,
          `    let s${d} = q${d} / ${ld}i;`,
          `    ok = ok && q${d} >= 0i && (q${d} % ${ld}i) == 0i && s${d} < ${xs[2 + d]}i;`,
          `    xOff = xOff + s${d} * ${xStr[2 + d]}i;`,
        );
      }
      lines.push(
        `    if (ok) { acc = fma(${loadExpr(formats.x, "in0", "xOff", helpers)}, ${
          loadExpr(formats.w, "in1", "wBase + kk", helpers)
        }, acc); }`,
        `  }`,
        `}`,
        storeStatement("out0", formats.out, "gid", roundFor(formats.out, "acc", helpers), helpers),
      );
      return lines;
    },
  });
}

/**
 * A direct convolution (one thread per output element) for any {@link ConvParams}.
 *
 * @example
 * ```ts ignore
 * convPlan({ lhsShape: [1, 3, 8, 8], rhsShape: [4, 3, 3, 3], outShape: [1, 4, 6, 6], params, dtype: "f32" }, target);
 * ```
 */
export function convPlan(spec: ConvSpec, target: KernelTarget): KernelPlan {
  const f: StorageFormat = spec.dtype;
  return {
    scratch: [],
    kernels: [
      convKernel(
        spec.lhsShape,
        spec.rhsShape,
        spec.outShape,
        spec.params,
        { x: f, w: f, out: f },
        target,
      ),
    ],
  };
}

// ---- Attention -----------------------------------------------------------------------------

/** The spec of an attention plan (as the `templates/attention.ts` contract). */
export interface AttentionSpec {
  readonly batch: number;
  readonly heads: number;
  readonly seqQ: number;
  readonly seqK: number;
  readonly headDim: number;
  readonly headDimV: number;
  readonly scale: number;
  readonly causal: boolean;
  readonly dtype: "f32" | "f16";
}

/** `true` when key `j` is hidden from query `i` (causal, aligned at the end when Sq != Sk). */
function maskText(spec: AttentionSpec, i: string, j: string): string {
  return spec.causal ? `(${j} > ${i} + ${spec.seqK - spec.seqQ}i)` : "false";
}

/**
 * The attention forward kernel on operands in any storage layout.
 *
 * @example
 * ```ts ignore
 * attentionForwardKernels(spec, { q: "f16x2", k: "f16x2", v: "f16x2", out: "f16x2" }, target);
 * ```
 */
export function attentionForwardKernels(
  spec: AttentionSpec,
  f: { q: StorageFormat; k: StorageFormat; v: StorageFormat; out: StorageFormat },
  target: KernelTarget,
): RuntimeKernel {
  const { seqQ: sq, seqK: sk, headDim: d, headDimV: dv } = spec;
  const rows = spec.batch * spec.heads * sq;
  return simpleKernel({
    name: `attention_fwd_fallback_${rows}x${sk}x${d}`,
    inputs: [f.q, f.k, f.v],
    outputs: [{ name: "out0", format: f.out }, { name: "out1", format: "f32" }],
    threads: rows,
    target,
    body: (h) => {
      h.add("d_exp");
      h.add("d_log");
      return [
        `let bh = gid / ${sq}i;`,
        `let i = gid % ${sq}i;`,
        `var qv: array<f32, ${d}>;`,
        `for (var t = 0i; t < ${d}i + dz; t = t + 1i) { qv[t] = ${
          loadExpr(f.q, "in0", `gid * ${d}i + t`, h)
        }; }`,
        `var acc: array<f32, ${dv}>;`,
        `var mx = -d_inf();`,
        `var l = 0.0f;`,
        `for (var j = 0i; j < ${sk}i + dz; j = j + 1i) {`,
        `  if (${maskText(spec, "i", "j")}) { continue; }`,
        `  let kb = (bh * ${sk}i + j) * ${d}i;`,
        `  var s = 0.0f;`,
        `  for (var t = 0i; t < ${d}i + dz; t = t + 1i) { s = fma(qv[t], ${
          loadExpr(f.k, "in1", "kb + t", h)
        }, s); }`,
        `  s = s * ${fmt(spec.scale)};`,
        `  let mNew = max(mx, s);`,
        `  let corr = d_exp(mx - mNew);`,
        `  let pj = d_exp(s - mNew);`,
        `  l = l * corr + pj;`,
        `  let vb = (bh * ${sk}i + j) * ${dv}i;`,
        `  for (var t = 0i; t < ${dv}i + dz; t = t + 1i) { acc[t] = acc[t] * corr + pj * ${
          loadExpr(f.v, "in2", "vb + t", h)
        }; }`,
        `  mx = mNew;`,
        `}`,
        `let inv = select(0.0f, 1.0f / l, l > 0.0f);`,
        `for (var t = 0i; t < ${dv}i + dz; t = t + 1i) {`,
        `  ${
          storeStatement("out0", f.out, `gid * ${dv}i + t`, roundFor(f.out, "acc[t] * inv", h), h)
        }`,
        `}`,
        `out1[gid] = select(mx + d_log(l), -d_inf(), l == 0.0f);`,
      ];
    },
  });
}

function fmt(x: number): string {
  const s = String(Math.fround(x));
  return s.includes(".") || s.includes("e") ? `${s}f` : `${s}.0f`;
}

/**
 * Attention forward: q, k, v contiguous `[B, H, S, D]` -> out `[B, H, Sq, Dv]`, lse
 * `[B, H, Sq]` (float32).
 *
 * @example
 * ```ts ignore
 * attentionForwardPlan({ batch: 1, heads: 2, seqQ: 5, seqK: 5, headDim: 8, headDimV: 8, scale: 0.35, causal: false, dtype: "f32" }, target);
 * ```
 */
export function attentionForwardPlan(spec: AttentionSpec, target: KernelTarget): KernelPlan {
  const f: StorageFormat = spec.dtype;
  return {
    scratch: [],
    kernels: [attentionForwardKernels(spec, { q: f, k: f, v: f, out: f }, target)],
  };
}

/**
 * The attention backward kernels (dq; then dk and dv) on operands in any storage layout;
 * they share a `rowdot` scratch buffer of `B * H * Sq` floats.
 *
 * @example
 * ```ts ignore
 * attentionBackwardKernels(spec, formats, target);
 * ```
 */
export function attentionBackwardKernels(
  spec: AttentionSpec,
  f: {
    q: StorageFormat;
    k: StorageFormat;
    v: StorageFormat;
    o: StorageFormat;
    dOut: StorageFormat;
    grad: StorageFormat;
  },
  target: KernelTarget,
): RuntimeKernel[] {
  const { seqQ: sq, seqK: sk, headDim: d, headDimV: dv } = spec;
  const bhCount = spec.batch * spec.heads;
  const scale = fmt(spec.scale);
  const inputs = [f.q, f.k, f.v, f.o, "f32" as StorageFormat, f.dOut];
  // p_ij = exp(q_i . k_j * scale - lse_i); dP_ij = dOut_i . v_j (reference interpreter).
  const probAndDp = (h: Set<string>, qRow: string, kRow: string): string[] => [
    `var s = 0.0f;`,
    `for (var t = 0i; t < ${d}i + dz; t = t + 1i) { s = fma(${
      loadExpr(f.q, "in0", `${qRow} * ${d}i + t`, h)
    }, ${loadExpr(f.k, "in1", `${kRow} * ${d}i + t`, h)}, s); }`,
    `let pij = d_exp(s * ${scale} - in4[${qRow}]);`,
    `var dp = 0.0f;`,
    `for (var t = 0i; t < ${dv}i + dz; t = t + 1i) { dp = fma(${
      loadExpr(f.dOut, "in5", `${qRow} * ${dv}i + t`, h)
    }, ${loadExpr(f.v, "in2", `${kRow} * ${dv}i + t`, h)}, dp); }`,
  ];
  const dq = simpleKernel({
    name: `attention_bwd_dq_fallback_${bhCount * sq}x${sk}x${d}`,
    inputs,
    outputs: [{ name: "out0", format: f.grad }, { name: "rowdot", format: "f32" }],
    threads: bhCount * sq,
    target,
    body: (h) => {
      h.add("d_exp");
      return [
        `let bh = gid / ${sq}i;`,
        `let i = gid % ${sq}i;`,
        // D_i = rowsum(dOut_i * out_i) (FlashAttention-2; the reference interpreter's form).
        `var rd = 0.0f;`,
        `for (var t = 0i; t < ${dv}i + dz; t = t + 1i) { rd = fma(${
          loadExpr(f.dOut, "in5", `gid * ${dv}i + t`, h)
        }, ${loadExpr(f.o, "in3", `gid * ${dv}i + t`, h)}, rd); }`,
        `rowdot[gid] = rd;`,
        `var g: array<f32, ${d}>;`,
        `for (var j = 0i; j < ${sk}i + dz; j = j + 1i) {`,
        `  if (${maskText(spec, "i", "j")}) { continue; }`,
        `  let kr = bh * ${sk}i + j;`,
        ...probAndDp(h, "gid", "kr").map((l) => "  " + l),
        `  let ds = pij * (dp - rd) * ${scale};`,
        `  for (var t = 0i; t < ${d}i + dz; t = t + 1i) { g[t] = fma(ds, ${
          loadExpr(f.k, "in1", "kr * " + d + "i + t", h)
        }, g[t]); }`,
        `}`,
        `for (var t = 0i; t < ${d}i + dz; t = t + 1i) {`,
        `  ${storeStatement("out0", f.grad, `gid * ${d}i + t`, roundFor(f.grad, "g[t]", h), h)}`,
        `}`,
      ];
    },
  });
  const dkv = simpleKernel({
    name: `attention_bwd_dkv_fallback_${bhCount * sk}x${sq}x${d}`,
    inputs: [...inputs, "f32"],
    outputs: [{ name: "out1", format: f.grad }, { name: "out2", format: f.grad }],
    threads: bhCount * sk,
    target,
    body: (h) => {
      h.add("d_exp");
      return [
        `let bh = gid / ${sk}i;`,
        `let j = gid % ${sk}i;`,
        `var gk: array<f32, ${d}>;`,
        `var gv: array<f32, ${dv}>;`,
        `for (var i = 0i; i < ${sq}i + dz; i = i + 1i) {`,
        `  if (${maskText(spec, "i", "j")}) { continue; }`,
        `  let qr = bh * ${sq}i + i;`,
        ...probAndDp(h, "qr", "gid").map((l) => "  " + l),
        `  let ds = pij * (dp - in6[qr]) * ${scale};`,
        `  for (var t = 0i; t < ${dv}i + dz; t = t + 1i) { gv[t] = fma(pij, ${
          loadExpr(f.dOut, "in5", `qr * ${dv}i + t`, h)
        }, gv[t]); }`,
        `  for (var t = 0i; t < ${d}i + dz; t = t + 1i) { gk[t] = fma(ds, ${
          loadExpr(f.q, "in0", `qr * ${d}i + t`, h)
        }, gk[t]); }`,
        `}`,
        `for (var t = 0i; t < ${d}i + dz; t = t + 1i) {`,
        `  ${storeStatement("out1", f.grad, `gid * ${d}i + t`, roundFor(f.grad, "gk[t]", h), h)}`,
        `}`,
        `for (var t = 0i; t < ${dv}i + dz; t = t + 1i) {`,
        `  ${storeStatement("out2", f.grad, `gid * ${dv}i + t`, roundFor(f.grad, "gv[t]", h), h)}`,
        `}`,
      ];
    },
  });
  // The dk/dv kernel reads rowdot as a 7th input: rebind the scratch there.
  const dkvBound: RuntimeKernel = {
    ...dkv,
    bindings: dkv.bindings.map((
      b,
    ) => (b.buffer === "in6" ? { buffer: "rowdot", access: "read" } : b)),
  };
  return [dq, dkvBound];
}

/**
 * Attention backward: (q, k, v, out, lse, dOut) -> (dq, dk, dv), all contiguous.
 *
 * @example
 * ```ts ignore
 * attentionBackwardPlan(spec, target);
 * ```
 */
export function attentionBackwardPlan(spec: AttentionSpec, target: KernelTarget): KernelPlan {
  const f: StorageFormat = spec.dtype;
  return {
    scratch: [{ name: "rowdot", bytes: spec.batch * spec.heads * spec.seqQ * 4 }],
    kernels: attentionBackwardKernels(spec, { q: f, k: f, v: f, o: f, dOut: f, grad: f }, target),
  };
}

// ---- scatter_add ---------------------------------------------------------------------------

/**
 * `scatter_add` as atomic adds (floats by compare-and-swap into float32, rounded after).
 *
 * @example
 * ```ts ignore
 * scatterKernels(updates, indices, out, axis, target);
 * ```
 */
export function scatterKernels(
  updates: PlanOperand,
  indices: PlanOperand,
  out: PlanOperand,
  axis: number,
  target: KernelTarget,
): RuntimePlan {
  const us = updates.aval.shape, os = out.aval.shape;
  const r = indices.aval.shape.length;
  const size = os[axis]!;
  const inner = sizeOf(us.slice(axis + r));
  const idxCount = sizeOf(indices.aval.shape);
  const dtype: DType = out.aval.dtype;
  const float = dtype === "float32" || dtype === "float16" || dtype === "bfloat16";
  const direct = !float || dtype === "float32";
  const target32 = direct ? "out0" : "acc";
  // Each update element (o, t, p): o outer, t over the indices, p inner.
  const scatter = simpleKernel({
    name: `scatter_add_${sizeOf(us)}_to_${sizeOf(os)}`,
    inputs: [updates.format, indices.format],
    outputs: [{
      name: target32,
      format: float ? "f32" : out.format,
      atomicU32: float,
      atomic: true,
    }],
    threads: sizeOf(us),
    target,
    body: (h) => {
      const v = loadExpr(updates.format, "in0", "gid", h);
      const lines = [
        `let o = gid / ${idxCount * inner}i;`,
        `let t = (gid / ${inner}i) % ${idxCount}i;`,
        `let p = gid % ${inner}i;`,
        `let k = clamp(in1[t], 0i, ${size - 1}i);`,
        `let dst = (o * ${size}i + k) * ${inner}i + p;`,
        `let v = ${v};`,
      ];
      if (!float) lines.push(`atomicAdd(&${target32}[dst], v);`);
      else {
        lines.push(
          `var old = atomicLoad(&${target32}[dst]);`,
          `loop {`,
          `  let res = atomicCompareExchangeWeak(&${target32}[dst], old, bitcast<u32>(bitcast<f32>(old) + v));`,
          `  if (res.exchanged) { break; }`,
          `  old = res.old_value;`,
          `}`,
        );
      }
      return lines;
    },
  });
  if (direct) return { kernels: [scatter], scratch: [] };
  const convert = simpleKernel({
    name: `scatter_add_round_${sizeOf(os)}`,
    inputs: [],
    outputs: [{ name: "out0", format: out.format }],
    threads: sizeOf(os),
    target,
    body: (
      h,
    ) => [storeStatement("out0", out.format, "gid", roundFor(out.format, "acc[gid]", h), h)],
  });
  // The conversion reads the f32 accumulator as a plain array.
  const convertBound: RuntimeKernel = {
    ...convert,
    code: convert.code.replace(
      "@compute",
      `@group(0) @binding(1) var<storage, read_write> acc: array<f32>;\n@compute`,
    ),
    bindings: [...convert.bindings, { buffer: "acc", access: "read_write" }],
  };
  return { kernels: [scatter, convertBound], scratch: [{ name: "acc", bytes: sizeOf(os) * 4 }] };
}
