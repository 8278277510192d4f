/**
 * `traceRecorder()`: an OpenTelemetry span exporter that keeps finished spans in memory as
 * plain records, prints them as a waterfall (view.ts) and saves them for `weft trace`.
 * It satisfies the SDK's `SpanExporter` interface structurally, so weft needs no SDK.
 */
import { redactAttributes } from "../redact.js";
import { TRACE_FORMAT, renderWaterfall, type RecordedTrace, type TraceEvent, type TraceSpan, type WaterfallOptions } from "./view.js";

type HrTime = readonly [seconds: number, nanoseconds: number];

/** What the recorder reads of an SDK span (`ReadableSpan` from `@opentelemetry/sdk-trace-base`). */
export interface ExportedSpan {
  readonly name: string;
  spanContext(): { readonly spanId: string; readonly traceId: string };
  /** SDK 2.x. */
  readonly parentSpanContext?: { readonly spanId: string } | undefined;
  /** SDK 1.x. */
  readonly parentSpanId?: string | undefined;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly status: { readonly code: number };
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly events: readonly { readonly name: string; readonly time: HrTime; readonly attributes?: Readonly<Record<string, unknown>> | undefined }[];
}

/** A span exporter that records, prints and saves what it is given. */
export interface TraceRecorder {
  /** The SDK calls this with finished spans (`SimpleSpanProcessor`, `BatchSpanProcessor`). */
  export(spans: readonly ExportedSpan[], done: (result: { code: number }) => void): void;
  shutdown(): Promise<void>;
  forceFlush(): Promise<void>;
  /** The spans recorded so far, oldest first (of the last `traces` traces only, if given). */
  spans(options?: { readonly traces?: number }): readonly TraceSpan[];
  /** The waterfall of the recorded spans. */
  waterfall(options?: WaterfallOptions & { readonly traces?: number }): string;
  /** The recorded spans as a saved trace (`JSON.stringify` it to a file; `weft trace <file>` prints it). */
  toJSON(): RecordedTrace;
  /** Forgets every recorded span. */
  clear(): void;
}

const toMs = (t: HrTime) => t[0] * 1e3 + t[1] / 1e6;

/** One SDK span as a plain record; attributes pass the redactor again, as they may leave the process. */
export function fromExportedSpan(span: ExportedSpan): TraceSpan & { readonly trace: string } {
  const context = span.spanContext();
  const events: TraceEvent[] = span.events.map((e) => ({ name: e.name, timeMs: toMs(e.time), attributes: redactAttributes({ ...e.attributes }) }));
  return {
    id: context.spanId,
    trace: context.traceId,
    parent: span.parentSpanContext?.spanId ?? span.parentSpanId,
    name: span.name,
    startMs: toMs(span.startTime),
    endMs: toMs(span.endTime),
    status: span.status.code === 2 ? "error" : span.status.code === 1 ? "ok" : "unset",
    attributes: redactAttributes({ ...span.attributes }),
    events,
  };
}

/**
 * An exporter to pass to a span processor: it keeps every finished span, for a waterfall
 * printed in the terminal or saved for `weft trace`.
 *
 * @example
 * ```ts
 * import { context, trace } from "@opentelemetry/api";
 * import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
 * import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
 * import { traceRecorder } from "weft";
 *
 * const recorder = traceRecorder();
 * context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
 * trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(recorder)] }));
 * // ... run ops ...
 * process.stdout.write(recorder.waterfall());
 * ```
 */
export function traceRecorder(): TraceRecorder {
  let recorded: Array<TraceSpan & { readonly trace: string }> = [];
  const select = (traces: number | undefined) => {
    if (traces === undefined) return recorded;
    const order: string[] = [];
    for (const s of recorded) if (!order.includes(s.trace)) order.push(s.trace);
    const keep = new Set(order.slice(-traces));
    return recorded.filter((s) => keep.has(s.trace));
  };
  const plain = (spans: readonly (TraceSpan & { trace?: string })[]): TraceSpan[] => spans.map(({ trace: _, ...span }) => span);
  return {
    export(spans, done) {
      for (const span of spans) recorded.push(fromExportedSpan(span));
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
    forceFlush: () => Promise.resolve(),
    spans: (options) => plain(select(options?.traces)),
    waterfall: (options) => renderWaterfall(plain(select(options?.traces)), options),
    toJSON: () => ({ format: TRACE_FORMAT, spans: plain(recorded) }),
    clear() {
      recorded = [];
    },
  };
}
