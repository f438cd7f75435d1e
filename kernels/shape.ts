/**
 * Shape arithmetic shared by every layer: sizes, strides, NumPy broadcasting, axis handling.
 * Errors name the offending shapes.
 *
 * @module
 */

/** A shape: the size of each axis, outermost first. */
export type Shape = readonly number[];

/**
 * Formats a shape as `[2,3]` for messages.
 *
 * @example
 * ```ts
 * import { fmtShape } from "./shape.ts";
 * fmtShape([2, 3]); // "[2,3]"
 * ```
 */
export function fmtShape(shape: Shape): string {
  return `[${shape.join(",")}]`;
}

/**
 * Number of elements of a shape (1 for a scalar `[]`).
 *
 * @example
 * ```ts
 * import { sizeOf } from "./shape.ts";
 * sizeOf([2, 3, 4]); // 24
 * ```
 */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Row-major (C order) strides of a shape, in elements.
 *
 * @example
 * ```ts
 * import { stridesOf } from "./shape.ts";
 * stridesOf([2, 3, 4]); // [12, 4, 1]
 * ```
 */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/**
 * True when two shapes are equal.
 *
 * @example
 * ```ts
 * import { shapesEqual } from "./shape.ts";
 * shapesEqual([2, 3], [2, 3]); // true
 * ```
 */
export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * The NumPy broadcast of several shapes; throws naming them when they do not broadcast.
 *
 * @example
 * ```ts
 * import { broadcastShapes } from "./shape.ts";
 * broadcastShapes([3, 1], [4]); // [3, 4]
 * ```
 */
export function broadcastShapes(...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const shape of shapes) {
    const offset = rank - shape.length;
    for (let i = 0; i < shape.length; i++) {
      const d = shape[i]!, o = out[offset + i]!;
      if (d === o || d === 1) continue;
      if (o === 1) {
        out[offset + i] = d;
        continue;
      }
      throw new Error(
        `Cannot broadcast shapes ${shapes.map(fmtShape).join(" and ")}: axis ${
          offset + i - rank
        } ` +
          `has sizes ${o} and ${d}`,
      );
    }
  }
  return out;
}

/**
 * Normalizes a possibly negative axis for an array of rank `rank`; throws when out of range.
 *
 * @example
 * ```ts
 * import { normalizeAxis } from "./shape.ts";
 * normalizeAxis(-1, 3); // 2
 * ```
 */
export function normalizeAxis(axis: number, rank: number, what = "axis"): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new Error(`${what} ${axis} is out of range for an array of rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/**
 * Normalizes an `axis` argument (one axis, several, or all when undefined) to sorted, unique
 * non-negative axes.
 *
 * @example
 * ```ts
 * import { normalizeAxes } from "./shape.ts";
 * normalizeAxes([-1, 0], 3); // [0, 2]
 * normalizeAxes(undefined, 2); // [0, 1]
 * ```
 */
export function normalizeAxes(
  axis: number | readonly number[] | undefined,
  rank: number,
): number[] {
  if (axis === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axis === "number" ? [axis] : axis;
  const out = list.map((a) => normalizeAxis(a, rank));
  if (new Set(out).size !== out.length) throw new Error(`Repeated axis in ${JSON.stringify(list)}`);
  return out.sort((a, b) => a - b);
}

/**
 * Checks that `perm` is a permutation of `0..rank-1`.
 *
 * @example
 * ```ts
 * import { checkPermutation } from "./shape.ts";
 * checkPermutation([1, 0], 2); // ok
 * ```
 */
export function checkPermutation(perm: readonly number[], rank: number): void {
  const seen = new Set(perm);
  if (perm.length !== rank || seen.size !== rank || perm.some((p) => !(p >= 0 && p < rank))) {
    throw new Error(
      `Transpose axes ${JSON.stringify(perm)} are not a permutation of 0..${rank - 1}`,
    );
  }
}

/**
 * The inverse of a permutation.
 *
 * @example
 * ```ts
 * import { invertPermutation } from "./shape.ts";
 * invertPermutation([2, 0, 1]); // [1, 2, 0]
 * ```
 */
export function invertPermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/**
 * Resolves one `-1` in a reshape target and checks the sizes agree.
 *
 * @example
 * ```ts
 * import { resolveReshape } from "./shape.ts";
 * resolveReshape([2, 3], [-1]); // [6]
 * ```
 */
export function resolveReshape(from: Shape, to: readonly number[]): number[] {
  const size = sizeOf(from);
  const unknown = to.filter((d) => d === -1).length;
  if (unknown > 1) {
    throw new Error(`Cannot reshape ${fmtShape(from)} to ${fmtShape(to)}: more than one -1`);
  }
  if (to.some((d) => !Number.isInteger(d) || d < -1)) {
    throw new Error(`Cannot reshape ${fmtShape(from)} to ${fmtShape(to)}: invalid size`);
  }
  if (unknown === 1) {
    const known = to.reduce((n, d) => (d === -1 ? n : n * d), 1);
    if (known === 0 || size % known !== 0) {
      throw new Error(
        `Cannot reshape ${fmtShape(from)} to ${
          fmtShape(to)
        }: sizes differ (${size} is not a multiple of ${known})`,
      );
    }
    return to.map((d) => (d === -1 ? size / known : d));
  }
  if (sizeOf(to) !== size) {
    throw new Error(
      `Cannot reshape ${fmtShape(from)} to ${fmtShape(to)}: sizes differ (${size} vs ${
        sizeOf(to)
      })`,
    );
  }
  return [...to];
}
