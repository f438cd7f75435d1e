/**
 * Assembling one training batch: decode each clip's frame range at the bucket size, pick frames
 * with the MAG sampler (or a fixed-stride window), and pack the result as uint8
 * [B, N, H, W, 3] plus each clip's M. Used by the loader's worker and by its inline mode.
 *
 * @module
 */
import { selectFrames } from "./frames.ts";
import { sample, strideWindow } from "./mag.ts";
import { decode } from "./video.ts";

/** Frame sampler of a loader: MAG (default) or a fixed-stride random window. */
export type SamplerChoice = "mag" | { stride: number };

/** One clip to load. */
export interface BatchItem {
  clipId: string;
  path: string;
  /** Frame range in the file, [startFrame, endFrame). */
  startFrame: number;
  endFrame: number;
  /** Source fps (for M). */
  fps: number;
  caption: string;
  /** Key of this sample (used by the stride sampler). */
  key: number;
}

/** What the batch needs besides its clips. */
export interface BatchConfig {
  /** Frames per clip (N). */
  n: number;
  /** Bucket size: frames are resized to cover it, then centre-cropped. */
  size: { width: number; height: number };
  sampler: SamplerChoice;
  /** Let the MAG sampler repeat frames of clips shorter than N (else they throw). */
  allowRepeats: boolean;
}

/** A packed batch. */
export interface PackedBatch {
  /** uint8 [B, N, H, W, 3]. */
  data: Uint8Array;
  shape: [b: number, n: number, h: number, w: number, c: 3];
  /** M per clip [B]. */
  m: Float32Array;
  clipIds: string[];
  captions: string[];
}

/**
 * Loads and packs a batch (clips decoded concurrently, one ffmpeg process each).
 *
 * @example
 * ```ts ignore
 * import { loadBatch } from "./loader_batch.ts";
 * const batch = await loadBatch(items, { n: 16, size: { width: 64, height: 64 }, sampler: "mag", allowRepeats: false });
 * batch.shape; // [items.length, 16, 64, 64, 3]
 * ```
 */
export async function loadBatch(
  items: readonly BatchItem[],
  config: BatchConfig,
): Promise<PackedBatch> {
  const { n, size, sampler, allowRepeats } = config;
  const frameBytes = size.width * size.height * 3;
  const data = new Uint8Array(items.length * n * frameBytes);
  const m = new Float32Array(items.length);
  await Promise.all(items.map(async (item, b) => {
    const clipFrames = item.endFrame - item.startFrame;
    const picked = sampler === "mag"
      ? sample({ clipFrames, fps: item.fps, n, allowRepeats })
      : strideWindow({ clipFrames, fps: item.fps, n, stride: sampler.stride, key: item.key });
    const first = picked.indices[0]!, last = picked.indices[n - 1]!;
    const { frames } = await decode(item.path, {
      start: item.startFrame + first,
      end: item.startFrame + last + 1,
      size,
    });
    const chosen = selectFrames(frames, picked.indices.map((i) => i - first));
    data.set(chosen.data, b * n * frameBytes);
    m[b] = picked.m;
  }));
  return {
    data,
    shape: [items.length, n, size.height, size.width, 3],
    m,
    clipIds: items.map((i) => i.clipId),
    captions: items.map((i) => i.caption),
  };
}
