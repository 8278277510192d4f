/**
 * Executors: where op bodies run. One tiny interface, three strategies (and room for a
 * remote one later), all held to the same conformance suite
 * (test/workers/executor.conformance.test.ts):
 *
 * - `inlineExecutor`: the calling thread, now. The default for everything.
 * - `asyncExecutor`: the event loop, after a macrotask hop, so a batch of io bodies starts
 *   together rather than one synchronous prefix at a time.
 * - `WorkerExecutor`: a piscina pool of worker threads, for CPU work worth a round trip.
 *
 * An executor runs a body, or a fused chain of op ids, inside a context frame, and honours
 * the frame's signal: when it fires, the returned promise rejects at once with the abort
 * reason (`DeadlineExceeded` or `Cancelled`), whatever the body is still doing.
 *
 * Errors: `run` of a single op rejects with whatever the body threw (the caller, usually
 * `invoke`, wraps it in `OpError`); a chain or chunk has no `invoke` around each step, so
 * its errors arrive already surfaced as a call of the failing op would surface them.
 */
import type { Frame } from "./context.js";
import { NEVER_SIGNAL, abortReason, store } from "./context.js";
import type { OpEntry } from "./invoke.js";
import { settings } from "./settings.js";
import { lookup } from "./registry.js";
import type { FusedChain } from "../compiler/chain.js";
import { chainOf, resolveChain, runChain, runItems, settleInline, type ItemResult } from "./workers/run.js";

export type { ArgSource, ChainStep, FusedChain } from "../compiler/chain.js";
export type { ItemResult } from "./workers/run.js";
import { WorkerPool, type PoolOptions } from "./workers/pool.js";

/**
 * What an executor runs: one op body (`call`) or one fused chain (`chain`).
 *
 * @example
 * ```ts
 * const work: Work = { kind: "call", entry, thisArg: undefined, args: [42] };
 * ```
 */
export type Work =
  | { readonly kind: "call"; readonly entry: OpEntry; readonly thisArg?: unknown; readonly args: readonly unknown[] }
  | { readonly kind: "chain"; readonly chain: FusedChain; readonly args: readonly unknown[] };

/**
 * Where op bodies run. Every implementation passes the conformance suite.
 *
 * @example
 * ```ts
 * const ex: Executor = inlineExecutor;
 * const value = await ex.run({ kind: "call", entry, args: [3] }, frame);
 * const items = await ex.runChunk(entry.desc.id, [[1], [2]], frame);
 * await ex.close();
 * ```
 */
export interface Executor {
  /** For traces and messages: `"inline"`, `"async"`, `"worker"`, ... */
  readonly name: string;
  /** Runs one body or fused chain in `frame`; rejects at once when `frame.signal` fires. */
  run(work: Work, frame: Frame): Promise<unknown>;
  /**
   * Runs an op (by id) or a fused chain over many argument lists as one unit (one worker
   * task), with a result per item in input order.
   */
  runChunk(target: string | FusedChain, items: readonly (readonly unknown[])[], frame: Frame): Promise<ItemResult[]>;
  /** Releases what the executor holds (threads, timers). It may be used again afterwards. */
  close(): Promise<void>;
}

/** The name errors use for a chunk of `target`. */
function chunkName(target: string | FusedChain): string {
  return lookup(typeof target === "string" ? target : (target[0]?.opId ?? ""))?.desc.name ?? "chunk";
}

/** The name errors and traces use for `work`. */
function nameOf(work: Work): string {
  if (work.kind === "call") return work.entry.desc.name;
  const first = lookup(work.chain[0]?.opId ?? "");
  return first ? first.desc.name : "chain";
}

function runHere(work: Work, frame: Frame): unknown {
  if (work.kind === "call") return store.run(frame, Reflect.apply, work.entry.impl, work.thisArg, work.args);
  return runChain(resolveChain(work.chain), work.args, frame, settings.validate, undefined);
}

/**
 * Runs bodies in the calling thread, synchronously up to their first `await`. A
 * synchronous body cannot be interrupted; it sees its deadline through
 * `getContext().signal.aborted` and may stop early.
 *
 * @example
 * ```ts
 * entry.runBody = executorRunBody(inlineExecutor);
 * ```
 */
export const inlineExecutor: Executor = {
  name: "inline",
  run(work, frame) {
    if (frame.signal.aborted) return Promise.reject(abortReason(frame.signal, nameOf(work)));
    return settleInline(() => runHere(work, frame), frame, nameOf(work));
  },
  runChunk(target, items, frame) {
    const name = chunkName(target);
    if (frame.signal.aborted) return Promise.reject(abortReason(frame.signal, name));
    return settleInline(() => runItems(resolveChain(chainOf(target)), items, frame, settings.validate, undefined), frame, name);
  },
  close: () => Promise.resolve(),
};

/**
 * Runs bodies on the event loop after a macrotask hop (`setImmediate`): the caller gets
 * its promise before any body code runs, so io bodies started together really start
 * together. Cancelling before the hop means the body never starts.
 *
 * @example
 * ```ts
 * const pages = await Promise.all(urls.map((u) => asyncExecutor.run({ kind: "call", entry, args: [u] }, frame)));
 * ```
 */
export const asyncExecutor: Executor = {
  name: "async",
  run(work, frame) {
    return afterHop(frame, nameOf(work), () => inlineExecutor.run(work, frame));
  },
  runChunk(target, items, frame) {
    return afterHop(frame, chunkName(target), () => inlineExecutor.runChunk(target, items, frame));
  },
  close: () => Promise.resolve(),
};

function afterHop<T>(frame: Frame, op: string, next: () => Promise<T>): Promise<T> {
  const signal = frame.signal;
  if (signal.aborted) return Promise.reject(abortReason(signal, op));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      clearImmediate(hop);
      reject(abortReason(signal, op));
    };
    const hop = setImmediate(() => {
      signal.removeEventListener("abort", onAbort);
      next().then(resolve, reject);
    });
    if (signal !== NEVER_SIGNAL) signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs bodies on a pool of worker threads (see runtime/workers/pool.ts): an op that cannot
 * run in a worker (no locator, a non-cloneable `this` or argument) runs inline instead,
 * with a one-time warning that says why.
 *
 * @example
 * ```ts
 * const workers = new WorkerExecutor({ size: 2 });
 * const results = await workers.runChunk(heavy.descriptor.id, items.map((x) => [x]), frame);
 * await workers.close();
 * ```
 */
export class WorkerExecutor implements Executor {
  readonly name = "worker";
  readonly pool: WorkerPool;

  constructor(pool: WorkerPool | PoolOptions = {}) {
    this.pool = pool instanceof WorkerPool ? pool : new WorkerPool(pool);
  }

  run(work: Work, frame: Frame): Promise<unknown> {
    if (work.kind === "call") return this.pool.call(work.entry, work.thisArg, work.args, frame);
    return this.pool.chain(work.chain, work.args, frame);
  }

  runChunk(target: string | FusedChain, items: readonly (readonly unknown[])[], frame: Frame): Promise<ItemResult[]> {
    return this.pool.chunk(target, items, frame);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/**
 * An `OpEntry.runBody` that runs the op's body on `executor`, for pinning an op to one.
 *
 * @example
 * ```ts
 * entry.runBody = executorRunBody(new WorkerExecutor());
 * await heavy(5); // validated, retried and timed out by invoke; the body runs in a worker
 * ```
 */
export function executorRunBody(executor: Executor): NonNullable<OpEntry["runBody"]> {
  return (entry, frame, thisArg, args) => executor.run({ kind: "call", entry, thisArg, args }, frame);
}

// The worker pool's entry points, in one place for the runtime (registration, vmap) and
// the JIT (place pass, fused nodes).
export { closeWorkers, configureWorkers, defaultPool, runChunk, WorkerPool, type PoolOptions } from "./workers/pool.js";
export { enableWorkerPlacement } from "./workers/placement.js";
export { costOf, currentRoundTripMs, meanMs, ROUND_TRIP_MS } from "./workers/cost.js";
