/**
 * `npm run bench`: runs every suite, prints a markdown table and writes results.json.
 * `--quick` shortens every suite (used by the test that keeps this script working).
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import path from "node:path";
import type { Metric, Suite } from "./harness.js";

const quick = process.argv.includes("--quick");
const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);

// Microbenchmarks first, on a small heap; the suites that allocate most (workers, the peer
// frameworks) last. A new suite is one more line here.
const suites: Array<[string, () => Promise<{ run: Suite }>]> = [
  ["startup", () => import("./startup.bench.js")],
  ["op-call", () => import("./op-call.bench.js")],
  ["jit", () => import("./jit.bench.js")],
  ["compile", () => import("./compile.bench.js")],
  ["validation", () => import("./validation.bench.js")],
  ["durable", () => import("./durable.bench.js")],
  ["stream", () => import("./stream.bench.js")],
  ["models", () => import("./models.bench.js")],
  ["workers", () => import("./workers.bench.js")],
  ["bullmq", () => import("./bullmq.bench.js")],
  ["peers", () => import("./peers.bench.js")],
];

const metrics: Metric[] = [];
for (const [name, load] of suites) {
  if (only && !only.split(",").includes(name)) continue;
  process.stderr.write(`bench: ${name}...\n`);
  const started = performance.now();
  const { run } = await load();
  metrics.push(...(await run({ quick })));
  process.stderr.write(`bench: ${name} took ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  // Each suite starts from a collected heap, so one suite's garbage is not another's time.
  (globalThis as { gc?: () => void }).gc?.();
}

const machine = `${os.cpus()[0]?.model.trim() ?? "unknown CPU"}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const date = new Date().toISOString().slice(0, 10);
const rows = metrics.map((m) => `| \`${m.name}\` | ${m.value} ${m.unit} | ${m.baseline ?? ""} | ${m.ratio === undefined ? "" : `${m.ratio}×`} |`);
console.log(`Measured ${date} on ${machine}${quick ? " (quick mode)" : ""}\n`);
console.log(["| metric | value | baseline | ratio |", "|---|---|---|---|", ...rows].join("\n"));

if (!quick && !only) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // The compiled file runs from .build/benchmarks; results belong beside the sources.
  const target = path.resolve(here, "../../benchmarks/results.json");
  writeFileSync(target, `${JSON.stringify(metrics, null, 2)}\n`);
  writeFileSync(path.resolve(here, "../../benchmarks/machine.json"), `${JSON.stringify({ machine, date }, null, 2)}\n`);
}
