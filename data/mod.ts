/**
 * The DropletVideo data layer: the DropletVideo-10M metadata schema, importers, sharded
 * Parquet / Arrow IPC storage and streaming filtered scans; video decode and encode through
 * ffmpeg; the MAG and fixed-stride frame samplers; a synthetic camera-motion corpus; the
 * curation pipeline (shots, optical flow, camera motion, quality); and the training clip loader.
 *
 * Works on plain typed arrays (frames are uint8 `[T, H, W, 3]`); `framesToArray` in `frames.ts`
 * is the single adapter point to the core's `np.array`, and optical flow runs in the core's
 * array ops on the current device. The root `mod.ts` exposes this module as
 * `data` (`data.mag.sample`, `data.importCsv`, `data.video.decode`).
 *
 * @example
 * ```ts
 * import { mag } from "./mod.ts";
 * const { indices, m } = mag.sample({ clipFrames: 120, fps: 24, n: 49 });
 * ```
 *
 * @module
 */
export * as mag from "./mag.ts";
export * as video from "./video.ts";
export { importCsv, importParquet } from "./import_released.ts";
export type { ImportOptions, ImportResult } from "./import_released.ts";
export { ClipWriter } from "./clip_writer.ts";
export type { ClipWriterOptions, ShardFormat } from "./clip_writer.ts";
export { listShards, readClips, scanClips } from "./scan.ts";
export type { ScanOptions } from "./scan.ts";
export { filterMask, matchesFilter } from "./filter.ts";
export type { ClipFilter } from "./filter.ts";
export { arrowSchema, clipColumns, parseFramestamp, validateRecord } from "./schema.ts";
export type { ClipRow, RejectReason } from "./schema.ts";
export { concatFrames, framesToArray, makeFrames, selectFrames, toFloat } from "./frames.ts";
export type { FloatFrames, FrameBuffer, Frames, FramesToArrayOptions } from "./frames.ts";
export { foldKey, hash32 } from "./hash.ts";
export type { Key } from "./hash.ts";
export { permuteIndex } from "./permutation.ts";
export { cameraMotions } from "./camera_labels.ts";
export type { CameraMotion } from "./camera_labels.ts";
export { generateCorpus, randomClipSpec, renderClip, renderShots } from "./synthetic.ts";
export type { ClipSpec, CorpusOptions } from "./synthetic.ts";
export { captionFor } from "./synthetic_caption.ts";
export { syntheticRow } from "./synthetic_rows.ts";
export { clipFlow, framePairFlows, opticalFlow, readFlow } from "./flow.ts";
export type { Flow, FlowArrays, FlowOptions, PairFlowOptions } from "./flow.ts";
export {
  classifyCameraMotion,
  fitGlobalMotion,
  labelMotion,
  pairMotions,
} from "./camera_motion.ts";
export type { GlobalMotion } from "./camera_motion.ts";
export { detectShots } from "./shot_detect.ts";
export { qualityScores } from "./quality.ts";
export { curate, curateVideo } from "./curate.ts";
export type { CurateOptions, CurateResult } from "./curate.ts";
export { ClipLoader } from "./loader.ts";
export type {
  ArrayBatch,
  Batch,
  LoaderBatches,
  LoaderClip,
  LoaderOptions,
  LoaderOutput,
} from "./loader.ts";
