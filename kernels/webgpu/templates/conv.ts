/**
 * General convolution (1, 2, 3 or more spatial dimensions) as an implicit GEMM WGSL kernel: the
 * input patches are gathered on the fly, never materialized as an im2col buffer.
 *
 * Layouts follow the `conv` primitive: lhs `[N, C, ...spatial]`, rhs `[O, C/groups, ...kernel]`,
 * out `[N, O, ...outSpatial]`. For each group `g` the product is
 *
 *     out[n, g Og + o, p] = sum_{c < Cg, k < kvol} x[n, g Cg + c, src(p, k)] * w[g Og + o, c, k],
 *
 * a GEMM with `M = N * prod(outSpatial)` rows (output pixels), `Og = O / groups` columns and
 * `K = Cg * prod(kernel)` reduction steps. Output position `o_d` and kernel offset `k_d` read the
 * input at `q_d = o_d * stride_d + k_d * rhsDilation_d - padLow_d` of the input dilated by
 * `lhsDilation` (so `q_d` must be a multiple of it) and zero-padded (negative padding crops):
 * exactly the reference interpreter's `convReference`.
 *
 * Two strategies (see {@link convPlan}):
 * - `"direct"` (default): a workgroup of 16 invocations takes up to 16 output channels of one
 *   group (weights read uniformly by all invocations) and 8 pixels per invocation, a 16 x 8
 *   register tile with no workgroup memory and no barrier. Fastest on lavapipe.
 * - `"tiled"`: a workgroup of 64 invocations computes 64 pixels x `TO` (<= 64) output channels.
 *   Per chunk of up to 32 reduction steps it gathers the input tile `[KC][64]` (each invocation
 *   one pixel, its coordinates decoded once) and the weight tile `[KC][TO]` into workgroup
 *   memory; invocation `(tr, tc)` accumulates channels `tr * TO/8 + i` of pixels `tc + 8j`.
 *   The classic GPU shape; 2x slower on lavapipe because of its barriers.
 *
 * Both run kernel offsets outer and channels inner when a group has at least 8 input channels
 * (each pixel's window decoded once per kernel offset), else the flat `k = c * kvol + kp` order
 * (small channel counts, and the kernel-gradient convolutions whose "kernel" is a whole clip).
 *
 * @module
 */

import { convOutputSize, type ConvParams } from "../../primitives.ts";
import type { Kernel, KernelPlan, KernelTarget } from "../kernel.ts";
import { declareTile, tileCells, tileGemm } from "./_tile_gemm.ts";
import {
  checkBindings,
  declareStorage,
  enableFor,
  type FloatStorage,
  linearGrid,
  range,
} from "./_wgsl.ts";

/** The static description of one convolution (all sizes are baked into the kernel). */
export interface ConvSpec {
  /** `[N, C, ...spatial]`. */
  readonly lhsShape: readonly number[];
  /** `[O, C / groups, ...kernel]`. */
  readonly rhsShape: readonly number[];
  /** `[N, O, ...outSpatial]`, as `abstractEval` computes it. */
  readonly outShape: readonly number[];
  readonly params: ConvParams;
  /** Storage type of lhs, rhs and out; accumulation is always float32. */
  readonly dtype: FloatStorage;
  /**
   * `"direct"` (default): no workgroup memory and no barriers, weights read uniformly by the
   * whole workgroup; fastest on the software adapter (see {@link convPlan}). `"tiled"`: input
   * and weight tiles staged in workgroup memory and shared by an 8 x 8 invocation grid, the
   * classic GPU shape.
   */
  readonly strategy?: "direct" | "tiled";
}

/** Tiled strategy: invocations (an 8 x 8 grid), pixels per tile, reduction steps per chunk. */
const threads = 64;
const grid = 8;
const tilePixels = 64;
const chunk = 32;
/** Direct strategy: invocations, most pixels and output channels per invocation. */
const directThreads = 16;
const directPixels = 8;
const directChannels = 16;

const fmt = (shape: readonly number[]) => `[${shape.join(", ")}]`;

function checkSpec(spec: ConvSpec, what: string): void {
  const { lhsShape: x, rhsShape: w, outShape: out, params: p } = spec;
  const nd = x.length - 2;
  const shapes = `lhs ${fmt(x)}, rhs ${fmt(w)}, out ${fmt(out)}`;
  if (nd < 1 || w.length !== nd + 2 || out.length !== nd + 2) {
    throw new Error(`${what}: ${shapes} must be [N, C, ...], [O, C/groups, ...], [N, O, ...]`);
  }
  if ([...x, ...w, ...out].some((s) => !Number.isInteger(s) || s < 0)) {
    throw new Error(`${what}: ${shapes} must have non-negative integer sizes`);
  }
  for (
    const [name, list] of [["strides", p.strides], ["lhsDilation", p.lhsDilation], [
      "rhsDilation",
      p.rhsDilation,
    ]] as const
  ) {
    if (list.length !== nd || list.some((s) => !Number.isInteger(s) || s < 1)) {
      throw new Error(`${what}: ${name} ${JSON.stringify(list)} must be ${nd} positive integers`);
    }
  }
  if (
    p.padding.length !== nd ||
    p.padding.some((pair) => pair.length !== 2 || pair.some((v) => !Number.isInteger(v)))
  ) {
    throw new Error(`${what}: padding ${JSON.stringify(p.padding)} needs ${nd} integer pairs`);
  }
  const [n, c] = [x[0]!, x[1]!], [o, cg] = [w[0]!, w[1]!];
  if (
    !(Number.isInteger(p.groups) && p.groups >= 1) || c % p.groups || o % p.groups ||
    c / p.groups !== cg
  ) {
    throw new Error(`${what}: channels do not match: ${shapes}, groups ${p.groups}`);
  }
  const expected = [
    n,
    o,
    ...range(nd).map((d) =>
      convOutputSize(
        x[2 + d]!,
        w[2 + d]!,
        p.strides[d]!,
        p.padding[d]!,
        p.lhsDilation[d]!,
        p.rhsDilation[d]!,
      )
    ),
  ];
  if (expected.some((s, i) => s !== out[i])) {
    throw new Error(`${what}: out ${fmt(out)} should be ${fmt(expected)} for ${shapes}`);
  }
  if (spec.dtype !== "f32" && spec.dtype !== "f16") {
    throw new Error(`${what}: dtype must be "f32" or "f16", got "${String(spec.dtype)}"`);
  }
}

/** Row-major strides of `shape`. */
function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) out[i] = out[i + 1]! * shape[i + 1]!;
  return out;
}

const product = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/** Sizes of a checked convolution, and WGSL for the window arithmetic both strategies share. */
class Geometry {
  readonly nd: number;
  readonly batch: number;
  readonly channels: number;
  readonly outC: number;
  /** Input channels per group (`C / groups`). */
  readonly cg: number;
  /** Output channels per group (`O / groups`). */
  readonly og: number;
  readonly inSp: readonly number[];
  readonly kSp: readonly number[];
  readonly outSp: readonly number[];
  readonly inPlane: number;
  readonly kvol: number;
  readonly outPlane: number;
  /** GEMM rows: output pixels over the batch. */
  readonly m: number;
  /** GEMM reduction length `Cg * kvol`. */
  readonly kTotal: number;
  readonly xLen: number;
  readonly wLen: number;
  readonly #inStrides: number[];
  readonly #kStrides: number[];
  readonly #outStrides: number[];

  constructor(readonly spec: ConvSpec) {
    const { lhsShape: xs, rhsShape: ws, outShape: os } = spec;
    this.nd = xs.length - 2;
    [this.batch, this.channels] = [xs[0]!, xs[1]!];
    [this.outC, this.cg] = [ws[0]!, ws[1]!];
    this.og = this.outC / spec.params.groups;
    this.inSp = xs.slice(2);
    this.kSp = ws.slice(2);
    this.outSp = os.slice(2);
    this.inPlane = product(this.inSp);
    this.kvol = product(this.kSp);
    this.outPlane = product(this.outSp);
    this.m = this.batch * this.outPlane;
    this.kTotal = this.cg * this.kvol;
    this.xLen = Math.max(1, this.batch * this.channels * this.inPlane);
    this.wLen = Math.max(1, this.outC * this.kTotal);
    this.#inStrides = strides(this.inSp);
    this.#kStrides = strides(this.kSp);
    this.#outStrides = strides(this.outSp);
  }

  /**
   * For GEMM row (pixel) `gp`: `valid{s}`, the input offset `base{s}` of its batch item and
   * group `g`, and the window corner `q0{s}_d = o_d * stride_d - padLow_d`.
   */
  pixel(gp: string, s: string): string[] {
    const { m, outPlane, channels, inPlane, cg, nd, outSp } = this;
    const p = this.spec.params;
    return [
      `let valid${s} = ${gp} < ${m}u;`,
      `let pn${s} = min(${gp}, ${m - 1}u) / ${outPlane}u;`,
      `let pp${s} = min(${gp}, ${m - 1}u) % ${outPlane}u;`,
      `let base${s} = pn${s} * ${channels * inPlane}u + g * ${cg * inPlane}u;`,
      ...range(nd).map((d) =>
        `let q0${s}_${d} = i32((pp${s} / ${this.#outStrides[d]}u) % ${outSp[d]}u) * ${
          p.strides[d]
        } + (${-p.padding[d]![0]});`
      ),
    ];
  }

  /**
   * For kernel offset `kp` (flat over the kernel window) and the pixel of {@link pixel}: whether
   * it reads inside the dilated, padded input (`ok{s}`) and the offset it reads before adding
   * the channel (`at{s}`).
   */
  window(kp: string, s: string): string[] {
    const p = this.spec.params;
    return [
      `var ok${s} = valid${s};`,
      `var at${s} = base${s};`,
      ...range(this.nd).flatMap((d) => {
        const ld = p.lhsDilation[d]!;
        const q = `q${s}_${d}`;
        const lines = [
          `let ${q} = q0${s}_${d} + i32((${kp} / ${this.#kStrides[d]}u) % ${this.kSp[d]}u) * ${
            p.rhsDilation[d]
          };`,
        ];
        if (ld === 1) {
          lines.push(`ok${s} = ok${s} && ${q} >= 0 && ${q} < ${this.inSp[d]};`);
          lines.push(`at${s} += u32(max(${q}, 0)) * ${this.#inStrides[d]}u;`);
        } else {
          // Input dilation: only every ld-th position of the dilated input holds an element.
          lines.push(
            `ok${s} = ok${s} && ${q} >= 0 && ${q} % ${ld} == 0 && ${q} / ${ld} < ${this.inSp[d]};`,
          );
          lines.push(`at${s} += u32(max(${q}, 0) / ${ld}) * ${this.#inStrides[d]}u;`);
        }
        return lines;
      }),
    ];
  }

  /**
   * Nested loops over the kernel window (spatial dimension 0 outermost) around `body`, for the
   * pixels of {@link pixel} with suffixes `ss`: each level advances every pixel's window
   * position by one kernel step of its dimension, so the innermost body sees `ok{s}`/`at{s}`
   * (as {@link window} computes them) and the flat kernel offset `kp` with no integer division
   * or modulo per step (on lavapipe those cost more than the multiply-adds when a group has
   * few input channels, e.g. the kernel-gradient convolutions whose "kernel" is a whole clip).
   * Offsets are visited in increasing `kp`, so the reduction order is that of a flat loop.
   */
  windowLoops(ss: readonly string[], body: string): string {
    const p = this.spec.params;
    const nd = this.nd;
    const level = (d: number): string => {
      if (d === nd) {
        const kp = range(nd).reduce(
          (acc, a) => (a === 0 ? "kw0" : `(${acc}) * ${this.kSp[a]}u + kw${a}`),
          "",
        );
        return [
          `let kp = ${kp};`,
          ...ss.flatMap((
            s,
          ) => [`let ok${s} = ok${s}_${nd - 1};`, `let at${s} = at${s}_${nd - 1};`]),
          body,
        ].join("\n    ");
      }
      const ld = p.lhsDilation[d]!;
      const lines = ss.flatMap((s) => {
        const q = `q${s}_${d}`;
        const okUp = d === 0 ? `valid${s}` : `ok${s}_${d - 1}`;
        const atUp = d === 0 ? `base${s}` : `at${s}_${d - 1}`;
        const inside = ld === 1
          ? `${q} >= 0 && ${q} < ${this.inSp[d]}`
          : `${q} >= 0 && ${q} % ${ld} == 0 && ${q} / ${ld} < ${this.inSp[d]}`;
        const offset = ld === 1 ? `u32(max(${q}, 0))` : `u32(max(${q}, 0) / ${ld})`;
        return [
          `let ${q} = q0${s}_${d} + i32(kw${d}) * ${p.rhsDilation[d]};`,
          `let ok${s}_${d} = ${okUp} && ${inside};`,
          `let at${s}_${d} = ${atUp} + ${offset} * ${this.#inStrides[d]}u;`,
        ];
      });
      return `for (var kw${d} = 0u; kw${d} < ${this.kSp[d]}u; kw${d}++) {
    ${lines.join("\n    ")}
    ${level(d + 1)}
    }`;
    };
    return level(0);
  }

  /** The input element of channel `c` at the window of pixel `s` (zero outside). */
  read(c: string, s: string): string {
    return `select(0.0, f32(x[min(at${s} + ${c} * ${this.inPlane}u, ${this.xLen - 1}u)]), ok${s})`;
  }

  /** The three storage bindings: `x` (lhs), `w` (rhs), `y` (out), after `header`. */
  bindings(header: string): string {
    const dtype = this.spec.dtype;
    return `${header}${declareStorage(0, "x", dtype, false)}
${declareStorage(1, "w", dtype, false)}
${declareStorage(2, "y", dtype, true)}`;
  }

  /** The output offset of pixel `s` and output channel `oc` of group `g`. */
  out(s: string, oc: string): string {
    return `(pn${s} * ${this.outC}u + g * ${this.og}u + ${oc}) * ${this.outPlane}u + pp${s}`;
  }
}

/**
 * The kernel plan of a convolution: inputs `in0 = lhs`, `in1 = rhs`, output `out0 = out`, all
 * `spec.dtype`, row-major, matching the reference interpreter's `conv` (see the module doc).
 * Every field of {@link ConvParams} is supported: strides, low/high padding (negative crops),
 * lhs dilation (transposed convolution, as in input gradients), rhs dilation and groups.
 *
 * The default `"direct"` strategy gives each workgroup of 16 invocations up to 16 output
 * channels of one group (the same for all, so every weight load is uniform: one scalar load on
 * the software adapter, a broadcast on GPUs) and each invocation up to 8 pixels (`lid + 16j`,
 * consecutive across invocations, so input reads and output writes coalesce): a 16 x 8 register
 * tile fed by 16 + 8 loads per reduction step, with no workgroup memory and no barrier. It
 * measured 2-2.5x faster on lavapipe than the `"tiled"` strategy, because lavapipe runs a
 * workgroup with barriers as coroutines whose frames hold the accumulators across barriers.
 * When a group has at least 8 input channels the reduction runs kernel offsets outer and
 * channels inner, so each pixel's window is decoded once per kernel offset.
 *
 * @example
 * ```ts ignore
 * import { convPlan } from "./conv.ts";
 * // conv3d, 128 -> 128 channels, 3x3x3, stride 1, padding 1: [1,128,9,64,64] -> [1,128,9,64,64]
 * const plan = convPlan({
 *   lhsShape: [1, 128, 9, 64, 64], rhsShape: [128, 128, 3, 3, 3], outShape: [1, 128, 9, 64, 64],
 *   params: {
 *     strides: [1, 1, 1], padding: [[1, 1], [1, 1], [1, 1]], lhsDilation: [1, 1, 1],
 *     rhsDilation: [1, 1, 1], groups: 1,
 *   },
 *   dtype: "f32",
 * }, target);
 * ```
 */
export function convPlan(spec: ConvSpec, target: KernelTarget): KernelPlan {
  const what = "convPlan";
  checkSpec(spec, what);
  const header = enableFor(spec.dtype, target, what);
  checkBindings("conv", 3, target);
  const geo = new Geometry(spec);
  if (geo.m === 0 || geo.outC === 0) return { scratch: [], kernels: [] };
  const strategy = spec.strategy ?? "direct";
  if (strategy !== "direct" && strategy !== "tiled") {
    throw new Error(`${what}: strategy must be "direct" or "tiled", got "${String(strategy)}"`);
  }
  return {
    scratch: [],
    kernels: [
      strategy === "direct" ? directKernel(geo, header, target) : tiledKernel(geo, header, target),
    ],
  };
}

/** The kernel name's shape part, e.g. `conv3d_3x3x3_cg128_og128`. */
function baseName(geo: Geometry): string {
  return `conv${geo.nd}d_${geo.kSp.join("x")}_cg${geo.cg}_og${geo.og}`;
}

function directKernel(geo: Geometry, header: string, target: KernelTarget): Kernel {
  const { m, og, cg, kvol, kTotal, wLen } = geo;
  const groups = geo.spec.params.groups;
  const wg = directThreads;
  const rp = Math.min(directPixels, Math.max(1, Math.ceil(m / wg)));
  const ro = Math.min(directChannels, og);
  const pixelTiles = Math.ceil(m / (wg * rp)), oTiles = Math.ceil(og / ro);
  const layout = linearGrid(pixelTiles * groups * oTiles, target.maxWorkgroupsPerDimension);
  const channelsInner = cg >= 8;
  // Weight rows of this workgroup's channels og0 + i (clamped; channels past Og store nothing).
  const wRows = range(ro).map((i) =>
    `let wr${i} = (g * ${og}u + min(og0 + ${i}u, ${og - 1}u)) * ${kTotal}u;`
  );
  const fmas = tileCells(ro, rp).map(([i, j]) => `acc${i}_${j} = fma(a${i}, b${j}, acc${i}_${j});`);
  const pixels = range(rp).map((j) => `${j}`);
  const reduction = channelsInner
    ? geo.windowLoops(
      pixels,
      `for (var c = 0u; c < ${cg}u; c++) {
      ${range(rp).map((j) => `let b${j} = ${geo.read("c", `${j}`)};`).join("\n      ")}
      ${
        range(ro).map((i) => `let a${i} = f32(w[min(wr${i} + c * ${kvol}u + kp, ${wLen - 1}u)]);`)
          .join("\n      ")
      }
      ${fmas.join("\n      ")}
    }`,
    )
    : `for (var c = 0u; c < ${cg}u; c++) {
    // Reduction step k = c * kvol + kp.
    ${
      geo.windowLoops(
        pixels,
        `${range(rp).map((j) => `let b${j} = ${geo.read("c", `${j}`)};`).join("\n    ")}
    ${
          range(ro).map((i) => `let a${i} = f32(w[min(wr${i} + c * ${kvol}u + kp, ${wLen - 1}u)]);`)
            .join("\n    ")
        }
    ${fmas.join("\n    ")}`,
      )
    }
  }`;
  const code = `${geo.bindings(header)}

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${layout.prologue}
  let pix0 = (wgIndex % ${pixelTiles}u) * ${wg * rp}u;
  let og0 = ((wgIndex / ${pixelTiles}u) % ${oTiles}u) * ${ro}u;
  let g = wgIndex / ${pixelTiles * oTiles}u;
  // Pixels pix0 + lid + 16j of this invocation, and output channels og0 + i of the workgroup.
  ${range(rp).flatMap((j) => geo.pixel(`pix0 + lid + ${wg * j}u`, `${j}`)).join("\n  ")}
  ${wRows.join("\n  ")}
  ${declareTile("acc", ro, rp)}
  ${reduction}
  ${
    range(rp).map((j) =>
      `if (valid${j}) {
    ${
        range(ro).map((i) =>
          `if (og0 + ${i}u < ${og}u) { y[${
            geo.out(`${j}`, `og0 + ${i}u`)
          }] = ${geo.spec.dtype}(acc${i}_${j}); }`
        ).join("\n    ")
      }
  }`
    ).join("\n  ")
  }
}
`;
  return {
    name: `${baseName(geo)}_direct_${ro}x${rp}_${geo.spec.dtype}`,
    code,
    bindings: [
      { buffer: "in0", access: "read" },
      { buffer: "in1", access: "read" },
      { buffer: "out0", access: "read_write" },
    ],
    workgroups: layout.workgroups,
  };
}

function tiledKernel(geo: Geometry, header: string, target: KernelTarget): Kernel {
  const what = "convPlan";
  const { m, og, cg, kvol, kTotal, inPlane, xLen, wLen } = geo;
  const groups = geo.spec.params.groups;
  const to = Math.min(64, Math.ceil(og / grid) * grid), ro = to / grid;
  const rp = tilePixels / grid;
  // Channels-inner order (kernel offsets outer) when a group has enough channels: the window
  // position of each pixel is then decoded once per kernel offset instead of once per element.
  const channelsInner = cg >= 8;
  const kc = Math.max(1, Math.min(chunk, channelsInner ? cg : kTotal));
  if (4 * kc * (tilePixels + to) > target.maxWorkgroupStorageBytes) {
    throw new Error(`${what}: needs ${4 * kc * (tilePixels + to)} bytes of workgroup memory`);
  }
  if (target.maxInvocationsPerWorkgroup < threads) {
    throw new Error(`${what}: needs ${threads} invocations per workgroup`);
  }
  const pixelTiles = Math.ceil(m / tilePixels), oTiles = Math.ceil(og / to);
  const layout = linearGrid(pixelTiles * groups * oTiles, target.maxWorkgroupsPerDimension);
  const weightTile = (index: string, valid: string) => `
    for (var e = lid; e < ${kc * to}u; e += ${threads}u) {
      let o = e / ${kc}u;
      let kk = e % ${kc}u;
      wt[kk * ${to}u + o] = select(0.0, f32(w[min(${index}, ${
    wLen - 1
  }u)]), og0 + o < ${og}u && ${valid});
    }`;
  const gemm = (steps: string) =>
    tileGemm(
      "acc",
      ro,
      rp,
      (i, kk) => `wt[${kk} * ${to}u + tr * ${ro}u + ${i}u]`,
      (j, kk) => `xt[${kk} * ${tilePixels}u + tc + ${grid * j}u]`,
      steps,
    );
  const wRow = `(g * ${og}u + og0 + o)`;
  const reduction = channelsInner
    ? `for (var kp = 0u; kp < ${kvol}u; kp++) {
    ${geo.window("kp", "").join("\n    ")}
    for (var c0 = 0u; c0 < ${cg}u; c0 += ${kc}u) {
      // Input tile xt[kk][pixel] = x[n, g Cg + c0 + kk, window + kp]: one pixel per invocation.
      for (var e = lid; e < ${kc * tilePixels}u; e += ${threads}u) {
        let c = c0 + e / ${tilePixels}u;
        xt[e] = select(0.0, f32(x[min(at + c * ${inPlane}u, ${xLen - 1}u)]), ok && c < ${cg}u);
      }
      // Weight tile wt[kk][o] = w[g Og + og0 + o, c0 + kk, kp].
      ${weightTile(`(${wRow} * ${cg}u + c0 + kk) * ${kvol}u + kp`, `c0 + kk < ${cg}u`)}
      workgroupBarrier();
      ${gemm(`min(${kc}u, ${cg}u - c0)`)}
      workgroupBarrier();
    }
  }`
    : `for (var k0 = 0u; k0 < ${kTotal}u; k0 += ${kc}u) {
    // Input tile xt[kk][pixel] for reduction steps k = c * kvol + kp: one pixel per invocation.
    for (var e = lid; e < ${kc * tilePixels}u; e += ${threads}u) {
      let k = k0 + e / ${tilePixels}u;
      let kq = min(k, ${Math.max(0, kTotal - 1)}u);
      let kp = kq % ${kvol}u;
      ${geo.window("kp", "").join("\n      ")}
      at += (kq / ${kvol}u) * ${inPlane}u;
      xt[e] = select(0.0, f32(x[min(at, ${xLen - 1}u)]), ok && k < ${kTotal}u);
    }
    // Weight tile wt[kk][o] = w[g Og + og0 + o][k0 + kk] (zero past Og or K).
    ${weightTile(`${wRow} * ${kTotal}u + k0 + kk`, `k0 + kk < ${kTotal}u`)}
    workgroupBarrier();
    ${gemm(`min(${kc}u, ${kTotal}u - k0)`)}
    workgroupBarrier();
  }`;
  const code = `${geo.bindings(header)}
var<workgroup> xt: array<f32, ${kc * tilePixels}>;
var<workgroup> wt: array<f32, ${kc * to}>;

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${layout.prologue}
  let pix0 = (wgIndex % ${pixelTiles}u) * ${tilePixels}u;
  let og0 = ((wgIndex / ${pixelTiles}u) % ${oTiles}u) * ${to}u;
  let g = wgIndex / ${pixelTiles * oTiles}u;
  let tr = lid / ${grid}u;
  let tc = lid % ${grid}u;
  // The pixel this invocation gathers (pix0 + lid); it accumulates pixels pix0 + tc + 8j.
  ${geo.pixel("pix0 + lid", "").join("\n  ")}
  ${declareTile("acc", ro, rp)}
  ${reduction}
  ${
    range(rp).map((j) =>
      `{
    ${geo.pixel(`pix0 + tc + ${grid * j}u`, `o${j}`).slice(0, 3).join(" ")}
    if (valido${j}) {
      ${
        range(ro).map((i) =>
          `if (og0 + tr * ${ro}u + ${i}u < ${og}u) { y[${
            geo.out(`o${j}`, `og0 + tr * ${ro}u + ${i}u`)
          }] = ${geo.spec.dtype}(acc${i}_${j}); }`
        ).join("\n      ")
      }
    }
  }`
    ).join("\n  ")
  }
}
`;
  return {
    name: `${baseName(geo)}_tiled_${to}x${tilePixels}_${geo.spec.dtype}`,
    code,
    bindings: [
      { buffer: "in0", access: "read" },
      { buffer: "in1", access: "read" },
      { buffer: "out0", access: "read_write" },
    ],
    workgroups: layout.workgroups,
  };
}
