/**
 * The conformance suite every durable store passes (see `DurableStore` in
 * runtime/durable/store.ts): leases, journal, versions, stream offsets, cache expiry, dead
 * letters and approvals behave the same on each. Every call is awaited, so a store may answer
 * synchronously or with promises.
 *
 * A store adds itself with one call, in its own test file:
 *
 *   describeStoreConformance("RedisStore", async () => new RedisStore(await redisUrl()), { skip: reason });
 */
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { DurableStore } from "weft";

const bytes = (...xs: number[]) => new Uint8Array(xs);

/** Options of the suite. */
export interface ConformanceOptions {
  /** Skips the suite, saying why (e.g. no server to test against). */
  readonly skip?: string | undefined;
}

/**
 * Registers the conformance suite for one store. `make` returns a fresh store holding no
 * data (a new file, a new key prefix, ...); the suite closes it after each test.
 *
 * @example
 * ```ts
 * describeStoreConformance("MemoryStore", () => new MemoryStore());
 * ```
 */
export function describeStoreConformance(name: string, make: () => DurableStore | Promise<DurableStore>, options: ConformanceOptions = {}): void {
  (options.skip ? describe.skip : describe)(options.skip ? `${name} (skipped: ${options.skip})` : name, () => {
    let store: DurableStore;
    beforeEach(async () => {
      store = await make();
    });
    afterEach(async () => {
      await store.close();
    });

    test("a lease is exclusive until it expires or is given up; renewing needs to hold it", async () => {
      expect(await store.acquire("r", "a", 0, 100)).toMatchObject({ ok: true, created: true, run: { status: "running", owner: "a", leaseUntil: 100 } });
      expect(await store.acquire("r", "b", 50, 100)).toEqual({ ok: false, owner: "a", until: 100 });
      expect(await store.renew("r", "a", 300)).toBe(true);
      expect(await store.acquire("r", "b", 200, 100)).toEqual({ ok: false, owner: "a", until: 300 });
      expect(await store.acquire("r", "b", 301, 100)).toMatchObject({ ok: true, created: false, run: { owner: "b" } });
      expect(await store.renew("r", "a", 500)).toBe(false);
      expect(await store.settle("r", "a", "failed", 302)).toBe(false);
      expect(await store.setStatus("r", "a", "suspended", 302)).toBe(false);
      expect(await store.setStatus("r", "b", "suspended", 302)).toBe(true);
      expect(await store.getRun("r")).toMatchObject({ status: "suspended", owner: "b" });
      expect(await store.settle("r", "b", "completed", 303, bytes(1, 2), undefined)).toBe(true);
      expect(await store.getRun("r")).toMatchObject({ status: "completed", owner: undefined, result: bytes(1, 2) });
      // A completed run keeps its status when taken again (to hand out its result).
      expect(await store.acquire("r", "c", 304, 100)).toMatchObject({ ok: true, run: { status: "completed" } });
      await store.settle("r", "c", "completed", 305, bytes(1, 2));
      await store.reopen("r", 306);
      expect(await store.getRun("r")).toMatchObject({ status: "failed", result: undefined });
      expect(await store.getRun("missing")).toBeUndefined();
    });

    test("of owners racing for a free lease, exactly one gets it", async () => {
      const outcomes = await Promise.all(["a", "b", "c", "d"].map((owner) => store.acquire("race", owner, 0, 100)));
      const winners = outcomes.filter((o) => o.ok);
      expect(winners.length).toBe(1);
      const winner = (winners[0] as { run: { owner: string } }).run.owner;
      for (const o of outcomes) if (!o.ok) expect(o).toEqual({ ok: false, owner: winner, until: 100 });
    });

    test("runs are listed oldest first; a failed run keeps its error", async () => {
      await store.acquire("second", "a", 20, 100);
      await store.acquire("first", "a", 10, 100);
      await store.acquire("also-first", "a", 10, 100);
      await store.settle("first", "a", "failed", 30, undefined, "OpError: boom");
      expect((await store.listRuns()).map((r) => r.id)).toEqual(["also-first", "first", "second"]);
      expect(await store.getRun("first")).toMatchObject({ status: "failed", error: "OpError: boom", owner: undefined, createdAt: 10, updatedAt: 30 });
    });

    test("the journal keeps one record per key, the latest; a batch is stored whole", async () => {
      await store.append("r", [{ key: "a", inputHash: "h1", value: bytes(1) }]);
      await store.append("r", [
        { key: "b", inputHash: "h2", value: bytes(2) },
        { key: "a", inputHash: "h3", value: bytes(3) },
        { key: "c", inputHash: "h4", value: bytes(4) },
        { key: "c", inputHash: "h5", value: bytes(5) },
      ]);
      await store.append("other", [{ key: "a", inputHash: "h", value: bytes(9) }]);
      await store.append("r", []);
      expect((await store.journal("r")).sort((x, y) => x.key.localeCompare(y.key))).toEqual([
        { key: "a", inputHash: "h3", value: bytes(3) },
        { key: "b", inputHash: "h2", value: bytes(2) },
        { key: "c", inputHash: "h5", value: bytes(5) },
      ]);
      expect(await store.countNodes("r")).toBe(3);
      expect(await store.countNodes("none")).toBe(0);
      expect(await store.journal("none")).toEqual([]);
    });

    test("stored bytes come back equal, whatever their size and content", async () => {
      const big = new Uint8Array(200_000).map((_, i) => (i * 31) % 256);
      await store.append("r", [{ key: "k".repeat(500), inputHash: "h", value: big }]);
      await store.append("r", [{ key: "empty", inputHash: "h", value: new Uint8Array(0) }]);
      const journal = new Map((await store.journal("r")).map((r) => [r.key, r.value]));
      expect(Buffer.from(journal.get("k".repeat(500))!).equals(Buffer.from(big))).toBe(true);
      expect(journal.get("empty")!.byteLength).toBe(0);
    });

    test("versions keep the latest hash per subject", async () => {
      await store.recordVersion("r", "op x", "1");
      await store.recordVersion("r", "op x", "2");
      await store.recordVersion("r", "plan p", "3");
      expect([...(await store.versions("r"))].sort()).toEqual([
        ["op x", "2"],
        ["plan p", "3"],
      ]);
      expect((await store.versions("none")).size).toBe(0);
    });

    test("stream offsets are kept per run and stream, and only move forward", async () => {
      await store.commitOffset("r", "questions", 10);
      await store.commitOffset("r", "questions", 32);
      await store.commitOffset("r", "questions", 20);
      await store.commitOffset("r", "answers", 0);
      await store.commitOffset("s", "questions", 5);
      expect([...(await store.offsets("r"))].sort()).toEqual([
        ["answers", 0],
        ["questions", 32],
      ]);
      expect([...(await store.offsets("s"))]).toEqual([["questions", 5]]);
      expect((await store.offsets("none")).size).toBe(0);
    });

    test("cached values expire and clear by op", async () => {
      await store.cachePut("k1", "op-a", bytes(1), 100);
      await store.cachePut("k2", "op-b", bytes(2), 100);
      expect(await store.cacheGet("k1", 99)).toEqual(bytes(1));
      expect(await store.cacheGet("k1", 100)).toBeUndefined();
      expect(await store.cacheClear("op-b")).toBe(1);
      expect(await store.cacheGet("k2", 0)).toBeUndefined();
      await store.cachePut("k3", "op-a", bytes(3), 1000);
      await store.cachePut("k3", "op-a", bytes(4), 1000);
      expect(await store.cacheGet("k3", 0)).toEqual(bytes(4));
      expect(await store.cacheClear()).toBe(1);
    });

    test("dead letters are kept per run, node and index, and marked when replayed", async () => {
      const letter = { run: "r", node: "v#0", index: 2, input: bytes(7), error: "boom", errorType: "OpError", attempts: 3, at: 5, status: "open" as const };
      await store.putDeadLetter(letter);
      await store.putDeadLetter({ ...letter, index: 10 });
      await store.putDeadLetter({ ...letter, index: 1 });
      await store.putDeadLetter({ ...letter, run: "s" });
      // Same run, node and index: updated, not added.
      await store.putDeadLetter({ ...letter, index: 1, attempts: 4 });
      expect((await store.deadLetters("r")).map((d) => [d.index, d.attempts])).toEqual([
        [1, 4],
        [2, 3],
        [10, 3],
      ]);
      expect((await store.deadLetters()).map((d) => `${d.run}${d.index}`)).toEqual(["r1", "r2", "r10", "s2"]);
      await store.markReplayed("r", "v#0", 2);
      expect((await store.deadLetters("r"))[1]).toEqual({ ...letter, status: "replayed" });
    });

    test("an approval request is decided once, with who, when and why", async () => {
      await store.putApproval({ run: "r", key: "k", op: "wire", args: "[5]", reason: "big", status: "pending", requestedAt: 1, decidedAt: undefined, by: undefined, why: undefined });
      await store.putApproval({ run: "r", key: "j", op: "wire", args: "[6]", reason: "big", status: "pending", requestedAt: 2, decidedAt: undefined, by: undefined, why: undefined });
      expect(await store.decide("r", "k", "approved", "ada", "fine", 2)).toBe(true);
      expect(await store.decide("r", "k", "denied", "bob", "no", 3)).toBe(false);
      expect(await store.decide("r", "missing", "denied", "bob", "no", 3)).toBe(false);
      expect(await store.decide("r", "j", "denied", "bob", undefined, 4)).toBe(true);
      expect(await store.approval("r", "k")).toEqual({ run: "r", key: "k", op: "wire", args: "[5]", reason: "big", status: "approved", requestedAt: 1, decidedAt: 2, by: "ada", why: "fine" });
      expect(await store.approval("r", "j")).toMatchObject({ status: "denied", by: "bob", why: undefined, decidedAt: 4 });
      expect((await store.approvals("r")).map((a) => a.key)).toEqual(["k", "j"]);
      expect(await store.approvals("s")).toEqual([]);
      expect(await store.approval("r", "missing")).toBeUndefined();
    });
  });
}

/**
 * `store` answering every call with a promise settled on a later turn of the event loop, as
 * a store on a server does: runs the durable suites through the runtime's asynchronous paths.
 */
export function answeringLater(store: DurableStore): DurableStore {
  return new Proxy(store, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) =>
        new Promise((resolve, reject) =>
          setImmediate(() => {
            try {
              resolve((value as (...a: unknown[]) => unknown).apply(target, args));
            } catch (error) {
              reject(error instanceof Error ? error : new Error(String(error)));
            }
          }),
        );
    },
  });
}
