/**
 * `weft worker`: serves a BullMQ queue on Redis, running the steps coordinators send
 * (runtime/remote/worker.ts does the work). Runs until SIGTERM or SIGINT: the first finishes
 * the running jobs, takes no new ones and exits 0; a second exits at once (130).
 */
import type { Verb } from "../command.js";
import { CliError, UsageError } from "../command.js";
import type { RemoteWorkerOptions } from "../../runtime/remote/worker.js";

const NUMBERS = {
  concurrency: "concurrency",
  "lock-ms": "lockMs",
  "stalled-ms": "stalledMs",
  "max-stalled": "maxStalledCount",
  "heartbeat-ms": "heartbeatMs",
} as const;

export const worker: Verb = {
  name: "worker",
  summary: "serve a BullMQ queue on Redis, running the steps coordinators send (scale-out)",
  usage: ["--ops <module> [--ops <module> ...] [--queue <name>] [--concurrency <n>] [--redis <url>]"],
  description:
    "Runs only ops that the --ops modules register (your app's compiled .js files), on any number\n" +
    "of machines: start as many as you like against the same Redis and queue. SIGTERM or Ctrl-C\n" +
    "finishes the running jobs and takes no new ones; a second one exits at once.",
  options: {
    ops: { type: "string", multiple: true, value: "<module>", description: "an op module to load (repeatable; a path relative to --root, or a file URL)" },
    queue: { type: "string", value: "<name>", description: "the queue to serve (default: weft)" },
    concurrency: { type: "string", value: "<n>", description: "jobs run at once (default: 8)" },
    redis: { type: "string", value: "<url>", description: "redis://[user:password@]host:port[/db] (default: $WEFT_REDIS_URL, else redis://127.0.0.1:6379)" },
    root: { type: "string", value: "<dir>", description: "the app's root, against which op modules are named (default: the current directory)" },
    "lock-ms": { type: "string", value: "<ms>", description: "a running job's lock, renewed while it runs (default: 30000)" },
    "stalled-ms": { type: "string", value: "<ms>", description: "how often to look for jobs whose worker died (default: 30000)" },
    "max-stalled": { type: "string", value: "<n>", description: "how often such a job is handed on before it fails (default: 1)" },
    "heartbeat-ms": { type: "string", value: "<ms>", description: "heartbeat period (default: 5000)" },
  },
  async run({ values, io }) {
    const ops = (values.ops as readonly string[] | undefined) ?? [];
    if (ops.length === 0) throw new UsageError("name at least one op module to load (--ops dist/ops.js)");
    const options: Record<string, unknown> = { ops, root: (values.root as string | undefined) ?? io.cwd };
    if (values.queue !== undefined) options.queue = values.queue;
    options.redis = (values.redis as string | undefined) ?? io.env.WEFT_REDIS_URL ?? "redis://127.0.0.1:6379";
    for (const [flag, key] of Object.entries(NUMBERS)) {
      const text = values[flag] as string | undefined;
      if (text === undefined) continue;
      const n = Number(text);
      if (text.trim() === "" || !Number.isFinite(n)) throw new UsageError(`--${flag} must be a number, received "${text}"`);
      options[key] = n;
    }
    const { startWorker } = await import("../../runtime/remote/worker.js");
    let served: Awaited<ReturnType<typeof startWorker>>;
    try {
      served = await startWorker(options as unknown as RemoteWorkerOptions);
    } catch (error) {
      if (error instanceof RangeError || error instanceof TypeError) throw new UsageError(error.message.replace(/^weft worker: /, ""));
      throw new CliError(`could not start: ${(error as Error).message}`, "check that Redis is reachable and the --ops modules load with node");
    }
    io.out(`weft worker ${served.id} serving ${served.describe()} with ${served.ops} ops, concurrency ${served.concurrency}`);
    return new Promise<number>((resolve) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          io.err(`weft worker: ${signal} again: exiting without waiting for ${served.running} running job(s)`);
          process.exit(130);
        }
        stopping = true;
        io.out(`weft worker: ${signal}: finishing ${served.running} running job(s), taking no new ones`);
        void served.close().then(() => {
          process.off("SIGTERM", stop);
          process.off("SIGINT", stop);
          io.out(`weft worker: stopped after ${served.processed} job(s)`);
          // Weft holds nothing now; a handle the app's modules opened (a database pool)
          // must not keep a stopped worker alive.
          setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref();
          resolve(0);
        });
      };
      process.on("SIGTERM", stop);
      process.on("SIGINT", stop);
    });
  },
};
