/**
 * The one logger: JSON records with time, level, message, trace and span ids, run id and op,
 * redacted; quiet by default (warnings only, as Node warnings); routable and silenceable; and
 * the warnings weft prints (here a jit fallback and an untyped op) go through it.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { configureLog, durable, jit, log, MemoryStore, op, setConfig, type LogRecord } from "weft";
import { unsetConfig } from "../../runtime/config/config.js";
import { recordSpans } from "../support/spans.js";

const exporter = recordSpans();
const records: LogRecord[] = [];
afterEach(() => {
  configureLog({ level: undefined as never, sink: "warning" });
  records.length = 0;
  unsetConfig("log.level");
});

describe("log", () => {
  test("is quiet by default: info and debug write nothing; a warning is a Node warning with its code", async () => {
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const warnings: (Error & { code?: string })[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      log.info("not shown");
      log.debug("not shown either");
      log.warn("shown once", { code: "WEFT_TEST_WARNING" });
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("warning", onWarning);
      write.mockRestore();
    }
    expect(write).not.toHaveBeenCalled();
    expect(warnings.map((w) => [w.message, w.code])).toEqual([["shown once", "WEFT_TEST_WARNING"]]);
  });

  test("a record carries time, level, message, trace and span ids, run id and op, redacted", async () => {
    configureLog({ level: "debug", sink: (r) => records.push(r) });
    const step = op({ name: "log.step" }, async (token: string) => {
      log.info(`calling with sk-abcdef0123456789xyz`, { apiKey: token, nested: { password: "hunter22", fine: 3 }, items: 2 });
      return 1;
    });
    await durable({ run: "log-run", store: new MemoryStore() }, () => step("tok-secret-123456"));
    const [record] = records;
    expect(record).toMatchObject({ level: "info", msg: "calling with [redacted]", op: "log.step", run_id: "log-run", apiKey: "[redacted]", nested: { password: "[redacted]", fine: 3 }, items: 2 });
    expect(record!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const span = exporter.getFinishedSpans().find((s) => s.name === "log.step")!;
    expect(record).toMatchObject({ trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId });
    expect(JSON.stringify(records)).not.toContain("tok-secret-123456");
  });

  test("the json sink writes one JSON line per record to stderr", () => {
    const lines: string[] = [];
    const write = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => (lines.push(String(chunk)), true));
    try {
      configureLog({ sink: "json" });
      log.warn("disk almost full", { code: "WEFT_TEST", percent: 91 });
      log.info("below the level: not written");
    } finally {
      write.mockRestore();
    }
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "warn", msg: "disk almost full", code: "WEFT_TEST", percent: 91 });
    expect(lines[0]!.endsWith("\n")).toBe(true);
  });

  test("log.level comes from the config layers (here the runtime layer), and silent writes nothing", () => {
    configureLog({ sink: (r) => records.push(r) });
    setConfig("log.level", "error");
    log.warn("dropped");
    log.error("kept");
    setConfig("log.level", "silent");
    log.error("dropped too");
    expect(records.map((r) => r.msg)).toEqual(["kept"]);
  });

  test("weft's own warnings go through it: a jit fallback, routed to a sink instead of Node's warnings", async () => {
    configureLog({ sink: (r) => records.push(r) });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    const inner = op({ name: "log.inner" }, async (x: number) => x + 1);
    // JSON.stringify of a traced value cannot be traced: this signature runs eagerly, with a warning.
    const f = jit(async (x: number) => JSON.stringify(await inner(x)).length);
    try {
      expect(await f(1)).toBe(1);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("warning", onWarning);
    }
    const fallback = records.find((r) => r.code === "WEFT_JIT_FALLBACK");
    expect(fallback).toMatchObject({ level: "warn", msg: expect.stringMatching(/runs eagerly for this input signature/) });
    expect(warnings.filter((w) => (w as { code?: string }).code === "WEFT_JIT_FALLBACK")).toEqual([]);
  });
});
