/**
 * Crash tests: real `node` processes run a jitted pipeline and a vmap of 1,000 items under
 * `durable()` (test/fixtures/durable/child.ts, compiled by the weft transformer) and are
 * killed with SIGKILL at 20 seeded random points, each its own run. Then one process
 * resumes every run, beside an uninterrupted run of the same work.
 *
 * Every op body writes `<op>\t<idempotencyKey>` to its run's side file synchronously before
 * it does anything, so the counts below span both processes. What must hold, per run:
 *   - the resumed result equals the uninterrupted one;
 *   - every node journaled before the kill ran exactly once (it was never run again);
 *   - every other node ran at most twice (once if it had not started, twice if it was in
 *     flight at the kill), and at most a batch's worth of nodes were in flight;
 *   - the resumed run ran every node the uninterrupted run ran.
 * Each child sends itself SIGKILL when its k-th body starts (k seeded), inside that body or
 * a little later: between a body and its journal append, or between nodes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import { SqliteStore, type JournalRecord } from "weft";
import { prng } from "../compiler/random-graph.js";
import { buildDurableFixtures, type DurableBuild } from "./build.js";

const KILLS = 20;
const NODES = 1006; // words 1 + weigh 3 + heaviest 1 + score 1000 + total 1
const IN_FLIGHT = 8; // the vmap's concurrency (the plan's ops run one at a time here)
const PARALLEL = 2;

const dir = mkdtempSync(path.join(tmpdir(), "weft-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function lines(run: string): string[] {
  const file = path.join(dir, `${run}.log`);
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
}

function keysRan(run: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines(run)) {
    const key = line.split("\t")[1]!;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  // "close", not "exit": a child's stdout may still be unread when "exit" is emitted.
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/**
 * Runs the pipeline for `run`; the child sends itself SIGKILL when its `k`-th body starts,
 * at one of three points after it (`mode`, see child.ts), so every kill lands, wherever
 * the load on the machine puts the child.
 */
async function runAndKill(build: DurableBuild, run: string, k: number, mode: number): Promise<{ killed: boolean; stderr: string }> {
  const child = spawn(process.execPath, [build.script("child.js"), "pipeline"], {
    env: { ...process.env, ...build.env, DURABLE_DB: path.join(dir, `${run}.db`), DURABLE_RUN: run, DURABLE_LOG_DIR: dir, DURABLE_KILL_AT: String(k), DURABLE_KILL_MODE: String(mode) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const outcome = await exited(child);
  return { killed: outcome.signal === "SIGKILL", stderr: outcome.stderr };
}

test(
  `a pipeline killed with SIGKILL at ${KILLS} random points resumes to the uninterrupted result, never repeating a finished node`,
  async () => {
    const build = buildDurableFixtures();
    const script = build.script("child.js");
    const rand = prng(20261201);
    const points = Array.from({ length: KILLS }, () => ({ k: 1 + Math.floor(rand() * (NODES - 10)), mode: Math.floor(rand() * 3) }));
    const runs = points.map((_, i) => `crash-${i}`);

    const kills: Array<{ killed: boolean; stderr: string }> = new Array(KILLS);
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < KILLS) {
          const i = next++;
          kills[i] = await runAndKill(build, runs[i]!, points[i]!.k, points[i]!.mode);
        }
      }),
    );
    for (const [i, k] of kills.entries()) expect(k.killed, `run ${runs[i]} was not killed: ${k.stderr}`).toBe(true);

    // What each killed process finished: its journal, read before anything resumes.
    const finishedBefore = runs.map((run) => {
      const store = new SqliteStore(path.join(dir, `${run}.db`));
      try {
        // The SQLite store answers synchronously.
        return new Set((store.journal(run) as JournalRecord[]).map((r) => `${run}:${r.key}`));
      } finally {
        store.close();
      }
    });
    const ranBefore = runs.map((run) => keysRan(run));

    // One process resumes every run (its clock is an hour ahead: the dead processes' leases
    // have expired), and runs the same work uninterrupted as "clean".
    const resumer = spawn(process.execPath, [script, "resume"], {
      env: { ...process.env, ...build.env, DURABLE_RUNS: [...runs, "clean"].join(","), DURABLE_DIR: dir, DURABLE_LOG_DIR: dir, DURABLE_SKEW_MS: String(3_600_000) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const resumed = await exited(resumer);
    expect(resumed.code, resumed.stderr).toBe(0);
    const results = new Map(
      resumed.stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => {
          const { run, result } = JSON.parse(l) as { run: string; result: unknown };
          return [run, result] as const;
        }),
    );
    const clean = results.get("clean");
    expect(clean).toEqual({ top: "w1", sum: expect.any(Number), at: "2026-12-01T00:00:00.000Z", first: [0, 31, 62] });
    const cleanKeys = [...keysRan("clean").keys()].map((k) => k.replace(/^clean:run\(clean\)/, ""));
    expect(cleanKeys.length).toBe(NODES);
    expect([...keysRan("clean").values()].every((n) => n === 1)).toBe(true);

    for (const [i, run] of runs.entries()) {
      expect(results.get(run), run).toEqual(clean);
      const counts = keysRan(run);
      // Every node of the work ran, under the same keys as in the clean run.
      expect([...counts.keys()].map((k) => k.replace(new RegExp(`^${run}:run\\(${run}\\)`), "")).sort(), run).toEqual([...cleanKeys].sort());
      let twice = 0;
      for (const [key, n] of counts) {
        if (finishedBefore[i]!.has(key)) expect(n, `${key} finished before the kill, then ran again`).toBe(1);
        else expect(n, `${key} ran ${n} times`).toBeLessThanOrEqual(2);
        if (n === 2) {
          twice++;
          // Only a node in flight at the kill runs twice: it had started in the killed process.
          expect(ranBefore[i]!.get(key), key).toBe(1);
        }
      }
      expect(twice, `${run}: nodes run twice`).toBeLessThanOrEqual(IN_FLIGHT + 1);
    }
  },
  120_000,
);
