/**
 * Running work on the other side of a wire: the one task runner that a worker thread
 * (runtime/workers/worker.ts) and a remote engine's worker process (`weft worker`, see
 * runtime/remote) share, and the caller-side helpers a remote executor uses to send work
 * there and read the answer back.
 *
 *   caller:  encodeTask(work, frame) / encodeChunk(target, items, frame) ──> RemoteTask (plain data)
 *   remote:  serveTask(task, { signal, allow }) ──> RemoteReply (plain data; never rejects)
 *   caller:  readValue(reply) / readItems(reply) ──> the value, the per-item results, or the error rebuilt with its class
 *
 * On the serving side a task's op is imported by its locator (module URL, export, member)
 * once `allow(module)` says so, and must be the op with the task's id; the frame is rebuilt
 * from the task's context (config, deadline and its owner, attempt, step id, tenant, user,
 * values, trace parent) around the serving side's signal, which also fires at the task's
 * deadline. A single call runs the op's raw body (the caller's kernel validates, retries
 * and times it); chain steps and chunk items run as calls of their ops, item failures kept.
 *
 * Tasks and replies are structured-cloneable (`v8.serialize` carries them between
 * processes); they are JSON when the arguments, values and results are.
 */
import { createRequire } from "node:module";
import type * as Otel from "@opentelemetry/api";
import type { FusedChain } from "../../compiler/chain.js";
import { Frame, isThenable, runIn } from "../context.js";
import { DeadlineExceeded } from "../errors.js";
import type { OpEntry } from "../entry.js";
import type { ChunkResult, Work } from "../executor.js";
import { describeOp, lookup } from "../registry.js";
import { settings } from "../settings.js";
import {
  WorkerRefused,
  decodeError,
  encodeContext,
  encodeError,
  notCloneable,
  parseTraceparent,
  type OpRef,
  type ReplyMessage,
  type TaskMessage,
  type Timings,
  type WireContext,
  type WireError,
  type WireItems,
  type WireStep,
} from "./protocol.js";
import { chainOf, runChain, runItems, type ResolvedStep, type TimingSink } from "./run.js";

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * A task as plain data: a worker thread's task without its shared abort cell.
 *
 * @example
 * ```ts
 * const task: RemoteTask = encodeTask({ kind: "call", entry, args: [5] }, frame);
 * ```
 */
export type RemoteTask = DistributiveOmit<TaskMessage, "abort">;

/**
 * What serving a task answers: a value, per-item results, or the error, with body timings.
 *
 * @example
 * ```ts
 * const reply: RemoteReply = await serveTask(task, { signal });
 * ```
 */
export type RemoteReply = ReplyMessage;

/** The wire reference of an op: id, name and the locator the serving side imports it by. */
export function opRef(entry: OpEntry): OpRef {
  const locator = entry.desc.locator;
  if (locator === undefined) {
    throw new TypeError(`${entry.desc.name}: it has no module locator, so another process cannot import it (build with tspc and the weft transformer, or load a manifest)`);
  }
  return { id: entry.desc.id, name: entry.desc.name, locator };
}

function stepsOf(chain: FusedChain): WireStep[] {
  return chain.map((step, i) => {
    const entry = lookup(step.opId);
    if (!entry) throw new TypeError(`fused chain step ${i} names op ${step.opId}, which is not registered`);
    return step.argsFrom === undefined ? { op: opRef(entry) } : { op: opRef(entry), argsFrom: step.argsFrom };
  });
}

/**
 * The task for `work` run in `frame`: the op (or chain) by reference, the arguments, the
 * instance's own fields for a method op, and the frame's serialisable part.
 *
 * @example
 * ```ts
 * const task = encodeTask(work, frame);
 * await queue.add(task.type, v8.serialize(task));
 * ```
 */
export function encodeTask(work: Work, frame: Frame): RemoteTask {
  const ctx = encodeContext(frame);
  if (work.kind === "chain") return { type: "chain", steps: stepsOf(work.chain), args: work.args, ctx, validate: settings.validate };
  const op = opRef(work.entry);
  const self = op.locator.member === undefined ? undefined : { fields: { ...(work.thisArg as object) } };
  return { type: "call", op, self, args: work.args, ctx, validate: settings.validate };
}

/**
 * The task for a chunk: an op (by id) or a chain over many argument lists.
 *
 * @example
 * ```ts
 * const task = encodeChunk(heavy.descriptor.id, [[1], [2]], frame);
 * ```
 */
export function encodeChunk(target: string | FusedChain, items: readonly (readonly unknown[])[], frame: Frame): RemoteTask {
  return { type: "chunk", steps: stepsOf(chainOf(target)), items, ctx: encodeContext(frame), validate: settings.validate };
}

/**
 * The value a `call` or `chain` reply carries; throws the error it carries, rebuilt with
 * its class (`OpError`, `ValidationError`, `TypeError`, ... keep `instanceof`).
 *
 * @example
 * ```ts
 * return readValue(await serveTask(task, { signal }));
 * ```
 */
export function readValue(reply: RemoteReply): unknown {
  if (reply.type === "value") return reply.value;
  if (reply.type === "error") throw decodeError(reply.error);
  throw new TypeError(`weft: expected a value, received ${reply.type}`);
}

/**
 * The per-item results a `chunk` reply carries, in input order; throws when the whole
 * chunk failed.
 *
 * @example
 * ```ts
 * const results = readItems(await serveTask(encodeChunk(id, items, frame), { signal }));
 * ```
 */
export function readItems(reply: RemoteReply): ChunkResult[] {
  if (reply.type === "error") throw decodeError(reply.error);
  if (reply.type !== "items") throw new TypeError(`weft: expected items for a chunk, received ${reply.type}`);
  const { values, failures } = reply.items;
  const results = new Array<ChunkResult>(values.length);
  for (let i = 0; i < values.length; i++) results[i] = { ok: true, value: values[i] };
  for (const [index, error] of failures) results[index] = { ok: false, error: decodeError(error) };
  return results;
}

// ───────────────────────────── the serving side ─────────────────────────────

interface Resolved {
  readonly entry: OpEntry;
  /** The export the locator names: the op, or for a method op its class. */
  readonly exported: unknown;
}

const resolved = new Map<string, Resolved>();
const modules = new Map<string, Promise<Record<string, unknown>>>();

/**
 * The op `ref` names, imported by its locator once `allow(module)` holds. Internal.
 *
 * @example
 * ```ts
 * const { entry } = await resolveOp(task.op, (m) => allowlist.has(m));
 * ```
 */
export async function resolveOp(ref: OpRef, allow: (module: string) => boolean): Promise<Resolved> {
  const { module, export: name, member } = ref.locator;
  const known = resolved.get(ref.id);
  // The id was resolved before, from its own locator; a message pairing it with another
  // locator is not trusted to mean the same op.
  if (known && sameLocator(known.entry, ref)) return known;
  if (!allow(module)) {
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
  // descriptor; importing the module registered it in this process's table under that id.
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
 * The frame a task's body runs in: the caller's context around `signal`. Internal.
 *
 * @example
 * ```ts
 * const frame = frameOf(task.ctx, controller.signal);
 * ```
 */
export function frameOf(ctx: WireContext, signal: AbortSignal): Frame {
  let span: Otel.Span | undefined;
  if (ctx.traceparent) {
    const api = otelApi();
    const parsed = parseTraceparent(ctx.traceparent);
    if (api && parsed) span = api.trace.wrapSpanContext({ ...parsed, isRemote: true });
  }
  return new Frame({
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
    deadlineBudgetMs: ctx.deadlineBudgetMs,
    // Nested calls here are part of the caller's call, which holds any global permit.
    permitted: true,
  });
}

/**
 * The refusal for a result that cannot travel back unchanged. The body has run, so the
 * caller fails the call with it (never reruns it) and keeps the op local from then on.
 */
function uncloneable(ref: OpRef, why: string): WorkerRefused {
  return new WorkerRefused(
    ref.name,
    ref.locator.module,
    "result-not-cloneable",
    `its result holds ${why}, which a worker cannot send back unchanged; the body ran in the worker, so weft fails this call rather than run it twice, and runs the op inline from now on`,
  );
}

/** Per-op body timings as they travel. Internal. */
export function timingsOf(sink: TimingSink): Timings {
  return [...sink].map(([id, [total, runs]]) => [id, total, runs] as const);
}

/**
 * Runs one task in `frame` and answers (throws on failure; `serveTask` turns that into an
 * error reply). `onAsync` is called when the work turns out asynchronous (a worker thread
 * arms its abort cell then). Internal: the worker entry and `serveTask` share it.
 */
export async function execute(task: RemoteTask, frame: Frame, allow: (module: string) => boolean, onAsync: () => void, sink: TimingSink): Promise<ReplyMessage> {
  switch (task.type) {
    case "call": {
      const { entry, exported } = await resolveOp(task.op, allow);
      // Cancelled while queued or importing: the body never starts.
      frame.signal.throwIfAborted();
      const self =
        task.self === undefined ? undefined : Object.assign(Object.create((exported as { prototype: object }).prototype) as object, task.self.fields);
      const start = performance.now();
      let value: unknown = runIn(frame, entry.impl, self, task.args);
      if (isThenable(value)) {
        onAsync();
        value = await value;
      } else sink.set(entry.desc.id, [performance.now() - start, 1]);
      const why = notCloneable(value, "result");
      if (why) throw uncloneable(task.op, why);
      return { type: "value", value, timings: timingsOf(sink) };
    }
    case "chain": {
      const steps = await resolveSteps(task.steps, allow);
      let value = runChain(steps, task.args, frame, task.validate, sink);
      if (isThenable(value)) {
        onAsync();
        value = await value;
      }
      const why = notCloneable(value, "result");
      if (why) throw uncloneable(task.steps.at(-1)!.op, why);
      return { type: "value", value, timings: timingsOf(sink) };
    }
    case "chunk": {
      const steps = await resolveSteps(task.steps, allow);
      let results: ChunkResult[] | Promise<ChunkResult[]> = runItems(steps, task.items, frame, task.validate, sink);
      if (isThenable(results)) {
        onAsync();
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
      throw new TypeError(`weft: unknown task ${JSON.stringify((never as { type?: unknown }).type)}`);
    }
  }
}

async function resolveSteps(steps: readonly WireStep[], allow: (module: string) => boolean): Promise<ResolvedStep[]> {
  const out: ResolvedStep[] = [];
  for (const step of steps) out.push({ entry: (await resolveOp(step.op, allow)).entry, argsFrom: step.argsFrom });
  return out;
}

/**
 * The serving side's deadline for a task: at `ctx.deadline` (on this machine's clock)
 * `controller` aborts with `DeadlineExceeded` naming the deadline's owner and the owner's
 * whole budget, the error the caller's kernel reports for the same deadline, so whichever
 * side's timer fires first the caller sees one answer. Throws that error when the deadline
 * passed before the task arrived (the body never starts). Returns the timer to clear when
 * the task ends. Internal: `serveTask` and the BullMQ worker share it.
 *
 * @example
 * ```ts
 * const timer = armDeadline(task.ctx, "score", controller);
 * try { await run(); } finally { clearTimeout(timer); }
 * ```
 */
export function armDeadline(ctx: WireContext, op: string, controller: AbortController): NodeJS.Timeout | undefined {
  if (ctx.deadline === undefined) return undefined;
  const left = ctx.deadline - Date.now();
  // A wire from before budgets travelled: what was left is all this side knows.
  const error = new DeadlineExceeded(ctx.deadlineOwner ?? op, ctx.deadlineBudgetMs ?? Math.max(0, left));
  if (left <= 0) throw error;
  return setTimeout(() => controller.abort(error), left);
}

/** Options of `serveTask`. */
export interface ServeOptions {
  /** Fires when the caller cancels (the job was removed, the caller's signal fired). */
  readonly signal?: AbortSignal;
  /**
   * Which module URLs this process may import to find a task's op. Required: a task from
   * the wire must not make the process import arbitrary modules.
   */
  readonly allow: (module: string) => boolean;
}

/**
 * Runs a task from the wire here and answers; never rejects (a failure is an error
 * reply). The body's signal fires when `options.signal` does, and at the task's deadline
 * (measured on this machine's clock) with `DeadlineExceeded` naming the deadline's owner
 * and its whole budget (`armDeadline`).
 *
 * @example
 * ```ts
 * const reply = await serveTask(v8.deserialize(job.data) as RemoteTask, { signal, allow: (m) => m.startsWith("file:///srv/app/") });
 * ```
 */
export async function serveTask(task: RemoteTask, options: ServeOptions): Promise<RemoteReply> {
  const sink: TimingSink = new Map();
  const controller = new AbortController();
  const outer = options.signal;
  const onAbort = () => controller.abort(outer!.reason);
  if (outer) {
    if (outer.aborted) controller.abort(outer.reason);
    else outer.addEventListener("abort", onAbort, { once: true });
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    timer = armDeadline(task.ctx, task.ctx.op ?? "op", controller);
    return await execute(task, frameOf(task.ctx, controller.signal), options.allow, () => {}, sink);
  } catch (error) {
    return { type: "error", error: encodeError(error), timings: timingsOf(sink) };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    outer?.removeEventListener("abort", onAbort);
  }
}
