/**
 * The durable store conformance suite (test/durable/store-conformance.ts) on the embedded
 * stores, and what is particular to SQLite.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import { MemoryStore, SqliteStore } from "weft";
import { answeringLater, describeStoreConformance } from "./store-conformance.js";

const dir = mkdtempSync(path.join(tmpdir(), "weft-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

describeStoreConformance("MemoryStore", () => new MemoryStore());
describeStoreConformance("SqliteStore", () => new SqliteStore(path.join(dir, `s${n++}.db`)));
describeStoreConformance("a store answering with promises", () => answeringLater(new MemoryStore()));

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
