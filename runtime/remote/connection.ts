/**
 * Reaching Redis and BullMQ. Both are optional peer dependencies: they load on first use,
 * so an app that never scales out neither installs nor loads them.
 */
import type * as BullMQ from "bullmq";
import type { Redis } from "ioredis";

/**
 * Where Redis is: a `redis://[user:password@]host:port[/db]` URL, or ioredis options.
 *
 * @example
 * ```ts
 * const redis: RedisTarget = "redis://127.0.0.1:6379";
 * ```
 */
export type RedisTarget = string | { readonly host?: string; readonly port?: number; readonly db?: number; readonly username?: string; readonly password?: string };

let loaded: Promise<typeof BullMQ> | undefined;

/** BullMQ, loaded once. Rejects with install advice when it is missing. */
export function loadBullMQ(): Promise<typeof BullMQ> {
  loaded ??= import("bullmq").catch((error: unknown) => {
    loaded = undefined;
    throw new Error("weft: scaling out needs the bullmq package (npm install bullmq ioredis)", { cause: error });
  });
  return loaded;
}

let ioredis: Promise<{ readonly Redis: typeof Redis }> | undefined;

/**
 * A plain Redis connection (ioredis) for weft's own side channels: cancels, heartbeats,
 * markers, and the Redis store. Same reconnect behaviour as BullMQ's connections; with
 * `commandTimeout`, a command still unanswered after that many ms (Redis away) rejects.
 *
 * @example
 * ```ts
 * const client = await openRedis("redis://127.0.0.1:6379");
 * await client.quit();
 * ```
 */
export async function openRedis(target: RedisTarget, options: { readonly commandTimeout?: number } = {}): Promise<Redis> {
  ioredis ??= (import("ioredis") as Promise<{ readonly Redis: typeof Redis }>).catch((error: unknown) => {
    ioredis = undefined;
    throw new Error("weft: scaling out needs the ioredis package (npm install bullmq ioredis)", { cause: error });
  });
  const { Redis: Client } = await ioredis;
  const client = new Client({ ...(connectionOptions(target) as import("ioredis").RedisOptions), ...options });
  // Connection errors are retried; commands wait for the reconnect.
  client.on("error", () => undefined);
  return client;
}

/**
 * BullMQ connection options for `target`. Commands wait through a Redis restart rather
 * than fail (`maxRetriesPerRequest: null`, as BullMQ requires for workers): the call's
 * deadline, not a retry count, bounds how long a coordinator waits.
 *
 * @example
 * ```ts
 * new Queue("weft", { connection: connectionOptions("redis://127.0.0.1:6379") });
 * ```
 */
export function connectionOptions(target: RedisTarget): BullMQ.ConnectionOptions {
  if (typeof target === "string") {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      throw new TypeError(`weft: redis must be a redis:// URL or connection options, received ${JSON.stringify(target.slice(0, 80))}`);
    }
    if (url.protocol !== "redis:" && url.protocol !== "rediss:") throw new TypeError(`weft: redis URL must start with redis:// or rediss://, received ${url.protocol}//`);
    const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined;
    return {
      host: url.hostname || "127.0.0.1",
      port: url.port ? Number(url.port) : 6379,
      ...(db !== undefined && { db }),
      ...(url.username && { username: decodeURIComponent(url.username) }),
      ...(url.password && { password: decodeURIComponent(url.password) }),
      ...(url.protocol === "rediss:" && { tls: {} }),
      maxRetriesPerRequest: null,
      // A worker reconnects quickly after a Redis restart, but never spins.
      retryStrategy: (times: number) => Math.min(50 * 2 ** times, 1000),
    };
  }
  const allowed = new Set(["host", "port", "db", "username", "password"]);
  for (const key of Object.keys(target)) if (!allowed.has(key)) throw new TypeError(`weft: unknown redis option ${JSON.stringify(key)} (expected host, port, db, username, password)`);
  return { ...target, maxRetriesPerRequest: null, retryStrategy: (times: number) => Math.min(50 * 2 ** times, 1000) };
}

/**
 * `redis://host:port` with any password replaced, for messages and `inspect()`.
 *
 * @example
 * ```ts
 * describeTarget("redis://:hunter2@10.0.0.5:6379"); // "redis://10.0.0.5:6379"
 * ```
 */
export function describeTarget(target: RedisTarget): string {
  const o = connectionOptions(target) as { host: string; port: number; db?: number };
  return `redis://${o.host}:${o.port}${o.db ? `/${o.db}` : ""}`;
}
