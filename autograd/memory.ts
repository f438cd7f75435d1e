/**
 * Memory without user-visible reference counting.
 *
 * - `scope(fn)` frees every array created while `fn` runs, except those it returns (found by
 *   walking the returned pytree). Scopes nest; inside a transformation (grad, vmap, jit tracing)
 *   a scope hands its arrays to the enclosing scope instead, because the transformation may
 *   still need them (a vjp tape holds forward values until the backward pass).
 * - `using x = ...` (explicit resource management) and `x.dispose()` free one array now.
 * - A `FinalizationRegistry` frees arrays that were garbage-collected without either: a safety
 *   net, not the plan, since collection timing is up to the JavaScript engine.
 *
 * @module
 */

import type { Backend, BackendArray } from "../kernels/backend.ts";
import { insideTransformation } from "./trace.ts";

/** What the memory layer needs of a concrete array. */
export interface Owned {
  /** Frees the array's storage now; later reads throw. */
  dispose(): void;
  /** True once freed. */
  readonly isDisposed: boolean;
}

const frames: Set<Owned>[] = [];

interface Held {
  readonly backend: Backend;
  readonly value: BackendArray;
}

const registry = new FinalizationRegistry<Held>((held) => held.backend.release(held.value));

/**
 * Records a newly created concrete array: with the innermost scope (unless `scoped` is false, for
 * arrays owned by a compiled program), and with the finalizer.
 *
 * @example
 * ```ts ignore
 * track(array, array.backend, array.value, token);
 * ```
 */
export function track(
  array: Owned,
  backend: Backend,
  value: BackendArray,
  token: object,
  scoped = true,
): void {
  registry.register(array, { backend, value }, token);
  if (scoped) frames[frames.length - 1]?.add(array);
}

/**
 * Forgets an array that is being disposed explicitly (so the finalizer does not free it twice).
 *
 * @example
 * ```ts ignore
 * untrack(token);
 * ```
 */
export function untrack(token: object): void {
  registry.unregister(token);
}

/** Anything that may hold arrays: a pytree of plain objects and arrays. */
type Walkable = unknown;

function collectOwned(value: Walkable, out: Set<Owned>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  if (isOwned(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) collectOwned(item, out, seen);
    return;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value)) collectOwned(item, out, seen);
  }
}

function isOwned(value: object): value is Owned {
  return "dispose" in value && "isDisposed" in value;
}

/**
 * Runs `fn` and frees the arrays it created, except the ones in its result. Returns the result.
 * Async functions are supported: arrays are freed when the promise settles.
 *
 * @example
 * ```ts ignore
 * import { np, scope } from "../mod.ts";
 * const total = scope(() => np.sum(np.exp(np.arange(5))));   // the exp result is freed
 * ```
 */
export function scope<T>(fn: () => T): T {
  const frame = new Set<Owned>();
  frames.push(frame);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    frames.pop();
    release(frame, new Set());
    throw error;
  }
  if (result instanceof Promise) {
    // Arrays created after an await land in whatever scope is innermost then; this frame holds
    // the ones created synchronously before the first await.
    frames.pop();
    return result.then((value) => {
      const keep = new Set<Owned>();
      collectOwned(value, keep);
      release(frame, keep);
      return value;
    }, (error) => {
      release(frame, new Set());
      throw error;
    }) as T;
  }
  frames.pop();
  const keep = new Set<Owned>();
  collectOwned(result, keep);
  release(frame, keep);
  return result;
}

function release(frame: Set<Owned>, keep: Set<Owned>): void {
  const parent = frames[frames.length - 1];
  const defer = insideTransformation();
  for (const array of frame) {
    if (keep.has(array) || defer) {
      parent?.add(array);
      continue;
    }
    if (!array.isDisposed) array.dispose();
  }
}
