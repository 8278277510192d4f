/**
 * The worker pool: a piscina pool of `os.availableParallelism()` threads (configurable),
 * started on first use, that runs op bodies, fused chains and chunks of items.
 *
 * What it guarantees, and where:
 * - only modules of registered ops reach a worker: the pool adds an op's module to the
 *   shared allowlist when it sends that op, and the worker checks before importing;
 * - typed arrays and ArrayBuffers are moved, not copied (`collectTransferables`), except
 *   for ops with a retry policy, whose arguments must survive for the next attempt;
 * - the caller's signal firing rejects the task at once, tells the worker (its
 *   `getContext().signal` aborts), and terminates the worker if the body has not stopped
 *   within `graceMs`, so nothing keeps burning CPU;
 * - a worker dying mid-task fails that task with `WorkerCrashed` (retryable by the op's
 *   policy); piscina replaces the thread, so the pool recovers;
 * - idle workers never keep the process alive, and `close()` leaves no thread or timer.
 */
import { once } from "node:events";
import { createRequire } from "node:module";
import os from "node:os";
import type { Piscina } from "piscina";
import type { Frame } from "../context.js";
import { NEVER_SIGNAL, abortReason } from "../context.js";
import { Cancelled, WorkerCrashed } from "../errors.js";
import type { OpEntry } from "../invoke.js";
import { settings } from "../settings.js";
import { lookup } from "../registry.js";
import type { FusedChain } from "../../compiler/chain.js";
import { WORKER_ENTRY, markIncapable, warnInline, whyNotWorker, workersUnavailable } from "./capability.js";
import { recordDuration } from "./cost.js";
import { ABORT_CELL_BYTES, WORKER_MARK } from "./keys.js";
import {
  AllowlistWriter,
  WorkerRefused,
  collectTransferables,
  encodeContext,
  signalAbort,
  type OpRef,
  type ReplyMessage,
  type TaskMessage,
  type Timings,
} from "./protocol.js";
import { opRef, readItems, readValue } from "./serve.js";
import { chainOf, resolveChain, runChain, runInline, runItems, settleInline, type ItemResult, type ResolvedStep } from "./run.js";

/**
 * Options of a worker pool.
 *
 * @example
 * ```ts
 * configureWorkers({ size: 4, graceMs: 50 });
 * ```
 */
export interface PoolOptions {
  /** Worker threads. Default `os.availableParallelism()`. */
  readonly size?: number;
  /**
   * How long a cancelled body may keep running before its worker is terminated, in ms.
   * Bodies that poll `getContext().signal.aborted` stop well within it and keep their
   * thread. Default 100.
   */
  readonly graceMs?: number;
  /** The worker entry module. Default weft's own `worker.js`; tests swap it for a broken one. */
  readonly entry?: URL;
}

const DEFAULT_GRACE_MS = 100;

/**
 * A pool of worker threads running op bodies. Created cheaply: threads start on first use.
 *
 * @example
 * ```ts
 * const pool = new WorkerPool({ size: 2 });
 * await pool.call(entry, undefined, [5], frame);                 // one body
 * await pool.chain([{ opId: a }, { opId: b }], [input], frame);  // one task for the chain
 * await pool.chunk(a, items.map((x) => [x]), frame);             // one task, many items
 * await pool.close();
 * ```
 */
export class WorkerPool {
  readonly size: number;
  readonly graceMs: number;
  /** Tasks posted to workers so far (for tests and benchmarks: one per round trip). */
  tasks = 0;
  /** Threads terminated because a cancelled body outlived its grace period. */
  terminated = 0;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Per-task controllers whose abort makes piscina drop (or terminate) the task. */
  private readonly kills = new Set<AbortController>();
  /** True once any worker has answered a task: from then on the entry is known to load. */
  private proven = false;
  /** Why workers cannot start (their entry failed to load); every task fails with it. */
  private startupError: unknown;
  private readonly entry: URL;
  private piscina: Piscina | undefined;
  private readonly allowlist = new AllowlistWriter();
  private readonly graceTimers = new Set<NodeJS.Timeout>();
  /** Piscina instances `close()` has shut down: their tasks' rejections mean "closed". */
  private readonly closed = new WeakSet<Piscina>();

  constructor(options: PoolOptions = {}) {
    const size = options.size ?? os.availableParallelism();
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`WorkerPool: size must be a whole number >= 1, received ${size}`);
    const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    if (!(graceMs >= 0)) throw new RangeError(`WorkerPool: graceMs must be >= 0, received ${graceMs}`);
    this.size = size;
    this.graceMs = graceMs;
    this.entry = options.entry ?? WORKER_ENTRY;
  }

  /** True once threads have been started (and not closed since). */
  get started(): boolean {
    return this.piscina !== undefined;
  }

  /** Threads alive right now. */
  get threads(): number {
    return this.piscina?.threads.length ?? 0;
  }

  private start(): Piscina {
    if (this.piscina) return this.piscina;
    if (this.entry === WORKER_ENTRY) {
      const unavailable = workersUnavailable();
      if (unavailable) throw new Error(`weft workers: ${unavailable}`);
    }
    this.proven = false;
    this.startupError = undefined;
    const Pool = loadPiscina();
    this.piscina = new Pool({
      filename: this.entry.href,
      minThreads: this.size,
      maxThreads: this.size,
      // One task per thread: bodies are CPU work, and a thread is terminated per task on
      // cancellation, which must not take a neighbour's task with it.
      concurrentTasksPerWorker: 1,
      idleTimeout: Infinity,
      workerData: { [WORKER_MARK]: true, allowlist: this.allowlist.buffer },
    });
    // Piscina reports a worker failing with no task running as an 'error' event. Before
    // any worker has answered, that is the entry failing to load: piscina would keep
    // queued tasks waiting for a worker that never comes, so fail them all instead. After,
    // it is one thread dying between tasks, which piscina replaces.
    this.piscina.on("error", (error: unknown) => {
      if (this.proven) return;
      this.startupError = error;
      for (const kill of this.kills) kill.abort(error);
    });
    return this.piscina;
  }

  /** The wire reference of `entry`, allowing its module. Only registered ops get one. */
  private refOf(entry: OpEntry): OpRef {
    if (lookup(entry.desc.id) !== entry) throw new TypeError(`op ${entry.desc.name} (${entry.desc.id}) is not the registered op with that id`);
    const ref = opRef(entry);
    this.allowlist.add(ref.locator.module);
    return ref;
  }

  /**
   * Runs one op body in a worker, in `frame`; resolves to its value, rejects with what the
   * body threw (rebuilt with its class), the abort reason, or `WorkerCrashed`. An op that
   * cannot run in a worker runs inline, with a one-time warning.
   */
  call(entry: OpEntry, thisArg: unknown, args: readonly unknown[], frame: Frame): Promise<unknown> {
    const why = whyNotWorker(entry, thisArg, args);
    return this.dispatch(entry.desc.name, entry, why === undefined ? undefined : { entry, reason: why }, frame, {
      inline: () => runInline(entry, frame, thisArg, args),
      task: () => ({
        type: "call",
        op: this.refOf(entry),
        self: entry.desc.locator!.member === undefined ? undefined : { fields: { ...(thisArg as object) } },
        args,
        ctx: encodeContext(frame),
        abort: newAbortCell(),
        validate: settings.validate,
      }),
      // A retried op gets its arguments again: they must not have been moved away.
      transfer: () => (entry.desc.policy.retry === undefined ? collectTransferables(args) : []),
      read: readValue,
    });
  }

  /**
   * Runs a fused chain as one worker task; resolves to the last step's output. Rejects
   * with the failing step's error as a call of that op would (an `OpError` naming it).
   */
  chain(chain: FusedChain, args: readonly unknown[], frame: Frame): Promise<unknown> {
    let steps: ResolvedStep[];
    try {
      steps = resolveChain(chain);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.dispatch(steps[0]!.entry.desc.name, steps.at(-1)!.entry, whyNotWorkerAll(steps, args), frame, {
      inline: () => runChain(steps, args, frame, settings.validate, undefined),
      task: () => ({ type: "chain", steps: this.wireSteps(steps), args, ctx: encodeContext(frame), abort: newAbortCell(), validate: settings.validate }),
      transfer: () => collectTransferables(args),
      read: readValue,
    });
  }

  /**
   * Runs an op (by id) or a fused chain over many argument lists in one worker task, and
   * resolves to a result per item, in order. vmap splits a batch into chunks and sends one
   * per worker, so CPU work pays one round trip per chunk rather than per item.
   */
  chunk(target: string | FusedChain, items: readonly (readonly unknown[])[], frame: Frame): Promise<ItemResult[]> {
    let steps: ResolvedStep[];
    try {
      steps = resolveChain(chainOf(target));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.dispatch(steps[0]!.entry.desc.name, steps.at(-1)!.entry, whyNotWorkerAll(steps, items), frame, {
      inline: () => runItems(steps, items, frame, settings.validate, undefined),
      task: () => ({ type: "chunk", steps: this.wireSteps(steps), items, ctx: encodeContext(frame), abort: newAbortCell(), validate: settings.validate }),
      transfer: () => collectTransferables(items, 3),
      read: (reply): ItemResult[] => {
        const results = readItems(reply);
        if (reply.type === "items") for (const [index] of reply.items.failures) results[index] = { ok: false, error: declined((results[index] as { error: unknown }).error, steps.at(-1)!.entry) };
        return results;
      },
    });
  }

  /**
   * The one path of call, chain and chunk: inline (with the warning) when a worker cannot
   * run it, otherwise one task whose reply `read` turns into the result; a worker that
   * declined to send back a changed value means inline after all (`inlineAfterRefusal`).
   */
  private dispatch<T>(
    op: string,
    last: OpEntry,
    why: { readonly entry: OpEntry; readonly reason: string } | undefined,
    frame: Frame,
    how: {
      readonly inline: () => T | Promise<T>;
      readonly task: () => TaskMessage;
      readonly transfer: () => readonly ArrayBuffer[];
      readonly read: (reply: ReplyMessage) => T;
    },
  ): Promise<T> {
    if (why) {
      warnInline(why.entry, why.reason);
      return settleInline(how.inline, frame, op);
    }
    let task: TaskMessage;
    try {
      task = how.task();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.post(task, how.transfer(), frame, op)
      .then(how.read)
      .catch((error: unknown) => {
        if (error instanceof NotSent) {
          // The task never left this thread, so no body ran: inline is safe.
          warnInline(last, error.reason);
          return settleInline(how.inline, frame, op);
        }
        throw declined(error, last);
      });
  }

  private wireSteps(steps: readonly ResolvedStep[]) {
    return steps.map((s) => (s.argsFrom === undefined ? { op: this.refOf(s.entry) } : { op: this.refOf(s.entry), argsFrom: s.argsFrom }));
  }

  /**
   * Posts `task` as it is, and resolves to the worker's reply. Everything above builds
   * tasks only from registered ops; this is also how tests hand a worker a forged message
   * to check that the worker itself refuses it.
   */
  post(task: TaskMessage, transfer: readonly ArrayBuffer[], frame: Frame, op: string): Promise<ReplyMessage> {
    const signal = frame.signal;
    if (signal.aborted) return Promise.reject(abortReason(signal, op));
    let piscina: Piscina;
    try {
      piscina = this.start();
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.startupError !== undefined) return Promise.reject(this.failure(undefined, op, piscina));
    // Aborting this controller makes piscina terminate the thread running the task.
    const kill = new AbortController();
    this.kills.add(kill);
    this.tasks++;
    const running = piscina.run(task, { transferList: transfer as ArrayBuffer[], signal: kill.signal }) as Promise<ReplyMessage>;
    // Tracked until the thread is done with it, which for a cancelled task is after the caller's rejection.
    this.track(running);
    running.then(
      () => {
        this.proven = true;
        this.kills.delete(kill);
      },
      () => this.kills.delete(kill),
    );
    const settle = (reply: ReplyMessage): ReplyMessage => {
      recordTimings(reply.timings);
      return reply;
    };
    if (signal === NEVER_SIGNAL) return running.then(settle, (error: unknown) => Promise.reject(this.failure(error, op, piscina)));
    return new Promise<ReplyMessage>((resolve, reject) => {
      let grace: NodeJS.Timeout | undefined;
      const onAbort = () => {
        const reason = abortReason(signal, op);
        // Synchronisation point: the worker's signal aborts when it next reads the cell.
        signalAbort(task.abort, reason);
        reject(reason);
        grace = setTimeout(() => {
          this.graceTimers.delete(grace!);
          this.terminated++;
          // Piscina removes the task's thread synchronously on abort; the one missing
          // afterwards is it. Its exit (not the rejection) is when the body really stops.
          const before = piscina.threads;
          kill.abort(reason);
          for (const thread of before) if (!piscina.threads.includes(thread)) this.track(once(thread, "exit"));
        }, this.graceMs);
        this.graceTimers.add(grace);
      };
      const done = () => {
        signal.removeEventListener("abort", onAbort);
        if (grace) {
          clearTimeout(grace);
          this.graceTimers.delete(grace);
        }
      };
      signal.addEventListener("abort", onAbort, { once: true });
      running.then(
        (reply) => {
          done();
          // After an abort the caller has its answer already; a late reply is dropped.
          if (!signal.aborted) resolve(settle(reply));
        },
        (error: unknown) => {
          done();
          if (!signal.aborted) reject(this.failure(error, op, piscina));
        },
      );
    });
  }

  private track(work: Promise<unknown>): void {
    this.inFlight.add(work);
    const forget = () => this.inFlight.delete(work);
    work.then(forget, forget);
  }

  /**
   * Resolves once every task posted so far is finished with its thread, including
   * cancelled tasks whose caller already has its answer (they end by returning or by
   * their thread being terminated after the grace period, and then exiting).
   */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** A rejected piscina task: the pool closing under it, or its worker dying. */
  private failure(error: unknown, op: string, piscina: Piscina): Error {
    if (this.closed.has(piscina)) return new Cancelled(op, "the worker pool was closed");
    if ((error as { name?: unknown } | null)?.name === "DataCloneError") {
      return new NotSent(`its task cannot be cloned to a worker (${error instanceof Error ? error.message : String(error)})`);
    }
    if (this.startupError !== undefined) return new WorkerCrashed(op, undefined, this.startupError);
    const exit = /exited with code: (-?\d+)/.exec(error instanceof Error ? error.message : String(error));
    return new WorkerCrashed(op, exit ? Number(exit[1]) : undefined, error);
  }

  /**
   * Stops every thread and timer; tasks still running reject with `Cancelled`. The pool
   * can be used again afterwards (it starts new threads).
   */
  async close(): Promise<void> {
    const piscina = this.piscina;
    this.piscina = undefined;
    for (const timer of this.graceTimers) clearTimeout(timer);
    this.graceTimers.clear();
    if (!piscina) return;
    this.closed.add(piscina);
    await piscina.destroy();
  }
}

function newAbortCell(): SharedArrayBuffer {
  return new SharedArrayBuffer(ABORT_CELL_BYTES);
}


/**
 * A worker that would have sent back a changed value (a class instance loses its
 * prototype, a function cannot travel) declines. Its body has run, so running it again
 * inline would run it twice (a charge, an append, a billed model call): the call fails
 * with the refusal instead, and the op runs inline from then on. Any other error passes
 * through as it is.
 */
function declined(error: unknown, entry: OpEntry): unknown {
  if (error instanceof WorkerRefused && error.reason === "result-not-cloneable") {
    markIncapable(entry, error.detail);
    warnInline(entry, error.detail);
  }
  return error;
}

/** The task could not be cloned to the worker (something `notCloneable` missed): nothing ran there. */
class NotSent extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

function recordTimings(timings: Timings): void {
  for (const [id, total, runs] of timings) recordDuration(id, total, runs);
}

function whyNotWorkerAll(steps: readonly ResolvedStep[], inputs: unknown): { entry: OpEntry; reason: string } | undefined {
  for (let i = 0; i < steps.length; i++) {
    const entry = steps[i]!.entry;
    if (entry.desc.locator?.member !== undefined) return { entry, reason: "a method op cannot be a fused chain step (its instance is not part of the chain)" };
    const why = whyNotWorker(entry, undefined, i === 0 ? (inputs as readonly unknown[]) : undefined);
    if (why) return { entry, reason: why };
  }
  return undefined;
}

// ───────────────────────────── the process-wide pool ─────────────────────────────

/** The process-wide pool's state: its options and, once used, the pool. Owned by a `Runtime`. */
export interface SharedPool {
  options: PoolOptions;
  pool: WorkerPool | undefined;
}

let state: SharedPool = { options: {}, pool: undefined };

/** The shared pool in force. Internal: a `Runtime` may share it. */
export function sharedPoolInForce(): SharedPool {
  return state;
}

/** Makes `next` the shared pool in force; returns the previous one. Internal: `Runtime` swaps it. */
export function installSharedPool(next: SharedPool): SharedPool {
  const previous = state;
  state = next;
  return previous;
}

/**
 * The process-wide pool that placement, vmap and the JIT use; created on first use.
 *
 * @example
 * ```ts
 * defaultPool().tasks; // tasks posted so far
 * ```
 */
export function defaultPool(): WorkerPool {
  return (state.pool ??= new WorkerPool(state.options));
}

/**
 * Sets the process-wide pool's size and grace period; returns the previous options. A
 * running pool keeps its threads: call `closeWorkers()` first to resize it.
 *
 * @example
 * ```ts
 * configureWorkers({ size: 4 });
 * ```
 */
export function configureWorkers(next: PoolOptions): PoolOptions {
  // Every key present, even when undefined, so passing `previous` back restores defaults.
  const options = state.options;
  const previous: PoolOptions = { size: options.size, graceMs: options.graceMs, entry: options.entry };
  state.options = { ...options, ...next };
  if (state.pool && !state.pool.started) state.pool = undefined;
  return previous;
}

/**
 * Shuts the process-wide pool down: every thread exits, no handle is left behind. Later
 * CPU work starts a fresh pool.
 *
 * @example
 * ```ts
 * afterAll(() => closeWorkers());
 * ```
 */
export async function closeWorkers(): Promise<void> {
  const pool = state.pool;
  state.pool = undefined;
  await pool?.close();
}

/**
 * Runs op `target` (an id) or a fused chain over many argument lists as one task on the
 * process-wide pool: a result per item, errors rebuilt with their class. vmap's CPU path.
 *
 * @example
 * ```ts
 * const results = await runChunk(heavy.descriptor.id, [[1], [2], [3]], currentFrame());
 * ```
 */
export function runChunk(target: string | FusedChain, items: readonly (readonly unknown[])[], frame: Frame): Promise<ItemResult[]> {
  return defaultPool().chunk(target, items, frame);
}

let piscinaClass: typeof Piscina | undefined;

/**
 * piscina, loaded when the first pool starts rather than when weft is imported: a program
 * whose ops never move to worker threads never loads it (faster start-up), and a bundle of
 * such a program (esbuild, with piscina inside or left out) runs. Loaded through
 * `createRequire`, which bundlers leave alone, from node_modules beside the program.
 */
function loadPiscina(): typeof Piscina {
  piscinaClass ??= (createRequire(import.meta.url)("piscina") as typeof import("piscina")).Piscina;
  return piscinaClass;
}
