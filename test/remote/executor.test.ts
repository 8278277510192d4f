/**
 * The BullMQ executor against two real `weft worker` processes on a private Redis:
 * results, typed errors, context, cancellation and deadlines reaching a running job,
 * refusals. Real processes, real Redis, real timers (structure asserted, never durations).
 */
import { EventEmitter } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisSkip } from "../support/redis.js";
import { disposeClusters, startCluster, type Cluster } from "./cluster.js";

let cluster: Cluster;
let remote: ReturnType<Cluster["executor"]>;

/** Resolves once Redis holds `key` (an event the body writes, polled). */
async function untilKey(key: string): Promise<string> {
  const { createRequire } = await import("node:module");
  const IORedis = createRequire(import.meta.url)("ioredis") as { default: new (url: string) => { get(k: string): Promise<string | null>; quit(): Promise<unknown> } };
  const client = new IORedis.default(cluster.redis.url);
  try {
    for (;;) {
      const v = await client.get(key);
      if (v !== null) return v;
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    await client.quit();
  }
}

describe.skipIf(redisSkip !== undefined)("the BullMQ executor with two worker processes", () => {
  beforeAll(async () => {
    cluster = await startCluster({ workers: 2, queue: "exec" });
    remote = cluster.executor("exec");
  }, 60_000);
  afterAll(() => disposeClusters());

  const w = () => cluster.w;
  const entryOf = (fn: { descriptor: { id: string } }) => w().registry.lookup(fn.descriptor.id)!;
  const here = () => w().context.currentFrame();
  /** Runs `f` with its op calls placed on the BullMQ executor, as users place a block. */
  const pinned = <T>(_fn: unknown, f: () => Promise<T>): Promise<T> => w().weft.withContext({ placement: "remote:exec" }, f);

  it("runs bodies in the worker processes, both of them, with results in input order", async () => {
    const out = await pinned(w().remote.whoRuns, () => w().weft.vmap(w().remote.whoRuns, { concurrency: 32 })(Array.from({ length: 64 }, (_, i) => i)));
    expect(out.map((r) => r.x)).toEqual(Array.from({ length: 64 }, (_, i) => i));
    const pids = new Set(out.map((r) => r.pid));
    expect(pids.has(process.pid)).toBe(false);
    expect([...pids].sort()).toEqual(cluster.workers.map((p) => p.pid).sort());
  });

  it("runs a fused chain as one job, and a chunk with a result per item", async () => {
    const id = (f: { descriptor: { id: string } }) => f.descriptor.id;
    const before = remote.jobs;
    await expect(remote.run({ kind: "chain", chain: [w().ops.double, w().ops.inc, w().ops.square].map((f) => ({ opId: id(f) })), args: [3] }, here())).resolves.toBe(49);
    expect(remote.jobs - before).toBe(1);
    const results = await remote.runChunk(id(w().ops.fail), [[2], [3], [-1], [4]], here());
    expect(results.map((r) => r.ok)).toEqual([true, false, false, true]);
    const odd = results[1] && !results[1].ok ? results[1].error : undefined;
    expect(odd).toBeInstanceOf(w().errors.OpError);
    expect((odd as Error).cause).toBeInstanceOf(TypeError);
    expect((odd as Error).cause).toMatchObject({ message: "odd: 3", code: "E_ODD" });
  });

  it("values JSON would change arrive as structured clone leaves them; plain ones too", async () => {
    const shared = { n: 1 };
    const awkward = [new Date(0), new Map([[1, { a: 1 }]]), new Set(["x"]), -0, NaN, Infinity, undefined, [1, , 3], { a: shared, b: shared }, 10n, new Uint8Array([1, 2]), { u: undefined }];
    const call = (x: unknown) => remote.run({ kind: "call", entry: entryOf(w().remote.echo), args: [x] }, here());
    for (const value of awkward) {
      const back = await call(value);
      expect(back).toStrictEqual(value);
      expect(Object.is(back, -0)).toBe(Object.is(value, -0));
    }
    const pair = (await call({ a: shared, b: shared })) as { a: object; b: object };
    expect(pair.a).toBe(pair.b);
    const plain = { s: "é\ud800", n: [1, 2.5, -3], nested: { t: true, z: null }, empty: {} };
    await expect(call(plain)).resolves.toStrictEqual(plain);
  });

  it("jobs waiting on one caller signal share one abort listener; its abort rejects them all and removes it", async () => {
    // A queue nobody serves: the jobs wait until the caller gives up.
    const idle = cluster.executor("idle", "nobody-serves");
    const ac = new AbortController();
    await w().weft.withContext({ signal: ac.signal }, async () => {
      const frame = here();
      const before = EventEmitter.getEventListeners(frame.signal, "abort").length;
      const calls = Array.from({ length: 200 }, (_, i) => idle.runChunk(entryOf(w().remote.echo).desc.id, [[i]], frame).catch((e: unknown) => e));
      expect(EventEmitter.getEventListeners(frame.signal, "abort").length - before).toBe(1);
      ac.abort("stop");
      const errors = await Promise.all(calls);
      expect(errors.every((e) => e instanceof w().errors.Cancelled)).toBe(true);
      expect(EventEmitter.getEventListeners(frame.signal, "abort").length).toBe(before);
    });
  });

  it("brings the body's error back with its class and fields, surfaced by the caller's kernel", async () => {
    const error = await pinned(w().ops.fail, () => w().ops.fail(3)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(w().errors.OpError);
    expect(error).toMatchObject({ op: "fail", attempts: 1 });
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect((error as Error).cause).toMatchObject({ code: "E_ODD" });
  });

  it("carries config, tenant, user, values, attempt, step and deadline to the worker", async () => {
    const seen = await w().weft.withContext({ config: { model: "small" }, tenant: "acme", user: "ada", values: { requestId: "r-1" }, timeout: "1h" }, () =>
      pinned(w().ops.probeContext, () => w().ops.probeContext.with({ config: { temperature: 0 } })()),
    );
    expect(seen).toMatchObject({ op: "probeContext", config: { model: "small", temperature: 0 }, tenant: "acme", user: "ada", values: { requestId: "r-1" }, attempt: 1, aborted: false });
    expect(seen.stepId).toMatch(/^probeContext#\d+$/);
    expect(seen.deadline).toBeGreaterThan(Date.now());
  });

  it("a cancel reaches the job running on a worker: its signal fires with Cancelled", async () => {
    const probe = `cancel:${Math.random()}`;
    const ac = new AbortController();
    const running = w().weft.withContext({ signal: ac.signal }, () => pinned(w().remote.waitForAbort, () => w().remote.waitForAbort(probe)));
    const pid = Number(await untilKey(`${probe}:started`));
    expect(cluster.workers.map((p) => p.pid)).toContain(pid);
    ac.abort("user pressed stop");
    await expect(running).rejects.toBeInstanceOf(w().errors.Cancelled);
    expect(await untilKey(`${probe}:sawAbort`)).toBe("Cancelled");
  });

  it("the caller's deadline travels with the job and aborts the remote body (integration, real timers)", async () => {
    const probe = `deadline:${Math.random()}`;
    const error = await pinned(w().remote.waitForAbort, () => w().remote.waitForAbort.with({ timeout: "300ms" })(probe)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(w().errors.DeadlineExceeded);
    expect(error).toMatchObject({ op: "waitForAbort" });
    // Either it started and saw its deadline, or it waited past it and never started.
    const started = await new Promise<boolean>((resolve) => void untilKey(`${probe}:sawAbort`).then(() => resolve(true)));
    expect(started).toBe(true);
  });

  it("refuses at placement what cannot travel, naming why", async () => {
    const closure = w().weft.op(async (x: number) => x + 1);
    await expect(remote.run({ kind: "call", entry: entryOf(closure), args: [1] }, here())).rejects.toMatchObject({
      _tag: "RemoteRefused",
      reason: "cannot-travel",
      message: expect.stringContaining("no module locator"),
    });
    await expect(remote.run({ kind: "call", entry: entryOf(w().remote.echo), args: [() => 1] }, here())).rejects.toMatchObject({
      _tag: "RemoteRefused",
      message: expect.stringContaining("a function at args[0]"),
    });
    // Through placement, as users meet it: the call fails naming the op and the reason; nothing ran.
    const error = await pinned(closure, () => closure(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(w().errors.OpError);
    expect((error as Error).cause).toMatchObject({ _tag: "RemoteRefused", reason: "cannot-travel" });
  });

  it("a worker runs only ops its modules registered: any other is refused, nothing imported", async () => {
    const forged = w().registry.register(
      { ...entryOf(w().remote.echo).desc, id: "forged#echo", name: "forged", locator: { module: new URL("../../lib/runtime/duration.js", w().remote.echo.descriptor.locator!.module).href, export: "toMillis" } },
      async (x: number) => x,
    );
    await expect(remote.run({ kind: "call", entry: forged, args: [1] }, here())).rejects.toMatchObject({ _tag: "RemoteRefused", reason: "not-registered" });
  });

  it("a job carries its frame's context, leaves empty fields out, and is named after its op", async () => {
    // A queue nobody serves, so the job stays to be read.
    const idle = cluster.executor("wire", "wire-idle");
    const { Queue } = await import("bullmq");
    const queue = new Queue("wire-idle", { connection: { url: cluster.redis.url } });
    try {
      const echo = w().remote.echo;
      const sent = w().weft.withContext({ tenant: "acme", config: { model: "small" } }, () => idle.runChunk(echo.descriptor.id, [[7], [8]], here()));
      const failed = sent.catch((e: unknown) => e);
      let jobs: Awaited<ReturnType<typeof queue.getWaiting>> = [];
      while (jobs.length === 0) {
        jobs = await queue.getWaiting();
        if (jobs.length === 0) await new Promise((r) => setTimeout(r, 10));
      }
      expect(jobs.map((j) => j.name)).toEqual(["echo"]);
      expect(Object.keys(jobs[0]!.data).sort()).toEqual(["args", "attempt", "config", "overrides", "stepId", "steps", "tenant", "type", "v"]);
      expect(jobs[0]!.data).toMatchObject({ v: w().protocol.PROTOCOL_VERSION, type: "chunk", steps: ["fixtures/remote.js#echo"], tenant: "acme", overrides: { model: "small" }, args: [[7], [8]] });
      await idle.close();
      expect(await failed).toBeInstanceOf(w().errors.WorkerCrashed);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it("a worker refuses a job of another protocol version, naming both versions", async () => {
    const { Queue, QueueEvents } = await import("bullmq");
    const connection = { url: cluster.redis.url };
    const queue = new Queue("exec", { connection });
    const events = new QueueEvents("exec", { connection });
    try {
      await events.waitUntilReady();
      const old = w().protocol.PROTOCOL_VERSION - 1;
      const job = await queue.add("echo", { v: old, type: "call", steps: [{ op: "fixtures/remote.js#echo" }], op: "echo", stepId: "echo#0", attempt: 1, payload: { json: { args: [1] } } });
      const reply = w().protocol.decodeReply(await job.waitUntilFinished(events));
      expect(reply.type).toBe("error");
      const error = (reply as { error: { message: string; fields: Record<string, unknown> } }).error;
      expect(error.fields).toMatchObject({ _tag: "RemoteRefused", reason: "version" });
      expect(error.message).toContain(`protocol version ${old}, this worker speaks ${w().protocol.PROTOCOL_VERSION}`);
    } finally {
      await events.close();
      await queue.close();
    }
  });

  it("SIGTERM: the worker finishes its running job, takes no new one, and exits 0", async () => {
    const lone = await cluster.spawnWorker(["--queue", "graceful"]);
    cluster.executor("graceful", "graceful");
    const probe = `graceful:${Math.random()}`;
    await w().weft.withContext({ placement: "remote:graceful" }, async () => {
      const running = w().remote.counted(probe, 1, 1500);
      await untilKey(`${probe}:runs:1`);
      lone.child.kill("SIGTERM");
      await expect(running).resolves.toBe(2);
      expect(await lone.exited).toBe(0);
      expect(lone.output()).toMatch(/SIGTERM: finishing 1 running job\(s\)/);
      expect(lone.output()).toMatch(/stopped after 1 job\(s\)/);
      // Nobody serves the queue now: a call waits until its deadline.
      await expect(w().remote.counted.with({ timeout: "300ms" })(probe, 2, 0)).rejects.toBeInstanceOf(w().errors.DeadlineExceeded);
    });
  });

  it("inspect() shows the steps a remote placement sends away", async () => {
    const { jit, withContext } = w().weft;
    const plan = jit(async (x: number) => w().remote.whoRuns(await w().remote.echo(x)));
    const here = await plan.inspect(1);
    expect(here.text).not.toContain("remote:");
    const far = await withContext({ placement: "remote:exec" }, () => plan.inspect(1));
    expect(far.text).toMatch(/echo.*# io remote:exec/);
    expect(far.text).toMatch(/whoRuns.*# io remote:exec/);
    expect(far.mermaid).toContain("echo @remote:exec");
    // And the run goes where inspect() said.
    const out = await withContext({ placement: "remote:exec" }, () => plan(5));
    expect(cluster.workers.map((p) => p.pid)).toContain(out.pid);
  });

  it("inspect() shows a call placed remote with .with({ placement }), and only that call", async () => {
    const { jit } = w().weft;
    const { echo, whoRuns } = w().remote;
    const plan = jit(async (x: number) => whoRuns(await echo.with({ placement: "remote:exec" })(x)));
    const shown = await plan.inspect(1);
    expect(shown.text).toMatch(/echo.*# io remote:exec/);
    expect(shown.text).not.toMatch(/whoRuns.*remote:/);
    expect(shown.mermaid).toContain("echo @remote:exec");
    // The run goes where inspect() said: echo went away (one job), whoRuns ran here.
    const before = remote.jobs;
    const out = await plan(5);
    expect(remote.jobs - before).toBe(1);
    expect(out).toEqual({ x: 5, pid: process.pid });
  });

  it("lists the live workers from their heartbeats", async () => {
    const live = await remote.workers();
    expect(live.map((x) => x.pid).sort()).toEqual(cluster.workers.slice(0, 2).map((p) => p.pid).sort());
    expect(live[0]).toMatchObject({ queue: "exec", concurrency: 4 });
  });
});
