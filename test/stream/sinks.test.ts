/** Sinks and reporting: run(sink), toEffect, the progress bar on a TTY and in a log, spans linking outputs to inputs. */
import { Effect, Fiber } from "effect";
import { describe, expect, it } from "vitest";
import { data, op, vmap, Cancelled, type StreamProgress } from "weft";
import { recordSpans } from "../support/spans.js";

describe("sinks", () => {
  it("run(sink) awaits a slow sink (it slows the source) and closes an object sink at the end", async () => {
    const got: number[] = [];
    let closed = false;
    let pulled = 0;
    const s = data.stream(
      (function* () {
        for (let i = 0; i < 5; i++) {
          pulled++;
          yield i;
        }
      })(),
      { chunk: 1 },
    );
    const summary = await s.run({
      async write(n: number) {
        // When item n is written, the source has produced it and at most the next.
        expect(pulled).toBeLessThanOrEqual(n + 2);
        await new Promise<void>((r) => setImmediate(r));
        got.push(n);
      },
      close() {
        closed = true;
      },
    });
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(closed).toBe(true);
    expect(summary).toMatchObject({ emitted: 5, done: true });
  });

  it("a sink that throws stops the stream and closes the source", async () => {
    let closed = false;
    function* endless() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    await expect(
      data.stream(endless()).run((n) => {
        if (n === 3) throw new Error("sink full");
      }),
    ).rejects.toThrow("sink full");
    expect(closed).toBe(true);
  });

  it("toEffect runs the stream as an Effect; interrupting it stops the stream", async () => {
    expect(await Effect.runPromise(data.stream([1, 2, 3]).map((n) => n + 1).toEffect())).toEqual([2, 3, 4]);
    let closed = false;
    let aborted: unknown;
    const hang = op({ name: "hangForever" }, async (n: number): Promise<number> => {
      const { getContext } = await import("weft");
      const { signal } = getContext();
      return new Promise<number>((_, reject) => signal.addEventListener("abort", () => reject((aborted = signal.reason)), { once: true })).then(() => n);
    });
    async function* src() {
      try {
        yield 1;
        yield 2;
      } finally {
        closed = true;
      }
    }
    const fiber = Effect.runFork(data.stream(src()).map(hang).toEffect());
    for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
    await Effect.runPromise(Fiber.interrupt(fiber));
    for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
    expect(aborted).toBeInstanceOf(Cancelled);
    expect(closed).toBe(true);
  });
});

describe("data.progressBar", () => {
  const progress = (p: Partial<StreamProgress>): StreamProgress => ({ pulled: 0, emitted: 0, failed: 0, dropped: 0, skipped: 0, total: undefined, elapsedMs: 0, done: false, ...p });

  it("draws in place on a TTY, at most every redrawMs, and ends the line when done", () => {
    const out: string[] = [];
    let now = 0;
    const bar = data.progressBar({ label: "q", output: { isTTY: true, columns: 80, write: (t) => out.push(t) }, redrawMs: 100, now: () => now });
    bar(progress({ pulled: 10, emitted: 10, total: 40, elapsedMs: 1000 }));
    now = 50;
    bar(progress({ pulled: 20, emitted: 20, total: 40, elapsedMs: 1050 })); // too soon: not drawn
    now = 150;
    bar(progress({ pulled: 40, emitted: 38, failed: 2, total: 40, elapsedMs: 2000, done: true }));
    expect(out).toHaveLength(2);
    const [, hashes, dashes] = /^\rq \[(#+)(-+)\] 25% 10\/40 · 10 out · 10\/s$/.exec(out[0]!) ?? [];
    expect(hashes!.length).toBe(Math.round((hashes!.length + dashes!.length) / 4));
    expect(out[1]).toMatch(/^\rq \[#+\] 100% 40\/40 · 38 out · 2 failed · 20\/s · done\n$/);
  });

  it("writes plain lines elsewhere, at most every everyMs, and the last one", async () => {
    const out: string[] = [];
    let now = 0;
    const bar = data.progressBar({ label: "rows", output: { write: (t) => out.push(t) }, everyMs: 1000, now: () => ++now });
    await data.stream(Array.from({ length: 5000 }, (_, i) => i), { chunk: 100, onProgress: bar }).filter((n) => n % 10 !== 0).run();
    expect(out.length).toBe(1 + 1); // the first report, then the final one (the clock moved 51 ms)
    expect(out.every((l) => l.endsWith("\n") && !l.includes("\r"))).toBe(true);
    expect(out[out.length - 1]).toMatch(/^rows \[#{20}\] 100% 5,000\/5,000 · 4,500 out · 500 dropped · ([\d,]+\/s · )?done\n$/);
  });

  it("refuses unknown options", () => {
    expect(() => data.progressBar({ lable: "x" } as never)).toThrow(/unknown option "lable"; did you mean "label"\?/);
  });
});

describe("spans", () => {
  const exporter = recordSpans();

  it("a stream has a span; each through batch's span names the source offsets it carries, and its op calls nest under it", async () => {
    const len = op({ name: "spanLen" }, async (s: string): Promise<number> => s.length);
    await data.stream(["a", "bb", "ccc", "dddd", "eeeee"], { name: "lengths" }).batch(2).through(vmap(len)).run();
    const spans = exporter.getFinishedSpans();
    const stream = spans.find((s) => s.name === "lengths")!;
    expect(stream).toBeDefined();
    const batches = spans.filter((s) => s.name === "through(spanLen)");
    expect(batches.map((s) => s.attributes["weft.stream.sources"])).toEqual(["0,1", "2,3", "4"]);
    for (const b of batches) expect(b.parentSpanContext?.spanId).toBe(stream.spanContext().spanId);
    const calls = spans.filter((s) => s.name === "spanLen");
    expect(calls).toHaveLength(5);
    const batchIds = new Set(batches.map((b) => b.spanContext().spanId));
    const vmaps = spans.filter((s) => s.name === "vmap(spanLen)");
    for (const v of vmaps) expect(batchIds.has(v.parentSpanContext!.spanId)).toBe(true);
  });
});
