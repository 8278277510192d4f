/**
 * Durable runs: `durable({ run }, fn)` drives `fn` under a run id. Every node that finishes
 * is journaled with the hash of its inputs, so starting the run again (after a crash, in any
 * process) returns journaled values without running their bodies and runs only the rest.
 *
 *   node key      a plan node by its id (`run(r)/jit(f)#0/n4/score#0`), an eager op call by
 *                 its call path and ordinal (`run(r)/score#2`), a batch item by its index
 *                 (`run(r)/vmap(score)#0[17]`)
 *   lookup        before the body: journaled under the key with the same input hash → that value
 *   append        after success, before the value reaches anyone: the node is finished
 *
 * Guarantees: a node that finished is never run again; the node in flight when a process
 * dies runs again on resume (at-least-once), so it receives the same `idempotencyKey`.
 * A run holds a lease renewed by heartbeats: two processes never drive one run at once,
 * and a run left by a dead process can be resumed once its lease expires.
 */
import { hostname } from "node:os";
import type { OpDescriptor } from "../../decorators/descriptor.js";
import type { Graph, Node } from "../../compiler/ir.js";
import { currentFrame, isThenable, linkSignals, store as contextStore, type Frame, type RunScope } from "../context.js";
import { TraceError } from "../../compiler/trace-error.js";
import { BatchItemError, OpError, WeftError } from "../errors.js";
import { dispatch, nextStepId, validateOutput, type OpEntry } from "../invoke.js";
import { journaledItems, journaledStream, replayedStream } from "../checked-stream.js";
import { registeredOps } from "../registry.js";
import { boundedText, messageOf, redactText } from "../redact.js";
import { decode, digest, encode, inputHash } from "./codec.js";
import { LeaseLost, RunLocked, RunVersionMismatch } from "./errors.js";
import { durableSettings, type ApprovalPolicy, type Clock } from "./settings.js";
import type { Awaitable, DurableStore, JournalRecord } from "./store.js";

/** Options of `durable`. */
export interface DurableOptions {
  /** The run id: names the run and is its idempotency key. */
  readonly run: string;
  /** Where the run is journaled. Default: the configured store (a SQLite file). */
  readonly store?: DurableStore;
  /** Resume even though the code changed; journaled values are re-checked against current schemas. */
  readonly force?: boolean;
  /** Decides on `risk: "high"` op calls in this run (overrides the configured policy). */
  readonly approvals?: ApprovalPolicy;
  /** How long the run's lease lasts without a heartbeat. Default 30 s. */
  readonly leaseMs?: number;
  /** Time between heartbeats. Default a third of the lease. */
  readonly heartbeatMs?: number;
  /** How often a suspended call looks for an approval decision. Default 500 ms. */
  readonly pollMs?: number;
  /** The clock leases and TTLs are measured with. Default `Date.now`. */
  readonly clock?: Clock;
}

const OPTION_KEYS = new Set(["run", "store", "force", "approvals", "leaseMs", "heartbeatMs", "pollMs", "clock"]);

/** This process, as a lease owner. */
const PROCESS = `${hostname()}:${process.pid}`;

/** Drives started in this process, after a random start (one `randomBytes` per process, not per run). */
let drives: number | undefined;

/** A new lease owner: this process and 8 hex digits, different for each drive started here. */
function newOwner(): string {
  drives ??= (process.getBuiltinModule("node:crypto") as typeof import("node:crypto")).randomBytes(4).readUInt32LE(0);
  drives = (drives + 1) >>> 0;
  return `${PROCESS}:${drives.toString(16).padStart(8, "0")}`;
}

/**
 * Runs `fn` as the durable run `options.run`. The first start runs it; a start after a
 * crash (or after a failure) resumes it, skipping every journaled node; a start after it
 * completed returns the stored result without running anything.
 *
 * @example
 * ```ts
 * const summary = await durable({ run: "nightly-2026-12-01" }, () => pipeline(questions));
 * ```
 */
export function durable<T>(options: DurableOptions, fn: () => T | PromiseLike<T>): Promise<Awaited<T>> {
  try {
    checkOptions("durable", options);
  } catch (error) {
    return Promise.reject(error);
  }
  return drive(options, fn);
}

/**
 * Drives `fn` as a run: the one implementation behind `durable()` and `withContext({ run })`.
 * Takes the lease (or refuses with `RunLocked`), returns a completed run's stored result,
 * else loads the journal, applies the version guard, runs `fn` in the run's frame with
 * heartbeats, waits for every journal write, and settles the run.
 */
export async function drive<T>(options: DurableOptions, fn: () => T | PromiseLike<T>): Promise<Awaited<T>> {
  const { run: id } = options;
  const parent = currentFrame();
  if (parent.trace !== undefined) throw new TraceError(`a durable run (${id}) inside a jitted function is not staged; start the run around the jitted call`, undefined);
  const store = options.store ?? durableSettings.store();
  const clock = options.clock ?? durableSettings.clock;
  const leaseMs = options.leaseMs ?? durableSettings.leaseMs;
  const owner = newOwner();
  const got = await store.acquire(id, owner, clock.now(), leaseMs);
  if (!got.ok) throw new RunLocked(id, got.owner, got.until);
  if (got.run.status === "completed") {
    const result = got.run.result;
    await store.settle(id, owner, "completed", clock.now(), result);
    return (result === undefined ? undefined : decode(result)) as Awaited<T>;
  }

  const controller = new AbortController();
  const unlink = linkSignals(controller, [parent.signal], `run(${id})`);
  let scope: DurableRun;
  try {
    scope = await DurableRun.open(id, store, owner, options, clock, leaseMs, controller, got.created);
    // Resuming: refuse at once when an op the run used has changed, before anything runs.
    if (!got.created) scope.checkRegistered();
  } catch (error) {
    unlink();
    // Refused: the run stays resumable (failed, saying why), never "running" with no driver.
    await store.settle(id, owner, "failed", clock.now(), undefined, describe(error));
    throw error;
  }
  const frame = parent.derive({ run: scope, stepId: `run(${id})`, signal: controller.signal });
  scope.startHeartbeat(options.heartbeatMs ?? Math.max(1, Math.floor(leaseMs / 3)));
  try {
    const value = (await contextStore.run(frame, fn)) as Awaited<T>;
    await scope.drain();
    scope.checkRemoved();
    if (scope.lost) throw new LeaseLost(id);
    const bytes = encode(value, `result of run "${id}"`);
    if (!(await store.settle(id, owner, "completed", clock.now(), bytes))) throw new LeaseLost(id);
    return value;
  } catch (error) {
    // Whatever the failure, the writes already under way land (or fail) before the run settles.
    await scope.drain().catch(() => undefined);
    if (!scope.lost) await store.settle(id, owner, "failed", clock.now(), undefined, describe(error));
    throw scope.lost && !(error instanceof LeaseLost) ? new LeaseLost(id) : error;
  } finally {
    scope.stopHeartbeat();
    unlink();
  }
}

/** Checks the options of a run (`where`: `durable` or `withContext run`). */
export function checkOptions(where: string, options: DurableOptions): void {
  if (typeof options !== "object" || options === null) throw new TypeError(`${where}: expected options { run: string }`);
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new TypeError(`${where}: unknown option "${key}" (expected one of ${[...OPTION_KEYS].join(", ")})`);
  }
  if (typeof options.run !== "string" || options.run === "") throw new TypeError(`${where}: run must be a non-empty string, received ${JSON.stringify(options.run)}`);
  for (const key of ["leaseMs", "heartbeatMs", "pollMs"] as const) {
    const v = options[key];
    if (v !== undefined && !(typeof v === "number" && v > 0 && Number.isFinite(v))) throw new RangeError(`${where}: ${key} must be a positive number of milliseconds, received ${String(v)}`);
  }
}

/** An error as a run's stored failure: its type and message, redacted and bounded. */
export function describe(error: unknown): string {
  const type = error instanceof Error ? `${(error as { _tag?: string })._tag ?? error.name}: ` : "";
  return boundedText(type + messageOf(error));
}

/** One run being driven by this process. */
export class DurableRun implements RunScope {
  /** Nodes returned from the journal without running. */
  skipped = 0;
  /** Nodes run and journaled here. */
  journaled = 0;
  /** True once another process took the run over. */
  lost = false;
  private readonly seen = new Set<OpEntry>();
  private timer: NodeJS.Timeout | undefined;
  private renewing = false;
  /** Journal records waiting for the batch's append, and the promise the batch settles. */
  private batch: JournalRecord[] = [];
  private batchDone: Promise<void> | undefined;
  /** Store writes under way that a node does not wait for (versions, dead letters, ...). */
  private readonly writes = new Set<Promise<unknown>>();
  private writeError: { readonly error: unknown } | undefined;

  private constructor(
    readonly id: string,
    readonly store: DurableStore,
    private readonly owner: string,
    readonly options: DurableOptions,
    readonly clock: Clock,
    private readonly leaseMs: number,
    private readonly controller: AbortController,
    private readonly nodes: Map<string, JournalRecord>,
    private readonly recorded: Map<string, string>,
    /** Open dead letters of this run (`node[index]`), resolved as their items succeed. */
    private readonly open: Set<string>,
    private readonly offsets: Map<string, number>,
  ) {}

  /** Reads what the run has stored (journal, versions, open dead letters) once, at its start. */
  static async open(id: string, store: DurableStore, owner: string, options: DurableOptions, clock: Clock, leaseMs: number, controller: AbortController, created: boolean): Promise<DurableRun> {
    // A run just created has stored nothing yet: nothing to read.
    const [journal, versions, dead, offsets] = created ? [[], new Map<string, string>(), [], new Map<string, number>()] : await Promise.all([store.journal(id), store.versions(id), store.deadLetters(id), store.offsets(id)]);
    return new DurableRun(
      id,
      store,
      owner,
      options,
      clock,
      leaseMs,
      controller,
      new Map(journal.map((r) => [r.key, r])),
      versions,
      new Set(dead.flatMap((d) => (d.status === "open" ? [`${d.node}[${d.index}]`] : []))),
      offsets,
    );
  }

  startHeartbeat(everyMs: number): void {
    // unref: a heartbeat never keeps the process alive on its own.
    this.timer = setInterval(() => this.heartbeat(), everyMs).unref();
  }

  stopHeartbeat(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Renews the lease; on losing it, stops journaling and cancels what is in flight. A renewal
   * that fails (the store unreachable) is tried again at the next beat: the lease is lost
   * only when another process has taken it.
   */
  heartbeat(): void {
    if (this.lost || this.renewing) return;
    let renewed: Awaitable<boolean>;
    try {
      renewed = this.store.renew(this.id, this.owner, this.clock.now() + this.leaseMs);
    } catch {
      return;
    }
    if (!isThenable(renewed)) {
      if (!renewed) this.lose();
      return;
    }
    this.renewing = true;
    renewed.then(
      (ok) => {
        this.renewing = false;
        if (!ok) this.lose();
      },
      () => {
        this.renewing = false;
      },
    );
  }

  private lose(): void {
    this.lost = true;
    this.stopHeartbeat();
    this.controller.abort(new LeaseLost(this.id));
  }

  lookup(key: string, inputs: readonly unknown[], entry?: OpEntry): { readonly value: unknown } | undefined {
    const record = this.nodes.get(key);
    // A node journaled with other inputs never finished with these: it runs (no stale value).
    if (record === undefined || record.inputHash !== inputHash(inputs)) return undefined;
    const value = decode(record.value);
    // A stream op's record is its stream's items (one of an older version is none: run again).
    const items = entry?.desc.stream === true ? journaledItems(value) : undefined;
    if (entry?.desc.stream === true && items === undefined) return undefined;
    if (this.options.force && entry) {
      // Resumed over changed code: a journaled value the current schema refuses is run again.
      try {
        if (items !== undefined) for (const item of items) validateOutput(entry, item);
        else validateOutput(entry, value);
      } catch {
        return undefined;
      }
    }
    this.skipped++;
    return { value };
  }

  /**
   * Journals a finished node. The value is encoded now (an unstorable one throws here, for
   * this node alone); the append is batched with every other node that finishes in this turn
   * of the event loop, in one store call (one SQLite transaction), and the promise resolves
   * once that append is stored: the node is finished then, and only then does its value
   * reach anyone.
   */
  record(key: string, inputs: readonly unknown[], value: unknown): Promise<void> {
    if (this.lost) throw new LeaseLost(this.id);
    const bytes = encode(value, `node ${key} of run "${this.id}"`);
    this.batch.push({ key, inputHash: inputHash(inputs), value: bytes });
    this.journaled++;
    return (this.batchDone ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush()));
  }

  private flush(): Awaitable<void> {
    const records = this.batch;
    this.batch = [];
    this.batchDone = undefined;
    if (this.lost) throw new LeaseLost(this.id);
    return this.store.append(this.id, records);
  }

  /** Tracks a store write nothing waits for; `drain` waits for it and reports its failure. */
  track(write: Awaitable<unknown>): void {
    if (!isThenable(write)) return;
    const p: Promise<unknown> = Promise.resolve(write).then(
      () => this.writes.delete(p),
      (error: unknown) => {
        this.writes.delete(p);
        this.writeError ??= { error };
      },
    );
    this.writes.add(p);
  }

  /** Waits for every journal batch and store write under way; rejects with the first failure. */
  async drain(): Promise<void> {
    while (this.batchDone !== undefined || this.writes.size > 0) {
      if (this.batchDone !== undefined) await this.batchDone;
      if (this.writes.size > 0) await Promise.all(this.writes);
    }
    if (this.writeError) throw this.writeError.error;
  }

  deadLetter(node: string, index: number, inputs: readonly unknown[], error: unknown): void {
    if (this.lost) return;
    let input: Uint8Array;
    try {
      input = encode(inputs, `dead letter ${node}[${index}]`);
    } catch {
      // The item's input cannot be stored: keep a readable trace of it rather than nothing.
      input = encode({ unstorable: redactText(String(inputs)) }, `dead letter ${node}[${index}]`);
    }
    const cause = error instanceof BatchItemError ? error.cause : error;
    this.track(
      this.store.putDeadLetter({
        run: this.id,
        node,
        index,
        input,
        error: describe(cause),
        errorType: cause instanceof WeftError ? cause._tag : cause instanceof Error ? cause.name : typeof cause,
        attempts: cause instanceof OpError ? cause.attempts : 1,
        at: this.clock.now(),
        status: "open",
      }),
    );
  }

  offset(stream: string): number | undefined {
    return this.offsets.get(stream);
  }

  /** Records how far a stream of this run is finished (see `DurableStore.commitOffset`). */
  commitOffset(stream: string, offset: number): void {
    if (this.lost) throw new LeaseLost(this.id);
    if (!(offset > (this.offsets.get(stream) ?? -Infinity))) return;
    this.offsets.set(stream, offset);
    this.track(this.store.commitOffset(this.id, stream, offset));
  }

  private waiting = 0;

  /** A call starts or stops waiting for an approval: the run is `suspended` while any waits. */
  suspend(waiting: boolean): Awaitable<unknown> {
    const before = this.waiting;
    this.waiting += waiting ? 1 : -1;
    if (this.lost || (before > 0) === (this.waiting > 0)) return;
    return this.store.setStatus(this.id, this.owner, this.waiting > 0 ? "suspended" : "running", this.clock.now());
  }

  itemDone(node: string, index: number): void {
    if (this.open.size === 0 || !this.open.delete(`${node}[${index}]`)) return;
    this.track(this.store.markReplayed(this.id, node, index));
  }

  /**
   * The version guard over the ops registered now: any op the run recorded whose current
   * version differs, and any it recorded that the code no longer defines. An op registered
   * twice under one name (no build-time locator) counts as changed only when no registration
   * matches; its first use checks the one really called.
   *
   * A recorded op that is not registered is removed when its module is loaded (other ops of
   * that module are registered) without it. When its module is not loaded yet (imported later
   * by the run, or not at all), or the op has no locator, the question waits for the run's
   * end (`checkRemoved`): still unregistered then, it was removed.
   */
  checkRegistered(): void {
    if (this.options.force) return;
    const matched = new Set<string>();
    const differs = new Map<string, string>();
    const present = new Set<string>();
    const modules = new Set<string>();
    for (const entry of registeredOps()) {
      const desc = entry.desc;
      if (desc.locator) modules.add(desc.locator.module);
      const subject = `op ${desc.locator ? desc.id : desc.name}`;
      present.add(subject);
      const before = this.recorded.get(subject);
      if (before === undefined) continue;
      const parts = opVersion(entry);
      if (before === JSON.stringify(parts)) {
        matched.add(subject);
        continue;
      }
      const old = JSON.parse(before) as Record<string, string>;
      differs.set(subject, `op ${desc.name} changed: ${Object.keys({ ...old, ...parts }).filter((k) => old[k] !== parts[k]).join(", ")}`);
    }
    const changes = [...differs].filter(([subject]) => !matched.has(subject)).map(([, line]) => line);
    for (const subject of this.recorded.keys()) {
      if (!subject.startsWith("op ") || present.has(subject)) continue;
      const located = locatedOp(subject);
      if (located !== undefined && modules.has(located.module)) changes.push(removedLine(subject));
      else this.unresolved.add(subject);
    }
    if (changes.length > 0) throw new RunVersionMismatch(this.id, changes);
  }

  /** Recorded ops not registered when the run resumed (see `checkRegistered`). */
  private readonly unresolved = new Set<string>();

  /** At the run's end: a recorded op still not registered was removed from the code. */
  checkRemoved(): void {
    if (this.unresolved.size === 0) return;
    for (const entry of registeredOps()) this.unresolved.delete(`op ${entry.desc.locator ? entry.desc.id : entry.desc.name}`);
    if (this.unresolved.size > 0) throw new RunVersionMismatch(this.id, [...this.unresolved].map(removedLine));
  }

  /** The version guard for an op, on its first use in this process. */
  useOp(entry: OpEntry): void {
    if (this.seen.has(entry)) return;
    const desc = entry.desc;
    this.check(`op ${desc.locator ? desc.id : desc.name}`, opVersion(entry), `op ${desc.name}`);
    this.seen.add(entry);
  }

  usePlan(key: string, plan: object): void {
    const graph = (plan as { graph?: Graph }).graph;
    if (graph === undefined) return;
    this.check(`plan ${key}`, planVersion(graph), `plan of ${key}`);
  }

  private check(subject: string, parts: Readonly<Record<string, string>>, label: string): void {
    const now = JSON.stringify(parts);
    const before = this.recorded.get(subject);
    if (before === now) return;
    if (before !== undefined && !this.options.force) {
      const old = JSON.parse(before) as Record<string, string>;
      const changed = Object.keys({ ...old, ...parts }).filter((k) => old[k] !== parts[k]);
      throw new RunVersionMismatch(this.id, [`${label} changed: ${changed.join(", ")}`]);
    }
    this.track(this.store.recordVersion(this.id, subject, now));
    this.recorded.set(subject, now);
  }
}

/** The module and export of a recorded op's subject, when it was named by its locator. */
function locatedOp(subject: string): { readonly module: string; readonly name: string } | undefined {
  const id = subject.slice("op ".length);
  const hash = id.lastIndexOf("#");
  return hash <= 0 ? undefined : { module: id.slice(0, hash), name: id.slice(hash + 1) };
}

function removedLine(subject: string): string {
  const located = locatedOp(subject);
  return located ? `op ${located.name} removed (the run used ${located.module}#${located.name}; this code does not define it)` : `op ${subject.slice(3)} removed (the run used it; this code does not define it)`;
}

const opVersions = new WeakMap<OpEntry, Record<string, string>>();

/**
 * What of an op changes its behaviour, hashed by part so a refusal can say which changed:
 * the body's source, the schemas, the policy and the default config.
 */
export function opVersion(entry: OpEntry): Record<string, string> {
  let parts = opVersions.get(entry);
  if (parts === undefined) {
    const d: OpDescriptor = entry.desc;
    parts = {
      body: digest(String(entry.impl)),
      schema: digest(JSON.stringify([d.params, d.returns ?? null, d.defs ?? null, d.hash ?? null])),
      policy: digest(JSON.stringify({ ...d.policy, kind: d.kind }, (_k, v: unknown) => (typeof v === "function" ? String(v) : v))),
      config: digest(JSON.stringify(d.config)),
    };
    opVersions.set(entry, parts);
  }
  return parts;
}

const planVersions = new WeakMap<Graph, Record<string, string>>();

/**
 * A plan's shape: its nodes, ops and constants, with fused groups flattened and placement
 * left out (both follow measured costs, which differ between processes running the same code).
 */
function planVersion(graph: Graph): Record<string, string> {
  let parts = planVersions.get(graph);
  if (parts === undefined) {
    const out: string[] = [];
    flatten(graph, out);
    parts = { graph: digest(out.join(";")) };
    planVersions.set(graph, parts);
  }
  return parts;
}

function flatten(graph: Graph, out: string[]): void {
  for (const n of graph.nodes) describeNode(n, out);
}

function describeNode(n: Node, out: string[]): void {
  switch (n.kind) {
    case "fused":
      for (const inner of n.body.nodes) if (inner.kind !== "input" && inner.kind !== "output") describeNode(inner, out);
      return;
    case "op":
      out.push(`${n.id}:op:${n.desc.locator ? n.desc.id : n.desc.name}:${n.inputs.join(",")}:${n.self ? 1 : 0}`);
      return;
    case "const":
      out.push(`${n.id}:const:${safeJson(n.value)}`);
      return;
    case "cond":
      out.push(`${n.id}:cond:${n.inputs.join(",")}{`);
      flatten(n.branches[0], out);
      out.push("|");
      flatten(n.branches[1], out);
      out.push("}");
      return;
    case "try":
      out.push(`${n.id}:try:${n.inputs.join(",")}{`);
      flatten(n.branches[0], out);
      out.push("|");
      flatten(n.branches[1], out);
      out.push("}");
      return;
    case "map":
      out.push(`${n.id}:map:${n.inputs.join(",")}:${n.concurrency ?? ""}{`);
      flatten(n.body, out);
      out.push("}");
      return;
    case "get":
      out.push(`${n.id}:get:${String(n.key)}:${n.inputs.join(",")}`);
      return;
    case "call":
      out.push(`${n.id}:call:${n.method}${n.awaited ? ":await" : ""}:${n.inputs.join(",")}`);
      return;
    case "expr":
      out.push(`${n.id}:expr:${n.op}:${safeJson(n.arg)}:${n.inputs.join(",")}`);
      return;
    case "pack":
      out.push(`${n.id}:pack:${safeJson(n.template)}:${n.inputs.join(",")}`);
      return;
    case "input":
      out.push(`${n.id}:input:${n.index}`);
      return;
    case "output":
      out.push(`${n.id}:output:${n.inputs.join(",")}`);
      return;
    default: {
      const never: never = n;
      throw new Error(`unknown node ${String(never)}`);
    }
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)) ?? "undefined";
  } catch {
    return "?";
  }
}

/**
 * The op-call interception point (installed into the kernel by ./index.ts): journal lookup
 * by node key, then the approval gate and the result cache, then the body through the
 * kernel's `dispatch`, then the journal append after success.
 */
export function interceptCall(
  entry: OpEntry,
  parent: Frame,
  thisArg: unknown,
  args: readonly unknown[],
  overrides: Parameters<typeof dispatch>[4],
  gate: Gate,
): Promise<unknown> {
  const run = parent.run as DurableRun | undefined;
  const name = entry.desc.name;
  // The key is the step id the call is about to get; nothing between here and dispatch
  // takes another child of `parent` while the code stays synchronous.
  const key = nextStepId(parent, name);
  if (run !== undefined) {
    try {
      run.useOp(entry);
      const hit = run.lookup(key, args, entry);
      if (hit !== undefined) {
        parent.children++;
        // A stream op's node is the items of its stream, yielded again.
        return Promise.resolve(entry.desc.stream === true ? replayedStream(hit.value) : hit.value);
      }
    } catch (error) {
      return Promise.reject(error);
    }
  }
  let pending: Promise<unknown>;
  try {
    pending = gate(entry, parent, key, thisArg, args, overrides);
  } catch (error) {
    return Promise.reject(error);
  }
  if (run === undefined) return pending;
  // A stream op's call is finished when its stream has ended: its items are the node.
  if (entry.desc.stream === true) return pending.then((value) => journaledStream(value as AsyncIterable<unknown>, (items) => run.record(key, args, items)));
  return pending.then((value) => run.record(key, args, value).then(() => value));
}

/**
 * What runs between the journal lookup and the append: the approval gate, the cache and
 * the body. It must call `dispatch` synchronously unless it re-enters `parent` at `key`
 * (see `reenter`).
 */
export type Gate = (entry: OpEntry, parent: Frame, key: string, thisArg: unknown, args: readonly unknown[], overrides: Parameters<typeof dispatch>[4]) => Promise<unknown>;

/**
 * A frame standing for `parent` whose next child gets exactly the step id `key`: for a
 * call that dispatches after an await (an approval), when siblings may have taken the
 * ordinals after it meanwhile.
 */
export function reenter(parent: Frame, key: string): Frame {
  const holder = parent.derive({});
  const ordinal = Number(key.slice(key.lastIndexOf("#") + 1));
  holder.children = ordinal;
  // The reserved ordinal is taken now, so later siblings do not collide with it.
  if (parent.children <= ordinal) parent.children = ordinal + 1;
  return holder;
}

/** True when `value` is a promise (re-exported for the gate). */
export { isThenable };
