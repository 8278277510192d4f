/**
 * What sets the executors apart (the conformance suite covers what they share), and the
 * process-wide pool's settings.
 */
import { describe, expect, it } from "vitest";
import { freshRuntimeEach } from "../support/runtime.js";
import { useWeft, newProbe, untilSet } from "./weft.js";

const w = useWeft();

const entryOf = (fn: { descriptor: { id: string } }) => w.registry.lookup(fn.descriptor.id)!;
const here = () => w.context.currentFrame();

describe("inline and async executors", () => {
  it("inline starts the body before run() returns", async () => {
    const probe = newProbe();
    const ac = new AbortController();
    const running = w.weft.withContext({ signal: ac.signal }, () => w.executors.inlineExecutor.run({ kind: "call", entry: entryOf(w.ops.untilAborted), args: [probe] }, here()));
    expect(Atomics.load(probe, w.ops.STARTED)).toBe(1);
    ac.abort();
    await expect(running).rejects.toBeInstanceOf(w.errors.Cancelled);
  });

  it("async hands back its promise first and starts the body after a macrotask hop", async () => {
    const probe = newProbe();
    const ac = new AbortController();
    const running = w.weft.withContext({ signal: ac.signal }, () => w.executors.asyncExecutor.run({ kind: "call", entry: entryOf(w.ops.untilAborted), args: [probe] }, here()));
    expect(Atomics.load(probe, w.ops.STARTED)).toBe(0);
    await untilSet(probe, w.ops.STARTED);
    ac.abort();
    await expect(running).rejects.toBeInstanceOf(w.errors.Cancelled);
  });

  it("async never starts a body cancelled before its hop", async () => {
    const probe = newProbe();
    const ac = new AbortController();
    const running = w.weft.withContext({ signal: ac.signal }, () => w.executors.asyncExecutor.run({ kind: "call", entry: entryOf(w.ops.untilAborted), args: [probe] }, here()));
    ac.abort();
    await expect(running).rejects.toBeInstanceOf(w.errors.Cancelled);
    await new Promise((r) => setImmediate(r));
    expect(Atomics.load(probe, w.ops.STARTED)).toBe(0);
  });

  it("rejects a chain whose wiring reads a later step", async () => {
    const chain = [{ opId: w.ops.inc.descriptor.id, argsFrom: [{ from: "step" as const, index: 0 }] }];
    await expect(w.executors.inlineExecutor.run({ kind: "chain", chain, args: [1] }, here())).rejects.toThrow(
      `fused chain step 0 (${w.ops.inc.descriptor.id}) reads step 0; a step may read only earlier steps`,
    );
  });
});

describe("the process-wide pool", () => {
  // A fresh runtime with a pool of its own: configureWorkers and closeWorkers act on it only.
  freshRuntimeEach(() => new w.runtime.Runtime());

  it("takes its size from configureWorkers, and starts again after closeWorkers", async () => {
    w.pool.configureWorkers({ size: 1 });
    const pool = w.pool.defaultPool();
    expect(pool.size).toBe(1);
    await expect(w.pool.runChunk(w.ops.inc.descriptor.id, [[1], [2]], here())).resolves.toEqual([
      { ok: true, value: 2 },
      { ok: true, value: 3 },
    ]);
    expect(pool.threads).toBe(1);
    await w.pool.closeWorkers();
    expect(pool.started).toBe(false);
    expect(w.pool.defaultPool()).not.toBe(pool);
  });

  it("rejects a size that is not a whole number of threads", () => {
    expect(() => new w.pool.WorkerPool({ size: 0 })).toThrow("WorkerPool: size must be a whole number >= 1, received 0");
  });
});
