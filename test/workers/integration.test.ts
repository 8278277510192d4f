/**
 * The worker pool as users reach it: vmap over a CPU op runs in chunks (one task per
 * chunk, not per item), and a jitted chain of CPU ops runs as one task per call, once the
 * cost model has measured them as worth a round trip. Real worker threads, compiled weft.
 */
import { describe, expect, it } from "vitest";
import { pretendMeasured, useWeft } from "./weft.js";

const w = useWeft();

describe("vmap over a CPU op", () => {
  it("sends chunks of items to the workers, keeping order and every result", async () => {
    const { vmap } = w.weft;
    const { heavy } = w.ops;
    const pool = w.pool.defaultPool();
    const items = Array.from({ length: 64 }, (_, i) => 1000 + i);
    // Measured as heavy right before the batch: no call in between moves the average.
    pretendMeasured(w, [heavy], 2);
    const start = pool.tasks;
    const got = await vmap(heavy)(items);
    const tasks = pool.tasks - start;
    expect(got).toEqual(await Promise.all(items.map((n) => heavy(n))));
    expect(tasks).toBeGreaterThan(0);
    // Chunked: far fewer tasks than items.
    expect(tasks).toBeLessThan(items.length / 2);
  });

  it("reports a failing item at its index under collect, the others intact", async () => {
    const { vmap } = w.weft;
    const { fail } = w.ops;
    pretendMeasured(w, [fail], 2);
    const input = Array.from({ length: 40 }, (_, i) => (i === 17 ? -2 : 2 * i));
    const results = await vmap(fail, { onError: "collect" })(input);
    expect(results.flatMap((r) => (r.ok ? [] : [r.index]))).toEqual([17]);
    const error = (results[17] as { error: Error & { cause?: unknown } }).error;
    expect(String(error.message)).toContain("negative: -2");
    expect(results.filter((r) => r.ok).map((r) => (r as { value: number }).value)).toEqual(input.filter((x) => x >= 0));
  });
});

describe("a jitted chain of CPU ops", () => {
  it("runs as one worker task per call once the members are measured as heavy", async () => {
    const { jit } = w.weft;
    const { double, inc, square } = w.ops;
    const jf = jit(async (x: number) => square(await inc(await double(x))));
    expect(await jf(3)).toBe(49);
    // Measured as heavy right before the calls; nothing else runs these ops in between.
    pretendMeasured(w, [double, inc, square], 1);
    const pool = w.pool.defaultPool();
    const before = pool.tasks;
    const got = [await jf(1), await jf(2), await jf(5)];
    expect(got).toEqual([9, 25, 121]);
    // Three ops per call, one task per call.
    expect(pool.tasks - before).toBe(3);
  });
});

describe("vmap of a jitted chain of CPU ops", () => {
  it("runs the whole plan per item inside the workers, in chunks", async () => {
    const { jit, vmap } = w.weft;
    const { double, inc, square } = w.ops;
    const f = async (x: number) => square(await inc(await double(x)));
    pretendMeasured(w, [double, inc, square], 1);
    const pool = w.pool.defaultPool();
    const items = Array.from({ length: 48 }, (_, i) => i);
    const start = pool.tasks;
    const got = await vmap(jit(f))(items);
    const tasks = pool.tasks - start;
    expect(got).toEqual(await Promise.all(items.map((x) => f(x))));
    expect(tasks).toBeGreaterThan(0);
    expect(tasks).toBeLessThan(items.length / 4);
  });
});
