/**
 * Pytrees: nested plain objects and arrays whose leaves are values (usually `NDArray`s).
 * Transformations take and return pytrees, and parameter trees' dotted paths are checkpoint
 * key names (`transformer_blocks.0.attn1.to_q.weight`).
 *
 * A node is a JavaScript array or a plain object (prototype `Object.prototype` or null);
 * anything else (an `NDArray`, a number, a string, `null`, `undefined`) is a leaf.
 *
 * @module
 */

/** The shape of a pytree without its leaves. */
export type TreeDef =
  | { readonly kind: "leaf" }
  | { readonly kind: "list"; readonly children: readonly TreeDef[] }
  | {
    readonly kind: "dict";
    readonly keys: readonly string[];
    readonly children: readonly TreeDef[];
  };

const leafDef: TreeDef = { kind: "leaf" };

function isNode(value: unknown): value is readonly unknown[] | Record<string, unknown> {
  if (Array.isArray(value)) return true;
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Splits a pytree into its leaves (depth first; object keys in insertion order) and its
 * structure.
 *
 * @example
 * ```ts
 * import { flatten } from "./tree.ts";
 * const [leaves] = flatten({ a: 1, b: [2, 3] });
 * leaves; // [1, 2, 3]
 * ```
 */
export function flatten<L = unknown>(tree: unknown): [L[], TreeDef] {
  const leaves: L[] = [];
  const walk = (value: unknown): TreeDef => {
    if (!isNode(value)) {
      leaves.push(value as L);
      return leafDef;
    }
    if (Array.isArray(value)) return { kind: "list", children: value.map(walk) };
    const keys = Object.keys(value);
    return {
      kind: "dict",
      keys,
      children: keys.map((k) => walk((value as Record<string, unknown>)[k])),
    };
  };
  const def = walk(tree);
  return [leaves, def];
}

/**
 * Rebuilds a pytree of structure `def` from `leaves`.
 *
 * @example
 * ```ts
 * import { flatten, unflatten } from "./tree.ts";
 * const [leaves, def] = flatten({ a: 1, b: [2, 3] });
 * unflatten(def, leaves.map((x) => (x as number) * 10)); // { a: 10, b: [20, 30] }
 * ```
 */
export function unflatten<T = unknown>(def: TreeDef, leaves: readonly unknown[]): T {
  let i = 0;
  const build = (d: TreeDef): unknown => {
    if (d.kind === "leaf") {
      if (i >= leaves.length) throw new Error(`tree.unflatten: too few leaves (${leaves.length})`);
      return leaves[i++];
    }
    if (d.kind === "list") return d.children.map(build);
    const out: Record<string, unknown> = {};
    d.keys.forEach((k, j) => (out[k] = build(d.children[j]!)));
    return out;
  };
  const tree = build(def);
  if (i !== leaves.length) {
    throw new Error(`tree.unflatten: ${leaves.length} leaves for a tree of ${i}`);
  }
  return tree as T;
}

/**
 * The leaves of a pytree.
 *
 * @example
 * ```ts
 * import { leaves } from "./tree.ts";
 * leaves([1, { x: 2 }]); // [1, 2]
 * ```
 */
export function leaves<L = unknown>(tree: unknown): L[] {
  return flatten<L>(tree)[0];
}

/**
 * The number of leaves of a structure.
 *
 * @example
 * ```ts
 * import { flatten, numLeaves } from "./tree.ts";
 * numLeaves(flatten([1, [2, 3]])[1]); // 3
 * ```
 */
export function numLeaves(def: TreeDef): number {
  return def.kind === "leaf" ? 1 : def.children.reduce((n, c) => n + numLeaves(c), 0);
}

/**
 * A canonical string of a structure (for cache keys and error messages).
 *
 * @example
 * ```ts
 * import { flatten, defToString } from "./tree.ts";
 * defToString(flatten({ a: 1, b: [2, 3] })[1]); // "{a:*,b:[*,*]}"
 * ```
 */
export function defToString(def: TreeDef): string {
  if (def.kind === "leaf") return "*";
  if (def.kind === "list") return `[${def.children.map(defToString).join(",")}]`;
  return `{${
    def.keys.map((k, i) => `${JSON.stringify(k).slice(1, -1)}:${defToString(def.children[i]!)}`)
      .join(",")
  }}`;
}

/**
 * Applies `f` to corresponding leaves of one or more pytrees of the same structure.
 *
 * @example
 * ```ts
 * import { map } from "./tree.ts";
 * map((a: number, b: number) => a + b, { x: 1, y: [2] }, { x: 10, y: [20] }); // { x: 11, y: [22] }
 * ```
 */
export function map<T = unknown>(
  f: (...leaves: never[]) => unknown,
  tree: unknown,
  ...rest: readonly unknown[]
): T {
  const [first, def] = flatten(tree);
  const others = rest.map((r, i) => {
    const [ls, d] = flatten(r);
    if (defToString(d) !== defToString(def)) {
      throw new Error(
        `tree.map: tree ${i + 1} has structure ${defToString(d)}, expected ${defToString(def)}`,
      );
    }
    return ls;
  });
  const apply = f as (...leaves: unknown[]) => unknown;
  return unflatten<T>(def, first.map((leaf, i) => apply(leaf, ...others.map((o) => o[i]))));
}

/**
 * The leaves with their dotted paths (`"blocks.0.attn.weight"`), as checkpoint key names.
 *
 * @example
 * ```ts
 * import { flattenWithPaths } from "./tree.ts";
 * flattenWithPaths({ layer: [{ w: 1 }] }); // [["layer.0.w", 1]]
 * ```
 */
export function flattenWithPaths<L = unknown>(tree: unknown): [string, L][] {
  const out: [string, L][] = [];
  const walk = (value: unknown, path: string): void => {
    if (!isNode(value)) {
      out.push([path, value as L]);
      return;
    }
    const join = (k: string) => (path === "" ? k : `${path}.${k}`);
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, join(String(i))));
    else for (const [k, v] of Object.entries(value)) walk(v, join(k));
  };
  walk(tree, "");
  return out;
}

/**
 * Builds a nested tree from dotted paths; path parts that are all digits become list indices
 * when a level's keys are exactly `0..n-1`.
 *
 * @example
 * ```ts
 * import { unflattenFromPaths } from "./tree.ts";
 * unflattenFromPaths([["layer.0.w", 1], ["layer.1.w", 2]]); // { layer: [{ w: 1 }, { w: 2 }] }
 * ```
 */
export function unflattenFromPaths<L = unknown>(
  entries: readonly (readonly [string, L])[],
): unknown {
  const root: Record<string, unknown> = {};
  for (const [path, value] of entries) {
    const parts = path.split(".");
    let node = root;
    parts.forEach((part, i) => {
      if (i === parts.length - 1) {
        if (part in node) throw new Error(`Duplicate path "${path}"`);
        node[part] = value;
        return;
      }
      const next = node[part];
      if (next === undefined) node[part] = {};
      else if (!isNode(next) || Array.isArray(next)) {
        throw new Error(
          `Path "${path}" conflicts with a leaf at "${parts.slice(0, i + 1).join(".")}"`,
        );
      }
      node = node[part] as Record<string, unknown>;
    });
  }
  const listify = (value: unknown): unknown => {
    if (!isNode(value) || Array.isArray(value)) return value;
    const keys = Object.keys(value);
    const entries = keys.map((k) => [k, listify((value as Record<string, unknown>)[k])] as const);
    const isList = keys.length > 0 && keys.every((k) => /^\d+$/.test(k)) &&
      [...keys].map(Number).sort((a, b) => a - b).every((k, i) => k === i);
    if (isList) return [...entries].sort((a, b) => Number(a[0]) - Number(b[0])).map(([, v]) => v);
    return Object.fromEntries(entries);
  };
  return listify(root);
}
