import { describe, expect, it } from "vitest";
import { op, vmap, Module, BatchItemError, WeftError, ValidationError, OpError, Cancelled, getContext, withContext, subscribe } from "weft";

const tick = () => new Promise<void>((r) => setImmediate(r));

describe("vmap", () => {
  it("keeps input order when items finish out of order", async () => {
    const finished: number[] = [];
    const slowEcho = op({ name: "slowEcho" }, async (x: number) => {
      // A different number of event-loop turns per item: a fixed, scrambled finishing order.
      for (let i = 0; i < (x * 7) % 11; i++) await tick();
      finished.push(x);
      return x * 10;
    });
    const input = Array.from({ length: 60 }, (_, i) => i);
    expect(await vmap(slowEcho, { concurrency: 20 })(input)).toEqual(input.map((x) => x * 10));
    expect(finished).not.toEqual(input);
  });

  it("holds a WeftError in every failed item of a vmap over an op, as its type says", async () => {
    const picky = op({ name: "picky" }, async (x: number) => {
      if (x === 1) throw new Error("plain error from the body");
      if (x === 2) throw "a thrown string";
      return x;
    });
    const results = await vmap(picky, { onError: "collect" })([0, 1, 2, "three" as never]);
    const errors = results.flatMap((r) => (r.ok ? [] : [r.error]));
    expect(errors).toHaveLength(3);
    for (const error of errors) expect(error).toBeInstanceOf(WeftError);
    expect(errors.map((e) => e._tag)).toEqual(["OpError", "OpError", "ValidationError"]);
  });

  it("accounts for every one of 10,000 items, 5% failing, under collect", async () => {
    const failing = new Set(Array.from({ length: 500 }, (_, k) => k * 20 + (k % 20)));
    const check = op({ name: "check" }, async (i: number) => {
      if (failing.has(i)) throw new Error(`bad ${i}`);
      return i;
    });
    const input = Array.from({ length: 10_000 }, (_, i) => i);
    const results = await vmap(check, { onError: "collect", concurrency: 64 })(input);
    expect(results).toHaveLength(10_000);
    const failedAt = results.flatMap((r) => (r.ok ? [] : [r.index]));
    expect(failedAt).toEqual([...failing].sort((a, b) => a - b));
    for (const r of results) {
      expect(r.index).toBe(results.indexOf(r));
      if (r.ok) expect(r.value).toBe(r.index);
      else expect((r.error as OpError).cause).toMatchObject({ message: `bad ${r.index}` });
    }
  });

  it("starts no new item after the first failure under throw, and names the failing index", async () => {
    const started: number[] = [];
    const gates = new Map<number, () => void>();
    const work = op({ name: "work" }, async (i: number) => {
      started.push(i);
      if (i === 2) throw new Error("item 2 is broken");
      await new Promise<void>((resolve, reject) => {
        gates.set(i, resolve);
        getContext().signal.addEventListener("abort", () => reject(getContext().signal.reason), { once: true });
      });
      return i;
    });
    const error = await vmap(work, { concurrency: 3 })(Array.from({ length: 50 }, (_, i) => i)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchItemError);
    expect(error).toMatchObject({ index: 2, op: "work" });
    expect((error as BatchItemError).cause).toBeInstanceOf(OpError);
    expect((error as BatchItemError).message).toMatch(/^vmap\(work\): item 2 failed: work failed after 1 attempt: item 2 is broken/);
    await tick();
    expect(started).toEqual([0, 1, 2]);
  });

  it("calls a native batch implementation with the right chunks", async () => {
    const chunks: number[][] = [];
    const embed = op(
      {
        name: "embed",
        batch: {
          maxBatch: 4,
          run: async (items: readonly [string][]) => {
            chunks.push(items.map(([t]) => t.length));
            return items.map(([t]) => t.length * 2);
          },
        },
      },
      async (text: string) => text.length * 2,
    );
    const texts = ["a", "bb", "ccc", "dddd", "eeeee", "ffffff", "g", "hh", "iii", "jjjj"];
    expect(await vmap(embed, { concurrency: 1 })(texts)).toEqual(texts.map((t) => t.length * 2));
    expect(chunks).toEqual([
      [1, 2, 3, 4],
      [5, 6, 1, 2],
      [3, 4],
    ]);
    chunks.length = 0;
    await vmap(embed, { chunkSize: 3, concurrency: 1 })(texts.slice(0, 5));
    expect(chunks).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it("fails every item of a native batch chunk that returned the wrong number of results", async () => {
    const broken = op({ name: "broken", batch: { run: async (items: readonly [number][]) => items.slice(1).map(() => 0) } }, async (x: number) => x);
    const results = await vmap(broken, { onError: "collect" })([1, 2, 3]);
    expect(results.map((r) => r.ok)).toEqual([false, false, false]);
    expect(String((results[0] as { error: Error }).error.cause)).toContain("sent 3 items, received 2 results");
  });

  it("broadcasts arguments with inAxes null", async () => {
    const scale = op({ name: "scale" }, (x: number, factor: number) => x * factor);
    expect(await vmap(scale, { inAxes: [0, null] })([1, 2, 3], 10)).toEqual([10, 20, 30]);
    expect(await vmap(scale)([1, 2, 3], [4, 5, 6])).toEqual([4, 10, 18]);
  });

  it("rejects mapped arguments of different lengths, naming both", async () => {
    function pair(a: number, b: number) {
      return a + b;
    }
    const error = await vmap(op(pair))([1, 2, 3], [1, 2]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toContain("expected 3 items, like");
    expect((error as ValidationError).message).toContain("received 2 items");
  });

  it("nests: vmap of vmap maps over a matrix", async () => {
    const inc = op({ name: "inc" }, (x: number) => x + 1);
    const rows = vmap(inc);
    expect(await vmap(rows)([[1, 2], [3], []])).toEqual([[2, 3], [4], []]);
  });

  it("maps plain async functions and reports progress", async () => {
    const progress: string[] = [];
    const events: string[] = [];
    const stop = subscribe((e) => e.type === "vmap:progress" && events.push(`${e.done}/${e.total}`));
    await vmap(async (x: number) => x, { concurrency: 1, onProgress: ({ done, failed, total }) => progress.push(`${done}-${failed}/${total}`) })([1, 2, 3]);
    stop();
    expect(progress).toEqual(["1-0/3", "2-0/3", "3-0/3"]);
    expect(events).toEqual(["1/3", "2/3", "3/3"]);
  });

  it("cancels in-flight items when the caller's signal fires", async () => {
    const ac = new AbortController();
    let running = 0;
    const waits = op({ name: "waits" }, async (_item: number) => {
      running++;
      try {
        await new Promise((_, reject) => getContext().signal.addEventListener("abort", () => reject(getContext().signal.reason), { once: true }));
      } finally {
        running--;
      }
    });
    const pending = withContext({ signal: ac.signal }, () => vmap(waits, { concurrency: 4 })([1, 2, 3, 4, 5, 6]));
    while (running < 4) await tick();
    ac.abort("stop");
    await expect(pending).rejects.toBeInstanceOf(Cancelled);
    expect(running).toBe(0);
  });

  it("batches a method with @vmap, keeping `this`", async () => {
    class Scorer extends Module {
      constructor(readonly bonus: number) {
        super();
      }
      @vmap({ concurrency: 2 })
      @op
      async score(x: number): Promise<number> {
        return x + this.bonus;
      }
    }
    const scorer = new Scorer(100);
    expect(await (scorer.score as unknown as (xs: number[]) => Promise<number[]>)([1, 2, 3])).toEqual([101, 102, 103]);
  });
});
