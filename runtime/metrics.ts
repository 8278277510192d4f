/**
 * Metrics. Through `@opentelemetry/api` (an optional peer), so the user's SDK (a
 * MeterProvider with a reader or exporter) collects and exports them: `enableMetrics()`,
 * which runs by itself at load when a meter provider is registered already. For users
 * without an SDK, `prometheusMetrics()` keeps the same metrics itself and renders them in
 * the Prometheus text format, with a request handler for a `/metrics` endpoint. With
 * neither, nothing is recorded and op calls pay nothing.
 *
 *   weft.op.calls             counter     op, outcome ("ok" or the error's tag)
 *   weft.op.duration          histogram   op, outcome         seconds, start to end, retries included
 *   weft.op.errors            counter     op, error
 *   weft.op.retries           counter     op
 *   gen_ai.client.token.usage histogram   gen_ai.request.model, gen_ai.provider.name, gen_ai.token.type
 *   weft.model.cost           counter     gen_ai.request.model, gen_ai.provider.name   US dollars
 *   weft.model.calls          counter     gen_ai.request.model, gen_ai.provider.name
 *   gauges from `registerGauge`: the durable store's `weft.dlq.size`, a queue's depth
 *
 * Op metrics come from the runtime events (op:start / op:end / op:retry), so the op-call
 * kernel has one instrumentation point. A duration is matched by op and step id; two
 * concurrent calls with the same step id (the same op at the same place in two separate
 * `withContext` blocks) may swap their start times, which leaves the distribution right.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type * as Otel from "@opentelemetry/api";
import type * as Config from "./config/config.js";
import { lazyModule } from "./lazy.js";
import { subscribe, type RuntimeEvent } from "./events.js";
import { otelApi } from "./telemetry.js";


type Attributes = Readonly<Record<string, string>>;

/** Where measurements go: the OpenTelemetry instruments, or the built-in Prometheus registry. */
interface Recorder {
  add(name: CounterName, value: number, attributes: Attributes): void;
  record(name: HistogramName, value: number, attributes: Attributes): void;
  gauge(name: string): void;
  stop(): void;
}

type CounterName = "weft.op.calls" | "weft.op.errors" | "weft.op.retries" | "weft.model.cost" | "weft.model.calls";
type HistogramName = "weft.op.duration" | "gen_ai.client.token.usage";

const DESCRIPTIONS: Readonly<Record<CounterName | HistogramName, { description: string; unit?: string }>> = {
  "weft.op.calls": { description: "op calls, by op and outcome" },
  "weft.op.errors": { description: "op calls that failed, by op and error" },
  "weft.op.retries": { description: "retry attempts, by op" },
  "weft.op.duration": { description: "op call duration, start to end, retries included", unit: "s" },
  "gen_ai.client.token.usage": { description: "tokens per model call", unit: "{token}" },
  "weft.model.cost": { description: "model cost", unit: "USD" },
  "weft.model.calls": { description: "model calls that returned" },
};

type GaugeRead = () => number | readonly { value: number; attributes?: Attributes }[];
const gauges = new Map<string, { description: string; unit?: string; read: GaugeRead }>();
const recorders = new Set<Recorder>();
let unsubscribe: (() => void) | undefined;

function errorTag(error: unknown): string {
  const tag = (error as { _tag?: unknown } | null)?._tag;
  if (typeof tag === "string") return tag;
  return error instanceof Error ? error.name : "error";
}

/** One subscription to the runtime events feeds every recorder. */
function attach(recorder: Recorder): () => void {
  recorders.add(recorder);
  for (const name of gauges.keys()) recorder.gauge(name);
  if (!unsubscribe) {
    const started = new Map<string, number[]>();
    unsubscribe = subscribe((event: RuntimeEvent) => {
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
          const outcome = event.error === undefined ? "ok" : errorTag(event.error);
          for (const r of recorders) {
            r.add("weft.op.calls", 1, { op: event.op, outcome });
            if (start !== undefined) r.record("weft.op.duration", (performance.now() - start) / 1000, { op: event.op, outcome });
            if (event.error !== undefined) r.add("weft.op.errors", 1, { op: event.op, error: outcome });
          }
          return;
        }
        case "op:retry":
          for (const r of recorders) r.add("weft.op.retries", 1, { op: event.op });
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
  }
  return () => {
    recorder.stop();
    recorders.delete(recorder);
    if (recorders.size === 0) {
      unsubscribe?.();
      unsubscribe = undefined;
    }
  };
}

// ---- OpenTelemetry ----------------------------------------------------------------------------

/** Options of `enableMetrics`. */
export interface MetricsOptions {
  /** The meter provider to record to; default the globally registered one. */
  readonly meterProvider?: Otel.MeterProvider;
}

let otel: (() => void) | undefined;

/**
 * Starts recording weft's metrics to a meter provider (default: the global one); returns a
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
  const api = otelApi();
  if (!api) throw new Error("enableMetrics: @opentelemetry/api is not installed; `npm install @opentelemetry/api` and an SDK, or use prometheusMetrics()");
  disableMetrics();
  const meter = (options.meterProvider ?? api.metrics.getMeterProvider()).getMeter("weft", "0.1.0");
  const counters = new Map<string, Otel.Counter>();
  const histograms = new Map<string, Otel.Histogram>();
  const observables: { gauge: Otel.ObservableGauge; callback: Otel.ObservableCallback }[] = [];
  const recorder: Recorder = {
    add(name, value, attributes) {
      let c = counters.get(name);
      if (!c) counters.set(name, (c = meter.createCounter(name, DESCRIPTIONS[name])));
      c.add(value, attributes);
    },
    record(name, value, attributes) {
      let h = histograms.get(name);
      if (!h) histograms.set(name, (h = meter.createHistogram(name, DESCRIPTIONS[name])));
      h.record(value, attributes);
    },
    gauge(name) {
      const spec = gauges.get(name)!;
      const gauge = meter.createObservableGauge(name, { description: spec.description, ...(spec.unit && { unit: spec.unit }) });
      const callback: Otel.ObservableCallback = (result) => {
        for (const r of readGauge(spec.read)) result.observe(r.value, r.attributes);
      };
      gauge.addCallback(callback);
      observables.push({ gauge, callback });
    },
    stop() {
      for (const { gauge, callback } of observables) gauge.removeCallback(callback);
    },
  };
  otel = attach(recorder);
  return disableMetrics;
}

/** Stops recording to OpenTelemetry (the meter provider keeps what it collected). */
export function disableMetrics(): void {
  otel?.();
  otel = undefined;
}

function readGauge(read: GaugeRead): readonly { value: number; attributes?: Attributes }[] {
  try {
    const value = read();
    return typeof value === "number" ? [{ value }] : value;
  } catch {
    return []; // a store that cannot be read reports nothing this round, rather than breaking the collection
  }
}

// ---- the model-call path and gauges -------------------------------------------------------------

/** Records one model call's tokens and cost. Internal: called by the model-call path. */
export function recordModelUsage(model: string, provider: string, usage: { readonly inputTokens: number; readonly outputTokens: number }, costUsd: number | undefined): void {
  if (recorders.size === 0) return;
  const attributes = { "gen_ai.request.model": model, "gen_ai.provider.name": provider };
  for (const r of recorders) {
    r.add("weft.model.calls", 1, attributes);
    r.record("gen_ai.client.token.usage", usage.inputTokens, { ...attributes, "gen_ai.token.type": "input" });
    r.record("gen_ai.client.token.usage", usage.outputTokens, { ...attributes, "gen_ai.token.type": "output" });
    if (costUsd !== undefined) r.add("weft.model.cost", costUsd, attributes);
  }
}

/**
 * Registers a gauge read at each collection (the dead-letter count of the durable store, a
 * queue's depth). Internal: used by the durable store and the remote executor.
 */
export function registerGauge(name: string, description: string, read: GaugeRead, unit?: string): void {
  const fresh = !gauges.has(name);
  gauges.set(name, { description, read, ...(unit && { unit }) });
  if (fresh) for (const r of recorders) r.gauge(name);
}

// ---- Prometheus -------------------------------------------------------------------------------------

/** weft's metrics kept in process and rendered in the Prometheus text format. */
export interface PrometheusMetrics {
  /** The exposition text (format 0.0.4). */
  text(): string;
  /** A `node:http` handler: answers every request with `text()`. */
  handler(request: IncomingMessage, response: ServerResponse): void;
  /** Stops recording. */
  stop(): void;
}

// Seconds for durations, tokens for usage.
const BUCKETS: Readonly<Record<HistogramName, readonly number[]>> = {
  "weft.op.duration": [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
  "gen_ai.client.token.usage": [16, 64, 256, 1024, 4096, 16384, 65536],
};

/**
 * Keeps weft's metrics in process, for users without an OpenTelemetry SDK, and renders them
 * for Prometheus: names with `.` become `_`, counters get `_total`, histograms `_bucket`,
 * `_sum` and `_count`.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * const metrics = prometheusMetrics();
 * createServer(metrics.handler).listen(9464); // scrape http://host:9464/metrics
 * ```
 */
export function prometheusMetrics(): PrometheusMetrics {
  const counters = new Map<string, Map<string, { attributes: Attributes; value: number }>>();
  const histograms = new Map<string, Map<string, { attributes: Attributes; counts: number[]; sum: number; count: number }>>();
  const keyOf = (a: Attributes) => JSON.stringify(Object.entries(a).sort());
  const stop = attach({
    add(name, value, attributes) {
      let series = counters.get(name);
      if (!series) counters.set(name, (series = new Map()));
      const key = keyOf(attributes);
      const s = series.get(key);
      if (s) s.value += value;
      else series.set(key, { attributes, value });
    },
    record(name, value, attributes) {
      let series = histograms.get(name);
      if (!series) histograms.set(name, (series = new Map()));
      const key = keyOf(attributes);
      let s = series.get(key);
      if (!s) series.set(key, (s = { attributes, counts: BUCKETS[name].map(() => 0), sum: 0, count: 0 }));
      BUCKETS[name].forEach((bound, i) => {
        if (value <= bound) s!.counts[i]!++;
      });
      s.sum += value;
      s.count++;
    },
    gauge() {},
    stop() {},
  });
  const text = () => {
    const out: string[] = [];
    const metricName = (name: string) => name.replace(/[^a-zA-Z0-9_:]/g, "_");
    const labels = (a: Attributes, extra: Record<string, string> = {}) => {
      const all = { ...Object.fromEntries(Object.entries(a).map(([k, v]) => [metricName(k), v])), ...extra };
      const parts = Object.entries(all).map(([k, v]) => `${k}="${String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
      return parts.length ? `{${parts.join(",")}}` : "";
    };
    for (const [name, series] of [...counters].sort(([a], [b]) => a.localeCompare(b))) {
      const n = `${metricName(name)}_total`;
      out.push(`# HELP ${n} ${DESCRIPTIONS[name as CounterName].description}`, `# TYPE ${n} counter`);
      for (const s of series.values()) out.push(`${n}${labels(s.attributes)} ${s.value}`);
    }
    for (const [name, series] of [...histograms].sort(([a], [b]) => a.localeCompare(b))) {
      const n = metricName(name);
      out.push(`# HELP ${n} ${DESCRIPTIONS[name as HistogramName].description}`, `# TYPE ${n} histogram`);
      for (const s of series.values()) {
        BUCKETS[name as HistogramName].forEach((bound, i) => out.push(`${n}_bucket${labels(s.attributes, { le: String(bound) })} ${s.counts[i]}`));
        out.push(`${n}_bucket${labels(s.attributes, { le: "+Inf" })} ${s.count}`, `${n}_sum${labels(s.attributes)} ${s.sum}`, `${n}_count${labels(s.attributes)} ${s.count}`);
      }
    }
    for (const [name, spec] of [...gauges].sort(([a], [b]) => a.localeCompare(b))) {
      const n = metricName(name);
      out.push(`# HELP ${n} ${spec.description}`, `# TYPE ${n} gauge`);
      for (const r of readGauge(spec.read)) out.push(`${n}${labels(r.attributes ?? {})} ${r.value}`);
    }
    return `${out.join("\n")}\n`;
  };
  return {
    text,
    handler: (_request, response) => {
      response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
      response.end(text());
    },
    stop,
  };
}

// Config files are read when metrics first ask (weft's config loads at its first use).
const config = lazyModule<typeof Config>("./config/config.js", import.meta.url, () => import("./config/config.js"));

function configEnabled(): boolean {
  try {
    return config().getConfig("metrics.enabled") !== false;
  } catch {
    return true; // a bad config file is reported where config is read, not here
  }
}

// A meter provider registered before weft loads is used at once (unless metrics.enabled is false).
// A registered meter provider is read from the API's global registry, so a program without
// one does not load the API at start-up.
if ((globalThis as { [k: symbol]: { metrics?: unknown } | undefined })[Symbol.for("opentelemetry.js.api.1")]?.metrics !== undefined && configEnabled()) {
  const api = otelApi();
  if (api && api.metrics.getMeterProvider().constructor?.name !== "NoopMeterProvider") enableMetrics();
}
