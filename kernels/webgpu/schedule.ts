/**
 * The scheduler: turns a lazy graph into kernels. It decides which nodes get storage of their
 * own (*materialized*) and lowers every other node into the kernels that read it, which is
 * what fusion is:
 *
 * - elementwise and movement nodes are always inlined (a 10-op chain is one map kernel);
 * - a reduction is inlined into its consumer as a cooperative *stage* of a row kernel when the
 *   consumer's rows line up with it (softmax, layer norm: one kernel), else it gets a kernel
 *   that also absorbs its elementwise producers;
 * - a matmul whose only consumer is an elementwise chain at the same index takes that chain
 *   as its epilogue (`gelu(x @ W + b)` is one matmul kernel);
 * - expensive nodes used by two kernels, inputs of opaque kernels (conv, attention, scatter)
 *   and nodes a kernel cannot inline are materialized; a kernel needing more storage bindings
 *   than the adapter allows materializes part of its input cone.
 *
 * @module
 */

import { sizeOf } from "../shape.ts";
import type { DType } from "../dtype.ts";
import { dependsOn, type Exp, ExpBuilder, linearIn, type StorageFormat, toposort } from "./ir.ts";
import { isExpensive, isOpaque, type LazyNode } from "./lazy.ts";
import { Lowering, MustMaterialize, unravel } from "./lower.ts";
import { registerType, roundToDtype, storageFormat } from "./lower_elementwise.ts";
import type { KernelTarget } from "./kernel.ts";
import {
  buildMapKernel,
  buildRowKernel,
  type RuntimeKernel,
  type StageOp,
  type StageSpec,
} from "./codegen.ts";
import { matmulPlan } from "./templates/matmul.ts";
import { opaquePlan } from "./opaque.ts";

/** Kernels (dispatched in order) with the temporary buffers they share. */
export interface RuntimePlan {
  readonly kernels: readonly RuntimeKernel[];
  readonly scratch: readonly { readonly name: string; readonly bytes: number }[];
}

/** One step of a schedule: a plan reading `inputs` (`in0`...) and writing `outputs` (`out0`...). */
export interface Step {
  readonly plan: RuntimePlan;
  readonly inputs: readonly LazyNode[];
  readonly outputs: readonly LazyNode[];
  /** When true there is no kernel: the single output shares the single input's storage. */
  readonly alias: boolean;
  /** A map kernel (elementwise over its outputs): neighbours of one size may be merged. */
  readonly map?: boolean;
}

/** What the scheduler needs to know about the device. */
export interface ScheduleConfig {
  readonly target: KernelTarget;
  /** Float16 arrays are stored as `array<f16>` (else packed two per u32). */
  readonly nativeF16: boolean;
  /** Most workgroups a generated kernel launches (threads loop over the rest). */
  readonly maxWorkgroups: number;
  /** The adapter is a CPU implementation (lavapipe): kernels are shaped for SIMD lanes. */
  readonly software: boolean;
  /**
   * The adapter's subgroup size when it is fixed (minimum = maximum) and `subgroups` is
   * enabled; on a software adapter, long row reductions then run one row per subgroup.
   */
  readonly subgroupSize?: number;
}

/** Signals, inside a map kernel attempt, that `node` calls for another kernel kind. */
class Special extends Error {
  constructor(readonly node: LazyNode, readonly index: readonly Exp[]) {
    super("Internal: special node");
  }
}

const reduceOps: Record<string, StageOp> = {
  reduce_sum: "sum",
  reduce_max: "max",
  reduce_min: "min",
  argmax: "argmax",
  argmin: "argmin",
  cumsum: "sum",
};

function isReduceLike(node: LazyNode): boolean {
  const prim = node.call?.prim;
  return prim !== undefined && prim in reduceOps;
}

/** The axes a reduce-like node reduces and the loop extent. */
function reducedAxes(node: LazyNode): number[] {
  const call = node.call!;
  switch (call.prim) {
    case "reduce_sum":
    case "reduce_max":
    case "reduce_min":
      return [...call.params.axes].sort((a, b) => a - b);
    case "argmax":
    case "argmin":
    case "cumsum":
      return [call.params.axis];
    default:
      return [];
  }
}

function loopExtent(node: LazyNode): number {
  const shape = node.inputs[0]!.aval.shape;
  return reducedAxes(node).reduce((n, a) => n * shape[a]!, 1);
}

/**
 * The deepest chain of row reductions one row kernel computes: a stage reading the value of a
 * stage reading the value of a stage... is `depth` 3. Two covers softmax (max, then the sum of
 * exponentials), layer norm (mean, then variance) and RMS norm in one kernel; a deeper stage
 * reads its input from storage.
 */
const maxStageDepth = 2;

/** The stages of the row kernel being built (see `Scheduler.#stage`). */
interface RowStages {
  readonly stages: StageSpec[];
  /** Loop variables of the stages whose bodies are being lowered (innermost last). */
  readonly activeLoops: string[];
  /** Each stage's reduction depth by name (`s0`, `s1`...); its size names the next stage. */
  readonly depths: Map<string, number>;
}

/** The stage values (refs named in `stageNames`) that `e` reads. */
function stageRefs(e: Exp, stageNames: ReadonlyMap<string, number>): string[] {
  const found = new Set<string>();
  for (const x of toposort([e])) {
    if (x.op === "ref" && typeof x.arg === "string" && stageNames.has(x.arg)) found.add(x.arg);
  }
  return [...found];
}

/**
 * Schedules the computation of `targets` (and of everything they need that has no storage).
 *
 * @example
 * ```ts ignore
 * const steps = schedule([node], { target, nativeF16: true });
 * ```
 */
export function schedule(targets: readonly LazyNode[], config: ScheduleConfig): Step[] {
  return new Scheduler(targets, config).run();
}

class Scheduler {
  readonly mat = new Set<LazyNode>();
  /** Unrealized nodes reachable from the targets, inputs before users. */
  readonly order: LazyNode[] = [];
  readonly consumers = new Map<LazyNode, number>();
  #format: (node: LazyNode) => StorageFormat;
  /** The input of the first row stage deeper than `maxStageDepth` met by the last build. */
  #tooDeep: LazyNode | null = null;

  constructor(readonly targets: readonly LazyNode[], readonly config: ScheduleConfig) {
    this.#format = (node) => storageFormat(node.aval.dtype, config.nativeF16);
  }

  formatOfDtype(dtype: DType): StorageFormat {
    return storageFormat(dtype, this.config.nativeF16);
  }

  run(): Step[] {
    this.#collect();
    for (const t of this.targets) if (!t.isLeaf) this.mat.add(t);
    for (const node of this.order) {
      const prim = node.call!.prim;
      if (isOpaque(prim)) {
        for (const s of node.siblings.length > 0 ? node.siblings : [node]) this.mat.add(s);
        for (const x of node.inputs) if (!x.isLeaf) this.mat.add(x);
      } else if (isExpensive(prim) && (this.consumers.get(node) ?? 0) > 1) {
        this.mat.add(node);
      }
    }
    for (let attempt = 0; attempt < 10000; attempt++) {
      try {
        this.#tooDeep = null;
        const steps = this.#build();
        // Stages too deep are cut only once the plan is otherwise settled: the cuts that plan
        // needs anyway (a sum read by two kernels, say) often make the chain shallow already.
        const deep = this.#tooDeep as LazyNode | null;
        if (deep === null) return steps;
        this.mat.add(deep);
      } catch (error) {
        if (!(error instanceof MustMaterialize)) throw error;
        if (this.mat.has(error.node) || error.node.isLeaf) throw error;
        this.mat.add(error.node);
      }
    }
    throw new Error("Internal: scheduling did not converge");
  }

  #collect(): void {
    const seen = new Set<LazyNode>();
    const stack: [LazyNode, number][] = this.targets.filter((t) => !t.isLeaf).map((t) => [t, 0]);
    for (const t of this.targets) {
      if (t.dead) throw new Error(`Internal: node ${t.id} was used after being freed`);
    }
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const [node, i] = top;
      if (i === 0 && seen.has(node)) {
        stack.pop();
        continue;
      }
      seen.add(node);
      if (i < node.inputs.length) {
        top[1] = i + 1;
        const x = node.inputs[i]!;
        this.consumers.set(x, (this.consumers.get(x) ?? 0) + 1);
        if (!x.isLeaf && !seen.has(x)) stack.push([x, 0]);
      } else {
        stack.pop();
        this.order.push(node);
      }
    }
  }

  #isBufferFor(roots: ReadonlySet<LazyNode>): (node: LazyNode) => boolean {
    return (node) => node.isLeaf || (this.mat.has(node) && !roots.has(node));
  }

  #build(): Step[] {
    const steps: Step[] = [];
    const inlinedBy = new Map<LazyNode, number>();
    const done = new Set<LazyNode>();
    for (const node of this.order) {
      if (!this.mat.has(node) || done.has(node)) continue;
      const group = node.siblings.length > 0 && isOpaque(node.call!.prim) ? node.siblings : [node];
      for (const g of group) done.add(g);
      const { step, inlined } = this.#kernelFor(node);
      for (const n of inlined) inlinedBy.set(n, (inlinedBy.get(n) ?? 0) + 1);
      const bindings = step.inputs.length + step.outputs.length + step.plan.scratch.length;
      if (!step.alias && bindings > this.config.target.maxStorageBuffersPerStage) {
        throw new MustMaterialize(this.#splitPoint(node), "too many storage bindings");
      }
      steps.push(step);
    }
    for (const [n, count] of inlinedBy) {
      if (count > 1 && !this.mat.has(n)) throw new MustMaterialize(n, "inlined by two kernels");
    }
    return this.#mergeMaps(steps);
  }

  /** The node of `root`'s inlined cone reading the most buffers (materializing it splits). */
  #splitPoint(root: LazyNode): LazyNode {
    const reads = new Map<LazyNode, Set<LazyNode>>();
    const isBuffer = this.#isBufferFor(new Set([root]));
    const visit = (node: LazyNode): Set<LazyNode> => {
      const known = reads.get(node);
      if (known) return known;
      const set = new Set<LazyNode>();
      if (isBuffer(node)) set.add(node);
      else for (const x of node.inputs) for (const y of visit(x)) set.add(y);
      reads.set(node, set);
      return set;
    };
    const total = visit(root).size;
    // The largest subtree that fits in one kernel (its reads plus its output); failing that,
    // the largest proper subtree (it is split in turn).
    const fits = this.config.target.maxStorageBuffersPerStage - 1;
    let best: LazyNode | null = null, bestSize = 1, bestFits = false;
    for (const [node, set] of reads) {
      if (node === root || isBuffer(node) || set.size >= total) continue;
      const nodeFits = set.size <= fits;
      if ((nodeFits && !bestFits) || (nodeFits === bestFits && set.size > bestSize)) {
        best = node;
        bestSize = set.size;
        bestFits = nodeFits;
      }
    }
    if (!best) {
      throw new Error(
        `A kernel needs ${total} input buffers, more than the adapter's ${this.config.target.maxStorageBuffersPerStage} storage bindings, and cannot be split`,
      );
    }
    return best;
  }

  #kernelFor(m: LazyNode): { step: Step; inlined: Set<LazyNode> } {
    const call = m.call!;
    if (isOpaque(call.prim)) return this.#opaque(m);
    if (call.prim === "matmul") return this.#matmul(m, null);
    const b = new ExpBuilder();
    const roots = new Set([m]);
    const low = new Lowering(b, this.#isBufferFor(roots), this.#format, {
      special: (node, index) => {
        throw new Special(node, index);
      },
    });
    let value: Exp;
    const own = unravel(b, b.variable("tid", m.size), m.aval.shape);
    try {
      value = low.gen(m, own);
    } catch (error) {
      if (!(error instanceof Special)) throw error;
      const node = error.node;
      const identity = error.index.length === own.length &&
        error.index.every((e, d) => e === own[d]);
      if (node.call!.prim === "matmul" && identity) {
        return this.#matmul(node, m);
      }
      if (isReduceLike(node)) return this.#rowKernel(m, node);
      throw new MustMaterialize(node, "not fusable here");
    }
    // A contiguous copy of a buffer in the same layout is an alias, not a kernel.
    const src = low.inputs[0];
    if (
      value.op === "load" && value.src[0]!.op === "var" && low.inputs.length === 1 && src &&
      src.size === m.size && this.#format(src) === this.#format(m) &&
      src.aval.dtype === m.aval.dtype
    ) {
      return {
        step: { plan: { kernels: [], scratch: [] }, inputs: [src], outputs: [m], alias: true },
        inlined: low.inlined,
      };
    }
    const kernel = buildMapKernel({
      name: `map_${this.#describe(m)}_${m.size}`,
      size: m.size,
      inputs: low.inputs.map(this.#format),
      outputs: [{ format: this.#format(m) }],
      builder: b,
      valueAt: (flat) => [low.gen(m, unravel(b, flat, m.aval.shape))],
      target: this.config.target,
      maxWorkgroups: this.config.maxWorkgroups,
    });
    return {
      step: {
        plan: { kernels: [kernel], scratch: [] },
        inputs: low.inputs,
        outputs: [m],
        alias: false,
        map: true,
      },
      inlined: low.inlined,
    };
  }

  /**
   * Merges runs of independent map steps with outputs of one size into multi-output kernels
   * (horizontal fusion: a backward pass's gradient sums become one launch).
   */
  #mergeMaps(steps: readonly Step[]): Step[] {
    const limit = this.config.target.maxStorageBuffersPerStage;
    const out: Step[] = [];
    let group: Step[] = [];
    const close = () => {
      if (group.length === 1) out.push(group[0]!);
      else if (group.length > 1) out.push(this.#mapStep(group.flatMap((g) => g.outputs)));
      group = [];
    };
    for (const step of steps) {
      if (step.map && group.length > 0 && group.length < 8) {
        const outputs = new Set(group.flatMap((g) => g.outputs));
        const inputs = new Set([...group.flatMap((g) => g.inputs), ...step.inputs]);
        const sameSize = step.outputs[0]!.size === group[0]!.outputs[0]!.size;
        const independent = step.inputs.every((x) => !outputs.has(x));
        if (sameSize && independent && inputs.size + outputs.size + 1 <= limit) {
          group.push(step);
          continue;
        }
      }
      close();
      if (step.map) group.push(step);
      else out.push(step);
    }
    close();
    return out;
  }

  /** One map kernel computing every node of `nodes` (all of one size, none reading another). */
  #mapStep(nodes: readonly LazyNode[]): Step {
    const b = new ExpBuilder();
    const low = new Lowering(b, this.#isBufferFor(new Set(nodes)), this.#format, {
      special: (node) => {
        throw new Error(`Internal: merged map kernel met ${node.call?.prim}`);
      },
    });
    const size = nodes[0]!.size;
    const kernel = buildMapKernel({
      name: `map${nodes.length}_${nodes.map((m) => this.#describe(m)).join("_")}_${size}`,
      size,
      inputs: [],
      outputs: nodes.map((m) => ({ format: this.#format(m) })),
      builder: b,
      valueAt: (flat) => nodes.map((m) => low.gen(m, unravel(b, flat, m.aval.shape))),
      target: this.config.target,
      maxWorkgroups: this.config.maxWorkgroups,
      inputsFrom: () => low.inputs.map(this.#format),
    });
    return {
      plan: { kernels: [kernel], scratch: [] },
      inputs: low.inputs,
      outputs: nodes,
      alias: false,
      map: true,
    };
  }

  #describe(m: LazyNode): string {
    return (m.call?.prim ?? "leaf") + "_" + m.aval.dtype;
  }

  // ---- Row kernels (reductions and their consumers) ----------------------------------------

  #rowKernel(m: LazyNode, first: LazyNode): { step: Step; inlined: Set<LazyNode> } {
    const b = new ExpBuilder();
    const extent = loopExtent(first);
    const perRow = m.size === first.size || first.call!.prim === "cumsum" ||
      m.size % Math.max(1, extent) !== 0;
    const rows = perRow ? m.size : m.size / extent;
    const row = b.variable("row", rows);
    const col = perRow ? null : b.variable("col", extent);
    const stageOf = new Map<string, Exp>();
    const rowStages: RowStages = { stages: [], activeLoops: [], depths: new Map() };
    const { stages, activeLoops } = rowStages;
    const roots = new Set([m]);
    const low: Lowering = new Lowering(b, this.#isBufferFor(roots), this.#format, {
      special: (node, index) => {
        if (!isReduceLike(node)) throw new MustMaterialize(node, "not fusable into a row kernel");
        const memo = new Map<Exp, boolean>();
        if (col && index.some((e) => dependsOn(e, "col", memo))) {
          throw new MustMaterialize(node, "reduction varies along the row");
        }
        // A reduction indexed by an enclosing stage's loop variable is not a per-row value.
        for (const v of activeLoops) {
          const m = new Map<Exp, boolean>();
          if (index.some((e) => dependsOn(e, v, m))) {
            throw new MustMaterialize(node, "reduction varies inside another reduction");
          }
        }
        const key = `${node.id}:${index.map((e) => e.id).join(",")}`;
        const known = stageOf.get(key);
        if (known) return known;
        const ref = this.#stage(b, low, node, index, rowStages);
        stageOf.set(key, ref);
        return ref;
      },
    });
    const index = perRow
      ? unravel(b, row, m.aval.shape)
      : unravel(b, b.add(b.mul(row, b.idx(extent)), col!), m.aval.shape);
    const value = low.gen(m, index);
    const maxExtent = Math.max(1, ...stages.map((s) => s.end.max - Math.max(0, s.start.min)));
    // Cooperative rows for long reductions: on lavapipe one subgroup (a SIMD vector of one CPU
    // thread, no barriers) or else 64 lanes; 256 on a GPU; short rows take one thread each.
    const sg = this.config.software ? this.config.subgroupSize ?? 0 : 0;
    const subgroup = sg >= 4 && sg <= 64 && (sg & (sg - 1)) === 0;
    const threads = maxExtent < 128
      ? 1
      : subgroup
      ? sg
      : this.config.software
      ? 64
      : maxExtent >= 1024
      ? 256
      : 64;
    const kernel = buildRowKernel({
      name: `row_${this.#describe(m)}_${rows}x${perRow ? 1 : extent}`,
      rows,
      threadsPerRow: threads,
      inputs: low.inputs.map(this.#format),
      outputs: [{ format: this.#format(m) }],
      builder: b,
      stages,
      ...(perRow ? { rowValues: [value] } : { cols: { count: extent, values: [value] } }),
      target: this.config.target,
      maxWorkgroups: this.config.maxWorkgroups,
      subgroup: subgroup && threads > 1,
    });
    return {
      step: {
        plan: { kernels: [kernel], scratch: [] },
        inputs: low.inputs,
        outputs: [m],
        alias: false,
      },
      inlined: low.inlined,
    };
  }

  /** Adds the stage computing reduce-like `node` at `index`; returns its (rounded) value. */
  #stage(
    b: ExpBuilder,
    low: Lowering,
    node: LazyNode,
    index: readonly Exp[],
    row: RowStages,
  ): Exp {
    const { stages, activeLoops, depths } = row;
    const call = node.call!;
    const src = node.inputs[0]!;
    const shape = src.aval.shape;
    // Names depend only on the order stages are opened in this kernel (never on node ids), so
    // the same computation always renders to the same WGSL and hits the pipeline cache.
    const ordinal = depths.size;
    const name = `s${ordinal}`;
    depths.set(name, 0); // opened: stages inside its body take the next ordinals
    const loopVar = `r${ordinal}`;
    const type = registerType(src.aval.dtype);
    let inner: Exp[];
    let start: Exp = b.idx(0), end: Exp;
    if (call.prim === "cumsum") {
      const axis = call.params.axis;
      const n = shape[axis]!;
      const r = b.variable(loopVar, n);
      const i = index[axis]!;
      if (call.params.reverse) {
        start = i;
        end = b.idx(n);
      } else end = b.add(i, b.idx(1));
      inner = index.map((e, d) => (d === axis ? r : e));
    } else {
      const axes = reducedAxes(node);
      const extent = axes.reduce((n, a) => n * shape[a]!, 1);
      const r = b.variable(loopVar, extent);
      end = b.idx(extent);
      const loopIdx = unravel(b, r, axes.map((a) => shape[a]!));
      inner = [];
      let kept = 0, red = 0;
      for (let d = 0; d < shape.length; d++) {
        inner.push(axes.includes(d) ? loopIdx[red++]! : index[kept++]!);
      }
    }
    activeLoops.push(loopVar);
    const body = low.gen(src, inner);
    activeLoops.pop();
    // Every pass over the row re-evaluates its body, and a stage reading an earlier stage
    // re-evaluates that stage's whole input cone too: k chained softmaxes in one kernel cost
    // O(k^2) exponentials per element (10 of them measured 27 ms each on lavapipe against 6 ms
    // for one). Past `maxStageDepth` the stage's input gets storage of its own instead, which
    // costs one write and one read of it.
    const depth = 1 + Math.max(0, ...stageRefs(body, depths).map((r) => depths.get(r)!));
    if (depth > maxStageDepth && !src.isLeaf) this.#tooDeep ??= src;
    depths.set(name, depth);
    const op = reduceOps[call.prim]!;
    stages.push({ name, op, type, loopVar, start, end, body });
    if (op === "argmax" || op === "argmin") return b.ref(name, "i32");
    return roundToDtype(b, b.ref(name, type), node.aval.dtype);
  }

  // ---- Matmul with epilogue ----------------------------------------------------------------

  #matmul(mm: LazyNode, epilogueRoot: LazyNode | null): { step: Step; inlined: Set<LazyNode> } {
    const b = new ExpBuilder();
    const [A, B] = mm.inputs as [LazyNode, LazyNode];
    const shape = mm.aval.shape;
    const rank = shape.length;
    const [m, n] = [shape[rank - 2]!, shape[rank - 1]!];
    const k = A.aval.shape[rank - 1]!;
    const batchShape = shape.slice(0, -2);
    const batch = sizeOf(batchShape);
    const roots = new Set<LazyNode>([mm]);
    if (epilogueRoot) roots.add(epilogueRoot);
    const bt = b.variable("bt", batch), i = b.variable("i", m), j = b.variable("j", n);
    const kk = b.variable("kk", k);
    const batchIdx = unravel(b, bt, batchShape);
    const type = registerType(mm.aval.dtype);
    const acc = roundToDtype(b, b.ref("acc", type), mm.aval.dtype);
    const low = new Lowering(b, this.#isBufferFor(roots), this.#format, {
      special: (node, index) => {
        if (
          node === mm && index.length === rank &&
          index.every((e, d) => e === [...batchIdx, i, j][d])
        ) {
          return acc;
        }
        throw new MustMaterialize(node, "not fusable into a matmul epilogue");
      },
    });
    const operand = (x: LazyNode, rowVar: Exp, index: Exp[]) => {
      const e = low.gen(x, index);
      if (e.op !== "load") throw new MustMaterialize(x, "matmul operand is not a strided view");
      const flat = e.src[0]!;
      const byRow = linearIn(b, flat, rowVar);
      const byK = byRow && linearIn(b, byRow.rest, kk);
      if (!byRow || !byK) throw new MustMaterialize(x, "matmul operand is not a strided view");
      const arg = e.arg as { slot: number; format: StorageFormat };
      return {
        slot: arg.slot,
        format: arg.format,
        base: byK.rest,
        rowStride: byRow.coef,
        kStride: byK.coef,
      };
    };
    const a = operand(A, i, [...batchIdx, i, kk]);
    const bOp = operand(B, j, [...batchIdx, kk, j]);
    const epilogue = epilogueRoot ? low.gen(epilogueRoot, [...batchIdx, i, j]) : acc;
    const out = epilogueRoot ?? mm;
    const plan = matmulPlan({
      name: `matmul_${this.#describe(out)}_${batch}x${m}x${n}x${k}`,
      batch,
      m,
      n,
      k,
      a,
      b: bOp,
      type,
      inputs: low.inputs.map(this.#format),
      output: this.#format(out),
      epilogue,
      builder: b,
      target: this.config.target,
      software: this.config.software,
    });
    return {
      step: { plan, inputs: low.inputs, outputs: [out], alias: false },
      inlined: low.inlined,
    };
  }

  // ---- Opaque primitives (conv, attention, scatter_add) ------------------------------------

  #opaque(m: LazyNode): { step: Step; inlined: Set<LazyNode> } {
    const outputs = m.siblings.length > 0 ? m.siblings : [m];
    const plan = opaquePlan(
      m.call!,
      m.inputs.map((x) => ({ aval: x.aval, format: this.#format(x) })),
      outputs.map((x) => ({ aval: x.aval, format: this.#format(x) })),
      this.config.target,
      this.config.software,
    );
    return { step: { plan, inputs: m.inputs, outputs, alias: false }, inlined: new Set() };
  }
}
