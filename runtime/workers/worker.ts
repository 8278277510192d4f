/**
 * The worker entry: piscina calls the default export with each `TaskMessage` and posts
 * back what it returns (a `ReplyMessage`, with its buffers moved).
 *
 * Per task: refuse any module the main thread's allowlist does not hold; import the op's
 * module (which registers its ops in this thread's own registry, through the same code);
 * check that the export named by the locator is the op with the task's id; rebuild the
 * context frame; run the op's raw body (`impl`, not the wrapper, so nothing dispatches
 * twice) or the chain or chunk; answer with a value, a per-item list or an error. A body's
 * failure is an answer, never a rejection (see protocol.ts).
 */
import { createRequire } from "node:module";
import { workerData } from "node:worker_threads";
import type * as Otel from "@opentelemetry/api";
import { move, transferableSymbol, valueSymbol } from "piscina";
import { describeOp, lookup } from "../registry.js";
import { Frame, isThenable, store } from "../context.js";
import { Cancelled, DeadlineExceeded } from "../errors.js";
import type { OpEntry } from "../invoke.js";
import type { ItemResult } from "./run.js";
import { ABORT_CANCELLED, ABORT_DEADLINE, ABORT_RUNNING, ABORT_STATE, WORKER_MARK } from "./keys.js";
import {
  AllowlistReader,
  WorkerRefused,
  collectTransferables,
  encodeError,
  finishAbortCell,
  notCloneable,
  parseTraceparent,
  readAbort,
  deadlineBudget,
  type OpRef,
  type ReplyMessage,
  type TaskMessage,
  type Timings,
  type WireError,
  type WireItems,
} from "./protocol.js";
import { runChain, runItems, type ResolvedStep, type TimingSink } from "./run.js";

const shared = workerData as { [WORKER_MARK]?: unknown; allowlist?: SharedArrayBuffer } | null;
if (shared?.[WORKER_MARK] !== true || !shared.allowlist) {
  throw new Error("weft: runtime/workers/worker.js is the entry of weft's worker pool threads; it does nothing elsewhere");
}
const allowlist = new AllowlistReader(shared.allowlist);

interface Resolved {
  readonly entry: OpEntry;
  /** The export the locator names: the op, or for a method op its class. */
  readonly exported: unknown;
}

const resolved = new Map<string, Resolved>();
const modules = new Map<string, Promise<Record<string, unknown>>>();

/** The op `ref` names, imported by its locator after the allowlist check. */
async function resolveOp(ref: OpRef): Promise<Resolved> {
  const { module, export: name, member } = ref.locator;
  const known = resolved.get(ref.id);
  // The id was resolved before, from its own locator; a message pairing it with another
  // locator is not trusted to mean the same op.
  if (known && sameLocator(known.entry, ref)) return known;
  if (!allowlist.has(module)) {
    throw new WorkerRefused(ref.name, module, "module-not-allowed", "no op registered on the main thread lives there, so it is never imported");
  }
  let loading = modules.get(module);
  if (!loading) {
    loading = import(module) as Promise<Record<string, unknown>>;
    modules.set(module, loading);
    // A module that failed to load may load next time (a file being rebuilt, say).
    loading.catch(() => modules.delete(module));
  }
  const exported = (await loading)[name];
  // The op (or, for a method op, the wrapped method on the class's prototype) carries its
  // descriptor; importing the module registered it in this thread's table under that id.
  const op = member === undefined ? exported : (exported as { prototype?: Record<string, unknown> } | undefined)?.prototype?.[member];
  const desc = describeOp(op);
  const entry: OpEntry | undefined = desc ? lookup(desc.id) : undefined;
  if (!entry || entry.desc.id !== ref.id || !sameLocator(entry, ref)) {
    throw new WorkerRefused(ref.name, module, "not-an-op", `its export ${name}${member === undefined ? "" : `.prototype.${member}`} is not the op ${ref.id}`);
  }
  const found = { entry, exported };
  resolved.set(ref.id, found);
  return found;
}

function sameLocator(entry: OpEntry, ref: OpRef): boolean {
  const a = entry.desc.locator;
  const b = ref.locator;
  return a !== undefined && a.module === b.module && a.export === b.export && a.member === b.member;
}

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

let otel: typeof Otel | null | undefined;
function otelApi(): typeof Otel | null {
  if (otel === undefined) {
    try {
      otel = createRequire(import.meta.url)("@opentelemetry/api") as typeof Otel;
    } catch {
      otel = null;
    }
  }
  return otel;
}

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
  let span: Otel.Span | undefined;
  if (ctx.traceparent) {
    const api = otelApi();
    const parsed = parseTraceparent(ctx.traceparent);
    if (api && parsed) span = api.trace.wrapSpanContext({ ...parsed, isRemote: true });
  }
  const frame = new Frame({
    op: ctx.op,
    config: ctx.config,
    overrides: ctx.overrides,
    deadline: ctx.deadline,
    signal,
    attempt: ctx.attempt,
    stepId: ctx.stepId,
    tenant: ctx.tenant,
    user: ctx.user,
    values: ctx.values,
    span,
    deadlineOwner: ctx.deadlineOwner,
    // Nested calls here are part of the main thread's call, which holds any global permit.
    permitted: true,
  });
  return { frame, arm };
}

// ───────────────────────────── running a task ─────────────────────────────

/**
 * The refusal for a result that cannot travel back unchanged. The body has run, so the
 * main thread fails the call with it (never reruns it) and keeps the op inline from then on.
 */
function uncloneable(ref: OpRef, why: string): WorkerRefused {
  return new WorkerRefused(
    ref.name,
    ref.locator.module,
    "result-not-cloneable",
    `its result holds ${why}, which a worker cannot send back unchanged; the body ran in the worker, so weft fails this call rather than run it twice, and runs the op inline from now on`,
  );
}

function timingsOf(sink: TimingSink): Timings {
  return [...sink].map(([id, [total, runs]]) => [id, total, runs] as const);
}

async function execute(task: TaskMessage, sink: TimingSink): Promise<ReplyMessage> {
  const { frame, arm } = contextFor(task);
  switch (task.type) {
    case "call": {
      const { entry, exported } = await resolveOp(task.op);
      // Cancelled while queued or importing: the body never starts.
      frame.signal.throwIfAborted();
      const self =
        task.self === undefined ? undefined : Object.assign(Object.create((exported as { prototype: object }).prototype) as object, task.self.fields);
      const start = performance.now();
      let value: unknown = store.run(frame, Reflect.apply, entry.impl, self, task.args);
      if (isThenable(value)) {
        arm();
        value = await value;
      } else sink.set(entry.desc.id, [performance.now() - start, 1]);
      const why = notCloneable(value, "result");
      if (why) throw uncloneable(task.op, why);
      return { type: "value", value, timings: timingsOf(sink) };
    }
    case "chain": {
      const steps = await resolveSteps(task.steps);
      let value = runChain(steps, task.args, frame, task.validate, sink);
      if (isThenable(value)) {
        arm();
        value = await value;
      }
      const why = notCloneable(value, "result");
      if (why) throw uncloneable(task.steps.at(-1)!.op, why);
      return { type: "value", value, timings: timingsOf(sink) };
    }
    case "chunk": {
      const steps = await resolveSteps(task.steps);
      let results: ItemResult[] | Promise<ItemResult[]> = runItems(steps, task.items, frame, task.validate, sink);
      if (isThenable(results)) {
        arm();
        results = await results;
      }
      const values = new Array<unknown>(results.length);
      const failures: Array<[number, WireError]> = [];
      results.forEach((r, i) => {
        if (!r.ok) {
          failures.push([i, encodeError(r.error)]);
          return;
        }
        const why = notCloneable(r.value, `result[${i}]`);
        // That item fails alone; the others' results still come back.
        if (why) failures.push([i, encodeError(uncloneable(task.steps.at(-1)!.op, why))]);
        else values[i] = r.value;
      });
      const items: WireItems = { values, failures };
      return { type: "items", items, timings: timingsOf(sink) };
    }
    default: {
      const never: never = task;
      throw new TypeError(`weft worker: unknown task ${JSON.stringify((never as { type?: unknown }).type)}`);
    }
  }
}

async function resolveSteps(steps: Extract<TaskMessage, { type: "chain" }>["steps"]): Promise<ResolvedStep[]> {
  const out: ResolvedStep[] = [];
  for (const step of steps) out.push({ entry: (await resolveOp(step.op)).entry, argsFrom: step.argsFrom });
  return out;
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
    reply = await execute(task, sink);
  } catch (error) {
    reply = { type: "error", error: encodeError(error), timings: timingsOf(sink) };
  } finally {
    finishAbortCell(task.abort);
  }
  // Piscina's transferable protocol: the reply travels with these buffers moved.
  return move({ [transferableSymbol]: replyTransferables(reply), [valueSymbol]: reply } as never);
}
