/**
 * The built-in executors behind the seam of runtime/executor.ts (the interface, the table
 * of named executors and the placement names), all held to the same conformance suite
 * (test/workers/executor.conformance.test.ts):
 *
 * - `inlineExecutor` (`"inline"`): the calling thread, now. The kernel runs such bodies
 *   itself, synchronously up to their first `await`; this object is the same run as a promise.
 * - `asyncExecutor` (`"async"`): the event loop, after a macrotask hop, so a batch of io
 *   bodies starts together rather than one synchronous prefix at a time.
 * - `workerExecutor` (`"worker"`): the process-wide pool of worker threads, for CPU work
 *   worth a round trip; `new WorkerExecutor(options)` makes one with a pool of its own.
 *
 * Errors: `run` of a single op rejects with whatever the body threw (the kernel wraps it in
 * `OpError`); a chain or chunk runs each member through the kernel, so its errors arrive
 * already surfaced as a call of the failing op would surface them.
 */
import type { Frame } from "./context.js";
import { NEVER_SIGNAL, abortReason, runIn } from "./context.js";
import { settings } from "./settings.js";
import { lookup } from "./registry.js";
import type { FusedChain } from "../compiler/chain.js";
import { installBuiltinExecutor, type ChunkResult, type Executor, type Work } from "./executor.js";
import { chainOf, resolveChain, runChain, runItems, settleInline } from "./workers/run.js";
import { WorkerPool, closeWorkers, defaultPool, type PoolOptions } from "./workers/pool.js";

export type { ArgSource, ChainStep, FusedChain } from "../compiler/chain.js";
export type { ChunkResult, ChunkResult as ItemResult, Executor, Work } from "./executor.js";
export { BUILTIN_EXECUTORS, checkPlacement, executorFor, registerExecutor, REMOTE } from "./executor.js";

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
  if (work.kind === "call") return runIn(frame, work.entry.impl, work.thisArg, work.args);
  return runChain(resolveChain(work.chain), work.args, frame, settings.validate, undefined);
}

/**
 * Runs bodies in the calling thread, synchronously up to their first `await`. A
 * synchronous body cannot be interrupted; it sees its deadline through
 * `getContext().signal.aborted` and may stop early.
 *
 * @example
 * ```ts
 * import { inlineExecutor, op, registerExecutor, withContext } from "weft";
 * // The calling thread under a name of its own, e.g. to keep a block's calls off other executors.
 * const unregister = registerExecutor("here", inlineExecutor);
 * const double = op((n: number) => n * 2);
 * await withContext({ placement: "remote:here" }, () => double(21)); // 42, on this thread
 * unregister();
 * ```
 */
export const inlineExecutor: Executor = {
  name: "inline",
  run(work, frame) {
    if (frame.signal.aborted) return Promise.reject(abortReason(frame.signal, nameOf(work)));
    return settleInline(() => runHere(work, frame), frame, nameOf(work));
  },
  runChunk(target, items, frame): Promise<ChunkResult[]> {
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
 * with a one-time warning that says why. Given no pool, it uses the process-wide one
 * (`defaultPool()`, whatever `configureWorkers` and `closeWorkers` made of it): that is the
 * built-in `"worker"` executor production calls take.
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
  private readonly own: WorkerPool | undefined;

  constructor(pool?: WorkerPool | PoolOptions) {
    this.own = pool === undefined ? undefined : pool instanceof WorkerPool ? pool : new WorkerPool(pool);
  }

  /** The pool tasks go to: this executor's own, or the process-wide one. */
  get pool(): WorkerPool {
    return this.own ?? defaultPool();
  }

  run(work: Work, frame: Frame): Promise<unknown> {
    if (work.kind === "call") return this.pool.call(work.entry, work.thisArg, work.args, frame);
    return this.pool.chain(work.chain, work.args, frame);
  }

  runChunk(target: string | FusedChain, items: readonly (readonly unknown[])[], frame: Frame): Promise<ChunkResult[]> {
    return this.pool.chunk(target, items, frame);
  }

  close(): Promise<void> {
    return this.own ? this.own.close() : closeWorkers();
  }
}

/**
 * The built-in `"worker"` executor: the process-wide pool. Placement sends single calls,
 * fused chains and vmap chunks here.
 *
 * @example
 * ```ts
 * await workerExecutor.runChunk(heavy.descriptor.id, [[1], [2]], currentFrame());
 * ```
 */
export const workerExecutor: WorkerExecutor = new WorkerExecutor();

installBuiltinExecutor("inline", inlineExecutor);
installBuiltinExecutor("async", asyncExecutor);
installBuiltinExecutor("worker", workerExecutor);

// The worker pool's entry points, in one place for the runtime (registration, vmap) and
// the JIT (place pass, fused nodes).
export { closeWorkers, configureWorkers, defaultPool, WorkerPool, type PoolOptions } from "./workers/pool.js";
export { costOf, currentRoundTripMs, meanMs, ROUND_TRIP_MS } from "./workers/cost.js";
