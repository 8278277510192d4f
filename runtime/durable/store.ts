/**
 * The store behind durable runs, result caches, dead letters and approvals: one small
 * interface, implemented by an embedded SQLite file (the default, sqlite.ts) and in memory
 * (for tests; same conformance suite). A server-backed store (the scale-out issue) adds a
 * third.
 *
 * The interface is synchronous: both embedded stores are, and a node's journal append sits
 * on the op-call path, where a promise per call costs more than the write. A run's journal
 * is read once when the run starts, so lookups never touch the store.
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

/** The durable store. Every implementation passes test/durable/store.conformance.test.ts. */
export interface DurableStore {
  /** Takes (or creates) the run's lease unless another owner's lease is live at `now`. */
  acquire(run: string, owner: string, now: number, leaseMs: number): Acquired;
  /** Extends the lease; false when `owner` no longer holds it. */
  renew(run: string, owner: string, until: number): boolean;
  /** Ends a run's drive: sets its status (and result or error) and gives the lease up. */
  settle(run: string, owner: string, status: RunStatus, now: number, result?: Uint8Array, error?: string): boolean;
  /** Sets a driven run's status (`running` / `suspended`); false when `owner` does not hold it. */
  setStatus(run: string, owner: string, status: "running" | "suspended", now: number): boolean;
  /** Makes a completed run resumable again (its journal kept, its result cleared). */
  reopen(run: string, now: number): void;
  getRun(run: string): RunRecord | undefined;
  listRuns(): RunRecord[];

  /** The version hashes a run recorded: subject (`op <id>`, `plan <key>`) to hash. */
  versions(run: string): Map<string, string>;
  recordVersion(run: string, subject: string, hash: string): void;

  /** Every finished node of a run. */
  journal(run: string): JournalRecord[];
  /** Records a finished node (replacing an older record under the same key). */
  append(run: string, record: JournalRecord): void;
  /** How many nodes a run has journaled. */
  countNodes(run: string): number;

  /** A cached value unless missing or expired at `now`. */
  cacheGet(key: string, now: number): Uint8Array | undefined;
  cachePut(key: string, op: string, value: Uint8Array, expiresAt: number): void;
  /** Removes cached values (of one op id, or all); returns how many. */
  cacheClear(op?: string): number;

  /** Adds or updates (same run, node and index) a dead letter. */
  putDeadLetter(record: DeadLetterRecord): void;
  deadLetters(run?: string): DeadLetterRecord[];
  markReplayed(run: string, node: string, index: number): void;

  /** Inserts or replaces the approval record of `(run, key)`. */
  putApproval(record: ApprovalRecord): void;
  approval(run: string, key: string): ApprovalRecord | undefined;
  approvals(run?: string): ApprovalRecord[];
  /** Decides a pending request; false when there is none pending under that key. */
  decide(run: string, key: string, status: "approved" | "denied", by: string, why: string | undefined, at: number): boolean;

  close(): void;
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

  append(run: string, record: JournalRecord): void {
    let map = this.nodes.get(run);
    if (!map) this.nodes.set(run, (map = new Map()));
    // A copy: the caller may reuse its buffer.
    map.set(record.key, { ...record, value: record.value.slice() });
  }

  countNodes(run: string): number {
    return this.nodes.get(run)?.size ?? 0;
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
