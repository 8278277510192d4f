/**
 * `local`: the embedded default provider. Offline and deterministic: a reply is a pure
 * function of the request (model, messages, temperature, seed), so tests, examples and the
 * demo run with no network and the same output on every machine. Chat (plain text, or JSON
 * generated from the requested schema), streaming, and hashed TF-IDF embeddings.
 */
import type { JsonSchema } from "../../decorators/descriptor.js";
import { NO_USAGE, systemClock, type ModelClock, type EmbedRequest, type EmbedResponse, type GenerateRequest, type GenerateResponse, type ModelProvider, type StreamEvent } from "./provider.js";
import { countMessageTokens, countTokens, hash32, prng, tokenize } from "./tokens.js";

/** Options of the local provider. */
export interface LocalOptions {
  /** Simulated latency per request: a fixed number of ms, or `[min, max]` drawn from the request's seed. Default 0. */
  readonly latencyMs?: number | readonly [number, number];
  /** Embedding width when the request names none. Default 256. */
  readonly dimensions?: number;
  /** Inverse document frequency per hashed bucket (length = dimensions); default: all 1. */
  readonly idf?: Float64Array | readonly number[];
  readonly clock?: ModelClock;
}

const FILLER = "the of light because scattering shorter wavelengths air molecules sun angle path longer red blue appears more through atmosphere so at and when".split(" ");

/**
 * The local provider. `models("local:anything", prompt)` works out of the box; register a
 * configured one under a name of your own for other latencies or widths.
 *
 * @example
 * ```ts
 * models.register("slow", localProvider({ latencyMs: [40, 120] }));
 * await models("slow:alpha", "Why is the sky blue?");
 * ```
 */
export function localProvider(options: LocalOptions = {}): ModelProvider {
  const clock = options.clock ?? systemClock;
  const dims = options.dimensions ?? 256;
  if (!(Number.isInteger(dims) && dims >= 1)) throw new RangeError(`local: dimensions must be a whole number >= 1, received ${dims}`);
  const latency = options.latencyMs ?? 0;
  const wait = async (seed: number, signal: AbortSignal) => {
    const ms = typeof latency === "number" ? latency : latency[0] + Math.floor(prng(seed ^ 0x9e3779b9)() * (latency[1] - latency[0] + 1));
    if (ms > 0) await clock.sleep(ms, signal);
    else if (signal.aborted) throw signal.reason;
  };
  const reply = (request: GenerateRequest) => {
    const seed = requestSeed(request);
    const text = request.schema ? JSON.stringify(fromSchema(request.schema.schema, schemaDefs(request.schema.schema), prng(seed), 0)) : prose(request, prng(seed));
    const outputTokens = countTokens(text);
    const capped = request.maxTokens !== undefined && outputTokens > request.maxTokens && !request.schema;
    const finalText = capped ? tokenize(text).slice(0, request.maxTokens).join(" ") : text;
    const usage = { ...NO_USAGE, inputTokens: countMessageTokens(request.messages), outputTokens: capped ? request.maxTokens! : outputTokens };
    return { seed, response: { text: finalText, usage, finishReason: capped ? "length" : "stop", responseModel: request.model } satisfies GenerateResponse };
  };
  return {
    name: "local",
    capabilities: { chat: true, stream: true, embed: true, jsonSchema: true },
    prices: { "*": { input: 0, output: 0 } },
    clock,
    async generate(request) {
      const { seed, response } = reply(request);
      await wait(seed, request.signal);
      return response;
    },
    async *stream(request): AsyncIterable<StreamEvent> {
      const { seed, response } = reply(request);
      await wait(seed, request.signal);
      // Deltas of a word (and its following space) each, as a model streams tokens.
      for (const piece of response.text.match(/\S+\s*/g) ?? []) {
        if (request.signal.aborted) throw request.signal.reason;
        yield { type: "delta", text: piece };
      }
      yield { type: "end", ...response };
    },
    // Any model name works offline; these are the two the docs and the demo use.
    async listModels(): Promise<readonly string[]> {
      return ["chat", "embed"];
    },
    async embed(request: EmbedRequest): Promise<EmbedResponse> {
      const width = request.dimensions ?? dims;
      await wait(hash32(request.texts.join("\u0000")), request.signal);
      let tokens = 0;
      const vectors = request.texts.map((text) => {
        tokens += countTokens(text);
        return Array.from(hashedEmbedding(tokenize(text.toLowerCase()), width, options.idf));
      });
      return { vectors, usage: { ...NO_USAGE, inputTokens: tokens } };
    },
  };
}

/**
 * A hashed TF-IDF embedding (the hashing trick), the one `local:embed` computes: each token
 * adds to one of `dims` buckets (FNV-1a of the token), weights are sub-linear term
 * frequency times `idf` (default 1), and the vector is L2-normalised. Synchronous, so a
 * `cpu` op can call it on its own tokens (and run in a worker thread).
 *
 * @example
 * ```ts
 * const v = hashedEmbedding(["blue", "sky", "blue"], 256);
 * v.length; // 256, and the sum of squares is 1
 * ```
 */
export function hashedEmbedding(tokens: readonly string[], dims: number, idf?: ArrayLike<number>): Float64Array {
  const v = new Float64Array(dims);
  for (const t of tokens) v[hash32(t) % dims]! += 1;
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    const w = v[i]! > 0 ? (1 + Math.log(v[i]!)) * (idf?.[i] ?? 1) : 0;
    v[i] = w;
    norm += w * w;
  }
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < dims; i++) v[i]! /= norm;
  return v;
}

function requestSeed(request: GenerateRequest): number {
  let h = hash32(request.model);
  for (const m of request.messages) h = hash32(m.content, hash32(m.role, h));
  return hash32(`${request.temperature ?? ""}|${request.seed ?? ""}|${request.schema ? JSON.stringify(request.schema.schema) : ""}`, h);
}

/** A sentence built from the last user message's words and a little filler. */
function prose(request: GenerateRequest, next: () => number): string {
  const last = [...request.messages].reverse().find((m) => m.role === "user")?.content ?? "";
  const words = tokenize(last).filter((w) => /\p{L}/u.test(w));
  const pool = words.length > 0 ? [...words, ...FILLER] : FILLER;
  const n = 12 + Math.floor(next() * 24);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(pool[Math.floor(next() * pool.length)]!);
  const sentence = out.join(" ");
  return `${sentence[0]!.toUpperCase()}${sentence.slice(1)}.`;
}

function schemaDefs(schema: JsonSchema): Readonly<Record<string, JsonSchema>> {
  return typeof schema === "object" ? ((schema.$defs ?? schema.definitions ?? {}) as Record<string, JsonSchema>) : {};
}

/** A value of `schema`, drawn from `seed`: what a local model answers when asked for structured output. Internal. */
export function valueFromSchema(schema: JsonSchema, seed: number): unknown {
  return fromSchema(schema, schemaDefs(schema), prng(seed), 0);
}

function fromSchema(schema: JsonSchema, defs: Readonly<Record<string, JsonSchema>>, next: () => number, depth: number): unknown {
  if (schema === true || schema === false) return null;
  if (typeof schema.$ref === "string") {
    const target = defs[schema.$ref.replace(/^#\/(\$defs|definitions)\//, "")];
    return target === undefined || depth > 8 ? null : fromSchema(target, defs, next, depth + 1);
  }
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[Math.floor(next() * schema.enum.length)];
  const union = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(union) && union.length > 0) {
    // Prefer a branch that is not null, so the value says something.
    const branches = union.filter((s) => !(typeof s === "object" && s.type === "null"));
    const pick = branches.length > 0 ? branches : union;
    return fromSchema(pick[Math.floor(next() * pick.length)]!, defs, next, depth + 1);
  }
  if (Array.isArray(schema.allOf)) return Object.assign({}, ...schema.allOf.map((s) => fromSchema(s as JsonSchema, defs, next, depth + 1)));
  const type = Array.isArray(schema.type) ? (schema.type.find((t) => t !== "null") ?? "null") : schema.type;
  const num = (key: string) => (typeof schema[key] === "number" ? (schema[key] as number) : undefined);
  switch (type) {
    case "string": {
      // A short phrase unless the schema says otherwise.
      const min = num("minLength") ?? Math.min(16, num("maxLength") ?? 16);
      const max = Math.max(min, num("maxLength") ?? 48);
      let s = "";
      while (s.length < min) s += (s ? " " : "") + FILLER[Math.floor(next() * FILLER.length)];
      return s.slice(0, max);
    }
    case "integer":
    case "number": {
      const lo = num("minimum") ?? (num("exclusiveMinimum") !== undefined ? num("exclusiveMinimum")! + 1 : 0);
      const hi = num("maximum") ?? (num("exclusiveMaximum") !== undefined ? num("exclusiveMaximum")! - 1 : lo + 100);
      const x = lo + next() * (hi - lo);
      return type === "integer" ? Math.min(Math.floor(hi), Math.max(Math.ceil(lo), Math.round(x))) : Math.round(x * 100) / 100;
    }
    case "boolean":
      return next() < 0.5;
    case "null":
      return null;
    case "array": {
      if (Array.isArray(schema.prefixItems)) return schema.prefixItems.map((s) => fromSchema(s as JsonSchema, defs, next, depth + 1));
      const min = num("minItems") ?? 1;
      const max = Math.max(min, Math.min(num("maxItems") ?? 3, min + 3));
      const n = min + Math.floor(next() * (max - min + 1));
      return Array.from({ length: n }, () => (schema.items === undefined ? null : fromSchema(schema.items as JsonSchema, defs, next, depth + 1)));
    }
    case "object":
    default: {
      const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
      const required = new Set((schema.required ?? Object.keys(props)) as string[]);
      const out: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(props)) if (required.has(key)) out[key] = fromSchema(sub, defs, next, depth + 1);
      return out;
    }
  }
}
