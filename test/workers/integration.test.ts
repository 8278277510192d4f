/**
 * The worker pool as users reach it: vmap over a CPU op runs in chunks (one task per
 * chunk, not per item), and a jitted chain of CPU ops runs as one task per call, once the
 * cost model has measured them as worth a round trip. Real worker threads, compiled weft.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadWeft } from "./weft.js";

type Loaded = Awaited<ReturnType<typeof loadWeft>>;
let w: Loaded;

beforeAll(async () => {
  w = await loadWeft();
});

afterAll(async () => {
  await w.pool.closeWorkers();
});

/** Makes the cost model believe `ops` take `ms` each (as if measured inline). */
function pretendMeasured(ops: Array<{ descriptor: { id: string } }>, ms: number): void {
  for (const fn of ops) w.cost.recordDuration(fn.descriptor.id, ms * 10, 10);
}

describe("vmap over a CPU op", () => {
  it("sends chunks of items to the workers, keeping order and every result", async () => {
    const { vmap } = w.weft;
    const { heavy } = w.ops;
    const pool = w.pool.defaultPool();
    pretendMeasured([heavy], 2);
    const items = Array.from({ length: 64 }, (_, i) => 1000 + i);
    const expected = await Promise.all(items.map((n) => heavy(n)));
    const start = pool.tasks;
    const got = await vmap(heavy)(items);
    const tasks = pool.tasks - start;
    expect(got).toEqual(expected);
    expect(tasks).toBeGreaterThan(0);
    // Chunked: far fewer tasks than items.
    expect(tasks).toBeLessThan(items.length / 2);
  });

  it("reports a failing item at its index under collect, the others intact", async () => {
    const { vmap } = w.weft;
    const { fail } = w.ops;
    pretendMeasured([fail], 2);
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
    const f = async (x: number) => square(await inc(await double(x)));
    const jf = jit(f);
    expect(await jf(3)).toBe(await f(3));
    pretendMeasured([double, inc, square], 1);
    const pool = w.pool.defaultPool();
    const before = pool.tasks;
    for (const x of [1, 2, 5]) expect(await jf(x)).toBe(await f(x));
    // One task per jitted call for the whole chain; the eager calls above stay single calls too,
    // so compare with what the eager calls alone cost.
    const viaJit = pool.tasks - before;
    const start = pool.tasks;
    for (const x of [1, 2, 5]) await f(x);
    const eagerTasks = pool.tasks - start;
    expect(eagerTasks).toBe(9);
    expect(viaJit - eagerTasks).toBe(3);
  });
});

describe("vmap of a jitted chain of CPU ops", () => {
  it("runs the whole plan per item inside the workers, in chunks", async () => {
    const { jit, vmap } = w.weft;
    const { double, inc, square } = w.ops;
    const f = async (x: number) => square(await inc(await double(x)));
    pretendMeasured([double, inc, square], 1);
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
