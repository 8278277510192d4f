/**
 * The `weft worker` runtime: a process that serves a BullMQ queue, running the jobs the
 * BullMQ executor adds (one op body, a fused chain, a chunk of items) in a context rebuilt
 * from the job, and answering with the reply the coordinator decodes.
 *
 * - **Only registered ops run.** The worker imports the modules it was started with
 *   (`--ops`), and then runs only ops those modules registered. Nothing a job says is ever
 *   imported: a job naming any other op is refused (`RemoteRefused`, `not-registered`).
 * - **Heartbeats.** BullMQ renews each running job's lock (`lockMs`); the worker also
 *   keeps a heartbeat key (`weft:<queue>:worker:<id>`) so coordinators can list who serves.
 * - **Stall detection.** A job whose worker died loses its lock; BullMQ's stall check
 *   (every `stalledMs`, run by every worker) hands it to another worker, at most
 *   `maxStalledCount` times.
 * - **Cancellation and deadlines.** A job past its deadline never starts; a running job's
 *   context signal aborts at its deadline, or when its coordinator publishes a cancel.
 * - **Graceful shutdown.** `close()` takes no new jobs and resolves once the running ones
 *   have finished and replied.
 */
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type * as BullMQ from "bullmq";
import { EMPTY_CONFIG, isThenable, raceAbort, store } from "../context.js";
import { Cancelled, DeadlineExceeded } from "../errors.js";
import type { OpEntry } from "../invoke.js";
import { registeredOps, lookup } from "../registry.js";
import { encodeError, notCloneable, type ReplyMessage, type WireContext, type WireError } from "../workers/protocol.js";
import { runChain, runItems, type ResolvedStep } from "../workers/run.js";
import { armDeadline, frameOf } from "../workers/serve.js";
import { connectionOptions, describeTarget, loadBullMQ, openRedis, type RedisTarget } from "./connection.js";
import {
  PROTOCOL_VERSION,
  RemoteRefused,
  encodeReply,
  jsonFaithful,
  keys,
  payloadOf,
  portableKey,
  stepOf,
  type CancelMessage,
  type JobData,
  type ReplyValue,
  type WireStep,
} from "./protocol.js";
import type { RemoteWorkerInfo } from "./executor.js";

/** node:crypto, loaded at first use: importing weft should not pay for it. */
const crypto = (): typeof import("node:crypto") => process.getBuiltinModule("node:crypto") as typeof import("node:crypto");

/**
 * Options of a remote worker (the flags of `weft worker`).
 *
 * @example
 * ```ts
 * const worker = await startWorker({ redis: "redis://10.0.0.5:6379", queue: "weft", concurrency: 8, ops: ["./dist/ops.js"] });
 * ```
 */
export interface RemoteWorkerOptions {
  /** Default `$WEFT_REDIS_URL`, else `redis://127.0.0.1:6379`. */
  readonly redis?: RedisTarget;
  /** Default `"weft"`. */
  readonly queue?: string;
  /** Jobs run at once. Default 8 (io ops mostly wait; cpu ops want about one per core). */
  readonly concurrency?: number;
  /** The app's op modules to import (paths, relative to `root`, or file URLs). At least one. */
  readonly ops: readonly string[];
  /** The app's root directory, against which op modules are named (as the executor's `root`). Default `process.cwd()`. */
  readonly root?: string;
  /** A job's lock, renewed every half of it while the job runs. Default 30,000 ms. */
  readonly lockMs?: number;
  /** How often this worker checks for stalled jobs. Default 30,000 ms. */
  readonly stalledMs?: number;
  /** How often a job may be handed on after its worker died before it fails. Default 1. */
  readonly maxStalledCount?: number;
  /** The heartbeat period. Default 5,000 ms. */
  readonly heartbeatMs?: number;
  /**
   * How long finished jobs (and so their replies, which a resumed coordinator reads back)
   * are kept, in seconds, unless the coordinator's executor set its own. Default 86,400.
   */
  readonly keepSeconds?: number;
}

const OPTION_KEYS = new Set(["redis", "queue", "concurrency", "ops", "root", "lockMs", "stalledMs", "maxStalledCount", "heartbeatMs", "keepSeconds"]);
/** Cancels heard for jobs not running here, kept in case the job arrives next. */
const RECENT_CANCELS = 10_000;

/**
 * A running `weft worker`.
 *
 * @example
 * ```ts
 * const worker = await startWorker({ ops: ["./dist/ops.js"] });
 * process.once("SIGTERM", () => void worker.close());
 * ```
 */
export interface RemoteWorker {
  readonly id: string;
  readonly queue: string;
  /** The ops this worker runs (registered by its modules). */
  readonly ops: number;
  /** Jobs finished so far (a reply sent). */
  readonly processed: number;
  /** Jobs running now. */
  readonly running: number;
  readonly concurrency: number;
  /** Where it serves, for the start-up line: `queue weft on redis://127.0.0.1:6379`. */
  describe(): string;
  /** Takes no new jobs; resolves when the running ones have replied and connections closed. */
  close(): Promise<void>;
}

/** `startWorker` (runtime/remote/start.ts documents it): imports the op modules, then serves the queue. */
export async function startWorker(options: RemoteWorkerOptions): Promise<RemoteWorker> {
  for (const key of Object.keys(options)) if (!OPTION_KEYS.has(key)) throw new TypeError(`weft worker: unknown option ${JSON.stringify(key)} (expected ${[...OPTION_KEYS].join(", ")})`);
  const redis = options.redis ?? process.env.WEFT_REDIS_URL ?? "redis://127.0.0.1:6379";
  const queue = options.queue ?? "weft";
  const concurrency = options.concurrency ?? 8;
  const root = options.root ?? process.cwd();
  const lockMs = options.lockMs ?? 30_000;
  const stalledMs = options.stalledMs ?? 30_000;
  const maxStalledCount = options.maxStalledCount ?? 1;
  const heartbeatMs = options.heartbeatMs ?? 5000;
  const keepSeconds = options.keepSeconds ?? 86_400;
  if (!(keepSeconds > 0)) throw new RangeError(`weft worker: keepSeconds must be > 0, received ${keepSeconds}`);
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError(`weft worker: concurrency must be a whole number >= 1, received ${concurrency}`);
  for (const [name, v] of [["lockMs", lockMs], ["stalledMs", stalledMs], ["heartbeatMs", heartbeatMs]] as const) {
    if (!(Number.isFinite(v) && v >= 10)) throw new RangeError(`weft worker: ${name} must be a number of milliseconds >= 10, received ${v}`);
  }
  if (!(Number.isInteger(maxStalledCount) && maxStalledCount >= 0)) throw new RangeError(`weft worker: maxStalledCount must be a whole number >= 0, received ${maxStalledCount}`);
  if (options.ops.length === 0) throw new TypeError("weft worker: name at least one op module to load (--ops ./dist/ops.js)");
  const connection = connectionOptions(redis);
  const bull = await loadBullMQ();

  // The allowlist: what these modules register. Imported before any job is taken.
  for (const spec of options.ops) {
    const url = /^[a-z]+:/i.test(spec) ? spec : pathToFileURL(path.resolve(root, spec)).href;
    await import(url);
  }
  const ops = new OpIndex(root);
  if (ops.size === 0) throw new TypeError(`weft worker: the modules ${options.ops.join(", ")} registered no op`);

  const id = `${os.hostname()}:${process.pid}:${crypto().randomUUID().slice(0, 8)}`;
  const running = new Map<string, AbortController>();
  const recent = new Map<string, CancelMessage>();
  let processed = 0;

  const processor = async (job: BullMQ.Job<JobData, ReplyValue>): Promise<ReplyValue> => {
    const controller = new AbortController();
    const jobKey = job.id!;
    running.set(jobKey, controller);
    try {
      const reply = await execute(job, controller, ops, () => {
        const heard = recent.get(jobKey);
        if (heard) {
          abortWith(controller, heard);
          return true;
        }
        // Handed on after its worker died: the cancel may have been published before this worker listened.
        if ((job.attemptsStarted ?? 1) > 1 || (job.stalledCounter ?? 0) > 0) {
          return client.get(keys.cancelled(queue, jobKey)).then((marker) => {
            if (!marker) return false;
            abortWith(controller, JSON.parse(marker) as CancelMessage);
            return true;
          });
        }
        return false;
      });
      processed++;
      return replyValue(reply, job.name);
    } finally {
      running.delete(jobKey);
    }
  };

  const worker = new bull.Worker<JobData, ReplyValue>(queue, processor, {
    connection,
    concurrency,
    lockDuration: lockMs,
    stalledInterval: stalledMs,
    maxStalledCount,
    removeOnComplete: { age: keepSeconds },
    removeOnFail: { age: keepSeconds },
    name: id,
    autorun: false,
  });
  worker.on("error", () => undefined);

  // Cancels from coordinators: a running job's signal aborts; others are remembered briefly.
  const client = await openRedis(redis);
  const subscriber = await openRedis(redis);
  await subscriber.subscribe(keys.cancel(queue));
  subscriber.on("message", (_channel: string, text: string) => {
    let message: CancelMessage;
    try {
      message = JSON.parse(text) as CancelMessage;
    } catch {
      return;
    }
    const controller = running.get(message.jobId);
    if (controller) abortWith(controller, message);
    recent.set(message.jobId, message);
    if (recent.size > RECENT_CANCELS) recent.delete(recent.keys().next().value!);
  });

  const startedAt = Date.now();
  const beat = async () => {
    const info: RemoteWorkerInfo = { id, host: os.hostname(), pid: process.pid, queue, concurrency, ops: ops.size, startedAt, at: Date.now() };
    await client.set(keys.worker(queue, id), JSON.stringify(info), "PX", heartbeatMs * 3).catch(() => undefined);
  };
  await beat();
  const heartbeat = setInterval(() => void beat(), heartbeatMs);
  heartbeat.unref();

  void worker.run().catch(() => undefined);
  await worker.waitUntilReady();

  let closing: Promise<void> | undefined;
  return {
    id,
    queue,
    concurrency,
    ops: ops.size,
    get processed() {
      return processed;
    },
    get running() {
      return running.size;
    },
    describe: () => `queue ${queue} on ${describeTarget(redis)}`,
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat);
        // Waits for the running jobs to reply; takes no new ones meanwhile.
        await worker.close();
        await client.del(keys.worker(queue, id)).catch(() => undefined);
        await Promise.all([subscriber.quit().catch(() => subscriber.disconnect()), client.quit().catch(() => client.disconnect())]);
      })();
      return closing;
    },
  };
}

function abortWith(controller: AbortController, message: CancelMessage): void {
  controller.abort(message.reason === "deadline" ? new DeadlineExceeded(message.op, message.budgetMs ?? 0) : new Cancelled(message.op, "cancelled by the caller"));
}

/** The registered ops a worker may run, by id and by install-independent key. */
class OpIndex {
  private readonly byKey = new Map<string, OpEntry>();
  /** One-op jobs' steps, resolved once per op key (most jobs are one op). */
  private readonly single = new Map<string, readonly ResolvedStep[]>();
  size = 0;
  constructor(private readonly root: string) {
    this.refresh();
  }

  private refresh(): void {
    this.byKey.clear();
    this.size = 0;
    for (const entry of registeredOps()) {
      this.size++;
      const key = portableKey(entry.desc.locator, this.root);
      if (key) this.byKey.set(key, entry);
    }
  }

  /** The entry the wire name `key` names, or a refusal: nothing outside the registry ever runs. */
  find(key: string, op: string): OpEntry {
    const found = this.byKey.get(key) ?? lookup(key);
    if (found) return found;
    // Ops registered since start (a module loaded lazily by another op's module).
    this.refresh();
    const late = this.byKey.get(key);
    if (late) return late;
    throw new RemoteRefused(op, "not-registered", `no op registered in this worker is ${key}; start the worker with the module that defines it (--ops)`);
  }

  /** A job's steps resolved to registered ops (a refusal when one is not registered here). */
  steps(steps: readonly WireStep[], op: string): readonly ResolvedStep[] {
    if (!Array.isArray(steps) || steps.length === 0) throw new TypeError("weft worker: the job names no step");
    const only = steps.length === 1 ? steps[0] : undefined;
    if (typeof only === "string") {
      let resolved = this.single.get(only);
      if (resolved === undefined) this.single.set(only, (resolved = [{ entry: this.find(only, op), argsFrom: undefined }]));
      return resolved;
    }
    return steps.map((s) => {
      const step = stepOf(s);
      return { entry: this.find(step.op, op), argsFrom: step.argsFrom };
    });
  }
}

/** Runs one job; every outcome, a refusal included, is a reply. */
async function execute(job: BullMQ.Job<JobData, ReplyValue>, controller: AbortController, ops: OpIndex, cancelled: () => boolean | Promise<boolean>): Promise<ReplyMessage> {
  const data = job.data;
  // The op's display name is the job's name.
  const op = job.name;
  let timer: NodeJS.Timeout | undefined;
  try {
    if (data.v !== PROTOCOL_VERSION) throw new RemoteRefused(op, "version", `the job is protocol version ${String(data.v)}, this worker speaks ${PROTOCOL_VERSION} (upgrade weft on one side)`);
    const payload = payloadOf(data);
    const signal = controller.signal;
    const heard = cancelled();
    if (heard === true || (heard !== false && (await heard))) signal.throwIfAborted();
    if (signal.aborted) throw signal.reason;
    const ctx: WireContext = {
      op: data.caller,
      config: payload.config ?? EMPTY_CONFIG,
      overrides: payload.overrides ?? EMPTY_CONFIG,
      deadline: data.deadline,
      deadlineOwner: data.deadlineOwner,
      deadlineBudgetMs: data.deadlineBudgetMs,
      attempt: data.attempt,
      stepId: data.stepId,
      tenant: data.tenant,
      user: data.user,
      values: payload.values ?? EMPTY_CONFIG,
      traceparent: data.traceparent,
    };
    // A job that waited past its deadline never starts; one running at it reports the owner's budget.
    timer = armDeadline(ctx, op, controller);
    const frame = frameOf(ctx, signal);
    const steps = ops.steps(data.steps, op);
    const validate = data.validate !== false;
    switch (data.type) {
      case "call": {
        const entry = steps[0]!.entry;
        const self = payload.self === undefined ? undefined : Object.assign(Object.create(await classPrototype(entry)) as object, payload.self);
        let value: unknown = store.run(frame, Reflect.apply, entry.impl, self, payload.args);
        if (isThenable(value)) value = await raceAbort(Promise.resolve(value), signal, op);
        return { type: "value", value, timings: [] };
      }
      // Each step of a chain or an item is a kernel call, which already settles when the
      // signal fires: no race of its own around them.
      case "chain": {
        let value = runChain(steps, payload.args, frame, validate, undefined);
        if (isThenable(value)) value = await value;
        return { type: "value", value, timings: [] };
      }
      case "chunk": {
        let results = runItems(steps, payload.args as readonly (readonly unknown[])[], frame, validate, undefined);
        if (isThenable(results)) results = await results;
        const values = new Array<unknown>(results.length);
        let failures: Array<[number, WireError]> | undefined;
        for (let i = 0; i < results.length; i++) {
          const r = results[i]!;
          if (r.ok) values[i] = r.value;
          else (failures ??= []).push([i, encodeError(r.error)]);
        }
        return { type: "items", items: { values, failures: failures ?? NO_FAILURES }, timings: [] };
      }
      default: {
        const never: never = data.type;
        throw new TypeError(`weft worker: unknown job type ${JSON.stringify(never)}`);
      }
    }
  } catch (error) {
    return { type: "error", error: encodeError(error), timings: [] };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

const NO_FAILURES: readonly [number, WireError][] = Object.freeze([]);

/**
 * The reply as the job's return value. Plain JSON goes as it is; anything else is checked
 * first: a result structured clone would change (a class instance, a function) is refused
 * (the body ran: failing beats running it twice), an item's refusal failing that item only.
 */
function replyValue(reply: ReplyMessage, op: string): ReplyValue {
  // The common replies in their short forms: a value, or every item's value.
  if (reply.type === "value" && jsonFaithful(reply.value)) return { weft: PROTOCOL_VERSION, value: reply.value };
  if (reply.type === "items" && reply.items.failures.length === 0 && jsonFaithful(reply.items.values)) return { weft: PROTOCOL_VERSION, items: reply.items.values };
  const refused = (why: string) => new RemoteRefused(op, "cannot-travel", `its result holds ${why}, which cannot come back unchanged`);
  if (reply.type === "value") {
    const why = notCloneable(reply.value, "result");
    if (why) return encodeReply({ type: "error", error: encodeError(refused(why)), timings: [] });
  } else if (reply.type === "items") {
    const { values, failures } = reply.items;
    const kept = new Array<unknown>(values.length);
    const failed = [...failures];
    const failedAt = new Set(failures.map(([i]) => i));
    for (let i = 0; i < values.length; i++) {
      if (failedAt.has(i)) continue;
      const why = notCloneable(values[i], `result[${i}]`);
      if (why) failed.push([i, encodeError(refused(why))]);
      else kept[i] = values[i];
    }
    if (failed.length > failures.length) return encodeReply({ type: "items", items: { values: kept, failures: failed }, timings: [] });
  }
  return encodeReply(reply);
}

/** The prototype a method op's instance is rebuilt on: its exported class's (its module is loaded: it registered the op). */
async function classPrototype(entry: OpEntry): Promise<object> {
  const locator = entry.desc.locator!;
  const ns = (await import(locator.module)) as Record<string, { prototype?: object } | undefined>;
  const proto = ns[locator.export]?.prototype;
  if (!proto) throw new RemoteRefused(entry.desc.name, "not-registered", `the export ${locator.export} of ${locator.module} is not a class`);
  return proto;
}
