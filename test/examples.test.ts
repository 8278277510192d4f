import { spawn } from "node:child_process";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { main, similarity, tokenize } from "../examples/quickstart.js";
import { ensemble, ensembleJit } from "../examples/ensemble.js";
import { compare, compareJit, generatePairs } from "../examples/similarity.js";
import { vmap, withContext } from "weft";
import { buildDurableFixtures } from "./durable/build.js";

const ROOT = path.resolve(import.meta.dirname, "..");

describe("examples/quickstart", () => {
  it("prints a verdict per pair and honours the per-call threshold", async () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((line: string) => void lines.push(line));
    try {
      await main();
    } finally {
      log.mockRestore();
    }
    expect(lines[0]).toBe('["hello world","Hello, world!"] -> close (score=1.000, threshold=0.8)');
    expect(lines[1]).toMatch(/-> not close \(score=0\.\d+, threshold=0\.8\)$/);
    expect(lines[3]).toBe("with threshold 0.99 for this call: not close (score=0.866, threshold=0.99)");
    expect(lines[4]).toBe("20 op calls, each with its own context, span and validation.");
  });

  it("runs the pipeline as one op built from the four steps", async () => {
    expect(await tokenize(["A b", "c"])).toEqual([["a", "b"], ["c"]]);
    expect(similarity.descriptor.name).toBe("Sequential(tokenize, Embed, cosine, Humanize)");
  });
});

describe("examples/ensemble and examples/similarity", () => {
  it("the jitted ensemble returns the eager verdict", async () => {
    const question = "Why is the sky blue?";
    await withContext({ config: { model: "ember:chat" } }, async () => {
      const eager = await ensemble(question);
      expect(await ensembleJit(question)).toEqual(eager);
      expect(eager.best).toBeGreaterThanOrEqual(1);
    });
  });

  it("similarity: eager, jit and jit + vmap agree", async () => {
    const pairs = generatePairs(12);
    const eager: string[] = [];
    for (const p of pairs) eager.push(await compare(p));
    const jitted: string[] = [];
    for (const p of pairs) jitted.push(await compareJit(p));
    expect(jitted).toEqual(eager);
    expect(await vmap(compareJit, { concurrency: 4 })(pairs)).toEqual(eager);
  });
});

describe("examples/demo (quick mode)", () => {
  it("shows every promise at work: the plan, overlap, a retry, a deadline, a rejected input, a cancel, a real crash resumed, usage, speed", async () => {
    // The demo as a user runs it: its JavaScript, compiled by the weft transformer, in a
    // node process of its own; it starts (and kills) child processes for section 7.
    const build = buildDurableFixtures(path.join(ROOT, "examples"));
    const child = spawn(process.execPath, [build.script("demo.js"), "--quick", "--questions", path.join(ROOT, "examples/data/questions.jsonl")], {
      cwd: ROOT,
      env: { ...process.env, ...build.env, OPENAI_BASE_URL: "", OPENAI_API_KEY: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    let drawn = "";
    child.stdout.on("data", (d: Buffer) => (text += d.toString()));
    child.stderr.on("data", (d: Buffer) => (drawn += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, drawn).toBe(0);
    const find = (pattern: RegExp): number[] => {
      const match = pattern.exec(text);
      expect(match, `the demo's output has no line matching ${pattern}:\n${text}`).not.toBeNull();
      return match!.slice(1).map((x) => Number(x.replace(/,/g, "")));
    };
    // 1. The plan: retrieve, then draft and critique together, then the judge.
    expect(text).toContain("wave 1  retrieve\n   wave 2  draft ‖ critique\n   wave 3  judge\n");
    // 2. The waterfall of one question: its spans, draft and critique overlapping in time.
    expect(text).toMatch(/├─ draft +.*█/);
    expect(text).toMatch(/└─ models\.chat .*\d+\+\d+ tok/);
    expect(find(/draft ‖ critique: their spans overlap for ([\d,]+) ms/)[0]).toBeGreaterThan(0);
    // 3. Two 503s, retried with the policy's backoff (40 ms, then 80 ms), then a success.
    expect(text).toContain("retrieve attempt 1 failed (503), next attempt after 40 ms\n   retrieve attempt 2 failed (503), next attempt after 80 ms\n   attempt 3 succeeded");
    // 4. The deadline error, naming the budget that ran out.
    expect(text).toMatch(/\n   DeadlineExceeded: withContext: deadline exceeded after 300ms \(settled at/);
    // 5. The bad line rejected with its path; every other item answered.
    expect(text).toMatch(/q9 +line 9: ValidationError: retrieve: invalid input: question at \$\.text: expected string, received 42/);
    expect(text).toContain("   9 answered, 1 rejected");
    // 6. Cancelled after three answers: those kept, the rest Cancelled, none lost.
    const [kept, cancelled, results, items] = find(/kept (\d+) answers \(.*\), (\d+) items Cancelled, (\d+) results for (\d+) items/);
    expect(kept).toBeGreaterThanOrEqual(3);
    expect(cancelled).toBeGreaterThan(0);
    expect(kept! + cancelled!).toBe(results);
    expect(results).toBe(items);
    // 7. A real crash: the batch's process killed with SIGKILL at 4 journaled answers, a
    // fresh process resuming the run, and no finished answer or journaled op call run again.
    const [killedPid, journaled] = find(/killed: +pid (\d+) by SIGKILL with (\d+) answers journaled/);
    expect(journaled).toBeGreaterThanOrEqual(4);
    const [resumerPid, fromJournal, computed, answers] = find(/resumed: +pid (\d+), .*: (\d+) answers from the journal, (\d+) computed \(.*\), (\d+) answers in all/);
    expect(resumerPid).not.toBe(killedPid);
    expect(fromJournal).toBe(journaled);
    expect(fromJournal! + computed!).toBe(9);
    expect(answers).toBe(9);
    expect(find(/repeated: +(\d+) finished answers and (\d+) journaled op calls ran again/)).toEqual([0, 0]);
    // 8. Speed: three figures on the same work, and which was fastest; the resumed run's
    // answers are the uninterrupted runs' answers.
    expect(text).toMatch(/fastest: (eager|jit|jit \+ vmap); all three gave the same answers, as did the resumed run of section 7/);
    // 9. Usage and cost totals.
    const [calls, input, output] = find(/(\d+) model calls, ([\d,]+) input \+ ([\d,]+) output tokens/);
    expect([calls, input, output].every((n) => n! > 0)).toBe(true);
    expect(find(/output tokens, \$(\d+\.\d+) at/)[0]).toBeGreaterThan(0);
    // The jit + vmap run's progress, drawn by data.progressBar on stderr (plain lines off a terminal), ending complete.
    expect(drawn.split("\n").filter((l) => l.includes("jit + vmap [")).at(-1)).toMatch(/jit \+ vmap \[#+\] 100% 9\/9 · 9 out .*done$/);
  }, 120_000);
});
