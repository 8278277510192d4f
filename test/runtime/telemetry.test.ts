import { describe, expect, it, vi } from "vitest";
import { trace } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { recordSpans } from "../support/spans.js";
import { op, getContext } from "weft";

const exporter = recordSpans();

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const byName = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);

describe("spans", () => {
  it("opens one span per op call, nested across awaits and parallel branches", async () => {
    const leaf = op({ name: "leaf" }, async (x: number) => {
      for (let i = 0; i < x; i++) await new Promise((r) => setImmediate(r));
      return x;
    });
    const branch = op({ name: "branch" }, async (x: number) => leaf(x));
    const root = op({ name: "root" }, async () => {
      await new Promise((r) => setImmediate(r));
      return Promise.all([branch(3), branch(1), leaf(2)]);
    });
    await root();
    const [rootSpan] = byName("root");
    const branches = byName("branch");
    const leaves = byName("leaf");
    expect(rootSpan).toBeDefined();
    expect(branches).toHaveLength(2);
    expect(leaves).toHaveLength(3);
    for (const b of branches) expect(parentOf(b)).toBe(rootSpan!.spanContext().spanId);
    const branchIds = new Set(branches.map((b) => b.spanContext().spanId));
    const leafParents = leaves.map(parentOf);
    expect(leafParents.filter((p) => branchIds.has(p!))).toHaveLength(2);
    expect(leafParents.filter((p) => p === rootSpan!.spanContext().spanId)).toHaveLength(1);
    expect(new Set(exporter.getFinishedSpans().map((s) => s.spanContext().traceId)).size).toBe(1);
  });

  it("names the op, kind, attempt count and outcome", async () => {
    const tokenize = op({ name: "tokenize", kind: "cpu" }, (t: string) => t.split(" "));
    await tokenize("a b");
    const [span] = byName("tokenize");
    expect(span!.attributes).toMatchObject({ "weft.op": "tokenize", "weft.kind": "cpu", "weft.attempts": 1, "weft.outcome": "ok" });
    expect(span!.duration[0] * 1e9 + span!.duration[1]).toBeGreaterThanOrEqual(0);
  });

  it("records the exception, the attempts and an error status when an op fails", async () => {
    const fails = op({ name: "fails", retry: { times: 2, backoff: { initial: 1, jitter: 0 } } }, () => {
      throw Object.assign(new Error("nope"), { status: 503 });
    });
    await fails().catch(() => undefined);
    const [span] = byName("fails");
    expect(span!.status).toMatchObject({ code: 2, message: expect.stringMatching(/^fails failed after 3 attempts: nope/) });
    expect(span!.attributes).toMatchObject({ "weft.attempts": 3, "weft.outcome": "OpError" });
    // Each failed attempt is an event; the last error is also the exception.
    expect(span!.events.map((e) => e.name)).toEqual(["weft.attempt.failed", "weft.attempt.failed", "weft.attempt.failed", "exception"]);
    expect(span!.events.map((e) => e.attributes?.["weft.retried"])).toEqual([true, true, false, undefined]);
  });

  it("records each failed attempt as a span event with its error, redacted, and the delay before the next", async () => {
    vi.useFakeTimers();
    try {
      let calls = 0;
      const flaky = op({ name: "flaky", retry: { times: 3, backoff: { initial: "100ms", factor: 2, jitter: 0 } } }, async () => {
        calls++;
        if (calls === 1) throw Object.assign(new Error("connect ECONNRESET with key sk-live0123456789abcdefghijkl"), { code: "ECONNRESET" });
        if (calls === 2) throw Object.assign(new Error("upstream busy"), { status: 503 });
        return "ok";
      });
      const done = flaky();
      await vi.advanceTimersByTimeAsync(99);
      expect(calls).toBe(1);
      await vi.advanceTimersByTimeAsync(1 + 200);
      expect(await done).toBe("ok");
    } finally {
      vi.useRealTimers();
    }
    const [span] = byName("flaky");
    expect(span!.attributes["weft.attempts"]).toBe(3);
    const events = span!.events.filter((e) => e.name === "weft.attempt.failed");
    expect(events.map((e) => e.attributes)).toEqual([
      { "weft.attempt": 1, "exception.type": "Error", "exception.message": "connect ECONNRESET with key [redacted]", "weft.retried": true, "weft.retry.delay_ms": 100 },
      { "weft.attempt": 2, "exception.type": "Error", "exception.message": "upstream busy", "weft.retried": true, "weft.retry.delay_ms": 200 },
    ]);
    expect(JSON.stringify(span!.events)).not.toContain("sk-live");
  });

  it("makes the op span active for user instrumentation and exposes it on the context", async () => {
    const tracer = trace.getTracer("user");
    const withChild = op({ name: "withChild" }, async () => {
      expect(getContext().span).toBeDefined();
      tracer.startActiveSpan("user-work", (s) => s.end());
    });
    await withChild();
    const [opSpan] = byName("withChild");
    const [userSpan] = byName("user-work");
    expect(parentOf(userSpan!)).toBe(opSpan!.spanContext().spanId);
  });

  it("nests op spans under a span the caller already has active", async () => {
    const inner = op({ name: "inner" }, () => 1);
    await trace.getTracer("user").startActiveSpan("request", async (request) => {
      await inner();
      request.end();
    });
    expect(parentOf(byName("inner")[0]!)).toBe(byName("request")[0]!.spanContext().spanId);
  });
});
