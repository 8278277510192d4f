/**
 * The durable store on Redis, for coordinators and workers on several machines: journal,
 * run leases, versions, result cache, dead letters and approvals in one shared place, so a
 * coordinator that dies can be resumed from another machine without repeating finished nodes.
 *
 * Same interface and conformance suite as the embedded stores. Every method answers with a
 * promise, on one ioredis connection opened at first use (one Redis round trip per store
 * call, pipelined when several are in flight). Lease changes and approval decisions are Lua
 * scripts, atomic across processes. Durability is Redis's: run it with `appendonly yes`
 * (the README's commands do) so an acknowledged append survives a Redis restart.
 *
 * Keys, under `prefix` (default `weft:durable`):
 *
 * | key | type | holds |
 * |---|---|---|
 * | `<p>:runs` | sorted set | run ids by creation time |
 * | `<p>:run:<id>` | hash | status, owner, leaseUntil, createdAt, updatedAt, result, error |
 * | `<p>:ver:<id>` | hash | subject -> version hash |
 * | `<p>:journal:<id>` | hash | node key -> input hash + value |
 * | `<p>:off:<id>` | hash | stream -> committed offset |
 * | `<p>:cache:<key>` | hash | op, value, expiresAt (and a Redis expiry when it is in the future) |
 * | `<p>:cacheops:<op>` / `<p>:cacheops` | sets | cache keys per op / ops with entries |
 * | `<p>:dead:<id>` / `<p>:deadruns` | hash / set | dead letters per run / runs with some |
 * | `<p>:appr:<id>` / `<p>:apprruns` | hash / set | approval records (JSON) per run / runs with some |
 */
import { serialize, deserialize } from "node:v8";
import type { Redis } from "ioredis";
import { openRedis, type RedisTarget } from "../remote/connection.js";
import { byRunNodeIndex, type Acquired, type ApprovalRecord, type DeadLetterRecord, type DurableStore, type JournalRecord, type RunRecord, type RunStatus } from "./store.js";

/**
 * Options of a Redis store.
 *
 * @example
 * ```ts
 * configureDurable({ store: new RedisStore({ redis: "redis://10.0.0.5:6379" }) });
 * ```
 */
export interface RedisStoreOptions {
  /** Default `$WEFT_REDIS_URL`, else `redis://127.0.0.1:6379`. */
  readonly redis?: RedisTarget;
  /** Key prefix, so several apps can share one Redis. Default `"weft:durable"`. */
  readonly prefix?: string;
  /** How long one store call may wait for Redis (through a restart) before it throws. Default 30,000 ms. */
  readonly timeoutMs?: number;
}

const OPTION_KEYS = new Set(["redis", "prefix", "timeoutMs"]);

// KEYS: run hash, runs zset. ARGV: run, owner, now, leaseMs.
// Returns {1, created, ...hash} when taken, {0, owner, until} when another owner's lease is live.
const ACQUIRE = `
local owner = redis.call('HGET', KEYS[1], 'owner')
local now = tonumber(ARGV[3])
if owner == false then
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'status', 'running', 'owner', ARGV[2], 'leaseUntil', now + tonumber(ARGV[4]), 'createdAt', now, 'updatedAt', now)
  redis.call('ZADD', KEYS[2], now, ARGV[1])
  return {1, 1, redis.call('HGETALL', KEYS[1])}
end
local untilMs = tonumber(redis.call('HGET', KEYS[1], 'leaseUntil'))
if owner ~= '' and owner ~= ARGV[2] and untilMs > now then return {0, owner, untilMs} end
redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'leaseUntil', now + tonumber(ARGV[4]), 'updatedAt', now)
if redis.call('HGET', KEYS[1], 'status') ~= 'completed' then redis.call('HSET', KEYS[1], 'status', 'running') end
return {1, 0, redis.call('HGETALL', KEYS[1])}
`;

// KEYS: run hash. ARGV: owner, then field/value pairs to set. Returns 1 when owner holds it.
const IF_OWNER = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] or ARGV[1] == '' then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
`;

// KEYS: run hash. ARGV: owner, status, now, hasResult, result, hasError, error.
const SETTLE = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] or ARGV[1] == '' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'owner', '', 'leaseUntil', 0, 'updatedAt', ARGV[3])
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'result', ARGV[5]) else redis.call('HDEL', KEYS[1], 'result') end
if ARGV[6] == '1' then redis.call('HSET', KEYS[1], 'error', ARGV[7]) else redis.call('HDEL', KEYS[1], 'error') end
return 1
`;

// KEYS: approvals hash. ARGV: key, status, by, why (or ''), hasWhy, at.
const DECIDE = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if raw == false then return 0 end
local record = cjson.decode(raw)
if record.status ~= 'pending' then return 0 end
record.status = ARGV[2]
record.by = ARGV[3]
if ARGV[5] == '1' then record.why = ARGV[4] else record.why = nil end
record.decidedAt = tonumber(ARGV[6])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
return 1
`;

// KEYS: offsets hash. ARGV: stream, offset. Offsets only move forward.
const COMMIT_OFFSET = `
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
if old == nil or tonumber(ARGV[2]) > old then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
`;

// KEYS: cache ops set. ARGV: prefix, op or ''. Deletes the entries of one op (or all); returns how many.
const CACHE_CLEAR = `
local ops
if ARGV[2] == '' then ops = redis.call('SMEMBERS', KEYS[1]) else ops = {ARGV[2]} end
local n = 0
for _, op in ipairs(ops) do
  local set = ARGV[1] .. ':cacheops:' .. op
  for _, key in ipairs(redis.call('SMEMBERS', set)) do
    local k = ARGV[1] .. ':cache:' .. key
    if redis.call('HGET', k, 'op') == op then n = n + redis.call('DEL', k) end
  end
  redis.call('DEL', set)
  redis.call('SREM', KEYS[1], op)
end
return n
`;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One Redis command: its name and arguments. */
type Command = readonly [name: string, ...args: (string | number | Uint8Array)[]];

/** A reply: bytes for bulk strings, numbers for integers, arrays, or null. */
type Reply = Uint8Array | number | null | Reply[];

/** A bulk reply as text (`undefined` for null). */
function text(reply: Reply | undefined): string | undefined {
  if (reply === null || reply === undefined) return undefined;
  if (reply instanceof Uint8Array) return decoder.decode(reply);
  return String(reply);
}

const wire = (args: readonly (string | number | Uint8Array)[]): (string | number | Buffer)[] =>
  args.map((a) => (a instanceof Uint8Array ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : a));

/**
 * A durable store on Redis.
 *
 * @example
 * ```ts
 * const store = new RedisStore({ redis: "redis://127.0.0.1:6379" });
 * await durable({ run: "nightly", store }, () => pipeline(question));
 * await store.close();
 * ```
 */
export class RedisStore implements DurableStore {
  private readonly target: RedisTarget;
  private readonly timeoutMs: number;
  private readonly p: string;
  private client: Promise<Redis> | undefined;
  private closed = false;

  constructor(options: RedisStoreOptions = {}) {
    for (const key of Object.keys(options)) if (!OPTION_KEYS.has(key)) throw new TypeError(`RedisStore: unknown option ${JSON.stringify(key)} (expected ${[...OPTION_KEYS].join(", ")})`);
    this.p = options.prefix ?? "weft:durable";
    this.target = options.redis ?? process.env.WEFT_REDIS_URL ?? "redis://127.0.0.1:6379";
    this.timeoutMs = options.timeoutMs ?? 30_000;
    if (!(this.timeoutMs > 0)) throw new RangeError(`RedisStore: timeoutMs must be > 0, received ${this.timeoutMs}`);
  }

  private k(...parts: string[]): string {
    return [this.p, ...parts].join(":");
  }

  private connection(): Promise<Redis> {
    if (this.closed) return Promise.reject(new Error("weft: the Redis store was closed"));
    this.client ??= openRedis(this.target, { commandTimeout: this.timeoutMs });
    return this.client;
  }

  /** Runs one command; bulk replies as bytes. */
  private async call(command: Command): Promise<Reply> {
    const [name, ...args] = command;
    const client = await this.connection();
    return (await client.callBuffer(name, ...wire(args)).catch(failed)) as Reply;
  }

  /** Runs commands in one hop (a pipeline, or a MULTI/EXEC transaction: all or none). */
  private async batch(commands: readonly Command[], transaction: boolean): Promise<Reply[]> {
    if (commands.length === 0) return [];
    const client = await this.connection();
    const batch = transaction ? client.multi() : client.pipeline();
    for (const [name, ...args] of commands) batch.callBuffer(name, ...wire(args));
    const out = (await batch.exec().catch(failed)) ?? [];
    if (transaction && out.length === 0) throw new Error("weft: Redis: the transaction was aborted");
    return out.map(([error, value]) => {
      if (error) failed(error);
      return value as Reply;
    });
  }

  async acquire(run: string, owner: string, now: number, leaseMs: number): Promise<Acquired> {
    const reply = (await this.call(["EVAL", ACQUIRE, 2, this.k("run", run), this.k("runs"), run, owner, now, leaseMs])) as Reply[];
    if (reply[0] === 0) return { ok: false, owner: text(reply[1])!, until: Number(reply[2]) };
    return { ok: true, created: reply[1] === 1, run: runOf(run, reply[2] as Reply[]) };
  }

  async renew(run: string, owner: string, until: number): Promise<boolean> {
    return (await this.call(["EVAL", IF_OWNER, 1, this.k("run", run), owner, "leaseUntil", until])) === 1;
  }

  async settle(run: string, owner: string, status: RunStatus, now: number, result?: Uint8Array, error?: string): Promise<boolean> {
    const args: Command = ["EVAL", SETTLE, 1, this.k("run", run), owner, status, now, result ? "1" : "0", result ?? "", error !== undefined ? "1" : "0", error ?? ""];
    return (await this.call(args)) === 1;
  }

  async setStatus(run: string, owner: string, status: "running" | "suspended", now: number): Promise<boolean> {
    return (await this.call(["EVAL", IF_OWNER, 1, this.k("run", run), owner, "status", status, "updatedAt", now])) === 1;
  }

  async reopen(run: string, now: number): Promise<void> {
    const key = this.k("run", run);
    if ((await this.call(["EXISTS", key])) !== 1) return;
    await this.batch(
      [
        ["HSET", key, "status", "failed", "updatedAt", now],
        ["HDEL", key, "result"],
      ],
      true,
    );
  }

  async getRun(run: string): Promise<RunRecord | undefined> {
    const fields = (await this.call(["HGETALL", this.k("run", run)])) as Reply[];
    return fields.length === 0 ? undefined : runOf(run, fields);
  }

  async listRuns(): Promise<RunRecord[]> {
    const ids = ((await this.call(["ZRANGE", this.k("runs"), 0, -1])) as Reply[]).map((r) => text(r)!);
    const all = await this.batch(
      ids.map((id) => ["HGETALL", this.k("run", id)] as const),
      false,
    );
    return ids.map((id, i) => runOf(id, all[i] as Reply[])).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  async versions(run: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const fields = (await this.call(["HGETALL", this.k("ver", run)])) as Reply[];
    for (let i = 0; i < fields.length; i += 2) out.set(text(fields[i])!, text(fields[i + 1])!);
    return out;
  }

  async recordVersion(run: string, subject: string, hash: string): Promise<void> {
    await this.call(["HSET", this.k("ver", run), subject, hash]);
  }

  async journal(run: string): Promise<JournalRecord[]> {
    const fields = (await this.call(["HGETALL", this.k("journal", run)])) as Reply[];
    const out: JournalRecord[] = [];
    for (let i = 0; i < fields.length; i += 2) out.push({ key: text(fields[i])!, ...unpackNode(fields[i + 1] as Uint8Array) });
    return out;
  }

  async append(run: string, records: readonly JournalRecord[]): Promise<void> {
    if (records.length === 0) return;
    // One HSET: all the records are stored, or none.
    await this.call(["HSET", this.k("journal", run), ...records.flatMap((r) => [r.key, packNode(r.inputHash, r.value)])]);
  }

  async commitOffset(run: string, stream: string, offset: number): Promise<void> {
    await this.call(["EVAL", COMMIT_OFFSET, 1, this.k("off", run), stream, offset]);
  }

  async offsets(run: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const fields = (await this.call(["HGETALL", this.k("off", run)])) as Reply[];
    for (let i = 0; i < fields.length; i += 2) out.set(text(fields[i])!, Number(text(fields[i + 1])));
    return out;
  }

  async countNodes(run: string): Promise<number> {
    return (await this.call(["HLEN", this.k("journal", run)])) as number;
  }

  async cacheGet(key: string, now: number): Promise<Uint8Array | undefined> {
    const [value, expiresAt] = (await this.call(["HMGET", this.k("cache", key), "value", "expiresAt"])) as Reply[];
    if (value === null || value === undefined) return undefined;
    if (Number(text(expiresAt)) <= now) {
      await this.call(["DEL", this.k("cache", key)]);
      return undefined;
    }
    return copy(value as Uint8Array);
  }

  async cachePut(key: string, op: string, value: Uint8Array, expiresAt: number): Promise<void> {
    const k = this.k("cache", key);
    const cmds: Command[] = [
      ["DEL", k],
      ["HSET", k, "op", op, "value", value, "expiresAt", expiresAt],
      ["SADD", this.k("cacheops", op), key],
      ["SADD", this.k("cacheops"), op],
    ];
    // Entries expiring in real time also leave Redis then, rather than wait for a read.
    if (expiresAt > Date.now()) cmds.push(["PEXPIREAT", k, Math.ceil(expiresAt)]);
    await this.batch(cmds, true);
  }

  async cacheClear(op?: string): Promise<number> {
    return (await this.call(["EVAL", CACHE_CLEAR, 1, this.k("cacheops"), this.p, op ?? ""])) as number;
  }

  async putDeadLetter(record: DeadLetterRecord): Promise<void> {
    await this.batch(
      [
        ["HSET", this.k("dead", record.run), `${record.node}\0${record.index}`, serialize(record)],
        ["SADD", this.k("deadruns"), record.run],
      ],
      true,
    );
  }

  async deadLetters(run?: string): Promise<DeadLetterRecord[]> {
    const runs = run === undefined ? ((await this.call(["SMEMBERS", this.k("deadruns")])) as Reply[]).map((r) => text(r)!) : [run];
    const all = await this.batch(
      runs.map((r) => ["HVALS", this.k("dead", r)] as const),
      false,
    );
    return all.flatMap((values) => (values as Reply[]).map((v) => deserialize(v as Uint8Array) as DeadLetterRecord)).sort(byRunNodeIndex);
  }

  async markReplayed(run: string, node: string, index: number): Promise<void> {
    const field = `${node}\0${index}`;
    const raw = await this.call(["HGET", this.k("dead", run), field]);
    if (!(raw instanceof Uint8Array)) return;
    const record = deserialize(raw) as DeadLetterRecord;
    await this.call(["HSET", this.k("dead", run), field, serialize({ ...record, status: "replayed" })]);
  }

  async putApproval(record: ApprovalRecord): Promise<void> {
    await this.batch(
      [
        ["HSET", this.k("appr", record.run), record.key, JSON.stringify(record)],
        ["SADD", this.k("apprruns"), record.run],
      ],
      true,
    );
  }

  async approval(run: string, key: string): Promise<ApprovalRecord | undefined> {
    const raw = text((await this.call(["HGET", this.k("appr", run), key])) as Reply);
    return raw === undefined ? undefined : approvalOf(raw);
  }

  async approvals(run?: string): Promise<ApprovalRecord[]> {
    const runs = run === undefined ? ((await this.call(["SMEMBERS", this.k("apprruns")])) as Reply[]).map((r) => text(r)!) : [run];
    const all = await this.batch(
      runs.map((r) => ["HVALS", this.k("appr", r)] as const),
      false,
    );
    return all
      .flatMap((values) => (values as Reply[]).map((v) => approvalOf(text(v)!)))
      .sort((a, b) => a.requestedAt - b.requestedAt || a.key.localeCompare(b.key));
  }

  async decide(run: string, key: string, status: "approved" | "denied", by: string, why: string | undefined, at: number): Promise<boolean> {
    return (await this.call(["EVAL", DECIDE, 1, this.k("appr", run), key, status, by, why ?? "", why === undefined ? "0" : "1", at])) === 1;
  }

  /** Closes the connection (after the commands in flight are answered). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const client = await this.client?.catch(() => undefined);
    if (client) await client.quit().catch(() => client.disconnect());
  }
}

/** A Redis error as the store reports it. */
function failed(error: unknown): never {
  throw new Error(`weft: Redis: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

function runOf(id: string, fields: readonly Reply[]): RunRecord {
  const m = new Map<string, Reply>();
  for (let i = 0; i < fields.length; i += 2) m.set(text(fields[i])!, fields[i + 1]!);
  const owner = text(m.get("owner"));
  const result = m.get("result");
  return {
    id,
    status: text(m.get("status")) as RunStatus,
    owner: owner === "" ? undefined : owner,
    leaseUntil: Number(text(m.get("leaseUntil")) ?? 0),
    createdAt: Number(text(m.get("createdAt")) ?? 0),
    updatedAt: Number(text(m.get("updatedAt")) ?? 0),
    result: result instanceof Uint8Array ? copy(result) : undefined,
    error: text(m.get("error")),
  };
}

/** An approval as stored: JSON has no `undefined`, so absent fields come back as it. */
function approvalOf(raw: string): ApprovalRecord {
  const r = JSON.parse(raw) as Partial<ApprovalRecord>;
  return {
    run: r.run!,
    key: r.key!,
    op: r.op!,
    args: r.args!,
    reason: r.reason!,
    status: r.status!,
    requestedAt: r.requestedAt!,
    decidedAt: r.decidedAt ?? undefined,
    by: r.by ?? undefined,
    why: r.why ?? undefined,
  };
}

/** A journal value: 4 bytes of input-hash length, the hash, then the value. */
function packNode(inputHash: string, value: Uint8Array): Uint8Array {
  const hash = encoder.encode(inputHash);
  const out = new Uint8Array(4 + hash.length + value.length);
  new DataView(out.buffer).setUint32(0, hash.length);
  out.set(hash, 4);
  out.set(value, 4 + hash.length);
  return out;
}

function unpackNode(bytes: Uint8Array): { inputHash: string; value: Uint8Array } {
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  return { inputHash: new TextDecoder().decode(bytes.subarray(4, 4 + n)), value: copy(bytes.subarray(4 + n)) };
}

/** A plain Uint8Array over its own buffer (what the other stores return). */
function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}
