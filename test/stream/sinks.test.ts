/** Sinks and reporting: run(sink), toEffect, the progress bar on a TTY and in a log, spans linking outputs to inputs. */
import { Effect, Fiber } from "effect";
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { data, op, vmap, Cancelled, type StreamProgress } from "weft";
import { buildDurableFixtures } from "../durable/build.js";
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

  it("keeps each draw within the terminal's width, so a redraw stays on one row, and starts no timer", () => {
    const out: string[] = [];
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    const bar = data.progressBar({ label: "a label that is far too long for this terminal", output: { isTTY: true, columns: 40, write: (t) => out.push(t) }, redrawMs: 0 });
    bar(progress({ pulled: 10, emitted: 10, total: 40, elapsedMs: 1000 }));
    bar(progress({ pulled: 40, emitted: 40, total: 40, elapsedMs: 2000, done: true }));
    expect(timers()).toBe(before);
    expect(out).toHaveLength(2);
    for (const w of out) expect(w.replace(/^\r/, "").replace(/\n$/, "").trimEnd().length).toBeLessThanOrEqual(39);
    expect(out[0]).toMatch(/^\ra label that is far too long for this …$/);
    expect(out[1]).toMatch(/…\n$/);
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

describe("data.progressBar in a real process", () => {
  // `script` (util-linux) runs the child under a pseudo-terminal, so its stderr is a TTY.
  const hasScript = spawnSync("script", ["--version"]).status === 0;
  let child: string;
  beforeAll(() => {
    child = buildDurableFixtures(path.resolve(import.meta.dirname, "../fixtures/stream")).script("progress-child.js");
  }, 180_000);

  const run = (command: string, args: string[]) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      p.stdout.on("data", (d: Buffer) => (out += d.toString()));
      p.stderr.on("data", (d: Buffer) => (err += d.toString()));
      p.on("close", (code) => resolve({ code, out, err }));
    });

  it.skipIf(!hasScript)("draws in place on a terminal (run under `script`), each draw within its width, and the process exits on its own", async () => {
    const quoted = `'${process.execPath}' '${child}'`;
    const { code, out } = await run("script", ["-qec", `stty cols 60 rows 20; ${quoted}`, "/dev/null"]);
    expect(code, out).toBe(0);
    // The terminal turns the final newline into \r\n; the bar's own output is \r-led redraws.
    const bar = out.slice(0, out.indexOf("emitted"));
    const draws = bar.replace(/\r\n$/, "").split("\r").slice(1);
    expect(draws.length).toBeGreaterThan(10);
    expect(bar.replace(/\r\n$/, "")).not.toContain("\n");
    for (const d of draws) expect(d.length, d).toBeLessThanOrEqual(59);
    expect(draws.at(-1)!.trimEnd()).toMatch(/^a label long enough to overflow a narrow terminal \[.*…$|done$/);
    expect(out).toContain("emitted 2000");
  });

  it("writes plain lines when stderr is not a terminal", async () => {
    const { code, out, err } = await run(process.execPath, [child]);
    expect(code, err).toBe(0);
    expect(out).toBe("emitted 2000\n");
    const lines = err.split("\n");
    expect(lines.at(-1)).toBe("");
    expect(err).not.toContain("\r");
    expect(lines.length - 1).toBeGreaterThan(10);
    expect(lines.at(-2)).toMatch(/^a label long enough to overflow a narrow terminal \[#{20}\] 100% 2,000\/2,000 · 2,000 out · .*done$/);
  });
});
