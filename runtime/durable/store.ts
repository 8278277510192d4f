/**
 * The store behind durable runs, result caches, dead letters and approvals: one small
 * interface, implemented by an embedded SQLite file (the default, sqlite.ts) and in memory
 * (for tests; same conformance suite). A server-backed store (the scale-out issue) adds a
 * third.
 *
 * Each method may answer synchronously or with a promise (see `DurableStore`): the embedded
 * stores answer synchronously, a server-backed one asynchronously. A run's journal is read
 * once when the run starts, so lookups never touch the store.
 */

/** Where a run stands. */
export type RunStatus =
  /** Driven by a process now (its lease is live), or left by one that died (lease expired). */
  | "running"
  /** Waiting for an approval (in the process holding it, or, lease expired, in none). */
  | "suspended"
  /** Finished; starting it again returns the stored result. */
  | "completed"
  /** Its function threw; starting it again resumes it (journaled nodes are not repeated). */
  | "failed";

/** One run as stored. */
export interface RunRecord {
  readonly id: string;
  readonly status: RunStatus;
  /** The process holding the lease (`host:pid:random`), when one does. */
  readonly owner: string | undefined;
  /** Lease expiry, epoch ms. */
  readonly leaseUntil: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** The encoded result of a completed run. */
  readonly result: Uint8Array | undefined;
  /** The (redacted) error of a failed run. */
  readonly error: string | undefined;
}

/** One finished node: its key in the run, the hash of its inputs, its encoded value. */
export interface JournalRecord {
  readonly key: string;
  readonly inputHash: string;
  readonly value: Uint8Array;
}

/** A batch item that failed after its retries. */
export interface DeadLetterRecord {
  readonly run: string;
  /** The batch's node key (e.g. `run(r)/vmap(score)#0`). */
  readonly node: string;
  /** The item's position in the batch. */
  readonly index: number;
  /** The encoded item arguments. */
  readonly input: Uint8Array;
  /** The error, redacted and bounded. */
  readonly error: string;
  /** The error's `_tag` (`OpError`, `ValidationError`, ...) or its class name. */
  readonly errorType: string;
  readonly attempts: number;
  readonly at: number;
  /** `open` until a replay of the run finishes the item. */
  readonly status: "open" | "replayed";
}

/** A decision on a risky op call, or a request still waiting for one. */
export interface ApprovalRecord {
  readonly run: string;
  /** The node key of the op call. */
  readonly key: string;
  readonly op: string;
  /** A redacted preview of the arguments. */
  readonly args: string;
  /** Why the policy asked for approval (or its verdict). */
  readonly reason: string;
  readonly status: "pending" | "approved" | "denied" | "allowed";
  readonly requestedAt: number;
  readonly decidedAt: number | undefined;
  /** `policy`, or the name given to `decide`. */
  readonly by: string | undefined;
  readonly why: string | undefined;
}

/** Outcome of trying to take a run's lease. */
export type Acquired = { readonly ok: true; readonly run: RunRecord; readonly created: boolean } | { readonly ok: false; readonly owner: string; readonly until: number };

/** A value, or a promise of it: what a store method returns (see `DurableStore`). */
export type Awaitable<T> = T | Promise<T>;

/**
 * The durable store. Every implementation passes the conformance suite in
 * test/durable/store-conformance.ts (run by test/durable/store.conformance.test.ts).
 *
 * **Sync or async.** Each method returns its result or a promise of it. The embedded stores
 * answer synchronously (SQLite through `node:sqlite` is synchronous, and on the op-call path
 * a promise per call would cost more than the write); a server-backed store (Redis, a SQL
 * server) returns promises. Callers always `await` (or check for a thenable on the hot path),
 * so either works everywhere.
 *
 * **What the runtime relies on**
 * - `acquire` is atomic across processes: of two owners racing for a free (or expired) lease,
 *   exactly one gets it. `renew`, `settle` and `setStatus` take effect only while `owner`
 *   holds the lease.
 * - `append` is atomic: all its records are stored, or none (and then it throws or rejects).
 *   A node counts as finished once its `append` has resolved, so it must be durable by then
 *   at least across a crash of this process.
 * - Reads after a resolved write (from any process) see it. One relaxation: a store may keep
 *   `recordVersion` for a run it is driving until that drive's next `append` or its `settle`,
 *   and store it in the same write (a version record describes the nodes after it, so it is
 *   never stored later than they are); its own `versions` sees it at once.
 * - Stored bytes come back equal; the store may keep the caller's buffer or a copy, and
 *   callers never mutate a buffer after handing it over.
 * - `close` releases what the store holds (files, connections, timers); nothing is left.
 *
 * **When the runtime calls what.** A run start: `acquire`, then `journal`, `versions`,
 * `deadLetters(run)` once (lookups never touch the store afterwards). While it runs:
 * `append` (batched: the nodes that finish in one turn of the event loop in one call),
 * `recordVersion`, `renew` per heartbeat, `putDeadLetter`/`markReplayed`, `commitOffset`,
 * the cache and approval methods. Its end: `settle`. Inspection (`listRuns`, the CLI) reads
 * with `listRuns`, `countNodes`, `deadLetters()`, `approvals()`.
 */
export interface DurableStore {
  /** Takes (or creates) the run's lease unless another owner's lease is live at `now`. */
  acquire(run: string, owner: string, now: number, leaseMs: number): Awaitable<Acquired>;
  /** Extends the lease; false when `owner` no longer holds it. */
  renew(run: string, owner: string, until: number): Awaitable<boolean>;
  /** Ends a run's drive: sets its status (and result or error) and gives the lease up; false when `owner` does not hold it. */
  settle(run: string, owner: string, status: RunStatus, now: number, result?: Uint8Array, error?: string): Awaitable<boolean>;
  /** Sets a driven run's status (`running` / `suspended`); false when `owner` does not hold it. */
  setStatus(run: string, owner: string, status: "running" | "suspended", now: number): Awaitable<boolean>;
  /** Makes a completed run resumable again (its journal kept, its result cleared). */
  reopen(run: string, now: number): Awaitable<void>;
  getRun(run: string): Awaitable<RunRecord | undefined>;
  /** Every run, oldest first (by `createdAt`, then id). */
  listRuns(): Awaitable<RunRecord[]>;

  /** The version hashes a run recorded: subject (`op <id>`, `plan <key>`) to hash. */
  versions(run: string): Awaitable<Map<string, string>>;
  recordVersion(run: string, subject: string, hash: string): Awaitable<void>;

  /** Every finished node of a run, in no particular order. */
  journal(run: string): Awaitable<JournalRecord[]>;
  /**
   * Records finished nodes, atomically (all or none), each replacing an older record under
   * the same key; a later record in `records` wins over an earlier one with the same key.
   */
  append(run: string, records: readonly JournalRecord[]): Awaitable<void>;
  /** How many nodes a run has journaled. */
  countNodes(run: string): Awaitable<number>;

  /**
   * Records how far a run has consumed one of its streams: every item before `offset` is
   * finished (journaled or dead-lettered), so a resumed run may start reading there.
   * Offsets only move forward: a smaller one than stored is ignored.
   */
  commitOffset(run: string, stream: string, offset: number): Awaitable<void>;
  /** The committed offsets of a run's streams: stream name to offset. */
  offsets(run: string): Awaitable<Map<string, number>>;

  /** A cached value unless missing or expired at `now` (an expired one may be removed). */
  cacheGet(key: string, now: number): Awaitable<Uint8Array | undefined>;
  cachePut(key: string, op: string, value: Uint8Array, expiresAt: number): Awaitable<void>;
  /** Removes cached values (of one op id, or all); returns how many. */
  cacheClear(op?: string): Awaitable<number>;

  /** Adds or updates (same run, node and index) a dead letter. */
  putDeadLetter(record: DeadLetterRecord): Awaitable<void>;
  /** Dead letters (of one run, or all), ordered by run, node, index. */
  deadLetters(run?: string): Awaitable<DeadLetterRecord[]>;
  markReplayed(run: string, node: string, index: number): Awaitable<void>;

  /** Inserts or replaces the approval record of `(run, key)`. */
  putApproval(record: ApprovalRecord): Awaitable<void>;
  approval(run: string, key: string): Awaitable<ApprovalRecord | undefined>;
  /** Approval records (of one run, or all), ordered by request time, then key. */
  approvals(run?: string): Awaitable<ApprovalRecord[]>;
  /** Decides a pending request; false when there is none pending under that key (decided once). */
  decide(run: string, key: string, status: "approved" | "denied", by: string, why: string | undefined, at: number): Awaitable<boolean>;

  close(): Awaitable<void>;
}

/**
 * A store in memory, for tests and for runs that need durability only within a process.
 *
 * @example
 * ```ts
 * await durable({ run: "t1", store: new MemoryStore() }, () => pipeline(question));
 * ```
 */
export class MemoryStore implements DurableStore {
  private readonly runs = new Map<string, RunRecord>();
  private readonly vers = new Map<string, Map<string, string>>();
  private readonly nodes = new Map<string, Map<string, JournalRecord>>();
  private readonly offs = new Map<string, Map<string, number>>();
  private readonly cache = new Map<string, { op: string; value: Uint8Array; expiresAt: number }>();
  private readonly dead = new Map<string, DeadLetterRecord>();
  private readonly approvalsByKey = new Map<string, ApprovalRecord>();

  acquire(run: string, owner: string, now: number, leaseMs: number): Acquired {
    const old = this.runs.get(run);
    if (old && old.owner !== undefined && old.owner !== owner && old.leaseUntil > now) return { ok: false, owner: old.owner, until: old.leaseUntil };
    const record: RunRecord = old
      ? { ...old, owner, leaseUntil: now + leaseMs, updatedAt: now, ...(old.status !== "completed" && { status: "running" as const }) }
      : { id: run, status: "running", owner, leaseUntil: now + leaseMs, createdAt: now, updatedAt: now, result: undefined, error: undefined };
    this.runs.set(run, record);
    return { ok: true, run: record, created: old === undefined };
  }

  renew(run: string, owner: string, until: number): boolean {
    const old = this.runs.get(run);
    if (!old || old.owner !== owner) return false;
    this.runs.set(run, { ...old, leaseUntil: until });
    return true;
  }

  settle(run: string, owner: string, status: RunStatus, now: number, result?: Uint8Array, error?: string): boolean {
    const old = this.runs.get(run);
    if (!old || old.owner !== owner) return false;
    this.runs.set(run, { ...old, status, owner: undefined, leaseUntil: 0, updatedAt: now, result, error });
    return true;
  }

  setStatus(run: string, owner: string, status: "running" | "suspended", now: number): boolean {
    const old = this.runs.get(run);
    if (!old || old.owner !== owner) return false;
    this.runs.set(run, { ...old, status, updatedAt: now });
    return true;
  }

  reopen(run: string, now: number): void {
    const old = this.runs.get(run);
    if (old) this.runs.set(run, { ...old, status: "failed", result: undefined, updatedAt: now });
  }

  getRun(run: string): RunRecord | undefined {
    return this.runs.get(run);
  }

  listRuns(): RunRecord[] {
    return [...this.runs.values()].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  versions(run: string): Map<string, string> {
    return new Map(this.vers.get(run));
  }

  recordVersion(run: string, subject: string, hash: string): void {
    let map = this.vers.get(run);
    if (!map) this.vers.set(run, (map = new Map()));
    map.set(subject, hash);
  }

  journal(run: string): JournalRecord[] {
    return [...(this.nodes.get(run)?.values() ?? [])];
  }

  append(run: string, records: readonly JournalRecord[]): void {
    let map = this.nodes.get(run);
    if (!map) this.nodes.set(run, (map = new Map()));
    // Copies: a small encoded value may be a view into a shared buffer pool.
    for (const record of records) map.set(record.key, { ...record, value: record.value.slice() });
  }

  countNodes(run: string): number {
    return this.nodes.get(run)?.size ?? 0;
  }

  commitOffset(run: string, stream: string, offset: number): void {
    let map = this.offs.get(run);
    if (!map) this.offs.set(run, (map = new Map()));
    if (!(offset <= (map.get(stream) ?? -Infinity))) map.set(stream, offset);
  }

  offsets(run: string): Map<string, number> {
    return new Map(this.offs.get(run));
  }

  cacheGet(key: string, now: number): Uint8Array | undefined {
    const hit = this.cache.get(key);
    if (!hit) return undefined;
    if (hit.expiresAt <= now) {
      this.cache.delete(key);
      return undefined;
    }
    return hit.value;
  }

  cachePut(key: string, op: string, value: Uint8Array, expiresAt: number): void {
    this.cache.set(key, { op, value: value.slice(), expiresAt });
  }

  cacheClear(op?: string): number {
    let n = 0;
    for (const [key, entry] of this.cache) {
      if (op === undefined || entry.op === op) {
        this.cache.delete(key);
        n++;
      }
    }
    return n;
  }

  putDeadLetter(record: DeadLetterRecord): void {
    this.dead.set(`${record.run}\0${record.node}\0${record.index}`, record);
  }

  deadLetters(run?: string): DeadLetterRecord[] {
    return [...this.dead.values()].filter((d) => run === undefined || d.run === run).sort(byRunNodeIndex);
  }

  markReplayed(run: string, node: string, index: number): void {
    const key = `${run}\0${node}\0${index}`;
    const old = this.dead.get(key);
    if (old) this.dead.set(key, { ...old, status: "replayed" });
  }

  putApproval(record: ApprovalRecord): void {
    this.approvalsByKey.set(`${record.run}\0${record.key}`, record);
  }

  approval(run: string, key: string): ApprovalRecord | undefined {
    return this.approvalsByKey.get(`${run}\0${key}`);
  }

  approvals(run?: string): ApprovalRecord[] {
    return [...this.approvalsByKey.values()].filter((a) => run === undefined || a.run === run).sort((a, b) => a.requestedAt - b.requestedAt || a.key.localeCompare(b.key));
  }

  decide(run: string, key: string, status: "approved" | "denied", by: string, why: string | undefined, at: number): boolean {
    const old = this.approvalsByKey.get(`${run}\0${key}`);
    if (!old || old.status !== "pending") return false;
    this.approvalsByKey.set(`${run}\0${key}`, { ...old, status, by, why, decidedAt: at });
    return true;
  }

  close(): void {}
}

/** Dead letters in a stable order: run, batch node, index. */
export function byRunNodeIndex(a: DeadLetterRecord, b: DeadLetterRecord): number {
  return a.run.localeCompare(b.run) || a.node.localeCompare(b.node) || a.index - b.index;
}
