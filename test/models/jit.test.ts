/**
 * Model calls inside `jit`, against the same function run eagerly: the same results and the
 * same model calls. Independent `models()` calls are staged (they run in parallel); a
 * `models.stream` is consumed by the traced code delta by delta, which a plan cannot stage,
 * so such a signature falls back loudly (a warning naming the reason and line, `explain()`
 * saying so, a `TraceError` in strict mode).
 */
import { describe, expect, it } from "vitest";
import { TraceError, jit, models, subscribe, type RuntimeEvent } from "weft";
import { fallbackWarnings, flush } from "../jit/harness.js";

/** What `run` returns, and how many times each model op started. */
async function counted<T>(run: () => Promise<T>): Promise<{ value: T; calls: Record<string, number> }> {
  const calls: Record<string, number> = {};
  const stop = subscribe((e: RuntimeEvent) => {
    if (e.type === "op:start" && e.op.startsWith("models.")) calls[e.op] = (calls[e.op] ?? 0) + 1;
  });
  try {
    return { value: await run(), calls };
  } finally {
    stop();
  }
}

async function streamed(question: string): Promise<string> {
  const draft = await models("local:drafter", question);
  let text = "";
  for await (const event of models.stream("local:writer", `Improve: ${draft}`)) if (event.type === "delta") text += event.text;
  return `${draft.length}:${text}`;
}

describe("model calls inside jit", () => {
  it("models.stream falls back loudly and returns what eager returns, with the same model calls", async () => {
    const jf = jit(streamed);
    await flush();
    const warnings = fallbackWarnings();
    try {
      for (const q of ["why is the sky blue", "what is a prism"]) {
        const eager = await counted(() => streamed(q));
        const jitted = await counted(() => jf(q));
        expect(jitted.value).toBe(eager.value);
        expect(jitted.calls).toEqual(eager.calls);
        expect(eager.calls).toEqual({ "models.chat": 1, "models.stream": 1 });
      }
      const messages = await warnings.settle();
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatch(/models\.stream inside a jitted function/);
      expect(messages[0]).toMatch(/test\/models\/jit\.test\.ts:\d+:\d+/);
      expect(jf.explain("why is the sky blue")).toMatch(/^eager: .*models\.stream/);
    } finally {
      warnings.stop();
    }
    const error = await jit(streamed, { strict: true })("q").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TraceError);
    expect((error as TraceError).message).toMatch(/models\.stream inside a jitted function/);
  });

  it("independent models() calls are staged: the same replies as eager, the same calls", async () => {
    const ensemble = async (q: string) => {
      const a = await models("local:alpha", q);
      const b = await models("local:beta", q);
      return models("local:judge", `Pick one: ${a} / ${b}`);
    };
    const jf = jit(ensemble);
    for (const q of ["why is the sky blue", "what is a prism"]) {
      const eager = await counted(() => ensemble(q));
      const jitted = await counted(() => jf(q));
      expect(jitted.value).toBe(eager.value);
      expect(jitted.calls).toEqual(eager.calls);
    }
    expect(jf.explain("why is the sky blue")).not.toMatch(/^eager/);
  });
});
