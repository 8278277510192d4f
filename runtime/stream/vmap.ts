/** The streaming form of a vmapped function. */
import type { BatchTarget, ItemResult } from "../batch.js";
import type { Source } from "./sources.js";
import { streamOf, type Stream, type StreamOptions } from "./stream.js";
import type { BatchedInfo } from "./through.js";

/**
 * `vmap(f).stream(items)`: every item a call of `f` (through the kernel when `f` is an op),
 * up to the vmap's concurrency at once, each result handed on as it finishes, with its
 * index (its position in `items`). Failed items are results too, never lost.
 */
export function streamBatched(target: BatchTarget, options: BatchedInfo["options"], items: Source<unknown>, streamOptions: StreamOptions = {}): Stream<ItemResult<unknown, unknown>> {
  const onProgress = options.onProgress;
  const progress: StreamOptions = onProgress === undefined || streamOptions.onProgress !== undefined ? {} : { onProgress: (p) => onProgress({ done: p.emitted, failed: p.failed, total: p.total ?? p.pulled }) };
  return streamOf(items, { name: `vmap(${target.name})`, ...progress, ...streamOptions })
    .map((item) => target.call([item]), { concurrency: options.concurrency ?? 16, ordered: false })
    .results();
}
