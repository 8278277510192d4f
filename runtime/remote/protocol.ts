/**
 * The remote job protocol: what a coordinator puts on a BullMQ queue and what a `weft
 * worker` process answers, in one file (the Redis keys both sides use are here too).
 *
 *   coordinator (executor.ts)                          weft worker (worker.ts)
 *   ───────────                                        ───────────
 *   Queue.add(JobData, { jobId })  ── Redis list ────> Worker processor: decode, run, reply
 *   publish(cancelChannel, CancelMessage) ── pub/sub ─> abort that job's context signal
 *   QueueEvents "completed" (reply) <─ events stream ── return encodeReply(ReplyMessage)
 *   QueueEvents "failed"            <─ events stream ── BullMQ itself: a job stalled too often
 *
 * A body's failure is a reply (`type: "error"`), as in the worker-thread protocol, so a
 * job BullMQ marks failed always means the infrastructure gave up on it (its worker died
 * more often than `maxStalledCount` allows): the coordinator reads that as `WorkerCrashed`.
 *
 * Values travel as V8 structured clone (`node:v8` serialize), base64 in the job's JSON,
 * so Dates, typed arrays, Map, Set, bigint and `undefined` arrive as they left, exactly as
 * they would reach a worker thread. Errors travel as the worker protocol's `WireError`.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { deserialize, serialize } from "node:v8";
import type { OpLocator } from "../../decorators/descriptor.js";
import type { ArgSource } from "../../compiler/chain.js";
import { WeftError } from "../errors.js";
import type { OpEntry } from "../invoke.js";
import type { ReplyMessage } from "../workers/protocol.js";

/** node:crypto, loaded at first use: importing weft should not pay for it. */
const crypto = (): typeof import("node:crypto") => process.getBuiltinModule("node:crypto") as typeof import("node:crypto");

/** Bumped when JobData changes shape; a worker refuses jobs of another version. */
export const PROTOCOL_VERSION = 3;

/**
 * One step of a chain on the wire: its op by install-independent key (the module's path
 * relative to the app root, export and member; see `portableKey`), so workers whose copy
 * of the app lives elsewhere find the same op. A step that takes its arguments as they
 * come (most steps, every one-op job) is the key alone.
 *
 * @example
 * ```ts
 * const steps: WireStep[] = ["dist/ops.js#tokenize", { op: "dist/ops.js#score", argsFrom: [{ from: "step", index: 0 }] }];
 * ```
 */
export type WireStep = string | RemoteStep;

/** A step that reads its arguments from the job's inputs or earlier steps (`argsFrom`). @example `const step: RemoteStep = { op: "dist/ops.js#score", argsFrom: [{ from: "step", index: 0 }] }` */
export interface RemoteStep {
  readonly op: string;
  readonly argsFrom?: readonly ArgSource[];
}

/**
 * The data of one job: plain JSON that a dashboard or a worker reads before decoding.
 * Fields that are empty are left out (BullMQ stores the data as JSON, and every job's
 * bytes are written, read back and parsed: 5,000 small jobs are mostly their headers),
 * and the op's display name is the job's name, not a field.
 *
 * The values (`args`, the cloneable `config`, `overrides` and context `values`, a method
 * op's instance fields `self`) are fields of their own when JSON carries them exactly;
 * otherwise all of them travel together as structured clone in `clone` (a `JobPayload`).
 *
 * @example
 * ```ts
 * const data: JobData = { v: 3, type: "chunk", steps: ["dist/ops.js#score"], stepId: "vmap(score)#0", attempt: 0, tenant: "acme", args: [[5]] };
 * ```
 */
export interface JobData extends Partial<JobPayload> {
  readonly v: typeof PROTOCOL_VERSION;
  /** One attempt of one op body, a fused chain run once, or an op or chain over many items. */
  readonly type: "call" | "chain" | "chunk";
  readonly steps: readonly WireStep[];
  /** The op the caller's frame names (the context's `op` on the worker). */
  readonly caller?: string;
  /** The caller's step id. */
  readonly stepId: string;
  /** The kernel's attempt number this job is (each attempt is its own job). */
  readonly attempt: number;
  /** Absolute deadline (epoch ms): a worker never starts a job past it. */
  readonly deadline?: number;
  /** The op or `withContext` whose deadline it is. */
  readonly deadlineOwner?: string;
  /** The owner's whole budget (ms): the worker's `DeadlineExceeded` reports it, not what was left when the job started. */
  readonly deadlineBudgetMs?: number;
  readonly tenant?: string;
  readonly user?: string;
  /** W3C traceparent of the caller's span. */
  readonly traceparent?: string;
  /** `false` when the coordinator runs with `configure({ validate: false })`: chain steps and chunk items then skip their checks. */
  readonly validate?: false;
  /** The values as structured clone (base64 of a `JobPayload`), when JSON would change them. */
  readonly clone?: string;
}

/**
 * The values of a job: the cloneable config, overrides and context values (each left out
 * when empty), a method op's instance fields, and the arguments.
 *
 * @example
 * ```ts
 * const p: JobPayload = { args: [5], values: { region: "eu" } };
 * ```
 */
export interface JobPayload {
  readonly config?: Readonly<Record<string, unknown>>;
  readonly overrides?: Readonly<Record<string, unknown>>;
  readonly values?: Readonly<Record<string, unknown>>;
  /** A method op's instance fields, rebuilt on the exported class's prototype. */
  readonly self?: Readonly<Record<string, unknown>>;
  /** `call` and `chain`: one argument list; `chunk`: one per item. */
  readonly args: readonly unknown[] | readonly (readonly unknown[])[];
}

/** A job's values, from its fields or its structured clone. Throws `TypeError` on a malformed job. @example `const { args } = payloadOf(job.data)` */
export function payloadOf(data: JobData): JobPayload {
  if (typeof data.clone === "string") return deserialize(Buffer.from(data.clone, "base64")) as JobPayload;
  if (!Array.isArray(data.args)) throw new TypeError("weft remote: the job carries no arguments");
  return data as JobPayload;
}

/** A step on the wire as the worker reads it: op key and wiring. @example `stepOf("dist/ops.js#score").op` */
export function stepOf(step: WireStep): RemoteStep {
  return typeof step === "string" ? { op: step } : step;
}

/**
 * A value on the wire: itself, when JSON carries it exactly as structured clone would
 * (plain objects, arrays, strings, finite numbers, booleans, null: most arguments and
 * results), since BullMQ stores job data and return values as JSON anyway; else its V8
 * structured clone in base64, so Dates, typed arrays, Map, Set, bigint, `undefined` and
 * shared references arrive as they left, exactly as they would reach a worker thread.
 *
 * @example
 * ```ts
 * toWire([1, "a"]); // { json: [1, "a"] }
 * toWire([new Date(0)]); // { v8: "/w1BBA..." }
 * ```
 */
export type Wire = { readonly json: unknown } | { readonly v8: string };

/** `value` on the wire (see `Wire`). @example `fromWire(toWire(new Map([[1, 2]])))` */
export function toWire(value: unknown): Wire {
  return jsonFaithful(value) ? { json: value } : cloneWire(value);
}

/** `value` on the wire as structured clone, whatever it is. @example `cloneWire(new Date(0))` */
export function cloneWire(value: unknown): Wire {
  return { v8: serialize(value).toString("base64") };
}

/** The inverse of `toWire`. Throws `TypeError` on anything else. @example `fromWire<number[]>(data.payload)` */
export function fromWire<T = unknown>(wire: Wire): T {
  if (wire !== null && typeof wire === "object") {
    if ("json" in wire) return wire.json as T;
    if (typeof wire.v8 === "string") return deserialize(Buffer.from(wire.v8, "base64")) as T;
  }
  throw new TypeError("weft remote: not a weft wire value");
}

/** Past this many values a walk stops and structured clone is used (it is fast on big values). */
const JSON_WALK_LIMIT = 2000;

/**
 * Whether `JSON.parse(JSON.stringify(value))` gives what structured clone would: only
 * plain objects and arrays (no holes, no extra keys, no shared or cyclic references),
 * strings, booleans, null and finite numbers other than -0. Small values only (see
 * `JSON_WALK_LIMIT`).
 */
export function jsonFaithful(value: unknown): boolean {
  // Nothing is allocated for the common small values: a walk state only for objects, a
  // set of the objects seen only from the second one on.
  return faithful(value, { budget: JSON_WALK_LIMIT, first: undefined, seen: undefined });
}

interface Walk {
  budget: number;
  first: object | undefined;
  seen: Set<object> | undefined;
}

function faithful(v: unknown, w: Walk): boolean {
  if (--w.budget < 0) return false;
  switch (typeof v) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(v) && !Object.is(v, -0);
    case "object": {
      if (v === null) return true;
      if (w.first === undefined) w.first = v;
      else {
        if (v === w.first) return false;
        w.seen ??= new Set<object>();
        if (w.seen.has(v)) return false;
        w.seen.add(v);
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto === Array.prototype) {
        const a = v as unknown[];
        if (Object.keys(a).length !== a.length) return false;
        for (let i = 0; i < a.length; i++) if (!faithful(a[i], w)) return false;
        return true;
      }
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in v) {
        if (key === "__proto__" || !faithful((v as Record<string, unknown>)[key], w)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/**
 * What a coordinator publishes on the cancel channel when a job's caller gives up: every
 * worker hears it, and the one running that job aborts the body's signal with `reason`.
 *
 * @example
 * ```ts
 * const msg: CancelMessage = { jobId, reason: "cancelled", op: "score", budgetMs: undefined };
 * ```
 */
export interface CancelMessage {
  readonly jobId: string;
  readonly reason: "cancelled" | "deadline";
  /** The op or `withContext` whose deadline passed (deadline) or that was cancelled. */
  readonly op: string;
  readonly budgetMs: number | undefined;
}

/** Redis keys of one queue's weft side channels (BullMQ's own keys are `bull:<queue>:*`). */
export const keys = {
  /** Pub/sub channel of `CancelMessage`s. */
  cancel: (queue: string) => `weft:${queue}:cancel`,
  /** A cancelled job's marker (with a TTL), so a worker that picks it up later skips it. */
  cancelled: (queue: string, jobId: string) => `weft:${queue}:cancelled:${jobId}`,
  /** A live worker's heartbeat (a key with a TTL, refreshed while the worker runs). */
  worker: (queue: string, id: string) => `weft:${queue}:worker:${id}`,
  workerPattern: (queue: string) => `weft:${queue}:worker:*`,
} as const;

/** How long a cancel marker lives: longer than any job waits in a queue that is served. */
export const CANCEL_MARKER_TTL_S = 3600;

/**
 * A remote worker refused a job, or the coordinator refused to send one: the op is not
 * registered there (nothing outside the modules a worker was told to load is ever
 * imported), the job is of another protocol version, or what it carries cannot travel.
 *
 * @example
 * ```ts
 * await score(answer).catch((e: unknown) => e instanceof RemoteRefused && e.reason); // "not-registered"
 * ```
 */
export class RemoteRefused extends WeftError {
  readonly _tag = "RemoteRefused";
  constructor(
    readonly op: string,
    readonly reason: "not-registered" | "version" | "cannot-travel",
    readonly detail: string,
  ) {
    super(`${op}: ${reason === "cannot-travel" ? "cannot run remotely" : "remote worker refused the job"}: ${detail}`);
  }
}

/**
 * The install-independent key of an op: the locator's module path relative to `root`,
 * with its export and member. `undefined` for an op with no file locator.
 *
 * @example
 * ```ts
 * portableKey({ module: "file:///srv/app/dist/ops.js", export: "Judge", member: "score" }, "/srv/app"); // "dist/ops.js#Judge.score"
 * ```
 */
export function portableKey(locator: OpLocator | undefined, root: string): string | undefined {
  if (!locator || !locator.module.startsWith("file:")) return undefined;
  const rel = path.relative(root, fileURLToPath(locator.module)).split(path.sep).join("/");
  return `${rel}#${locator.export}${locator.member === undefined ? "" : `.${locator.member}`}`;
}

/** The wire name of a registered op (its id when it has no file locator). @example `wireKey(entry, process.cwd())` */
export function wireKey(entry: OpEntry, root: string): string {
  return portableKey(entry.desc.locator, root) ?? entry.desc.id;
}

/**
 * The id of a job in a durable run: derived from run, node and item (and the kernel's
 * attempt), so a coordinator that adds the same step again (a resumed run) finds the job
 * it added before, finished or not, instead of running the body twice. The step id names
 * a node or an item; `work` (a hash of the steps and arguments) tells apart the chunks of
 * one batch, which share their batch's step id, and `occurrence` the same work sent twice
 * by one step. (Outside a durable run a step has no stable name: the executor gives each
 * call an id of its own.)
 *
 * BullMQ ids must not look like integers nor contain `:`; a hash is neither, and bounded.
 *
 * @example
 * ```ts
 * jobId({ run: "nightly", step: "vmap(score)#0[41]/score#0", attempt: 1, type: "call", work: "9f2c", occurrence: 0 }); // "w-3f9c…"
 * ```
 */
export function jobId(parts: {
  readonly run: string;
  readonly step: string;
  readonly attempt: number;
  readonly type: JobData["type"];
  readonly work: string;
  readonly occurrence: number;
}): string {
  const h = crypto().createHash("sha256");
  h.update(`run\0${parts.run}`);
  h.update(`\0${parts.step}\0${parts.attempt}\0${parts.type}\0${parts.work}\0${parts.occurrence}`);
  return `w-${h.digest("base64url").slice(0, 32)}`;
}

/** A short hash of a job's steps and arguments, for `jobId`. @example `workHash(steps, [self, args])` */
export function workHash(steps: readonly WireStep[], args: unknown): string {
  const h = crypto().createHash("sha256");
  for (const s of steps) h.update(stepOf(s).op).update("\0");
  const wire = toWire(args);
  return h.update("json" in wire ? `j${JSON.stringify(wire.json)}` : `v${wire.v8}`).digest("base64url").slice(0, 16);
}

/**
 * A reply as a job's return value (BullMQ stores it as JSON).
 *
 * @example
 * ```ts
 * return encodeReply({ type: "value", value: 42, timings: [] });
 * ```
 */
export function encodeReply(reply: ReplyMessage): ReplyValue {
  return { weft: PROTOCOL_VERSION, reply: toWire(reply) };
}

/**
 * What a weft job returns: a value or every item's value (plain JSON, the common cases
 * in short), or any reply on the wire.
 *
 * @example
 * ```ts
 * const r: ReplyValue = { weft: 3, items: [1, 2, 3] };
 * ```
 */
export type ReplyValue =
  | { readonly weft: typeof PROTOCOL_VERSION; readonly value: unknown }
  | { readonly weft: typeof PROTOCOL_VERSION; readonly items: readonly unknown[] }
  | { readonly weft: typeof PROTOCOL_VERSION; readonly reply: Wire };

/** The reply a job returned. Throws `TypeError` on a value no weft worker returns. @example `decodeReply(job.returnvalue)` */
export function decodeReply(returnvalue: unknown): ReplyMessage {
  const r = returnvalue as { weft?: unknown; value?: unknown; items?: unknown; reply?: Wire } | null;
  if (r !== null && typeof r === "object" && r.weft === PROTOCOL_VERSION) {
    if ("value" in r) return { type: "value", value: r.value, timings: [] };
    if (Array.isArray(r.items)) return { type: "items", items: { values: r.items, failures: [] }, timings: [] };
    if (r.reply !== undefined) return fromWire<ReplyMessage>(r.reply);
  }
  throw new TypeError(`weft remote: a job returned ${r === null ? "null" : typeof r}${typeof r === "object" && r !== null && typeof r.weft === "number" ? ` of protocol version ${r.weft}` : ""}, not a weft reply of version ${PROTOCOL_VERSION} (is another program or another weft version serving this queue?)`);
}
