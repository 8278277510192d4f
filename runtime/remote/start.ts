/**
 * `startWorker`'s front: the worker process runtime (runtime/remote/worker.ts, with its
 * job handling and the wire helpers) loads when a worker starts, not with weft.
 */
import type { RemoteWorker, RemoteWorkerOptions } from "./worker.js";

/**
 * Starts a worker process's BullMQ worker: imports the op modules, then serves the queue.
 *
 * @example
 * ```ts
 * const worker = await startWorker({ queue: "weft", concurrency: 4, ops: ["dist/ops.js"] });
 * await worker.close();
 * ```
 */
export async function startWorker(options: RemoteWorkerOptions): Promise<RemoteWorker> {
  return (await import("./worker.js")).startWorker(options);
}
