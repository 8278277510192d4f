import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { data, op, vmap, StreamItemError, OpError, type StreamProgress } from "weft";

const tick = () => new Promise<void>((r) => setImmediate(r));

describe("data.stream sources", () => {
  const expected = [0, 2, 4, 6, 8];
  const pipeline = <T extends number>(s: ReturnType<typeof data.stream<T>>) => s.filter((n) => n % 2 === 0).collect();

  it("reads arrays, sync iterables, async iterables, web streams and Node Readables alike", async () => {
    const range = () => Array.from({ length: 10 }, (_, i) => i);
    async function* gen() {
      for (const n of range()) yield n;
    }
    const web = new ReadableStream<number>({
      start(c) {
        for (const n of range()) c.enqueue(n);
        c.close();
      },
    });
    expect(await pipeline(data.stream(range()))).toEqual(expected);
    expect(await pipeline(data.stream(new Set(range())))).toEqual(expected);
    expect(await pipeline(data.stream(gen()))).toEqual(expected);
    expect(await pipeline(data.stream(web))).toEqual(expected);
    expect(await pipeline(data.stream(Readable.from(range())))).toEqual(expected);
  });

  it("refuses to read a one-shot source twice rather than yielding nothing", async () => {
    const s = data.stream(new Set([1, 2]).values());
    expect(await s.collect()).toEqual([1, 2]);
    await expect(s.collect()).rejects.toThrow(/already read by an earlier run/);
  });

  it("names what it cannot read, and unknown options", () => {
    expect(() => data.stream(42 as never)).toThrow(/cannot read from a number/);
    expect(() => data.stream([1], { chunks: 4 } as never)).toThrow(/unknown option "chunks"; did you mean "chunk"\?/);
    expect(() => data.stream([1]).map((x) => x, { concurency: 2 } as never)).toThrow(/unknown option "concurency"; did you mean "concurrency"\?/);
  });
});

describe("stages", () => {
  it("filters, maps, batches and flattens in order, across chunk boundaries", async () => {
    const out = await data
      .stream(Array.from({ length: 100 }, (_, i) => i), { chunk: 7 })
      .filter((n) => n % 3 !== 0)
      .map((n) => n * 2)
      .batch(5)
      .flatMap((b) => [b.length])
      .collect();
    expect(out).toEqual([...Array.from({ length: 13 }, () => 5), 1]);
  });

  it("runs an async map with at most `concurrency` in flight, keeping order, or not when asked", async () => {
    let running = 0;
    let peak = 0;
    const slow = async (n: number) => {
      running++;
      peak = Math.max(peak, running);
      for (let i = 0; i < (n * 7) % 5; i++) await tick();
      running--;
      return n;
    };
    const input = Array.from({ length: 40 }, (_, i) => i);
    expect(await data.stream(input, { chunk: 3 }).map(slow, { concurrency: 4 }).collect()).toEqual(input);
    expect(peak).toBe(4);
    peak = 0;
    const unordered = await data.stream(input).map(slow, { concurrency: 6, ordered: false }).collect();
    expect(unordered).not.toEqual(input);
    expect([...unordered].sort((a, b) => a - b)).toEqual(input);
    expect(peak).toBe(6);
  });

  it("calls a map's function once per item when a chunk mixes sync results, throws and promises", async () => {
    const calls = new Map<number, number>();
    const mixed = (n: number): number | Promise<number> => {
      calls.set(n, (calls.get(n) ?? 0) + 1);
      if (n % 5 === 3) throw new Error(`bad ${n}`);
      return n % 7 === 4 ? Promise.resolve(n * 10) : n * 10;
    };
    const summary = await data.stream(Array.from({ length: 50 }, (_, i) => i), { chunk: 16 }).map(mixed, { concurrency: 2 }).results().collect();
    expect([...calls.values()].every((c) => c === 1)).toBe(true);
    expect(calls.size).toBe(50);
    const ok = summary.filter((r) => r.ok).map((r) => r.index);
    expect(ok).toEqual(Array.from({ length: 50 }, (_, i) => i).filter((i) => i % 5 !== 3));
    expect(summary.filter((r) => !r.ok).map((r) => r.index).sort((a, b) => a - b)).toEqual([3, 8, 13, 18, 23, 28, 33, 38, 43, 48]);
  });

  it("takes the first n and closes the source at once", async () => {
    let finalized = false;
    function* naturals() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        finalized = true;
      }
    }
    expect(await data.stream(naturals(), { chunk: 4 }).take(6).collect()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(finalized).toBe(true);
  });

  it("taps each value without changing it", async () => {
    const seen: number[] = [];
    expect(await data.stream([1, 2, 3]).tap(async (n) => void seen.push(n)).collect()).toEqual([1, 2, 3]);
    expect(seen).toEqual([1, 2, 3]);
  });

  it("runs each stage's op through the kernel, with its retry policy and in the caller's context", async () => {
    let calls = 0;
    const flaky = op({ name: "flakyDouble", retry: { times: 2, backoff: { initial: 0 } } }, async (n: number) => {
      calls++;
      if (calls % 2 === 1) throw Object.assign(new Error("reset"), { code: "ECONNRESET" });
      return n * 2;
    });
    expect(await data.stream([1, 2, 3]).map(flaky).collect()).toEqual([2, 4, 6]);
    expect(calls).toBe(6);
  });
});

describe("every item accounted for", () => {
  it("dead-letters a failed item with its source offset and goes on", async () => {
    const summary = await data
      .stream([1, 2, 3, 4])
      .map((n) => {
        if (n === 3) throw new Error("three");
        return n;
      })
      .run();
    expect(summary).toMatchObject({ pulled: 4, emitted: 3, failed: 1, dropped: 0 });
    expect(summary.deadLetters).toHaveLength(1);
    expect(summary.deadLetters[0]).toMatchObject({ stage: "map#0", offset: 2, sources: [2], input: 3 });
  });

  it("stops with a StreamItemError under onError: fail", async () => {
    const s = data.stream([1, 2, 3], { onError: "fail" }).map((n) => {
      if (n === 2) throw new Error("no");
      return n;
    });
    const error = await s.collect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamItemError);
    expect((error as StreamItemError).offset).toBe(1);
  });

  it("yields per-item results like vmap's collect, failures included, with their offsets", async () => {
    const results = await data
      .stream(["a", "bb", "", "dddd"])
      .map((s) => {
        if (s === "") throw new Error("empty");
        return s.length;
      })
      .results()
      .collect();
    expect(results.map((r) => [r.index, r.ok])).toEqual([
      [0, true],
      [1, true],
      [3, true],
      [2, false],
    ]);
  });

  it("counts drops and reports progress per chunk and at the end", async () => {
    const reports: StreamProgress[] = [];
    await data
      .stream(Array.from({ length: 10 }, (_, i) => i), { chunk: 4, onProgress: (p) => reports.push(p) })
      .filter((n) => n < 8)
      .take(5)
      .run();
    const last = reports[reports.length - 1]!;
    expect(last).toMatchObject({ done: true, emitted: 5, total: 10 });
    expect(last.pulled).toBe(last.emitted + last.dropped + last.failed);
    expect(reports.length).toBeGreaterThan(1);
  });
});

describe("through(vmap(op))", () => {
  it("sends batches through the batch engine and spreads per-item results, dead-lettering failed items alone", async () => {
    const seen: number[][] = [];
    const score = op({ name: "scoreLen" }, async (text: string): Promise<number> => {
      if (text === "bad") throw new Error("bad text");
      return text.length;
    });
    const summary = await data
      .stream(["a", "bb", "bad", "dddd", "eeeee"])
      .batch(2)
      .tap((b) => void seen.push(b.map((s) => s.length)))
      .through(vmap(score, { concurrency: 2 }))
      .lineage()
      .run((t) => void seen.push([t.value, ...t.sources]));
    expect(summary.emitted).toBe(4);
    expect(summary.deadLetters).toHaveLength(1);
    expect(summary.deadLetters[0]!.offset).toBe(2);
    expect(summary.deadLetters[0]!.error).toBeInstanceOf(OpError);
    expect(seen).toContainEqual([4, 3]);
  });
});
