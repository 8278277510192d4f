/**
 * Durable behaviour across real processes (test/fixtures/durable/child.ts, built by the weft
 * transformer): two processes racing for one run's lease, a dead process's lease expiring,
 * and approvals requested in one process and decided in another. Plus lease loss within a
 * process, on an injected clock and fake timers.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, expect, test, vi } from "vitest";
import { approvals, durable, LeaseLost, listRuns, MemoryStore, op, SqliteStore } from "weft";
import { buildDurableFixtures } from "./build.js";

const dir = mkdtempSync(path.join(tmpdir(), "weft-processes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Child {
  readonly process: ChildProcess;
  /** Resolves with the first stdout line matching `pattern`. */
  line(pattern: RegExp): Promise<string>;
  readonly exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

// Built while the file is collected: the first test's time is its own, not the build's.
const build = buildDurableFixtures();

function start(mode: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, [build.script("child.js"), mode], { env: { ...process.env, ...build.env, DURABLE_LOG_DIR: dir, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  child.stdout!.on("data", (d: Buffer) => {
    stdout += d.toString();
    for (const w of [...waiters]) {
      const hit = stdout.split("\n").find((l) => w.pattern.test(l));
      if (hit !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(hit);
      }
    }
  });
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  // "close", not "exit": a child's stdout may still be unread when "exit" is emitted.
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  return {
    process: child,
    exit,
    line: (pattern) =>
      new Promise((resolve, reject) => {
        const hit = stdout.split("\n").find((l) => pattern.test(l));
        if (hit !== undefined) return resolve(hit);
        waiters.push({ pattern, resolve });
        void exit.then((e) => reject(new Error(`child exited (${e.code}) before printing ${pattern}: ${e.stdout}\n${e.stderr}`)));
      }),
  };
}

// Both processes open one new SQLite file at the same moment: the later one's switch to WAL
// used to fail at once with "database is locked" (before the store waited it out), and the
// process exited with an error instead of reporting the lock. A refused process must always
// print `locked <owner>`; anything else is reported with its exit code and stderr.
test("two processes racing for one run: exactly one drives it; the other is refused until the lease is given up", async () => {
  const env = { DURABLE_DB: path.join(dir, "race.db"), DURABLE_RUN: "race" };
  const a = start("hold", env);
  const b = start("hold", env);
  const outcomes = await Promise.all([a, b].map((c) => Promise.race([c.line(/^holding$/).then(() => "holding"), c.exit.then((e) => (e.code === 3 ? e.stdout.trim() : `exit ${e.code}: ${e.stdout}${e.stderr}`))])));
  expect([...outcomes].sort()).toEqual(["holding", expect.stringMatching(/^locked .+:\d+:[0-9a-f]{8}$/)]);
  const holder = outcomes[0] === "holding" ? a : b;
  const refused = holder === a ? b : a;
  expect((await refused.exit).code).toBe(3);
  holder.process.stdin!.end();
  expect((await holder.exit).stdout).toMatch(/released/);
  // Free again, and completed: a third process gets the stored result without running anything.
  const c = start("hold", env);
  expect(await c.exit).toMatchObject({ code: 0, stdout: "released\n" });
}, 60_000);

test("a run left by a killed process is refused while its lease lasts and recoverable once it expires", async () => {
  const env = { DURABLE_DB: path.join(dir, "dead.db"), DURABLE_RUN: "dead", DURABLE_LEASE_MS: "60000" };
  const a = start("hold", env);
  await a.line(/^holding$/);
  a.process.kill("SIGKILL");
  await a.exit;
  const early = start("hold", env);
  expect((await early.exit).code).toBe(3);
  // A clock past the dead process's lease: the run is free to resume.
  const late = start("hold", { ...env, DURABLE_SKEW_MS: "61000" });
  await late.line(/^holding$/);
  late.process.stdin!.end();
  expect((await late.exit).code).toBe(0);
}, 60_000);

for (const decision of ["approve", "deny"] as const) {
  test(`a risky call suspends its run until another process decides (${decision})`, async () => {
    const run = `approval-${decision}`;
    const db = path.join(dir, `${run}.db`);
    const waiting = start("approve", { DURABLE_DB: db, DURABLE_RUN: run });
    await waiting.line(/^waiting$/);
    // The request is in the store, visible to any process.
    const store = new SqliteStore(db);
    try {
      while ((await approvals({ store, run })).length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(await approvals({ store, run })).toEqual([expect.objectContaining({ run, key: `run(${run})/transfer#1`, op: "transfer", args: "[500]", reason: "more than 100", status: "pending" })]);
      expect((await listRuns({ store })).find((r) => r.id === run)).toMatchObject({ status: "suspended", live: true, pendingApprovals: 1, nodesDone: 1 });
      const decider = start("decide", { DURABLE_DB: db, DURABLE_RUN: run, DURABLE_DECISION: decision });
      expect((await decider.exit).stdout.trim()).toBe("true");
      const out = JSON.parse((await waiting.exit).stdout.trim().split("\n").pop()!) as unknown;
      const bodies = readFileSync(path.join(dir, `${run}.log`), "utf8").trim().split("\n");
      if (decision === "approve") {
        expect(out).toEqual(["sent 5", "sent 500"]);
        expect(bodies).toEqual([`transfer\t${run}:run(${run})/transfer#0`, `transfer\t${run}:run(${run})/transfer#1`]);
      } else {
        expect(out).toBe("ApprovalDenied: transfer: denied by ada: checked");
        expect(bodies).toEqual([`transfer\t${run}:run(${run})/transfer#0`]);
      }
      // Every decision is on record, with who, when and why.
      const log = await approvals({ store, run, all: true });
      expect(log.map((a) => [a.key, a.status, a.by, a.why])).toEqual([
        [`run(${run})/transfer#0`, "allowed", "policy", "the policy allowed it"],
        [`run(${run})/transfer#1`, decision === "approve" ? "approved" : "denied", "ada", "checked"],
      ]);
      expect(log.every((a) => typeof a.decidedAt === "number")).toBe(true);
      expect((await listRuns({ store })).find((r) => r.id === run)).toMatchObject({ status: decision === "approve" ? "completed" : "failed", live: false, pendingApprovals: 0 });
    } finally {
      store.close();
    }
    expect(existsSync(db)).toBe(true);
  }, 60_000);
}

afterEach(() => vi.useRealTimers());

test("a process that stalls past its lease loses the run to another and stops journaling", async () => {
  vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
  const store = new MemoryStore();
  let now = 0;
  const clock = { now: () => now };
  let release!: () => void;
  const stalled = new Promise<void>((resolve) => (release = resolve));
  const after = op({ name: "after-stall" }, async () => 1);
  const first = durable({ run: "stall", store, clock, leaseMs: 1000, heartbeatMs: 400 }, async () => {
    await stalled;
    return after();
  });
  // No heartbeat ran while the clock moved past the lease: another process takes the run.
  now = 5000;
  const second = await durable({ run: "stall", store, clock, leaseMs: 1000 }, async () => "taken over");
  expect(second).toBe("taken over");
  vi.advanceTimersByTime(400);
  release();
  await expect(first).rejects.toBeInstanceOf(LeaseLost);
  expect((await store.getRun("stall"))?.status).toBe("completed");
  expect(await store.journal("stall")).toEqual([]);
});
