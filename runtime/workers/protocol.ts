/**
 * The worker protocol: every message between the main thread and a pool worker, and the
 * shared memory both sides touch, in one file.
 *
 *   main thread                                        worker (runtime/workers/worker.ts)
 *   ───────────                                        ──────
 *   allowlist.add(module)  ── shared memory ──────────> allowlist.has(module) before import
 *   TaskMessage            ── piscina task (clone + transfer) ─> run call | chain | chunk
 *   signalAbort(cell)      ── shared memory + notify ─> signal.aborted (poll) / waitAsync
 *   ReplyMessage           <─ piscina result (clone + transfer) ── value | error | items
 *
 * A body's own failure is always a reply (`type: "error"`), never a rejected piscina task:
 * so the main thread reads a rejected task as the worker dying (`WorkerCrashed`), with no
 * guessing. Errors cross as `WireError`, which keeps class, name, message, stack, `cause`
 * and own fields; the main thread rebuilds weft's error classes and the builtin ones.
 */
import { types } from "node:util";
import type { OpLocator } from "../../decorators/descriptor.js";
import type { Frame } from "../context.js";
import { Cancelled, DeadlineExceeded, OpError, ValidationError, WeftError, WorkerCrashed } from "../errors.js";
import type { ArgSource } from "../../compiler/chain.js";
import {
  ABORT_BUDGET,
  ABORT_CANCELLED,
  ABORT_DEADLINE,
  ABORT_DONE,
  ABORT_RUNNING,
  ABORT_STATE,
  ALLOWLIST_HEADER_BYTES,
  ALLOWLIST_INITIAL_BYTES,
  ALLOWLIST_LENGTH,
  ALLOWLIST_MAX_BYTES,
  REFUSED_TAG,
} from "./keys.js";

// ───────────────────────────── messages ─────────────────────────────

/**
 * An op as a worker finds it: its registry id and where to import it from. The worker
 * imports `locator.module` only when the allowlist holds it, then checks that the export
 * really is the op with this id.
 *
 * @example
 * ```ts
 * const ref: OpRef = { id: desc.id, name: desc.name, locator: desc.locator! };
 * ```
 */
export interface OpRef {
  readonly id: string;
  /** For messages: the op's display name. */
  readonly name: string;
  readonly locator: OpLocator;
}

/**
 * One step of a fused chain on the wire.
 *
 * @example
 * ```ts
 * const step: WireStep = { op: ref, argsFrom: [{ from: "step", index: 0 }] };
 * ```
 */
export interface WireStep {
  readonly op: OpRef;
  readonly argsFrom?: readonly ArgSource[];
}

/**
 * The serialisable part of a context frame: what `getContext()` returns inside the worker.
 * `config`, `overrides` and `values` keep only their structured-cloneable entries.
 *
 * @example
 * ```ts
 * const ctx = encodeContext(frame); // { op: "heavy", attempt: 1, deadline: 1718000000000, ... }
 * ```
 */
export interface WireContext {
  readonly op: string | undefined;
  readonly config: Readonly<Record<string, unknown>>;
  readonly overrides: Readonly<Record<string, unknown>>;
  readonly deadline: number | undefined;
  readonly deadlineOwner: string | undefined;
  /** The owner's whole budget (ms): a far side's `DeadlineExceeded` reports it, not what was left on arrival. */
  readonly deadlineBudgetMs: number | undefined;
  readonly attempt: number;
  readonly stepId: string;
  readonly tenant: string | undefined;
  readonly user: string | undefined;
  readonly values: Readonly<Record<string, unknown>>;
  /** W3C `traceparent` of the active span, when one records. */
  readonly traceparent: string | undefined;
}

/**
 * The `this` of a method op: the instance's own cloneable fields. The worker rebuilds the
 * instance on the exported class's prototype.
 *
 * @example
 * ```ts
 * const self: WireSelf = { fields: { model: "small" } };
 * ```
 */
export interface WireSelf {
  readonly fields: Readonly<Record<string, unknown>>;
}

/** Fields every task carries. @example `const base: TaskBase = { ctx, abort: new SharedArrayBuffer(ABORT_CELL_BYTES), validate: true }` */
export interface TaskBase {
  readonly ctx: WireContext;
  /** The task's abort cell (layout in keys.ts). Shared, not copied. */
  readonly abort: SharedArrayBuffer;
  /** The main thread's `configure({ validate })`: chain steps and chunk items validate when true. */
  readonly validate: boolean;
}

/**
 * What the main thread posts to a worker: one op body (`call`), a fused chain run once
 * (`chain`), or an op or chain run over many argument lists (`chunk`).
 *
 * @example
 * ```ts
 * const task: TaskMessage = { type: "call", op: ref, self: undefined, args: [5], ctx, abort, validate: true };
 * ```
 */
export type TaskMessage =
  | (TaskBase & { readonly type: "call"; readonly op: OpRef; readonly self: WireSelf | undefined; readonly args: readonly unknown[] })
  | (TaskBase & { readonly type: "chain"; readonly steps: readonly WireStep[]; readonly args: readonly unknown[] })
  | (TaskBase & { readonly type: "chunk"; readonly steps: readonly WireStep[]; readonly items: readonly (readonly unknown[])[] });

/**
 * Body time measured in the worker, per op: `[opId, total ms, runs]`. It keeps the cost
 * model fed once an op has moved off the main thread.
 *
 * @example
 * ```ts
 * const timings: Timings = [["file:///ops.js#heavy", 12.5, 5]];
 * ```
 */
export type Timings = ReadonlyArray<readonly [opId: string, totalMs: number, runs: number]>;

/**
 * A chunk's results on the wire: every item's value in input order (`undefined` where it
 * failed) and the failures by index. Two flat lists clone several times faster than one
 * `{ ok, value }` object per item, which matters at tens of microseconds per item.
 *
 * @example
 * ```ts
 * const items: WireItems = { values: [2, undefined, 4], failures: [[1, encodeError(new TypeError("odd"))]] };
 * ```
 */
export interface WireItems {
  readonly values: readonly unknown[];
  readonly failures: ReadonlyArray<readonly [index: number, error: WireError]>;
}

/**
 * What a worker answers. Never a rejection: see the file comment.
 *
 * @example
 * ```ts
 * const reply: ReplyMessage = { type: "value", value: 42, timings: [] };
 * ```
 */
export type ReplyMessage =
  | { readonly type: "value"; readonly value: unknown; readonly timings: Timings }
  | { readonly type: "error"; readonly error: WireError; readonly timings: Timings }
  | { readonly type: "items"; readonly items: WireItems; readonly timings: Timings };

// ───────────────────────────── refusals ─────────────────────────────

/**
 * A worker refused a task: its module is not on the allowlist the main thread keeps (only
 * modules of registered ops are), or the module's export is not the op the task names.
 * Nothing from a refused module is ever imported. (`result-not-cloneable` is the worker
 * declining to send back a value that would arrive changed; the pool then runs the op
 * inline instead, so callers never see that one.)
 *
 * @example
 * ```ts
 * await tokenize("a b").catch((e: unknown) => e instanceof WorkerRefused && e.module); // the refused module's URL
 * ```
 */
export class WorkerRefused extends WeftError {
  readonly _tag = REFUSED_TAG;
  constructor(
    readonly op: string,
    readonly module: string,
    readonly reason: "module-not-allowed" | "not-an-op" | "result-not-cloneable",
    readonly detail: string,
  ) {
    super(`${op}: worker refused ${module}: ${detail}`);
  }
}

// ───────────────────────────── errors ─────────────────────────────

/**
 * An error (or any thrown value) as it crosses threads.
 *
 * @example
 * ```ts
 * decodeError(encodeError(new RangeError("too big"))) instanceof RangeError; // true
 * ```
 */
export type WireError =
  | {
      readonly kind: "error";
      readonly name: string;
      readonly message: string;
      readonly stack: string | undefined;
      /** Own enumerable fields that clone (`_tag`, `op`, `issues`, `code`, ...). */
      readonly fields: Readonly<Record<string, unknown>>;
      readonly cause: WireError | undefined;
      readonly hasCause: boolean;
    }
  | { readonly kind: "value"; readonly value: unknown }
  | { readonly kind: "opaque"; readonly text: string };

// Classes rebuilt by `_tag` (weft's own) or by `name` (the builtins), so `instanceof` holds
// on the main thread. Anything else comes back as an Error with the original name.
// Null prototypes: a `name` or `_tag` of "constructor", "toString" or "__proto__" is text
// from the body, and must find nothing rather than Object.prototype's members.
const WEFT_ERRORS: Readonly<Record<string, abstract new (...args: never[]) => Error>> = Object.assign(Object.create(null) as {}, {
  ValidationError,
  DeadlineExceeded,
  Cancelled,
  WorkerCrashed,
  OpError,
  [REFUSED_TAG]: WorkerRefused,
});
const BUILTIN_ERRORS: Readonly<Record<string, new (message?: string) => Error>> = Object.assign(Object.create(null) as {}, {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
});

/**
 * Encodes a thrown value for the reply. Depth-limited through `cause` chains.
 *
 * @example
 * ```ts
 * encodeError(new OpError("heavy", 1, new TypeError("bad"))).kind; // "error"
 * ```
 */
export function encodeError(error: unknown, depth = 0): WireError {
  if (!(error instanceof Error)) {
    if (isCloneable(error)) return { kind: "value", value: error };
    return { kind: "opaque", text: safeString(error) };
  }
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    if (key === "cause") continue;
    const value = (error as unknown as Record<string, unknown>)[key];
    // Defined, not assigned: an own `__proto__` field stays a field.
    if (isCloneable(value)) defineField(fields, key, value);
  }
  const hasCause = "cause" in error && error.cause !== undefined;
  return {
    kind: "error",
    name: error.name,
    message: error.message,
    stack: error.stack,
    fields,
    cause: hasCause && depth < 8 ? encodeError(error.cause, depth + 1) : undefined,
    hasCause,
  };
}

/**
 * Rebuilds an encoded error on the receiving thread: weft errors and builtin errors keep
 * their class; others keep their name, message, stack and fields on a plain `Error`.
 *
 * @example
 * ```ts
 * const e = decodeError(reply.error); // e instanceof OpError, e.cause instanceof TypeError
 * ```
 */
export function decodeError(wire: WireError): unknown {
  if (wire.kind === "value") return wire.value;
  if (wire.kind === "opaque") return new Error(wire.text);
  const tag = Object.hasOwn(wire.fields, "_tag") ? wire.fields._tag : undefined;
  const weft = typeof tag === "string" && Object.hasOwn(WEFT_ERRORS, tag) ? WEFT_ERRORS[tag] : undefined;
  let error: Error;
  if (weft) {
    // Built without its constructor: the message was final in the worker, and constructors
    // would recompute it from fields (and drop the remote cause).
    error = Object.create(weft.prototype) as Error;
    Object.defineProperty(error, "message", { value: wire.message, writable: true, configurable: true, enumerable: false });
  } else {
    const Builtin = Object.hasOwn(BUILTIN_ERRORS, wire.name) ? BUILTIN_ERRORS[wire.name] : undefined;
    error = Builtin ? new Builtin(wire.message) : new Error(wire.message);
    if (!Builtin) Object.defineProperty(error, "name", { value: wire.name, writable: true, configurable: true, enumerable: false });
  }
  // Defined one by one: assigning a `__proto__` field would replace the error's prototype.
  for (const key of Object.keys(wire.fields)) defineField(error, key, wire.fields[key]);
  Object.defineProperty(error, "stack", { value: wire.stack, writable: true, configurable: true, enumerable: false });
  if (wire.hasCause) {
    const cause = wire.cause === undefined ? undefined : decodeError(wire.cause);
    Object.defineProperty(error, "cause", { value: cause, writable: true, configurable: true, enumerable: false });
  }
  return error;
}

function defineField(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

// ───────────────────────────── context ─────────────────────────────

const subsets = new WeakMap<object, Readonly<Record<string, unknown>>>();

/**
 * The entries of `record` that survive structured clone unchanged (primitives, plain data,
 * dates, typed arrays, maps, sets). Functions, symbols and class instances (a model client,
 * say) stay on the main thread. Cached per record: frames share their config objects.
 *
 * @example
 * ```ts
 * cloneableSubset({ model: "small", client: new OpenAI() }); // { model: "small" }
 * ```
 */
export function cloneableSubset(record: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  const cached = subsets.get(record);
  if (cached) return cached;
  let subset: Record<string, unknown> | undefined;
  const keys = Object.keys(record);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const value = record[key];
    if (isCloneable(value)) {
      if (subset) subset[key] = value;
    } else if (!subset) {
      subset = {};
      for (let j = 0; j < i; j++) subset[keys[j]!] = record[keys[j]!];
    }
  }
  const result = subset ?? record;
  subsets.set(record, result);
  return result;
}

/**
 * The wire form of `frame`: what the worker rebuilds its context from.
 *
 * @example
 * ```ts
 * const task: TaskMessage = { type: "call", op, self: undefined, args, ctx: encodeContext(frame), abort, validate: true };
 * ```
 */
export function encodeContext(frame: Frame): WireContext {
  return {
    op: frame.op,
    config: cloneableSubset(frame.config),
    overrides: cloneableSubset(frame.overrides),
    deadline: frame.deadline,
    deadlineOwner: frame.deadlineOwner,
    deadlineBudgetMs: frame.deadlineBudgetMs,
    attempt: frame.attempt,
    stepId: frame.stepId,
    tenant: frame.tenant,
    user: frame.user,
    values: cloneableSubset(frame.values),
    traceparent: traceparentOf(frame),
  };
}

function traceparentOf(frame: Frame): string | undefined {
  const span = frame.span;
  if (!span) return undefined;
  const sc = span.spanContext();
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/**
 * Parses a W3C `traceparent`; `undefined` when malformed.
 *
 * @example
 * ```ts
 * parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")?.traceFlags; // 1
 * ```
 */
export function parseTraceparent(value: string): { traceId: string; spanId: string; traceFlags: number } | undefined {
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value);
  if (!match) return undefined;
  return { traceId: match[1]!, spanId: match[2]!, traceFlags: Number.parseInt(match[3]!, 16) };
}

// ───────────────────────────── structured clone ─────────────────────────────

/**
 * Why `value` cannot cross a thread boundary unchanged, or `undefined` when it can. Class
 * instances count as "cannot": structured clone would silently drop their prototype.
 * Walks the whole value (cycles are fine), which costs about what cloning it costs.
 *
 * @example
 * ```ts
 * notCloneable([1, { a: new Float64Array(2) }]); // undefined
 * notCloneable({ f: () => 1 });                  // "a function at .f"
 * ```
 */
export function notCloneable(value: unknown, path = "", seen?: Set<object>): string | undefined {
  switch (typeof value) {
    case "undefined":
    case "boolean":
    case "number":
    case "string":
    case "bigint":
      return undefined;
    case "symbol":
      return `a symbol at ${path || "the top level"}`;
    case "function":
      return `a function at ${path || "the top level"}`;
  }
  if (value === null) return undefined;
  const object = value as object;
  // Structured clone refuses a Proxy whatever it wraps.
  if (types.isProxy(object)) return `a Proxy at ${path || "the top level"}`;
  if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer || object instanceof SharedArrayBuffer) return undefined;
  if (object instanceof Date || object instanceof RegExp || object instanceof Error) return undefined;
  seen ??= new Set();
  if (seen.has(object)) return undefined;
  seen.add(object);
  if (Array.isArray(object)) {
    for (let i = 0; i < object.length; i++) {
      const why = notCloneable(object[i], `${path}[${i}]`, seen);
      if (why) return why;
    }
    return undefined;
  }
  if (object instanceof Map) {
    for (const [k, v] of object) {
      const why = notCloneable(k, `${path}<key>`, seen) ?? notCloneable(v, `${path}<value>`, seen);
      if (why) return why;
    }
    return undefined;
  }
  if (object instanceof Set) {
    for (const v of object) {
      const why = notCloneable(v, `${path}<member>`, seen);
      if (why) return why;
    }
    return undefined;
  }
  const proto: unknown = Object.getPrototypeOf(object);
  if (proto !== Object.prototype && proto !== null) {
    const name = (object as { constructor?: { name?: unknown } }).constructor?.name;
    return `an instance of ${typeof name === "string" && name ? name : "a class"} at ${path || "the top level"}`;
  }
  for (const key of Object.keys(object)) {
    const why = notCloneable((object as Record<string, unknown>)[key], `${path}.${key}`, seen);
    if (why) return why;
  }
  return undefined;
}

/**
 * True when `value` crosses a thread boundary unchanged (see `notCloneable`).
 *
 * @example
 * ```ts
 * isCloneable({ model: "small" }); // true
 * ```
 */
export function isCloneable(value: unknown): boolean {
  return notCloneable(value) === undefined;
}

/**
 * The buffers to transfer (move, not copy) with `value`: ArrayBuffers, and the buffers of
 * typed arrays that span their whole buffer, found at the top level and up to `depth`
 * levels inside arrays and plain objects. A view onto part of a buffer is copied instead:
 * moving it would detach memory the caller still uses elsewhere (Node's pooled `Buffer`s,
 * for one). SharedArrayBuffers are shared anyway.
 *
 * @example
 * ```ts
 * const xs = new Float64Array(1024);
 * collectTransferables([xs, { ys: xs }]); // [xs.buffer]
 * ```
 */
export function collectTransferables(value: unknown, depth = 2, into: ArrayBuffer[] = []): ArrayBuffer[] {
  if (value === null || typeof value !== "object") return into;
  if (value instanceof ArrayBuffer) {
    if (!into.includes(value)) into.push(value);
    return into;
  }
  if (ArrayBuffer.isView(value)) {
    const buffer = value.buffer;
    if (buffer instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === buffer.byteLength && !into.includes(buffer)) into.push(buffer);
    return into;
  }
  if (depth < 0) return into;
  if (Array.isArray(value)) {
    for (const item of value) if (item !== null && typeof item === "object") collectTransferables(item, depth - 1, into);
    return into;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    for (const key in value) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== null && typeof item === "object") collectTransferables(item, depth - 1, into);
    }
  }
  return into;
}

// ───────────────────────────── abort cells ─────────────────────────────

/**
 * Main thread, when a task's signal fires: records why in the task's abort cell and wakes
 * a worker waiting on it. Returns false when the worker had already finished.
 *
 * @example
 * ```ts
 * signal.addEventListener("abort", () => signalAbort(task.abort, signal.reason));
 * ```
 */
export function signalAbort(cell: SharedArrayBuffer, reason: unknown): boolean {
  const state = new Int32Array(cell);
  const deadline = reason instanceof DeadlineExceeded;
  // Synchronisation point: the budget is written before the state is published, and the
  // compare-exchange is the release; a worker that reads DEADLINE also reads the budget.
  if (deadline) new Float64Array(cell)[ABORT_BUDGET] = reason.budgetMs;
  const previous = Atomics.compareExchange(state, ABORT_STATE, ABORT_RUNNING, deadline ? ABORT_DEADLINE : ABORT_CANCELLED);
  // Synchronisation point: wakes `Atomics.waitAsync` in a worker awaiting an async body.
  Atomics.notify(state, ABORT_STATE);
  return previous === ABORT_RUNNING;
}

/**
 * Worker: the abort cell's state (`ABORT_RUNNING`, `ABORT_CANCELLED`, `ABORT_DEADLINE`,
 * `ABORT_DONE`). `view` is an Int32Array over the cell, made once per task: this runs on
 * every read of `signal.aborted`, so it allocates nothing.
 *
 * @example
 * ```ts
 * const view = new Int32Array(task.abort);
 * if (readAbort(view) === ABORT_DEADLINE) budget = deadlineBudget(task.abort);
 * ```
 */
export function readAbort(view: Int32Array): number {
  // Synchronisation point: the acquire that pairs with signalAbort's compare-exchange.
  return Atomics.load(view, ABORT_STATE);
}

/**
 * Worker: the budget of the deadline that fired, once `readAbort` has said `ABORT_DEADLINE`
 * (the acquire there makes the budget written before it visible).
 *
 * @example
 * ```ts
 * new DeadlineExceeded(owner, deadlineBudget(task.abort));
 * ```
 */
export function deadlineBudget(cell: SharedArrayBuffer): number {
  return new Float64Array(cell)[ABORT_BUDGET]!;
}

/**
 * Worker, when a task ends: marks the cell done, so a late abort is a no-op, and wakes the
 * worker's own `waitAsync` on it so no waiter outlives the task.
 *
 * @example
 * ```ts
 * try { return run(task); } finally { finishAbortCell(task.abort); }
 * ```
 */
export function finishAbortCell(cell: SharedArrayBuffer): void {
  const state = new Int32Array(cell);
  // Synchronisation point: RUNNING -> DONE only; an abort that won the race stays visible.
  Atomics.compareExchange(state, ABORT_STATE, ABORT_RUNNING, ABORT_DONE);
  Atomics.notify(state, ABORT_STATE);
}

// ───────────────────────────── the allowlist ─────────────────────────────

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Main thread: the modules workers may import, in shared memory (layout in keys.ts). The
 * pool adds the module of every registered op it sends; nothing else is ever added.
 *
 * @example
 * ```ts
 * const allow = new AllowlistWriter();
 * allow.add(desc.locator.module);
 * new Piscina({ filename, workerData: { allowlist: allow.buffer } });
 * ```
 */
export class AllowlistWriter {
  readonly buffer: SharedArrayBuffer;
  private readonly known = new Set<string>();
  private used = 0;

  constructor() {
    // Growable: workers keep the same buffer object as it grows, so no re-handshake.
    this.buffer = new (SharedArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => SharedArrayBuffer)(
      ALLOWLIST_INITIAL_BYTES,
      { maxByteLength: ALLOWLIST_MAX_BYTES },
    );
  }

  /** Allows `module`; idempotent. */
  add(module: string): void {
    if (this.known.has(module)) return;
    const bytes = encoder.encode(`${module}\n`);
    const end = ALLOWLIST_HEADER_BYTES + this.used + bytes.length;
    const growable = this.buffer as unknown as { byteLength: number; grow(n: number): void };
    if (end > growable.byteLength) {
      if (end > ALLOWLIST_MAX_BYTES) throw new RangeError(`weft workers: the module allowlist is full (${ALLOWLIST_MAX_BYTES} bytes)`);
      growable.grow(Math.min(ALLOWLIST_MAX_BYTES, Math.max(end, growable.byteLength * 2)));
    }
    new Uint8Array(this.buffer, ALLOWLIST_HEADER_BYTES + this.used, bytes.length).set(bytes);
    this.used += bytes.length;
    this.known.add(module);
    // Synchronisation point: the bytes are written before the length is published (release);
    // a worker that loads the new length (acquire) sees complete entries.
    Atomics.store(new Int32Array(this.buffer, 0, 2), ALLOWLIST_LENGTH, this.used);
  }
}

/**
 * Worker: reads the allowlist the main thread writes. `has` is a set lookup, re-reading
 * shared memory only for a module it has not seen yet.
 *
 * @example
 * ```ts
 * const allow = new AllowlistReader(workerData.allowlist);
 * if (!allow.has(module)) throw new WorkerRefused(op, module, "module-not-allowed", "...");
 * ```
 */
export class AllowlistReader {
  private readonly known = new Set<string>();
  private read = 0;

  constructor(private readonly buffer: SharedArrayBuffer) {}

  has(module: string): boolean {
    if (this.known.has(module)) return true;
    // Synchronisation point: the acquire that pairs with AllowlistWriter.add's store.
    const length = Atomics.load(new Int32Array(this.buffer, 0, 2), ALLOWLIST_LENGTH);
    if (length > this.read) {
      // Copy out of shared memory: TextDecoder refuses views on a SharedArrayBuffer.
      const bytes = new Uint8Array(this.buffer, ALLOWLIST_HEADER_BYTES + this.read, length - this.read).slice();
      for (const entry of decoder.decode(bytes).split("\n")) if (entry) this.known.add(entry);
      this.read = length;
    }
    return this.known.has(module);
  }
}
