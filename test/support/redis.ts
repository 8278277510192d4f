/**
 * A real Redis for tests: Debian's `redis-server`, started on 127.0.0.1 on a free port in
 * a private directory (AOF on, so a restart keeps every write), and stopped after.
 *
 * When no `redis-server` can be found at all the suites that need it are skipped, and say
 * so loudly; `.ci/run` installs the package, so on CI that never happens.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { kill, track } from "./children.js";

/** The redis-server binary, or why there is none. */
export const REDIS_SERVER: { readonly bin: string } | { readonly missing: string } = (() => {
  for (const bin of [process.env.WEFT_REDIS_SERVER, "/usr/bin/redis-server", "redis-server"]) {
    if (!bin) continue;
    const probe = spawnSync(bin, ["--version"], { encoding: "utf8" });
    if (probe.status === 0) return { bin };
  }
  return { missing: "redis-server is not installed (apt-get install redis-server; .ci/run does this on CI)" };
})();

/** Why Redis suites are skipped, or `undefined` when they run. Printed loudly once per file. */
export const redisSkip: string | undefined = "missing" in REDIS_SERVER ? REDIS_SERVER.missing : undefined;
if (redisSkip) console.warn(`\n!!! SKIPPING Redis tests: ${redisSkip} !!!\n`);

/** A running test Redis. */
export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** Stops Redis (SIGTERM: it flushes its append-only file first) and waits for its exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory (after `stop`): the data comes back. */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  dispose(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once Redis answers PING on `port`. */
async function ready(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once("error", () => resolve(false));
      socket.connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
      socket.once("data", (data) => {
        socket.destroy();
        resolve(data.toString().startsWith("+PONG"));
      });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`redis-server did not answer on port ${port}`);
}

/**
 * Starts a private Redis.
 *
 * @example
 * ```ts
 * const redis = await startRedis();
 * afterAll(() => redis.dispose());
 * ```
 */
export async function startRedis(): Promise<TestRedis> {
  if ("missing" in REDIS_SERVER) throw new Error(REDIS_SERVER.missing);
  const bin = REDIS_SERVER.bin;
  const dir = mkdtempSync(path.join(tmpdir(), "weft-redis-"));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    const c = track(
      spawn(bin, ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no", "--loglevel", "warning"], {
        stdio: "ignore",
      }),
    );
    child = c;
    try {
      await ready(port, c);
    } catch (error) {
      // A server that never answered is not left running.
      child = undefined;
      await kill(c);
      throw error;
    }
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (c) await kill(c, "SIGTERM");
  };
  try {
    await start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
