/**
 * An OpenAI-compatible HTTP provider on `fetch`: chat completions (JSON and SSE
 * streaming), embeddings, and the `json_schema` response format. Works with OpenAI and
 * with the many servers that speak its wire format (vLLM, llama.cpp, Ollama, LM Studio,
 * OpenRouter, Groq, Together, ...).
 *
 * The request's signal goes to `fetch`, so a cancel or deadline closes the connection
 * (the server stops generating, and billing). The API key lives in a closure: it is sent
 * in the `Authorization` header and nowhere else, and is cut from every error message.
 */
import { NEVER_SIGNAL } from "../context.js";
import { ProviderError } from "./errors.js";
import { NO_USAGE, sharesNeverSignal, type ModelClock, type EmbedResponse, type GenerateRequest, type GenerateResponse, type ModelProvider, type Price, type RateLimits, type StreamEvent, type TokenUsage } from "./provider.js";

/** Options of an OpenAI-compatible provider. */
export interface OpenAICompatibleOptions {
  /** Shown in spans and errors. Default `"openai"`. */
  readonly name?: string;
  /** Up to and including the version, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1`. */
  readonly baseURL: string;
  readonly apiKey?: string;
  /** Extra headers on every request (organisation, project, a gateway's own auth). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly rateLimits?: RateLimits;
  /** Prices per model name, US dollars per million tokens. */
  readonly prices?: Readonly<Record<string, Price>>;
  /** Set false for servers that reject `response_format: json_schema` (weft then asks for JSON in the prompt). */
  readonly jsonSchema?: boolean;
  /** Most inputs one embeddings request takes. Default 2048. */
  readonly maxEmbedBatch?: number;
  readonly clock?: ModelClock;
  /** The fetch to use. Default: the global one. */
  readonly fetch?: typeof fetch;
}

const KNOWN = new Set(["name", "baseURL", "apiKey", "headers", "rateLimits", "prices", "jsonSchema", "maxEmbedBatch", "clock", "fetch"]);
const ERROR_BODY_LIMIT = 4096;

/** `openaiCompatible` (runtime/models/providers.ts documents it). */
export function openaiCompatible(options: OpenAICompatibleOptions): ModelProvider {
  const unknown = Object.keys(options).filter((k) => !KNOWN.has(k));
  const name = options.name ?? "openai";
  if (unknown.length > 0) throw new TypeError(`openaiCompatible(${name}): unknown option ${unknown.map((k) => `"${k}"`).join(", ")}`);
  if (typeof options.baseURL !== "string" || !/^https?:\/\//.test(options.baseURL)) {
    throw new TypeError(`openaiCompatible(${name}): baseURL must be an http(s) URL, received ${JSON.stringify(String(options.baseURL)).slice(0, 80)}`);
  }
  const base = options.baseURL.replace(/\/+$/, "");
  const apiKey = options.apiKey;
  const secrets = apiKey ? [apiKey] : [];
  const doFetch = options.fetch ?? fetch;
  const headers: Record<string, string> = { "content-type": "application/json", ...options.headers };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;

  const chatURL = `${base}/chat/completions`;
  const embeddingsURL = `${base}/embeddings`;

  /**
   * POSTs `body` as JSON: the response when it is 2xx, else the provider's error. Promise
   * chains rather than async functions, here and in `generate`: this is every model call's
   * path, and each async layer costs a promise and a microtask hop per call.
   */
  function post(url: string, model: string, body: unknown, signal: AbortSignal): Promise<Response> {
    let sent: Promise<Response>;
    try {
      // A signal that can never fire is not given to fetch: undici would listen to it (a
      // listener, a weak reference and a finalizer per request) for nothing.
      const init: RequestInit = signal === NEVER_SIGNAL ? { method: "POST", headers, body: JSON.stringify(body) } : { method: "POST", headers, body: JSON.stringify(body), signal };
      sent = doFetch(url, init);
    } catch (error) {
      sent = Promise.reject(error);
    }
    return sent.then(
      (response) => (response.ok ? response : httpError(response, name, model, secrets, signal).then(throwIt)),
      (error: unknown) => {
        // The caller's cancel or deadline: report it as that, not as a network failure.
        if (signal.aborted) throw signal.reason;
        throw new ProviderError({ provider: name, model, status: undefined, detail: describe(error), secrets, cause: scrubCause(error, secrets) });
      },
    );
  }

  const chatBody = (request: GenerateRequest, stream: boolean): Record<string, unknown> => {
    const body: Record<string, unknown> = { model: request.model, messages: request.messages };
    if (request.temperature !== undefined) body.temperature = request.temperature;
    if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
    if (request.topP !== undefined) body.top_p = request.topP;
    if (request.stop !== undefined) body.stop = request.stop;
    if (request.seed !== undefined) body.seed = request.seed;
    if (request.schema !== undefined) {
      body.response_format =
        options.jsonSchema === false ? { type: "json_object" } : { type: "json_schema", json_schema: { name: request.schema.name, schema: request.schema.schema, strict: false } };
    }
    if (stream) {
      body.stream = true;
      body.stream_options = { include_usage: true };
    }
    return body;
  };

  const provider: ModelProvider = {
    name,
    capabilities: { chat: true, stream: true, embed: true, jsonSchema: options.jsonSchema !== false, maxEmbedBatch: options.maxEmbedBatch ?? 2048 },
    ...(options.rateLimits && { rateLimits: options.rateLimits }),
    ...(options.prices && { prices: options.prices }),
    ...(options.clock && { clock: options.clock }),
    secrets,

    generate(request): Promise<GenerateResponse> {
      const { model, signal } = request;
      return post(chatURL, model, chatBody(request, false), signal).then((response) =>
        readJson(response, name, model, secrets, signal).then((json) => {
          const { choices, usage, id, model: responseModel } = json as ChatCompletion;
          const choice = choices?.[0];
          const requestId = response.headers.get("x-request-id") ?? id;
          const reply: { -readonly [K in keyof GenerateResponse]: GenerateResponse[K] } = { text: choice?.message?.content ?? "", usage: usageOf(usage), finishReason: choice?.finish_reason ?? "stop" };
          if (requestId) reply.requestId = requestId;
          if (responseModel) reply.responseModel = responseModel;
          return reply;
        }),
      );
    },

    async *stream(request): AsyncIterable<StreamEvent> {
      const response = await post(chatURL, request.model, chatBody(request, true), request.signal);
      const requestId = response.headers.get("x-request-id") ?? undefined;
      let text = "";
      let usage: TokenUsage = NO_USAGE;
      let finishReason = "stop";
      let responseModel: string | undefined;
      try {
        for await (const data of sseData(response, request.signal)) {
          if (data === "[DONE]") break;
          let chunk: ChatCompletionChunk;
          try {
            chunk = JSON.parse(data) as ChatCompletionChunk;
          } catch (error) {
            throw new ProviderError({ provider: name, model: request.model, status: response.status, detail: `unparseable stream event: ${data.slice(0, 120)}`, secrets, cause: error, ...(requestId && { requestId }) });
          }
          if (chunk.error) throw new ProviderError({ provider: name, model: request.model, status: response.status, detail: String(chunk.error.message ?? "stream error"), secrets, ...(requestId && { requestId }) });
          responseModel ??= chunk.model;
          const choice = chunk.choices?.[0];
          const delta = choice?.delta?.content;
          if (delta) {
            text += delta;
            yield { type: "delta", text: delta };
          }
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          if (chunk.usage) usage = usageOf(chunk.usage);
        }
      } catch (error) {
        if (request.signal.aborted) throw request.signal.reason;
        if (error instanceof ProviderError) throw error;
        throw new ProviderError({ provider: name, model: request.model, status: undefined, detail: `stream broke: ${describe(error)}`, secrets, cause: scrubCause(error, secrets), ...(requestId && { requestId }) });
      }
      yield { type: "end", text, usage, finishReason, ...(requestId && { requestId }), ...(responseModel && { responseModel }) };
    },

    async listModels(signal): Promise<readonly string[]> {
      let response: Response;
      try {
        response = await doFetch(`${base}/models`, { method: "GET", headers, signal });
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        throw new ProviderError({ provider: name, model: "(models)", status: undefined, detail: describe(error), secrets, cause: scrubCause(error, secrets) });
      }
      if (!response.ok) throw await httpError(response, name, "(models)", secrets, signal);
      const json = (await readJson(response, name, "(models)", secrets, signal)) as { data?: { id?: unknown }[] };
      return (json.data ?? []).map((m) => m.id).filter((id): id is string => typeof id === "string");
    },

    async embed(request): Promise<EmbedResponse> {
      const body = { model: request.model, input: request.texts, ...(request.dimensions !== undefined && { dimensions: request.dimensions }) };
      const response = await post(embeddingsURL, request.model, body, request.signal);
      const json = (await readJson(response, name, request.model, secrets, request.signal)) as EmbeddingsResponse;
      const data = [...(json.data ?? [])].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
      if (data.length !== request.texts.length) {
        throw new ProviderError({ provider: name, model: request.model, status: response.status, detail: `expected ${request.texts.length} embeddings, received ${data.length}`, secrets });
      }
      const requestId = response.headers.get("x-request-id") ?? undefined;
      return { vectors: data.map((d) => d.embedding), usage: { ...NO_USAGE, inputTokens: json.usage?.prompt_tokens ?? 0 }, ...(requestId && { requestId }) };
    },
  };
  sharesNeverSignal.add(provider);
  return provider;
}

interface WireUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number };
}
interface ChatCompletion {
  id?: string;
  model?: string;
  choices?: { message?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: WireUsage;
}
interface ChatCompletionChunk {
  model?: string;
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: WireUsage | null;
  error?: { message?: unknown };
}
interface EmbeddingsResponse {
  data?: { embedding: number[]; index?: number }[];
  usage?: { prompt_tokens?: number };
}

function usageOf(usage: WireUsage | null | undefined): TokenUsage {
  if (!usage) return NO_USAGE;
  return {
    inputTokens: usage.prompt_tokens ?? 0,
    outputTokens: usage.completion_tokens ?? 0,
    cachedInputTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
    reasoningTokens: usage.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}

function readJson(response: Response, provider: string, model: string, secrets: readonly string[], signal: AbortSignal): Promise<unknown> {
  return response.json().then(undefined, (error: unknown) => {
    if (signal.aborted) throw signal.reason;
    throw new ProviderError({ provider, model, status: response.status, detail: `unreadable reply: ${describe(error)}`, secrets, cause: scrubCause(error, secrets) });
  });
}

function throwIt(error: unknown): never {
  throw error;
}

async function httpError(response: Response, provider: string, model: string, secrets: readonly string[], signal: AbortSignal): Promise<ProviderError> {
  let text = "";
  try {
    text = (await response.text()).slice(0, ERROR_BODY_LIMIT);
  } catch {
    if (signal.aborted) throw signal.reason;
  }
  let detail = text || response.statusText || "no body";
  let code: string | undefined;
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown; code?: unknown; type?: unknown } | string; message?: unknown };
    const err = parsed.error;
    if (typeof err === "string") detail = err;
    else if (err && typeof err.message === "string") detail = err.message;
    else if (typeof parsed.message === "string") detail = parsed.message;
    if (err && typeof err === "object") code = typeof err.code === "string" ? err.code : typeof err.type === "string" ? err.type : undefined;
  } catch {
    // Not JSON: keep the text.
  }
  const retryAfterMs = retryAfter(response.headers);
  const requestId = response.headers.get("x-request-id") ?? undefined;
  return new ProviderError({
    provider,
    model,
    status: response.status,
    detail,
    secrets,
    ...(code && { code }),
    ...(requestId && { requestId }),
    ...(retryAfterMs !== undefined && { retryAfterMs }),
  });
}

/** `retry-after-ms`, or `Retry-After` in seconds or as an HTTP date. */
export function retryAfter(headers: Headers, now = Date.now()): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms);
  const value = headers.get("retry-after");
  if (value === null) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The `data:` payloads of a server-sent event stream, one per event. */
async function* sseData(response: Response, signal: AbortSignal): AsyncIterable<string> {
  if (!response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        finished = true;
        break;
      }
      buffer += value;
      let end: number;
      while ((end = eventEnd(buffer)) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^(\r?\n){2}|^\r\r/, "");
        const data = event
          .split(/\r?\n|\r/)
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5))
          .join("\n");
        if (data) yield data;
      }
    }
  } finally {
    // Left early (a consumer's break, an error, an abort): close the connection, not just the reader.
    if (!finished) await reader.cancel(signal.aborted ? signal.reason : undefined).catch(() => {});
    reader.releaseLock();
  }
}

function eventEnd(buffer: string): number {
  const a = buffer.indexOf("\n\n");
  const b = buffer.indexOf("\r\n\r\n");
  if (a < 0) return b;
  if (b < 0) return a;
  return Math.min(a, b);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return String(error);
}

/** A network error as the cause, unless its text holds a secret (then only its name and code). */
function scrubCause(error: unknown, secrets: readonly string[]): unknown {
  const text = describe(error);
  return secrets.some((s) => text.includes(s)) ? new Error("network error (details withheld: they held a credential)") : error;
}
