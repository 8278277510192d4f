/**
 * OpenTelemetry setups for span tests: each registers a provider and an AsyncLocalStorage
 * context manager for the enclosing suite, and undoes both after it.
 */
import { afterAll, beforeAll, beforeEach } from "vitest";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";

/**
 * Call inside a `describe` (or at a file's top level): returns the exporter, emptied before each test.
 *
 * @example
 * ```ts
 * const exporter = recordSpans();
 * it("...", async () => { await op(); expect(exporter.getFinishedSpans()).toHaveLength(1); });
 * ```
 */
export function recordSpans(): InMemorySpanExporter {
  const exporter = exportSpansTo(new InMemorySpanExporter());
  beforeEach(() => exporter.reset());
  return exporter;
}

/**
 * Registers a provider that sends every finished span to `exporter` (for example weft's
 * `traceRecorder()`), with an AsyncLocalStorage context manager, for the enclosing suite.
 */
export function exportSpansTo<E extends SpanExporter>(exporter: E): E {
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const contextManager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });
  return exporter;
}
