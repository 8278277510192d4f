/**
 * OpenTelemetry through `@opentelemetry/api` only, an optional peer: without it, or without
 * a registered tracer provider, spans cost one cheap check per call.
 */
import { createRequire } from "node:module";
import type * as Otel from "@opentelemetry/api";
import type { OpKind } from "../decorators/descriptor.js";
import { boundedText, messageOf, redactAttributes } from "./redact.js";

type Api = typeof Otel;

function loadApi(): Api | undefined {
  try {
    // require, not import: the API is optional, and its global registry (Symbol.for) is
    // shared between its CJS and ESM builds, so a user's ESM registration is seen here.
    return createRequire(import.meta.url)("@opentelemetry/api") as Api;
  } catch {
    return undefined;
  }
}

// Where API 1.x keeps what is registered (`trace` once a tracer provider is): read without
// loading the API, so a program that never registers a provider never loads it (about
// 13 ms at start-up) and pays one property read per call.
const REGISTRY = Symbol.for("opentelemetry.js.api.1");
const registry = globalThis as { [REGISTRY]?: { trace?: unknown } };

let api: Api | undefined;
let tracer: Otel.Tracer | undefined;
// The provider the API delegates to until a real one is registered: when it is still in
// place, nothing would record a span, and weft skips opening one (an allocation per call).
let noopProvider: Otel.TracerProvider | undefined;
let loaded = false;

function load(): void {
  loaded = true;
  api = loadApi();
  tracer = api?.trace.getTracer("weft", "0.1.0");
  noopProvider = api ? new api.ProxyTracerProvider().getDelegate() : undefined;
}

/** `@opentelemetry/api`, when installed, loaded at first use: the one loader, shared with runtime/metrics.ts. Internal. */
export function otelApi(): Api | undefined {
  if (!loaded) load();
  return api;
}

/**
 * False while no OpenTelemetry tracer provider was ever registered in this process: then no
 * span can record, and a hot path skips even building its `startSpan` argument. Internal.
 */
export function tracingRegistered(): boolean {
  return registry[REGISTRY]?.trace !== undefined;
}

function recordingPossible(): boolean {
  if (!tracingRegistered()) return false;
  if (!loaded) load();
  if (api === undefined) return false;
  const provider = api.trace.getTracerProvider();
  return !(provider instanceof api.ProxyTracerProvider && provider.getDelegate() === noopProvider);
}

/** What a span is opened with. */
export interface SpanStart {
  readonly name: string;
  readonly kind: OpKind | "jit" | "vmap" | "node" | "stream";
  readonly stepId: string;
  readonly parent: Otel.Span | undefined;
  readonly attributes?: Otel.Attributes;
}

/**
 * Opens a span for one op call, plan run or vmap; `undefined` when nothing records it, so
 * the hot path can skip the rest.
 */
export function startSpan(start: SpanStart): Otel.Span | undefined {
  if (!recordingPossible() || tracer === undefined) return undefined;
  const api = apiLoaded();
  const parentContext = start.parent ? api.trace.setSpan(api.context.active(), start.parent) : api.context.active();
  const span = tracer.startSpan(
    start.name,
    { attributes: { "weft.op": start.name, "weft.kind": start.kind, "weft.step": start.stepId, ...(start.attributes && redactAttributes(start.attributes)) } },
    parentContext,
  );
  if (!span.isRecording()) return undefined;
  return span;
}

/** The API, once a span has been opened (so it is loaded). */
function apiLoaded(): Api {
  return api!;
}

/** Runs `fn` with `span` active in the OpenTelemetry context, so user instrumentation nests under it. */
export function withActiveSpan<T>(span: Otel.Span, fn: () => T): T {
  const otel = apiLoaded();
  return otel.context.with(otel.trace.setSpan(otel.context.active(), span), fn);
}

/** The span event each failed attempt of a call with a retry policy adds. */
export const ATTEMPT_FAILED = "weft.attempt.failed";

/**
 * Records one failed attempt on the call's span: its number, the error (name and redacted,
 * bounded message) and, when another attempt follows, the delay before it. The call's last
 * error is also the span's exception event, from `endSpan`.
 */
export function attemptFailed(span: Otel.Span, attempt: number, error: unknown, retryDelayMs: number | undefined): void {
  const attributes: Otel.Attributes = {
    "weft.attempt": attempt,
    "exception.type": error instanceof Error ? error.name : typeof error,
    "exception.message": boundedText(messageOf(error), 500),
    "weft.retried": retryDelayMs !== undefined,
  };
  if (retryDelayMs !== undefined) attributes["weft.retry.delay_ms"] = Math.round(retryDelayMs);
  span.addEvent(ATTEMPT_FAILED, attributes);
}

/** Closes a span with the call's outcome. Status, exception event and attributes are redacted. */
export function endSpan(span: Otel.Span, attempts: number, error?: unknown): void {
  span.setAttribute("weft.attempts", attempts);
  if (error === undefined) {
    span.setAttribute("weft.outcome", "ok");
    span.setStatus({ code: apiLoaded().SpanStatusCode.OK });
  } else {
    const tag = (error as { _tag?: unknown })?._tag;
    const message = boundedText(messageOf(error));
    span.setAttribute("weft.outcome", typeof tag === "string" ? tag : "error");
    // The exception event from the error's name, redacted message and stack frames only:
    // the SDK would otherwise copy the raw message and stack into the trace.
    const name = error instanceof Error ? error.name : "Error";
    const frames = error instanceof Error ? (error.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line)) : [];
    span.recordException({ name, message, stack: boundedText([`${name}: ${message}`, ...frames].join("\n"), 8000) });
    span.setStatus({ code: apiLoaded().SpanStatusCode.ERROR, message });
  }
  span.end();
}
