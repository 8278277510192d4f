import { describe, expect, it } from "vitest";
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
    expect(span!.events.map((e) => e.name)).toEqual(["exception"]);
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
