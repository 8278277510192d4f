import { describe, expect, it, vi } from "vitest";
import { main, similarity, tokenize } from "../examples/quickstart.js";
import { ensemble, ensembleJit } from "../examples/ensemble.js";
import { compare, compareJit, generatePairs } from "../examples/similarity.js";
import { vmap, withContext } from "weft";

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
  it("shows every promise at work: the plan, overlap, a retry, a deadline, a rejected input, a cancel, a resume, usage, speed", async () => {
    const { demo } = await import("../examples/demo.js");
    const lines: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((...parts: unknown[]) => void lines.push(parts.join(" ")));
    const drawn: string[] = [];
    const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => drawn.push(String(chunk)) > 0);
    let report: Awaited<ReturnType<typeof demo>>;
    try {
      report = await demo({ quick: true });
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    const text = lines.join("\n");
    // 1. The plan: retrieve, then draft and critique together, then the judge.
    expect(report.plan).toEqual([["retrieve"], ["draft", "critique"], ["judge"]]);
    expect(text).toContain("wave 2  draft ‖ critique");
    // 2. The waterfall of one question: its spans, draft and critique overlapping in time.
    expect(report.overlapped).toBe(true);
    expect(text).toMatch(/├─ draft +.*█/);
    expect(text).toMatch(/└─ models\.chat .*\d+\+\d+ tok/);
    // 3. Two 503s, retried with the policy's backoff (40 ms, then 80 ms).
    expect(report.retries).toEqual([{ attempt: 1, delayMs: 40 }, { attempt: 2, delayMs: 80 }]);
    expect(text).toContain("retrieve attempt 1 failed (503), next attempt after 40 ms");
    // 4. The deadline error, naming the budget that ran out.
    expect(report.deadline?.name).toBe("DeadlineExceeded");
    expect(report.deadline?.budgetMs).toBe(300);
    // 5. The bad line rejected with its path; every other item answered.
    expect(report.rejected?.issues[0]).toMatchObject({ parameter: "question", path: "$.text", expected: "string", received: "42" });
    expect(text).toMatch(/q9 +line 9: ValidationError: retrieve: invalid input: question at \$\.text: expected string, received 42/);
    expect(report.answered).toBe(9);
    // 6. Cancelled after three answers: those kept, the rest Cancelled, none lost.
    expect(report.cancelled.kept).toBeGreaterThanOrEqual(3);
    expect(report.cancelled.cancelled).toBeGreaterThan(0);
    expect(report.cancelled.kept + report.cancelled.cancelled).toBe(report.cancelled.total);
    // 7. Resumed after the crash: no finished answer computed again.
    expect(report.resumed.crashedAfter).toBeGreaterThan(0);
    expect(report.resumed.repeated).toBe(0);
    expect(report.resumed.fromJournal).toBeGreaterThanOrEqual(report.resumed.crashedAfter);
    // 8. Usage and cost totals.
    expect(report.usage.calls).toBeGreaterThan(0);
    expect(report.usage.inputTokens).toBeGreaterThan(0);
    expect(report.usage.outputTokens).toBeGreaterThan(0);
    expect(report.usage.costUsd).toBeGreaterThan(0);
    // 9. Speed: three figures on the same work, and which was fastest.
    expect(text).toMatch(/fastest: (eager|jit|jit \+ vmap); all three gave the same answers/);
    // The jit + vmap run's progress, drawn by data.progressBar (plain lines off a terminal), ending complete.
    expect(drawn.filter((l) => l.includes("jit + vmap [")).at(-1)).toMatch(/jit \+ vmap \[#+\] 100% 9\/9 · 9 out .*done\n$/);
  }, 60_000);
});
