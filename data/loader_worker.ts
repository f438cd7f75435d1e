/**
 * The loader's worker: receives `{ id, items, config }`, answers `{ id, batch }` (the frame
 * buffer transferred, not copied) or `{ id, error }`.
 *
 * @module
 */
import { type BatchConfig, type BatchItem, loadBatch, type PackedBatch } from "./loader_batch.ts";

/** A request to the worker. */
export interface WorkerRequest {
  id: number;
  items: BatchItem[];
  config: BatchConfig;
}

/** The worker's answer. */
export type WorkerResponse = { id: number; batch: PackedBatch } | { id: number; error: string };

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const { id, items, config } = event.data;
  try {
    const batch = await loadBatch(items, config);
    const response: WorkerResponse = { id, batch };
    self.postMessage(response, { transfer: [batch.data.buffer] });
  } catch (error) {
    const response: WorkerResponse = {
      id,
      error: error instanceof Error ? error.message : String(error),
    };
    self.postMessage(response);
  }
};
