/**
 * Metrics through `@opentelemetry/api` (an optional peer): the user's SDK (a MeterProvider
 * with a reader or exporter) collects and exports them. Without the API, or until
 * `enableMetrics()` runs (it runs by itself when a meter provider is registered before weft
 * loads), nothing is recorded and op calls pay nothing.
 *
 *   weft.op.calls            counter     op, outcome ("ok" or the error's tag)
 *   weft.op.duration         histogram   op, outcome            seconds, from the op's start to its end
 *   weft.op.errors           counter     op, error
 *   weft.op.retries          counter     op
 *   gen_ai.client.token.usage histogram gen_ai.request.model, gen_ai.provider.name, gen_ai.token.type ("input" | "output")
 *   weft.model.cost          counter     gen_ai.request.model, gen_ai.provider.name   US dollars
 *   weft.model.calls         counter     gen_ai.request.model, gen_ai.provider.name
 *   gauges registered with `registerGauge` (the dead-letter store's `weft.dlq.size`, a queue's depth)
 *
 * Op metrics come from the runtime events (op:start / op:end / op:retry), so the op-call
 * kernel has one instrumentation point. A duration is matched by op and step id; two
 * concurrent calls with the same step id (the same op at the same place in two separate
 * `withContext` blocks) may swap their start times, which leaves the distribution right.
 */
import type * as Otel from "@opentelemetry/api";
import { subscribe, type RuntimeEvent } from "./events.js";
import { otelApi } from "./telemetry.js";

const api = otelApi();

interface Instruments {
  readonly provider: Otel.MeterProvider;
  readonly meter: Otel.Meter;
  readonly calls: Otel.Counter;
  readonly duration: Otel.Histogram;
  readonly errors: Otel.Counter;
  readonly retries: Otel.Counter;
  readonly tokens: Otel.Histogram;
  readonly cost: Otel.Counter;
  readonly modelCalls: Otel.Counter;
  readonly stop: () => void;
}

let active: Instruments | undefined;
const gauges = new Map<string, { description: string; unit?: string; read: () => number | readonly { value: number; attributes?: Otel.Attributes }[] }>();
const observables = new Map<string, { gauge: Otel.ObservableGauge; callback: Otel.ObservableCallback }>();

/** Options of `enableMetrics`. */
export interface MetricsOptions {
  /** The meter provider to record to; default the globally registered one. */
  readonly meterProvider?: Otel.MeterProvider;
}

/**
 * Starts recording weft's metrics to a meter provider (default: the global one). Returns a
 * function that stops. Call it after registering your SDK's MeterProvider (weft calls it
 * itself at load when one is registered already).
 *
 * @example
 * ```ts
 * import { metrics } from "@opentelemetry/api";
 * import { MeterProvider, PeriodicExportingMetricReader, ConsoleMetricExporter } from "@opentelemetry/sdk-metrics";
 * metrics.setGlobalMeterProvider(new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter() })] }));
 * enableMetrics();
 * ```
 */
export function enableMetrics(options: MetricsOptions = {}): () => void {
  if (!api) throw new Error("enableMetrics: @opentelemetry/api is not installed; `npm install @opentelemetry/api` and an SDK");
  disableMetrics();
  const provider = options.meterProvider ?? api.metrics.getMeterProvider();
  const meter = provider.getMeter("weft", "0.1.0");
  const started = new Map<string, number[]>();
  const instruments: Omit<Instruments, "stop"> = {
    provider,
    meter,
    calls: meter.createCounter("weft.op.calls", { description: "op calls, by op and outcome" }),
    duration: meter.createHistogram("weft.op.duration", { description: "op call duration, start to end, retries included", unit: "s" }),
    errors: meter.createCounter("weft.op.errors", { description: "op calls that failed, by op and error" }),
    retries: meter.createCounter("weft.op.retries", { description: "retry attempts, by op" }),
    tokens: meter.createHistogram("gen_ai.client.token.usage", { description: "tokens per model call", unit: "{token}" }),
    cost: meter.createCounter("weft.model.cost", { description: "model cost", unit: "USD" }),
    modelCalls: meter.createCounter("weft.model.calls", { description: "model calls that returned" }),
  };
  const unsubscribe = subscribe((event: RuntimeEvent) => {
    switch (event.type) {
      case "op:start": {
        const key = `${event.op}\0${event.stepId}`;
        const list = started.get(key);
        if (list) list.push(performance.now());
        else started.set(key, [performance.now()]);
        return;
      }
      case "op:end": {
        const key = `${event.op}\0${event.stepId}`;
        const list = started.get(key);
        const start = list?.shift();
        if (list && list.length === 0) started.delete(key);
        const tag = event.error === undefined ? "ok" : errorTag(event.error);
        instruments.calls.add(1, { op: event.op, outcome: tag });
        if (start !== undefined) instruments.duration.record((performance.now() - start) / 1000, { op: event.op, outcome: tag });
        if (event.error !== undefined) instruments.errors.add(1, { op: event.op, error: tag });
        return;
      }
      case "op:retry":
        instruments.retries.add(1, { op: event.op });
        return;
      case "op:attempt":
      case "vmap:progress":
        return;
      default: {
        const never: never = event;
        return never;
      }
    }
  });
  active = { ...instruments, stop: unsubscribe };
  for (const name of gauges.keys()) observe(name);
  return disableMetrics;
}

/** Stops recording (the meter provider keeps what it collected). */
export function disableMetrics(): void {
  if (!active) return;
  active.stop();
  for (const { gauge, callback } of observables.values()) gauge.removeCallback(callback);
  observables.clear();
  active = undefined;
}

/** True while metrics are recorded. Internal: for the model-call path. */
export function metricsActive(): boolean {
  return active !== undefined;
}

function errorTag(error: unknown): string {
  const tag = (error as { _tag?: unknown } | null)?._tag;
  if (typeof tag === "string") return tag;
  return error instanceof Error ? error.name : "error";
}

/** Records one model call's tokens and cost. Internal: called by the model-call path. */
export function recordModelUsage(model: string, provider: string, usage: { readonly inputTokens: number; readonly outputTokens: number }, costUsd: number | undefined): void {
  if (!active) return;
  const attributes = { "gen_ai.request.model": model, "gen_ai.provider.name": provider };
  active.modelCalls.add(1, attributes);
  active.tokens.record(usage.inputTokens, { ...attributes, "gen_ai.token.type": "input" });
  active.tokens.record(usage.outputTokens, { ...attributes, "gen_ai.token.type": "output" });
  if (costUsd !== undefined) active.cost.add(costUsd, attributes);
}

function observe(name: string): void {
  if (!active || observables.has(name)) return;
  const spec = gauges.get(name)!;
  const gauge = active.meter.createObservableGauge(name, { description: spec.description, ...(spec.unit && { unit: spec.unit }) });
  const callback: Otel.ObservableCallback = (result) => {
    let read: ReturnType<typeof spec.read>;
    try {
      read = spec.read();
    } catch {
      return; // a store that cannot be read reports nothing this round, rather than breaking the collection
    }
    if (typeof read === "number") result.observe(read);
    else for (const r of read) result.observe(r.value, r.attributes);
  };
  gauge.addCallback(callback);
  observables.set(name, { gauge, callback });
}

/**
 * Registers a gauge read at each collection (the dead-letter count of the durable store, a
 * queue's depth). Internal: used by the durable store and the remote executor.
 */
export function registerGauge(name: string, description: string, read: () => number | readonly { value: number; attributes?: Otel.Attributes }[], unit?: string): void {
  gauges.set(name, { description, read, ...(unit && { unit }) });
  observe(name);
}

// A meter provider registered before weft loads is used at once.
if (api && process.env.WEFT_METRICS_ENABLED !== "false") {
  const global = api.metrics.getMeterProvider();
  if (global.constructor?.name !== "NoopMeterProvider") enableMetrics();
}
