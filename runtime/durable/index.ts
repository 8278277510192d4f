/**
 * The durable package's front: installs the op-call interception point into the kernel
 * and offers the inspection, dead-letter and approval functions the CLI builds on.
 */
import { setRunDriver } from "../context.js";
import { dispatch, setInterceptor } from "../invoke.js";
import { lazyModule } from "../lazy.js";
import type * as Codec from "./codec.js";
import type * as Gate from "./gate.js";
import type * as Run from "./run.js";
import type { CacheStats } from "./gate.js";
import type { DurableOptions } from "./run.js";
import { durableSettings } from "./settings.js";
import type { ApprovalRecord, DurableStore, RunStatus } from "./store.js";

// The run driver, the cache and approval gate and the value codec load with the first
// durable run, cached or risky op call, or dead-letter read: not with weft.
const runs = lazyModule<typeof Run>("./run.js", import.meta.url, () => import("./run.js"));
const gates = lazyModule<typeof Gate>("./gate.js", import.meta.url, () => import("./gate.js"));
const codec = lazyModule<typeof Codec>("./codec.js", import.meta.url, () => import("./codec.js"));

setInterceptor((entry, parent, thisArg, args, overrides) => {
  // Outside a run only the approval gate and the cache apply; most intercepted ops are
  // `pure` ops with pure caching off, which go straight to the body.
  try {
    if (parent.run === undefined && !gates().needsGate(entry)) return dispatch(entry, parent, thisArg, args, overrides);
  } catch (error) {
    // A bad cache policy: the call fails, it never throws synchronously.
    return Promise.reject(error);
  }
  return runs().interceptCall(entry, parent, thisArg, args, overrides, gates().gate);
});

// `withContext({ run })`: the same run driver as `durable({ run })`, on the configured store.
setRunDriver((run, where, fn) => {
  const options: DurableOptions = { run };
  try {
    runs().checkOptions(where, options);
  } catch (error) {
    return Promise.reject(error);
  }
  return runs().drive(options, fn);
});

/** Which store an inspection function reads (default: the configured one). */
export interface StoreOption {
  readonly store?: DurableStore;
}

/** A run as `listRuns` shows it. */
export interface RunSummary {
  readonly id: string;
  readonly status: RunStatus;
  /** True while a process holds a live lease on it. */
  readonly live: boolean;
  readonly owner: string | undefined;
  /** Nodes journaled (finished) so far. */
  readonly nodesDone: number;
  /** Dead letters not yet replayed. */
  readonly deadLetters: number;
  /** Risky calls waiting for a decision. */
  readonly pendingApprovals: number;
  /** The run's failure, when it failed. */
  readonly error: string | undefined;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * Every run in the store with its status, nodes done, failures, dead letters and pending approvals.
 *
 * @example
 * ```ts
 * for (const r of await listRuns()) console.log(r.id, r.status, r.nodesDone, r.deadLetters);
 * ```
 */
export async function listRuns(options: StoreOption = {}): Promise<RunSummary[]> {
  const store = options.store ?? durableSettings.store();
  const now = durableSettings.clock.now();
  const [runs, letters, requests] = await Promise.all([store.listRuns(), store.deadLetters(), store.approvals()]);
  const dead = new Map<string, number>();
  for (const d of letters) if (d.status === "open") dead.set(d.run, (dead.get(d.run) ?? 0) + 1);
  const pending = new Map<string, number>();
  for (const a of requests) if (a.status === "pending") pending.set(a.run, (pending.get(a.run) ?? 0) + 1);
  const counts = await Promise.all(runs.map((r) => store.countNodes(r.id)));
  return runs.map((r, i) => ({
    id: r.id,
    status: r.status,
    live: r.owner !== undefined && r.leaseUntil > now,
    owner: r.owner,
    nodesDone: counts[i]!,
    deadLetters: dead.get(r.id) ?? 0,
    pendingApprovals: pending.get(r.id) ?? 0,
    error: r.error,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  }));
}

/** A dead letter as `deadLetters` returns it, with its input decoded. */
export interface DeadLetter {
  readonly run: string;
  readonly node: string;
  readonly index: number;
  /** The item's arguments. */
  readonly input: readonly unknown[];
  readonly error: string;
  readonly errorType: string;
  readonly attempts: number;
  readonly at: number;
  readonly status: "open" | "replayed";
}

/**
 * The batch items that failed for good, oldest run first.
 *
 * @example
 * ```ts
 * for (const d of await deadLetters({ run: "nightly" })) console.log(d.index, d.error);
 * ```
 */
export async function deadLetters(options: StoreOption & { readonly run?: string } = {}): Promise<DeadLetter[]> {
  const store = options.store ?? durableSettings.store();
  return (await store.deadLetters(options.run)).map((d) => ({ ...d, input: codec().decode(d.input) as unknown[] }));
}

/**
 * Runs the run's dead letters again, in the same run: the run is reopened and driven by
 * `fn` once more, so every journaled node is skipped and only the failed items run. An
 * item that succeeds now is marked `replayed`; one that fails again stays open.
 *
 * @example
 * ```ts
 * await replayDeadLetters({ run: "nightly" }, () => vmap(score, { onError: "collect" })(answers));
 * ```
 */
export async function replayDeadLetters<T>(options: DurableOptions, fn: () => T | PromiseLike<T>): Promise<Awaited<T>> {
  runs().checkOptions("replayDeadLetters", options);
  const store = options.store ?? durableSettings.store();
  await store.reopen(options.run, (options.clock ?? durableSettings.clock).now());
  return runs().drive(options, fn);
}

/**
 * Risky op calls waiting for a decision (or every decision, with `all`).
 *
 * @example
 * ```ts
 * for (const a of await approvals()) console.log(a.run, a.key, a.op, a.reason);
 * ```
 */
export async function approvals(options: StoreOption & { readonly run?: string; readonly all?: boolean } = {}): Promise<ApprovalRecord[]> {
  const store = options.store ?? durableSettings.store();
  const list = await store.approvals(options.run);
  return options.all ? list : list.filter((a) => a.status === "pending");
}

/** What `decide` records. */
export interface Decision extends StoreOption {
  readonly run: string;
  /** The node key of the call (`key` of the request in `approvals()`). */
  readonly key: string;
  readonly decision: "approve" | "deny";
  /** Who decided: a person's name or a system's. */
  readonly by: string;
  /** Why, for the record. */
  readonly reason?: string;
}

/**
 * Approves or denies a suspended risky call, from any process. The waiting run continues
 * (or fails with `ApprovalDenied`); returns false when nothing was pending under that key.
 *
 * @example
 * ```ts
 * const [request] = await approvals({ run: "payouts" });
 * if (request) await decide({ run: "payouts", key: request.key, decision: "approve", by: "ada", reason: "checked the invoice" });
 * ```
 */
export async function decide(decision: Decision): Promise<boolean> {
  const known = new Set(["store", "run", "key", "decision", "by", "reason"]);
  for (const k of Object.keys(decision)) if (!known.has(k)) throw new TypeError(`decide: unknown option "${k}" (expected one of ${[...known].join(", ")})`);
  if (decision.decision !== "approve" && decision.decision !== "deny") throw new TypeError(`decide: decision must be "approve" or "deny", received ${JSON.stringify(decision.decision)}`);
  if (typeof decision.by !== "string" || decision.by === "") throw new TypeError("decide: by (who decides) must be a non-empty string");
  const store = decision.store ?? durableSettings.store();
  return store.decide(decision.run, decision.key, decision.decision === "approve" ? "approved" : "denied", decision.by, decision.reason, durableSettings.clock.now());
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
  return runs().durable(options, fn);
}

/**
 * The result cache's hit and miss counts.
 *
 * @example
 * ```ts
 * await embed("hello"); await embed("hello");
 * cacheStats().hits; // 1
 * ```
 */
export function cacheStats(): CacheStats {
  return gates().cacheStats();
}

/** Zeroes the counts `cacheStats` reports. Internal: for tests. */
export function resetCacheStats(): void {
  gates().resetCacheStats();
}

/**
 * Removes cached results: of one op, or all of them. Returns how many.
 *
 * @example
 * ```ts
 * clearCache(embed); // after changing the embedding model's deployment
 * ```
 */
export function clearCache(target?: { readonly descriptor: { readonly id: string } } | string, options: { readonly store?: DurableStore } = {}): Promise<number> {
  return gates().clearCache(target, options);
}

export type { DurableOptions } from "./run.js";
export type { CacheStats } from "./gate.js";
export { configureDurable, closeDurable, type DurableSettings, type ApprovalPolicy, type ApprovalVerdict, type Clock } from "./settings.js";
export { MemoryStore, type Awaitable, type Acquired, type DurableStore, type RunRecord, type RunStatus, type JournalRecord, type DeadLetterRecord, type ApprovalRecord } from "./store.js";
export { UnstorableValue, RunLocked, LeaseLost, RunVersionMismatch, ApprovalDenied, ApprovalRequired } from "./errors.js";
