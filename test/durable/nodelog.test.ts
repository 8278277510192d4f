/**
 * The SQLite store's node log (runtime/durable/nodelog.ts): framing that survives a torn
 * tail, records visible to every reader before they reach the table, and the log stored in
 * the table when the run settles or changes hands, including a log a crash left half taken.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import { SqliteStore, type JournalRecord } from "weft";
import { frame, logPath, NodeLog, parse, readLog } from "../../runtime/durable/nodelog.js";

const dir = mkdtempSync(path.join(tmpdir(), "weft-nodelog-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const rec = (key: string, ...value: number[]): JournalRecord => ({ key, inputHash: `h-${key}`, value: new Uint8Array(value) });
const sorted = (records: JournalRecord[]) => [...records].sort((a, b) => a.key.localeCompare(b.key));

test("frames round-trip; a torn or damaged frame ends the log, never yields a wrong record", () => {
  const records = [rec("run(r)/a#0", 1, 2, 3), rec("run(r)/ü#1"), rec("k".repeat(300), ...new Array(500).fill(7))];
  const bytes = frame(records);
  expect(parse(bytes)).toEqual(records);
  // Cut anywhere inside the last frame: the first two remain.
  for (const cut of [1, 5, 9, 200]) expect(parse(bytes.subarray(0, bytes.length - cut))).toEqual(records.slice(0, 2));
  const damaged = Buffer.from(bytes);
  damaged[frame(records.slice(0, 1)).length + 12]! ^= 0xff;
  expect(parse(damaged)).toEqual(records.slice(0, 1));
  expect(parse(Buffer.alloc(0))).toEqual([]);
});

test("a node log appends whole batches and reads back through its own descriptor", () => {
  const file = path.join(dir, `log-${n++}.log`);
  const log = new NodeLog(file, false);
  log.append([rec("a", 1)]);
  log.append([rec("b", 2), rec("a", 3)]);
  expect(log.records()).toEqual([rec("a", 1), rec("b", 2), rec("a", 3)]);
  expect(readLog(file)).toEqual(log.records());
  log.clear();
  expect(readLog(file)).toEqual([]);
  log.append([rec("c", 4)]);
  expect(readLog(file)).toEqual([rec("c", 4)]);
  log.close();
  // Opened on a log that holds records already, it reads them from the file.
  const again = new NodeLog(file, false);
  again.append([rec("d", 5)]);
  expect(again.records()).toEqual([rec("c", 4), rec("d", 5)]);
  again.close();
});

test("appends after a drive's first are in the log until the run settles, visible to other connections, then in the table with the log gone", () => {
  const file = path.join(dir, `s${n++}.db`);
  const store = new SqliteStore(file);
  const reader = new SqliteStore(file);
  store.acquire("r", "me", 0, 1000);
  store.append("r", [rec("first", 0)]);
  store.append("r", [rec("a", 1), rec("b", 2)]);
  store.append("r", [rec("a", 3)]);
  const log = logPath(`${file}.nodes`, "r");
  expect(readLog(log).length).toBe(3);
  expect(sorted(reader.journal("r") as JournalRecord[])).toEqual([rec("a", 3), rec("b", 2), rec("first", 0)]);
  expect(reader.countNodes("r")).toBe(3);
  expect(store.settle("r", "me", "completed", 1)).toBe(true);
  expect(existsSync(log)).toBe(false);
  expect(sorted(reader.journal("r") as JournalRecord[])).toEqual([rec("a", 3), rec("b", 2), rec("first", 0)]);
  expect(reader.countNodes("r")).toBe(3);
  store.close();
  reader.close();
});

test("a run taken over from a dead owner gets the dead owner's log into the table; its late writes are lost, not mixed in", () => {
  const file = path.join(dir, `s${n++}.db`);
  const dead = new SqliteStore(file);
  dead.acquire("r", "dead", 0, 100);
  dead.append("r", [rec("first", 0)]);
  dead.append("r", [rec("a", 1)]);
  expect(readLog(logPath(`${file}.nodes`, "r"))).toEqual([rec("a", 1)]);
  const next = new SqliteStore(file);
  expect(next.acquire("r", "next", 50, 100)).toMatchObject({ ok: false });
  expect(next.acquire("r", "next", 200, 100)).toMatchObject({ ok: true });
  expect(readdirSync(`${file}.nodes`)).toEqual([]);
  // The old owner, stalled rather than dead, writes on: to the file the new owner took away.
  dead.append("r", [rec("late", 9)]);
  next.append("r", [rec("b", 2)]);
  expect(sorted(next.journal("r") as JournalRecord[])).toEqual([rec("a", 1), rec("b", 2), rec("first", 0)]);
  expect(dead.settle("r", "dead", "failed", 300)).toBe(false);
  expect(next.settle("r", "next", "completed", 300)).toBe(true);
  expect(sorted(next.journal("r") as JournalRecord[])).toEqual([rec("a", 1), rec("b", 2), rec("first", 0)]);
  dead.close();
  next.close();
});

test("a log taken but not stored (a crash between) is stored by the next owner, before the newer log", () => {
  const file = path.join(dir, `s${n++}.db`);
  const store = new SqliteStore(file);
  store.acquire("r", "one", 0, 100);
  store.close();
  const logs = `${file}.nodes`;
  mkdirSync(logs, { recursive: true });
  const log = logPath(logs, "r");
  // What a taker that died before committing leaves: its taken file, and a newer log after it.
  writeFileSync(`${log}.0.taken`, frame([rec("a", 1), rec("b", 1)]));
  writeFileSync(log, frame([rec("a", 2)]));
  // A torn tail (an OS crash mid-write) is ignored.
  writeFileSync(`${log}.tmp`, frame([rec("c", 5)]));
  truncateSync(`${log}.tmp`, 10);
  renameSync(`${log}.tmp`, `${log}.1.taken`);
  const next = new SqliteStore(file);
  expect(next.acquire("r", "two", 500, 100)).toMatchObject({ ok: true });
  expect(readdirSync(logs)).toEqual([]);
  expect(sorted(next.journal("r") as JournalRecord[])).toEqual([rec("a", 2), rec("b", 1)]);
  next.close();
});

test("a short run creates no log: its first append goes to the table, in one transaction with its version records", () => {
  const file = path.join(dir, `s${n++}.db`);
  const store = new SqliteStore(file);
  const reader = new SqliteStore(file);
  store.acquire("r", "me", 0, 1000);
  store.recordVersion("r", "op x", "1");
  // Stored with the drive's next write; this store sees it at once.
  expect([...(store.versions("r") as Map<string, string>)]).toEqual([["op x", "1"]]);
  expect((reader.versions("r") as Map<string, string>).size).toBe(0);
  store.append("r", [rec("a", 1)]);
  expect([...(reader.versions("r") as Map<string, string>)]).toEqual([["op x", "1"]]);
  expect(existsSync(`${file}.nodes`)).toBe(false);
  // A version recorded once the log is in use goes to the table with the batch after it.
  store.append("r", [rec("b", 2)]);
  store.recordVersion("r", "op y", "2");
  store.append("r", [rec("c", 3)]);
  expect(readLog(logPath(`${file}.nodes`, "r"))).toEqual([rec("b", 2)]);
  expect([...(reader.versions("r") as Map<string, string>)].sort()).toEqual([["op x", "1"], ["op y", "2"]]);
  // A version recorded after the last append is stored when the run settles.
  store.recordVersion("r", "plan p", "3");
  expect(store.settle("r", "me", "completed", 1)).toBe(true);
  expect((reader.versions("r") as Map<string, string>).get("plan p")).toBe("3");
  expect(sorted(reader.journal("r") as JournalRecord[])).toEqual([rec("a", 1), rec("b", 2), rec("c", 3)]);
  store.close();
  reader.close();
});

test("SqliteStore on :memory: journals straight into the table", () => {
  const store = new SqliteStore(":memory:");
  store.acquire("r", "me", 0, 100);
  store.append("r", [rec("a", 1), rec("b", 2)]);
  expect(store.countNodes("r")).toBe(2);
  store.close();
});

test("a log that grows past its bound during a run is stored in the table and emptied, and nothing is lost", () => {
  const file = path.join(dir, `s${n++}.db`);
  const store = new SqliteStore(file);
  store.acquire("big", "me", 0, 1000);
  const mb = (i: number) => ({ key: `n${i}`, inputHash: "h", value: new Uint8Array(2 ** 20).fill(i) });
  for (let i = 0; i < 17; i++) store.append("big", [mb(i)]);
  // Past 16 MB the log was stored in the table and started again.
  expect(readLog(logPath(`${file}.nodes`, "big")).length).toBeLessThan(17);
  const reader = new SqliteStore(file);
  const journal = reader.journal("big") as JournalRecord[];
  expect(journal.map((r) => r.key).sort()).toEqual(Array.from({ length: 17 }, (_, i) => `n${i}`).sort());
  expect(journal.every((r) => r.value.byteLength === 2 ** 20 && r.value[7] === Number(r.key.slice(1)))).toBe(true);
  expect(store.settle("big", "me", "completed", 1)).toBe(true);
  expect(reader.countNodes("big")).toBe(17);
  store.close();
  reader.close();
});
