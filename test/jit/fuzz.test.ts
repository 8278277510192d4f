/**
 * The differential generator: random jitted programs (./fuzz-gen.ts) over the op library
 * (./fuzz-ops.ts), written to a module that vite compiles through the real weft transformer
 * (so staged constructs are staged), each run jitted, eagerly (an unstaged copy of its
 * source) and as its own rewritten body called directly, on every input of
 * `inputs()` and then all at once concurrently. Results must be strictly equal, errors of
 * the same class and cause, io/cpu calls the same multiset (on a failing input, the jitted
 * run has made every call eager made). `WEFT_FUZZ_N` sets the count and `WEFT_FUZZ_SEED`
 * the seed (printed, for replay); `WEFT_FUZZ_SHOW=<regex>` prints the programs whose
 * fallback reason matches, and `WEFT_FUZZ_REASONS` how many reasons the summary lists.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { generate, inputs } from "./fuzz-gen.js";
import { expectCallsInclude, expectSameCalls, logged, type Call, type Outcome } from "./harness.js";

const COUNT = Number(process.env.WEFT_FUZZ_N ?? 1000);
const SEED = Number(process.env.WEFT_FUZZ_SEED ?? 20261201);

function sameOutcome(jitted: Outcome<unknown>, eager: Outcome<unknown>): void {
  if (eager.ok) {
    if (!jitted.ok) throw new Error(`eager returned ${JSON.stringify(eager.value)} but jit threw`, { cause: jitted.error });
    expect(jitted.value).toStrictEqual(eager.value);
    return;
  }
  if (jitted.ok) throw new Error(`eager threw ${String(eager.error)} but jit returned ${JSON.stringify(jitted.value)}`);
  const je = jitted.error as Error;
  const ee = eager.error as Error;
  expect(je.constructor).toBe(ee.constructor);
  const cause = (e: Error) => String((e.cause as Error | undefined)?.message ?? e.message);
  expect(cause(je)).toBe(cause(ee));
}

describe(`differential generator (seed ${SEED}, ${COUNT} programs; WEFT_FUZZ_SEED / WEFT_FUZZ_N to replay)`, () => {
  it("every generated program matches eager: results, errors, op calls, alone and concurrently", async () => {
    const dir = path.join(import.meta.dirname, ".fuzz");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `programs-${SEED}-${COUNT}.ts`);
    writeFileSync(file, generate(SEED, COUNT, "../fuzz-ops.js"));
    const t0 = performance.now();
    const { programs, sources } = (await import(file)) as {
      programs: [(x: unknown) => Promise<unknown>, ((x: unknown) => Promise<unknown>) & { inspect(x: unknown): Promise<{ fallback?: string }> }, (x: unknown) => Promise<unknown>][];
      sources: string[];
    };
    const t1 = performance.now();
    const cases = inputs();
    let planned = 0;
    const reasons = new Map<string, number>();
    for (const [i, [f, jf, staged]] of programs.entries()) {
      try {
        const eagerCalls: Call[] = [];
        const eagerOutcomes: Outcome<unknown>[] = [];
        for (const x of cases) {
          const jitted = await logged(() => jf(structuredClone(x)));
          const eager = await logged(() => f(structuredClone(x)));
          sameOutcome(jitted.outcome, eager.outcome);
          if (eager.outcome.ok) expectSameCalls(jitted.calls, eager.calls);
          else expectCallsInclude(jitted.calls, eager.calls);
          // The rewritten body called directly (as fallbacks and eager calls run it) does what the source does.
          const direct = await logged(() => staged(structuredClone(x)));
          sameOutcome(direct.outcome, eager.outcome);
          expectSameCalls(direct.calls, eager.calls);
          eagerCalls.push(...eager.calls);
          eagerOutcomes.push(eager.outcome);
        }
        // All inputs at once: plans are shared by concurrent runs and must not interfere.
        const together = await logged(() => Promise.all(cases.map((x) => jf(structuredClone(x)).then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error })))));
        const outcomes = (together.outcome as { ok: true; value: Outcome<unknown>[] }).value;
        outcomes.forEach((o, k) => sameOutcome(o, eagerOutcomes[k]!));
        if (eagerOutcomes.every((o) => o.ok)) expectSameCalls(together.calls, eagerCalls);
        else expectCallsInclude(together.calls, eagerCalls);
        const { fallback } = await jf.inspect(structuredClone(cases[0]!));
        if (fallback === undefined) planned++;
        else {
          const reason = fallback.replace(/^jit\(\w+\) /, "").replace(/ \([^()]*:\d+:\d+\)/g, "").replace(/, which a tracer cannot see.*$/, "").slice(0, 70);
          reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
          // WEFT_FUZZ_SHOW=<regex>: print the programs whose fallback matches, to see why.
          if (process.env.WEFT_FUZZ_SHOW && new RegExp(process.env.WEFT_FUZZ_SHOW).test(fallback)) console.log(`program ${i}: ${fallback}\n${sources[i]}`);
        }
      } catch (error) {
        throw new Error(`program ${i} (seed ${SEED}) differs from eager:\n${sources[i]}`, { cause: error });
      }
    }
    const share = planned / programs.length;
    console.log(`compiled ${programs.length} programs in ${(t1 - t0).toFixed(0)} ms, ran them in ${(performance.now() - t1).toFixed(0)} ms`);
    console.log(`jit_plan_share: ${(share * 100).toFixed(1)}% of ${programs.length} generated programs run as plans (seed ${SEED})`);
    const top = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.WEFT_FUZZ_REASONS ?? 4));
    console.log(`fallbacks by reason: ${top.map(([r, n]) => `${n} × ${r}`).join("; ")}`);
    expect(share).toBeGreaterThan(0.5);
  }, 300_000);
});
