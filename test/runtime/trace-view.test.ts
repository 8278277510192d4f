/**
 * The trace view: spans from a real OpenTelemetry SDK (weft's ops, a jitted plan whose
 * calls run in parallel, a retried call, a model call with usage), recorded by
 * `traceRecorder()` and printed as a waterfall; and a saved trace read back.
 */
import { trace } from "@opentelemetry/api";
import { describe, expect, it, vi } from "vitest";
import { jit, models, op, renderWaterfall, traceRecorder, type TraceSpan } from "weft";
import { parseRecordedTrace } from "../../runtime/trace/view.js";
import { exportSpansTo } from "../support/spans.js";

const recorder = exportSpansTo(traceRecorder());

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("traceRecorder and the waterfall", () => {
  it("draws a jitted run as a tree: parallel calls overlap, a retried call lists its failed attempt, a model call its tokens", async () => {
    recorder.clear();
    let failures = 0;
    const retrieve = op({ name: "retrieve" }, async (q: string) => {
      await tick();
      return `${q}: context`;
    });
    const draft = op({ name: "draft" }, async (c: string) => {
      await tick();
      await tick();
      return `draft of ${c}`;
    });
    const critique = op({ name: "critique", retry: { times: 2, backoff: { initial: 0, jitter: 0 } } }, async (c: string) => {
      await tick();
      if (failures++ === 0) throw Object.assign(new Error("upstream busy"), { status: 503 });
      return `critique of ${c}`;
    });
    const judge = op({ name: "judge" }, async (a: string, b: string) => models("local:judge", `${a} / ${b}`));
    const pipeline = jit(async (q: string) => {
      const c = await retrieve(q);
      const a = await draft(c);
      const b = await critique(c);
      return judge(a, b);
    });
    await pipeline("why");
    const spans = recorder.spans();
    const byName = (name: string) => spans.find((s) => s.name === name)!;
    // The plan's two branches overlap in time.
    expect(byName("draft").startMs).toBeLessThan(byName("critique").endMs);
    expect(byName("critique").startMs).toBeLessThan(byName("draft").endMs);
    const text = recorder.waterfall();
    const lines = text.split("\n");
    const line = (name: string) => lines.find((l) => new RegExp(`[─ ]${name}\\b`).test(l))!;
    // Tree order: the jit span first, then its calls by start time.
    expect(lines.findIndex((l) => /\bretrieve\b/.test(l))).toBeLessThan(lines.findIndex((l) => /\bjudge\b/.test(l)));
    expect(line("critique")).toMatch(/2 attempts/);
    expect(text).toMatch(/↻ attempt 1 failed at \+[\d.]+ ms: Error: upstream busy; retried after 0\.00 ms/);
    expect(line("models.chat")).toMatch(/\d+\+\d+ tok/);
    expect(lines.at(-2)).toMatch(/^\d+ spans in [\d.]+ m?s · 1 failed attempts retried or reported · \d+ input \+ \d+ output tokens/);
    // Every span line: start, duration, name, a bar.
    for (const name of ["retrieve", "draft", "critique", "judge"]) expect(line(name)).toMatch(/^\s+[\d.]+ m?s\s+[\d.]+ m?s\s+.*█/);
  });

  it("keeps only the last traces when asked, and saves a trace weft trace reads back", async () => {
    recorder.clear();
    const one = op({ name: "one" }, () => 1);
    await one();
    await one();
    expect(recorder.spans()).toHaveLength(2);
    expect(recorder.spans({ traces: 1 })).toHaveLength(1);
    const saved = JSON.parse(JSON.stringify(recorder.toJSON())) as unknown;
    expect(parseRecordedTrace(saved, "run.json").spans).toHaveLength(2);
    expect(() => parseRecordedTrace({ format: "otlp", spans: [] }, "run.json")).toThrow('run.json: not a weft trace (format is "otlp", expected "weft.trace/1"); save one with traceRecorder().toJSON()');
    expect(() => parseRecordedTrace({ format: "weft.trace/1", spans: [{ id: "a" }] }, "run.json")).toThrow(/spans\[0\] has no id or name/);
  });

  it("redacts secrets in user span attributes before they are saved", async () => {
    recorder.clear();
    trace.getTracer("user").startActiveSpan("login", (span) => {
      span.setAttribute("apiKey", "hunter2-passphrase");
      span.setAttribute("note", "token sk-live0123456789abcdefghijkl");
      span.end();
    });
    expect(JSON.stringify(recorder.toJSON())).not.toMatch(/hunter2|sk-live/);
  });

  it("renders plain records: offsets against the earliest start, a failed span marked", () => {
    const spans: TraceSpan[] = [
      { id: "r", name: "run", startMs: 1000, endMs: 1100, status: "ok", attributes: {}, events: [] },
      { id: "a", parent: "r", name: "slow", startMs: 1010, endMs: 1100, status: "error", attributes: { "weft.outcome": "DeadlineExceeded" }, events: [] },
      { id: "b", parent: "r", name: "cached", startMs: 1000, endMs: 1001, status: "ok", attributes: { "weft.cache": "hit" }, events: [] },
    ];
    const text = renderWaterfall(spans, { barWidth: 10, nameWidth: 12 });
    expect(text).toBe(
      [
        "    start  duration  span         0 → 100 ms  notes",
        "  0.00 ms    100 ms  run          ██████████",
        "  0.00 ms   1.00 ms  ├─ cached    █           cache hit",
        "  10.0 ms   90.0 ms  └─ slow       █████████  ✗ DeadlineExceeded",
        "3 spans in 100 ms · 1 spans failed · 1 cache hits",
        "",
      ].join("\n"),
    );
    expect(vi.isFakeTimers()).toBe(false);
  });
});
