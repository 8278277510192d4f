/**
 * A fresh process that imports weft loads only what every program needs: Effect, piscina,
 * the OpenTelemetry API and node:crypto load when a call first needs them (a retry, a
 * worker pool, a registered tracer provider, a durable run). Importing weft used to cost
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
const mark = (stage) => {
  const names = new Set();
  for (const url of loaded) {
    const pkg = /\\/node_modules\\/((?:@[^/]+\\/)?[^/.][^/]*)\\//.exec(url);
    if (pkg) names.add(pkg[1]);
    else if (url.startsWith("node:")) names.add(url);
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
process.stdout.write(JSON.stringify(stages));
`;

it("imports weft without Effect, piscina, the OpenTelemetry API or node:crypto, and loads Effect at the first retry", () => {
  const lib = buildForWorkers().url("lib/index.js");
  const script = path.join(dir, "child.mjs");
  writeFileSync(script, CHILD);
  const out = execFileSync(process.execPath, [script, lib], { encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" }, stdio: ["ignore", "pipe", "ignore"] });
  const stages = JSON.parse(out) as Record<"import" | "first calls" | "retry", string[]>;
  const deferred = ["effect", "piscina", "@opentelemetry/api", "node:crypto", "node:sqlite"];
  for (const name of deferred) expect(stages.import, `${name} loads with weft`).not.toContain(name);
  // A call with a retry policy that succeeds at once runs in plain JS.
  for (const name of deferred) expect(stages["first calls"], `${name} loads at a first call`).not.toContain(name);
  expect(stages.retry).toContain("effect");
  for (const name of ["piscina", "@opentelemetry/api", "node:sqlite"]) expect(stages.retry).not.toContain(name);
}, 60_000);
