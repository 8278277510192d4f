/**
 * A million items with bounded memory: the source is a generator (nothing is held), the
 * consumer is slow (it yields to the event loop every thousand items), and the heap must
 * stay within a stated bound while every item is accounted for.
 */
import { describe, expect, it } from "vitest";
import { data, op, vmap } from "weft";

const N = Number(process.env.WEFT_STREAM_N ?? 1_000_000);
/** The bound the issue states: growth of the heap over its level before the run. */
const HEAP_BOUND = 64 * 1024 * 1024;

export const triple = op(async (n: number): Promise<number> => n * 3);

describe("a million items", () => {
  it(`${N.toLocaleString("en-US")} items through filter, map, batch and a vmapped op, with a slow consumer, under ${HEAP_BOUND / 2 ** 20} MB of heap`, async () => {
    let produced = 0;
    function* source() {
      for (let i = 0; i < N; i++) {
        produced++;
        yield i;
      }
    }
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    let outputs = 0;
    let sum = 0;
    let lastSources = -1;
    let ordered = true;
    const summary = await data
      .stream(source())
      .filter((n) => n % 2 === 0)
      .map((n) => n + 1)
      .batch(32)
      .through(vmap(triple, { concurrency: 8 }))
      .lineage()
      .run(async (t) => {
        outputs++;
        sum += t.value;
        if (t.sources[0]! <= lastSources) ordered = false;
        lastSources = t.sources[0]!;
        if (outputs % 1000 === 0) {
          peak = Math.max(peak, process.memoryUsage().heapUsed);
          await new Promise<void>((r) => setImmediate(r));
        }
      });
    const growth = peak - before;
    console.log(`stream of ${N} items: heap growth ${(growth / 2 ** 20).toFixed(1)} MB (bound ${HEAP_BOUND / 2 ** 20} MB), ${summary.elapsedMs} ms`);
    expect(growth).toBeLessThan(HEAP_BOUND);
    // Every item accounted for: half kept and mapped, half filtered out, none lost.
    const kept = Math.ceil(N / 2);
    expect(produced).toBe(N);
    expect(summary).toMatchObject({ pulled: N, emitted: kept, dropped: N - kept, failed: 0 });
    expect(summary.pulled).toBe(summary.emitted + summary.dropped + summary.failed);
    expect(outputs).toBe(kept);
    // sum over even n of 3(n + 1)
    let expected = 0;
    for (let n = 0; n < N; n += 2) expected += 3 * (n + 1);
    expect(sum).toBe(expected);
    expect(ordered).toBe(true);
  }, 60_000);
});
