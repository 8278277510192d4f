/**
 * One conformance suite for every durable store (in memory, SQLite and Redis): leases,
 * journal, versions, cache expiry, dead letters and approvals behave the same on each.
 * The Redis store runs against a private redis-server (test/support/redis.ts); it is
 * skipped, loudly, only where none can be installed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { MemoryStore, RedisStore, SqliteStore, type DurableStore } from "weft";
import { redisSkip, startRedis, type TestRedis } from "../support/redis.js";

const dir = mkdtempSync(path.join(tmpdir(), "weft-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
let redis: TestRedis | undefined;
beforeAll(async () => {
  if (!redisSkip) redis = await startRedis();
}, 30_000);
afterAll(() => redis?.dispose());

const bytes = (...xs: number[]) => new Uint8Array(xs);

describe.each<[string, () => DurableStore]>([
  ["MemoryStore", () => new MemoryStore()],
  ["SqliteStore", () => new SqliteStore(path.join(dir, `s${n++}.db`))],
  // A fresh key prefix per test: the same isolation as a fresh file.
  ["RedisStore", () => new RedisStore({ redis: redis!.url, prefix: `t${n++}` })],
])("%s", (name, make) => {
  if (name === "RedisStore" && redisSkip) {
    test.skip(`skipped: ${redisSkip}`, () => undefined);
    return;
  }
  let store: DurableStore;
  beforeEach(() => {
    store = make();
  });
  afterEach(() => store.close());

  test("a lease is exclusive until it expires or is given up; renewing needs to hold it", () => {
    expect(store.acquire("r", "a", 0, 100)).toMatchObject({ ok: true, created: true, run: { status: "running", owner: "a", leaseUntil: 100 } });
    expect(store.acquire("r", "b", 50, 100)).toEqual({ ok: false, owner: "a", until: 100 });
    expect(store.renew("r", "a", 300)).toBe(true);
    expect(store.acquire("r", "b", 200, 100)).toEqual({ ok: false, owner: "a", until: 300 });
    expect(store.acquire("r", "b", 301, 100)).toMatchObject({ ok: true, created: false, run: { owner: "b" } });
    expect(store.renew("r", "a", 500)).toBe(false);
    expect(store.settle("r", "a", "failed", 302)).toBe(false);
    expect(store.setStatus("r", "a", "suspended", 302)).toBe(false);
    expect(store.setStatus("r", "b", "suspended", 302)).toBe(true);
    expect(store.getRun("r")).toMatchObject({ status: "suspended", owner: "b" });
    expect(store.settle("r", "b", "completed", 303, bytes(1, 2), undefined)).toBe(true);
    expect(store.getRun("r")).toMatchObject({ status: "completed", owner: undefined, result: bytes(1, 2) });
    // A completed run keeps its status when taken again (to hand out its result).
    expect(store.acquire("r", "c", 304, 100)).toMatchObject({ ok: true, run: { status: "completed" } });
    store.settle("r", "c", "completed", 305, bytes(1, 2));
    store.reopen("r", 306);
    expect(store.getRun("r")).toMatchObject({ status: "failed", result: undefined });
    expect(store.listRuns().map((r) => r.id)).toEqual(["r"]);
  });

  test("the journal keeps one record per key, the latest; versions likewise", () => {
    store.append("r", { key: "a", inputHash: "h1", value: bytes(1) });
    store.append("r", { key: "b", inputHash: "h2", value: bytes(2) });
    store.append("r", { key: "a", inputHash: "h3", value: bytes(3) });
    store.append("other", { key: "a", inputHash: "h", value: bytes(9) });
    expect(store.journal("r").sort((x, y) => x.key.localeCompare(y.key))).toEqual([
      { key: "a", inputHash: "h3", value: bytes(3) },
      { key: "b", inputHash: "h2", value: bytes(2) },
    ]);
    expect(store.countNodes("r")).toBe(2);
    store.recordVersion("r", "op x", "1");
    store.recordVersion("r", "op x", "2");
    expect([...store.versions("r")]).toEqual([["op x", "2"]]);
  });

  test("cached values expire and clear by op", () => {
    store.cachePut("k1", "op-a", bytes(1), 100);
    store.cachePut("k2", "op-b", bytes(2), 100);
    expect(store.cacheGet("k1", 99)).toEqual(bytes(1));
    expect(store.cacheGet("k1", 100)).toBeUndefined();
    expect(store.cacheClear("op-b")).toBe(1);
    expect(store.cacheGet("k2", 0)).toBeUndefined();
    store.cachePut("k3", "op-a", bytes(3), 1000);
    expect(store.cacheClear()).toBe(1);
  });

  test("dead letters are kept per run, node and index, and marked when replayed", () => {
    const letter = { run: "r", node: "v#0", index: 2, input: bytes(7), error: "boom", errorType: "OpError", attempts: 3, at: 5, status: "open" as const };
    store.putDeadLetter(letter);
    store.putDeadLetter({ ...letter, index: 1 });
    store.putDeadLetter({ ...letter, run: "s" });
    expect(store.deadLetters("r").map((d) => d.index)).toEqual([1, 2]);
    expect(store.deadLetters().length).toBe(3);
    store.markReplayed("r", "v#0", 2);
    expect(store.deadLetters("r")).toEqual([{ ...letter, index: 1 }, { ...letter, status: "replayed" }]);
  });

  test("an approval request is decided once, with who, when and why", () => {
    store.putApproval({ run: "r", key: "k", op: "wire", args: "[5]", reason: "big", status: "pending", requestedAt: 1, decidedAt: undefined, by: undefined, why: undefined });
    expect(store.decide("r", "k", "approved", "ada", "fine", 2)).toBe(true);
    expect(store.decide("r", "k", "denied", "bob", "no", 3)).toBe(false);
    expect(store.decide("r", "missing", "denied", "bob", "no", 3)).toBe(false);
    expect(store.approval("r", "k")).toEqual({ run: "r", key: "k", op: "wire", args: "[5]", reason: "big", status: "approved", requestedAt: 1, decidedAt: 2, by: "ada", why: "fine" });
    expect(store.approvals("r").length).toBe(1);
    expect(store.approvals("s")).toEqual([]);
  });
});

test("SqliteStore refuses unknown options and a bad synchronous mode", () => {
  expect(() => new SqliteStore(path.join(dir, "x.db"), { sync: "FULL" } as never)).toThrow(/unknown option "sync"/);
  expect(() => new SqliteStore(path.join(dir, "y.db"), { synchronous: "OFF" as never })).toThrow(/synchronous must be "NORMAL" or "FULL"/);
});

test("SqliteStore uses WAL with synchronous NORMAL by default and FULL on request", async () => {
  const { DatabaseSync } = await import("node:sqlite");
  for (const [mode, expected] of [[undefined, 1], ["FULL", 2]] as const) {
    const file = path.join(dir, `mode-${mode ?? "default"}.db`);
    const store = new SqliteStore(file, mode ? { synchronous: mode } : {});
    // synchronous is per connection: read it through the store's own connection.
    const db = (store as unknown as { db: InstanceType<typeof DatabaseSync> }).db;
    expect(db.prepare("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(db.prepare("PRAGMA synchronous").get()).toEqual({ synchronous: expected });
    store.close();
  }
});
