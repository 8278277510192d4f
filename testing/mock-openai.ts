/**
 * `startMockOpenAI`: an OpenAI-compatible HTTP server for tests and examples, on
 * 127.0.0.1. Chat completions (JSON and SSE streaming, with usage), embeddings (float and
 * base64), the model list; scripted replies, injected latency and failures, 429 with
 * `Retry-After`; and a record of every request, including whether the client closed the
 * connection before the reply ended (what a cancel or deadline must do).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { valueFromSchema } from "../runtime/models/local.js";
import { countTokens, hash32, prng } from "../runtime/models/tokens.js";

/** One scripted reply. Fields left out take the server's defaults. */
export interface MockReply {
  /** Reply text (chat); default: a deterministic sentence about the last user message. */
  readonly text?: string;
  /** A value sent as the reply's JSON text. */
  readonly json?: unknown;
  /** HTTP status; non-2xx sends an OpenAI-style error body. */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** For an error status: the error's message, type and code. */
  readonly error?: { readonly message: string; readonly type?: string; readonly code?: string };
  /** Wait before the reply starts. */
  readonly latencyMs?: number;
  /** Wait between streamed chunks. */
  readonly chunkDelayMs?: number;
  /** Usage to report instead of the counted one. */
  readonly usage?: { readonly prompt_tokens?: number; readonly completion_tokens?: number; readonly cached_tokens?: number; readonly reasoning_tokens?: number };
  /** Destroys the socket after this many streamed chunks (a connection that breaks mid-stream). */
  readonly dropAfterChunks?: number;
}

/** A request the server received. */
export interface MockRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
  /** True for a chat request with `stream: true`. */
  readonly stream: boolean;
  /** True once the full reply was written. */
  completed: boolean;
  /** True when the client closed the connection before the reply ended. */
  closedEarly: boolean;
  /** Resolves when the exchange is over (completed or closed). */
  readonly settled: Promise<void>;
}

/** Options of `startMockOpenAI`. */
export interface MockOpenAIOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
  /** Replies used in order, one per request, before `reply` and the defaults. */
  readonly replies?: readonly MockReply[];
  /** Computes a reply per request when the script is empty. */
  readonly reply?: (request: MockRequest) => MockReply | undefined;
  /** Latency of every reply (ms). Default 0. */
  readonly latencyMs?: number;
  /** Delay between streamed chunks (ms). Default 0. */
  readonly chunkDelayMs?: number;
  /** Width of embeddings when the request names none. Default 8. */
  readonly embeddingDimensions?: number;
  /** When set, requests must carry `Authorization: Bearer <apiKey>` (else 401). */
  readonly apiKey?: string;
  /** Model ids listed by `/v1/models`. */
  readonly models?: readonly string[];
}

/** A running mock server. */
export interface MockOpenAI {
  /** Base URL including `/v1`, for `baseURL` options. */
  readonly url: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: MockRequest[];
  /** Appends scripted replies. */
  enqueue(...replies: MockReply[]): void;
  /** Resolves when every request so far has completed or been closed. */
  settled(): Promise<void>;
  /** Closes the server and any open connection. */
  close(): Promise<void>;
}

const KNOWN = new Set(["port", "host", "replies", "reply", "latencyMs", "chunkDelayMs", "embeddingDimensions", "apiKey", "models"]);

/**
 * Starts a mock OpenAI-compatible server.
 *
 * @example
 * ```ts
 * const mock = await startMockOpenAI({ port: 0, replies: [{ text: "hello" }] });
 * models.register("mock", openaiCompatible({ name: "mock", baseURL: mock.url }));
 * await models("mock:gpt-test", "hi"); // "hello"
 * await mock.close();
 * ```
 */
export async function startMockOpenAI(options: MockOpenAIOptions = {}): Promise<MockOpenAI> {
  const unknown = Object.keys(options).filter((k) => !KNOWN.has(k));
  if (unknown.length > 0) throw new TypeError(`startMockOpenAI: unknown option ${unknown.map((k) => `"${k}"`).join(", ")}`);
  const script: MockReply[] = [...(options.replies ?? [])];
  const requests: MockRequest[] = [];
  let counter = 0;

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { error: { message: String(error), type: "server_error" } });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: unknown = undefined;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        return send(res, 400, { error: { message: "invalid JSON body", type: "invalid_request_error" } });
      }
    }
    const path = (req.url ?? "/").split("?")[0]!;
    let settle!: () => void;
    const record: MockRequest = {
      method: req.method ?? "GET",
      path,
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")])),
      body,
      stream: (body as { stream?: unknown } | undefined)?.stream === true,
      completed: false,
      closedEarly: false,
      settled: new Promise<void>((resolve) => (settle = resolve)),
    };
    requests.push(record);
    res.setHeader("x-request-id", `req_mock_${++counter}`);
    res.on("close", () => {
      if (!res.writableFinished) record.closedEarly = true;
      else record.completed = true;
      settle();
    });

    if (options.apiKey !== undefined && record.headers.authorization !== `Bearer ${options.apiKey}`) {
      // Like some real servers, this echoes what it got: clients must not leak it further.
      return send(res, 401, { error: { message: `Incorrect API key provided: ${(record.headers.authorization ?? "(none)").replace(/^Bearer /, "")}`, type: "invalid_request_error", code: "invalid_api_key" } });
    }
    if (req.method === "GET" && path === "/v1/models") {
      return send(res, 200, { object: "list", data: (options.models ?? ["mock-chat", "mock-embed"]).map((id) => ({ id, object: "model", created: 0, owned_by: "weft-mock" })) });
    }
    if (req.method !== "POST" || (path !== "/v1/chat/completions" && path !== "/v1/embeddings")) {
      return send(res, 404, { error: { message: `no route ${req.method} ${path}`, type: "invalid_request_error" } });
    }
    const reply: MockReply = script.shift() ?? options.reply?.(record) ?? {};
    const latency = reply.latencyMs ?? options.latencyMs ?? 0;
    if (latency > 0 && !(await pause(latency, res))) return;
    const status = reply.status ?? 200;
    if (status >= 400) {
      for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
      return send(res, status, { error: { message: reply.error?.message ?? `mock error ${status}`, type: reply.error?.type ?? "server_error", ...(reply.error?.code && { code: reply.error.code }) } });
    }
    for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
    if (path === "/v1/embeddings") return embeddings(res, body as EmbeddingsBody, reply);
    return chat(res, body as ChatBody, reply);
  }

  function chat(res: ServerResponse, body: ChatBody, reply: MockReply): Promise<void> | void {
    const model = body?.model ?? "mock-chat";
    const messages = Array.isArray(body?.messages) ? body.messages : [];
    const promptTokens = messages.reduce((n, m) => n + countTokens(typeof m?.content === "string" ? m.content : "") + 3, 0);
    const schema = body?.response_format?.type === "json_schema" ? body.response_format.json_schema?.schema : undefined;
    const seed = hash32(JSON.stringify(messages));
    const text =
      reply.text ??
      (reply.json !== undefined ? JSON.stringify(reply.json) : schema !== undefined ? JSON.stringify(valueFromSchema(schema, seed)) : defaultText(messages, seed));
    const usage = {
      prompt_tokens: reply.usage?.prompt_tokens ?? promptTokens,
      completion_tokens: reply.usage?.completion_tokens ?? countTokens(text),
      total_tokens: 0,
      prompt_tokens_details: { cached_tokens: reply.usage?.cached_tokens ?? 0 },
      completion_tokens_details: { reasoning_tokens: reply.usage?.reasoning_tokens ?? 0 },
    };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const id = `chatcmpl-mock-${counter}`;
    const created = 1_764_547_200;
    if (body?.stream !== true) {
      return send(res, 200, {
        id,
        object: "chat.completion",
        created,
        model,
        choices: [{ index: 0, message: { role: "assistant", content: text, refusal: null }, logprobs: null, finish_reason: "stop" }],
        usage,
      });
    }
    return streamChat(res, { id, created, model, text, usage, includeUsage: body.stream_options?.include_usage === true, reply });
  }

  async function streamChat(
    res: ServerResponse,
    s: { id: string; created: number; model: string; text: string; usage: object; includeUsage: boolean; reply: MockReply },
  ): Promise<void> {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    const delay = s.reply.chunkDelayMs ?? options.chunkDelayMs ?? 0;
    const chunk = (delta: object, finish: string | null, extra?: object) =>
      `data: ${JSON.stringify({ id: s.id, object: "chat.completion.chunk", created: s.created, model: s.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra })}\n\n`;
    const pieces = s.text.match(/\S+\s*/g) ?? [""];
    const events = [chunk({ role: "assistant", content: "" }, null), ...pieces.map((p) => chunk({ content: p }, null)), chunk({}, "stop")];
    if (s.includeUsage) events.push(`data: ${JSON.stringify({ id: s.id, object: "chat.completion.chunk", created: s.created, model: s.model, choices: [], usage: s.usage })}\n\n`);
    events.push("data: [DONE]\n\n");
    for (let i = 0; i < events.length; i++) {
      if (res.destroyed) return;
      if (s.reply.dropAfterChunks !== undefined && i >= s.reply.dropAfterChunks) {
        res.destroy();
        return;
      }
      res.write(events[i]);
      if (delay > 0 && i < events.length - 1 && !(await pause(delay, res))) return;
    }
    res.end();
  }

  function embeddings(res: ServerResponse, body: EmbeddingsBody, reply: MockReply): void {
    const inputs = typeof body?.input === "string" ? [body.input] : Array.isArray(body?.input) ? body.input.map(String) : [];
    const dims = body?.dimensions ?? options.embeddingDimensions ?? 8;
    const base64 = body?.encoding_format === "base64";
    let tokens = 0;
    const data = inputs.map((text, index) => {
      tokens += countTokens(text);
      const next = prng(hash32(text));
      const v = Array.from({ length: dims }, () => next() * 2 - 1);
      const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
      const vector = v.map((x) => x / norm);
      return { object: "embedding", index, embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString("base64") : vector };
    });
    const promptTokens = reply.usage?.prompt_tokens ?? tokens;
    send(res, 200, { object: "list", data, model: body?.model ?? "mock-embed", usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/v1`,
    port: address.port,
    requests,
    enqueue: (...replies) => void script.push(...replies),
    settled: async () => {
      await Promise.all(requests.map((r) => r.settled));
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

interface ChatBody {
  model?: string;
  messages?: { role?: string; content?: unknown }[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  response_format?: { type?: string; json_schema?: { schema?: Record<string, unknown> } };
}
interface EmbeddingsBody {
  model?: string;
  input?: string | unknown[];
  dimensions?: number;
  encoding_format?: string;
}

function defaultText(messages: readonly { role?: string; content?: unknown }[], seed: number): string {
  const last = [...messages].reverse().find((m) => m?.role === "user");
  const words = (typeof last?.content === "string" ? last.content : "").split(/\s+/).filter(Boolean).slice(0, 6);
  return `Mock reply ${seed % 1000}: ${words.join(" ")}`.trim();
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Waits `ms`; false when the client closed the connection meanwhile (the timer is cleared). */
function pause(ms: number, res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off("close", onClose);
      resolve(!res.destroyed);
    }, ms);
    res.once("close", onClose);
  });
}
