/**
 * A fresh process that imports weft loads only what every program needs: Effect, piscina,
 * the OpenTelemetry API and node:crypto load when a call first needs them (a retry, a
 * worker pool, a registered tracer provider, a durable run), and so do weft's own heavy
 * parts (runtime/lazy.ts): the jit driver and compiler at the first `jit(...)`, the batch
 * engine at a vmap's first call, stream stages when a stream opens, the provider table
 * (config, credentials, the built-in providers) at the first model call, and the public values
 * of runtime/deferred.ts (the trace view, health checks, the local provider, streams and
 * loaders, the SQLite and Redis stores, the BullMQ executor, the remote worker) at their
 * first call or construction. Importing weft used to cost
 * about 300 ms and 17 MB of heap here, 200 ms and 13 MB of them Effect's barrel. What the
 * import costs in time is measured by benchmarks/startup.bench.ts, never asserted here;
 * this asserts which modules load, in a real `node` process on weft's JavaScript build.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { buildForWorkers } from "./workers/build.js";

const dir = mkdtempSync(path.join(tmpdir(), "weft-startup-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Records every module the process loads (ES modules, CommonJS and builtins), and prints
// the packages and builtins loaded by each stage.
const CHILD = `
import { registerHooks } from "node:module";
const loaded = [];
registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
const stages = {};
const lib = new URL(".", process.argv[2]).href;
const mark = (stage) => {
  const names = new Set();
  for (const url of loaded) {
    const pkg = /\\/node_modules\\/((?:@[^/]+\\/)?[^/.][^/]*)\\//.exec(url);
    if (pkg) names.add(pkg[1]);
    else if (url.startsWith("node:")) names.add(url);
    else if (url.startsWith(lib)) names.add(url.slice(lib.length));
  }
  stages[stage] = [...names].sort();
};
const weft = await import(process.argv[2]);
mark("import");
const fine = weft.op({ name: "fine", retry: { times: 2 } }, async (x) => x + 1);
const plain = weft.op({ name: "plain" }, async (x) => x * 2);
await fine(1);
await plain(2);
mark("first calls");
let failures = 0;
const flaky = weft.op({ name: "flaky", retry: { times: 2, backoff: { initial: "1ms", jitter: 0 } } }, async (x) => {
  if (failures++ === 0) throw Object.assign(new Error("connection reset"), { code: "ECONNRESET" });
  return x;
});
if ((await flaky(3)) !== 3 || failures !== 2) throw new Error("flaky was not retried once");
mark("retry");
const twice = weft.jit(async (x) => plain(await plain(x)));
if ((await twice(1)) !== 4) throw new Error("the jitted function is wrong");
mark("jit");
if ((await weft.vmap(plain)([1, 2])).join() !== "2,4") throw new Error("the vmap is wrong");
if ((await weft.data.stream([1, 2, 3]).map((x) => x + 1).collect()).join() !== "2,3,4") throw new Error("the stream is wrong");
mark("vmap and stream");
await weft.models("local:chat", "hello");
mark("model call");
weft.traceRecorder();
weft.renderWaterfall([]);
mark("trace");
weft.registerHealthCheck("startup", () => "ok")();
mark("health");
const store = new weft.SqliteStore(process.argv[3]);
store.close();
mark("sqlite store");
new weft.RedisStore();
mark("redis store");
new weft.BullMQExecutor();
mark("bullmq executor");
await weft.startWorker({ startup: true }).then(() => { throw new Error("startWorker took an unknown option"); }, () => undefined);
mark("remote worker");
process.stdout.write(JSON.stringify(stages));
`;

type Stage = "import" | "first calls" | "retry" | "jit" | "vmap and stream" | "model call" | "trace" | "health" | "sqlite store" | "redis store" | "bullmq executor" | "remote worker";

// Each deferred part of weft (runtime/deferred.ts, runtime/lazy.ts): the stage of CHILD
// whose use loads it, and the files it loads then and not before.
const DEFERRED: ReadonlyArray<readonly [Stage, readonly string[]]> = [
  ["jit", ["runtime/jit.js", "runtime/stage.js", "compiler/trace.js", "compiler/ir.js", "compiler/plan.js", "runtime/run-plan.js"]],
  ["vmap and stream", ["runtime/batch.js", "runtime/stream/index.js", "runtime/stream/stream.js", "runtime/stream/loaders.js", "runtime/stream/stages.js"]],
  ["model call", ["runtime/models/registry.js", "runtime/models/local.js"]],
  ["trace", ["runtime/trace/recorder.js", "runtime/trace/view.js"]],
  ["health", ["runtime/health.js"]],
  ["sqlite store", ["runtime/durable/sqlite.js", "runtime/durable/nodelog.js"]],
  ["redis store", ["runtime/durable/redis.js"]],
  ["bullmq executor", ["runtime/remote/executor.js"]],
  ["remote worker", ["runtime/remote/start.js", "runtime/remote/worker.js"]],
];
const STAGES: readonly Stage[] = ["import", "first calls", "retry", "jit", "vmap and stream", "model call", "trace", "health", "sqlite store", "redis store", "bullmq executor", "remote worker"];
// weft's own files that load on first use, not at import nor at a first op call.
const LAZY = [...DEFERRED.flatMap(([, files]) => files), "compiler/passes/place.js", "runtime/stream/through.js", "runtime/durable/run.js", "runtime/durable/gate.js", "runtime/models/openai.js", "runtime/models/ai-sdk.js"];

it("imports weft without Effect, piscina, the OpenTelemetry API, node:crypto or its own heavy parts, and loads each at its first use", () => {
  const lib = buildForWorkers().url("lib/index.js");
  const script = path.join(dir, "child.mjs");
  writeFileSync(script, CHILD);
  const out = execFileSync(process.execPath, [script, lib, path.join(dir, "startup.db")], { encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" }, stdio: ["ignore", "pipe", "ignore"] });
  const stages = JSON.parse(out) as Record<Stage, string[]>;
  const deferred = ["effect", "piscina", "@opentelemetry/api", "node:crypto", "node:sqlite"];
  for (const name of deferred) expect(stages.import, `${name} loads with weft`).not.toContain(name);
  // A call with a retry policy that succeeds at once runs in plain JS.
  for (const name of deferred) expect(stages["first calls"], `${name} loads at a first call`).not.toContain(name);
  expect(stages.retry).toContain("effect");
  for (const name of ["piscina", "@opentelemetry/api", "node:sqlite"]) expect(stages.retry).not.toContain(name);
  expect(stages.import).toContain("decorators/op.js");
  for (const file of LAZY) expect(stages.import, `${file} loads with weft`).not.toContain(file);
  for (const file of LAZY) expect(stages.retry, `${file} loads at a first call`).not.toContain(file);
  // Each part loads when first used, and only then: not in the stage before its use.
  for (const [stage, files] of DEFERRED) {
    const before = STAGES[STAGES.indexOf(stage) - 1]!;
    for (const file of files) {
      expect(stages[before], `${file} loads before ${stage}`).not.toContain(file);
      expect(stages[stage], `${file} does not load at ${stage}`).toContain(file);
    }
  }
}, 60_000);
