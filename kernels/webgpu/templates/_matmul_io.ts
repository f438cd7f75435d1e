/**
 * What the matmul kernels (`matmul.ts`, `matmul_blocked.ts`) share about their operands: when an
 * operand can be read as `vec4`s, and the storage bindings (a scalar view of every input, a
 * `vec4` view of those read as `vec4`, float32 scratch buffers).
 *
 * @module
 */

import type { Exp } from "../ir.ts";
import { bindingDecl, type WgslEmitter } from "../wgsl_render.ts";
import { isPacked, storeStatement } from "../codegen.ts";
import type { MatmulOperand, MatmulSpec } from "./matmul.ts";

function isDivisibleBy4(e: Exp): boolean {
  // The base is a sum of scaled terms plus a constant; every scale must be a multiple of 4.
  if (e.op === "const") return e.value % 4 === 0;
  if (e.op === "add") return e.src.every(isDivisibleBy4);
  if (e.op === "mul" && e.src[1]!.op === "const") return e.src[1]!.value % 4 === 0;
  return false;
}

/** `vec4` reads along K: the operand is contiguous in K and every row starts 16-byte aligned. */
export function vec4AlongK(op: MatmulOperand, k: number): boolean {
  return op.format === "f32" && op.kStride === 1 && k % 4 === 0 && op.rowStride % 4 === 0 &&
    isDivisibleBy4(op.base);
}

/** `vec4` reads of B along N: B is contiguous in N and every K-row starts 16-byte aligned. */
export function vec4AlongN(op: MatmulOperand, n: number): boolean {
  return op.format === "f32" && op.rowStride === 1 && n % 4 === 0 && op.kStride % 4 === 0 &&
    isDivisibleBy4(op.base);
}

/**
 * Binding declarations of a matmul kernel: `in{s}` for every input slot (plus `in{s}v`, a
 * `vec4<f32>` view, for the slots in `vecSlots`) and a float32 `read_write` array per name in
 * `extra`; `bindings` lists the buffer behind each binding in order.
 *
 * @example
 * ```ts ignore
 * const { lines, bindings } = declarations(spec, new Set([0]), ["partial"]);
 * ```
 */
export function declarations(spec: MatmulSpec, vecSlots: ReadonlySet<number>, extra: string[]): {
  lines: string[];
  bindings: { buffer: string; access: "read" | "read_write" }[];
} {
  const lines: string[] = [];
  if ([...spec.inputs, spec.output].includes("f16")) lines.push("enable f16;");
  const bindings: { buffer: string; access: "read" | "read_write" }[] = [];
  spec.inputs.forEach((format, s) => {
    lines.push(bindingDecl(bindings.length, `in${s}`, format, "read"));
    bindings.push({ buffer: `in${s}`, access: "read" });
    if (vecSlots.has(s)) {
      lines.push(
        `@group(0) @binding(${bindings.length}) var<storage, read> in${s}v: array<vec4<f32>>;`,
      );
      bindings.push({ buffer: `in${s}`, access: "read" });
    }
  });
  for (const name of extra) {
    lines.push(
      `@group(0) @binding(${bindings.length}) var<storage, read_write> ${name}: array<f32>;`,
    );
    bindings.push({ buffer: name, access: "read_write" });
  }
  return { lines, bindings };
}

/**
 * {@link declarations} of a matmul kernel with A and/or B read as `vec4`s, plus its output:
 * `out0` when it stores the epilogue, or only the float32 `partial` scratch (split-K).
 *
 * @example
 * ```ts ignore
 * const { lines, bindings } = kernelDeclarations(spec, true, false, null);
 * ```
 */
export function kernelDeclarations(
  spec: MatmulSpec,
  vecA: boolean,
  vecB: boolean,
  partial: string | null,
): { lines: string[]; bindings: { buffer: string; access: "read" | "read_write" }[] } {
  const vecSlots = new Set<number>();
  if (vecA) vecSlots.add(spec.a.slot);
  if (vecB) vecSlots.add(spec.b.slot);
  const { lines, bindings } = declarations(spec, vecSlots, partial ? [partial] : []);
  if (!partial) {
    lines.push(
      bindingDecl(bindings.length, "out0", spec.output, "read_write", isPacked(spec.output)),
    );
    bindings.push({ buffer: "out0", access: "read_write" });
  }
  return { lines, bindings };
}

/**
 * Appends the epilogue loop of a register-tiled matmul kernel to `body`: for each of `count`
 * accumulators `accs[e]` (`count` a WGSL `i32` expression), its output row `i` and column `j`
 * (WGSL expressions of `e`), the fused epilogue (bias, activation, residual, ...) of `acc`,
 * stored to `out0` inside the `[m, n]` bounds. The epilogue's loop-invariant parts are hoisted
 * before the loop.
 *
 * @example
 * ```ts ignore
 * storeEpilogue(emitter, spec, body, { count: "64i", row: "i0 + e / 8i", col: "j0 + e % 8i" });
 * ```
 */
export function storeEpilogue(
  emitter: WgslEmitter,
  spec: MatmulSpec,
  body: string[],
  loop: { readonly count: string; readonly row: string; readonly col: string },
): void {
  const { m, n } = spec;
  emitter.hoist([spec.epilogue], ["i", "j", "acc"], body, "  ");
  body.push(`  for (var e = 0i; e < ${loop.count}; e = e + 1i) {`);
  body.push(`    let i = ${loop.row};`, `    let j = ${loop.col};`);
  body.push(`    if (i < ${m}i && j < ${n}i) {`, `      let acc = accs[e];`);
  emitter.scope(() => {
    const [v] = emitter.emit([spec.epilogue], body, "      ");
    const index = `(bt * ${m}i + i) * ${n}i + j`;
    body.push("      " + storeStatement("out0", spec.output, index, v!, emitter.helpers));
  });
  body.push("    }", "  }");
}
