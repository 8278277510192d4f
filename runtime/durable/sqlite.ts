/**
 * The default durable store: one SQLite file through `node:sqlite` (built into Node since
 * 22.5 and unflagged since 22.13, weft's floor), so there is no native module to build and
 * nothing to install. WAL journal mode (readers never block the writer, an append is one
 * page write), `synchronous=NORMAL` by default (a committed append survives a process crash;
 * an OS crash may lose the last few) and `FULL` on request (survives power loss too, at
 * an fsync per append).
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { mkdirSync, unlinkSync } from "node:fs";
import path from "node:path";
import { logPath, NodeLog, readLog, takeLogs } from "./nodelog.js";
import { byRunNodeIndex, type Acquired, type ApprovalRecord, type DeadLetterRecord, type DurableStore, type JournalRecord, type RunRecord, type RunStatus } from "./store.js";

/** Options of the SQLite store. */
export interface SqliteStoreOptions {
  /** `"NORMAL"` (default): durable across process crashes. `"FULL"`: across power loss too. */
  readonly synchronous?: "NORMAL" | "FULL";
  /** How long a write waits for another process's lock before failing. Default 5 s. */
  readonly busyTimeoutMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, status TEXT NOT NULL, owner TEXT, lease_until INTEGER NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, result BLOB, error TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS versions (
  run TEXT NOT NULL, subject TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (run, subject)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nodes (
  run TEXT NOT NULL, key TEXT NOT NULL, input_hash TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (run, key)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS offsets (
  run TEXT NOT NULL, stream TEXT NOT NULL, offset REAL NOT NULL, PRIMARY KEY (run, stream)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cache (
  key TEXT PRIMARY KEY, op TEXT NOT NULL, value BLOB NOT NULL, expires_at REAL NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cache_op ON cache (op);
CREATE TABLE IF NOT EXISTS dead_letters (
  run TEXT NOT NULL, node TEXT NOT NULL, idx INTEGER NOT NULL, input BLOB NOT NULL, error TEXT NOT NULL,
  error_type TEXT NOT NULL, attempts INTEGER NOT NULL, at INTEGER NOT NULL, status TEXT NOT NULL,
  PRIMARY KEY (run, node, idx)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS approvals (
  run TEXT NOT NULL, key TEXT NOT NULL, op TEXT NOT NULL, args TEXT NOT NULL, reason TEXT NOT NULL, status TEXT NOT NULL,
  requested_at INTEGER NOT NULL, decided_at INTEGER, by TEXT, why TEXT, PRIMARY KEY (run, key)
) STRICT, WITHOUT ROWID;
`;

type Row = Record<string, unknown>;

/** A node log past this size is stored in the table and emptied (see nodelog.ts). */
const FOLD_BYTES = 16 * 2 ** 20;

/** WAL pages between automatic checkpoints (see the constructor). */
const CHECKPOINT_PAGES = Number(process.env.WEFT_SQLITE_CHECKPOINT_PAGES ?? 10_000);

/**
 * A durable store in one SQLite file, safe to share between processes.
 *
 * @example
 * ```ts
 * const store = new SqliteStore(".weft/runs.db", { synchronous: "FULL" });
 * await durable({ run: "nightly", store }, () => pipeline(question));
 * ```
 */
export class SqliteStore implements DurableStore {
  private readonly db: DatabaseSync;
  private readonly q: Record<string, StatementSync>;
  private closed = false;
  /** Where the runs' node logs live (nodelog.ts); none for an in-memory database. */
  private readonly logDir: string | undefined;
  /** The node logs this store appends to, by run: the runs driven here. */
  private readonly logs = new Map<string, NodeLog>();
  /**
   * The runs driven through this store (acquired, not settled), with what their drive has
   * not stored yet: version records, written with the run's next append or its settling
   * (they describe the nodes that follow them, so they need to be stored no later than
   * those), and whether the drive has appended (its first append goes to the table).
   */
  private readonly driven = new Map<string, { versions: Map<string, string>; appended: boolean }>();
  private readonly syncEach: boolean;
  private inTransaction = false;

  constructor(
    readonly file: string,
    options: SqliteStoreOptions = {},
  ) {
    const known = new Set(["synchronous", "busyTimeoutMs"]);
    for (const key of Object.keys(options)) if (!known.has(key)) throw new TypeError(`SqliteStore: unknown option "${key}" (expected one of ${[...known].join(", ")})`);
    const synchronous = options.synchronous ?? "NORMAL";
    if (synchronous !== "NORMAL" && synchronous !== "FULL") throw new TypeError(`SqliteStore: synchronous must be "NORMAL" or "FULL", received ${JSON.stringify(synchronous)}`);
    if (file !== ":memory:") mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.logDir = file === ":memory:" ? undefined : `${path.resolve(file)}.nodes`;
    this.syncEach = synchronous === "FULL";
    // Loaded when a store opens, not when weft is imported: importing weft costs nothing for
    // a program that never runs durably, and Node 22 prints its "SQLite is experimental"
    // warning only for programs that do.
    const { DatabaseSync: Database } = process.getBuiltinModule("node:sqlite") as typeof import("node:sqlite");
    this.db = new Database(file);
    const busyMs = Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000));
    // Pragmas rather than constructor options: Node 22.13 (the floor) has no `timeout` option.
    // wal_autocheckpoint: SQLite copies the WAL back into the database (with an fsync) every
    // N pages written. The default 1,000 puts that fsync on every 1,000th append, and under
    // load it dominates the cost of a node; 10,000 pages (about 40 MB of WAL at most, cut back
    // to 16 MB after each checkpoint by journal_size_limit) makes it ten times rarer.
    this.db.exec(`PRAGMA busy_timeout=${busyMs}; PRAGMA synchronous=${synchronous}; PRAGMA wal_autocheckpoint=${CHECKPOINT_PAGES}; PRAGMA journal_size_limit=${16 * 2 ** 20};`);
    // Switching a new file to WAL takes its write lock from inside a read, and there SQLite
    // answers SQLITE_BUSY at once instead of waiting out busy_timeout (waiting could deadlock):
    // two processes opening one new file at the same moment would see the later one fail
    // with "database is locked". So the switch, and the schema after it, are tried again.
    whileBusy(file, busyMs, () => this.db.exec("PRAGMA journal_mode=WAL"));
    whileBusy(file, busyMs, () => this.db.exec(SCHEMA));
    const p = (sql: string) => this.db.prepare(sql);
    this.q = {
      getRun: p("SELECT * FROM runs WHERE id = ?"),
      insertRun: p("INSERT INTO runs (id, status, owner, lease_until, created_at, updated_at) VALUES (?, 'running', ?, ?, ?, ?)"),
      takeRun: p("UPDATE runs SET owner = ?, lease_until = ?, updated_at = ?, status = CASE status WHEN 'completed' THEN 'completed' ELSE 'running' END WHERE id = ?"),
      renew: p("UPDATE runs SET lease_until = ? WHERE id = ? AND owner = ?"),
      settle: p("UPDATE runs SET status = ?, owner = NULL, lease_until = 0, updated_at = ?, result = ?, error = ? WHERE id = ? AND owner = ?"),
      setStatus: p("UPDATE runs SET status = ?, updated_at = ? WHERE id = ? AND owner = ?"),
      reopen: p("UPDATE runs SET status = 'failed', result = NULL, updated_at = ? WHERE id = ?"),
      listRuns: p("SELECT * FROM runs ORDER BY created_at, id"),
      versions: p("SELECT subject, hash FROM versions WHERE run = ?"),
      recordVersion: p("INSERT OR REPLACE INTO versions (run, subject, hash) VALUES (?, ?, ?)"),
      journal: p("SELECT key, input_hash, value FROM nodes WHERE run = ?"),
      append: p("INSERT OR REPLACE INTO nodes (run, key, input_hash, value) VALUES (?, ?, ?, ?)"),
      countNodes: p("SELECT count(*) AS n FROM nodes WHERE run = ?"),
      commitOffset: p("INSERT INTO offsets (run, stream, offset) VALUES (?, ?, ?) ON CONFLICT (run, stream) DO UPDATE SET offset = excluded.offset WHERE excluded.offset > offset"),
      offsets: p("SELECT stream, offset FROM offsets WHERE run = ?"),
      cacheGet: p("SELECT value, expires_at FROM cache WHERE key = ?"),
      cacheDelete: p("DELETE FROM cache WHERE key = ?"),
      cachePut: p("INSERT OR REPLACE INTO cache (key, op, value, expires_at) VALUES (?, ?, ?, ?)"),
      cacheClearAll: p("DELETE FROM cache"),
      cacheClearOp: p("DELETE FROM cache WHERE op = ?"),
      putDead: p("INSERT OR REPLACE INTO dead_letters (run, node, idx, input, error, error_type, attempts, at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
      deadAll: p("SELECT * FROM dead_letters"),
      deadOfRun: p("SELECT * FROM dead_letters WHERE run = ?"),
      markReplayed: p("UPDATE dead_letters SET status = 'replayed' WHERE run = ? AND node = ? AND idx = ?"),
      putApproval: p("INSERT OR REPLACE INTO approvals (run, key, op, args, reason, status, requested_at, decided_at, by, why) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
      approval: p("SELECT * FROM approvals WHERE run = ? AND key = ?"),
      approvalsAll: p("SELECT * FROM approvals ORDER BY requested_at, key"),
      approvalsOfRun: p("SELECT * FROM approvals WHERE run = ? ORDER BY requested_at, key"),
      decide: p("UPDATE approvals SET status = ?, by = ?, why = ?, decided_at = ? WHERE run = ? AND key = ? AND status = 'pending'"),
    };
  }

  acquire(run: string, owner: string, now: number, leaseMs: number): Acquired {
    let taken: ReturnType<typeof takeLogs>;
    // IMMEDIATE takes the write lock first, so two processes cannot both read "free" and take it.
    const got = this.transaction((): Acquired => {
      const old = this.q.getRun!.get(run) as Row | undefined;
      if (old && old.owner !== null && old.owner !== owner && Number(old.lease_until) > now) return { ok: false, owner: String(old.owner), until: Number(old.lease_until) };
      // The run changes hands: the node log of its last drive (a dead process's, or an
      // earlier one here) is stored in the table before the new owner reads the journal.
      this.logs.get(run)?.close();
      this.logs.delete(run);
      this.driven.delete(run);
      // (A run never seen before has no log: only a known one may have been driven.)
      if (old !== undefined && this.logDir !== undefined) {
        taken = takeLogs(this.logDir, run);
        if (taken) this.insert(run, taken.records);
      }
      if (old) this.q.takeRun!.run(owner, now + leaseMs, now, run);
      else this.q.insertRun!.run(run, owner, now + leaseMs, now, now);
      const record: RunRecord =
        old === undefined
          ? { id: run, status: "running", owner, leaseUntil: now + leaseMs, createdAt: now, updatedAt: now, result: undefined, error: undefined }
          : toRun(this.q.getRun!.get(run) as Row);
      return { ok: true, run: record, created: old === undefined };
    });
    taken?.remove();
    if (got.ok) this.driven.set(run, { versions: new Map(), appended: false });
    return got;
  }

  /** Runs `body` in one transaction: committed when it returns, rolled back when it throws. */
  private transaction<T>(body: () => T): T {
    if (this.inTransaction) return body();
    this.db.exec("BEGIN IMMEDIATE");
    this.inTransaction = true;
    try {
      const result = body();
      this.db.exec("COMMIT");
      return result;
    } catch (error) {
      try {
        this.db.exec("ROLLBACK");
      } catch {
        // Nothing to roll back: the failure ended the transaction already.
      }
      throw error;
    } finally {
      this.inTransaction = false;
    }
  }


  renew(run: string, owner: string, until: number): boolean {
    return Number(this.q.renew!.run(until, run, owner).changes) === 1;
  }

  settle(run: string, owner: string, status: RunStatus, now: number, result?: Uint8Array, error?: string): boolean {
    const log = this.logs.get(run);
    const drive = this.driven.get(run);
    const settled = this.transaction(() => {
      const row = this.q.getRun!.get(run) as Row | undefined;
      if (row?.owner !== owner) return false;
      // The drive ends: its node log and its version records go into the table, in the same transaction.
      if (drive) this.storeVersions(run, drive.versions);
      if (log) this.insert(run, log.records());
      this.q.settle!.run(status, now, result ?? null, error ?? null, run, owner);
      return true;
    });
    if (settled) this.driven.delete(run);
    if (settled && log) {
      this.logs.delete(run);
      log.close();
      unlinkSync(log.file);
    }
    return settled;
  }

  setStatus(run: string, owner: string, status: "running" | "suspended", now: number): boolean {
    return Number(this.q.setStatus!.run(status, now, run, owner).changes) === 1;
  }

  reopen(run: string, now: number): void {
    this.q.reopen!.run(now, run);
  }

  getRun(run: string): RunRecord | undefined {
    const row = this.q.getRun!.get(run) as Row | undefined;
    return row && toRun(row);
  }

  listRuns(): RunRecord[] {
    return (this.q.listRuns!.all() as Row[]).map(toRun);
  }

  versions(run: string): Map<string, string> {
    const stored = new Map((this.q.versions!.all(run) as Row[]).map((r) => [String(r.subject), String(r.hash)]));
    for (const [subject, hash] of this.driven.get(run)?.versions ?? []) stored.set(subject, hash);
    return stored;
  }

  recordVersion(run: string, subject: string, hash: string): void {
    // A run driven here: stored with its next append or its settling, in that transaction
    // (a commit saved per record; a crash before then has stored no node they describe).
    const drive = this.driven.get(run);
    if (drive) drive.versions.set(subject, hash);
    else this.q.recordVersion!.run(run, subject, hash);
  }

  /** Writes a drive's pending version records (inside a transaction). */
  private storeVersions(run: string, versions: Map<string, string>): void {
    for (const [subject, hash] of versions) this.q.recordVersion!.run(run, subject, hash);
    versions.clear();
  }

  journal(run: string): JournalRecord[] {
    const rows = (this.q.journal!.all(run) as Row[]).map((r) => ({ key: String(r.key), inputHash: String(r.input_hash), value: r.value as Uint8Array }));
    const logged = this.logDir === undefined ? [] : readLog(logPath(this.logDir, run));
    if (logged.length === 0) return rows;
    // The log is newer than the table: its records win, the later over the earlier.
    const byKey = new Map(rows.map((r) => [r.key, r]));
    for (const r of logged) byKey.set(r.key, r);
    return [...byKey.values()];
  }

  append(run: string, records: readonly JournalRecord[]): void {
    if (records.length === 0) return;
    const drive = this.driven.get(run);
    // A drive's first append, or one that comes with version records, goes to the table in
    // one transaction with them: a short run then never creates a log file (opening and
    // removing one costs about two table commits; each later append to it, a tenth of one).
    if (this.logDir === undefined || drive === undefined || !drive.appended || drive.versions.size > 0) {
      if (drive) drive.appended = true;
      if (drive === undefined || drive.versions.size === 0) return this.insert(run, records);
      return this.transaction(() => {
        this.storeVersions(run, drive.versions);
        this.insert(run, records);
      });
    }
    let log = this.logs.get(run);
    if (log === undefined) {
      mkdirSync(this.logDir, { recursive: true });
      log = new NodeLog(logPath(this.logDir, run), this.syncEach);
      this.logs.set(run, log);
    }
    log.append(records);
    if (log.size > FOLD_BYTES) {
      // A long run: its log is stored in the table now and then, so it stays bounded.
      const full = log;
      this.transaction(() => this.insert(run, full.records()));
      full.clear();
    }
  }

  /** Stores records in the table: one transaction for several (one commit, one WAL write). */
  private insert(run: string, records: readonly JournalRecord[]): void {
    const insert = this.q.append!;
    if (records.length === 1 || this.inTransaction) {
      for (const r of records) insert.run(run, r.key, r.inputHash, r.value);
      return;
    }
    this.transaction(() => {
      for (const r of records) insert.run(run, r.key, r.inputHash, r.value);
    });
  }

  countNodes(run: string): number {
    if (this.logDir !== undefined && readLog(logPath(this.logDir, run)).length > 0) return this.journal(run).length;
    return Number((this.q.countNodes!.get(run) as Row).n);
  }

  commitOffset(run: string, stream: string, offset: number): void {
    this.q.commitOffset!.run(run, stream, offset);
  }

  offsets(run: string): Map<string, number> {
    return new Map((this.q.offsets!.all(run) as Row[]).map((r) => [String(r.stream), Number(r.offset)]));
  }

  cacheGet(key: string, now: number): Uint8Array | undefined {
    const row = this.q.cacheGet!.get(key) as Row | undefined;
    if (!row) return undefined;
    if (Number(row.expires_at) <= now) {
      this.q.cacheDelete!.run(key);
      return undefined;
    }
    return row.value as Uint8Array;
  }

  cachePut(key: string, op: string, value: Uint8Array, expiresAt: number): void {
    this.q.cachePut!.run(key, op, value, expiresAt);
  }

  cacheClear(op?: string): number {
    return Number((op === undefined ? this.q.cacheClearAll!.run() : this.q.cacheClearOp!.run(op)).changes);
  }

  putDeadLetter(d: DeadLetterRecord): void {
    this.q.putDead!.run(d.run, d.node, d.index, d.input, d.error, d.errorType, d.attempts, d.at, d.status);
  }

  deadLetters(run?: string): DeadLetterRecord[] {
    const rows = (run === undefined ? this.q.deadAll!.all() : this.q.deadOfRun!.all(run)) as Row[];
    return rows
      .map((r) => ({
        run: String(r.run),
        node: String(r.node),
        index: Number(r.idx),
        input: r.input as Uint8Array,
        error: String(r.error),
        errorType: String(r.error_type),
        attempts: Number(r.attempts),
        at: Number(r.at),
        status: r.status as DeadLetterRecord["status"],
      }))
      .sort(byRunNodeIndex);
  }

  markReplayed(run: string, node: string, index: number): void {
    this.q.markReplayed!.run(run, node, index);
  }

  putApproval(a: ApprovalRecord): void {
    this.q.putApproval!.run(a.run, a.key, a.op, a.args, a.reason, a.status, a.requestedAt, a.decidedAt ?? null, a.by ?? null, a.why ?? null);
  }

  approval(run: string, key: string): ApprovalRecord | undefined {
    const row = this.q.approval!.get(run, key) as Row | undefined;
    return row && toApproval(row);
  }

  approvals(run?: string): ApprovalRecord[] {
    return ((run === undefined ? this.q.approvalsAll!.all() : this.q.approvalsOfRun!.all(run)) as Row[]).map(toApproval);
  }

  decide(run: string, key: string, status: "approved" | "denied", by: string, why: string | undefined, at: number): boolean {
    return Number(this.q.decide!.run(status, by, why ?? null, at, run, key).changes) === 1;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // A run still driven keeps its log: the next owner stores it in the table.
    for (const log of this.logs.values()) log.close();
    this.logs.clear();
    this.driven.clear();
    this.db.close();
  }
}

/** SQLITE_BUSY, or one of its extended codes (SQLITE_BUSY_SNAPSHOT, ...). */
function isBusy(error: unknown): boolean {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === "number" && (code & 0xff) === 5;
}

/**
 * Runs `step`, again while SQLite answers SQLITE_BUSY without having waited, for up to
 * `timeoutMs` (pauses of 1 ms doubling to 50 ms); past it, a busy error names the file.
 * Only for steps that are safe to repeat and run while opening (the process has nothing
 * else to do yet, so the pause blocks).
 */
function whileBusy(file: string, timeoutMs: number, step: () => void): void {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
    try {
      step();
      return;
    } catch (error) {
      if (!isBusy(error)) throw error;
      if (Date.now() >= deadline) throw new Error(`SqliteStore: ${file} stayed locked by another connection for ${timeoutMs} ms (busyTimeoutMs) while opening`, { cause: error });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause);
    }
  }
}

function toRun(r: Row): RunRecord {
  return {
    id: String(r.id),
    status: r.status as RunStatus,
    owner: r.owner === null ? undefined : String(r.owner),
    leaseUntil: Number(r.lease_until),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    result: r.result === null ? undefined : (r.result as Uint8Array),
    error: r.error === null ? undefined : String(r.error),
  };
}

function toApproval(r: Row): ApprovalRecord {
  return {
    run: String(r.run),
    key: String(r.key),
    op: String(r.op),
    args: String(r.args),
    reason: String(r.reason),
    status: r.status as ApprovalRecord["status"],
    requestedAt: Number(r.requested_at),
    decidedAt: r.decided_at === null ? undefined : Number(r.decided_at),
    by: r.by === null ? undefined : String(r.by),
    why: r.why === null ? undefined : String(r.why),
  };
}
