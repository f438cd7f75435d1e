/**
 * Decoded video frames as plain typed arrays, and the one adapter point to the core's arrays.
 *
 * The data layer works on `{ data, shape: [T, H, W, 3] }` (RGB, row-major, channels last).
 * {@linkcode toArraySpec} is the single place where frames become core arrays: once the core
 * exists it will call `np.array(data, { shape, dtype })`; until then it returns the arguments.
 *
 * @module
 */

/** Frame-stack shape: [T frames, H rows, W columns, 3 channels (RGB)]. */
export type FramesShape = [t: number, h: number, w: number, c: 3];

/** uint8 RGB frames, values 0..255, layout [T, H, W, 3]. */
export interface Frames {
  data: Uint8Array;
  shape: FramesShape;
}

/** float32 RGB frames, values in [0, 1], layout [T, H, W, 3]. */
export interface FloatFrames {
  data: Float32Array;
  shape: FramesShape;
}

/**
 * Makes frames from a buffer, checking that its length is T * H * W * 3.
 *
 * @example
 * ```ts
 * import { makeFrames } from "./frames.ts";
 * const f = makeFrames(new Uint8Array(2 * 4 * 4 * 3), 2, 4, 4); // shape [2, 4, 4, 3]
 * ```
 */
export function makeFrames(data: Uint8Array, t: number, h: number, w: number): Frames {
  for (const [name, v] of [["T", t], ["H", h], ["W", w]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`Frame ${name} must be >= 0, got ${v}`);
  }
  if (data.length !== t * h * w * 3) {
    throw new RangeError(
      `Frame buffer of ${data.length} bytes does not match [${t}, ${h}, ${w}, 3] ` +
        `(${t * h * w * 3} bytes)`,
    );
  }
  return { data, shape: [t, h, w, 3] };
}

/**
 * The frames at `indices` (in that order, repeats allowed), as a new stack [N, H, W, 3].
 *
 * @example
 * ```ts
 * import { makeFrames, selectFrames } from "./frames.ts";
 * const f = makeFrames(new Uint8Array(5 * 2 * 2 * 3), 5, 2, 2);
 * selectFrames(f, [0, 2, 4]).shape; // [3, 2, 2, 3]
 * ```
 */
export function selectFrames(frames: Frames, indices: readonly number[]): Frames {
  const [t, h, w] = frames.shape;
  const size = h * w * 3;
  const out = new Uint8Array(indices.length * size);
  indices.forEach((index, k) => {
    if (!Number.isInteger(index) || index < 0 || index >= t) {
      throw new RangeError(`Frame index ${index} is outside [0, ${t})`);
    }
    out.set(frames.data.subarray(index * size, (index + 1) * size), k * size);
  });
  return { data: out, shape: [indices.length, h, w, 3] };
}

/**
 * Concatenates frame stacks of one size along T.
 *
 * @example
 * ```ts
 * import { concatFrames, makeFrames } from "./frames.ts";
 * const a = makeFrames(new Uint8Array(12), 1, 2, 2);
 * concatFrames([a, a]).shape; // [2, 2, 2, 3]
 * ```
 */
export function concatFrames(stacks: readonly Frames[]): Frames {
  const first = stacks[0];
  if (!first) throw new RangeError("concatFrames needs at least one stack");
  const [, h, w] = first.shape;
  let t = 0;
  for (const s of stacks) {
    if (s.shape[1] !== h || s.shape[2] !== w) {
      throw new RangeError(`Cannot concatenate frames [${s.shape}] with [${first.shape}]`);
    }
    t += s.shape[0];
  }
  const out = new Uint8Array(t * h * w * 3);
  let offset = 0;
  for (const s of stacks) {
    out.set(s.data, offset);
    offset += s.data.length;
  }
  return { data: out, shape: [t, h, w, 3] };
}

/**
 * uint8 frames to float32 in [0, 1] (value / 255).
 *
 * @example
 * ```ts
 * import { makeFrames, toFloat } from "./frames.ts";
 * toFloat(makeFrames(new Uint8Array(3).fill(255), 1, 1, 1)).data[0]; // 1
 * ```
 */
export function toFloat(frames: Frames): FloatFrames {
  const out = new Float32Array(frames.data.length);
  for (let i = 0; i < out.length; i++) out[i] = frames.data[i]! / 255;
  return { data: out, shape: [...frames.shape] };
}

/** What the core's `np.array` takes: a flat buffer, its shape and dtype. */
export interface ArraySpec {
  data: Uint8Array | Float32Array;
  shape: number[];
  dtype: "uint32" | "float32";
}

/**
 * THE adapter point to the core: frames as the arguments of `np.array(data, { shape, dtype })`.
 * uint8 frames widen to "uint32" (the core has no uint8 dtype). When the core lands this
 * function returns `np.array(...)` instead and nothing else in `data/` changes.
 *
 * @example
 * ```ts
 * import { makeFrames, toArraySpec } from "./frames.ts";
 * toArraySpec(makeFrames(new Uint8Array(12), 1, 2, 2)).shape; // [1, 2, 2, 3]
 * ```
 */
export function toArraySpec(frames: Frames | FloatFrames): ArraySpec {
  if (frames.data instanceof Float32Array) {
    return { data: frames.data, shape: [...frames.shape], dtype: "float32" };
  }
  return { data: frames.data, shape: [...frames.shape], dtype: "uint32" };
}
