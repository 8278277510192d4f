/**
 * A small cluster for remote tests: one private Redis, the JavaScript build (shared with
 * the worker-thread tests), and `weft worker` processes started from it. A test file
 * starts one cluster and shares it across its tests, and ends with `disposeClusters()`:
 * that stops every cluster the file started, one still starting too (a `beforeAll` that
 * timed out under load leaves its start running), so no worker or Redis outlives the file.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { buildForWorkers } from "../workers/build.js";
import { kill, track } from "../support/children.js";
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

/** Every cluster started in this file, started or still starting, until disposed. */
const started = new Set<() => Promise<void>>();

/**
 * Stops every cluster this test file started, including one whose start is still running
 * (it then rejects): for `afterAll`, so a start that failed or timed out leaves nothing.
 *
 * @example
 * ```ts
 * afterAll(() => disposeClusters());
 * ```
 */
export async function disposeClusters(): Promise<void> {
  for (const dispose of [...started]) await dispose();
}

/**
 * Starts Redis and `workers` worker processes (loading the remote and worker fixtures;
 * `workerArgs` are added to theirs). If the start fails, or `disposeClusters` stops it
 * midway, whatever it started is stopped before it rejects.
 *
 * @example
 * ```ts
 * const cluster = await startCluster({ workers: 2, queue: "t1" });
 * afterAll(() => disposeClusters());
 * ```
 */
export async function startCluster(options: { workers: number; queue: string; concurrency?: number; workerArgs?: readonly string[] }): Promise<Cluster> {
  let stopped = false;
  let redis: TestRedis | undefined;
  const children: ChildProcess[] = [];
  const closers: (() => Promise<void>)[] = [];
  let onStop: (() => void) | undefined;
  const stopping = new Promise<void>((resolve) => (onStop = resolve));
  let disposing: Promise<void> | undefined;
  const dispose = () => {
    disposing ??= (async () => {
      stopped = true;
      onStop!();
      for (const close of closers.reverse()) await close();
      await Promise.all(children.map((c) => kill(c)));
      await redis?.dispose();
      started.delete(dispose);
    })();
    return disposing;
  };
  started.add(dispose);
  const check = () => {
    if (stopped) throw new Error(`cluster ${options.queue}: stopped while starting`);
  };
  try {
    redis = await startRedis();
    check();
    return await startedCluster(options, redis, children, closers, dispose, check, stopping);
  } catch (error) {
    await dispose();
    throw error;
  }
}

async function startedCluster(
  options: { workers: number; queue: string; concurrency?: number; workerArgs?: readonly string[] },
  redis: TestRedis,
  children: ChildProcess[],
  closers: (() => Promise<void>)[],
  dispose: () => Promise<void>,
  check: () => void,
  stopping: Promise<void>,
): Promise<Cluster> {
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
  check();
  closers.push(() => remote.closeProbes());
  const w: Modules = { weft, remote, ops, executor, protocol, executors, context, registry, errors };
  const workers: WorkerProcess[] = [];
  const spawnWorker = async (extra: readonly string[] = []): Promise<WorkerProcess> => {
    check();
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
      ...(options.workerArgs ?? []),
      ...extra,
    ];
    const child = track(spawn(process.execPath, args, { env: { ...process.env, WEFT_REDIS_URL: redis.url }, stdio: ["ignore", "pipe", "pipe"] }));
    children.push(child);
    let text = "";
    child.stdout!.on("data", (d: Buffer) => (text += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (text += d.toString()));
    const exited = once(child, "exit").then(([code, signal]) => (code ?? signal) as number | string);
    // Serving once it printed its start-up line.
    while (!text.includes("serving")) {
      const r = await Promise.race([once(child.stdout!, "data"), exited.then((c) => ({ exit: c })), stopping.then(() => ({ stopped: true }))]);
      if (r && typeof r === "object" && "exit" in r) throw new Error(`weft worker exited (${r.exit}) before serving:\n${text}`);
      check();
    }
    const proc: WorkerProcess = { child, pid: child.pid!, output: () => text, exited };
    workers.push(proc);
    return proc;
  };
  for (let i = 0; i < options.workers; i++) await spawnWorker();
  const unregister: (() => void)[] = [];
  return {
    redis,
    w,
    workers,
    queue: options.queue,
    spawnWorker,
    executor(name, queue = options.queue) {
      const ex = new executor.BullMQExecutor({ redis: redis.url, queue, root: build.root });
      closers.push(() => ex.close());
      unregister.push(weft.registerExecutor(name, ex));
      return ex;
    },
    dispose: () => {
      for (const off of unregister) off();
      return dispose();
    },
  };
}
