/**
 * `weft worker`: parses the command line and runs a remote worker until SIGTERM or SIGINT
 * (the first finishes the running jobs and exits 0; a second exits at once, 130).
 *
 *   weft worker --ops dist/ops.js [--ops dist/more.js] [--queue weft] [--concurrency 8]
 *               [--redis redis://127.0.0.1:6379] [--root .] [--lock-ms 30000]
 *               [--stalled-ms 30000] [--max-stalled 1] [--heartbeat-ms 5000]
 */
import { startWorker, type RemoteWorkerOptions } from "./worker.js";

/** The usage text of `weft worker`. */
export const WORKER_USAGE = `usage: weft worker --ops <module> [--ops <module> ...] [options]

Serves a BullMQ queue on Redis, running the weft jobs coordinators add. Runs only ops that
the --ops modules register (the compiled .js files of your app's ops).

options:
  --ops <module>         an op module to load (repeatable; a path relative to --root, or a file URL)
  --queue <name>         the queue to serve (default weft)
  --concurrency <n>      jobs run at once (default 8)
  --redis <url>          redis://[user:password@]host:port[/db] (default $WEFT_REDIS_URL or redis://127.0.0.1:6379)
  --root <dir>           the app's root, against which op modules are named (default the current directory)
  --lock-ms <ms>         a running job's lock, renewed while it runs (default 30000)
  --stalled-ms <ms>      how often to look for jobs whose worker died (default 30000)
  --max-stalled <n>      how often such a job is handed on before it fails (default 1)
  --heartbeat-ms <ms>    heartbeat period (default 5000)
  -h, --help             this text`;

const NUMBER_FLAGS: Record<string, keyof RemoteWorkerOptions> = {
  "--concurrency": "concurrency",
  "--lock-ms": "lockMs",
  "--stalled-ms": "stalledMs",
  "--max-stalled": "maxStalledCount",
  "--heartbeat-ms": "heartbeatMs",
};
const STRING_FLAGS: Record<string, keyof RemoteWorkerOptions> = { "--queue": "queue", "--redis": "redis", "--root": "root" };

/**
 * The options `argv` asks for; throws a `TypeError` naming a bad or unknown flag.
 *
 * @example
 * ```ts
 * parseWorkerArgs(["--ops", "dist/ops.js", "--concurrency", "4"]); // { ops: ["dist/ops.js"], concurrency: 4 }
 * ```
 */
export function parseWorkerArgs(argv: readonly string[]): RemoteWorkerOptions {
  const out: Record<string, unknown> = { ops: [] as string[] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const flag = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith("--") && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith("--"))) throw new TypeError(`weft worker: ${flag} needs a value`);
      return v;
    };
    if (flag === "--ops") (out.ops as string[]).push(value());
    else if (flag in STRING_FLAGS) out[STRING_FLAGS[flag]!] = value();
    else if (flag in NUMBER_FLAGS) {
      const text = value();
      const n = Number(text);
      if (!Number.isFinite(n) || text.trim() === "") throw new TypeError(`weft worker: ${flag} must be a number, received ${JSON.stringify(text)}`);
      out[NUMBER_FLAGS[flag]!] = n;
    } else throw new TypeError(`weft worker: unknown option ${JSON.stringify(arg)}`);
  }
  return out as unknown as RemoteWorkerOptions;
}

/**
 * Runs `weft worker` with `argv` until a signal stops it; resolves to the exit code.
 *
 * @example
 * ```ts
 * process.exitCode = await workerCommand(process.argv.slice(3));
 * ```
 */
export async function workerCommand(argv: readonly string[], io: { out: (line: string) => void; err: (line: string) => void } = { out: (l) => console.log(l), err: (l) => console.error(l) }): Promise<number> {
  if (argv.includes("-h") || argv.includes("--help")) {
    io.out(WORKER_USAGE);
    return 0;
  }
  let options: RemoteWorkerOptions;
  try {
    options = parseWorkerArgs(argv);
    if (options.ops.length === 0) throw new TypeError("weft worker: name at least one op module to load (--ops ./dist/ops.js)");
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${WORKER_USAGE}`);
    return 2;
  }
  let worker: Awaited<ReturnType<typeof startWorker>>;
  try {
    worker = await startWorker(options);
  } catch (error) {
    io.err(`weft worker: could not start: ${(error as Error).message}`);
    return 1;
  }
  io.out(`weft worker ${worker.id} serving ${worker.describe()} with ${worker.ops} ops, concurrency ${options.concurrency ?? 8}`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        io.err(`weft worker: ${signal} again, exiting without waiting for ${worker.running} running job(s)`);
        resolve(130);
        return;
      }
      stopping = true;
      io.out(`weft worker: ${signal}: finishing ${worker.running} running job(s), taking no new ones`);
      void worker.close().then(() => {
        process.off("SIGTERM", stop);
        process.off("SIGINT", stop);
        io.out(`weft worker: stopped after ${worker.processed} job(s)`);
        resolve(0);
      });
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
}
