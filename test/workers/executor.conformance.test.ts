/**
 * One conformance suite, run against every executor: results, errors, cancellation,
 * context and deadlines must not depend on where a body runs. Skips state their reason.
 * The executors are the ones production calls take: the built-in inline and async
 * executors, the process-wide worker executor placement sends calls, chains and chunks to,
 * and a worker executor with a pool of its own. Op calls reach them the way users' calls
 * do: registered by name and chosen by the op's `placement: "remote:NAME"`.
 *
 * The BullMQ executor runs it too, against a private Redis and a `weft worker` process:
 * the cases whose body reports through shared memory (a probe) are skipped there, since
 * shared memory cannot cross processes; test/remote/executor.test.ts runs those cases
 * (cancel and deadline reaching a running body) with probes kept in Redis.
 *
 * Worker tests run weft from its JavaScript build (see build.ts): the first test file to
 * run builds it (about a second when sources changed), and worker threads take a few
 * hundred milliseconds to start.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Executor, FusedChain } from "../../runtime/executors.js";
import { loadWeft, newProbe, untilSet } from "./weft.js";
import { redisSkip } from "../support/redis.js";
import { freshRuntimeAll } from "../support/runtime.js";
import { disposeClusters, startCluster, type Cluster } from "../remote/cluster.js";

type Loaded = Awaited<ReturnType<typeof loadWeft>>;
let w: Loaded;
const executors = new Map<string, Executor>();
let cluster: Cluster | undefined;

beforeAll(async () => {
  w = await loadWeft();
}, 60_000);

// The whole file runs in a runtime of its own: its pool settings and executors leave nothing behind.
freshRuntimeAll(() => new w.runtime.Runtime());

beforeAll(async () => {
  executors.set("inline", w.executors.inlineExecutor);
  executors.set("async", w.executors.asyncExecutor);
  // A generous grace period: a cooperative body must see its abort and stop on its own,
  // however long a loaded machine keeps its thread from a core (pool.test.ts checks the kill).
  w.executors.configureWorkers({ size: 2, graceMs: 10_000 });
  executors.set("worker", w.executors.workerExecutor);
  executors.set("own-pool", new w.executors.WorkerExecutor({ size: 2, graceMs: 10_000 }));
  executors.set("loopback-remote", loopback(w));
  for (const [name, ex] of executors) w.weft.registerExecutor(`conformance-${name}`, ex);
  if (!redisSkip) {
    cluster = await startCluster({ workers: 1, queue: "conformance" });
    executors.set("bullmq", cluster.executor("conformance-bullmq"));
  }
}, 60_000);

afterAll(async () => {
  for (const ex of executors.values()) await ex.close();
  await disposeClusters();
});

/**
 * A remote executor over a loopback wire: each task is encoded as plain data
 * (`encodeTask`/`encodeChunk`), structured-cloned as a process boundary would copy it,
 * served by `serveTask` (the runner a remote engine's worker process uses), and its reply
 * cloned back and read (`readValue`/`readItems`). What a BullMQ executor does, minus Redis.
 */
function loopback(weft: Loaded): Executor {
  const roundTrip = (task: ReturnType<Loaded["serve"]["encodeTask"]>, frame: ReturnType<Loaded["context"]["currentFrame"]>, op: string) => {
    if (frame.signal.aborted) return Promise.reject(weft.context.abortReason(frame.signal, op));
    const cancel = new AbortController();
    const onAbort = () => cancel.abort(frame.signal.reason);
    frame.signal.addEventListener("abort", onAbort, { once: true });
    const served = weft.serve.serveTask(structuredClone(task), { signal: cancel.signal, allow: (module) => module.startsWith("file:") });
    void served.finally(() => frame.signal.removeEventListener("abort", onAbort));
    return weft.context.raceAbort(
      served.then((reply) => structuredClone(reply)),
      frame.signal,
      op,
    );
  };
  return {
    name: "loopback-remote",
    async run(work, frame) {
      const op = work.kind === "call" ? work.entry.desc.name : "chain";
      return weft.serve.readValue(await roundTrip(weft.serve.encodeTask(work, frame), frame, op));
    },
    async runChunk(target, items, frame) {
      return weft.serve.readItems(await roundTrip(weft.serve.encodeChunk(target, items, frame), frame, "chunk"));
    },
    close: async () => {},
  };
}

describe.each(["inline", "async", "worker", "own-pool", "loopback-remote", "bullmq"])("the %s executor", (name) => {
  // Skipped, loudly (test/support/redis.ts), only where no redis-server can be installed.
  if (name === "bullmq" && redisSkip) return void it.skip(`bullmq: ${redisSkip}`, () => undefined);
  const ex = () => executors.get(name)!;
  const entryOf = (fn: { descriptor: { id: string } }) => w.registry.lookup(fn.descriptor.id)!;
  const idOf = (fn: { descriptor: { id: string } }) => fn.descriptor.id;
  const here = () => w.context.currentFrame();
  /**
   * Runs `f` with `fn` pinned to this executor, as `placement: "remote:conformance-NAME"`
   * pins an op (the kernel looks the executor up by name per call), then restores it.
   */
  async function pinned<T>(fn: { descriptor: { id: string } }, f: () => Promise<T>): Promise<T> {
    const entry = entryOf(fn);
    const before = entry.pinned;
    entry.pinned = `remote:conformance-${name}`;
    try {
      return await f();
    } finally {
      entry.pinned = before;
    }
  }
  /**
   * After a deadline: the body either saw its signal fire, or (on a machine too loaded to
   * start it before the deadline) never started. Either way nothing of it is left running.
   */
  async function endedByDeadline(probe: Int32Array): Promise<void> {
    const executor = ex();
    if (executor instanceof w.executors.WorkerExecutor) await executor.pool.idle();
    expect(Atomics.load(probe, w.ops.STARTED) === 0 || Atomics.load(probe, w.ops.SAW_ABORT) === 1).toBe(true);
  }
  // Only a worker runs a synchronous body alongside the main thread: inline (or after a
  // hop) the loop blocks the very timer that would fire its deadline, and nothing can
  // preempt synchronous JavaScript on its own thread.
  const concurrentSync = name === "worker" || name === "own-pool";
  // Probes are shared memory, which cannot reach another process (see the file comment).
  const sharesMemory = name !== "bullmq";

  describe("results", () => {
    it("resolves to the body's value", async () => {
      await expect(ex().run({ kind: "call", entry: entryOf(w.ops.double), args: [21] }, here())).resolves.toBe(42);
    });

    it("runs a fused chain, each step feeding the next", async () => {
      const chain: FusedChain = [w.ops.double, w.ops.inc, w.ops.square].map((f) => ({ opId: idOf(f) }));
      await expect(ex().run({ kind: "chain", chain, args: [3] }, here())).resolves.toBe(49);
    });

    it("wires chain arguments statically: inputs, earlier steps, constants", async () => {
      const chain: FusedChain = [
        { opId: idOf(w.ops.double) },
        { opId: idOf(w.ops.inc) },
        { opId: idOf(w.ops.add), argsFrom: [{ from: "step", index: 0 }, { from: "step", index: 1 }] },
        { opId: idOf(w.ops.add), argsFrom: [{ from: "input", index: 1, path: ["bonus"] }, { from: "const", value: 100 }] },
      ];
      await expect(ex().run({ kind: "chain", chain, args: [5, { bonus: 7 }] }, here())).resolves.toBe(107);
    });

    it("runs a chunk: one result per item, in input order", async () => {
      const results = await ex().runChunk(idOf(w.ops.heavy), [[1], [2], [3]], here());
      const expected = await Promise.all([1, 2, 3].map((n) => w.ops.heavy(n)));
      expect(results).toEqual(expected.map((value) => ({ ok: true, value })));
    });
  });

  describe("errors", () => {
    it("rejects with what the body threw, keeping its class and fields", async () => {
      const error = await ex().run({ kind: "call", entry: entryOf(w.ops.fail), args: [3] }, here()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TypeError);
      expect(error).toMatchObject({ message: "odd: 3", code: "E_ODD" });
    });

    it("surfaces through an op as an OpError naming the op, with the cause's class", async () => {
      const error = await pinned(w.ops.fail, () => w.ops.fail(-2)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(w.errors.OpError);
      expect(error).toMatchObject({ op: "fail", attempts: 1, message: "fail failed after 1 attempt: negative: -2" });
      expect((error as Error).cause).toBeInstanceOf(RangeError);
    });

    it("names the failing step of a chain", async () => {
      const chain: FusedChain = [{ opId: idOf(w.ops.inc) }, { opId: idOf(w.ops.fail) }];
      const error = await ex().run({ kind: "chain", chain, args: [2] }, here()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(w.errors.OpError);
      expect(error).toMatchObject({ op: "fail", message: "fail failed after 1 attempt: odd: 3" });
      expect((error as Error).cause).toBeInstanceOf(TypeError);
    });

    it("keeps every item of a chunk: failures in place, as typed errors", async () => {
      const results = await ex().runChunk(idOf(w.ops.fail), [[2], [3], [-1], [4]], here());
      expect(results.map((r) => r.ok)).toEqual([true, false, false, true]);
      expect(results[0]).toEqual({ ok: true, value: 2 });
      expect(results[3]).toEqual({ ok: true, value: 4 });
      const [odd, negative] = [results[1], results[2]].map((r) => (r && !r.ok ? r.error : undefined));
      expect(odd).toBeInstanceOf(w.errors.OpError);
      expect(odd).toMatchObject({ op: "fail", cause: { message: "odd: 3", code: "E_ODD" } });
      expect((odd as Error).cause).toBeInstanceOf(TypeError);
      expect((negative as Error).cause).toBeInstanceOf(RangeError);
    });

    it("refuses a chain naming an op id that is not registered", async () => {
      await expect(ex().run({ kind: "chain", chain: [{ opId: "file:///nowhere.js#ghost" }], args: [] }, here())).rejects.toThrow(
        "fused chain step 0 names op file:///nowhere.js#ghost, which is not registered",
      );
    });
  });

  describe("context", () => {
    it("shows the body the caller's config, tenant, user and values", async () => {
      const seen = await w.weft.withContext({ config: { model: "small" }, tenant: "acme", user: "ada", values: { requestId: "r-1" } }, () =>
        pinned(w.ops.probeContext, () => w.ops.probeContext.with({ config: { temperature: 0 } })()),
      );
      expect(seen).toMatchObject({
        op: "probeContext",
        config: { model: "small", temperature: 0 },
        tenant: "acme",
        user: "ada",
        values: { requestId: "r-1" },
        attempt: 1,
        aborted: false,
      });
      expect(seen.stepId).toMatch(/^probeContext#\d+$/);
    });

    it.skipIf(!sharesMemory)("shows the attempt number of a retried call", async () => {
      const probe = newProbe();
      const seen = await w.weft.withContext({ tenant: "acme" }, () => pinned(w.ops.flakyProbe, () => w.ops.flakyProbe(probe)));
      expect(seen).toEqual({ attempt: 2, config: {}, tenant: "acme" });
    });

    it("shows the deadline of the call", async () => {
      const seen = await pinned(w.ops.probeContext, () => w.ops.probeContext.with({ timeout: "1h" })());
      expect(seen.deadline).toBeGreaterThan(Date.now());
    });
  });

  describe("cancellation", () => {
    it.skipIf(!sharesMemory)("rejects at once with Cancelled, and the body's signal fires", async () => {
      const probe = newProbe();
      const ac = new AbortController();
      const running = w.weft.withContext({ signal: ac.signal }, () => ex().run({ kind: "call", entry: entryOf(w.ops.untilAborted), args: [probe] }, here()));
      await untilSet(probe, w.ops.STARTED);
      ac.abort("user pressed stop");
      await expect(running).rejects.toBeInstanceOf(w.errors.Cancelled);
      await untilSet(probe, w.ops.SAW_ABORT);
    });

    it("never starts a body whose signal already fired", async () => {
      const probe = newProbe();
      const ac = new AbortController();
      ac.abort();
      const running = w.weft.withContext({ signal: ac.signal }, () => ex().run({ kind: "call", entry: entryOf(w.ops.untilAborted), args: [probe] }, here()));
      await expect(running).rejects.toBeInstanceOf(w.errors.Cancelled);
      expect(Atomics.load(probe, w.ops.STARTED)).toBe(0);
    });

    it.skipIf(!sharesMemory)("cancels a chunk as a whole, not item by item", async () => {
      const probe = newProbe();
      const ac = new AbortController();
      const running = w.weft.withContext({ signal: ac.signal }, () => ex().runChunk(idOf(w.ops.untilAborted), [[probe], [probe]], here()));
      await untilSet(probe, w.ops.STARTED);
      ac.abort();
      await expect(running).rejects.toBeInstanceOf(w.errors.Cancelled);
    });
  });

  // Worker threads keep their own clocks, so these deadlines are real timers (integration):
  // they assert what was aborted and which error arrived, never how long it took.
  describe("deadlines (integration, real timers)", () => {
    it.skipIf(!sharesMemory)("rejects with DeadlineExceeded naming the op whose budget ran out, and aborts the body", async () => {
      const probe = newProbe();
      const error = await pinned(w.ops.untilAborted, () => w.ops.untilAborted.with({ timeout: "20ms" })(probe)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(w.errors.DeadlineExceeded);
      expect(error).toMatchObject({ op: "untilAborted", budgetMs: 20 });
      await endedByDeadline(probe);
    });

    it.skipIf(!sharesMemory)("applies a caller's deadline to a direct run", async () => {
      const probe = newProbe();
      const running = w.weft.withContext({ timeout: "20ms" }, () => ex().run({ kind: "call", entry: entryOf(w.ops.untilAborted), args: [probe] }, here()));
      await expect(running).rejects.toMatchObject({ _tag: "DeadlineExceeded", op: "withContext" });
      await endedByDeadline(probe);
    });

    it.skipIf(!concurrentSync)("stops a synchronous body that polls its signal (needs a thread of its own)", async () => {
      const probe = newProbe();
      const error = await pinned(w.ops.pollsSignal, () => w.ops.pollsSignal.with({ timeout: "30ms" })(probe)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(w.errors.DeadlineExceeded);
      await endedByDeadline(probe);
    });
  });

  it("can be used again after close", async () => {
    await ex().close();
    await expect(ex().run({ kind: "call", entry: entryOf(w.ops.inc), args: [1] }, here())).resolves.toBe(2);
  });
});

/**
 * The serving side of a remote executor keeps a timer of its own for the task's deadline
 * (for a caller that is gone). When it fires before the caller's, its error must be the
 * one the caller's kernel would report: the deadline's owner and the owner's whole budget,
 * not what was left when the task arrived. A fake clock makes the serving side's timer the
 * only one: the task is encoded under a 50 ms budget and arrives 30 ms later.
 */
describe("a served task's deadline (fake clock)", () => {
  const thrown = (f: () => unknown): unknown => {
    try {
      f();
    } catch (error) {
      return error;
    }
    throw new Error("expected a throw");
  };

  it("reports the owner's whole budget when the serving side's timer fires first", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    try {
      const entry = w.registry.lookup(w.ops.untilAborted.descriptor.id)!;
      const probe = newProbe();
      const task = w.weft.withContext({ timeout: 50 }, () => w.serve.encodeTask({ kind: "call", entry, args: [probe] }, w.context.currentFrame()));
      await vi.advanceTimersByTimeAsync(30);
      const served = w.serve.serveTask(structuredClone(task), { allow: (module) => module.startsWith("file:") });
      await untilSet(probe, w.ops.STARTED);
      await vi.advanceTimersByTimeAsync(100);
      const reply = await served;
      expect(Atomics.load(probe, w.ops.SAW_ABORT)).toBe(1);
      const error = thrown(() => w.serve.readValue(reply));
      expect(error).toBeInstanceOf(w.errors.DeadlineExceeded);
      expect(error).toMatchObject({ op: "withContext", budgetMs: 50 });
    } finally {
      vi.useRealTimers();
    }
  });

  it("refuses a task that arrives past its deadline, naming the owner's budget, without starting the body", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    try {
      const entry = w.registry.lookup(w.ops.untilAborted.descriptor.id)!;
      const probe = newProbe();
      const encoded = w.weft.withContext({ timeout: 40 }, () => w.serve.encodeTask({ kind: "call", entry, args: [probe] }, w.context.currentFrame()));
      await vi.advanceTimersByTimeAsync(60);
      const reply = await w.serve.serveTask(structuredClone(encoded), { allow: (module) => module.startsWith("file:") });
      const error = thrown(() => w.serve.readValue(reply));
      expect(error).toBeInstanceOf(w.errors.DeadlineExceeded);
      expect(error).toMatchObject({ op: "withContext", budgetMs: 40 });
      expect(Atomics.load(probe, w.ops.STARTED)).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
