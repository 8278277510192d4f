/**
 * Start-up: what a fresh process pays to use weft, measured in fresh `node` processes (the
 * median of several), since a warm process hides all of it.
 *
 * - `import_ms`: `await import("weft")`, wall clock; `import_cpu_ms` beside it, as the
 *   process's CPU time, which moves less with the load of a shared machine;
 * - `import_heap_mb`: heap retained by the import (used heap after a full GC, minus before);
 * - `first_call_ms`: then importing a module that defines one validated op (startup.ops.ts,
 *   built by the weft transformer) and its first call: checks built, context, policy path.
 *
 * The child processes import weft's JavaScript build (dist/, `npm run build`) and the ops
 * module compiled by the transformer (.build/benchmarks/, `npm run build:run`); when either
 * is missing (the bench smoke run imports this file from source), it is built first.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { median, round, type Metric } from "./harness.js";

/** What one fresh process measured. */
export interface StartupSample {
  readonly importMs: number;
  readonly importCpuMs: number;
  readonly heapMb: number;
  readonly firstCallMs: number;
}

// Run with `node --expose-gc --input-type=module -e CHILD <weft entry URL> <ops module URL>`.
const CHILD = `
const [entry, ops] = process.argv.slice(1);
gc(); gc();
const heap0 = process.memoryUsage().heapUsed;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await import(entry);
const t1 = performance.now();
const cpu = process.cpuUsage(cpu0);
gc(); gc();
const heap1 = process.memoryUsage().heapUsed;
const t2 = performance.now();
const { triage, TICKET } = await import(ops);
await triage(TICKET);
const t3 = performance.now();
process.stdout.write(JSON.stringify({ importMs: t1 - t0, importCpuMs: (cpu.user + cpu.system) / 1000, heapMb: (heap1 - heap0) / 2 ** 20, firstCallMs: t3 - t2 }));
`;

/** One fresh process importing `entry` (a file URL of weft's index.js), then calling the op in `ops`. */
export function sample(entry: string, ops: string): StartupSample {
  const out = execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", CHILD, entry, ops], { encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } });
  return JSON.parse(out) as StartupSample;
}

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "tsconfig.build.json"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error("startup bench: weft's repository root not found");
    dir = up;
  }
  return dir;
}

/** weft's build and the compiled ops module, built when missing. */
export function startupBuild(): { readonly entry: string; readonly ops: string } {
  const root = repoRoot();
  const entry = path.join(root, "dist/index.js");
  const require = createRequire(path.join(root, "package.json"));
  if (!existsSync(entry)) execFileSync(process.execPath, [require.resolve("ts-patch/bin/tspc"), "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
  let ops = path.join(root, ".build/benchmarks/startup.ops.js");
  if (!existsSync(ops)) ops = compileOps(root, require);
  return { entry: pathToFileURL(entry).href, ops: pathToFileURL(ops).href };
}

/**
 * startup.ops.ts through the weft transformer, into node_modules/.cache/weft-startup, its
 * `weft` import pointed at `entry` (dist/index.js unless given another build). Internal.
 */
export function compileOps(root: string, require: NodeRequire, entry = path.join(root, "dist/index.js"), outDir = path.join(root, "node_modules/.cache/weft-startup")): string {
  const ts = require("typescript") as typeof import("typescript");
  const transformer = require(path.join(root, "dist/transformers/transformer.js")) as { default: (...a: never[]) => unknown };
  const source = path.join(root, "benchmarks/startup.ops.ts");
  const out = path.join(outDir, "startup.ops.js");
  const weftUrl = JSON.stringify(pathToFileURL(entry).href);
  // Reused while it is newer than its source and points at the same build.
  if (existsSync(out) && statSync(out).mtimeMs > statSync(source).mtimeMs && readFileSync(out, "utf8").includes(weftUrl)) return out;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, "package.json"), '{ "type": "module" }\n');
  const program = ts.createProgram({
    rootNames: [source],
    options: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, skipLibCheck: true, types: [], outDir, rootDir: path.dirname(source) },
  });
  const problems: string[] = [];
  const before = (transformer.default as (p: unknown, c: unknown, e: unknown) => never)(program, {}, { ts, addDiagnostic: (d: { messageText: unknown }) => problems.push(String(ts.flattenDiagnosticMessageText(d.messageText as string, "\n"))) });
  program.emit(undefined, (name, text) => name.endsWith(".js") && writeFileSync(name, text.replace(/from "weft"/g, `from ${weftUrl}`)), undefined, false, { before: [before] });
  if (problems.length > 0) throw new Error(`startup bench: the weft transformer reported:\n${problems.join("\n")}`);
  if (!readFileSync(out, "utf8").includes("triage")) throw new Error("startup bench: startup.ops.js was not emitted");
  return out;
}

/**
 * Runs `count` fresh processes and reports the medians.
 *
 * @example
 * ```ts
 * const metrics = await run({ quick: true });
 * console.log(metrics.find((m) => m.name === "import_ms")?.value);
 * ```
 */
export async function run(options: { readonly quick?: boolean } = {}): Promise<Metric[]> {
  const { entry, ops } = startupBuild();
  const count = options.quick ? 3 : 11;
  const samples: StartupSample[] = [];
  for (let i = 0; i < count; i++) samples.push(sample(entry, ops));
  const of = (key: keyof StartupSample) => round(median(samples.map((s) => s[key])));
  const spread = (key: keyof StartupSample) => `${round(Math.min(...samples.map((s) => s[key])))}–${round(Math.max(...samples.map((s) => s[key])))}`;
  const n = `median of ${count} fresh processes`;
  return [
    { name: "import_ms", value: of("importMs"), unit: "ms", baseline: `await import("weft"), wall; ${n}, range ${spread("importMs")}` },
    { name: "import_cpu_ms", value: of("importCpuMs"), unit: "ms (CPU)", baseline: `the same import, CPU time of the process; range ${spread("importCpuMs")}` },
    { name: "import_heap_mb", value: of("heapMb"), unit: "MB", baseline: "heap retained by the import (after a full GC)" },
    { name: "first_call_ms", value: of("firstCallMs"), unit: "ms", baseline: `defining one validated op with a retry policy and its first call, after the import; range ${spread("firstCallMs")}` },
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const m of await run({ quick: process.argv.includes("--quick") })) console.log(`${m.name}: ${m.value} ${m.unit} (${m.baseline})`);
}
