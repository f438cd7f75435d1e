/**
 * `jit` on the WebGPU backend: a traced program is scheduled once into fused kernels over a
 * template graph whose leaves are the program's arguments, and replayed on every call.
 *
 * Memory is planned by liveness: each intermediate buffer is taken from the pool at the step
 * that writes it and returned right after the last step that reads it, so later steps of the
 * same call reuse it (the GPU runs the steps in order). Donated arguments (`donate`) are
 * returned to the pool after their last read, so the outputs of a training step land in the
 * storage of the parameters it replaced and memory stays flat.
 *
 * @module
 */

import type { BackendArray, CompileOptions, Executable, Program, Var } from "../backend.ts";
import { programToString } from "../backend.ts";
import type { WebgpuBackend } from "./backend.ts";
import { LazyNode, type Storage } from "./lazy.ts";
import { storageBytes } from "./lower_elementwise.ts";
import { schedule, type Step } from "./schedule.ts";

/** How each program output is produced by a call. */
type OutputSource =
  | { readonly kind: "arg"; readonly index: number }
  | { readonly kind: "node"; readonly node: LazyNode };

/**
 * Compiles `program` for `backend`.
 *
 * @example
 * ```ts ignore
 * const exe = compileProgram(backend, program, { donate: [0] });
 * const outs = exe.run([...consts, ...inputs]);
 * ```
 */
export function compileProgram(
  backend: WebgpuBackend,
  program: Program,
  options: CompileOptions,
): Executable {
  const params = [...program.constVars, ...program.inputs];
  const env = new Map<number, LazyNode>();
  const paramNodes = params.map((v, k) => {
    const node = new LazyNode(backend, v.aval, { kind: "leaf", param: k }, []);
    node.handles = 1;
    env.set(v.id, node);
    return node;
  });
  const read = (v: Var): LazyNode => {
    const n = env.get(v.id);
    if (!n) throw new Error(`Program variable ${v.id} used before definition`);
    return n;
  };
  for (const eqn of program.equations) {
    const outs = backend.record(
      eqn.call,
      eqn.inputs.map(read),
      eqn.outputs.map((v) => v.aval),
    );
    eqn.outputs.forEach((v, j) => env.set(v.id, outs[j]!));
  }
  const outputs: OutputSource[] = program.outputs.map((v) => {
    const node = read(v);
    const param = node.source.kind === "leaf" ? node.source.param : undefined;
    return param !== undefined ? { kind: "arg", index: param } : { kind: "node", node };
  });
  const targets = [...new Set(outputs.flatMap((o) => (o.kind === "node" ? [o.node] : [])))];
  for (const t of targets) t.handles++;
  const steps = targets.length > 0 ? schedule(targets, backend.config) : [];
  const paramIndex = new Map(paramNodes.map((n, k) => [n, k]));
  const lastUse = new Map<LazyNode, number>();
  steps.forEach((s, i) => s.inputs.forEach((x) => lastUse.set(x, i)));
  const targetSet = new Set(targets);
  const donated = new Set((options.donate ?? []).map((d) => program.constVars.length + d));
  const plan = { steps, lastUse, targetSet, paramIndex, donated };
  return {
    run: (args) => runPlan(backend, plan, outputs, args),
    describe: () => describePlan(backend, program, plan),
  };
}

interface Plan {
  readonly steps: readonly Step[];
  readonly lastUse: ReadonlyMap<LazyNode, number>;
  readonly targetSet: ReadonlySet<LazyNode>;
  readonly paramIndex: ReadonlyMap<LazyNode, number>;
  readonly donated: ReadonlySet<number>;
}

function runPlan(
  backend: WebgpuBackend,
  plan: Plan,
  outputs: readonly OutputSource[],
  args: readonly BackendArray[],
): BackendArray[] {
  const nodes = args.map((a) => backend.node(a));
  if (nodes.length !== plan.paramIndex.size) {
    throw new Error(`Program expects ${plan.paramIndex.size} arguments, got ${nodes.length}`);
  }
  backend.realize(nodes.filter((n) => !n.isLeaf));
  const outputArgs = new Set(outputs.flatMap((o) => (o.kind === "arg" ? [o.index] : [])));
  // A donated argument's storage is ours once only the caller's handle holds it.
  const stolen = new Set<number>();
  for (const k of plan.donated) {
    const n = nodes[k]!;
    const unique = nodes.filter((m) => m === n).length === 1;
    if (unique && !outputArgs.has(k) && n.handles === 1 && n.users === 0 && n.storage) {
      stolen.add(k);
    }
  }
  const storages = new Map<LazyNode, Storage>();
  const storageOf = (n: LazyNode): Storage | null => {
    const k = plan.paramIndex.get(n);
    if (k !== undefined) return nodes[k]!.storage;
    return storages.get(n) ?? null;
  };
  plan.steps.forEach((step, i) => {
    backend.runStep(step, storageOf, (n, s) => storages.set(n, s));
    for (const x of new Set(step.inputs)) {
      if (plan.lastUse.get(x) !== i) continue;
      const k = plan.paramIndex.get(x);
      if (k !== undefined) {
        if (stolen.has(k)) {
          const n = nodes[k]!;
          backend.runtime.release(n.storage!);
          n.storage = null;
        }
      } else if (!plan.targetSet.has(x)) {
        const s = storages.get(x);
        if (s) {
          backend.runtime.release(s);
          storages.delete(x);
        }
      }
    }
  });
  backend.runtime.submit();
  const made = new Map<LazyNode, LazyNode>();
  return outputs.map((o) => {
    if (o.kind === "arg") {
      const arg = nodes[o.index]!;
      backend.retain(arg);
      return arg;
    }
    const existing = made.get(o.node);
    if (existing) {
      backend.retain(existing);
      return existing;
    }
    const storage = storages.get(o.node);
    if (!storage) throw new Error("Internal: a program output was not computed");
    const result = backend.adopt(new LazyNode(backend, o.node.aval, { kind: "leaf" }, [], storage));
    made.set(o.node, result);
    return result;
  });
}

function describePlan(backend: WebgpuBackend, program: Program, plan: Plan): string {
  const lines: string[] = [];
  let live = 0, peak = 0;
  const sizes = new Map<LazyNode, number>();
  const kernels = plan.steps.reduce((n, s) => n + s.plan.kernels.length, 0);
  lines.push(
    `webgpu plan: ${program.equations.length} equations -> ${plan.steps.length} steps, ${kernels} kernels`,
  );
  plan.steps.forEach((step, i) => {
    for (const o of step.outputs) {
      const bytes = step.alias ? 0 : storageBytes(backend.formatOf(o.aval), o.size);
      sizes.set(o, bytes);
      live += bytes;
    }
    peak = Math.max(peak, live);
    const names = step.alias ? ["(alias)"] : step.plan.kernels.map((k) => k.name);
    lines.push(`  ${i}: ${names.join(", ")}`);
    for (const x of new Set(step.inputs)) {
      if (plan.lastUse.get(x) === i && !plan.targetSet.has(x)) live -= sizes.get(x) ?? 0;
    }
  });
  lines.push(
    `  peak intermediate + output bytes: ${peak}; donated args: [${[...plan.donated].join(", ")}]`,
  );
  lines.push(programToString(program));
  return lines.join("\n");
}
