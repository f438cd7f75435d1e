/**
 * The reference interpreter: every primitive in plain TypeScript, computing in float64 and
 * rounding each result to its dtype once. It is the living specification of the primitives, the
 * oracle every WGSL kernel is tested against, and a (slow) device of its own.
 *
 * @module
 */

import type { DType } from "../dtype.ts";
import { isFloat } from "../dtype.ts";
import {
  type Aval,
  type BinaryPrimitive,
  binaryPrimitives,
  type Params,
  type Primitive,
  type UnaryPrimitive,
  unaryPrimitives,
} from "../primitives.ts";
import {
  bfloat16BitsToFloat,
  floatToBfloat16Bits,
  floatToHalfBits,
  halfBitsToFloat,
} from "../half.ts";
import { sizeOf, stridesOf } from "../shape.ts";
import { int8AttentionReference } from "./attention_int8.ts";
import { allocRef, type RefData, roundTo } from "./ref_array.ts";
import { binaryFn, convertScalar, unaryFn } from "./scalar_math.ts";
import { threefry2x32 } from "./threefry.ts";

/** Input of a rule: element storage and aval. */
export interface RefValue {
  readonly aval: Aval;
  readonly data: RefData;
}

type Rule<P extends Primitive> = (
  inputs: readonly RefValue[],
  params: Params<P>,
  outAvals: readonly Aval[],
) => RefData[];

function mapRounded(out: Aval, n: number, f: (i: number) => number): RefData {
  const data = allocRef(out.dtype, n);
  for (let i = 0; i < n; i++) data[i] = roundTo(f(i), out.dtype);
  return data;
}

function unaryRule(prim: UnaryPrimitive): Rule<UnaryPrimitive> {
  return ([x], _params, [out]) => {
    const f = unaryFn(prim, x!.aval.dtype);
    const src = x!.data;
    return [mapRounded(out!, src.length, (i) => f(src[i]!))];
  };
}

function binaryRule(prim: BinaryPrimitive): Rule<BinaryPrimitive> {
  return ([a, b], _params, [out]) => {
    const f = binaryFn(prim, a!.aval.dtype);
    const x = a!.data, y = b!.data;
    return [mapRounded(out!, x.length, (i) => f(x[i]!, y[i]!))];
  };
}

/** Calls `visit(outFlat, multiIndex)` for every element of `shape` in row-major order. */
function forEachIndex(
  shape: readonly number[],
  visit: (flat: number, index: number[]) => void,
): void {
  const n = sizeOf(shape);
  const index = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    visit(flat, index);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d]! < shape[d]!) break;
      index[d] = 0;
    }
  }
}

/** Builds an output by reading, for each output index, one input element (or a fill value). */
function gatherElements(
  x: RefValue,
  out: Aval,
  sourceOf: (index: number[]) => number,
  fill = 0,
): RefData {
  const data = allocRef(out.dtype, sizeOf(out.shape));
  const src = x.data;
  forEachIndex(out.shape, (flat, index) => {
    const s = sourceOf(index);
    data[flat] = s < 0 ? fill : src[s]!;
  });
  return data;
}

function reduceRule(
  combine: (acc: number, v: number) => number,
  init: number,
): Rule<"reduce_sum" | "reduce_max" | "reduce_min"> {
  return ([x], { axes }, [out]) => {
    const shape = x!.aval.shape;
    const outStrides = stridesOf(out!.shape);
    const kept = shape.map((_, i) => !axes.includes(i));
    const acc = new Float64Array(sizeOf(out!.shape)).fill(init);
    forEachIndex(shape, (flat, index) => {
      let o = 0, k = 0;
      for (let d = 0; d < shape.length; d++) if (kept[d]) o += index[d]! * outStrides[k++]!;
      acc[o] = combine(acc[o]!, x!.data[flat]!);
    });
    return [mapRounded(out!, acc.length, (i) => acc[i]!)];
  };
}

function argRule(better: (v: number, best: number) => boolean): Rule<"argmax" | "argmin"> {
  return ([x], { axis }, [out]) => {
    const shape = x!.aval.shape;
    const n = shape[axis]!;
    const stride = stridesOf(shape)[axis]!;
    const outN = sizeOf(out!.shape);
    const data = new Int32Array(outN);
    const inner = stride, outer = outN / inner;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * n * inner + i;
        let best = x!.data[base]!, bestK = 0;
        for (let k = 1; k < n && !Number.isNaN(best); k++) {
          const v = x!.data[base + k * stride]!;
          if (Number.isNaN(v) || better(v, best)) {
            best = v;
            bestK = k;
          }
        }
        data[o * inner + i] = bestK;
      }
    }
    return [data];
  };
}

const nanMax = (
  a: number,
  b: number,
) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b));
const nanMin = (
  a: number,
  b: number,
) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b));

function lowestOf(dtype: DType): number {
  return isFloat(dtype) ? -Infinity : dtype === "uint32" ? 0 : -2147483648;
}
function highestOf(dtype: DType): number {
  return isFloat(dtype) ? Infinity : dtype === "uint32" ? 4294967295 : 2147483647;
}

/** Clamps an index into `[0, n)` (out-of-range gathers clamp, as in JAX). */
function clampIndex(i: number, n: number): number {
  return i < 0 ? 0 : i >= n ? n - 1 : i;
}

const rules: { [P in Primitive]: Rule<P> } = {
  ...(Object.fromEntries(unaryPrimitives.map((p) => [p, unaryRule(p)])) as {
    [P in UnaryPrimitive]: Rule<P>;
  }),
  ...(Object.fromEntries(binaryPrimitives.map((p) => [p, binaryRule(p)])) as {
    [P in BinaryPrimitive]: Rule<P>;
  }),
  select: (
    [c, a, b],
    _p,
    [out],
  ) => [mapRounded(out!, c!.data.length, (i) => (c!.data[i] ? a!.data[i]! : b!.data[i]!))],
  cast: (
    [x],
    { dtype },
    [out],
  ) => [mapRounded(out!, x!.data.length, (i) => convertScalar(x!.data[i]!, dtype, x!.aval.dtype))],
  bitcast: ([x], { dtype }) => {
    const from = x!.aval.dtype;
    const n = x!.data.length;
    const buffer = new ArrayBuffer(n * (from === "float16" || from === "bfloat16" ? 2 : 4));
    // Write the source bits, then read them back as the target type.
    const view = new DataView(buffer);
    const bytes = from === "float16" || from === "bfloat16" ? 2 : 4;
    for (let i = 0; i < n; i++) {
      const v = x!.data[i]!;
      if (from === "float32") view.setFloat32(i * 4, v, true);
      else if (from === "int32") view.setInt32(i * 4, v, true);
      else if (from === "uint32") view.setUint32(i * 4, v, true);
      else view.setUint16(i * 2, roundTo16Bits(v, from), true);
    }
    const out = allocRef(dtype, n);
    for (let i = 0; i < n; i++) {
      if (dtype === "float32") out[i] = view.getFloat32(i * bytes, true);
      else if (dtype === "int32") out[i] = view.getInt32(i * bytes, true);
      else if (dtype === "uint32") out[i] = view.getUint32(i * bytes, true);
      else out[i] = from16Bits(view.getUint16(i * bytes, true), dtype);
    }
    return [out];
  },
  stop_gradient: ([x]) => [x!.data.slice()],
  reduce_sum: reduceRule((a, v) => a + v, 0),
  reduce_max: (inputs, params, outs) =>
    reduceRule(nanMax, lowestOf(inputs[0]!.aval.dtype))(inputs, params, outs),
  reduce_min: (inputs, params, outs) =>
    reduceRule(nanMin, highestOf(inputs[0]!.aval.dtype))(inputs, params, outs),
  argmax: argRule((v, best) => v > best),
  argmin: argRule((v, best) => v < best),
  cumsum: ([x], { axis, reverse }, [out]) => {
    const shape = x!.aval.shape;
    const n = shape[axis]!;
    const stride = stridesOf(shape)[axis]!;
    const total = x!.data.length;
    const data = allocRef(out!.dtype, total);
    const outer = n === 0 ? 0 : total / (n * stride);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < stride; i++) {
        let acc = 0;
        for (let kk = 0; kk < n; kk++) {
          const k = reverse ? n - 1 - kk : kk;
          const at = o * n * stride + k * stride + i;
          acc += x!.data[at]!;
          data[at] = roundTo(acc, out!.dtype);
        }
      }
    }
    return [data];
  },
  reshape: ([x]) => [x!.data.slice()],
  transpose: ([x], { perm }, [out]) => {
    const strides = stridesOf(x!.aval.shape);
    return [gatherElements(x!, out!, (index) => {
      let s = 0;
      for (let d = 0; d < perm.length; d++) s += index[d]! * strides[perm[d]!]!;
      return s;
    })];
  },
  broadcast: ([x], { dims }, [out]) => {
    const shape = x!.aval.shape;
    const strides = stridesOf(shape);
    return [gatherElements(x!, out!, (index) => {
      let s = 0;
      for (let i = 0; i < dims.length; i++) if (shape[i] !== 1) s += index[dims[i]!]! * strides[i]!;
      return s;
    })];
  },
  slice: ([x], { start, strides: steps }, [out]) => {
    const strides = stridesOf(x!.aval.shape);
    return [gatherElements(x!, out!, (index) => {
      let s = 0;
      for (let d = 0; d < index.length; d++) s += (start[d]! + index[d]! * steps[d]!) * strides[d]!;
      return s;
    })];
  },
  pad: ([x], { lo, interior, value }, [out]) => {
    const shape = x!.aval.shape;
    const strides = stridesOf(shape);
    return [gatherElements(x!, out!, (index) => {
      let s = 0;
      for (let d = 0; d < index.length; d++) {
        const p = index[d]! - lo[d]!;
        const step = interior[d]! + 1;
        if (p < 0 || p % step !== 0 || p / step >= shape[d]!) return -1;
        s += (p / step) * strides[d]!;
      }
      return s;
    }, roundTo(value, out!.dtype))];
  },
  flip: ([x], { axes }, [out]) => {
    const shape = x!.aval.shape;
    const strides = stridesOf(shape);
    return [gatherElements(x!, out!, (index) => {
      let s = 0;
      for (let d = 0; d < index.length; d++) {
        s += (axes.includes(d) ? shape[d]! - 1 - index[d]! : index[d]!) * strides[d]!;
      }
      return s;
    })];
  },
  concatenate: (inputs, { axis }, [out]) => {
    const data = allocRef(out!.dtype, sizeOf(out!.shape));
    const outShape = out!.shape;
    const inner = stridesOf(outShape)[axis]!;
    const outer = sizeOf(outShape.slice(0, axis));
    let offset = 0;
    for (const x of inputs) {
      const chunk = x.aval.shape[axis]! * inner;
      for (let o = 0; o < outer; o++) {
        data.set(
          x.data.subarray(o * chunk, (o + 1) * chunk) as ArrayLike<number>,
          o * outShape[axis]! * inner + offset,
        );
      }
      offset += chunk;
    }
    return [data];
  },
  take: ([x, idx], { axis }, [out]) => {
    const shape = x!.aval.shape;
    const strides = stridesOf(shape);
    const r = idx!.aval.shape.length;
    const idxStrides = stridesOf(idx!.aval.shape);
    return [gatherElements(x!, out!, (index) => {
      let flatIdx = 0;
      for (let d = 0; d < r; d++) flatIdx += index[axis + d]! * idxStrides[d]!;
      const k = clampIndex(idx!.data[flatIdx]!, shape[axis]!);
      let s = k * strides[axis]!;
      for (let d = 0; d < axis; d++) s += index[d]! * strides[d]!;
      for (let d = axis + 1; d < shape.length; d++) s += index[d - 1 + r]! * strides[d]!;
      return s;
    })];
  },
  scatter_add: ([updates, idx], { axis, size }, [out]) => {
    const outShape = out!.shape;
    const outStrides = stridesOf(outShape);
    const r = idx!.aval.shape.length;
    const idxStrides = stridesOf(idx!.aval.shape);
    const acc = new Float64Array(sizeOf(outShape));
    forEachIndex(updates!.aval.shape, (flat, index) => {
      let flatIdx = 0;
      for (let d = 0; d < r; d++) flatIdx += index[axis + d]! * idxStrides[d]!;
      const k = clampIndex(idx!.data[flatIdx]!, size);
      let o = k * outStrides[axis]!;
      for (let d = 0; d < axis; d++) o += index[d]! * outStrides[d]!;
      for (let d = axis + 1; d < outShape.length; d++) o += index[d - 1 + r]! * outStrides[d]!;
      acc[o] = acc[o]! + updates!.data[flat]!;
    });
    return [mapRounded(out!, acc.length, (i) => acc[i]!)];
  },
  matmul: ([a, b], _p, [out]) => {
    const as = a!.aval.shape, bs = b!.aval.shape;
    const m = as[as.length - 2]!, k = as[as.length - 1]!, n = bs[bs.length - 1]!;
    const batch = sizeOf(as.slice(0, -2));
    const data = allocRef(out!.dtype, batch * m * n);
    const x = a!.data, y = b!.data;
    const integer = !isFloat(out!.dtype);
    for (let bi = 0; bi < batch; bi++) {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let t = 0; t < k; t++) {
            const xv = x[bi * m * k + i * k + t]!, yv = y[bi * k * n + t * n + j]!;
            // Integers wrap like 32-bit hardware; floats accumulate in float64.
            acc = integer ? (acc + Math.imul(xv, yv)) | 0 : acc + xv * yv;
          }
          data[bi * m * n + i * n + j] = roundTo(acc, out!.dtype);
        }
      }
    }
    return [data];
  },
  conv: ([x, w], p, [out]) => [convReference(x!, w!, p, out!)],
  attention: ([q, k, v], p, outs) => attentionReference(q!, k!, v!, p, outs),
  attention_bwd: (inputs, p, outs) => attentionBackwardReference(inputs, p, outs),
  iota: (_inputs, { shape, axis }, [out]) => {
    const stride = stridesOf(shape)[axis]!;
    return [mapRounded(out!, sizeOf(shape), (i) => Math.floor(i / stride) % shape[axis]!)];
  },
  full: (_inputs, { value }, [out]) => [mapRounded(out!, sizeOf(out!.shape), () => value)],
  threefry2x32: ([k0, k1, x0, x1], _p, [out]) => {
    const n = sizeOf(out!.shape);
    const y0 = new Uint32Array(n), y1 = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const [a, b] = threefry2x32(k0!.data[i]!, k1!.data[i]!, x0!.data[i]!, x1!.data[i]!);
      y0[i] = a;
      y1[i] = b;
    }
    return [y0, y1];
  },
};

function roundTo16Bits(value: number, dtype: DType): number {
  // Only float16/bfloat16 reach here (bool cannot be bitcast; 32-bit types are handled inline).
  return dtype === "float16" ? floatToHalfBits(value) : floatToBfloat16Bits(value);
}

function from16Bits(bits: number, dtype: DType): number {
  return dtype === "float16" ? halfBitsToFloat(bits) : bfloat16BitsToFloat(bits);
}

function convReference(
  x: RefValue,
  w: RefValue,
  p: Params<"conv">,
  out: Aval,
): RefData {
  const xs = x.aval.shape, ws = w.aval.shape, os = out.shape;
  const nd = xs.length - 2;
  const batch = xs[0]!;
  const outC = ws[0]!, cPerGroup = ws[1]!;
  const oPerGroup = outC / p.groups;
  const xStrides = stridesOf(xs), wStrides = stridesOf(ws);
  const kernelShape = ws.slice(2);
  const outSpatial = os.slice(2);
  const data = allocRef(out.dtype, sizeOf(os));
  let flat = 0;
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < outC; o++) {
      const g = Math.floor(o / oPerGroup);
      forEachIndex(outSpatial, (_f, pos) => {
        let acc = 0;
        for (let c = 0; c < cPerGroup; c++) {
          const cin = g * cPerGroup + c;
          forEachIndex(kernelShape, (_k, kIdx) => {
            let xOff = n * xStrides[0]! + cin * xStrides[1]!;
            for (let d = 0; d < nd; d++) {
              // Position in the dilated, padded input.
              const q = pos[d]! * p.strides[d]! + kIdx[d]! * p.rhsDilation[d]! - p.padding[d]![0];
              const ld = p.lhsDilation[d]!;
              if (q < 0 || q % ld !== 0) return;
              const src = q / ld;
              if (src >= xs[2 + d]!) return;
              xOff += src * xStrides[2 + d]!;
            }
            let wOff = o * wStrides[0]! + c * wStrides[1]!;
            for (let d = 0; d < nd; d++) wOff += kIdx[d]! * wStrides[2 + d]!;
            acc += x.data[xOff]! * w.data[wOff]!;
          });
        }
        data[flat++] = roundTo(acc, out.dtype);
      });
    }
  }
  return data;
}

/** Whether key `j` is hidden from query `i` (causal, aligned to the end when Sq != Sk). */
function masked(causal: boolean, i: number, j: number, sq: number, sk: number): boolean {
  return causal && j > i + (sk - sq);
}

function attentionReference(
  q: RefValue,
  k: RefValue,
  v: RefValue,
  { scale, causal, quantization }: Params<"attention">,
  [outAval, lseAval]: readonly Aval[],
): RefData[] {
  const [b, h, sq, d] = q.aval.shape as [number, number, number, number];
  const sk = k.aval.shape[2]!, dv = v.aval.shape[3]!;
  if (quantization === "int8") {
    const shape = { batch: b, heads: h, seqQ: sq, seqK: sk, headDim: d, headDimV: dv, scale };
    const r = int8AttentionReference({ ...shape, causal }, q.data, k.data, v.data);
    return [
      mapRounded(outAval!, r.out.length, (i) => r.out[i]!),
      mapRounded(lseAval!, r.lse.length, (i) => r.lse[i]!),
    ];
  }
  const out = allocRef(outAval!.dtype, b * h * sq * dv);
  // The log-sum-exp is float32 by contract (abstractEval): round as the GPU kernel stores it.
  const lse = new Float64Array(b * h * sq);
  const scores = new Float64Array(sk);
  for (let bh = 0; bh < b * h; bh++) {
    for (let i = 0; i < sq; i++) {
      let max = -Infinity;
      for (let j = 0; j < sk; j++) {
        let s = 0;
        for (let t = 0; t < d; t++) {
          s += q.data[(bh * sq + i) * d + t]! * k.data[(bh * sk + j) * d + t]!;
        }
        scores[j] = masked(causal, i, j, sq, sk) ? -Infinity : s * scale;
        max = Math.max(max, scores[j]!);
      }
      let sum = 0;
      for (let j = 0; j < sk; j++) sum += max === -Infinity ? 0 : Math.exp(scores[j]! - max);
      lse[bh * sq + i] = max + Math.log(sum);
      for (let t = 0; t < dv; t++) {
        let acc = 0;
        for (let j = 0; j < sk; j++) {
          if (max !== -Infinity) {
            acc += (Math.exp(scores[j]! - max) / sum) * v.data[(bh * sk + j) * dv + t]!;
          }
        }
        out[(bh * sq + i) * dv + t] = roundTo(acc, outAval!.dtype);
      }
    }
  }
  return [out, mapRounded(lseAval!, lse.length, (i) => lse[i]!)];
}

function attentionBackwardReference(
  [q, k, v, out, lse, dOut]: readonly RefValue[],
  { scale, causal }: Params<"attention_bwd">,
  [dqAval, dkAval, dvAval]: readonly Aval[],
): RefData[] {
  const [b, h, sq, d] = q!.aval.shape as [number, number, number, number];
  const sk = k!.aval.shape[2]!, dv = v!.aval.shape[3]!;
  const dq = new Float64Array(b * h * sq * d);
  const dk = new Float64Array(b * h * sk * d);
  const dvv = new Float64Array(b * h * sk * dv);
  for (let bh = 0; bh < b * h; bh++) {
    for (let i = 0; i < sq; i++) {
      const l = lse!.data[bh * sq + i]!;
      const probs = new Float64Array(sk);
      const dP = new Float64Array(sk);
      // D_i = rowsum(dO_i * O_i), FlashAttention-2's form of sum_j P_ij dP_ij (equal when `out`
      // is the forward output); it defines the primitive on any inputs, as the kernels do.
      let rowDot = 0;
      for (let t = 0; t < dv; t++) {
        rowDot += dOut!.data[(bh * sq + i) * dv + t]! * out!.data[(bh * sq + i) * dv + t]!;
      }
      for (let j = 0; j < sk; j++) {
        if (masked(causal, i, j, sq, sk)) continue;
        let s = 0;
        for (let t = 0; t < d; t++) {
          s += q!.data[(bh * sq + i) * d + t]! * k!.data[(bh * sk + j) * d + t]!;
        }
        probs[j] = Math.exp(s * scale - l);
        let dp = 0;
        for (let t = 0; t < dv; t++) {
          dp += dOut!.data[(bh * sq + i) * dv + t]! * v!.data[(bh * sk + j) * dv + t]!;
        }
        dP[j] = dp;
      }
      for (let j = 0; j < sk; j++) {
        const pj = probs[j]!;
        if (pj === 0) continue;
        for (let t = 0; t < dv; t++) {
          dvv[(bh * sk + j) * dv + t]! += pj * dOut!.data[(bh * sq + i) * dv + t]!;
        }
        const ds = pj * (dP[j]! - rowDot) * scale;
        for (let t = 0; t < d; t++) {
          dq[(bh * sq + i) * d + t]! += ds * k!.data[(bh * sk + j) * d + t]!;
          dk[(bh * sk + j) * d + t]! += ds * q!.data[(bh * sq + i) * d + t]!;
        }
      }
    }
  }
  const round = (src: Float64Array, aval: Aval) => mapRounded(aval, src.length, (i) => src[i]!);
  return [round(dq, dqAval!), round(dk, dkAval!), round(dvv, dvAval!)];
}

/**
 * Evaluates one primitive on reference values; returns one storage array per output aval.
 *
 * @example
 * ```ts ignore
 * const [sum] = evaluatePrimitive("add", {}, [a, b], [{ shape: [2], dtype: "float32" }]);
 * ```
 */
export function evaluatePrimitive<P extends Primitive>(
  prim: P,
  params: Params<P>,
  inputs: readonly RefValue[],
  outAvals: readonly Aval[],
): RefData[] {
  const rule = rules[prim] as Rule<P>;
  return rule(inputs, params, outAvals);
}
