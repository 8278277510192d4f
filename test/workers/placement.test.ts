/**
 * One placement authority: what `inspect()` prints for a jitted function's steps is where
 * the runtime sends them. Real worker threads, compiled weft.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshRuntimeEach } from "../support/runtime.js";
import { loadWeft } from "./weft.js";

type Loaded = Awaited<ReturnType<typeof loadWeft>>;
let w: Loaded;

beforeAll(async () => {
  w = await loadWeft();
});

// Each test measures from scratch: a fresh runtime (settings, cost model, listeners) sharing the threads.
freshRuntimeEach(() => new w.runtime.Runtime({ pool: "shared" }));

afterAll(async () => {
  await w.pool.closeWorkers();
});

describe("inspect() shows the placement the runtime takes", () => {
  it("an io op pinned to the workers: printed worker, and sent to the pool", async () => {
    const { jit } = w.weft;
    const { ioOnWorker } = w.ops;
    const jf = jit(async (x: number) => ioOnWorker(x));
    const shown = await jf.inspect(1);
    expect(shown.text).toMatch(/ioOnWorker.*# io worker/);
    const tasks = w.pool.defaultPool().tasks;
    expect(await jf(1)).toBe("1 on worker");
    expect(w.pool.defaultPool().tasks - tasks).toBe(1);
  });

  it("a cpu op measured as heavy: the place pass is given the measured cost, printed worker, and sent to the pool", async () => {
    const { jit } = w.weft;
    const { heavy } = w.ops;
    const jf = jit(async (n: number) => heavy(n));
    expect((await jf.inspect(10)).text).toMatch(/heavy.*# cpu inline/);
    w.cost.recordDuration(heavy.descriptor.id, 20, 10);
    expect((await jf.inspect(10)).text).toMatch(/heavy.*# cpu worker/);
    const tasks = w.pool.defaultPool().tasks;
    expect(await jf(10)).toBe(await heavy(10));
    expect(w.pool.defaultPool().tasks - tasks).toBe(2);
  });
});
