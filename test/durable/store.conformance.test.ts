/**
 * The durable store conformance suite (test/durable/store-conformance.ts) on the embedded
 * stores, and what is particular to SQLite.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
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

test("SqliteStore opens a file while another connection holds its write lock before WAL, waiting rather than failing", async () => {
  // The moment two processes open one new file: the first holds the write lock (switching
  // the file to WAL), and the second's switch needs it from inside a read, where SQLite
  // answers SQLITE_BUSY at once instead of waiting out the busy timeout. Here another
  // connection (a thread) holds the write lock of a file still in rollback mode for a moment.
  const file = path.join(dir, "opening.db");
  const holder = new Worker(
    `const { DatabaseSync } = process.getBuiltinModule("node:sqlite");
     const { parentPort, workerData } = require("node:worker_threads");
     const db = new DatabaseSync(workerData);
     db.exec("CREATE TABLE held (x); BEGIN IMMEDIATE; INSERT INTO held VALUES (1)");
     parentPort.postMessage("held");
     Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
     db.exec("COMMIT");
     db.close();`,
    { eval: true, workerData: file },
  );
  try {
    await new Promise((resolve, reject) => holder.once("message", resolve).once("error", reject));
    const store = new SqliteStore(file);
    try {
      expect(store.acquire("opened", "me", 0, 1000)).toMatchObject({ ok: true, created: true });
      const db = (store as unknown as { db: { prepare(sql: string): { get(): unknown } } }).db;
      expect(db.prepare("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    } finally {
      store.close();
    }
  } finally {
    await holder.terminate();
  }
});
