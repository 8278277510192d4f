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

const api = loadApi();

/** `@opentelemetry/api`, when installed: the one loader, shared with runtime/metrics.ts. Internal. */
export function otelApi(): Api | undefined {
  return api;
}
const tracer = api?.trace.getTracer("weft", "0.1.0");
// The provider the API delegates to until a real one is registered: when it is still in
// place, nothing would record a span, and weft skips opening one (an allocation per call).
const NOOP_PROVIDER = api ? new api.ProxyTracerProvider().getDelegate() : undefined;

function recordingPossible(): boolean {
  const provider = api!.trace.getTracerProvider();
  return !(provider instanceof api!.ProxyTracerProvider && provider.getDelegate() === NOOP_PROVIDER);
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
  if (!api || !tracer || !recordingPossible()) return undefined;
  const parentContext = start.parent ? api.trace.setSpan(api.context.active(), start.parent) : api.context.active();
  const span = tracer.startSpan(
    start.name,
    { attributes: { "weft.op": start.name, "weft.kind": start.kind, "weft.step": start.stepId, ...(start.attributes && redactAttributes(start.attributes)) } },
    parentContext,
  );
  if (!span.isRecording()) return undefined;
  return span;
}

/** Runs `fn` with `span` active in the OpenTelemetry context, so user instrumentation nests under it. */
export function withActiveSpan<T>(span: Otel.Span, fn: () => T): T {
  return api!.context.with(api!.trace.setSpan(api!.context.active(), span), fn);
}

/** Closes a span with the call's outcome. Status, exception event and attributes are redacted. */
export function endSpan(span: Otel.Span, attempts: number, error?: unknown): void {
  span.setAttribute("weft.attempts", attempts);
  if (error === undefined) {
    span.setAttribute("weft.outcome", "ok");
    span.setStatus({ code: api!.SpanStatusCode.OK });
  } else {
    const tag = (error as { _tag?: unknown })?._tag;
    const message = boundedText(messageOf(error));
    span.setAttribute("weft.outcome", typeof tag === "string" ? tag : "error");
    // The exception event from the error's name, redacted message and stack frames only:
    // the SDK would otherwise copy the raw message and stack into the trace.
    const name = error instanceof Error ? error.name : "Error";
    const frames = error instanceof Error ? (error.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line)) : [];
    span.recordException({ name, message, stack: boundedText([`${name}: ${message}`, ...frames].join("\n"), 8000) });
    span.setStatus({ code: api!.SpanStatusCode.ERROR, message });
  }
  span.end();
}
