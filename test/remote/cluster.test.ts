/**
 * Scale-out, end to end: two (and more) real `weft worker` processes on a private Redis.
 * A jitted plan and a vmap of 1,000 items equal their in-process runs; a worker SIGKILLed
 * mid-job is replaced by another without losing the job; a coordinator SIGKILLed mid-run
 * resumes from the Redis journal without repeating finished jobs; Redis restarting mid-run
 * loses nothing; a poison job lands in dead letters after its attempts.
 *
 * Real processes and timers: the tests assert what ran where and how often, never how long.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisSkip } from "../support/redis.js";
import { disposeClusters, startCluster, type Cluster } from "./cluster.js";

type Client = { get(k: string): Promise<string | null>; set(k: string, v: string): Promise<unknown>; del(k: string): Promise<number>; mget(...k: string[]): Promise<(string | null)[]>; quit(): Promise<unknown> };
let cluster: Cluster;
let remote: ReturnType<Cluster["executor"]>;
let probes: Client;

async function until<T>(read: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const v = await read();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(redisSkip !== undefined)("scale-out across worker processes", () => {
  beforeAll(async () => {
    cluster = await startCluster({ workers: 2, queue: "cluster", concurrency: 16 });
    remote = cluster.executor("cluster");
    const IORedis = createRequire(import.meta.url)("ioredis") as { default: new (url: string) => Client };
    probes = new IORedis.default(cluster.redis.url);
    // Refused connections while Redis restarts are retried; nothing to report.
    (probes as unknown as { on(e: string, f: () => void): void }).on("error", () => undefined);
  }, 60_000);
  afterAll(async () => {
    await probes?.quit();
    await disposeClusters();
  });

  const w = () => cluster.w;
  /** Runs `f` with its op calls placed on the BullMQ executor, as users place a run. */
  const onRemote = <T>(_fns: unknown, f: () => Promise<T>): Promise<T> => w().weft.withContext({ placement: "remote:cluster" }, f);
  const runsOf = async (probe: string, n: number) => (await probes.mget(...Array.from({ length: n }, (_, i) => `${probe}:runs:${i}`))).map(Number);

  it("a jitted plan and a vmap of 1,000 items run across the workers, equal to in-process, with the same op calls", async () => {
    const { jit, vmap, subscribe } = w().weft;
    const { echo, whoRuns } = w().remote;
    const plan = jit(async (x: number) => {
      const a = await echo(x);
      const b = await whoRuns(a);
      return { a, b: b.x, pid: b.pid };
    });
    const items = Array.from({ length: 1000 }, (_, i) => i);
    type Event = { type: string; op?: string };
    const collect = async <T>(f: () => Promise<T>): Promise<{ value: T; calls: string[] }> => {
      const events: Event[] = [];
      const stop = subscribe((e) => void events.push(e as Event));
      try {
        const value = await f();
        return { value, calls: events.filter((e) => e.type === "op:start").map((e) => e.op!).sort() };
      } finally {
        stop();
      }
    };
    const local = await collect(() => vmap(plan, { concurrency: 64 })(items));
    const jobsBefore = remote.jobs;
    const far = await collect(() => onRemote([echo, whoRuns], () => vmap(plan, { concurrency: 64 })(items)));
    const withoutPid = (rs: { a: number; b: number; pid: number }[]) => rs.map(({ pid: _pid, ...r }) => r);
    expect(withoutPid(far.value)).toEqual(withoutPid(local.value));
    expect(far.value[999]).toMatchObject({ a: 999, b: 999 });
    expect(far.calls).toEqual(local.calls);
    // One job per op call, and every body ran in a worker process: both of them, never this one.
    expect(remote.jobs - jobsBefore).toBe(2 * 1000);
    expect(local.value.every((r) => r.pid === process.pid)).toBe(true);
    expect([...new Set(far.value.map((r) => r.pid))].sort()).toEqual(cluster.workers.slice(0, 2).map((p) => p.pid).sort());
  });

  it("a worker SIGKILLed mid-job: the job is run again by another worker (once), with the right result", async () => {
    const probe = `kill:${Math.random()}`;
    const { hangsFirst } = w().remote;
    const running = onRemote([hangsFirst], () => hangsFirst(probe, 7));
    const pid = Number(await until(async () => (await probes.get(`${probe}:started`)) ?? undefined));
    const victim = cluster.workers.find((p) => p.pid === pid)!;
    expect(victim).toBeDefined();
    victim.child.kill("SIGKILL");
    expect(await victim.exited).toBe("SIGKILL");
    await expect(running).resolves.toBe(70);
    // The first run (killed) and exactly one more.
    expect(Number(await probes.get(`${probe}:runs`))).toBe(2);
    // Back to two live workers for the tests after this one.
    cluster.workers.splice(cluster.workers.indexOf(victim), 1);
    await cluster.spawnWorker();
  });

  it("a coordinator SIGKILLed mid-run resumes from the Redis journal without repeating finished jobs", async () => {
    const probe = `coord:${Math.random()}`;
    const n = 80;
    const script = cluster.w.remote.echo.descriptor.locator!.module.replace("remote.js", "coordinator.js").replace("file://", "");
    const start = () => {
      const child = spawn(process.execPath, [script, `run-${probe}`, cluster.queue, new URL("../", cluster.w.remote.echo.descriptor.locator!.module).pathname, probe, String(n), "20"], {
        env: { ...process.env, WEFT_REDIS_URL: cluster.redis.url },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
      return { child, exited: once(child, "exit"), out: () => out };
    };
    // Items from 40 on wait until the hold is lifted, so the kill lands mid-batch however
    // fast the machine is; items 0-39 run (8 at a time) meanwhile.
    await probes.set(`${probe}:hold`, "40");
    const first = start();
    // Kill it once a good part of the batch has run (but not all of it).
    await until(async () => {
      if (first.child.exitCode !== null) throw new Error(`the coordinator exited early:\n${first.out()}`);
      return (await runsOf(probe, n)).filter((r) => r > 0).length >= 20 ? true : undefined;
    });
    first.child.kill("SIGKILL");
    await first.exited;
    const doneBefore = (await runsOf(probe, n)).filter((r) => r > 0).length;
    expect(doneBefore).toBeLessThan(n);
    // The jobs of the killed coordinator still waiting on the workers finish once the hold is
    // lifted; the second coordinator finds them by their ids.
    await probes.del(`${probe}:hold`);
    const second = start();
    const [code] = await second.exited;
    expect(code, second.out()).toBe(0);
    expect(JSON.parse(second.out().trim().split("\n").at(-1)!)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    // Every item ran exactly once across both coordinators: journaled ones were skipped, and
    // the jobs in flight at the kill were found by their ids rather than added again.
    expect(await runsOf(probe, n)).toEqual(Array.from({ length: n }, () => 1));
  });

  it("Redis restarting mid-run: everyone reconnects and nothing is lost", async () => {
    const probe = `restart:${Math.random()}`;
    const { counted } = w().remote;
    const n = 150;
    const running = onRemote([counted], () => w().weft.vmap(counted, { concurrency: 16, inAxes: [null, 0, null] })(probe, Array.from({ length: n }, (_, i) => i), 20));
    await until(async () => ((await runsOf(probe, n)).filter((r) => r > 0).length >= 30 ? true : undefined));
    await cluster.redis.stop();
    await cluster.redis.start();
    await expect(running).resolves.toEqual(Array.from({ length: n }, (_, i) => i + 1));
    const runs = await runsOf(probe, n);
    // Every body ran; a job whose lock lapsed during the restart may have run once more, never more.
    expect(runs.map((r, i) => [i, r]).filter(([, r]) => r! < 1 || r! > 2)).toEqual([]);
  });

  it("a poison job lands in the dead letters after its attempts", async () => {
    const probe = `poison:${Math.random()}`;
    const { poison, echo } = w().remote;
    const store = new (w().weft.RedisStore)({ redis: cluster.redis.url, prefix: `poison-${Math.random()}` });
    try {
      const results = await onRemote([poison, echo], () =>
        w().weft.durable({ run: "poisoned", store }, () => w().weft.vmap(poison, { onError: "collect", inAxes: [null, 0] })(probe, [1, 2])),
      );
      expect(results.map((r) => r.ok)).toEqual([false, false]);
      // Three attempts each (retry: { times: 2 }), every one a job on some worker.
      expect(Number(await probes.get(`${probe}:runs`))).toBe(6);
      const dead = await store.deadLetters("poisoned");
      expect(dead.map((d) => [d.index, d.attempts, d.errorType])).toEqual([
        [0, 3, "OpError"],
        [1, 3, "OpError"],
      ]);
      expect(dead[0]!.error).toContain("poisoned item 1");
    } finally {
      await store.close();
    }
  });
});
