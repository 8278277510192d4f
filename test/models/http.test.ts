/**
 * weft's OpenAI-compatible provider over real HTTP on 127.0.0.1, against the mock server
 * from weft/testing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BudgetExceeded, Cancelled, DeadlineExceeded, OpError, ProviderError, ValidationError, jit, models, openaiCompatible, subscribe, vmap, withContext, type ModelClock, type RuntimeEvent } from "weft";
import { startMockOpenAI, type MockOpenAI } from "weft/testing";
import { recordSpans } from "../support/spans.js";

let mock: MockOpenAI;
let provider = 0;

/** A provider on the mock under a fresh name (so rate limiters never carry over between tests). */
function use(options: Partial<Parameters<typeof openaiCompatible>[0]> = {}): string {
  const name = `mock${++provider}`;
  models.register(name, openaiCompatible({ name, baseURL: mock.url, apiKey: "sk-test-0000000000000000", ...options }));
  return name;
}

/** A clock that jumps instead of waiting, and records every wait. */
function fakeClock(start = 1_000_000): ModelClock & { sleeps: number[] } {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms, signal) => {
      if (signal.aborted) throw signal.reason;
      sleeps.push(ms);
      now += ms;
    },
  };
}

beforeAll(async () => {
  mock = await startMockOpenAI({ port: 0 });
});
afterAll(() => mock.close());
afterEach(() => {
  mock.requests.length = 0;
});

describe("OpenAI-compatible provider over HTTP", () => {
  it("generates: the request on the wire and the reply's text, usage and request id", async () => {
    const p = use();
    mock.enqueue({ text: "Rayleigh scattering.", usage: { prompt_tokens: 12, completion_tokens: 3, cached_tokens: 4 } });
    const result = await models.generate(`${p}:gpt-test`, "Why is the sky blue?", { temperature: 0.2, maxTokens: 50, system: "Be brief." });
    expect(result.text).toBe("Rayleigh scattering.");
    expect(result.usage).toMatchObject({ inputTokens: 12, outputTokens: 3, cachedInputTokens: 4, totalTokens: 15 });
    expect(result.requestId).toMatch(/^req_mock_/);
    const [request] = mock.requests;
    expect(request!.path).toBe("/v1/chat/completions");
    expect(request!.headers.authorization).toBe("Bearer sk-test-0000000000000000");
    expect(request!.body).toEqual({
      model: "gpt-test",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Why is the sky blue?" },
      ],
      temperature: 0.2,
      max_tokens: 50,
    });
  });

  it("streams deltas in order over SSE, then usage at the end", async () => {
    const p = use();
    mock.enqueue({ text: "one two three four five", chunkDelayMs: 2 });
    const events = [];
    for await (const event of models.stream(`${p}:gpt-test`, "count")) events.push(event);
    expect(events.slice(0, -1)).toEqual(["one ", "two ", "three ", "four ", "five"].map((text) => ({ type: "delta", text })));
    const last = events.at(-1)!;
    expect(last).toMatchObject({ type: "usage", text: "one two three four five", finishReason: "stop", usage: { outputTokens: 5 } });
    expect(mock.requests[0]!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(mock.requests[0]!.completed).toBe(true);
  });

  it("breaking out of a stream closes the connection before the reply ends", async () => {
    const p = use();
    mock.enqueue({ text: "a b c d e f g h i j k l m n o p", chunkDelayMs: 20 });
    for await (const event of models.stream(`${p}:gpt-test`, "long")) {
      if (event.type === "delta") break;
    }
    await mock.settled();
    expect(mock.requests[0]!.closedEarly).toBe(true);
  });

  it("embeds in batches: vmap sends native batches of at most maxEmbedBatch texts", async () => {
    const p = use({ maxEmbedBatch: 4 });
    const texts = Array.from({ length: 10 }, (_, i) => `text number ${i}`);
    const vectors = await vmap(models.embed, { inAxes: [null, 0] })(`${p}:embed-test`, texts);
    expect(vectors).toHaveLength(10);
    expect(vectors[0]).toHaveLength(8);
    expect(mock.requests.map((r) => (r.body as { input: string[] }).input.length)).toEqual([4, 4, 2]);
    // Same vectors as one direct call, item for item.
    expect(await models.embed(`${p}:embed-test`, texts)).toEqual(vectors);
  });

  it("structured output: sends the schema, re-asks with the validation error, returns the valid value", async () => {
    const p = use();
    const schema = { type: "object", properties: { score: { type: "integer", minimum: 0, maximum: 10 } }, required: ["score"], additionalProperties: false };
    mock.enqueue({ json: { score: "high" } }, { text: "```json\n{\"score\": 7}\n```" });
    const value = await models.object<{ score: number }>(`${p}:gpt-test`, "Rate it", { schema, schemaName: "Rating" });
    expect(value).toEqual({ score: 7 });
    expect(mock.requests).toHaveLength(2);
    const first = mock.requests[0]!.body as { response_format: unknown };
    expect(first.response_format).toEqual({ type: "json_schema", json_schema: { name: "Rating", schema, strict: false } });
    const second = mock.requests[1]!.body as { messages: { role: string; content: string }[] };
    expect(second.messages.at(-2)).toEqual({ role: "assistant", content: '{"score":"high"}' });
    expect(second.messages.at(-1)!.content).toMatch(/score: expected integer, received "high"/);
  });

  it("structured output: fails with the last ValidationError when every attempt is invalid", async () => {
    const p = use();
    const schema = { type: "object", properties: { score: { type: "integer" } }, required: ["score"] };
    mock.enqueue({ text: "no idea" }, { json: { score: 1.5 } });
    const error = await models.object(`${p}:gpt-test`, "Rate it", { schema, attempts: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).op).toBe("models.object");
    expect((error as ValidationError).message).toMatch(/expected integer, received 1.5/);
    expect(mock.requests).toHaveLength(2);
  });

  it("a cancel reaches the socket: the server sees the connection closed before the reply", async () => {
    const p = use();
    mock.enqueue({ text: "too late", latencyMs: 5_000 });
    const controller = new AbortController();
    const call = withContext({ signal: controller.signal }, () => models(`${p}:gpt-test`, "slow"));
    await until(() => mock.requests.length === 1);
    controller.abort();
    await expect(call).rejects.toBeInstanceOf(Cancelled);
    await mock.settled();
    expect(mock.requests[0]!.closedEarly).toBe(true);
    expect(mock.requests[0]!.completed).toBe(false);
  });

  it("fetch gets the call's signal when something can abort it, and none for a call nothing can abort", async () => {
    const signals: (AbortSignal | undefined)[] = [];
    const spy: typeof fetch = (input, init) => {
      signals.push(init?.signal ?? undefined);
      return fetch(input, init);
    };
    const p = use({ fetch: spy });
    await models(`${p}:gpt-test`, "plain");
    await models(`${p}:gpt-test`, "with a timeout", { timeout: "30s" });
    const controller = new AbortController();
    await withContext({ signal: controller.signal }, () => models(`${p}:gpt-test`, "cancellable"));
    expect(signals[0]).toBeUndefined();
    expect(signals[1]).toBeInstanceOf(AbortSignal);
    expect(signals[2]).toBeInstanceOf(AbortSignal);
    // A provider not built in gets a signal of its own even when nothing can abort the call (it may hand it to fetch).
    const seen: AbortSignal[] = [];
    models.register(`${p}x`, { name: "plain", capabilities: { chat: true, stream: false, embed: false, jsonSchema: false }, generate: async (request) => {
      seen.push(request.signal);
      return { text: "ok", finishReason: "stop", usage: { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0, reasoningTokens: 0 } };
    } });
    await models(`${p}x:m`, "a");
    await models(`${p}x:m`, "b");
    expect(seen[0]).toBeInstanceOf(AbortSignal);
    expect(seen[0]).not.toBe(seen[1]);
  });

  it("a deadline reaches the socket, mid-stream too", async () => {
    const p = use();
    mock.enqueue({ text: "a b c d e f g h", chunkDelayMs: 400 });
    const seen: string[] = [];
    const run = withContext({ timeout: 300 }, async () => {
      for await (const event of models.stream(`${p}:gpt-test`, "slow stream")) if (event.type === "delta") seen.push(event.text);
    });
    await expect(run).rejects.toBeInstanceOf(DeadlineExceeded);
    await mock.settled();
    expect(mock.requests[0]!.closedEarly).toBe(true);
    expect(seen.length).toBeLessThan(8);
  });

  it("429 with Retry-After: every request to the provider waits it out on the provider's clock, then the retry succeeds", async () => {
    const clock = fakeClock();
    const p = use({ clock });
    mock.enqueue({ status: 429, headers: { "retry-after": "7" }, error: { message: "Rate limit reached", code: "rate_limit_exceeded" } }, { text: "ok now" });
    const text = await models(`${p}:gpt-test`, "hi", { retry: { times: 1, backoff: { initial: 0 }, retryOn: (e) => e instanceof ProviderError && e.retryable } });
    expect(text).toBe("ok now");
    expect(clock.sleeps).toEqual([7_000]);
    expect(mock.requests).toHaveLength(2);
  });

  it("provider errors are typed, carry status, provider, model and request id, and are classified", async () => {
    const p = use();
    mock.enqueue({ status: 400, error: { message: "bad request", code: "invalid_value" } });
    const error = (await models(`${p}:gpt-test`, "hi").catch((e: unknown) => e)) as OpError;
    expect(error).toBeInstanceOf(OpError);
    expect(error.attempts).toBe(1); // 400: not retried
    const cause = error.cause as ProviderError;
    expect(cause).toBeInstanceOf(ProviderError);
    expect(cause).toMatchObject({ status: 400, provider: p, model: "gpt-test", code: "invalid_value", retryable: false });
    expect(cause.requestId).toMatch(/^req_mock_/);

    mock.enqueue({ status: 503 }, { status: 500 }, { text: "third time" });
    expect(await models(`${p}:gpt-test`, "hi", { retry: { times: 2, backoff: { initial: 0 } } })).toBe("third time");
  });

  it("rate limits queue requests: a concurrency cap, and requests per minute on the clock", async () => {
    const clock = fakeClock();
    const p = use({ clock, rateLimits: { concurrency: 1, rpm: 2 } });
    const answers = await Promise.all([1, 2, 3].map((i) => models(`${p}:gpt-test`, `q${i}`)));
    expect(answers).toHaveLength(3);
    // Two requests fit in the first minute's bucket; the third waits for a token (30 s at 2/min).
    expect(clock.sleeps).toEqual([30_000]);
    expect(mock.requests.map((r) => (r.body as { messages: { content: string }[] }).messages[0]!.content)).toEqual(["q1", "q2", "q3"]);
  });

  it("tokens per minute: a request reserves its estimate, settles to the reply's usage, and waits on the clock for what it lacks", async () => {
    const clock = fakeClock();
    const p = use({ clock, rateLimits: { tpm: 120 } });
    const sent = () => mock.requests.map((r) => (r.body as { messages: { content: string }[] }).messages[0]!.content);
    // Each estimate is the prompt's tokens ("q1": 1, plus 3 for the message) plus maxTokens: 4 + 56 = 60.
    mock.enqueue({ text: "a", usage: { prompt_tokens: 4, completion_tokens: 16 } }, { text: "b", usage: { prompt_tokens: 4, completion_tokens: 16 } });
    expect(await models(`${p}:gpt-test`, "q1", { maxTokens: 56 })).toBe("a"); // 120 - 60 reserved, +40 back (20 used): 100
    expect(await models(`${p}:gpt-test`, "q2", { maxTokens: 56 })).toBe("b"); // 100 - 60, +40: 80
    expect(clock.sleeps).toEqual([]);
    // 120 estimated, 80 in the bucket: 40 tokens at 120/min is 20 s.
    mock.enqueue({ text: "c", usage: { prompt_tokens: 4, completion_tokens: 116 } });
    expect(await models(`${p}:gpt-test`, "q3", { maxTokens: 116 })).toBe("c");
    expect(clock.sleeps).toEqual([20_000]);
    // The bucket is empty now (120 used); 10 s refill 20 tokens, and a request of 60 waits 20 s more.
    clock.sleeps.length = 0;
    await clock.sleep(10_000, new AbortController().signal);
    clock.sleeps.length = 0;
    mock.enqueue({ text: "d", usage: { prompt_tokens: 4, completion_tokens: 56 } });
    expect(await models(`${p}:gpt-test`, "q4", { maxTokens: 56 })).toBe("d");
    expect(clock.sleeps).toEqual([20_000]);
    // A request larger than the whole bucket waits for a full bucket rather than forever: 60 s from empty.
    clock.sleeps.length = 0;
    mock.enqueue({ text: "e", usage: { prompt_tokens: 4, completion_tokens: 10 } });
    expect(await models(`${p}:gpt-test`, "q5", { maxTokens: 500 })).toBe("e");
    expect(clock.sleeps).toEqual([60_000]);
    expect(sent()).toEqual(["q1", "q2", "q3", "q4", "q5"]);
  });

});

describe("usage, budgets and secrets, with spans recorded", () => {
  const exporter = recordSpans();

  it("usage and cost roll up per model, op, jitted run, vmap and tenant, with GenAI span attributes", async () => {
    const p = use({ prices: { "gpt-test": { input: 2, output: 8 } } });
    {
      const ensemble = jit(async (q: string) => {
        const a = await models(`${p}:gpt-test`, q);
        const b = await models(`${p}:gpt-test`, q);
        const c = await models(`${p}:gpt-test`, q);
        return models(`${p}:gpt-test`, [{ role: "user", content: q }, { role: "assistant", content: a }, { role: "assistant", content: b }, { role: "assistant", content: c }]);
      });
      const { usage } = await models.track(() =>
        withContext({ tenant: "acme" }, async () => {
          await ensemble("why is the sky blue");
          await vmap(models.embed, { inAxes: [null, 0] })(`${p}:embed-test`, ["x y", "z w"]);
        }),
      );
      const chats = mock.requests.filter((r) => r.path === "/v1/chat/completions");
      expect(chats).toHaveLength(4);
      expect(usage.calls).toBe(5);
      expect(usage.byModel[`${p}:gpt-test`]!.calls).toBe(4);
      expect(usage.byModel[`${p}:embed-test`]!.calls).toBe(1);
      expect(usage.byOp["jit(ensemble)"]!.calls).toBe(4);
      expect(usage.byOp["vmap(models.embed)"]!.calls).toBe(1);
      expect(usage.byTenant.acme!.calls).toBe(5);
      const chatUsage = usage.byModel[`${p}:gpt-test`]!;
      expect(chatUsage.costUsd).toBeCloseTo((chatUsage.inputTokens * 2 + chatUsage.outputTokens * 8) / 1e6, 12);
      expect(usage.unpricedCalls).toBe(1); // the embedding model has no price
      const chatSpans = exporter.getFinishedSpans().filter((s) => s.name === "models.chat");
      expect(chatSpans).toHaveLength(4);
      expect(chatSpans[0]!.attributes).toMatchObject({ "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-test", "gen_ai.provider.name": p });
      expect(typeof chatSpans[0]!.attributes["gen_ai.usage.input_tokens"]).toBe("number");
      expect(typeof chatSpans[0]!.attributes["gen_ai.usage.output_tokens"]).toBe("number");
    }
  });

  it("a token budget stops the call that would exceed it, before it is sent", async () => {
    const p = use();
    mock.enqueue({ text: "first", usage: { prompt_tokens: 40, completion_tokens: 50 } });
    const run = models.track(
      async () => {
        await models(`${p}:gpt-test`, "one");
        await models(`${p}:gpt-test`, "two", { maxTokens: 20 });
      },
      { budget: { tokens: 100 } },
    );
    const error = (await run.catch((e: unknown) => e)) as OpError;
    expect(error.cause).toBeInstanceOf(BudgetExceeded);
    expect((error.cause as BudgetExceeded).limit).toBe("tokens");
    expect(error.attempts).toBe(1);
    expect(mock.requests).toHaveLength(1);
  });

  it("a planted API key appears in no message, span or event", async () => {
    const key = "wk_planted_SECRET_abcdefghijklmnop"; // not shaped like a known key: only registration finds it
    const guarded = await startMockOpenAI({ port: 0, apiKey: "sk-the-right-one-0000000000" });
    const events: RuntimeEvent[] = [];
    const stop = subscribe((e) => events.push(e));
    try {
      models.register("planted", openaiCompatible({ name: "planted", baseURL: guarded.url, apiKey: key }));
      guarded.enqueue({ status: 401 }); // no effect: the auth check answers first, echoing the key
      const error = await models("planted:gpt-test", "hi").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpError);
      expect(guarded.requests[0]!.headers.authorization).toBe(`Bearer ${key}`); // it was sent...
      const cause = (error as OpError).cause as ProviderError;
      expect(cause.status).toBe(401);
      // ...and it is nowhere else.
      const texts = [String(error), (error as Error).message, cause.message, cause.detail, JSON.stringify(cause), String(cause.stack)];
      for (const e of events) texts.push(JSON.stringify(e, replacer), String((e as { error?: Error }).error?.message));
      expect(exporter.getFinishedSpans().length).toBeGreaterThan(0);
      for (const s of exporter.getFinishedSpans()) texts.push(JSON.stringify(s.attributes), JSON.stringify(s.events), JSON.stringify(s.status));
      for (const text of texts) expect(text).not.toContain("SECRET");
      expect(cause.message).toMatch(/invalid_api_key/);
    } finally {
      stop();
      await guarded.close();
    }
  });
});

function replacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? { message: value.message, stack: value.stack, cause: value.cause } : value;
}

async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !predicate(); i++) await new Promise((r) => setTimeout(r, 5));
}
