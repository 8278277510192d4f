/**
 * `vmap(f).stream(items)` runs on the batch engine: an op's native batch implementation gets
 * chunks, a CPU op placed on an executor gets chunks (`runChunk`), not one call per item;
 * results still come as they settle, each with its index, failures included; leaving early
 * stops what is in flight.
 */
import { afterAll, describe, expect, it } from "vitest";
import { inlineExecutor, op, registerExecutor, vmap, type Executor } from "weft";

const counted = { run: 0, chunks: [] as number[], open: 0 };
const executor: Executor = {
  name: "counted",
  run(work, frame) {
    counted.run++;
    return inlineExecutor.run(work, frame);
  },
  async runChunk(target, items, frame) {
    counted.chunks.push(items.length);
    counted.open++;
    try {
      // Slow enough that a stopped stream has chunks still out.
      await new Promise<void>((r) => setTimeout(r, 1));
      if (frame.signal.aborted) throw frame.signal.reason;
      return await inlineExecutor.runChunk(target, items, frame);
    } finally {
      counted.open--;
    }
  },
  close: async () => {},
};
const unregister = registerExecutor("counted", executor);
afterAll(() => unregister());

const bodies: number[] = [];
const batches: number[][] = [];
/** Doubles a number; natively in batches of at most 8, and refuses negatives. */
export const double = op(
  {
    batch: {
      maxBatch: 8,
      run: async (items: readonly [number][]) => {
        batches.push(items.map(([x]) => x));
        await new Promise<void>((r) => setImmediate(r));
        return items.map(([x]) => x * 2);
      },
    },
  },
  async (x: number): Promise<number> => {
    bodies.push(x);
    return x * 2;
  },
);

/** A CPU op whose chunks go to the counted executor. */
export const square = op({ placement: "remote:counted" }, (x: number): number => x * x);

describe("vmap(f).stream", () => {
  it("calls an op's native batch implementation in chunks, never the per-item body", async () => {
    bodies.length = 0;
    batches.length = 0;
    const items = Array.from({ length: 100 }, (_, i) => i);
    const seen = new Map<number, number>();
    for await (const r of vmap(double, { concurrency: 4 }).stream(items)) {
      expect(r.ok).toBe(true);
      if (r.ok) seen.set(r.index, r.value);
    }
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual(items);
    for (const [i, v] of seen) expect(v).toBe(i * 2);
    expect(bodies).toEqual([]);
    expect(batches.flat().sort((a, b) => a - b)).toEqual(items);
    expect(batches.every((b) => b.length <= 8)).toBe(true);
    expect(batches.length).toBeLessThanOrEqual(Math.ceil(100 / 8) + 1);
  });

  it("sends a placed CPU op's items as chunks, with failed items as results at their index", async () => {
    counted.run = 0;
    counted.chunks.length = 0;
    const items = Array.from({ length: 300 }, (_, i) => (i === 17 ? ("x" as unknown as number) : i));
    const results = await vmap(square).stream(items).collect();
    expect(results).toHaveLength(300);
    const bad = results.filter((r) => !r.ok);
    expect(bad.map((r) => r.index)).toEqual([17]);
    expect(String((bad[0] as { error: unknown }).error)).toContain("expected number");
    for (const r of results) if (r.ok) expect(r.value).toBe(r.index * r.index);
    // The batch engine measures a few items one by one first (each of the stream's two
    // batches of 256 and 44), then sends the rest in chunks.
    const chunked = counted.chunks.reduce((a, b) => a + b, 0);
    expect(counted.run).toBeLessThanOrEqual(8);
    expect(counted.run + chunked).toBeGreaterThanOrEqual(299);
    // Chunks of several items each, as the engine sizes them for the executor's width.
    expect(counted.chunks.length).toBeLessThan(150);
    expect(Math.max(...counted.chunks)).toBeGreaterThan(1);
  });

  it("batches what an async source has ready", async () => {
    batches.length = 0;
    async function* numbers() {
      for (let i = 0; i < 40; i++) {
        await new Promise<void>((r) => setImmediate(r));
        yield i;
      }
    }
    const results = await vmap(double).stream(numbers()).collect();
    expect(results.map((r) => r.index).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(results.every((r) => r.ok && r.value === r.index * 2)).toBe(true);
    expect(batches.flat()).toHaveLength(40);
  });

  it("stops its chunks in flight when the consumer leaves", async () => {
    counted.chunks.length = 0;
    let got = 0;
    for await (const r of vmap(square).stream(Array.from({ length: 5000 }, (_, i) => i))) {
      if (r.ok && ++got === 3) break;
    }
    await new Promise<void>((r) => setTimeout(r, 5));
    expect(counted.open).toBe(0);
    expect(counted.chunks.reduce((a, b) => a + b, 0)).toBeLessThan(5000);
  });
});
