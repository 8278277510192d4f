/**
 * `npm run bench:readme`: rewrites the benchmark table in README.md from
 * benchmarks/results.json and benchmarks/machine.json (both written by `npm run bench`).
 *
 * The table goes between `<!-- bench:start -->` and `<!-- bench:end -->`; everything else in
 * the README is left byte for byte. Each metric with a goal from the issues gets a ✓ or ✗;
 * the metrics the issues name that results.json lacks (a suite not written yet, or one that
 * stopped reporting a figure) are listed as "not measured", so a gap shows instead of
 * silently shrinking the table.
 *
 * It lives in benchmarks/ because that folder is compiled (with the transformer) into
 * .build/, which is where `npm run bench` runs from.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Metric } from "./harness.js";

/** A target a metric's `value` must meet: at most (`<=`) or at least (`>=`) `target`. */
export interface Goal {
  readonly op: "<=" | ">=";
  readonly target: number;
  /** Shown after the target; the metric's own unit is not always short enough. */
  readonly unit?: string;
}

/** The goals the issues state, compared with each metric's `value`. */
export const GOALS: Readonly<Record<string, Goal>> = {
  op_call_overhead_us: { op: "<=", target: 1, unit: "µs" },
  plan_node_overhead_us: { op: "<=", target: 1, unit: "µs" },
  io_dag_wall_over_critical_path: { op: "<=", target: 1.03 },
  cpu_vmap_speedup_5ms: { op: ">=", target: 1.85 },
  cpu_vmap_speedup_50us: { op: ">=", target: 1.5 },
  fusion_wall_speedup: { op: ">=", target: 3 },
  trace_compile_ms_1000: { op: "<=", target: 20, unit: "ms" },
  validation_speedup_vs_zod: { op: ">=", target: 10 },
};

/** Every metric the issues ask results.json to hold, in the issues' order. */
export const EXPECTED_METRICS: readonly string[] = [
  "op_call_overhead_us",
  "plan_node_overhead_us",
  "io_dag_wall_over_critical_path",
  "io_dag_speedup_vs_eager",
  "cpu_vmap_speedup_5ms",
  "cpu_vmap_speedup_50us",
  "fusion_roundtrip_ratio",
  "fusion_wall_speedup",
  "trace_compile_ms_100",
  "trace_compile_ms_1000",
  "validation_speedup_vs_zod",
  "lcel_sequence_overhead_ratio",
  "lcel_parallel_overhead_ratio",
  "lcel_batch_wall_ratio",
];

/** Where and when results.json was measured (benchmarks/machine.json). */
export interface MachineInfo {
  readonly machine: string;
  readonly date: string;
}

/** The markers the table is written between. */
export const START_MARKER = "<!-- bench:start -->";
export const END_MARKER = "<!-- bench:end -->";

/**
 * Whether `value` meets `goal`. A missing or non-finite value never does: a broken
 * measurement must not pass as a met goal.
 *
 * @example
 * ```ts
 * meetsGoal(0.44, GOALS.op_call_overhead_us!); // true
 * meetsGoal(1.2, { op: ">=", target: 1.5 });   // false
 * ```
 */
export function meetsGoal(value: number | null | undefined, goal: Goal): boolean {
  if (typeof value !== "number" || !Number.isFinite(value)) return false;
  return goal.op === "<=" ? value <= goal.target : value >= goal.target;
}

/**
 * A goal as table text, such as `≤ 1 µs` or `≥ 1.85`.
 *
 * @example
 * ```ts
 * formatGoal({ op: "<=", target: 20, unit: "ms" }); // "≤ 20 ms"
 * ```
 */
export function formatGoal(goal: Goal): string {
  return `${goal.op === "<=" ? "≤" : "≥"} ${goal.target}${goal.unit ? ` ${goal.unit}` : ""}`;
}

// A `|` inside a cell would end it early; newlines would end the row.
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

/**
 * The markdown that goes between the markers: a line naming the machine and date, then
 * one row per measured metric (in results.json order) and one per expected metric that
 * was not measured.
 *
 * @example
 * ```ts
 * const md = renderBenchTable([{ name: "op_call_overhead_us", value: 0.44, unit: "µs/call" }], { machine: "AMD EPYC, 2 cores", date: "2026-11-22" });
 * // "Measured 2026-11-22 on AMD EPYC, 2 cores. ...\n\n| metric | value | ... |\n| `op_call_overhead_us` | 0.44 µs/call | | | ≤ 1 µs | ✓ |\n| `plan_node_overhead_us` | not measured | ..."
 * ```
 */
export function renderBenchTable(metrics: readonly Metric[], machine: MachineInfo, goals: Readonly<Record<string, Goal>> = GOALS, expected: readonly string[] = EXPECTED_METRICS): string {
  const rows: string[] = [];
  const seen = new Set<string>();
  for (const m of metrics) {
    seen.add(m.name);
    const goal = goals[m.name];
    const value = typeof m.value === "number" && Number.isFinite(m.value) ? `${m.value} ${m.unit}` : `invalid (${String(m.value)})`;
    const ratio = typeof m.ratio === "number" ? `${m.ratio}×` : "";
    const met = goal ? (meetsGoal(m.value, goal) ? "✓" : "✗") : "";
    rows.push(`| \`${m.name}\` | ${cell(value)} | ${cell(m.baseline ?? "")} | ${ratio} | ${goal ? formatGoal(goal) : ""} | ${met} |`);
  }
  // Expected first, then any other metric with a goal: a goal never disappears from view.
  const missing = [...new Set([...expected, ...Object.keys(goals)])].filter((name) => !seen.has(name));
  for (const name of missing) {
    const goal = goals[name];
    rows.push(`| \`${name}\` | not measured | | | ${goal ? formatGoal(goal) : ""} | — |`);
  }
  return [
    `Measured ${machine.date} on ${machine.machine}. Generated by \`npm run bench:readme\` from \`benchmarks/results.json\`; ✓/✗ compare each value with the goal its issue sets.`,
    "",
    "| metric | value | baseline | ratio | goal | met |",
    "|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

/**
 * Replaces what lies between the bench markers in `readme` with `content`, keeping the
 * markers and everything outside them. Throws when the markers are missing, repeated or
 * out of order, rather than guessing where the table goes.
 *
 * @example
 * ```ts
 * replaceBetweenMarkers("a\n<!-- bench:start -->\nold\n<!-- bench:end -->\nb", "new");
 * // "a\n<!-- bench:start -->\nnew\n<!-- bench:end -->\nb"
 * ```
 */
export function replaceBetweenMarkers(readme: string, content: string): string {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start < 0 || end < 0) throw new Error(`README has no benchmark table markers: add ${START_MARKER} and ${END_MARKER} around the table`);
  if (readme.indexOf(START_MARKER, start + 1) >= 0 || readme.indexOf(END_MARKER, end + 1) >= 0) throw new Error("README has more than one pair of benchmark table markers");
  if (end < start) throw new Error(`README's ${END_MARKER} comes before ${START_MARKER}`);
  return `${readme.slice(0, start + START_MARKER.length)}\n${content}\n${readme.slice(end)}`;
}

/** The files `updateReadme` reads and writes. */
export interface ReadmePaths {
  readonly results: string;
  readonly machine: string;
  readonly readme: string;
}

function readJson(file: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as unknown;
  } catch (error) {
    throw new Error(`cannot read ${what} at ${file} (run \`npm run bench\` first): ${error instanceof Error ? error.message : String(error)}`);
  }
}

function parseMetrics(data: unknown, file: string): Metric[] {
  if (!Array.isArray(data)) throw new Error(`${file}: expected an array of metrics`);
  return data.map((m: unknown, i) => {
    const metric = m as Partial<Metric> | null;
    // JSON turns NaN and Infinity into null; keep the row so the ✗ shows.
    if (typeof metric?.name !== "string" || typeof metric.unit !== "string") throw new Error(`${file}: entry ${i} needs a string name and unit`);
    return metric as Metric;
  });
}

/**
 * Reads results.json and machine.json and rewrites the README's table in place. Returns
 * the new README text.
 *
 * @example
 * ```ts
 * updateReadme({ results: "benchmarks/results.json", machine: "benchmarks/machine.json", readme: "README.md" });
 * ```
 */
export function updateReadme(paths: ReadmePaths): string {
  const metrics = parseMetrics(readJson(paths.results, "benchmark results"), paths.results);
  const machine = readJson(paths.machine, "the machine description") as Partial<MachineInfo>;
  if (typeof machine.machine !== "string" || typeof machine.date !== "string") throw new Error(`${paths.machine}: expected { machine, date }`);
  const next = replaceBetweenMarkers(readFileSync(paths.readme, "utf8"), renderBenchTable(metrics, { machine: machine.machine, date: machine.date }));
  writeFileSync(paths.readme, next);
  return next;
}

if (process.argv[1]?.endsWith("readme-table.js")) {
  // Compiled to .build/benchmarks/; the files live in the source tree two levels up.
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
  const flag = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const paths: ReadmePaths = {
    results: flag("results") ?? path.join(root, "benchmarks/results.json"),
    machine: flag("machine") ?? path.join(root, "benchmarks/machine.json"),
    readme: flag("readme") ?? path.join(root, "README.md"),
  };
  updateReadme(paths);
  console.log(`bench: table in ${path.relative(process.cwd(), paths.readme) || paths.readme} updated from ${path.relative(process.cwd(), paths.results)}`);
}
