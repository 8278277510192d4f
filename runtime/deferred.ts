/**
 * The public values whose modules load at their first use, not at `import("weft")`: the
 * trace recorder and view, health checks, the local provider, streams and loaders, the
 * SQLite and Redis stores, the BullMQ executor and the remote worker. Each is a thin front
 * over a lazy module (runtime/lazy.ts): a function that forwards its call, or a class
 * (`lazyClass`) that loads its module when first constructed. A program pays for these
 * parts only when it uses them; their behaviour and types are the real modules'.
 *
 * index.ts exports these instead of the modules' own bindings; test/startup.test.ts checks
 * that each module stays unloaded at import and loads at its first use.
 */
import { lazyClass, lazyModule, type LazyModule } from "./lazy.js";
import type * as Recorder from "./trace/recorder.js";
import type * as View from "./trace/view.js";
import type * as Health from "./health.js";
import type * as Local from "./models/local.js";
import type * as Streams from "./stream/index.js";
import type * as Sqlite from "./durable/sqlite.js";
import type * as Redis from "./durable/redis.js";
import type * as Remote from "./remote/executor.js";
import type * as Start from "./remote/start.js";

const recorder = lazyModule<typeof Recorder>("./trace/recorder.js", import.meta.url, () => import("./trace/recorder.js"));
const view = lazyModule<typeof View>("./trace/view.js", import.meta.url, () => import("./trace/view.js"));
const healthChecks = lazyModule<typeof Health>("./health.js", import.meta.url, () => import("./health.js"));
const local = lazyModule<typeof Local>("./models/local.js", import.meta.url, () => import("./models/local.js"));
const streams = lazyModule<typeof Streams>("./stream/index.js", import.meta.url, () => import("./stream/index.js"));
const sqlite = lazyModule<typeof Sqlite>("./durable/sqlite.js", import.meta.url, () => import("./durable/sqlite.js"));
const redis = lazyModule<typeof Redis>("./durable/redis.js", import.meta.url, () => import("./durable/redis.js"));
const remote = lazyModule<typeof Remote>("./remote/executor.js", import.meta.url, () => import("./remote/executor.js"));
const start = lazyModule<typeof Start>("./remote/start.js", import.meta.url, () => import("./remote/start.js"));

/** `get()[key]` as a function that loads its module when called, named as the real one. */
function forward<M, K extends keyof M & string>(get: (() => M) | LazyModule<M>, key: K): M[K] {
  const fn = (...args: unknown[]) => (get()[key] as (...a: unknown[]) => unknown)(...args);
  Object.defineProperty(fn, "name", { value: key });
  return fn as M[K];
}

/** Collects a run's OpenTelemetry spans and draws them as a waterfall (runtime/trace/recorder.ts). */
export const traceRecorder: typeof Recorder.traceRecorder = forward(recorder, "traceRecorder");
/** Draws spans as a terminal waterfall (runtime/trace/view.ts). */
export const renderWaterfall: typeof View.renderWaterfall = forward(view, "renderWaterfall");

/** Runs the registered health checks (runtime/health.ts). */
export const health: typeof Health.health = forward(healthChecks, "health");
/** Adds a health check (runtime/health.ts). */
export const registerHealthCheck: typeof Health.registerHealthCheck = forward(healthChecks, "registerHealthCheck");

/** The offline, deterministic model provider (runtime/models/local.ts). */
export const localProvider: typeof Local.localProvider = forward(local, "localProvider");
/** The local provider's embedding of tokens (runtime/models/local.ts). */
export const hashedEmbedding: typeof Local.hashedEmbedding = forward(local, "hashedEmbedding");

const streamData = () => streams().data;
/** Streams and loaders: `data.stream(source)`, `data.jsonl(path)`, ... (runtime/stream/index.ts). */
export const data: typeof Streams.data = Object.freeze({
  stream: forward(streamData, "stream"),
  jsonl: forward(streamData, "jsonl"),
  csv: forward(streamData, "csv"),
  lines: forward(streamData, "lines"),
  files: forward(streamData, "files"),
  register: forward(streamData, "register"),
  load: forward(streamData, "load"),
  progressBar: forward(streamData, "progressBar"),
});
/** A pull-based stream (runtime/stream/stream.ts). */
export const Stream = lazyClass("Stream", streams, (m) => m.Stream);
export type Stream<T> = Streams.Stream<T>;
/** A file loader (runtime/stream/loaders.ts). */
export const Loader = lazyClass("Loader", streams, (m) => m.Loader);
export type Loader<T> = Streams.Loader<T>;

/** The default durable store, a SQLite file (runtime/durable/sqlite.ts). */
export const SqliteStore = lazyClass("SqliteStore", sqlite, (m) => m.SqliteStore);
export type SqliteStore = Sqlite.SqliteStore;
/** A durable store on Redis (runtime/durable/redis.ts). */
export const RedisStore = lazyClass("RedisStore", redis, (m) => m.RedisStore);
export type RedisStore = Redis.RedisStore;

/** Runs steps as BullMQ jobs on Redis (runtime/remote/executor.ts). */
export const BullMQExecutor = lazyClass("BullMQExecutor", remote, (m) => m.BullMQExecutor);
export type BullMQExecutor = Remote.BullMQExecutor;
/** Starts a remote worker in this process (runtime/remote/start.ts). */
export const startWorker: typeof Start.startWorker = forward(start, "startWorker");
