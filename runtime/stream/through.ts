/**
 * `through(f)`: a batch in, one result per item out. A `vmap` of an op runs through the
 * batch engine (runtime/batch.ts: native batches, worker chunks, concurrency, and each item
 * an op call through the kernel) under `onError: "collect"`, so one item's failure is that
 * item's alone. Any other function is called with the batch and must return one value per
 * item.
 */
import { itemsOf, runBatch, type BatchOptions, type BatchTarget, type ItemResult } from "../batch.js";
import { OpError } from "../errors.js";

/** `through` options. */
export interface ThroughOptions {
  /** Batches in flight at once (each batch has its own concurrency inside). Default 1. */
  readonly concurrency?: number;
}

/** What `vmap` leaves on a batched function, so a stream can run its batches itself. Internal. */
export interface BatchedInfo {
  readonly target: BatchTarget;
  readonly options: BatchOptions & { readonly inAxes?: readonly (0 | null)[] };
}

/** The key of `BatchedInfo` on a vmapped function. Internal. */
export const BATCHED: unique symbol = Symbol("weft.vmap.batched");

export function throughFn(f: (batch: readonly never[]) => Promise<readonly unknown[]>): { call: (batch: readonly unknown[]) => Promise<ItemResult<unknown, unknown>[]>; name: string } {
  const info = (f as unknown as { [BATCHED]?: BatchedInfo })[BATCHED];
  if (info !== undefined) {
    const { target, options } = info;
    const { onProgress: _p, ...policy } = options;
    const batchOptions: BatchOptions = { ...policy, onError: "collect" };
    return {
      name: target.name,
      call: (batch) => {
        if (!Array.isArray(batch)) return Promise.reject(notBatch(target.name, batch));
        return runBatch(target, itemsOf(target, [batch], options.inAxes), batchOptions);
      },
    };
  }
  const name = f.name || "anonymous";
  return {
    name,
    call: async (batch) => {
      if (!Array.isArray(batch)) throw notBatch(name, batch);
      const out = await f(batch as never[]);
      if (!Array.isArray(out) || out.length !== batch.length) {
        throw new OpError(`through(${name})`, 1, new TypeError(`a through function must return one result per item: sent ${batch.length} items, received ${Array.isArray(out) ? `${out.length} results` : typeof out}`));
      }
      return out.map((value, index) => ({ ok: true as const, index, value }));
    },
  };
}

function notBatch(name: string, value: unknown): TypeError {
  return new TypeError(`stream through(${name}): expected a batch (an array; add .batch(n) before .through), received ${value === null ? "null" : typeof value}`);
}
