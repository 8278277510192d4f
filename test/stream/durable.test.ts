/**
 * A durable stream killed with SIGKILL mid-run resumes after its last committed source
 * offset: committed items are neither read, run nor written again; items after the commit
 * run at most once more; malformed lines are dead letters in the run's store, once.
 * A durable run killed in the middle of an op's token stream replays the streams that had
 * finished from its journal and runs only the interrupted one, and those after it, again.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { SqliteStore } from "weft";
import { decode } from "../../runtime/durable/codec.js";
import { buildDurableFixtures } from "../durable/build.js";

const dir = mkdtempSync(path.join(tmpdir(), "weft-stream-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Compiling the fixtures (and weft's build, when a source changed) is slow on a loaded
// machine: it gets its own time, not the first test's.
let build: ReturnType<typeof buildDurableFixtures>;
beforeAll(() => {
  build = buildDurableFixtures(path.resolve(import.meta.dirname, "../fixtures/stream"));
}, 180_000);

const LINES = 400;
const BAD = new Set([7, 120, 333]);

function exited(args: string[], env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
}

const counts = (lines: string[]) => {
  const m = new Map<string, number>();
  for (const l of lines) m.set(l, (m.get(l) ?? 0) + 1);
  return m;
};

test("a SIGKILLed durable stream resumes after its last committed offset without reprocessing committed items", async () => {
  const script = build.script("child.js");
  const input = path.join(dir, "in.jsonl");
  const text = (i: number) => `t${i}-${"x".repeat(i % 7)}`;
  writeFileSync(input, `${Array.from({ length: LINES }, (_, i) => (BAD.has(i) ? `{"text": broken ${i}` : JSON.stringify({ text: text(i) }))).join("\n")}\n`);
  const db = path.join(dir, "run.db");
  const out = path.join(dir, "out.tsv");

  const killed = await exited([script, db, input, out], { STREAM_KILL_AFTER: "150" });
  expect(killed.signal, killed.stderr).toBe("SIGKILL");

  // What the killed process committed: the offset everything before which was settled.
  const store = new SqliteStore(db);
  const record = store.journal("stream-crash").find((r) => r.key.endsWith("/committed"));
  store.close();
  expect(record).toBeDefined();
  const committed = (decode(record!.value) as { next: number }).next;
  expect(committed).toBeGreaterThan(0);
  expect(committed).toBeLessThanOrEqual(152);

  // The resumer's clock is an hour ahead: the dead process's lease has expired.
  const resumed = await exited([script, db, input, out], { STREAM_SKEW_MS: String(3_600_000) });
  expect(resumed.code, resumed.stderr).toBe(0);
  const summary = JSON.parse(resumed.stdout) as { pulled: number; skipped: number };
  // The committed lines were not read again.
  expect(summary.skipped).toBe(committed);
  expect(summary.pulled).toBe(LINES - committed);

  const valid = Array.from({ length: LINES }, (_, i) => i).filter((i) => !BAD.has(i));
  const written = counts(readFileSync(out, "utf8").trim().split("\n").map((l) => l.split("\t")[0]!));
  const bodies = counts(readFileSync(`${out}.bodies`, "utf8").trim().split("\n"));
  // Every valid item was written; none twice before the commit, none more than twice after.
  expect([...written.keys()].map(Number).sort((a, b) => a - b)).toEqual(valid);
  for (const i of valid) {
    const w = written.get(String(i))!;
    const b = bodies.get(text(i)) ?? 0;
    if (i < committed) {
      expect(w, `item ${i} written`).toBe(1);
      expect(b, `item ${i} ran`).toBe(1);
    } else {
      expect(w, `item ${i} written`).toBeLessThanOrEqual(2);
      expect(b, `item ${i} ran`).toBeGreaterThanOrEqual(1);
      expect(b, `item ${i} ran`).toBeLessThanOrEqual(2);
    }
  }
  // An op call that finished after the commit was journaled by offset: it is not run again either.
  const reran = valid.filter((i) => i >= committed && (bodies.get(text(i)) ?? 0) === 2).length;
  expect(reran).toBeLessThanOrEqual(4);

  // The malformed lines are dead letters of the run, once each, naming their line.
  const after = new SqliteStore(db);
  const letters = after.deadLetters("stream-crash");
  after.close();
  expect(letters.map((d) => d.index)).toEqual([...BAD]);
  expect(letters.every((d) => d.errorType === "MalformedRecord" && d.node.endsWith("/jsonl"))).toBe(true);
  expect(letters[0]!.error).toContain(`${input}:8: malformed jsonl record`);
}, 60_000);

test("a run SIGKILLed mid-way through an op's token stream replays finished streams and runs only the interrupted one again", async () => {
  const script = build.script("tokens-child.js");
  const db = path.join(dir, "tokens.db");
  const out = path.join(dir, "tokens.tsv");
  const KILL_AT = 12;

  const killed = await exited([script, db, out], { TOKENS_KILL_AT: String(KILL_AT) });
  expect(killed.signal, killed.stderr).toBe("SIGKILL");
  // Killed after the second token of line 12: its stream had not finished.
  const before = readFileSync(out, "utf8").trim().split("\n");
  expect(before).toHaveLength(KILL_AT * 4 + 2);
  expect(before.at(-1)).toBe(`${KILL_AT}\ta${KILL_AT}`);

  const resumed = await exited([script, db, out], { TOKENS_SKEW_MS: String(3_600_000) });
  expect(resumed.code, resumed.stderr).toBe(0);
  const words = (i: number) => [`l${i}`, `a${i}`, `b${i}`, `c${i}`];
  // Every line's tokens, the replayed ones as they were yielded.
  expect(JSON.parse(resumed.stdout)).toEqual(Array.from({ length: 30 }, (_, i) => words(i)));
  const bodies = counts(readFileSync(`${out}.bodies`, "utf8").trim().split("\n"));
  for (let i = 0; i < 30; i++) expect(bodies.get(words(i).join(" ")), `line ${i}'s stream ran`).toBe(i === KILL_AT ? 2 : 1);
}, 60_000);
