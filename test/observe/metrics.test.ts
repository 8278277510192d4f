/**
 * weft's metrics, read back through the OpenTelemetry SDK's own metric reader: op calls,
 * durations, errors and retries per op; tokens, cost and calls per model; the dead-letter
 * gauge. And the same metrics in the Prometheus text format, served over real HTTP.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { AggregationTemporality, MeterProvider, MetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { afterAll, describe, expect, test } from "vitest";
import { configureDurable, durable, enableMetrics, MemoryStore, models, op, prometheusMetrics, vmap } from "weft";

/** The SDK's pull reader, collected on demand. */
class PullReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

interface Point {
  readonly attributes: Record<string, unknown>;
  readonly value: number | { count: number; sum?: number };
}

function points(metrics: ResourceMetrics, name: string): Point[] {
  return metrics.scopeMetrics.flatMap((s) => s.metrics.filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as unknown as Point[]));
}

const reader = new PullReader();
const provider = new MeterProvider({ readers: [reader] });
const stop = enableMetrics({ meterProvider: provider });
const store = new MemoryStore();
configureDurable({ store });
afterAll(async () => {
  stop();
  await provider.shutdown();
});

const ok = op({ name: "metrics.ok" }, async (x: number) => x + 1);
let failures = 0;
const flaky = op({ name: "metrics.flaky", retry: { times: 3, backoff: { initial: "1ms", jitter: 0 }, retryOn: () => true } }, async () => {
  if (++failures < 3) throw new Error("transient");
  return "done";
});
const broken = op({ name: "metrics.broken" }, async (): Promise<number> => {
  throw new Error("always");
});

describe("through the OpenTelemetry SDK's metric reader", () => {
  test("op calls, durations, errors and retries, per op", async () => {
    for (let i = 0; i < 3; i++) await ok(i);
    expect(await flaky()).toBe("done");
    await expect(broken()).rejects.toThrow(/always/);
    const { resourceMetrics } = await reader.collect();
    const calls = points(resourceMetrics, "weft.op.calls");
    expect(calls).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ attributes: { op: "metrics.ok", outcome: "ok" }, value: 3 }),
        expect.objectContaining({ attributes: { op: "metrics.flaky", outcome: "ok" }, value: 1 }),
        expect.objectContaining({ attributes: { op: "metrics.broken", outcome: "OpError" }, value: 1 }),
      ]),
    );
    expect(points(resourceMetrics, "weft.op.retries")).toEqual([expect.objectContaining({ attributes: { op: "metrics.flaky" }, value: 2 })]);
    expect(points(resourceMetrics, "weft.op.errors")).toEqual([expect.objectContaining({ attributes: { op: "metrics.broken", error: "OpError" }, value: 1 })]);
    const durations = points(resourceMetrics, "weft.op.duration").find((p) => p.attributes.op === "metrics.ok")!;
    expect((durations.value as { count: number }).count).toBe(3);
    expect((durations.value as { sum: number }).sum).toBeGreaterThanOrEqual(0);
  });

  test("tokens, cost and calls per model", async () => {
    const result = await models.generate("local:chat", "Say hello to the metrics.");
    const { resourceMetrics } = await reader.collect();
    const model = { "gen_ai.request.model": "local:chat", "gen_ai.provider.name": "local" };
    expect(points(resourceMetrics, "weft.model.calls")).toEqual([expect.objectContaining({ attributes: model, value: 1 })]);
    expect(points(resourceMetrics, "weft.model.cost")).toEqual([expect.objectContaining({ attributes: model, value: 0 })]);
    const tokens = points(resourceMetrics, "gen_ai.client.token.usage");
    expect(tokens.find((p) => p.attributes["gen_ai.token.type"] === "input")!.value).toMatchObject({ count: 1, sum: result.usage.inputTokens });
    expect(tokens.find((p) => p.attributes["gen_ai.token.type"] === "output")!.value).toMatchObject({ count: 1, sum: result.usage.outputTokens });
  });

  test("the dead-letter gauge counts open dead letters in the store", async () => {
    const item = op({ name: "metrics.item" }, async (n: number) => {
      if (n === 2) throw new Error("bad item");
      return n;
    });
    await durable({ run: "metrics-dlq" }, () => vmap(item, { onError: "collect" })([1, 2, 3]));
    const { resourceMetrics } = await reader.collect();
    expect(points(resourceMetrics, "weft.dlq.size")).toEqual([expect.objectContaining({ value: 1 })]);
  });
});

describe("the Prometheus text helper", () => {
  test("renders counters and histograms, and serves them over HTTP", async () => {
    const prom = prometheusMetrics();
    const server = createServer(prom.handler);
    try {
      await ok(1);
      await ok(2);
      const text = prom.text();
      expect(text).toContain("# TYPE weft_op_calls_total counter");
      expect(text).toContain('weft_op_calls_total{op="metrics.ok",outcome="ok"} 2');
      expect(text).toMatch(/^weft_op_duration_bucket\{op="metrics\.ok",outcome="ok",le="\+Inf"\} 2$/m);
      expect(text).toMatch(/^weft_op_duration_count\{op="metrics\.ok",outcome="ok"\} 2$/m);
      expect(text).toContain("# TYPE weft_dlq_size gauge");
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
      expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(await response.text()).toContain('weft_op_calls_total{op="metrics.ok",outcome="ok"} 2');
    } finally {
      prom.stop();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
