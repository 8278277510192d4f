import { describe, expect, it } from "vitest";
import { jit, models, vmap, withContext, ValidationError, OpError, localProvider } from "weft";

describe("the local provider (offline, deterministic)", () => {
  it("answers the same request the same way, and a different one differently", async () => {
    const a = await models("local:chat", "Why is the sky blue?");
    const b = await models("local:chat", "Why is the sky blue?");
    const c = await models("local:chat", "Why is grass green?");
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(a.length).toBeGreaterThan(10);
  });

  it("reports token usage from its tokenizer, at no cost", async () => {
    const result = await models.generate("local:chat", "one two three", { maxTokens: 5 });
    expect(result.usage.inputTokens).toBe(6); // 3 words + 3 for the message
    expect(result.usage.outputTokens).toBe(5);
    expect(result.finishReason).toBe("length");
    expect(result.usage.costUsd).toBe(0);
    expect(result.model).toBe("local:chat");
  });

  it("resolves \"default\" from the config's model, and a bare name on the config's provider", async () => {
    const direct = await models("local:judge", "hello");
    expect(await withContext({ config: { model: "local:judge" } }, () => models("default", "hello"))).toBe(direct);
    expect(await models("judge", "hello")).toBe(direct);
    await expect(models("nowhere:x", "hello")).rejects.toThrow(/no provider "nowhere"/);
  });

  it("streams the same text as generate, in deltas, ending with usage", async () => {
    const whole = await models.generate("local:chat", "stream me a sentence");
    const events = [];
    for await (const event of models.stream("local:chat", "stream me a sentence")) events.push(event);
    const last = events.at(-1)!;
    expect(last.type).toBe("usage");
    const deltas = events.slice(0, -1).map((e) => (e.type === "delta" ? e.text : "?"));
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join("")).toBe(whole.text);
    expect(last.type === "usage" && last.usage).toEqual(whole.usage);
  });

  it("embeds texts as L2-normalised hashed TF-IDF vectors (similar texts are close)", async () => {
    const [a, b, c] = await models.embed("local:embed", ["the blue sky", "the sky is blue", "grass grows green"]);
    const dot = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i]!, 0);
    expect(a).toHaveLength(256);
    expect(dot(a!, a!)).toBeCloseTo(1, 9);
    expect(dot(a!, b!)).toBeGreaterThan(dot(a!, c!));
    expect(await models.embed("local:embed", "the blue sky")).toEqual(a);
  });

  it("returns JSON matching the requested schema as structured output", async () => {
    const schema = { type: "object", properties: { best: { enum: ["a", "b"] }, score: { type: "integer", minimum: 1, maximum: 5 } }, required: ["best", "score"], additionalProperties: false };
    const verdict = await models.object<{ best: "a" | "b"; score: number }>("local:judge", "Pick one", { schema });
    expect(["a", "b"]).toContain(verdict.best);
    expect(verdict.score).toBeGreaterThanOrEqual(1);
    expect(verdict.score).toBeLessThanOrEqual(5);
  });

  it("refuses unknown options and bad prompts before anything runs", async () => {
    await expect(models("local:chat", "hi", { temprature: 1 } as never)).rejects.toBeInstanceOf(ValidationError);
    await expect(models("local:chat", 42 as never)).rejects.toThrow(/prompt/);
    expect(() => localProvider({ dimensions: 0 })).toThrow(/dimensions/);
  });

  it("jitted calls match eager calls, with the same number of model calls", async () => {
    const ask = async (q: string) => {
      const a = await models("local:alpha", q);
      const b = await models("local:beta", q);
      return models("local:judge", [
        { role: "user", content: q },
        { role: "assistant", content: a },
        { role: "assistant", content: b },
      ]);
    };
    const eager = await models.track(() => ask("why?"));
    const jitted = jit(ask);
    await jitted("warm up");
    const staged = await models.track(() => jitted("why?"));
    expect(staged.value).toBe(eager.value);
    expect(staged.usage.calls).toBe(eager.usage.calls);
    expect(staged.usage.calls).toBe(3);
  });

  it("vmap over embed goes to the provider as one native batch", async () => {
    const texts = ["a b", "c d", "e f", "g h"];
    const { value, usage } = await models.track(() => vmap(models.embed, { inAxes: [null, 0] })("local:embed", texts));
    expect(value).toEqual(await models.embed("local:embed", texts));
    expect(usage.calls).toBe(1);
  });

  it("a call with no deadline or canceller still gets a signal of its own", async () => {
    // fetch adds a listener to the signal it is given and drops it only when the request is
    // collected: one shared never-firing signal would collect listeners from every call.
    const signals: AbortSignal[] = [];
    models.register("signals", {
      name: "signals",
      capabilities: { chat: true, stream: false, embed: false, jsonSchema: false },
      generate: async (request) => {
        signals.push(request.signal);
        return { text: "ok", finishReason: "stop", usage: { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0, reasoningTokens: 0 } };
      },
    });
    await models("signals:x", "one");
    await models("signals:x", "two");
    expect(signals).toHaveLength(2);
    expect(signals[0]).not.toBe(signals[1]);
  });

  it("fails typed when the op body fails", async () => {
    models.register("broken", { name: "broken", capabilities: { chat: true, stream: false, embed: false, jsonSchema: false }, generate: async () => { throw new TypeError("boom"); } });
    const error = await models("broken:x", "hi").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpError);
    expect((error as OpError).attempts).toBe(1); // a TypeError is not worth a retry
  });
});
