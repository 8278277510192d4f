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
import { randomBytes } from "node:crypto";
import type { OpDescriptor } from "../../decorators/descriptor.js";
import type { Graph, Node } from "../../compiler/ir.js";
import { currentFrame, isThenable, linkSignals, store as contextStore, type Frame, type RunScope } from "../context.js";
import { BatchItemError, OpError, WeftError } from "../errors.js";
import { dispatch, nextStepId, validateOutput, type OpEntry } from "../invoke.js";
import { registeredOps } from "../registry.js";
import { boundedText, messageOf, redactText } from "../redact.js";
import { decode, digest, encode, inputHash } from "./codec.js";
import { LeaseLost, RunLocked, RunVersionMismatch } from "./errors.js";
import { durableSettings, type ApprovalPolicy, type Clock } from "./settings.js";
import type { DurableStore, JournalRecord } from "./store.js";

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
export async function durable<T>(options: DurableOptions, fn: () => T | PromiseLike<T>): Promise<Awaited<T>> {
  checkOptions(options);
  const { run: id } = options;
  const store = options.store ?? durableSettings.store();
  const clock = options.clock ?? durableSettings.clock;
  const leaseMs = options.leaseMs ?? durableSettings.leaseMs;
  const owner = `${PROCESS}:${randomBytes(4).toString("hex")}`;
  const got = store.acquire(id, owner, clock.now(), leaseMs);
  if (!got.ok) throw new RunLocked(id, got.owner, got.until);
  if (got.run.status === "completed") {
    const result = got.run.result;
    store.settle(id, owner, "completed", clock.now(), result);
    return (result === undefined ? undefined : decode(result)) as Awaited<T>;
  }

  const parent = currentFrame();
  const controller = new AbortController();
  const unlink = linkSignals(controller, [parent.signal], `run(${id})`);
  const scope = new DurableRun(id, store, owner, options, clock, leaseMs, controller);
  try {
    // Resuming: refuse at once when an op the run used has changed, before anything runs.
    if (!got.created) scope.checkRegistered();
  } catch (error) {
    store.settle(id, owner, got.run.status, clock.now(), undefined, got.run.error);
    unlink();
    throw error;
  }
  const frame = parent.derive({ run: scope, stepId: `run(${id})`, signal: controller.signal });
  scope.startHeartbeat(options.heartbeatMs ?? Math.max(1, Math.floor(leaseMs / 3)));
  try {
    const value = (await contextStore.run(frame, fn)) as Awaited<T>;
    if (scope.lost) throw new LeaseLost(id);
    const bytes = encode(value, `result of run "${id}"`);
    if (!store.settle(id, owner, "completed", clock.now(), bytes)) throw new LeaseLost(id);
    return value;
  } catch (error) {
    if (!scope.lost) store.settle(id, owner, "failed", clock.now(), undefined, describe(error));
    throw scope.lost && !(error instanceof LeaseLost) ? new LeaseLost(id) : error;
  } finally {
    scope.stopHeartbeat();
    unlink();
  }
}

function checkOptions(options: DurableOptions): void {
  if (typeof options !== "object" || options === null) throw new TypeError("durable: expected options { run: string }");
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new TypeError(`durable: unknown option "${key}" (expected one of ${[...OPTION_KEYS].join(", ")})`);
  }
  if (typeof options.run !== "string" || options.run === "") throw new TypeError(`durable: run must be a non-empty string, received ${JSON.stringify(options.run)}`);
  for (const key of ["leaseMs", "heartbeatMs", "pollMs"] as const) {
    const v = options[key];
    if (v !== undefined && !(typeof v === "number" && v > 0 && Number.isFinite(v))) throw new RangeError(`durable: ${key} must be a positive number of milliseconds, received ${String(v)}`);
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
  private readonly nodes: Map<string, JournalRecord>;
  private readonly recorded: Map<string, string>;
  private readonly seen = new Set<OpEntry>();
  /** Open dead letters of this run (`node[index]`), resolved as their items succeed. */
  private readonly open: Set<string>;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    readonly store: DurableStore,
    private readonly owner: string,
    readonly options: DurableOptions,
    readonly clock: Clock,
    private readonly leaseMs: number,
    private readonly controller: AbortController,
  ) {
    this.nodes = new Map(store.journal(id).map((r) => [r.key, r]));
    this.recorded = store.versions(id);
    this.open = new Set(store.deadLetters(id).flatMap((d) => (d.status === "open" ? [`${d.node}[${d.index}]`] : [])));
  }

  startHeartbeat(everyMs: number): void {
    // unref: a heartbeat never keeps the process alive on its own.
    this.timer = setInterval(() => this.heartbeat(), everyMs).unref();
  }

  stopHeartbeat(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Renews the lease; on losing it, stops journaling and cancels what is in flight. */
  heartbeat(): void {
    if (this.lost) return;
    if (this.store.renew(this.id, this.owner, this.clock.now() + this.leaseMs)) return;
    this.lost = true;
    this.stopHeartbeat();
    this.controller.abort(new LeaseLost(this.id));
  }

  lookup(key: string, inputs: readonly unknown[], entry?: OpEntry): { readonly value: unknown } | undefined {
    const record = this.nodes.get(key);
    // A node journaled with other inputs never finished with these: it runs (no stale value).
    if (record === undefined || record.inputHash !== inputHash(inputs)) return undefined;
    const value = decode(record.value);
    if (this.options.force && entry) {
      // Resumed over changed code: a journaled value the current schema refuses is run again.
      try {
        validateOutput(entry, value);
      } catch {
        return undefined;
      }
    }
    this.skipped++;
    return { value };
  }

  record(key: string, inputs: readonly unknown[], value: unknown): void {
    if (this.lost) throw new LeaseLost(this.id);
    const bytes = encode(value, `node ${key} of run "${this.id}"`);
    this.store.append(this.id, { key, inputHash: inputHash(inputs), value: bytes });
    this.journaled++;
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
    });
  }

  private waiting = 0;

  /** A call starts or stops waiting for an approval: the run is `suspended` while any waits. */
  suspend(waiting: boolean): void {
    const before = this.waiting;
    this.waiting += waiting ? 1 : -1;
    if (this.lost || (before > 0) === (this.waiting > 0)) return;
    this.store.setStatus(this.id, this.owner, this.waiting > 0 ? "suspended" : "running", this.clock.now());
  }

  itemDone(node: string, index: number): void {
    if (this.open.size === 0 || !this.open.delete(`${node}[${index}]`)) return;
    this.store.markReplayed(this.id, node, index);
  }

  /**
   * The version guard over the ops registered now: any op the run recorded whose current
   * version differs. An op registered twice under one name (no build-time locator) counts as
   * changed only when no registration matches; its first use checks the one really called.
   */
  checkRegistered(): void {
    if (this.options.force) return;
    const matched = new Set<string>();
    const differs = new Map<string, string>();
    for (const entry of registeredOps()) {
      const desc = entry.desc;
      const subject = `op ${desc.locator ? desc.id : desc.name}`;
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
    if (changes.length > 0) throw new RunVersionMismatch(this.id, changes);
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
    this.store.recordVersion(this.id, subject, now);
    this.recorded.set(subject, now);
  }
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
        return Promise.resolve(hit.value);
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
  return pending.then((value) => {
    run.record(key, args, value);
    return value;
  });
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
