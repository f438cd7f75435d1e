/**
 * The training clip loader: from clip metadata to batches of frames [B, N, H, W, 3] and their
 * MAG values, decoded in a worker that keeps `prefetch` batches in flight so the training step
 * does not wait on decoding in the steady state. Batches are uint8 typed arrays, or, with
 * `output: "arrays"`, arrays of the core on the current device (`framesToArray`).
 *
 * Order: sample position p (counted across epochs) maps to epoch `floor(p / R)` and clip
 * `permuteIndex(p mod R, R, foldKey(seed, epoch))` of the R clips, so the order is a pure
 * function of the seed, each epoch visits every clip once, and a run resumes exactly by passing
 * the last batch's `position` back as `position`.
 *
 * @module
 */
import { type NDArray, np } from "../autograd/mod.ts";
import type { ClipFilter } from "./filter.ts";
import { framesToArray } from "./frames.ts";
import { foldKey, hash32 } from "./hash.ts";
import {
  type BatchConfig,
  type BatchItem,
  loadBatch,
  type PackedBatch,
  type SamplerChoice,
} from "./loader_batch.ts";
import type { WorkerRequest, WorkerResponse } from "./loader_worker.ts";
import { permuteIndex } from "./permutation.ts";
import { readClips } from "./scan.ts";

/** A clip the loader can read: a file and a frame range in it. */
export interface LoaderClip {
  clipId: string;
  path: string;
  startFrame: number;
  endFrame: number;
  fps: number;
  caption: string;
}

/** What a loader yields: typed-array batches ({@linkcode Batch}) or core arrays ({@linkcode ArrayBatch}). */
export type LoaderOutput = "typed" | "arrays";

/** Options of {@linkcode ClipLoader}. */
export interface LoaderOptions<O extends LoaderOutput = "typed"> {
  /** Clips per batch. */
  batchSize: number;
  /** Frames per clip (MAG's N). */
  n: number;
  /** Bucket resolution. */
  size: { width: number; height: number };
  /** Order seed. */
  seed: number;
  /** Samples already consumed (resume point); 0. */
  position?: number;
  /** Batches decoded ahead; 2. */
  prefetch?: number;
  /** Decode in a worker (default) or inline (for debugging). */
  worker?: boolean;
  /** "mag" (default) or a fixed-stride window `{ stride }`. */
  sampler?: SamplerChoice;
  /** Let MAG repeat frames of clips with fewer than N usable frames; false (they throw). */
  allowRepeats?: boolean;
  /** "typed" (default): uint8 typed arrays; "arrays": `NDArray`s on the current device. */
  output?: O;
  /** dtype of array batches: "float32" in [0, 1] (default) or "int32" 0..255. */
  dtype?: "float32" | "int32";
}

/** One batch. */
export interface Batch extends PackedBatch {
  /** Position after this batch: pass it as `position` to resume after it. */
  position: number;
  /** Epoch of the batch's first sample. */
  epoch: number;
}

/**
 * One batch as arrays of the core on the current device (`output: "arrays"`); the caller owns
 * them (free with `dispose()` or a `scope`).
 */
export interface ArrayBatch {
  /** Frames [B, N, H, W, 3]: float32 in [0, 1] or int32 0..255 (the `dtype` option). */
  data: NDArray;
  /** M per clip [B], float32. */
  m: NDArray;
  clipIds: string[];
  captions: string[];
  /** Position after this batch: pass it as `position` to resume after it. */
  position: number;
  /** Epoch of the batch's first sample. */
  epoch: number;
}

/** The batch type of each output kind. */
export interface LoaderBatches {
  typed: Batch;
  arrays: ArrayBatch;
}

/** Converts a decoded batch to each output kind. */
const converters: {
  [K in LoaderOutput]: (batch: Batch, dtype: "float32" | "int32") => LoaderBatches[K];
} = {
  typed: (batch) => batch,
  arrays: (batch, dtype) => ({
    data: framesToArray(batch, { dtype }),
    m: np.array(batch.m, { shape: [batch.m.length], dtype: "float32" }),
    clipIds: batch.clipIds,
    captions: batch.captions,
    position: batch.position,
    epoch: batch.epoch,
  }),
};

/**
 * Yields batches forever (epoch after epoch); close it (or `await using`) to stop its worker.
 *
 * @example
 * ```ts ignore
 * import { ClipLoader } from "./loader.ts";
 * await using loader = await ClipLoader.fromMetadata("out/synth", {
 *   batchSize: 4, n: 16, size: { width: 64, height: 64 }, seed: 0,
 * });
 * const batch = await loader.next(); // batch.shape [4, 16, 64, 64, 3], batch.m [4]
 *
 * device.use("reference");
 * await using arrays = await ClipLoader.fromMetadata("out/synth", {
 *   batchSize: 4, n: 16, size: { width: 64, height: 64 }, seed: 0, output: "arrays",
 * });
 * const { data, m } = await arrays.next(); // NDArray float32 [4, 16, 64, 64, 3], [4]
 * ```
 */
export class ClipLoader<O extends LoaderOutput = "typed"> implements AsyncDisposable {
  readonly #clips: readonly LoaderClip[];
  readonly #options: LoaderOptions<O>;
  readonly #output: O;
  readonly #config: BatchConfig;
  readonly #worker: Worker | null;
  readonly #pending = new Map<
    number,
    { resolve: (b: PackedBatch) => void; reject: (e: Error) => void }
  >();
  readonly #queue: { promise: Promise<PackedBatch>; start: number }[] = [];
  #nextId = 0;
  #issued: number;
  #closed = false;

  constructor(clips: readonly LoaderClip[], options: LoaderOptions<O>) {
    if (clips.length === 0) throw new RangeError("ClipLoader needs at least one clip");
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new RangeError(`batchSize must be an integer >= 1, got ${options.batchSize}`);
    }
    const position = options.position ?? 0;
    if (!Number.isInteger(position) || position < 0) {
      throw new RangeError(`position must be an integer >= 0, got ${position}`);
    }
    if (options.output !== undefined && !(options.output in converters)) {
      throw new RangeError(`output must be "typed" or "arrays", got ${options.output}`);
    }
    this.#clips = clips;
    this.#options = options;
    // O is "typed" exactly when `output` is omitted (the type parameter's default).
    this.#output = options.output ?? ("typed" as O);
    this.#issued = position;
    this.#config = {
      n: options.n,
      size: options.size,
      sampler: options.sampler ?? "mag",
      allowRepeats: options.allowRepeats ?? false,
    };
    this.#worker = options.worker === false
      ? null
      : new Worker(new URL("./loader_worker.ts", import.meta.url).href, { type: "module" });
    if (this.#worker) {
      this.#worker.onmessage = (event: MessageEvent<WorkerResponse>) => {
        const waiter = this.#pending.get(event.data.id);
        if (!waiter) return;
        this.#pending.delete(event.data.id);
        if ("error" in event.data) waiter.reject(new Error(event.data.error));
        else waiter.resolve(event.data.batch);
      };
      this.#worker.onerror = (event) => {
        event.preventDefault();
        for (const waiter of this.#pending.values()) {
          waiter.reject(new Error(`Loader worker failed: ${event.message}`));
        }
        this.#pending.clear();
      };
    }
  }

  /**
   * A loader over the clips in metadata shards (rows with a `path`), optionally filtered.
   */
  static async fromMetadata<O extends LoaderOutput = "typed">(
    source: string | readonly string[],
    options: LoaderOptions<O> & { filter?: ClipFilter },
  ): Promise<ClipLoader<O>> {
    const rows = await readClips(source, {
      columns: ["clipId", "path", "startFrame", "endFrame", "fps", "caption"],
      ...(options.filter ? { filter: options.filter } : {}),
    });
    const clips: LoaderClip[] = [];
    for (const r of rows) {
      if (typeof r.path !== "string") throw new Error(`Clip ${r.clipId} has no local path to load`);
      clips.push({
        clipId: r.clipId!,
        path: r.path,
        startFrame: r.startFrame!,
        endFrame: r.endFrame!,
        fps: r.fps!,
        caption: r.caption ?? "",
      });
    }
    return new ClipLoader(clips, options);
  }

  /**
   * The clip at sample position `p` (pure in seed and p).
   *
   * @example
   * ```ts ignore
   * loader.clipAt(0); // the first clip of epoch 0
   * ```
   */
  clipAt(position: number): LoaderClip {
    const count = this.#clips.length;
    const epoch = Math.floor(position / count);
    return this.#clips[permuteIndex(position % count, count, foldKey(this.#options.seed, epoch))]!;
  }

  #request(start: number): Promise<PackedBatch> {
    const items: BatchItem[] = [];
    for (let p = start; p < start + this.#options.batchSize; p++) {
      const clip = this.clipAt(p);
      items.push({ ...clip, key: hash32(foldKey(this.#options.seed, "window"), p) });
    }
    if (!this.#worker) return loadBatch(items, this.#config);
    const id = this.#nextId++;
    const promise = new Promise<PackedBatch>((resolve, reject) =>
      this.#pending.set(id, { resolve, reject })
    );
    const request: WorkerRequest = { id, items, config: this.#config };
    this.#worker.postMessage(request);
    return promise;
  }

  #fill(): void {
    const depth = Math.max(1, this.#options.prefetch ?? 2);
    while (this.#queue.length < depth) {
      const start = this.#issued;
      const promise = this.#request(start);
      promise.catch(() => {}); // surfaced when awaited in next()
      this.#queue.push({ promise, start });
      this.#issued += this.#options.batchSize;
    }
  }

  /** The next batch (decoding of the following ones is already under way). */
  async next(): Promise<LoaderBatches[O]> {
    if (this.#closed) throw new Error("ClipLoader is closed");
    this.#fill();
    const head = this.#queue.shift()!;
    this.#fill();
    const batch = await head.promise;
    const typed: Batch = {
      ...batch,
      position: head.start + this.#options.batchSize,
      epoch: Math.floor(head.start / this.#clips.length),
    };
    return converters[this.#output](typed, this.#options.dtype ?? "float32");
  }

  /** Batches forever, as an async iterator. */
  async *[Symbol.asyncIterator](): AsyncGenerator<LoaderBatches[O]> {
    while (!this.#closed) yield await this.next();
  }

  /** Waits for in-flight batches, then stops the worker. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled(this.#queue.map((q) => q.promise));
    this.#queue.length = 0;
    this.#worker?.terminate();
  }

  /** `await using` support. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
