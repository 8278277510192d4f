/**
 * THE Executor seam: where op bodies run, as one interface and one table of named
 * executors. Everything that runs an op body elsewhere than "here, now" goes through an
 * `Executor`: single op calls placed on the worker pool, fused jit chains, vmap chunks, and
 * remote engines (a job queue on other machines) registered under a name.
 *
 * Built in (runtime/executors.ts): `"inline"` (the calling thread: the kernel runs the body
 * itself), `"async"` (after a macrotask hop) and `"worker"` (the process-wide worker pool).
 * Anything else is registered with `registerExecutor(name, executor)` and chosen with
 * `placement: "remote:NAME"`:
 *
 * - per op: `op({ placement: "remote:gpu" }, fn)`;
 * - per call: `op.with({ placement: "remote:gpu" })(x)`;
 * - per run: `withContext({ placement: "remote:gpu" }, () => pipeline(x))`: every op call in
 *   the block whose op does not pin a placement of its own, every fused chain and every vmap
 *   chunk goes there.
 *
 * Precedence: a call's `.with()` > the op's own `placement` > the block's `withContext` >
 * the cost model (`"auto"`). Names are looked up when a call runs, so ops may be defined
 * before their executor is registered; an unknown name fails that call with a `TypeError`
 * naming the op, the name and the registered ones.
 *
 * The kernel (`callOp`, runtime/invoke.ts) stays on the caller's side: it checks inputs,
 * opens the child frame and span, applies retries, timeouts and the caller's deadline and
 * signal, checks the output and surfaces errors; the executor only runs the body (or the
 * chain, or the chunk) in the frame it is given. This file is layer 2 (types and a table);
 * the executors themselves are layer 3.
 */
import type { FusedChain } from "../compiler/chain.js";
import { REMOTE } from "../decorators/options.js";
import type { Frame } from "./context.js";
import type { OpEntry } from "./entry.js";

/**
 * One item's outcome in a chunk: its value, or the error a call of the op would have
 * failed with. Nothing is ever dropped.
 *
 * @example
 * ```ts
 * const r: ChunkResult<number> = { ok: true, value: 3 };
 * ```
 */
export type ChunkResult<T = unknown> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/**
 * What an executor runs: one op body (`call`) or one fused chain (`chain`).
 *
 * @example
 * ```ts
 * import type { ExecutorWork } from "weft";
 * const label = (work: ExecutorWork): string =>
 *   work.kind === "call" ? `${work.entry.desc.name} (${work.args.length} arguments)` : `a chain of ${work.chain.length} steps`;
 * ```
 */
export type Work =
  | { readonly kind: "call"; readonly entry: OpEntry; readonly thisArg?: unknown; readonly args: readonly unknown[] }
  | { readonly kind: "chain"; readonly chain: FusedChain; readonly args: readonly unknown[] };

/**
 * Where op bodies run. Every implementation passes the conformance suite
 * (test/workers/executor.conformance.test.ts); a remote engine's executor runs it too.
 *
 * The contract, for each method:
 * - `frame` is the child frame the kernel opened for the call (or the frame of the chain or
 *   chunk): config, deadline and `deadlineOwner`, signal, attempt, step id, tenant, user,
 *   values, span, durable run. A remote executor sends what can travel
 *   (`encodeTask` in runtime/workers/serve.ts turns work and frame into a plain-data task:
 *   op id and locator, arguments, and the frame's deadline, trace context, tenant, user,
 *   values and cloneable config), and on the other side runs it with `serveTask`, which
 *   imports the op's module by its locator, rebuilds the frame around the local signal
 *   and runs the body there (chain steps and chunk items through the kernel).
 * - When `frame.signal` fires, the returned promise rejects at once with the abort reason
 *   (`DeadlineExceeded` or `Cancelled`, see `abortReason`), whatever the body is still
 *   doing, and the executor tells the body (its signal aborts) so nothing keeps running.
 * - `run` of a `call` resolves to the body's value or rejects with what the body threw,
 *   rebuilt with its class and fields (the kernel wraps it in `OpError`); a chain rejects
 *   with the failing step's error already surfaced (an `OpError` naming that step's op).
 *   A thread or process dying under the work is `WorkerCrashed` (retryable).
 * - `runChunk` resolves to one `ChunkResult` per item, in input order: a failing item never
 *   stops the others; only the frame's signal ends the chunk as a whole.
 * - A body never runs twice for one call: an executor that cannot send a result back fails
 *   the call with a typed error rather than run it again somewhere else.
 *
 * @example
 * ```ts
 * import { inlineExecutor, op, registerExecutor, withContext, type Executor } from "weft";
 *
 * // Logs each body it runs, then runs it here; a remote executor would send the task instead.
 * const logged: Executor = {
 *   name: "logged",
 *   run(work, frame) {
 *     console.log("running", work.kind === "call" ? work.entry.desc.name : "a chain", "for", frame.tenant);
 *     return inlineExecutor.run(work, frame);
 *   },
 *   runChunk: (target, items, frame) => inlineExecutor.runChunk(target, items, frame),
 *   close: async () => {},
 * };
 * const unregister = registerExecutor("logged", logged);
 * const shout = op({ placement: "remote:logged" }, (s: string) => s.toUpperCase());
 * await withContext({ tenant: "acme" }, () => shout("hi")); // logs "running shout for acme"
 * unregister();
 * ```
 */
export interface Executor {
  /** For traces and messages: `"inline"`, `"async"`, `"worker"`, or the registered name. */
  readonly name: string;
  /** Runs one body or fused chain in `frame`; rejects at once when `frame.signal` fires. */
  run(work: Work, frame: Frame): Promise<unknown>;
  /**
   * Runs an op (by id) or a fused chain over many argument lists as one unit (one worker
   * task, one job), with a result per item in input order.
   */
  runChunk(target: string | FusedChain, items: readonly (readonly unknown[])[], frame: Frame): Promise<ChunkResult[]>;
  /** Releases what the executor holds (threads, timers, connections). It may be used again afterwards. */
  close(): Promise<void>;
}

/** The names weft defines itself; `registerExecutor` refuses them. */
export const BUILTIN_EXECUTORS = ["inline", "async", "worker"] as const;

let table = new Map<string, Executor>();

/** Makes `next` the table of named executors in force; returns the previous one. Internal: `Runtime` swaps it. */
export function installExecutors(next: Map<string, Executor>): Map<string, Executor> {
  const previous = table;
  table = next;
  return previous;
}

/** The built-in entries of the table in force, for a new table. Internal. */
export function builtinExecutors(): Map<string, Executor> {
  return new Map([...table].filter(([name]) => (BUILTIN_EXECUTORS as readonly string[]).includes(name)));
}

/**
 * Makes `executor` available as `placement: "remote:NAME"`. Returns a function that
 * removes it again (only if it is still the one registered). A name is letters, digits,
 * `.`, `_` and `-`; registering a taken name is an error: remove the old one first.
 *
 * @example
 * ```ts
 * import { registerExecutor, type Executor } from "weft";
 * declare const queue: Executor; // e.g. a BullMQ executor
 * const unregister = registerExecutor("queue", queue);
 * // ... op({ placement: "remote:queue" }, fn) calls now run on `queue`
 * unregister();
 * ```
 */
export function registerExecutor(name: string, executor: Executor): () => void {
  if (typeof name !== "string" || !/^[A-Za-z0-9._-]+$/.test(name)) {
    throw new TypeError(`registerExecutor: a name is letters, digits, ".", "_" and "-", received ${JSON.stringify(name)}`);
  }
  if ((BUILTIN_EXECUTORS as readonly string[]).includes(name)) throw new TypeError(`registerExecutor: "${name}" is a built-in executor; choose another name`);
  if (!executor || typeof executor.run !== "function" || typeof executor.runChunk !== "function" || typeof executor.close !== "function") {
    throw new TypeError(`registerExecutor("${name}"): an executor has run, runChunk and close methods`);
  }
  if (table.has(name)) throw new TypeError(`registerExecutor: an executor named "${name}" is registered already; call the function its registration returned first`);
  table.set(name, executor);
  return () => {
    if (table.get(name) === executor) table.delete(name);
  };
}

/** Installs a built-in executor. Internal: runtime/executors.ts calls it once per name. */
export function installBuiltinExecutor(name: (typeof BUILTIN_EXECUTORS)[number], executor: Executor): void {
  table.set(name, executor);
}

/**
 * The executor a placement names, for a call of `op`: `"worker"`, `"async"` or `remote:NAME`.
 * `undefined` for `"inline"` (the kernel runs the body here) and for `"auto"` or
 * `undefined` (the cost model decides). Throws a `TypeError`
 * naming the op when the name is not registered.
 *
 * @example
 * ```ts
 * executorFor("remote:queue", "score")?.name; // "queue"
 * ```
 */
export function executorFor(placement: string | undefined, op: string): Executor | undefined {
  // "inline" is the kernel running the body itself, synchronously.
  if (placement === undefined || placement === "auto" || placement === "inline") return undefined;
  const name = placement.startsWith(REMOTE) ? placement.slice(REMOTE.length) : placement;
  const found = table.get(name);
  if (found) return found;
  const known = [...table.keys()].filter((n) => !(BUILTIN_EXECUTORS as readonly string[]).includes(n));
  throw new TypeError(
    `${op}: placement "${placement}" names no registered executor (registered: ${known.length === 0 ? "none" : known.map((n) => `"remote:${n}"`).join(", ")}); ` +
      `register it first with registerExecutor("${name}", executor)`,
  );
}

export { REMOTE, checkPlacement } from "../decorators/options.js";
