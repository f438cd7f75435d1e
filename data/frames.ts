/**
 * Decoded video frames as plain typed arrays, and the one adapter point to the core's arrays.
 *
 * The data layer works on `{ data, shape: [T, H, W, 3] }` (RGB, row-major, channels last).
 * {@linkcode framesToArray} is the single place where frames become core arrays (`np.array`).
 *
 * @module
 */
import { type NDArray, np } from "../autograd/mod.ts";

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

/** Options of {@linkcode framesToArray}. */
export interface FramesToArrayOptions {
  /**
   * "float32" (default): values in [0, 1] (uint8 / 255, as {@linkcode toFloat}); "int32": the
   * raw 0..255 values (the core has no uint8 dtype).
   */
  dtype?: "float32" | "int32";
}

/** RGB frames of any leading shape, channels last: [T, H, W, 3], loader batches [B, N, H, W, 3]. */
export interface FrameBuffer {
  data: Uint8Array | Float32Array;
  shape: readonly number[];
}

/**
 * THE adapter point to the core: frames (channels last, [T, H, W, 3] or a batch
 * [B, N, H, W, 3]) as an array on the current device, through `np.array`. uint8 frames become
 * float32 in [0, 1] (value / 255) or int32 0..255; float frames (already in [0, 1]) stay
 * float32.
 *
 * @example
 * ```ts ignore
 * import { device } from "../mod.ts";
 * import { framesToArray, makeFrames } from "./frames.ts";
 * device.use("reference");
 * const x = framesToArray(makeFrames(new Uint8Array(12).fill(255), 1, 2, 2));
 * x.shape; // [1, 2, 2, 3], float32, all 1
 * ```
 */
export function framesToArray(frames: FrameBuffer, options: FramesToArrayOptions = {}): NDArray {
  const { dtype = "float32" } = options;
  const shape = [...frames.shape];
  const size = shape.reduce((a, b) => a * b, 1);
  if (shape.at(-1) !== 3 || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new RangeError(
      `framesToArray: frames must be [..., 3] (RGB, channels last), got [${shape}]`,
    );
  }
  if (frames.data.length !== size) {
    throw new RangeError(
      `framesToArray: ${frames.data.length} values do not fill [${shape}] (${size} values)`,
    );
  }
  if (frames.data instanceof Float32Array) {
    if (dtype !== "float32") {
      throw new TypeError(
        `framesToArray: float frames [${shape}] convert only to float32, not ${dtype}`,
      );
    }
    return np.array(frames.data, { shape, dtype });
  }
  if (dtype === "int32") return np.array(frames.data, { shape, dtype });
  // Divided on the host: np.array makes a float32 host buffer anyway, so this costs nothing.
  const scaled = new Float32Array(size);
  for (let i = 0; i < size; i++) scaled[i] = frames.data[i]! / 255;
  return np.array(scaled, { shape, dtype });
}
