/**
 * The BullMQ executor: the `Executor` that sends op bodies, fused chains and chunks of
 * items as jobs to `weft worker` processes on any number of machines, over Redis.
 *
 * The coordinator keeps everything that decides a call: the kernel (`callOp`) validates,
 * retries with the op's backoff (each attempt is its own job, so a retry may run on any
 * worker), and keeps the deadline; the plan runner keeps the graph. A job is one step.
 *
 * - Job ids come from run, step and attempt inside a durable run (see `jobId`), so a
 *   resumed coordinator that adds a step again gets the job it added before: a finished
 *   job's reply is read back, a queued or running one is waited for; the body never
 *   runs twice for it. Outside a run every call is its own job.
 * - A worker that dies mid-job loses its lock; BullMQ's stall check hands the job to
 *   another worker (`maxStalledCount`, default 1: at most one extra run). A job stalled
 *   more often fails, which reaches the caller as `WorkerCrashed` (retryable).
 * - The caller's signal firing (deadline or cancel) rejects at once with its reason, and
 *   tells the workers: a queued job is removed or skipped, a running one's context signal
 *   aborts with the same reason.
 * - Completions arrive on one `QueueEvents` stream per executor; a sweep reads back any
 *   job whose event was missed (a stream trimmed while the coordinator was away).
 */
import { serialize } from "node:v8";
import type * as BullMQ from "bullmq";
import type { Redis } from "ioredis";
import type { Frame } from "../context.js";
import { NEVER_SIGNAL, abortReason } from "../context.js";
import { WorkerCrashed } from "../errors.js";
import type { Executor, FusedChain, ItemResult, Work } from "../executors.js";
import type { OpEntry } from "../invoke.js";
import { settings } from "../settings.js";
import { decodeError, encodeContext, type ReplyMessage } from "../workers/protocol.js";
import { chainOf, resolveChain, type ResolvedStep } from "../workers/run.js";
import { connectionOptions, describeTarget, loadBullMQ, openRedis, type RedisTarget } from "./connection.js";
import {
  CANCEL_MARKER_TTL_S,
  PROTOCOL_VERSION,
  RemoteRefused,
  decodeReply,
  jobId,
  jsonFaithful,
  keys,
  wireKey,
  workHash,
  type CancelMessage,
  type JobData,
  type JobPayload,
  type WireStep,
} from "./protocol.js";
import { whyNotRemote } from "./travel.js";

/** node:crypto, loaded at first use: importing weft should not pay for it. */
const crypto = (): typeof import("node:crypto") => process.getBuiltinModule("node:crypto") as typeof import("node:crypto");

/**
 * Options of a BullMQ executor.
 *
 * @example
 * ```ts
 * const remote = new BullMQExecutor({ redis: "redis://10.0.0.5:6379", queue: "weft" });
 * ```
 */
export interface BullMQExecutorOptions {
  /** Where Redis is. Default `$WEFT_REDIS_URL`, else `redis://127.0.0.1:6379`. */
  readonly redis?: RedisTarget;
  /** The queue name: workers started with the same `--queue` serve it. Default `"weft"`. */
  readonly queue?: string;
  /**
   * The app's root directory, against which op modules are named on the wire, so workers
   * whose copy of the app lives elsewhere find the same ops. Default `process.cwd()`.
   */
  readonly root?: string;
  /**
   * How long finished jobs (and so their replies) are kept, in seconds. Default: what the
   * serving worker keeps (`startWorker`'s `keepSeconds`, 86,400 for `weft worker`).
   */
  readonly keepSeconds?: number;
}

const OPTION_KEYS = new Set(["redis", "queue", "root", "keepSeconds"]);
const SWEEP_MS = 2000;
const FULL_SWEEP_MS = 30_000;

interface Pending {
  readonly op: string;
  /** Settles the caller with the job's return value (decoded by the caller's kind of work). */
  readonly resolve: (returnvalue: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** The caller's signal, watched while the job is in flight (see `watch`). */
  readonly signal: AbortSignal | undefined;
  /** When it was added (for the sweep). */
  readonly since: number;
}

/**
 * What every job sent from one frame shares, encoded once per frame: the context fields
 * and the cloneable config, overrides and context values (the items of a vmap, one job
 * each, share their batch's frame).
 */
interface Head {
  /** The JobData fields that come from the frame (only those that are set). */
  readonly fields: Readonly<Record<string, unknown>>;
  /** The config, overrides and values that travel (only those that are not empty). */
  readonly values: Readonly<Record<string, unknown>> | undefined;
  /** Whether `values` goes as JSON, exactly. */
  readonly valuesJson: boolean;
  /** `settings.validate` when it was encoded. */
  readonly validate: boolean;
}

/** A chain resolved for sending (one op is a chain of one step), with why it cannot travel. */
interface Sendable {
  readonly steps: readonly WireStep[];
  readonly first: OpEntry;
  readonly why: { readonly op: string; readonly reason: string } | undefined;
}

interface Connected {
  readonly bull: typeof BullMQ;
  readonly queue: BullMQ.Queue;
  readonly events: BullMQ.QueueEvents;
  /** weft's side channel: cancels, markers, heartbeats read. */
  readonly client: Redis;
}

/**
 * Runs op bodies, fused chains and chunks as BullMQ jobs served by `weft worker`
 * processes. Passes the executor conformance suite, like the in-process executors.
 *
 * @example
 * ```ts
 * import { BullMQExecutor } from "weft";
 * const remote = new BullMQExecutor({ redis: "redis://127.0.0.1:6379", queue: "weft" });
 * console.log(remote.describe(), (await remote.workers()).length, "workers");
 * await remote.close();
 * ```
 */
export class BullMQExecutor implements Executor {
  readonly name = "bullmq";
  readonly queueName: string;
  readonly root: string;
  readonly redis: RedisTarget;
  /** Jobs added so far (for tests and benchmarks). */
  jobs = 0;
  /** Retention sent with each job, when set here (else the worker's applies: less to send). */
  private readonly keep: { readonly age: number } | undefined;
  private connecting: Promise<Connected> | undefined;
  private readonly pending = new Map<string, Pending>();
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  private lastFullSweep = Date.now();
  /** The id of the last event read from the events stream (see `sweep`). */
  private lastEventId = "0-0";
  /** Jobs waiting to be added together on the next tick. */
  private batch: { data: JobData; id: string; name: string }[] = [];
  private flushing: Promise<void> | undefined;
  private readonly wireKeys = new WeakMap<OpEntry, string>();
  private idPrefix: string | undefined;
  private sent = 0;
  /** The jobs waiting on each caller signal (one abort listener per signal, see `watch`). */
  private readonly watched = new WeakMap<AbortSignal, { readonly ids: Set<string>; readonly listener: () => void }>();
  /** Durable steps' work sent so far, for `jobId`'s occurrence. */
  private readonly seen = new Map<string, number>();
  /**
   * The last frame's encoded context (see `Head`) and the last target resolved: the jobs
   * of one batch come from one frame and target in a row. One entry each, dropped at the
   * next flush, so nothing outlives its batch (a weak map would cost more per one-off call
   * frame than it saves).
   */
  private head: { readonly frame: Frame; readonly head: Head } | undefined;
  private sendable: { readonly target: string | FusedChain; readonly sendable: Sendable } | undefined;

  constructor(options: BullMQExecutorOptions = {}) {
    for (const key of Object.keys(options)) if (!OPTION_KEYS.has(key)) throw new TypeError(`BullMQExecutor: unknown option ${JSON.stringify(key)} (expected ${[...OPTION_KEYS].join(", ")})`);
    this.redis = options.redis ?? process.env.WEFT_REDIS_URL ?? "redis://127.0.0.1:6379";
    connectionOptions(this.redis);
    this.queueName = options.queue ?? "weft";
    if (!/^[A-Za-z0-9_.-]{1,100}$/.test(this.queueName)) throw new TypeError(`BullMQExecutor: queue must be 1-100 letters, digits, _ . or -, received ${JSON.stringify(this.queueName)}`);
    this.root = options.root ?? process.cwd();
    const keepSeconds = options.keepSeconds;
    if (keepSeconds !== undefined && !(keepSeconds > 0)) throw new RangeError(`BullMQExecutor: keepSeconds must be > 0, received ${keepSeconds}`);
    this.keep = keepSeconds === undefined ? undefined : { age: keepSeconds };
  }

  /** Where this executor sends jobs, password removed: `bullmq redis://host:port queue weft`. */
  describe(): string {
    return `bullmq ${describeTarget(this.redis)} queue ${this.queueName}`;
  }

  run(work: Work, frame: Frame): Promise<unknown> {
    if (work.kind === "call") {
      const entry = work.entry;
      // The arguments are checked only when they do not go as JSON (see `send`).
      const why = whyNotRemote(entry, work.thisArg, undefined);
      if (why) return Promise.reject(new RemoteRefused(entry.desc.name, "cannot-travel", why));
      const self = entry.desc.locator?.member === undefined ? undefined : { ...(work.thisArg as object) };
      return this.send("call", [this.keyOf(entry)], entry, self, work.args, frame, valueOf);
    }
    return this.sendChain("chain", work.chain, work.args, frame, valueOf);
  }

  runChunk(target: string | FusedChain, items: readonly (readonly unknown[])[], frame: Frame): Promise<ItemResult[]> {
    return this.sendChain("chunk", target, items, frame, itemsOf);
  }

  /** A chain (an op id is a chain of one step) as one job: refused when one of its ops cannot travel. */
  private sendChain<T>(type: "chain" | "chunk", target: string | FusedChain, args: JobPayload["args"], frame: Frame, decode: (returnvalue: unknown) => T): Promise<T> {
    let sendable: Sendable;
    try {
      sendable = this.sendableOf(target);
    } catch (error) {
      return Promise.reject(error);
    }
    if (sendable.why) return Promise.reject(new RemoteRefused(sendable.why.op, "cannot-travel", sendable.why.reason));
    return this.send(type, sendable.steps, sendable.first, undefined, args, frame, decode);
  }

  /** `target` resolved for sending (the last one is kept until the next flush). */
  private sendableOf(target: string | FusedChain): Sendable {
    const last = this.sendable;
    if (last !== undefined && last.target === target) return last.sendable;
    const steps = resolveChain(chainOf(target));
    const sendable: Sendable = { steps: this.wireSteps(steps), first: steps[0]!.entry, why: whyNotRemoteAll(steps) };
    this.sendable = { target, sendable };
    return sendable;
  }

  private wireSteps(steps: readonly ResolvedStep[]): WireStep[] {
    return steps.map((s) => (s.argsFrom === undefined ? this.keyOf(s.entry) : { op: this.keyOf(s.entry), argsFrom: s.argsFrom }));
  }

  /** An op's wire name, computed once per op (naming its module costs a path walk). */
  private keyOf(entry: OpEntry): string {
    let key = this.wireKeys.get(entry);
    if (key === undefined) this.wireKeys.set(entry, (key = wireKey(entry, this.root)));
    return key;
  }

  /** The context fields of `frame`'s jobs, encoded once per frame. */
  private headOf(frame: Frame): Head {
    const last = this.head;
    if (last !== undefined && last.frame === frame && last.head.validate === settings.validate) return last.head;
    const ctx = encodeContext(frame);
    // Only the fields that are set are spread into each job.
    const all = {
      caller: ctx.op,
      stepId: ctx.stepId,
      attempt: ctx.attempt,
      deadline: ctx.deadline,
      deadlineOwner: ctx.deadlineOwner,
      deadlineBudgetMs: ctx.deadlineBudgetMs,
      tenant: ctx.tenant,
      user: ctx.user,
      traceparent: ctx.traceparent,
      validate: settings.validate ? undefined : (false as const),
    };
    const fields = Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined));
    let values: Record<string, unknown> | undefined;
    if (hasKeys(ctx.config)) (values ??= {}).config = ctx.config;
    if (hasKeys(ctx.overrides)) (values ??= {}).overrides = ctx.overrides;
    if (hasKeys(ctx.values)) (values ??= {}).values = ctx.values;
    const head: Head = { fields, values, valuesJson: values === undefined || jsonFaithful(values), validate: settings.validate };
    this.head = { frame, head };
    return head;
  }

  /** Adds one job for this step and resolves to its decoded return value. */
  private send<T>(type: JobData["type"], steps: readonly WireStep[], first: OpEntry, self: JobPayload["self"], args: JobPayload["args"], frame: Frame, decode: (returnvalue: unknown) => T): Promise<T> {
    const op = first.desc.name;
    const signal = frame.signal;
    if (signal.aborted) return Promise.reject(abortReason(signal, op));
    let data: JobData;
    let work = "";
    try {
      const head = this.headOf(frame);
      if (head.valuesJson && jsonFaithful(args) && (self === undefined || jsonFaithful(self))) {
        data = { v: PROTOCOL_VERSION, type, steps, ...head.fields, ...head.values, ...(self !== undefined && { self }), args } as JobData;
      } else {
        // Not plain JSON: refuse what structured clone would change, with the path.
        const why = whyNotRemote(first, undefined, args);
        if (why) return Promise.reject(new RemoteRefused(op, "cannot-travel", why));
        const payload: JobPayload = { ...head.values, ...(self !== undefined && { self }), args };
        data = { v: PROTOCOL_VERSION, type, steps, ...head.fields, clone: serialize(payload).toString("base64") } as JobData;
      }
      if (frame.run !== undefined) work = workHash(steps, [self, args]);
    } catch (error) {
      return Promise.reject(new RemoteRefused(op, "cannot-travel", `its job cannot be encoded: ${error instanceof Error ? error.message : String(error)}`));
    }
    const known = frame.run !== undefined;
    const occurrence = known ? this.occurrence(`${frame.run!.id}\0${frame.stepId}\0${frame.attempt}\0${type}\0${work}`) : 0;
    const id = known ? jobId({ run: frame.run!.id, step: frame.stepId, attempt: frame.attempt, type, work, occurrence }) : this.onceId();
    if (this.pending.has(id)) return Promise.reject(new Error(`weft remote: job ${id} is already in flight from this process`));
    const watched = signal !== NEVER_SIGNAL ? signal : undefined;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, {
        op,
        since: Date.now(),
        resolve: (returnvalue) => {
          // A reply this coordinator cannot read (another weft version, another program) rejects.
          let value: T;
          try {
            value = decode(returnvalue);
          } catch (error) {
            reject(error);
            return;
          }
          resolve(value);
        },
        reject,
        signal: watched,
      });
      if (watched) this.watch(watched, id);
      this.jobs++;
      this.enqueue({ data, id, name: op }, known);
    });
  }

  /**
   * Cancels the job `id` when `signal` fires. Every job waiting on one signal (the items of
   * one vmap share it) is behind a single listener: an EventTarget checks each new
   * listener against all it holds, so one listener per job costs quadratic time.
   */
  private watch(signal: AbortSignal, id: string): void {
    let w = this.watched.get(signal);
    if (!w) {
      const ids = new Set<string>();
      const listener = () => {
        this.watched.delete(signal);
        for (const jobId of ids) this.abandon(jobId, signal);
      };
      w = { ids, listener };
      this.watched.set(signal, w);
      signal.addEventListener("abort", listener, { once: true });
    }
    w.ids.add(id);
  }

  /** Stops watching `signal` for `id` (its reply came or it failed); the last job out removes the listener. */
  private unwatch(signal: AbortSignal, id: string): void {
    const w = this.watched.get(signal);
    if (!w || !w.ids.delete(id) || w.ids.size > 0) return;
    this.watched.delete(signal);
    signal.removeEventListener("abort", w.listener);
  }

  /** The caller of `id` gave up (its signal fired): reject at once and tell the workers. */
  private abandon(id: string, signal: AbortSignal): void {
    const p = this.pending.get(id);
    if (!p) return;
    // The signal's listener is going: nothing to unwatch.
    this.pending.delete(id);
    const reason = abortReason(signal, p.op);
    p.reject(reason);
    void this.cancel(id, p.op, reason);
  }

  /**
   * The id of a job outside a durable run, unique to this call: this executor's random
   * prefix (72 bits) and a counter. Short, because every command and event about the job
   * carries it.
   */
  private onceId(): string {
    this.idPrefix ??= `w-${crypto().randomBytes(9).toString("base64url")}-`;
    return this.idPrefix + (this.sent++).toString(36);
  }

  /** How often this process has sent this step's work before (bounded memory: oldest forgotten). */
  private occurrence(key: string): number {
    const n = this.seen.get(key) ?? 0;
    this.seen.delete(key);
    this.seen.set(key, n + 1);
    if (this.seen.size > 100_000) this.seen.delete(this.seen.keys().next().value!);
    return n;
  }

  /** Queues a job for the next batched add; a durable step then checks for an earlier run's job. */
  private enqueue(job: { data: JobData; id: string; name: string }, known: boolean): void {
    this.batch.push(job);
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
    if (known) void this.flushing.then(() => this.readBack([job.id]));
  }

  private async flush(): Promise<void> {
    const jobs = this.batch;
    this.batch = [];
    this.flushing = undefined;
    this.head = undefined;
    this.sendable = undefined;
    let c: Connected;
    try {
      c = await this.connect();
      const keep = this.keep;
      // One round trip for every step that became ready in the same tick. One attempt per
      // job (BullMQ's default): the caller's kernel retries, each attempt a job of its own.
      await c.queue.addBulk(jobs.map((j) => ({ name: j.name, data: j.data, opts: keep ? { jobId: j.id, removeOnComplete: keep, removeOnFail: keep } : { jobId: j.id } })));
    } catch (error) {
      for (const j of jobs) this.settle(j.id, error);
      return;
    }
    this.armSweep();
  }

  /** Settles pending jobs from their stored state, for jobs that finished before we listened. */
  private async readBack(ids: readonly string[]): Promise<void> {
    const live = ids.filter((id) => this.pending.has(id));
    if (live.length === 0) return;
    let c: Connected;
    try {
      c = await this.connect();
    } catch {
      return;
    }
    await Promise.all(
      live.map(async (id) => {
        const job = await c.bull.Job.fromId(c.queue, id).catch(() => undefined);
        if (!job?.finishedOn) return;
        if (job.failedReason && !job.returnvalue) this.onFailed(id, job.failedReason);
        else this.onCompleted(id, job.returnvalue);
      }),
    );
  }

  private armSweep(): void {
    if (this.sweeper || this.pending.size === 0) return;
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  /**
   * Reads back jobs whose completion event may have been missed. Events are only lost when
   * the events stream was trimmed past the last one this executor read (Redis reports the
   * highest id it ever deleted), so a sweep is one command, and it reads jobs back only
   * then; every `FULL_SWEEP_MS` it also reads back jobs waiting that long, as a safety net.
   */
  private async sweep(): Promise<void> {
    if (this.pending.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
      return;
    }
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const c = await this.connect();
      let olderThan = FULL_SWEEP_MS;
      if (Date.now() - this.lastFullSweep >= FULL_SWEEP_MS) this.lastFullSweep = Date.now();
      else olderThan = Infinity;
      if ((await this.eventsTrimmedSince(c, this.lastEventId)) !== false) olderThan = SWEEP_MS;
      if (olderThan === Infinity) return;
      const before = Date.now() - olderThan;
      await this.readBack([...this.pending].filter(([, p]) => p.since < before).map(([id]) => id));
    } catch {
      // Redis is away: the next sweep tries again.
    } finally {
      this.sweeping = false;
    }
  }

  /** Whether events after `id` were trimmed from the stream (`undefined`: this Redis cannot say). */
  private async eventsTrimmedSince(c: Connected, id: string): Promise<boolean | undefined> {
    let info: unknown[];
    try {
      info = (await c.client.call("XINFO", "STREAM", c.queue.keys.events ?? `bull:${this.queueName}:events`)) as unknown[];
    } catch (error) {
      // No stream yet: no event was ever written, so none was missed.
      if (error instanceof Error && /no such key/i.test(error.message)) return false;
      throw error;
    }
    const at = info.indexOf("max-deleted-entry-id");
    if (at < 0) return undefined;
    return compareStreamIds(String(info[at + 1]), id) > 0;
  }

  private onCompleted(id: string, returnvalue: unknown): void {
    const p = this.take(id);
    if (p) p.resolve(returnvalue);
  }

  /** Removes `id` from the pending set and from its signal's watch, returning it if it was there. */
  private take(id: string): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    if (p.signal) this.unwatch(p.signal, id);
    return p;
  }

  private onFailed(id: string, failedReason: string): void {
    const p = this.take(id);
    if (!p) return;
    // Only BullMQ fails a weft job (bodies' failures are replies): its worker died too often.
    p.reject(new WorkerCrashed(p.op, undefined, new Error(`remote job ${id}: ${failedReason}`)));
  }

  /** Removes `id` from the pending set, rejecting it with `error` when given. */
  private settle(id: string, error: unknown): void {
    const p = this.take(id);
    if (p && error !== undefined) p.reject(error);
  }

  /** Tells the workers a job's caller gave up: skip it if queued, abort it if running. */
  private async cancel(id: string, op: string, reason: Error): Promise<void> {
    try {
      const c = await this.connect();
      const client = c.client;
      const message: CancelMessage = {
        jobId: id,
        reason: reason.name === "DeadlineExceeded" || (reason as { _tag?: string })._tag === "DeadlineExceeded" ? "deadline" : "cancelled",
        op: (reason as { op?: string }).op ?? op,
        budgetMs: (reason as { budgetMs?: number }).budgetMs,
      };
      await client.set(keys.cancelled(this.queueName, id), JSON.stringify(message), "EX", CANCEL_MARKER_TTL_S);
      await client.publish(keys.cancel(this.queueName), JSON.stringify(message));
      // A job still waiting is removed outright; an active one is locked and stays (its worker aborts it).
      const job = await c.bull.Job.fromId(c.queue, id);
      if (job && (await job.getState()) === "waiting") await job.remove().catch(() => undefined);
    } catch {
      // Best effort: the caller already has its answer, and a worker checks the marker before starting.
    }
  }

  private connect(): Promise<Connected> {
    this.connecting ??= (async () => {
      const bull = await loadBullMQ();
      const connection = connectionOptions(this.redis);
      const queue = new bull.Queue(this.queueName, { connection, streams: { events: { maxLen: 100_000 } } });
      const client = await openRedis(this.redis);
      // Events from now on, by Redis's clock (the stream ids are its milliseconds).
      const [seconds, micros] = (await client.time()) as [number | string, number | string];
      const lastEventId = `${Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - 1}-0`;
      const events = new bull.QueueEvents(this.queueName, { connection, lastEventId });
      this.lastEventId = lastEventId;
      events.on("completed", ({ jobId: id, returnvalue }, eventId) => {
        this.lastEventId = eventId;
        this.onCompleted(id, returnvalue);
      });
      events.on("failed", ({ jobId: id, failedReason }, eventId) => {
        this.lastEventId = eventId;
        this.onFailed(id, failedReason);
      });
      // Connection errors are retried by ioredis; calls wait (bounded by their deadlines).
      events.on("error", () => undefined);
      queue.on("error", () => undefined);
      await events.waitUntilReady();
      return { bull, queue, events, client };
    })();
    this.connecting.catch(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /**
   * The workers serving this queue now (from their heartbeats): id, host, pid, concurrency
   * and the ops they registered.
   *
   * @example
   * ```ts
   * import { BullMQExecutor } from "weft";
   * const remote = new BullMQExecutor();
   * for (const w of await remote.workers()) console.log(w.host, w.pid, w.concurrency);
   * ```
   */
  async workers(): Promise<RemoteWorkerInfo[]> {
    const c = await this.connect();
    const client = c.client;
    const found: RemoteWorkerInfo[] = [];
    let cursor = "0";
    do {
      const [next, names] = (await client.scan(cursor, "MATCH", keys.workerPattern(this.queueName), "COUNT", 100)) as [string, string[]];
      cursor = next;
      for (const name of names) {
        const text = await client.get(name);
        if (text) found.push(JSON.parse(text) as RemoteWorkerInfo);
      }
    } while (cursor !== "0");
    return found.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Closes the connections. Calls still waiting reject with `Cancelled`-like errors; it may be used again. */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    await this.flushing;
    const connecting = this.connecting;
    this.connecting = undefined;
    for (const id of [...this.pending.keys()]) {
      const p = this.take(id)!;
      p.reject(new WorkerCrashed(p.op, undefined, new Error("the BullMQ executor was closed while the job was in flight")));
    }
    if (!connecting) return;
    const c = await connecting.catch(() => undefined);
    if (!c) return;
    await Promise.all([c.events.close(), c.queue.close(), c.client.quit().catch(() => c.client.disconnect())]);
  }
}

/** What a worker's heartbeat says. @example `const w: RemoteWorkerInfo = { id, host: "box-2", pid: 4242, queue: "weft", concurrency: 8, ops: 12, startedAt, at }` */
export interface RemoteWorkerInfo {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly queue: string;
  readonly concurrency: number;
  /** Ops registered in the worker (the only ones it runs). */
  readonly ops: number;
  readonly startedAt: number;
  /** The last heartbeat, epoch ms. */
  readonly at: number;
}

/** Orders two stream ids (`<ms>-<seq>`). */
function compareStreamIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split("-").map(Number);
  const [bm = 0, bs = 0] = b.split("-").map(Number);
  return am - bm || as - bs;
}

function decodeRemoteError(reply: Extract<ReplyMessage, { type: "error" }>): unknown {
  const error = decodeError(reply.error);
  // The worker protocol rebuilds weft's thread errors; a refusal of this protocol is rebuilt here.
  if (reply.error.kind === "error" && reply.error.fields._tag === "RemoteRefused") {
    const f = reply.error.fields as { op?: string; reason?: RemoteRefused["reason"]; detail?: string };
    return new RemoteRefused(f.op ?? "op", f.reason ?? "not-registered", f.detail ?? reply.error.message);
  }
  return error;
}

/** A call's or chain's result from its job's return value (a failure throws, as it did there). */
function valueOf(returnvalue: unknown): unknown {
  const reply = decodeReply(returnvalue);
  if (reply.type === "value") return reply.value;
  if (reply.type === "error") throw decodeRemoteError(reply);
  throw new TypeError(`weft remote: expected a value, received ${reply.type}`);
}

/** A chunk's per-item results from its job's return value. */
function itemsOf(returnvalue: unknown): ItemResult[] {
  const reply = decodeReply(returnvalue);
  if (reply.type === "error") throw decodeRemoteError(reply);
  if (reply.type !== "items") throw new TypeError(`weft remote: expected items for a chunk, received ${reply.type}`);
  const { values, failures } = reply.items;
  const results = new Array<ItemResult>(values.length);
  for (let i = 0; i < values.length; i++) results[i] = { ok: true, value: values[i] };
  for (const [index, error] of failures) results[index] = { ok: false, error: decodeRemoteError({ type: "error", error, timings: [] }) };
  return results;
}

/** Why a chain's ops cannot run remotely (their arguments are checked in `send`). */
function whyNotRemoteAll(steps: readonly ResolvedStep[]): { op: string; reason: string } | undefined {
  for (const s of steps) {
    const why = whyNotRemote(s.entry, undefined, undefined);
    if (why) return { op: s.entry.desc.name, reason: why };
  }
  return undefined;
}

function hasKeys(record: Readonly<Record<string, unknown>>): boolean {
  for (const _ in record) return true;
  return false;
}
