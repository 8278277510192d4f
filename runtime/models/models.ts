/**
 * `models()`: model calls as weft ops. Each call kind is one registered io op
 * (`models.chat`, `models.object`, `models.stream`, `models.embed`), called through the
 * op kernel like any other: input checks, a span, retries (a default policy that follows
 * `ProviderError.retryable` and waits out `Retry-After`), deadlines and cancellation that
 * reach the socket, jit staging and vmap batching (embeddings use a native batch).
 *
 * Around each provider request, in this order: the run's budget (refused before sending),
 * the provider's rate limits, the request, then usage and cost into every enclosing ledger
 * and onto the span under the OpenTelemetry GenAI names.
 */
import type { Span } from "@opentelemetry/api";
import type { DurationInput, InjectedChecks, InjectedMeta, JsonSchema, OpDescriptor, RetryPolicy } from "../../decorators/descriptor.js";
import { isInjectedMeta } from "../../decorators/descriptor.js";
import { defineOp as registerOp } from "../define.js";
import { NEVER_SIGNAL, currentFrame, withContext, type Frame } from "../context.js";
import { toMillis } from "../duration.js";
import { invoke, type CallOverrides, type OpEntry } from "../invoke.js";
import { validatorsFor } from "../validate.js";
import { ValidationError } from "../errors.js";
import { TraceError } from "../../compiler/trace-error.js";
import type * as Tracer from "../../compiler/trace.js";
import { lazyModule } from "../lazy.js";
import { BudgetExceeded, ProviderError, type Budget } from "./errors.js";
import { sharesNeverSignal, type Price, type TokenUsage, type EmbedResponse, type GenerateRequest, type GenerateResponse, type Message, type ModelProvider, type StreamEvent } from "./provider.js";
import type { Permit } from "./limits.js";
import type { Resolved } from "./registry.js";
import type * as Registry from "./registry.js";
import { MODEL_CHECKS } from "./checks.generated.js";
import { MODEL_OPS, type ModelOpName, type ModelOpSignature } from "./schemas.js";
import { countMessageTokens, countTokens } from "./tokens.js";
import { costOf, currentLedger, ledgers, resetGlobal, track, type Ledger, type Usage, type UsageReport } from "./usage.js";
import { recordModelUsage } from "../metrics.js";

// The provider table (with config, credentials and the built-in providers) loads at the first model call.
const registry = lazyModule<typeof Registry>("./registry.js", import.meta.url, () => import("./registry.js"));
const tracer = lazyModule<typeof Tracer>("../../compiler/trace.js", import.meta.url, () => import("../../compiler/trace.js"));

/** A prompt: a user message, or a whole conversation. */
export type Prompt = string | readonly Message[];

/** Options of one chat call. Unknown options are refused. */
export interface ModelCallOptions {
  readonly temperature?: number;
  readonly maxTokens?: number;
  readonly topP?: number;
  readonly stop?: readonly string[];
  readonly seed?: number;
  /** A system message put before the prompt. */
  readonly system?: string;
  /** Budget for the call including retries. */
  readonly timeout?: DurationInput;
  /** Replaces the default retry policy (2 retries of retryable provider errors, with backoff). */
  readonly retry?: RetryPolicy;
}

/** Options of `models.object`. */
export interface ObjectOptions extends ModelCallOptions {
  /**
   * Replies asked for in all, the first included, before failing with the last
   * `ValidationError`. Each re-ask is a retry of the `models.object` op (its attempt number,
   * span and `op:retry` event), sent with the invalid reply and the validation message.
   * Default 3. (`retry` applies to each chat request: provider errors, 429s.)
   */
  readonly attempts?: number;
  /** `T`'s JSON Schema, when no transformer injected it. */
  readonly schema?: JsonSchema;
  /** The schema's name sent to the provider. Default `"output"`. */
  readonly schemaName?: string;
}

/** Options of `models.embed`. */
export interface EmbedOptions {
  readonly dimensions?: number;
  readonly timeout?: DurationInput;
  readonly retry?: RetryPolicy;
}

/** Tokens and cost of one call. */
export interface CallUsage extends TokenUsage {
  readonly totalTokens: number;
  /** US dollars; undefined when the model has no price. */
  readonly costUsd: number | undefined;
}

/** What `models.generate` returns: the text, and what it cost. */
export interface ModelResult {
  readonly text: string;
  /** `provider:model` as asked. */
  readonly model: string;
  readonly usage: CallUsage;
  readonly finishReason: string;
  readonly requestId?: string;
}

/** What a stream yields: text deltas in order, then one `usage` event. */
export type ModelStreamEvent = { readonly type: "delta"; readonly text: string } | ({ readonly type: "usage" } & ModelResult);

const ENTRY = Symbol.for("weft.entry");

/** Retryable: a provider's own verdict; network failures; anything unknown. Never a budget or usage error. */
function retryOn(error: unknown): boolean {
  if (error instanceof ProviderError) return error.retryable;
  return !(error instanceof BudgetExceeded || error instanceof TypeError || error instanceof RangeError);
}

/** The default retry policy of model calls. */
export const MODEL_RETRY: RetryPolicy = Object.freeze({ times: 2, backoff: Object.freeze({ initial: 250, factor: 2, max: 8_000, jitter: 0.5 }), retryOn });

/**
 * A descriptor written here, as the transformer would have: the model ops are typed by
 * construction (runtime/models/schemas.ts), and checked by the checks generated from their
 * schemas (checks.generated.ts), not by the schema interpreter.
 */
function descriptor(name: string, params: ModelOpSignature["params"], returns: JsonSchema | undefined, policy: OpDescriptor["policy"], checks?: InjectedChecks): OpDescriptor {
  return Object.freeze({
    id: `weft:${name}`,
    name,
    kind: "io",
    async: true,
    params: params.map(([param, schema, optional]) => ({ name: param, schema, ...(optional && { optional: true }) })),
    ...(returns !== undefined && { returns }),
    policy,
    config: Object.freeze({}),
    typed: true,
    ...(checks !== undefined && { checks }),
  });
}

function defineOp(name: ModelOpName, body: (...args: never[]) => unknown, batch?: { run: (items: readonly (readonly unknown[])[]) => Promise<readonly unknown[]> }): OpEntry {
  const { params, returns } = MODEL_OPS[name] as ModelOpSignature;
  return registerOp(descriptor(name, params, returns, Object.freeze({ retry: MODEL_RETRY }), MODEL_CHECKS[name]), body, batch as never);
}

// ---- the metered request: budget, rate limit, send, usage --------------------------------

function priceOf(resolved: Resolved, config: Readonly<Record<string, unknown>>): Price | undefined {
  const table = config.prices as Readonly<Record<string, Price>> | undefined;
  const own = resolved.provider.prices;
  return table?.[resolved.id] ?? own?.[resolved.model] ?? own?.["*"];
}

const NO_LEDGERS: readonly Ledger[] = Object.freeze([]);

/**
 * One metered provider request: the run's budget (refused before sending), the provider's
 * rate limits, the request, then usage and cost into every enclosing ledger and onto the
 * span; `finish` builds the call's value from the reply and its usage. Promise chains, not
 * async functions: this is every model call's path, and most calls (no budget, no limits)
 * take no wait but the request's own.
 */
function metered<T extends { readonly usage: TokenUsage; readonly requestId?: string }, R>(
  frame: Frame,
  resolved: Resolved,
  operation: "chat" | "embeddings",
  /** The request's input tokens, estimated; counted only when a budget or a token bucket needs it. */
  estimateInput: () => number,
  maxOutput: number | undefined,
  request: object,
  send: (signal: AbortSignal) => Promise<T>,
  finish: (value: T, usage: CallUsage) => R,
): Promise<R> {
  const price = priceOf(resolved, frame.config);
  const chain = ledgers();
  const limiter = resolved.limiter;
  let budgeted = false;
  for (let i = 0; i < chain.length; i++) if (chain[i]!.budget !== undefined) budgeted = true;
  // Most calls have no budget and no token bucket: nothing to estimate, nothing to reserve.
  const inputEstimate = budgeted || limiter.countsTokens ? estimateInput() : 0;
  const reserveTokens = inputEstimate + (maxOutput ?? 0);
  const reserveCost = budgeted && price ? costOf({ inputTokens: inputEstimate, outputTokens: maxOutput ?? 0, cachedInputTokens: 0, reasoningTokens: 0 }, price) : undefined;
  let reserved = NO_LEDGERS;
  if (budgeted) {
    const taken: Ledger[] = [];
    try {
      for (const ledger of chain) {
        ledger.reserve(resolved.id, reserveTokens, reserveCost);
        taken.push(ledger);
      }
    } catch (error) {
      for (const ledger of taken) ledger.release(reserveTokens, reserveCost);
      return Promise.reject(error);
    }
    reserved = taken;
  }
  const span = frame.span;
  if (span) requestAttributes(span, resolved, operation, request as Readonly<Record<string, unknown>>);
  // A call with no deadline or canceller shares the root's never-firing signal. fetch (undici)
  // adds a listener to the signal it gets and drops it only when the request is collected,
  // so listeners would pile up on that one shared signal and make every add slower: a
  // provider that might hand it to fetch gets a signal of its own, which dies with the call.
  // The built-in ones keep it away from fetch (nothing can abort such a call anyway).
  const signal = frame.signal === NEVER_SIGNAL && !sharesNeverSignal.has(resolved.provider) ? new AbortController().signal : frame.signal;
  let permit: Permit | undefined;
  const settle = (actualTokens: number | undefined): void => {
    permit?.release(actualTokens);
    for (let i = 0; i < reserved.length; i++) reserved[i]!.release(reserveTokens, reserveCost);
  };
  const sent = (value: T): R => {
    const usage = value.usage;
    try {
      const costUsd = price ? costOf(usage, price) : undefined;
      const record = { model: resolved.id, tenant: frame.tenant, stepId: frame.stepId, usage, costUsd };
      for (let i = 0; i < chain.length; i++) chain[i]!.record(record);
      recordModelUsage(resolved.id, resolved.providerName, usage, costUsd);
      if (span) usageAttributes(span, usage, costUsd, value.requestId);
      return finish(value, { ...usage, totalTokens: usage.inputTokens + usage.outputTokens, costUsd });
    } finally {
      settle(usage.inputTokens + usage.outputTokens);
    }
  };
  const failed = (error: unknown): never => {
    // A 429/503 with Retry-After pauses every request to this provider, the retry included.
    if (error instanceof ProviderError && error.retryAfterMs !== undefined) limiter.pause((resolved.provider.clock?.now() ?? Date.now()) + error.retryAfterMs);
    settle(undefined);
    throw error;
  };
  const start = (granted: Permit): Promise<R> => {
    permit = granted;
    let reply: Promise<T>;
    try {
      reply = send(signal);
    } catch (error) {
      reply = Promise.reject(error);
    }
    return reply.then(sent, failed);
  };
  let now: Permit | undefined;
  try {
    now = limiter.tryAcquire(signal);
  } catch (error) {
    settle(undefined);
    return Promise.reject(error);
  }
  if (now !== undefined) return start(now);
  return limiter.acquire(reserveTokens, signal).then(start, (error: unknown) => {
    settle(undefined);
    throw error;
  });
}

function requestAttributes(span: Span, resolved: Resolved, operation: string, request: Readonly<Record<string, unknown>>): void {
  span.setAttribute("gen_ai.operation.name", operation);
  span.setAttribute("gen_ai.provider.name", resolved.provider.name);
  span.setAttribute("gen_ai.system", resolved.provider.name);
  span.setAttribute("gen_ai.request.model", resolved.model);
  if (typeof request.temperature === "number") span.setAttribute("gen_ai.request.temperature", request.temperature);
  if (typeof request.maxTokens === "number") span.setAttribute("gen_ai.request.max_tokens", request.maxTokens);
  if (typeof request.topP === "number") span.setAttribute("gen_ai.request.top_p", request.topP);
  if (typeof request.seed === "number") span.setAttribute("gen_ai.request.seed", request.seed);
  if (request.schema !== undefined) span.setAttribute("gen_ai.output.type", "json");
}

function usageAttributes(span: Span, usage: TokenUsage, costUsd: number | undefined, requestId: string | undefined): void {
  span.setAttribute("gen_ai.usage.input_tokens", usage.inputTokens);
  span.setAttribute("gen_ai.usage.output_tokens", usage.outputTokens);
  if (usage.cachedInputTokens > 0) span.setAttribute("gen_ai.usage.cache_read.input_tokens", usage.cachedInputTokens);
  if (usage.reasoningTokens > 0) span.setAttribute("weft.usage.reasoning_tokens", usage.reasoningTokens);
  if (costUsd !== undefined) span.setAttribute("weft.usage.cost_usd", costUsd);
  if (requestId) span.setAttribute("gen_ai.response.id", requestId);
}

function responseAttributes(span: Span | undefined, response: GenerateResponse): void {
  if (!span) return;
  span.setAttribute("gen_ai.response.finish_reasons", [response.finishReason]);
  if (response.responseModel) span.setAttribute("gen_ai.response.model", response.responseModel);
}

// ---- chat ---------------------------------------------------------------------------

interface ChatOptions {
  readonly temperature?: number;
  readonly maxTokens?: number;
  readonly topP?: number;
  readonly stop?: readonly string[];
  readonly seed?: number;
  readonly system?: string;
  readonly schema?: { readonly name: string; readonly schema: JsonSchema };
}

function messagesOf(prompt: Prompt, system: string | undefined): readonly Message[] {
  const messages: readonly Message[] = typeof prompt === "string" ? [{ role: "user", content: prompt }] : prompt;
  return system === undefined ? messages : [{ role: "system", content: system }, ...messages];
}

function chatRequest(resolved: Resolved, messages: readonly Message[], options: ChatOptions | undefined, signal: AbortSignal): GenerateRequest {
  if (options === undefined) return { model: resolved.model, messages, signal };
  const request: { -readonly [K in keyof GenerateRequest]: GenerateRequest[K] } = { model: resolved.model, messages, signal };
  if (options.temperature !== undefined) request.temperature = options.temperature;
  if (options.maxTokens !== undefined) request.maxTokens = options.maxTokens;
  if (options.topP !== undefined) request.topP = options.topP;
  if (options.stop !== undefined) request.stop = options.stop;
  if (options.seed !== undefined) request.seed = options.seed;
  if (options.schema !== undefined) request.schema = options.schema;
  return request;
}

function need(resolved: Resolved, what: "chat" | "stream" | "embed"): ModelProvider {
  const provider = resolved.provider;
  if (!provider.capabilities[what] || (what === "stream" && !provider.stream) || (what === "embed" && !provider.embed)) {
    throw new TypeError(`models: provider "${resolved.providerName}" cannot ${what} (model "${resolved.id}")`);
  }
  return provider;
}

function toResult(resolved: Resolved, response: GenerateResponse, usage: CallUsage): ModelResult {
  return { text: response.text, model: resolved.id, usage, finishReason: response.finishReason, ...(response.requestId && { requestId: response.requestId }) };
}

function chatBody(model: string, prompt: Prompt, options?: ChatOptions): Promise<ModelResult> {
  const frame = currentFrame();
  const resolved = registry().resolveModel(model, frame.config);
  const provider = need(resolved, "chat");
  const messages = messagesOf(prompt, options?.system);
  return metered(
    frame,
    resolved,
    "chat",
    () => countMessageTokens(messages),
    options?.maxTokens,
    options ?? NO_OPTIONS,
    (signal) => provider.generate(chatRequest(resolved, messages, options, signal)),
    (value: GenerateResponse, usage) => {
      responseAttributes(frame.span, value);
      return toResult(resolved, value, usage);
    },
  );
}

const NO_OPTIONS: ChatOptions = Object.freeze({});

const chatEntry = defineOp("models.chat", chatBody as never);

// ---- structured output ------------------------------------------------------------------

const checks = new WeakMap<object, OpDescriptor>();

/** The output check of `schema`, as an op's return check: a `ValidationError` naming `models.object`. */
function checkerFor(schema: JsonSchema, defs: Readonly<Record<string, JsonSchema>> | undefined): (value: unknown) => void {
  const key = typeof schema === "object" ? schema : { schema };
  let desc = checks.get(key);
  if (!desc) {
    desc = { ...descriptor("models.object", [], schema, {}), ...(defs && { defs }) };
    checks.set(key, desc);
  }
  return validatorsFor(desc).output ?? (() => {});
}

/** The reply as JSON: the whole text, else the first fenced or braced block in it. */
function parseReply(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  const candidates = [text.trim()];
  const fenced = /```(?:json)?\s*([\s\S]*?)```/.exec(text);
  if (fenced) candidates.push(fenced[1]!.trim());
  const start = text.search(/[[{]/);
  if (start >= 0) candidates.push(text.slice(start, Math.max(text.lastIndexOf("}"), text.lastIndexOf("]")) + 1));
  for (const candidate of candidates) {
    try {
      return { ok: true, value: JSON.parse(candidate) };
    } catch {
      // Try the next candidate.
    }
  }
  return { ok: false, error: "the reply is not JSON" };
}

/**
 * The schema as sent: definitions carried along under `$defs`, and a root `$ref` inlined,
 * since providers want an object schema at the root (OpenAI's `json_schema` does).
 */
function wireSchema(schema: JsonSchema, defs: Readonly<Record<string, JsonSchema>> | undefined): JsonSchema {
  if (!defs || Object.keys(defs).length === 0 || typeof schema !== "object") return schema;
  const all = { ...(schema.$defs as Record<string, JsonSchema> | undefined), ...defs };
  const ref = typeof schema.$ref === "string" ? /^#\/\$defs\/(.+)$/.exec(schema.$ref)?.[1] : undefined;
  const root = ref !== undefined ? all[ref] : undefined;
  if (root !== undefined && typeof root === "object") return { ...root, $defs: all };
  return { ...schema, $defs: all };
}

interface ObjectBodyOptions extends ChatOptions {
  readonly schemaName?: string;
  readonly defs?: Readonly<Record<string, JsonSchema>>;
}

/**
 * One `models.object` call's conversation, carried from attempt to attempt (a fresh object
 * per call: a jitted plan rebuilds it on every run, as it does every literal).
 */
interface Conversation {
  /** The messages the next attempt sends: the prompt, then each invalid reply and what was wrong with it. */
  messages?: readonly Message[];
  /** The retry policy of the chat requests themselves (provider errors), when the caller gave one. */
  readonly chatRetry?: RetryPolicy;
}

/** The re-ask policy of `models.object`: its own invalid output, immediately, `attempts - 1` times. */
function reasks(attempts: number): RetryPolicy {
  return { times: attempts - 1, backoff: { initial: 0, jitter: 0 }, retryOn: (error) => error instanceof ValidationError && error.op === "models.object" };
}

/**
 * One attempt of `models.object`: ask, parse, check. An invalid reply throws the
 * `ValidationError` and leaves the re-ask (the reply and the error's message) in the
 * conversation; the kernel's retry policy runs the next attempt, so a re-ask is a retry
 * like any other: counted in `attempt`, on the span, in `op:retry` events.
 */
async function objectBody(model: string, prompt: Prompt, options: ObjectBodyOptions & { schema?: JsonSchema }, conversation: Conversation): Promise<unknown> {
  const { schemaName = "output", defs, schema, ...chat } = options;
  if (schema === undefined) throw new TypeError("models.object: no schema for T (build with the weft transformer, or pass { schema })");
  const check = checkerFor(schema, defs);
  const wire = wireSchema(schema, defs);
  const frame = currentFrame();
  let messages = frame.attempt > 1 ? conversation.messages : undefined;
  if (messages === undefined) {
    const supports = registry().resolveModel(model, frame.config).provider.capabilities.jsonSchema;
    messages = [...messagesOf(prompt, chat.system)];
    if (!supports) messages = [...messages, { role: "system", content: `Reply with JSON only, matching this JSON Schema: ${JSON.stringify(wire)}` }];
  }
  const { system: _s, ...rest } = chat;
  const overrides = conversation.chatRetry === undefined ? undefined : { retry: conversation.chatRetry };
  const result = (await invoke(chatEntry, undefined, [model, messages, { ...rest, schema: { name: schemaName, schema: wire } }], overrides)) as ModelResult;
  const parsed = parseReply(result.text);
  let invalid: ValidationError;
  let problem: string;
  if (parsed.ok) {
    try {
      check(parsed.value);
      return parsed.value;
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      invalid = error;
      problem = error.message.replace(/^models\.object: invalid output: /, "");
    }
  } else {
    invalid = new ValidationError("models.object", [{ direction: "output", parameter: "return", path: "$", expected: "JSON", received: JSON.stringify(result.text.slice(0, 60)), keyword: "json" }]);
    problem = parsed.error;
  }
  // The next attempt re-asks with the error: cheaper models usually fix their reply when told what was wrong.
  conversation.messages = [
    ...messages,
    { role: "assistant", content: result.text },
    { role: "user", content: `That reply is invalid: ${problem}. Answer again with only the corrected JSON.` },
  ];
  throw invalid;
}

const objectEntry = defineOp("models.object", objectBody as never);

// ---- streaming ----------------------------------------------------------------------------

type Sink = (event: StreamEvent) => Promise<void>;

async function streamBody(model: string, prompt: Prompt, options: ChatOptions | undefined, sink: Sink): Promise<ModelResult> {
  const frame = currentFrame();
  const resolved = registry().resolveModel(model, frame.config);
  const provider = need(resolved, "stream");
  const messages = messagesOf(prompt, options?.system);
  let emitted = false;
  const { value, usage } = await metered(frame, resolved, "chat", () => countMessageTokens(messages), options?.maxTokens, options ?? NO_OPTIONS, async (signal): Promise<GenerateResponse> => {
    try {
      for await (const event of provider.stream!(chatRequest(resolved, messages, options, signal))) {
        if (event.type === "end") return event;
        emitted = true;
        await sink(event);
      }
    } catch (error) {
      // Deltas already went out: another attempt would repeat them, so this one is final.
      if (emitted && error instanceof ProviderError && error.retryable) throw new ProviderError({ ...error, retryable: false, cause: error });
      throw error;
    }
    throw new ProviderError({ provider: resolved.providerName, model: resolved.model, status: undefined, detail: "the stream ended without a final event" });
  }, (value, usage) => ({ value, usage }));
  responseAttributes(frame.span, value);
  return toResult(resolved, value, usage);
}

const streamEntry = defineOp("models.stream", streamBody as never);

/** An async iterable over one streamed call; the call starts on the first `next()`. */
function streamOf(model: string, prompt: Prompt, options: ChatOptions | undefined, overrides: CallOverrides | undefined): AsyncIterable<ModelStreamEvent> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<ModelStreamEvent> {
      const queue: ModelStreamEvent[] = [];
      let wake: (() => void) | undefined;
      let pulled: (() => void) | undefined;
      let finished: { ok: true } | { ok: false; error: unknown } | undefined;
      let call: Promise<unknown> | undefined;
      const controller = new AbortController();
      const notify = () => {
        wake?.();
        wake = undefined;
      };
      const sink: Sink = (event) => {
        if (event.type === "delta") queue.push(event);
        notify();
        // Backpressure: the body waits until the consumer took the delta.
        return new Promise<void>((resolve) => (pulled = resolve));
      };
      const start = () => {
        call = withContext({ signal: controller.signal }, () => invoke(streamEntry, undefined, [model, prompt, options, sink], overrides)).then(
          (result) => {
            queue.push({ type: "usage", ...(result as ModelResult) });
            finished = { ok: true };
            notify();
          },
          (error: unknown) => {
            finished = { ok: false, error };
            notify();
          },
        );
      };
      return {
        async next(): Promise<IteratorResult<ModelStreamEvent>> {
          if (!call) start();
          for (;;) {
            const event = queue.shift();
            if (event) {
              pulled?.();
              pulled = undefined;
              return { value: event, done: false };
            }
            if (finished) {
              if (!finished.ok) {
                const { error } = finished;
                finished = { ok: true };
                throw error;
              }
              return { value: undefined, done: true };
            }
            await new Promise<void>((resolve) => (wake = resolve));
          }
        },
        async return(): Promise<IteratorResult<ModelStreamEvent>> {
          // The consumer stopped early: cancel the call (closing the connection) and wait for it.
          if (call && !finished) {
            controller.abort(new Error("stream consumer stopped"));
            pulled?.();
            await call;
          }
          finished = { ok: true };
          queue.length = 0;
          return { value: undefined, done: true };
        },
      };
    },
  };
}

// ---- embeddings ---------------------------------------------------------------------------

async function embedMany(model: string, texts: readonly string[], options: { readonly dimensions?: number } | undefined): Promise<(readonly number[])[]> {
  const frame = currentFrame();
  const resolved = registry().resolveModel(model, frame.config);
  const provider = need(resolved, "embed");
  const max = provider.capabilities.maxEmbedBatch ?? Infinity;
  const out: (readonly number[])[] = [];
  for (let i = 0; i < texts.length; i += max) {
    const chunk = texts.slice(i, i + max);
    const estimate = () => {
      let n = 0;
      for (const t of chunk) n += countTokens(t);
      return n;
    };
    const value = await metered(
      frame,
      resolved,
      "embeddings",
      estimate,
      undefined,
      options ?? {},
      (signal): Promise<EmbedResponse> => provider.embed!({ model: resolved.model, texts: chunk, signal, ...(options?.dimensions !== undefined && { dimensions: options.dimensions }) }),
      (reply) => reply,
    );
    if (value.vectors.length !== chunk.length) throw new ProviderError({ provider: resolved.providerName, model: resolved.model, status: undefined, detail: `expected ${chunk.length} vectors, received ${value.vectors.length}` });
    out.push(...value.vectors);
  }
  return out;
}

async function embedBody(model: string, input: string | readonly string[], options?: { readonly dimensions?: number }): Promise<unknown> {
  if (typeof input === "string") return (await embedMany(model, [input], options))[0];
  return embedMany(model, input, options);
}

/** vmap's native batch: items with the same model and options go to the provider together. */
async function embedBatch(items: readonly (readonly unknown[])[]): Promise<readonly unknown[]> {
  const groups = new Map<string, number[]>();
  items.forEach((item, index) => {
    const key = `${String(item[0])}\u0000${JSON.stringify(item[2] ?? {})}`;
    const group = groups.get(key);
    if (group) group.push(index);
    else groups.set(key, [index]);
  });
  const out = new Array<unknown>(items.length);
  await Promise.all(
    [...groups.values()].map(async (indices) => {
      const first = items[indices[0]!]!;
      // Each item is one text or a list of texts: flatten, embed once, and split back.
      const texts: string[] = [];
      const spans: [number, number, boolean][] = [];
      for (const i of indices) {
        const input = items[i]![1] as string | readonly string[];
        const start = texts.length;
        if (typeof input === "string") texts.push(input);
        else texts.push(...input);
        spans.push([start, texts.length, typeof input === "string"]);
      }
      const vectors = await embedMany(first[0] as string, texts, first[2] as { dimensions?: number } | undefined);
      indices.forEach((index, k) => {
        const [start, end, single] = spans[k]!;
        out[index] = single ? vectors[start] : vectors.slice(start, end);
      });
    }),
  );
  return out;
}

const embedEntry = defineOp("models.embed", embedBody as never, { run: embedBatch });

// ---- the public functions -----------------------------------------------------------------

const NOTHING_TO_SPLIT: [undefined, undefined] = [undefined, undefined];

function split<O extends { readonly timeout?: DurationInput; readonly retry?: RetryPolicy }>(options: O | undefined, what: string): [Omit<O, "timeout" | "retry"> | undefined, CallOverrides | undefined] {
  if (options === undefined) return NOTHING_TO_SPLIT;
  if (typeof options !== "object" || options === null) throw new TypeError(`${what}: options must be an object`);
  const { timeout, retry, ...rest } = options;
  if (timeout === undefined && retry === undefined) return [options, undefined];
  const overrides: CallOverrides = { ...(timeout !== undefined && { timeout: toMillis(timeout, `${what}: timeout`) }), ...(retry !== undefined && { retry }) };
  return [rest, overrides];
}

function generate(model: string, prompt: Prompt, options?: ModelCallOptions): Promise<ModelResult> {
  const [body, overrides] = split(options, "models");
  return invoke(chatEntry, undefined, body === undefined ? [model, prompt] : [model, prompt, body], overrides) as Promise<ModelResult>;
}

function text(model: string, prompt: Prompt, options?: ModelCallOptions): Promise<string> {
  return generate(model, prompt, options).then((result) => result.text);
}

function object<T>(model: string, prompt: Prompt, options?: ObjectOptions | InjectedMeta, meta?: InjectedMeta): Promise<T> {
  let injected = meta;
  let own = options as ObjectOptions | undefined;
  if (isInjectedMeta(options)) {
    injected = options;
    own = undefined;
  }
  if (own !== undefined && (typeof own !== "object" || own === null)) throw new TypeError("models.object: options must be an object");
  // `timeout` bounds the whole call, re-asks included; `retry` is the chat requests' own
  // (provider errors); `attempts` is how many replies are asked for in all.
  const { timeout, retry, attempts = 3, ...body } = own ?? {};
  if (!(Number.isInteger(attempts) && attempts >= 1)) throw new RangeError(`models.object: attempts must be a whole number >= 1, received ${String(attempts)}`);
  const schema = body.schema ?? injected?.returns;
  const defs = injected?.defs;
  const args = { ...body, ...(schema !== undefined && { schema }), ...(defs !== undefined && body.schema === undefined && { defs }) };
  const overrides: CallOverrides = { retry: reasks(attempts), ...(timeout !== undefined && { timeout: toMillis(timeout, "models.object: timeout") }) };
  const conversation: Conversation = retry === undefined ? {} : { chatRetry: retry };
  return invoke(objectEntry, undefined, [model, prompt, args, conversation], overrides) as Promise<T>;
}

function stream(model: string, prompt: Prompt, options?: ModelCallOptions): AsyncIterable<ModelStreamEvent> {
  // The traced code would consume the deltas as they arrive, between op calls: a plan cannot
  // stage that, so the signature runs eagerly (loudly), as any construct a plan cannot keep.
  if (currentFrame().trace !== undefined) {
    throw new TraceError(
      "models.stream inside a jitted function: its deltas reach the code as they arrive, which a plan cannot stage; call it outside the jitted function, or use models() for the whole reply",
      // Tracing, so the tracer is loaded.
      tracer().callerLocation(),
    );
  }
  const [body, overrides] = split(options, "models.stream");
  return streamOf(model, prompt, body, overrides);
}

function embedCall(model: string, input: string | readonly string[], options?: EmbedOptions): Promise<unknown> {
  const [body, overrides] = split(options, "models.embed");
  return invoke(embedEntry, undefined, body === undefined ? [model, input] : [model, input, body], overrides);
}
// The single-text signature last: vmap's types read the last overload (one text per item).
const embed = Object.defineProperty(embedCall, ENTRY, { value: embedEntry }) as {
  (model: string, texts: readonly string[], options?: EmbedOptions): Promise<number[][]>;
  (model: string, text: string, options?: EmbedOptions): Promise<number[]>;
};
Object.defineProperty(embed, "name", { value: "models.embed" });

/** A model with defaults for every call: `models.instance(id, defaults)`. */
export interface ModelInstance {
  (prompt: Prompt, options?: ModelCallOptions): Promise<string>;
  readonly id: string;
  generate(prompt: Prompt, options?: ModelCallOptions): Promise<ModelResult>;
  /**
   * A value of type `T`, as `models.object<T>(id, prompt)` with this instance's defaults: the
   * transformer injects `T`'s schema here too.
   * @weftObject
   */
  object<T>(prompt: Prompt, options?: ObjectOptions): Promise<T>;
  stream(prompt: Prompt, options?: ModelCallOptions): AsyncIterable<ModelStreamEvent>;
}

function instance(model: string, defaults: ObjectOptions = {}): ModelInstance {
  if (typeof model !== "string" || model === "") throw new TypeError("models.instance: expected a model id such as \"local:chat\"");
  const { attempts, schema: _s, schemaName: _n, ...chatDefaults } = defaults;
  const merge = <O extends object>(options: O | undefined, base: object): O => ({ ...base, ...options }) as O;
  const handle = (prompt: Prompt, options?: ModelCallOptions) => text(model, prompt, merge(options, chatDefaults));
  return Object.assign(handle, {
    id: model,
    generate: (prompt: Prompt, options?: ModelCallOptions) => generate(model, prompt, merge(options, chatDefaults)),
    object: <T>(prompt: Prompt, options?: ObjectOptions | InjectedMeta, meta?: InjectedMeta) =>
      isInjectedMeta(options) ? object<T>(model, prompt, merge({}, { ...chatDefaults, ...(attempts && { attempts }) }), options) : object<T>(model, prompt, merge(options, { ...chatDefaults, ...(attempts && { attempts }) }), meta),
    stream: (prompt: Prompt, options?: ModelCallOptions) => stream(model, prompt, merge(options, chatDefaults)),
  }) as ModelInstance;
}

/** What `models.track` gives back. */
export interface Tracked<T> {
  readonly value: T;
  readonly usage: UsageReport;
}

/** The `models` function and its members. */
export interface Models {
  /** Asks `model` (`provider:model`, or `"default"`) and returns the reply's text. */
  (model: string, prompt: Prompt, options?: ModelCallOptions): Promise<string>;
  /** The reply with its usage, cost, finish reason and request id. */
  generate(model: string, prompt: Prompt, options?: ModelCallOptions): Promise<ModelResult>;
  /**
   * A value of type `T`: the transformer injects `T`'s schema, the reply is parsed and
   * validated, and an invalid reply is re-asked with the error (`attempts`, default 3).
   * @weftObject
   */
  object<T>(model: string, prompt: Prompt, options?: ObjectOptions): Promise<T>;
  /** Text deltas in order, then a `usage` event. Breaking out of the loop cancels the request. */
  stream(model: string, prompt: Prompt, options?: ModelCallOptions): AsyncIterable<ModelStreamEvent>;
  /** One vector per text; under `vmap`, items go to the provider in native batches. */
  embed: typeof embed;
  /** A handle with defaults for every call. */
  instance(model: string, defaults?: ObjectOptions): ModelInstance;
  /** Registers (or replaces) a provider under `name`, for ids `name:model`. */
  register(name: string, provider: ModelProvider): void;
  /** Runs `fn` in a usage scope (optionally with a budget) and returns its value and usage. */
  track<T>(fn: () => T | PromiseLike<T>, options?: { readonly budget?: Budget }): Promise<Tracked<Awaited<T>>>;
  /** The usage of the innermost `track` scope so far (the process-wide totals outside any). */
  usage(): UsageReport;
  /** Clears the process-wide totals and returns them. */
  resetUsage(): UsageReport;
}

/**
 * Model calls, as ops.
 *
 * @weftModels
 * @example
 * ```ts
 * const text = await models("local:chat", "Why is the sky blue?");
 * const judge = models.instance("local:judge", { temperature: 0 });
 * const { value, usage } = await models.track(() => judge("Pick the best answer"));
 * console.log(value, usage.totalTokens, usage.costUsd);
 * ```
 */
export const models: Models = Object.assign(text, {
  generate,
  object: object as Models["object"],
  stream,
  embed,
  instance,
  register: (name: string, provider: ModelProvider) => registry().registerProvider(name, provider),
  track: <T>(fn: () => T | PromiseLike<T>, options: { readonly budget?: Budget } = {}) => {
    const unknown = Object.keys(options).filter((k) => k !== "budget");
    if (unknown.length > 0) throw new TypeError(`models.track: unknown option ${unknown.map((k) => `"${k}"`).join(", ")} (expected budget)`);
    return track(fn, options.budget);
  },
  usage: () => currentLedger().report(),
  resetUsage: resetGlobal,
});

export type { Usage, UsageReport };
