/**
 * Matrix products: `matmul` (NumPy semantics: 1-D promotion, broadcast batch dims), `dot`,
 * `outer`, and `einsum`, which lowers to transposes, reshapes and one batched `matmul` per pair.
 *
 * @module
 */

import { broadcastShapes, fmtShape } from "../../kernels/shape.ts";
import type { ArrayLike, NDArray } from "../array.ts";
import * as lax from "../lax.ts";
import { asArray, resultType } from "./convert.ts";

/**
 * Matrix product with NumPy semantics: `[..., M, K] @ [..., K, N] -> [..., M, N]`, batch dims
 * broadcast; a 1-D operand is a row (left) or column (right) vector whose axis is then dropped.
 *
 * @example
 * ```ts ignore
 * np.matmul(np.ones([8, 2, 3]), np.ones([3, 4])).shape; // [8, 2, 4]
 * ```
 */
export function matmul(a: ArrayLike, b: ArrayLike): NDArray {
  const dtype = resultType(a, b);
  let x = asArray(a, dtype), y = asArray(b, dtype);
  if (x.ndim === 0 || y.ndim === 0) {
    throw new Error(
      `matmul: operands must be at least 1-D, got ${fmtShape(x.shape)} and ${fmtShape(y.shape)}`,
    );
  }
  const vecA = x.ndim === 1, vecB = y.ndim === 1;
  if (vecA) x = lax.reshape(x, [1, x.shape[0]!]);
  if (vecB) y = lax.reshape(y, [y.shape[0]!, 1]);
  const k = x.shape[x.ndim - 1]!, k2 = y.shape[y.ndim - 2]!;
  if (k !== k2) {
    throw new Error(
      `matmul: cannot contract ${fmtShape(asArray(a).shape)} with ${
        fmtShape(asArray(b).shape)
      }: inner sizes ${k} and ${k2} differ`,
    );
  }
  const batch = broadcastShapes(x.shape.slice(0, -2), y.shape.slice(0, -2));
  const bx = [...batch, ...x.shape.slice(-2)], by = [...batch, ...y.shape.slice(-2)];
  x = lax.broadcast(x, bx, x.shape.map((_, i) => i + bx.length - x.ndim));
  y = lax.broadcast(y, by, y.shape.map((_, i) => i + by.length - y.ndim));
  let out = lax.matmul(x, y);
  if (vecA || vecB) {
    const shape = [
      ...batch,
      ...(vecA ? [] : [out.shape[out.ndim - 2]!]),
      ...(vecB ? [] : [out.shape[out.ndim - 1]!]),
    ];
    out = lax.reshape(out, shape);
  }
  return out;
}

/**
 * Dot product: inner product of vectors, else `matmul`.
 *
 * @example
 * ```ts ignore
 * np.dot(u, v);
 * ```
 */
export function dot(a: ArrayLike, b: ArrayLike): NDArray {
  return matmul(a, b);
}

/**
 * Outer product of two vectors (flattened first): `[M] x [N] -> [M, N]`.
 *
 * @example
 * ```ts ignore
 * np.outer(u, v);
 * ```
 */
export function outer(a: ArrayLike, b: ArrayLike): NDArray {
  const x = asArray(a), y = asArray(b);
  return matmul(lax.reshape(x, [x.size, 1]), lax.reshape(y, [1, y.size]));
}

interface Operand {
  value: NDArray;
  labels: string[];
}

function parseSubscripts(
  spec: string,
  operands: readonly NDArray[],
): { inputs: string[][]; output: string[] } {
  const clean = spec.replace(/\s+/g, "");
  const [lhs, rhs] = clean.split("->") as [string, string | undefined];
  const terms = lhs.split(",");
  if (terms.length !== operands.length) {
    throw new Error(
      `einsum: "${spec}" names ${terms.length} operands but ${operands.length} were given`,
    );
  }
  // Expand "..." into unique labels for the broadcast dims.
  let ellipsisRank = 0;
  terms.forEach((t, i) => {
    if (t.includes("...")) {
      ellipsisRank = Math.max(ellipsisRank, operands[i]!.ndim - (t.length - 3));
    }
  });
  const ellipsis = Array.from({ length: ellipsisRank }, (_, i) => `\u2026${i}`);
  const inputs = terms.map((t, i) => {
    const parts = t.split("...");
    if (parts.length > 2) throw new Error(`einsum: more than one ellipsis in "${t}"`);
    const labels = parts.length === 2
      ? [
        ...parts[0]!,
        ...ellipsis.slice(ellipsisRank - (operands[i]!.ndim - parts[0]!.length - parts[1]!.length)),
        ...parts[1]!,
      ]
      : [...t];
    if (labels.length !== operands[i]!.ndim) {
      throw new Error(
        `einsum: term "${t}" has ${labels.length} labels for operand ${i} of shape ${
          fmtShape(operands[i]!.shape)
        }`,
      );
    }
    return labels;
  });
  let output: string[];
  if (rhs !== undefined) {
    const parts = rhs.split("...");
    output = parts.length === 2 ? [...parts[0]!, ...ellipsis, ...parts[1]!] : [...rhs];
  } else {
    // Implicit output: ellipsis dims, then labels appearing exactly once, sorted.
    const counts = new Map<string, number>();
    for (const labels of inputs) for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
    output = [
      ...ellipsis,
      ...[...counts].filter(([l, c]) => c === 1 && !l.startsWith("\u2026")).map(([l]) => l).sort(),
    ];
  }
  for (const labels of inputs) {
    if (new Set(labels).size !== labels.length) {
      throw new Error(`einsum: repeated label within one operand is not supported ("${spec}")`);
    }
  }
  return { inputs, output };
}

function sumOut(op: Operand, keepLabels: Set<string>): Operand {
  const axes = op.labels.flatMap((l, i) => (keepLabels.has(l) ? [] : [i]));
  if (axes.length === 0) return op;
  return {
    value: lax.reduceSum(op.value, axes),
    labels: op.labels.filter((l) => keepLabels.has(l)),
  };
}

function contractPair(
  a: Operand,
  b: Operand,
  needed: Set<string>,
  sizes: Map<string, number>,
): Operand {
  const inA = new Set(a.labels), inB = new Set(b.labels);
  const batch = a.labels.filter((l) => inB.has(l) && needed.has(l));
  const contract = a.labels.filter((l) => inB.has(l) && !needed.has(l));
  const freeA = a.labels.filter((l) => !inB.has(l));
  const freeB = b.labels.filter((l) => !inA.has(l));
  const size = (ls: string[]) => ls.reduce((n, l) => n * sizes.get(l)!, 1);
  const fit = (op: Operand, order: string[]): NDArray => {
    // Broadcast size-1 dims to the label's size, then permute into `order`.
    const shape = op.labels.map((l) => sizes.get(l)!);
    const v = lax.broadcast(op.value, shape, op.labels.map((_, i) => i));
    return lax.transpose(v, order.map((l) => op.labels.indexOf(l)));
  };
  const x = lax.reshape(fit(a, [...batch, ...freeA, ...contract]), [
    size(batch),
    size(freeA),
    size(contract),
  ]); // [B, M, K]
  const y = lax.reshape(fit(b, [...batch, ...contract, ...freeB]), [
    size(batch),
    size(contract),
    size(freeB),
  ]); // [B, K, N]
  const out = lax.matmul(x, y); // [B, M, N]
  const labels = [...batch, ...freeA, ...freeB];
  return { value: lax.reshape(out, labels.map((l) => sizes.get(l)!)), labels };
}

/**
 * Einstein summation over any number of operands (`"bij,bjk->bik"`, `"...ij,jk"`, implicit
 * output). Pairs are contracted left to right with one batched matmul each.
 *
 * @example
 * ```ts ignore
 * np.einsum("bhqd,bhkd->bhqk", q, k);
 * ```
 */
export function einsum(subscripts: string, ...operands: readonly ArrayLike[]): NDArray {
  const dtype = resultType(...operands);
  const arrays = operands.map((o) => asArray(o, dtype));
  const { inputs, output } = parseSubscripts(subscripts, arrays);
  const sizes = new Map<string, number>();
  inputs.forEach((labels, i) =>
    labels.forEach((l, ax) => {
      const d = arrays[i]!.shape[ax]!;
      const prev = sizes.get(l);
      if (prev !== undefined && prev !== d && prev !== 1 && d !== 1) {
        throw new Error(`einsum: label "${l}" has sizes ${prev} and ${d} in "${subscripts}"`);
      }
      sizes.set(l, prev === undefined || prev === 1 ? d : prev);
    })
  );
  for (const l of output) {
    if (!sizes.has(l)) {
      throw new Error(`einsum: output label "${l}" is not in any input of "${subscripts}"`);
    }
  }
  let ops: Operand[] = arrays.map((value, i) => ({ value, labels: inputs[i]! }));
  const neededAfter = (from: number): Set<string> => {
    const s = new Set(output);
    for (let j = from; j < ops.length; j++) for (const l of ops[j]!.labels) s.add(l);
    return s;
  };
  // Sum out labels that appear in one operand only and not in the output.
  ops = ops.map((op, i) => {
    const elsewhere = new Set(output);
    ops.forEach((o, j) => j !== i && o.labels.forEach((l) => elsewhere.add(l)));
    return sumOut(op, elsewhere);
  });
  let acc = ops[0]!;
  for (let i = 1; i < ops.length; i++) {
    acc = contractPair(acc, ops[i]!, neededAfter(i + 1), sizes);
  }
  acc = sumOut(acc, new Set(output));
  const shape = output.map((l) => sizes.get(l)!);
  const v = lax.broadcast(
    acc.value,
    acc.value.shape.map((_, i) => sizes.get(acc.labels[i]!)!),
    acc.labels.map((_, i) => i),
  );
  return lax.reshape(lax.transpose(v, output.map((l) => acc.labels.indexOf(l))), shape);
}
