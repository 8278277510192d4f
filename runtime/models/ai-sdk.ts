/**
 * An adapter for Vercel AI SDK models: bring any AI SDK provider (Anthropic, Google,
 * Mistral, Ollama, ...) to `models()`. Speaks the language and embedding model specs v4
 * (AI SDK 7) and v3 (AI SDK 6) structurally, so `ai` and `@ai-sdk/provider` stay
 * optional: weft imports neither.
 */
import { NEVER_SIGNAL } from "../context.js";
import { ProviderError } from "./errors.js";
import { NO_USAGE, sharesNeverSignal, type EmbedResponse, type GenerateRequest, type GenerateResponse, type ModelClock, type ModelProvider, type Price, type RateLimits, type StreamEvent, type TokenUsage } from "./provider.js";

/** The parts of an AI SDK language model (spec v3 or v4) weft calls. */
export interface AiSdkLanguageModel {
  readonly specificationVersion: "v3" | "v4";
  readonly provider: string;
  readonly modelId: string;
  doGenerate(options: AiSdkCallOptions): PromiseLike<{
    readonly content: readonly { readonly type: string; readonly text?: string }[];
    readonly finishReason: AiSdkFinishReason;
    readonly usage: AiSdkUsage;
    readonly response?: { readonly id?: string; readonly modelId?: string; readonly headers?: Readonly<Record<string, string | undefined>> };
  }>;
  doStream(options: AiSdkCallOptions): PromiseLike<{ readonly stream: ReadableStream<AiSdkStreamPart>; readonly response?: { readonly headers?: Readonly<Record<string, string | undefined>> } }>;
}

/** The parts of an AI SDK embedding model (spec v3 or v4) weft calls. */
export interface AiSdkEmbeddingModel {
  readonly specificationVersion: "v3" | "v4";
  readonly provider: string;
  readonly modelId: string;
  readonly maxEmbeddingsPerCall: PromiseLike<number | undefined> | number | undefined;
  doEmbed(options: { values: string[]; abortSignal?: AbortSignal; dimensions?: number }): PromiseLike<{
    readonly embeddings: readonly (readonly number[])[];
    readonly usage?: { readonly tokens: number };
    readonly response?: { readonly headers?: Readonly<Record<string, string | undefined>> };
  }>;
}

/** The call options weft sends (a subset of the spec's). */
export interface AiSdkCallOptions {
  prompt: (
    | { role: "system"; content: string }
    | { role: "user"; content: { type: "text"; text: string }[] }
    | { role: "assistant"; content: { type: "text"; text: string }[] }
  )[];
  maxOutputTokens?: number;
  temperature?: number;
  topP?: number;
  stopSequences?: string[];
  seed?: number;
  responseFormat?: { type: "text" } | { type: "json"; schema?: never; name?: string };
  abortSignal?: AbortSignal;
}

type AiSdkFinishReason = string | { readonly unified: string; readonly raw?: string };
interface AiSdkTokens {
  readonly total?: number | undefined;
  readonly cacheRead?: number | undefined;
  readonly reasoning?: number | undefined;
}
interface AiSdkUsage {
  readonly inputTokens: AiSdkTokens | number | undefined;
  readonly outputTokens: AiSdkTokens | number | undefined;
  readonly cachedInputTokens?: number;
  readonly reasoningTokens?: number;
}
type AiSdkStreamPart =
  | { readonly type: "text-delta"; readonly delta?: string; readonly textDelta?: string }
  | { readonly type: "finish"; readonly usage: AiSdkUsage; readonly finishReason: AiSdkFinishReason }
  | { readonly type: "error"; readonly error: unknown }
  | { readonly type: "response-metadata"; readonly id?: string; readonly modelId?: string }
  | { readonly type: string };

/** Options of `aiSdkProvider`. */
export interface AiSdkProviderOptions {
  /** Shown in spans and errors. Default: the first model's `provider`. */
  readonly name?: string;
  /** The language model for a model name: `(id) => anthropic(id)`. */
  readonly languageModel?: (modelId: string) => AiSdkLanguageModel;
  /** The embedding model for a model name: `(id) => openai.embeddingModel(id)`. */
  readonly embeddingModel?: (modelId: string) => AiSdkEmbeddingModel;
  readonly rateLimits?: RateLimits;
  readonly prices?: Readonly<Record<string, Price>>;
  /** Sends `responseFormat: json` with the schema. Default true. */
  readonly jsonSchema?: boolean;
  readonly clock?: ModelClock;
  /** Values to cut from error messages (the API key the AI SDK provider was built with). */
  readonly secrets?: readonly string[];
}

const KNOWN = new Set(["name", "languageModel", "embeddingModel", "rateLimits", "prices", "jsonSchema", "clock", "secrets"]);

/**
 * A weft provider backed by AI SDK models.
 *
 * @example
 * ```ts
 * import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
 * const gateway = createOpenAICompatible({ name: "gateway", baseURL: "http://127.0.0.1:4000/v1" });
 * models.register("gateway", aiSdkProvider({ name: "gateway", languageModel: (id) => gateway(id), embeddingModel: (id) => gateway.embeddingModel(id) }));
 * await models("gateway:llama-3.1-8b", "Say hi");
 * ```
 */
export function aiSdkProvider(options: AiSdkProviderOptions): ModelProvider {
  const unknown = Object.keys(options).filter((k) => !KNOWN.has(k));
  const name = options.name ?? "ai-sdk";
  if (unknown.length > 0) throw new TypeError(`aiSdkProvider(${name}): unknown option ${unknown.map((k) => `"${k}"`).join(", ")}`);
  if (!options.languageModel && !options.embeddingModel) throw new TypeError(`aiSdkProvider(${name}): give languageModel, embeddingModel or both`);
  const secrets = options.secrets ?? [];
  const languageModels = new Map<string, AiSdkLanguageModel>();
  const embeddingModels = new Map<string, AiSdkEmbeddingModel>();
  const language = (id: string): AiSdkLanguageModel => {
    let model = languageModels.get(id);
    if (!model) {
      model = options.languageModel!(id);
      checkSpec(model, name, id, "language");
      languageModels.set(id, model);
    }
    return model;
  };
  const embedding = (id: string): AiSdkEmbeddingModel => {
    let model = embeddingModels.get(id);
    if (!model) {
      model = options.embeddingModel!(id);
      checkSpec(model, name, id, "embedding");
      embeddingModels.set(id, model);
    }
    return model;
  };
  const fail = (error: unknown, model: string, signal: AbortSignal): never => {
    if (signal.aborted) throw signal.reason;
    throw toProviderError(error, name, model, secrets);
  };
  const jsonSchema = options.jsonSchema !== false;

  const provider: ModelProvider = {
    name,
    capabilities: { chat: options.languageModel !== undefined, stream: options.languageModel !== undefined, embed: options.embeddingModel !== undefined, jsonSchema },
    ...(options.rateLimits && { rateLimits: options.rateLimits }),
    ...(options.prices && { prices: options.prices }),
    ...(options.clock && { clock: options.clock }),
    secrets,
    async generate(request): Promise<GenerateResponse> {
      const model = language(request.model);
      let result: Awaited<ReturnType<AiSdkLanguageModel["doGenerate"]>>;
      try {
        result = await model.doGenerate(callOptions(request, jsonSchema));
      } catch (error) {
        return fail(error, request.model, request.signal);
      }
      const text = result.content.map((part) => (part.type === "text" ? (part.text ?? "") : "")).join("");
      const requestId = result.response?.headers?.["x-request-id"] ?? result.response?.id;
      return {
        text,
        usage: usageOf(result.usage),
        finishReason: finishOf(result.finishReason),
        ...(requestId && { requestId }),
        ...(result.response?.modelId && { responseModel: result.response.modelId }),
      };
    },
    async *stream(request): AsyncIterable<StreamEvent> {
      const model = language(request.model);
      let reader: ReadableStreamDefaultReader<AiSdkStreamPart>;
      let requestId: string | undefined;
      try {
        const result = await model.doStream(callOptions(request, jsonSchema));
        requestId = result.response?.headers?.["x-request-id"];
        reader = result.stream.getReader();
      } catch (error) {
        return fail(error, request.model, request.signal);
      }
      let text = "";
      let usage: TokenUsage = NO_USAGE;
      let finishReason = "stop";
      let responseModel: string | undefined;
      let finished = false;
      try {
        for (;;) {
          let next: Awaited<ReturnType<typeof reader.read>>;
          try {
            next = await reader.read();
          } catch (error) {
            return fail(error, request.model, request.signal);
          }
          if (next.done) {
            finished = true;
            break;
          }
          const part = next.value;
          if (part.type === "text-delta") {
            const delta = (part as { delta?: string }).delta ?? (part as { textDelta?: string }).textDelta ?? "";
            if (delta) {
              text += delta;
              yield { type: "delta", text: delta };
            }
          } else if (part.type === "finish") {
            const finish = part as { usage: AiSdkUsage; finishReason: AiSdkFinishReason };
            usage = usageOf(finish.usage);
            finishReason = finishOf(finish.finishReason);
          } else if (part.type === "response-metadata") {
            const meta = part as { id?: string; modelId?: string };
            requestId ??= meta.id;
            responseModel ??= meta.modelId;
          } else if (part.type === "error") {
            return fail((part as { error: unknown }).error, request.model, request.signal);
          }
        }
      } finally {
        if (!finished) await reader.cancel().catch(() => {});
        reader.releaseLock();
      }
      yield { type: "end", text, usage, finishReason, ...(requestId && { requestId }), ...(responseModel && { responseModel }) };
    },
    async embed(request): Promise<EmbedResponse> {
      const model = embedding(request.model);
      let result: Awaited<ReturnType<AiSdkEmbeddingModel["doEmbed"]>>;
      try {
        result = await model.doEmbed({ values: [...request.texts], ...(request.signal !== NEVER_SIGNAL && { abortSignal: request.signal }), ...(request.dimensions !== undefined && { dimensions: request.dimensions }) });
      } catch (error) {
        return fail(error, request.model, request.signal);
      }
      const requestId = result.response?.headers?.["x-request-id"];
      return { vectors: result.embeddings, usage: { ...NO_USAGE, inputTokens: result.usage?.tokens ?? 0 }, ...(requestId && { requestId }) };
    },
  };
  sharesNeverSignal.add(provider);
  return provider;
}

function checkSpec(model: { specificationVersion?: unknown } | undefined, name: string, id: string, kind: string): void {
  const spec = model?.specificationVersion;
  if (spec !== "v3" && spec !== "v4") {
    throw new TypeError(`aiSdkProvider(${name}): the ${kind} model for "${id}" speaks spec ${JSON.stringify(spec)}; weft adapts spec v3 (AI SDK 6) and v4 (AI SDK 7)`);
  }
}

function callOptions(request: GenerateRequest, jsonSchema: boolean): AiSdkCallOptions {
  return {
    prompt: request.messages.map((m) => (m.role === "system" ? { role: "system", content: m.content } : { role: m.role, content: [{ type: "text", text: m.content }] })),
    // A signal that can never fire stays away from the model's fetch (see sharesNeverSignal).
    ...(request.signal !== NEVER_SIGNAL && { abortSignal: request.signal }),
    ...(request.maxTokens !== undefined && { maxOutputTokens: request.maxTokens }),
    ...(request.temperature !== undefined && { temperature: request.temperature }),
    ...(request.topP !== undefined && { topP: request.topP }),
    ...(request.stop !== undefined && { stopSequences: [...request.stop] }),
    ...(request.seed !== undefined && { seed: request.seed }),
    ...(request.schema !== undefined && { responseFormat: { type: "json", ...(jsonSchema && { schema: request.schema.schema as never }), name: request.schema.name } }),
  };
}

function tokens(value: AiSdkTokens | number | undefined): AiSdkTokens {
  return typeof value === "number" ? { total: value } : (value ?? {});
}

function usageOf(usage: AiSdkUsage | undefined): TokenUsage {
  if (!usage) return NO_USAGE;
  const input = tokens(usage.inputTokens);
  const output = tokens(usage.outputTokens);
  return {
    inputTokens: input.total ?? 0,
    outputTokens: output.total ?? 0,
    cachedInputTokens: input.cacheRead ?? usage.cachedInputTokens ?? 0,
    reasoningTokens: output.reasoning ?? usage.reasoningTokens ?? 0,
  };
}

function finishOf(reason: AiSdkFinishReason | undefined): string {
  if (reason === undefined) return "stop";
  return typeof reason === "string" ? reason : (reason.raw ?? reason.unified);
}

/** An AI SDK error (`APICallError` and friends, by shape) as a `ProviderError`; other errors as network failures. */
function toProviderError(error: unknown, provider: string, model: string, secrets: readonly string[]): ProviderError {
  if (error instanceof ProviderError) return error;
  const e = (error ?? {}) as { statusCode?: unknown; isRetryable?: unknown; responseHeaders?: Record<string, string | undefined>; message?: unknown };
  const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
  const headers = e.responseHeaders ?? {};
  const retryAfterMs = headers["retry-after-ms"] !== undefined ? Number(headers["retry-after-ms"]) : headers["retry-after"] !== undefined && /^\d+(\.\d+)?$/.test(headers["retry-after"]!) ? Number(headers["retry-after"]) * 1000 : undefined;
  const requestId = headers["x-request-id"];
  return new ProviderError({
    provider,
    model,
    status,
    detail: typeof e.message === "string" ? e.message : String(error),
    secrets,
    ...(requestId && { requestId }),
    ...(retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && { retryAfterMs }),
    ...(status === undefined && typeof e.isRetryable === "boolean" && { retryable: e.isRetryable }),
  });
}
