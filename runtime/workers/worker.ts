/**
 * The worker entry: piscina calls the default export with each `TaskMessage` and posts
 * back what it returns (a `ReplyMessage`, with its buffers moved).
 *
 * Per task: rebuild the context frame around a signal fed by the task's abort cell, and
 * hand the task to the one task runner (serve.ts, shared with remote engines' workers): it
 * refuses any module the main thread's allowlist does not hold, imports the op's module
 * (which registers its ops in this thread's own registry, through the same code), checks
 * that the export named by the locator is the op with the task's id, and runs the op's raw
 * body (`impl`, not the wrapper, so nothing dispatches twice) or the chain or chunk. A
 * body's failure is an answer, never a rejection (see protocol.ts).
 */
import { workerData } from "node:worker_threads";
import { move, transferableSymbol, valueSymbol } from "piscina";
import { Cancelled, DeadlineExceeded } from "../errors.js";
import type { Frame } from "../context.js";
import { ABORT_CANCELLED, ABORT_DEADLINE, ABORT_RUNNING, ABORT_STATE, WORKER_MARK } from "./keys.js";
import { AllowlistReader, collectTransferables, deadlineBudget, encodeError, finishAbortCell, readAbort, type ReplyMessage, type TaskMessage } from "./protocol.js";
import type { TimingSink } from "./run.js";
import { execute, frameOf, timingsOf } from "./serve.js";

const shared = workerData as { [WORKER_MARK]?: unknown; allowlist?: SharedArrayBuffer } | null;
if (shared?.[WORKER_MARK] !== true || !shared.allowlist) {
  throw new Error("weft: runtime/workers/worker.js is the entry of weft's worker pool threads; it does nothing elsewhere");
}
const allowlist = new AllowlistReader(shared.allowlist);
const allowed = (module: string): boolean => allowlist.has(module);

// ───────────────────────────── the worker-side context ─────────────────────────────

// Task signals poll their abort cell whenever code reads `aborted` (or calls
// `throwIfAborted`), so a synchronous loop sees a cancellation without ever yielding. The
// hook sits on the prototype, installed once in this thread (this module only runs in weft's
// pool threads): a per-signal property would cost about 8 µs a task, the prototype hook one
// WeakMap lookup a read, and signals that are not task signals behave exactly as before.
const polled = new WeakMap<AbortSignal, () => void>();
const abortedDescriptor = Object.getOwnPropertyDescriptor(AbortSignal.prototype, "aborted")!;
const nativeAborted = abortedDescriptor.get!;
const nativeThrowIfAborted = AbortSignal.prototype.throwIfAborted;
Object.defineProperty(AbortSignal.prototype, "aborted", {
  ...abortedDescriptor,
  get(this: AbortSignal) {
    polled.get(this)?.();
    return nativeAborted.call(this) as boolean;
  },
});
Object.defineProperty(AbortSignal.prototype, "throwIfAborted", {
  ...Object.getOwnPropertyDescriptor(AbortSignal.prototype, "throwIfAborted")!,
  value(this: AbortSignal) {
    polled.get(this)?.();
    nativeThrowIfAborted.call(this);
  },
});

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };

/**
 * The frame a task's body runs in: the main thread's context, and a signal that aborts
 * when the main thread writes the task's abort cell. Reading `signal.aborted` checks the
 * cell (see `polled`), so a synchronous loop that polls it stops without ever yielding;
 * `arm()` also wakes the signal for an async body that waits instead of polling.
 */
function contextFor(task: TaskMessage): { frame: Frame; arm: () => void } {
  const ctx = task.ctx;
  const cell = task.abort;
  const controller = new AbortController();
  const signal = controller.signal;
  const op = ctx.op ?? "op";
  const view = new Int32Array(cell);
  const poll = () => {
    if (nativeAborted.call(signal)) return;
    // Synchronisation point: reads what the main thread's signalAbort published.
    const state = readAbort(view);
    if (state === ABORT_CANCELLED) controller.abort(new Cancelled(op, "cancelled by the caller"));
    else if (state === ABORT_DEADLINE) controller.abort(new DeadlineExceeded(ctx.deadlineOwner ?? op, deadlineBudget(cell)));
  };
  // Every frame and nested op that holds this signal polls the cell through it.
  polled.set(signal, poll);
  const arm = () => {
    // Synchronisation point: resolves on signalAbort's notify, or on finishAbortCell's at
    // the end of the task, so the waiter never outlives it.
    const waited = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync(view, ABORT_STATE, ABORT_RUNNING);
    if (waited.async) void waited.value.then(poll);
    else poll();
  };
  const frame = frameOf(ctx, signal);
  return { frame, arm };
}

/** The buffers of a reply's values, to move rather than copy them back. */
function replyTransferables(reply: ReplyMessage): ArrayBuffer[] {
  if (reply.type === "value") return collectTransferables(reply.value);
  if (reply.type === "items") return collectTransferables(reply.items.values, 3);
  return [];
}

/**
 * Runs one task; piscina posts the returned reply to the main thread.
 *
 * @example
 * ```ts
 * new Piscina({ filename: new URL("./worker.js", import.meta.url).href });
 * ```
 */
export default async function runTask(task: TaskMessage): Promise<unknown> {
  const sink: TimingSink = new Map();
  let reply: ReplyMessage;
  try {
    const { frame, arm } = contextFor(task);
    reply = await execute(task, frame, allowed, arm, sink);
  } catch (error) {
    reply = { type: "error", error: encodeError(error), timings: timingsOf(sink) };
  } finally {
    finishAbortCell(task.abort);
  }
  // Piscina's transferable protocol: the reply travels with these buffers moved.
  return move({ [transferableSymbol]: replyTransferables(reply), [valueSymbol]: reply } as never);
}
