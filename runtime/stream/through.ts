/**
 * `through(f)`: a batch in, one result per item out. A `vmap` of an op runs through the
 * batch engine (runtime/batch.ts: native batches, worker chunks, concurrency, and each item
 * an op call through the kernel) under `onError: "collect"`, so one item's failure is that
 * item's alone. Any other function is called with the batch and must return one value per
 * item.
 */
import { itemsOf, runBatch, type BatchOptions, type BatchTarget, type ItemResult } from "../batch.js";
import { OpError } from "../errors.js";
import { currentFrame, store } from "../context.js";
import { endSpan, startSpan } from "../telemetry.js";
import { offsetsOf, type Lineage } from "./core.js";
import { BATCHED, type BatchedInfo } from "./batched.js";

export { BATCHED, type BatchedInfo } from "./batched.js";

/** `through` options. */
export interface ThroughOptions {
  /** Batches in flight at once (each batch has its own concurrency inside). Default 1. */
  readonly concurrency?: number;
}

/** A through call with its span: `through(name)`, carrying the batch's source offsets, parent of the batch's calls. */
export function throughFn(f: (batch: readonly never[]) => Promise<readonly unknown[]>): { call: (batch: readonly unknown[], lineage: Lineage) => Promise<ItemResult<unknown, unknown>[]>; name: string } {
  const inner = throughCall(f);
  const spanName = `through(${inner.name})`;
  return {
    name: inner.name,
    call: (batch, lineage) => {
      const parent = currentFrame();
      const span = startSpan({ name: spanName, kind: "stream", stepId: parent.stepId, parent: parent.span, attributes: { "weft.stream.sources": describeOffsets(offsetsOf(lineage)) } });
      if (span === undefined) return inner.call(batch);
      return store.run(parent.derive({ span }), inner.call, batch).then(
        (results) => {
          endSpan(span, 1);
          return results;
        },
        (error: unknown) => {
          endSpan(span, 1, error);
          throw error;
        },
      );
    },
  };
}

/** Offsets as span text: runs of three or more as `a-b`, at most 64 parts. */
export function describeOffsets(offsets: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < offsets.length && parts.length < 64; ) {
    let j = i;
    while (j + 1 < offsets.length && offsets[j + 1] === offsets[j]! + 1) j++;
    if (j - i >= 2) parts.push(`${offsets[i]}-${offsets[j]}`);
    else for (let k = i; k <= j; k++) parts.push(String(offsets[k]));
    i = j + 1;
  }
  return parts.length >= 64 ? `${parts.join(",")},…` : parts.join(",");
}

function throughCall(f: (batch: readonly never[]) => Promise<readonly unknown[]>): { call: (batch: readonly unknown[]) => Promise<ItemResult<unknown, unknown>[]>; name: string } {
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
