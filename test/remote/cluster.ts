/**
 * A small cluster for remote tests: one private Redis, the JavaScript build (shared with
 * the worker-thread tests), and `weft worker` processes started from it. A test file
 * starts one cluster and shares it across its tests.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { buildForWorkers } from "../workers/build.js";
import { startRedis, type TestRedis } from "../support/redis.js";

type Modules = {
  weft: typeof import("../../index.js");
  remote: typeof import("../fixtures/workers/remote.js");
  ops: typeof import("../fixtures/workers/ops.js");
  executor: typeof import("../../runtime/remote/executor.js");
  protocol: typeof import("../../runtime/remote/protocol.js");
  executors: typeof import("../../runtime/executors.js");
  context: typeof import("../../runtime/context.js");
  registry: typeof import("../../runtime/registry.js");
  errors: typeof import("../../runtime/errors.js");
};

/** One `weft worker` process. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything it printed. */
  readonly output: () => string;
  /** Resolves with its exit code (or signal). */
  readonly exited: Promise<number | string>;
}

export interface Cluster {
  readonly redis: TestRedis;
  readonly w: Modules;
  readonly workers: WorkerProcess[];
  readonly queue: string;
  /** Starts one more worker serving the cluster's queue. */
  spawnWorker(extra?: readonly string[]): Promise<WorkerProcess>;
  /**
   * A BullMQ executor on the cluster's queue (or another), registered as `name`, so
   * `placement: "remote:NAME"` sends calls to it as users' calls go (closed by `dispose`).
   */
  executor(name: string, queue?: string): InstanceType<Modules["executor"]["BullMQExecutor"]>;
  dispose(): Promise<void>;
}

/**
 * Starts Redis and `workers` worker processes (loading the remote and worker fixtures).
 *
 * @example
 * ```ts
 * const cluster = await startCluster({ workers: 2, queue: "t1" });
 * afterAll(() => cluster.dispose());
 * ```
 */
export async function startCluster(options: { workers: number; queue: string; concurrency?: number }): Promise<Cluster> {
  const redis = await startRedis();
  process.env.WEFT_REDIS_URL = redis.url;
  const build = buildForWorkers();
  const load = <T>(p: string) => build.load<T>(p);
  const [weft, remote, ops, executor, protocol, executors, context, registry, errors] = await Promise.all([
    load<Modules["weft"]>("lib/index.js"),
    load<Modules["remote"]>("fixtures/remote.js"),
    load<Modules["ops"]>("fixtures/ops.js"),
    load<Modules["executor"]>("lib/runtime/remote/executor.js"),
    load<Modules["protocol"]>("lib/runtime/remote/protocol.js"),
    load<Modules["executors"]>("lib/runtime/executors.js"),
    load<Modules["context"]>("lib/runtime/context.js"),
    load<Modules["registry"]>("lib/runtime/registry.js"),
    load<Modules["errors"]>("lib/runtime/errors.js"),
  ]);
  const w: Modules = { weft, remote, ops, executor, protocol, executors, context, registry, errors };
  const workers: WorkerProcess[] = [];
  const executorsMade: { close(): Promise<void> }[] = [];
  const unregister: (() => void)[] = [];
  const spawnWorker = async (extra: readonly string[] = []): Promise<WorkerProcess> => {
    const args = [
      build.url("lib/cli/main.js").replace("file://", ""),
      "worker",
      "--ops",
      "fixtures/remote.js",
      "--ops",
      "fixtures/ops.js",
      "--root",
      build.root,
      "--queue",
      options.queue,
      "--concurrency",
      String(options.concurrency ?? 4),
      "--lock-ms",
      "2000",
      "--stalled-ms",
      "300",
      "--heartbeat-ms",
      "500",
      ...extra,
    ];
    const child = spawn(process.execPath, args, { env: { ...process.env, WEFT_REDIS_URL: redis.url }, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout!.on("data", (d: Buffer) => (text += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (text += d.toString()));
    const exited = once(child, "exit").then(([code, signal]) => (code ?? signal) as number | string);
    // Serving once it printed its start-up line.
    while (!text.includes("serving")) {
      const r = await Promise.race([once(child.stdout!, "data"), exited.then((c) => ({ exit: c }))]);
      if (r && typeof r === "object" && "exit" in r) throw new Error(`weft worker exited (${r.exit}) before serving:\n${text}`);
    }
    const proc: WorkerProcess = { child, pid: child.pid!, output: () => text, exited };
    workers.push(proc);
    return proc;
  };
  for (let i = 0; i < options.workers; i++) await spawnWorker();
  return {
    redis,
    w,
    workers,
    queue: options.queue,
    spawnWorker,
    executor(name, queue = options.queue) {
      const ex = new executor.BullMQExecutor({ redis: redis.url, queue, root: build.root });
      executorsMade.push(ex);
      unregister.push(weft.registerExecutor(name, ex));
      return ex;
    },
    async dispose() {
      for (const off of unregister) off();
      for (const ex of executorsMade) await ex.close();
      for (const p of workers) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
      await Promise.all(workers.map((p) => p.exited));
      await remote.closeProbes();
      await redis.dispose();
    },
  };
}
