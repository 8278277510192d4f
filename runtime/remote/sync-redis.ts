/**
 * A synchronous Redis client, for the durable store interface (which is synchronous: a
 * journal append sits on the op-call path). Redis clients are asynchronous, so a helper
 * thread holds an ioredis connection and runs each command; the calling thread blocks on
 * `Atomics.wait` until the reply is posted, then reads it with `receiveMessageOnPort`.
 *
 *   caller thread                          helper thread (ioredis)
 *   post { id, cmds } on the port  ──────> await client.callBuffer(...) for each command
 *   Atomics.wait(flag, 0, seq)             post { id, replies | error } on the port
 *   receiveMessageOnPort(port)    <──────  Atomics.store(flag, seq + 1); Atomics.notify
 *
 * Bulk replies come back as bytes (`Uint8Array`), so binary values round-trip; integers as
 * numbers, arrays as arrays. The helper thread is unref'd: an idle client never keeps the
 * process alive. A command that cannot finish within `timeoutMs` (Redis down longer than
 * that) throws rather than block forever.
 */
import { createRequire } from "node:module";
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import { connectionOptions, type RedisTarget } from "./connection.js";

/** One Redis command: its name and arguments. @example `const c: Command = ["HSET", "k", "f", bytes]` */
export type Command = readonly [name: string, ...args: (string | number | Uint8Array)[]];

/** A reply: bytes for bulk strings, numbers for integers, arrays, or null. */
export type Reply = Uint8Array | number | null | Reply[];

// The helper thread's code: plain CommonJS, evaluated as a string so it runs the same from
// weft's TypeScript sources and from its build. It loads ioredis from the path the caller
// resolved (so the app's copy), and never imports anything else.
const HELPER = `
const { workerData } = require("node:worker_threads");
const { Redis } = require(workerData.ioredis);
const { port, flag, options } = workerData;
const client = new Redis({ ...options, retryStrategy: (n) => Math.min(50 * 2 ** n, 1000) });
client.on("error", () => {});
const wire = (args) => args.map((a) => (a instanceof Uint8Array ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : a));
port.on("message", async ({ seq, cmds, transaction }) => {
  let reply;
  try {
    let replies;
    if (transaction) {
      const multi = client.multi();
      for (const [name, ...args] of cmds) multi.callBuffer(name, ...wire(args));
      const out = await multi.exec();
      replies = out.map(([error, value]) => { if (error) throw error; return value; });
    } else {
      replies = [];
      for (const [name, ...args] of cmds) replies.push(await client.callBuffer(name, ...wire(args)));
    }
    reply = { seq, replies };
  } catch (error) {
    reply = { seq, error: String(error && error.message || error) };
  }
  port.postMessage(reply);
  Atomics.store(flag, 0, seq);
  Atomics.notify(flag, 0);
});
port.on("close", () => client.disconnect());
`;

/**
 * A blocking Redis client.
 *
 * @example
 * ```ts
 * const redis = new SyncRedis("redis://127.0.0.1:6379");
 * redis.call(["SET", "k", "v"]);
 * new TextDecoder().decode(redis.call(["GET", "k"]) as Uint8Array); // "v"
 * redis.close();
 * ```
 */
export class SyncRedis {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private seq = 0;
  private closed = false;

  constructor(
    target: RedisTarget,
    private readonly timeoutMs = 30_000,
  ) {
    const { port1, port2 } = new MessageChannel();
    let ioredis: string;
    try {
      ioredis = createRequire(import.meta.url).resolve("ioredis");
    } catch (error) {
      throw new Error("weft: the Redis store needs the ioredis package (npm install ioredis)", { cause: error });
    }
    const { retryStrategy: _drop, ...options } = connectionOptions(target) as Record<string, unknown>;
    this.worker = new Worker(HELPER, { eval: true, workerData: { ioredis, port: port2, flag: this.flag, options }, transferList: [port2] });
    this.worker.unref();
    this.port = port1;
    this.port.unref();
  }

  /** Runs one command and returns its reply. */
  call(command: Command): Reply {
    return this.run([command], false)[0]!;
  }

  /** Runs commands one after another (one hop), returning every reply. */
  pipeline(commands: readonly Command[]): Reply[] {
    return commands.length === 0 ? [] : this.run(commands, false);
  }

  /** Runs commands as one MULTI/EXEC transaction. */
  transaction(commands: readonly Command[]): Reply[] {
    return commands.length === 0 ? [] : this.run(commands, true);
  }

  private run(cmds: readonly Command[], transaction: boolean): Reply[] {
    if (this.closed) throw new Error("weft: the Redis store was closed");
    const seq = ++this.seq;
    this.port.postMessage({ seq, cmds, transaction });
    // Synchronisation point: the helper stores `seq` after posting the reply.
    const deadline = Date.now() + this.timeoutMs;
    while (Atomics.load(this.flag, 0) < seq) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`weft: Redis did not answer within ${this.timeoutMs} ms (${cmds[0]?.[0]} ...)`);
      Atomics.wait(this.flag, 0, seq - 1, left);
    }
    const message = receiveMessageOnPort(this.port)?.message as { seq: number; replies?: Reply[]; error?: string } | undefined;
    if (!message || message.seq !== seq) throw new Error("weft: the Redis helper thread answered out of order");
    if (message.error !== undefined) throw new Error(`weft: Redis: ${message.error}`);
    return message.replies!;
  }

  /** Closes the connection and the helper thread. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.port.close();
    void this.worker.terminate();
  }
}

const decoder = new TextDecoder();

/** A bulk reply as text (`undefined` for null). @example `text(redis.call(["GET", "k"]))` */
export function text(reply: Reply | undefined): string | undefined {
  if (reply === null || reply === undefined) return undefined;
  if (reply instanceof Uint8Array) return decoder.decode(reply);
  return String(reply);
}
