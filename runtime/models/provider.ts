/**
 * The provider interface weft owns: what a model provider is, in four members. A new
 * provider is one file that implements it (see local.ts, openai.ts, ai-sdk.ts).
 *
 * Plain types only: providers never see weft's context, ops or usage ledgers. weft calls
 * them inside an op body, with the call's signal, and does retries, deadlines, rate
 * limits, usage, cost and spans around them.
 */
import type { JsonSchema } from "../../decorators/descriptor.js";

/** One chat message. */
export interface Message {
  readonly role: "system" | "user" | "assistant";
  readonly content: string;
}

/** What a chat model is asked: the same shape for `generate` and `stream`. */
export interface GenerateRequest {
  /** The model's name inside its provider (`gpt-4o-mini` in `openai:gpt-4o-mini`). */
  readonly model: string;
  readonly messages: readonly Message[];
  readonly temperature?: number;
  readonly maxTokens?: number;
  readonly topP?: number;
  readonly stop?: readonly string[];
  readonly seed?: number;
  /** Structured output: the reply must be JSON matching this schema (when the provider accepts one). */
  readonly schema?: { readonly name: string; readonly schema: JsonSchema };
  /** Aborts the request: weft passes the op call's signal (deadline or cancellation). */
  readonly signal: AbortSignal;
}

/**
 * The providers that may be handed the runtime's shared never-firing signal (a call with no
 * deadline and no canceller) because they never give it to `fetch`, which would add a
 * listener to it per request. Any other provider gets a fresh signal per call. Internal:
 * the built-in providers add themselves.
 */
export const sharesNeverSignal = new WeakSet<ModelProvider>();

/** Token counts of one call. Unknown counts are 0. */
export interface TokenUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Input tokens served from the provider's prompt cache (a part of `inputTokens`). */
  readonly cachedInputTokens: number;
  /** Output tokens spent on hidden reasoning (a part of `outputTokens`). */
  readonly reasoningTokens: number;
}

/** What a chat model answered. */
export interface GenerateResponse {
  readonly text: string;
  readonly usage: TokenUsage;
  readonly finishReason: string;
  /** The provider's id for the request (`x-request-id`), for support tickets and logs. */
  readonly requestId?: string;
  /** The model that answered, when the provider says (it may differ from the one asked). */
  readonly responseModel?: string;
}

/** One event of a streamed reply: text deltas in order, then exactly one `end`. */
export type StreamEvent = { readonly type: "delta"; readonly text: string } | ({ readonly type: "end" } & GenerateResponse);

/** What an embedding model is asked. */
export interface EmbedRequest {
  readonly model: string;
  readonly texts: readonly string[];
  readonly dimensions?: number;
  readonly signal: AbortSignal;
}

/** One vector per text, in order. */
export interface EmbedResponse {
  readonly vectors: readonly (readonly number[])[];
  readonly usage: TokenUsage;
  readonly requestId?: string;
}

/** What a provider can do; weft checks it before calling. */
export interface Capabilities {
  readonly chat: boolean;
  readonly stream: boolean;
  readonly embed: boolean;
  /** Accepts a JSON Schema for the reply (OpenAI `response_format: json_schema`). */
  readonly jsonSchema: boolean;
  /** Most texts one embed call accepts; weft splits larger batches. */
  readonly maxEmbedBatch?: number;
}

/** Requests per minute, tokens per minute and concurrent requests, per provider. */
export interface RateLimits {
  readonly rpm?: number;
  readonly tpm?: number;
  readonly concurrency?: number;
}

/** Price of a model, in US dollars per million tokens. */
export interface Price {
  readonly input: number;
  readonly output: number;
  /** Cached input tokens; default: the input price. */
  readonly cachedInput?: number;
}

/**
 * A model provider. `generate` is required; `stream` and `embed` when the capabilities say so.
 *
 * @example
 * ```ts
 * const echo: ModelProvider = {
 *   name: "echo",
 *   capabilities: { chat: true, stream: false, embed: false, jsonSchema: false },
 *   async generate(request) {
 *     const text = request.messages.at(-1)?.content ?? "";
 *     return { text, finishReason: "stop", usage: { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0, reasoningTokens: 0 } };
 *   },
 * };
 * models.register("echo", echo);
 * ```
 */
export interface ModelProvider {
  /** Shown in spans (`gen_ai.provider.name`) and errors. */
  readonly name: string;
  readonly capabilities: Capabilities;
  generate(request: GenerateRequest): Promise<GenerateResponse>;
  stream?(request: GenerateRequest): AsyncIterable<StreamEvent>;
  embed?(request: EmbedRequest): Promise<EmbedResponse>;
  /** The model names it serves (an OpenAI-compatible `GET /models`): `weft models list` and `health()` ask it. */
  listModels?(signal: AbortSignal): Promise<readonly string[]>;
  /** Limits weft enforces before each request to this provider. */
  readonly rateLimits?: RateLimits;
  /** Prices per model name (`"*"`: any model); the config's `prices` (by `provider:model`) wins. */
  readonly prices?: Readonly<Record<string, Price>>;
  /** Values that must never appear in messages, spans or events (API keys). */
  readonly secrets?: readonly string[];
  /** ModelClock for rate limits and Retry-After waits (tests inject a fake one). */
  readonly clock?: ModelClock;
}

/** Time, injectable: the rate limiter and Retry-After waits read it. */
export interface ModelClock {
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when it fires first. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: ModelClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal.addEventListener("abort", onAbort, { once: true });
    }),
};

/** Zero usage. */
export const NO_USAGE: TokenUsage = Object.freeze({ inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, reasoningTokens: 0 });
