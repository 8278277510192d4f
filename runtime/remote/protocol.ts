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
import type { ReplyMessage, WireContext } from "../workers/protocol.js";

/** node:crypto, loaded at first use: importing weft should not pay for it. */
const crypto = (): typeof import("node:crypto") => process.getBuiltinModule("node:crypto") as typeof import("node:crypto");

/** Bumped when JobData changes shape; a worker refuses jobs of another version. */
export const PROTOCOL_VERSION = 1;

/**
 * An op as a remote worker finds it: its registry id, and a key that does not depend on
 * where the app is installed (the module's path relative to the app root, export and
 * member), for workers whose copy of the app lives in another directory.
 *
 * @example
 * ```ts
 * const ref: RemoteOpRef = { id: "file:///app/dist/ops.js#score", key: "dist/ops.js#score", name: "score" };
 * ```
 */
export interface RemoteOpRef {
  readonly id: string;
  readonly key: string;
  readonly name: string;
}

/** One step of a chain on the wire. @example `const step: RemoteStep = { op: ref, argsFrom: [{ from: "step", index: 0 }] }` */
export interface RemoteStep {
  readonly op: RemoteOpRef;
  readonly argsFrom?: readonly ArgSource[];
}

/**
 * The data of one job: plain JSON for what a dashboard or a worker reads before decoding
 * (op, attempt, deadline, tenant, traceparent), the rest structured-clone encoded.
 *
 * @example
 * ```ts
 * const data: JobData = { v: 1, type: "call", steps: [{ op: ref }], op: "score", attempt: 1, deadline: undefined, tenant: "acme", traceparent: undefined, validate: true, payload };
 * ```
 */
export interface JobData {
  readonly v: typeof PROTOCOL_VERSION;
  /** One attempt of one op body, a fused chain run once, or an op or chain over many items. */
  readonly type: "call" | "chain" | "chunk";
  readonly steps: readonly RemoteStep[];
  /** Display name of the first step's op. */
  readonly op: string;
  /** The kernel's attempt number this job is (each attempt is its own job). */
  readonly attempt: number;
  /** Absolute deadline (epoch ms), or none: a worker never starts a job past it. */
  readonly deadline: number | undefined;
  readonly tenant: string | undefined;
  /** W3C traceparent of the caller's span. */
  readonly traceparent: string | undefined;
  /** The coordinator's `configure({ validate })`: chain steps and chunk items validate when true. */
  readonly validate: boolean;
  /** base64 of `serialize(JobPayload)`. */
  readonly payload: string;
}

/** The structured-clone part of a job. @example `const p: JobPayload = { ctx, self: undefined, args: [5] }` */
export interface JobPayload {
  readonly ctx: WireContext;
  /** A method op's instance fields, rebuilt on the exported class's prototype. */
  readonly self: Readonly<Record<string, unknown>> | undefined;
  /** `call` and `chain`: one argument list; `chunk`: one per item. */
  readonly args: readonly unknown[] | readonly (readonly unknown[])[];
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

/** The wire reference of a registered op. @example `refOf(entry, process.cwd())` */
export function refOf(entry: OpEntry, root: string): RemoteOpRef {
  return { id: entry.desc.id, key: portableKey(entry.desc.locator, root) ?? entry.desc.id, name: entry.desc.name };
}

/**
 * The id of a job: derived from run, node and item (and the kernel's attempt), so a
 * coordinator that adds the same step again (a resumed run) finds the job it added
 * before, finished or not, instead of running the body twice. The step id names a node or
 * an item; `work` (a hash of the steps and arguments) tells apart the chunks of one batch,
 * which share their batch's step id, and `occurrence` the same work sent twice by one step.
 * Outside a durable run a step has no stable name, so the id is unique per call (`nonce`).
 *
 * BullMQ ids must not look like integers nor contain `:`; a hash is neither, and bounded.
 *
 * @example
 * ```ts
 * jobId({ run: "nightly", step: "vmap(score)#0[41]/score#0", attempt: 1, type: "call", work: "9f2c", occurrence: 0 }); // "w-3f9c…"
 * ```
 */
export function jobId(parts: {
  readonly run: string | undefined;
  readonly step: string;
  readonly attempt: number;
  readonly type: JobData["type"];
  readonly work: string;
  readonly occurrence: number;
  readonly nonce?: string;
}): string {
  const h = crypto().createHash("sha256");
  h.update(parts.run === undefined ? `once\0${parts.nonce ?? ""}` : `run\0${parts.run}`);
  h.update(`\0${parts.step}\0${parts.attempt}\0${parts.type}\0${parts.work}\0${parts.occurrence}`);
  return `w-${h.digest("base64url").slice(0, 32)}`;
}

/** A short hash of a job's steps and encoded arguments, for `jobId`. @example `workHash(steps, encodeValue(args))` */
export function workHash(steps: readonly RemoteStep[], encodedArgs: string): string {
  const h = crypto().createHash("sha256");
  for (const s of steps) h.update(s.op.key).update("\0");
  return h.update(encodedArgs).digest("base64url").slice(0, 16);
}

/** Structured clone to base64. @example `decodeValue(encodeValue(new Date(0)))` */
export function encodeValue(value: unknown): string {
  return serialize(value).toString("base64");
}

/** The inverse of `encodeValue`. @example `decodeValue<Map<string, number>>(text).get("a")` */
export function decodeValue<T = unknown>(text: string): T {
  return deserialize(Buffer.from(text, "base64")) as T;
}

/** A reply as a job's return value. @example `return encodeReply({ type: "value", value: 42, timings: [] })` */
export function encodeReply(reply: ReplyMessage): string {
  return encodeValue(reply);
}

/** The reply a job returned. Throws `TypeError` on a value no weft worker returns. @example `decodeReply(job.returnvalue)` */
export function decodeReply(returnvalue: unknown): ReplyMessage {
  if (typeof returnvalue !== "string") throw new TypeError(`weft remote: a job returned ${typeof returnvalue}, not a weft reply (is a non-weft worker consuming this queue?)`);
  return decodeValue<ReplyMessage>(returnvalue);
}
