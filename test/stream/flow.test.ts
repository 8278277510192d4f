/**
 * Backpressure and cancellation: the source advances only when pulled, within stated
 * bounds; stopping a stream (the consumer leaving, the context signal, a deadline) closes
 * the source, settles in-flight op calls and leaves no timer behind.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { data, getContext, op, withContext, Cancelled, DeadlineExceeded, subscribe, type RuntimeEvent } from "weft";

const tick = () => new Promise<void>((r) => setImmediate(r));
const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

/** An endless source that counts what it produced and whether it was closed. */
function counted() {
  const state = { produced: 0, closed: false };
  function* gen() {
    try {
      for (;;) yield state.produced++;
    } finally {
      state.closed = true;
    }
  }
  return { state, source: gen() };
}

/** Never settles unless its signal fires: an op body that does its work until told to stop. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));
}

afterEach(() => {
  vi.useRealTimers();
});

describe("backpressure", () => {
  it("pulls from the source no more than a chunk, the map's window and what the consumer holds ahead of it", async () => {
    const { state, source } = counted();
    const chunk = 4;
    const concurrency = 3;
    let consumed = 0;
    let most = 0;
    for await (const n of data.stream(source, { chunk }).map(async (x) => (await tick(), x), { concurrency })) {
      expect(n).toBe(consumed);
      consumed++;
      most = Math.max(most, state.produced - consumed);
      for (let i = 0; i < 5; i++) await tick(); // a slow consumer
      if (consumed === 200) break;
    }
    // Ahead of the consumer: the map's input chunk, its window, and the results handed out with this one.
    expect(most).toBeLessThanOrEqual(chunk + concurrency + concurrency);
    expect(state.produced).toBeLessThanOrEqual(200 + chunk + 2 * concurrency);
    expect(state.closed).toBe(true);
  });

  it("a suspending buffer reads ahead at most its size (plus one hand-off) and no further", async () => {
    const { state, source } = counted();
    const size = 16;
    const chunk = 2;
    let consumed = 0;
    let most = 0;
    const it = data.stream(source, { chunk }).buffer(size)[Symbol.asyncIterator]();
    for (; consumed < 100; consumed++) {
      await it.next();
      for (let i = 0; i < 10; i++) await tick(); // the buffer fills while the consumer is slow
      most = Math.max(most, state.produced - consumed - 1);
    }
    await it.return!();
    // The buffer (size, overshot by at most one source chunk) and the batch handed to the consumer.
    expect(most).toBeLessThanOrEqual(2 * (size + chunk - 1));
    expect(most).toBeGreaterThanOrEqual(size);
    expect(state.closed).toBe(true);
  });

  it("dropping and sliding buffers let items go, and count every one", async () => {
    for (const strategy of ["dropping", "sliding"] as const) {
      let produced = 0;
      async function* fast() {
        for (let i = 0; i < 200; i++) {
          produced++;
          yield i;
        }
      }
      const got: number[] = [];
      const summary = await data
        .stream(fast())
        .buffer(8, { strategy })
        .run(async (n) => {
          got.push(n);
          for (let i = 0; i < 20; i++) await tick();
        });
      expect(produced).toBe(200);
      expect(summary.emitted).toBe(got.length);
      expect(summary.emitted).toBeLessThan(200);
      expect(summary.emitted + summary.dropped).toBe(200);
      if (strategy === "sliding") expect(got[got.length - 1]).toBe(199);
      else expect(got).toContain(0);
    }
  });
});

describe("cancellation", () => {
  it("leaving a for-await loop closes the source, cancels in-flight op calls and leaves nothing running", async () => {
    const { state, source } = counted();
    const events: RuntimeEvent[] = [];
    const off = subscribe((e) => events.push(e));
    let started = 0;
    let aborted = 0;
    const work = op({ name: "streamWork" }, async (n: number): Promise<number> => {
      started++;
      if (n < 2) return n;
      const { signal } = getContext();
      signal.addEventListener("abort", () => aborted++, { once: true });
      return untilAborted(signal);
    });
    const timersBefore = activeTimers();
    const seen: number[] = [];
    // The first batch goes when its first item has waited 20 ms: items 2.. never finish.
    for await (const n of data.stream(source, { chunk: 8 }).map(work, { concurrency: 4 }).batch(5, { maxWaitMs: 20 })) {
      seen.push(...n);
      break;
    }
    for (let i = 0; i < 5; i++) await tick();
    off();
    expect(seen).toEqual([0, 1]);
    expect(state.closed).toBe(true);
    // Every op call that started has ended, cancelled.
    expect(aborted).toBe(started - 2);
    const ends = events.filter((e) => e.type === "op:end" && e.op === "streamWork");
    expect(ends).toHaveLength(started);
    expect(ends.filter((e) => e.type === "op:end" && e.error instanceof Cancelled)).toHaveLength(started - 2);
    // The partial batch's maxWait timer is gone with the stream.
    expect(activeTimers()).toBeLessThanOrEqual(timersBefore);
  });

  it("stops at the context deadline with DeadlineExceeded, closing the source", async () => {
    vi.useFakeTimers();
    const { state, source } = counted();
    const slow = op({ name: "slowStage" }, async (n: number): Promise<number> => {
      const { signal } = getContext();
      await new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, 10);
        signal.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
      });
      return n;
    });
    const got: number[] = [];
    const run = withContext({ timeout: 35 }, () => data.stream(source, { chunk: 1 }).map(slow).run((n) => void got.push(n)));
    const outcome = run.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(34);
    expect(got).toEqual([0, 1, 2]);
    await vi.advanceTimersByTimeAsync(1);
    const error = await outcome;
    expect(error).toBeInstanceOf(DeadlineExceeded);
    expect(state.closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("stops when the caller's signal fires, and a maxWaitMs batch goes once its first item waited that long", async () => {
    vi.useFakeTimers();
    const ac = new AbortController();
    let closed = false;
    async function* trickle() {
      try {
        for (let i = 0; ; i++) {
          await new Promise((r) => setTimeout(r, 30));
          yield i;
        }
      } finally {
        closed = true;
      }
    }
    const batches: number[][] = [];
    const run = data
      .stream(trickle(), { signal: ac.signal })
      .batch(10, { maxWaitMs: 100 })
      .run((b) => void batches.push(b));
    const outcome = run.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(30 + 100);
    // The first item came at 30 ms; at 130 ms its batch goes with what arrived by then.
    expect(batches).toEqual([[0, 1, 2, 3]]);
    ac.abort();
    expect(await outcome).toBeInstanceOf(Cancelled);
    // The source was told to stop; it does once its own pending read (a 30 ms timer) is over.
    await vi.advanceTimersByTimeAsync(30);
    expect(closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a web ReadableStream sink pulls on demand and cancel() closes the source", async () => {
    const { state, source } = counted();
    const reader = data.stream(source, { chunk: 3 }).map((n) => n * 2).toReadableStream().getReader();
    expect((await reader.read()).value).toBe(0);
    expect(state.produced).toBe(3);
    await reader.cancel();
    expect(state.closed).toBe(true);
  });
});
