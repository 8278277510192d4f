/**
 * The mock server's wire format, checked by the official `openai` client and the AI SDK's
 * OpenAI-compatible provider; and weft's AI SDK adapter, driving the same server.
 */
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import type { LanguageModelV3 } from "@ai-sdk/provider";
import { embedMany, generateText, streamText } from "ai";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cancelled, OpError, ProviderError, aiSdkProvider, models, vmap, withContext } from "weft";
import { startMockOpenAI, type MockOpenAI } from "weft/testing";

let mock: MockOpenAI;
beforeAll(async () => {
  mock = await startMockOpenAI({ port: 0, embeddingDimensions: 4 });
});
afterAll(() => mock.close());
afterEach(() => {
  mock.requests.length = 0;
});

describe("the mock server, driven by the official openai client", () => {
  const client = () => new OpenAI({ baseURL: mock.url, apiKey: "sk-test-wire-000000", maxRetries: 0 });

  it("chat completions (JSON) with usage", async () => {
    mock.enqueue({ text: "hello there", usage: { prompt_tokens: 9, completion_tokens: 2 } });
    const reply = await client().chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] });
    expect(reply.choices[0]!.message.content).toBe("hello there");
    expect(reply.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 });
  });

  it("chat completions streamed over SSE, usage in the last chunk", async () => {
    mock.enqueue({ text: "one two three" });
    const stream = await client().chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "count" }], stream: true, stream_options: { include_usage: true } });
    let text = "";
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe("one two three");
    expect(usage).toMatchObject({ completion_tokens: 3 });
  });

  it("embeddings (the client asks for base64) and the model list", async () => {
    const reply = await client().embeddings.create({ model: "embed-test", input: ["a", "b"] });
    expect(reply.data).toHaveLength(2);
    expect(reply.data[0]!.embedding).toHaveLength(4);
    const norm = Math.hypot(...reply.data[0]!.embedding);
    expect(norm).toBeCloseTo(1, 5);
    const list = await client().models.list();
    expect(list.data.map((m) => m.id)).toContain("mock-chat");
  });

  it("429 with Retry-After reaches the client as a typed error", async () => {
    mock.enqueue({ status: 429, headers: { "retry-after": "3" }, error: { message: "slow down", code: "rate_limit_exceeded" } });
    const error = await client()
      .chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers.get("retry-after")).toBe("3");
  });
});

describe("the mock server, driven by the AI SDK's OpenAI-compatible provider", () => {
  const provider = () => createOpenAICompatible({ name: "mock", baseURL: mock.url, apiKey: "sk-test-wire-000000", includeUsage: true });

  it("generateText, streamText and embedMany", async () => {
    mock.enqueue({ text: "generated", usage: { prompt_tokens: 5, completion_tokens: 1 } }, { text: "streamed words here" });
    const generated = await generateText({ model: provider()("gpt-test"), prompt: "hi", maxRetries: 0 });
    expect(generated.text).toBe("generated");
    expect(generated.usage.inputTokens).toBe(5);
    const streamed = streamText({ model: provider()("gpt-test"), prompt: "hi", maxRetries: 0 });
    let text = "";
    for await (const delta of streamed.textStream) text += delta;
    expect(text).toBe("streamed words here");
    expect((await streamed.usage).outputTokens).toBe(3);
    const { embeddings } = await embedMany({ model: provider().embeddingModel("embed-test"), values: ["x", "y", "z"], maxRetries: 0 });
    expect(embeddings).toHaveLength(3);
  });
});

describe("weft's AI SDK adapter", () => {
  const sdk = () => createOpenAICompatible({ name: "mock", baseURL: mock.url, apiKey: "sk-test-wire-000000", includeUsage: true, supportsStructuredOutputs: true });
  let n = 0;
  const use = (options: Partial<Parameters<typeof aiSdkProvider>[0]> = {}) => {
    const name = `sdk${++n}`;
    const p = sdk();
    models.register(name, aiSdkProvider({ name, languageModel: (id) => p(id), embeddingModel: (id) => p.embeddingModel(id), ...options }));
    return name;
  };

  it("generates, streams, embeds and returns structured output through a v4 model", async () => {
    const p = use();
    mock.enqueue({ text: "adapted", usage: { prompt_tokens: 7, completion_tokens: 1 } }, { text: "a b c" }, { json: { ok: true } });
    const result = await models.generate(`${p}:gpt-test`, "hi");
    expect(result).toMatchObject({ text: "adapted", usage: { inputTokens: 7, outputTokens: 1 } });
    const deltas: string[] = [];
    for await (const e of models.stream(`${p}:gpt-test`, "hi")) if (e.type === "delta") deltas.push(e.text);
    expect(deltas.join("")).toBe("a b c");
    const value = await models.object<{ ok: boolean }>(`${p}:gpt-test`, "ok?", { schema: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] } });
    expect(value).toEqual({ ok: true });
    expect((mock.requests[2]!.body as { response_format: { type: string } }).response_format.type).toBe("json_schema");
    const vectors = await vmap(models.embed, { inAxes: [null, 0] })(`${p}:embed-test`, ["x", "y"]);
    expect(vectors).toHaveLength(2);
  });

  it("maps AI SDK errors to typed provider errors, and a cancel to Cancelled with the connection closed", async () => {
    const p = use();
    mock.enqueue({ status: 404, error: { message: "no such model" } });
    const error = (await models(`${p}:nope`, "hi").catch((e: unknown) => e)) as OpError;
    expect(error.cause).toBeInstanceOf(ProviderError);
    expect(error.cause).toMatchObject({ status: 404, retryable: false, provider: p });

    mock.requests.length = 0;
    mock.enqueue({ text: "late", latencyMs: 5_000 });
    const controller = new AbortController();
    const call = withContext({ signal: controller.signal }, () => models(`${p}:gpt-test`, "slow"));
    for (let i = 0; i < 400 && mock.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    await expect(call).rejects.toBeInstanceOf(Cancelled);
    await mock.settled();
    expect(mock.requests[0]!.closedEarly).toBe(true);
  });

  it("adapts a spec v3 model (AI SDK 6) too", async () => {
    const v3: LanguageModelV3 = {
      specificationVersion: "v3",
      provider: "hand",
      modelId: "v3-model",
      supportedUrls: {},
      doGenerate: async (options) => ({
        content: [{ type: "text", text: `v3 got ${options.prompt.length} messages` }],
        finishReason: { unified: "stop", raw: "stop" },
        usage: { inputTokens: { total: 4, noCache: 4, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 3, text: 3, reasoning: 0 } },
        warnings: [],
      }),
      doStream: async () => ({
        stream: new ReadableStream({
          start(c) {
            c.enqueue({ type: "text-delta", id: "t", delta: "v3 " });
            c.enqueue({ type: "text-delta", id: "t", delta: "stream" });
            c.enqueue({ type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage: { inputTokens: { total: 2, noCache: 2, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 2, text: 2, reasoning: 0 } } });
            c.close();
          },
        }),
      }),
    };
    models.register("v3", aiSdkProvider({ name: "v3", languageModel: () => v3 }));
    expect(await models.generate("v3:any", "hi", { system: "s" })).toMatchObject({ text: "v3 got 2 messages", usage: { inputTokens: 4, outputTokens: 3 } });
    const events = [];
    for await (const e of models.stream("v3:any", "hi")) events.push(e);
    expect(events.map((e) => e.type)).toEqual(["delta", "delta", "usage"]);
    await expect(aiSdkProvider({ name: "x", languageModel: () => ({ specificationVersion: "v1" }) as never }).generate({ model: "m", messages: [], signal: new AbortController().signal })).rejects.toThrow(/spec "v1"/);
  });
});
