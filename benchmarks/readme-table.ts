/**
 * `npm run bench:readme`: rewrites the benchmark table in README.md and redraws the chart
 * (docs/benchmarks.svg, see chart.ts) from benchmarks/results.json and
 * benchmarks/machine.json (both written by `npm run bench`). The side-by-side figures of the
 * peers suite (`peer_*`) make one matrix, a column per framework; every other metric is a row.
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
import { PEER_SIDES, formatNumber, renderChart } from "./chart.js";
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
  op_call_overhead_us: { op: "<=", target: 0.5, unit: "µs" },
  op_call_policy_overhead_us: { op: "<=", target: 2, unit: "µs" },
  plan_node_overhead_us: { op: "<=", target: 0.7, unit: "µs" },
  io_dag_wall_over_critical_path: { op: "<=", target: 1.03 },
  cpu_vmap_speedup_5ms: { op: ">=", target: 1.85 },
  cpu_vmap_speedup_50us: { op: ">=", target: 1.5 },
  fusion_wall_speedup: { op: ">=", target: 3 },
  trace_compile_ms_1000: { op: "<=", target: 10, unit: "ms" },
  jit_plan_share: { op: ">=", target: 90, unit: "%" },
  validation_speedup_vs_zod: { op: ">=", target: 15 },
  first_validated_call_ms: { op: "<=", target: 2, unit: "ms" },
  model_call_overhead_us: { op: "<=", target: 50, unit: "µs" },
  durable_node_overhead_us: { op: "<=", target: 50, unit: "µs" },
  stream_overhead_vs_effect: { op: "<=", target: 1 },
  import_ms: { op: "<=", target: 100, unit: "ms" },
  import_heap_mb: { op: "<=", target: 15, unit: "MB" },
  first_call_ms: { op: "<=", target: 5, unit: "ms" },
  bullmq_throughput_ratio: { op: ">=", target: 0.8 },
};

/** Every metric the issues ask results.json to hold, in the issues' order. */
export const EXPECTED_METRICS: readonly string[] = [
  "import_ms",
  "import_heap_mb",
  "first_call_ms",
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
  "jit_plan_share",
  "validation_speedup_vs_zod",
  "validation_speedup_vs_typia",
  "first_validated_call_ms",
  "validation_invalid_us",
  "stream_overhead_ns_per_item",
  "stream_overhead_vs_effect",
  ...PEER_SIDES.flatMap((p) => [`${p.id}_step_overhead_ratio`, `${p.id}_fanout_overhead_ratio`, `${p.id}_batch_wall_ratio`]),
  "weft_batch_wall_over_pool",
  "bullmq_throughput_ratio",
  "bullmq_step_latency_us",
];

/** Where and when results.json was measured (benchmarks/machine.json). */
export interface MachineInfo {
  readonly machine: string;
  readonly date: string;
}

/** The chart's place in the repository, relative to its root; the README links it by this path. */
export const CHART_PATH = "docs/benchmarks.svg";

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

/** The prefix of the side-by-side figures: shown in the peers matrix, not as rows of the main table. */
export const PEER_PREFIX = "peer_";

/** One row of the peers matrix: a workload's figure and the metric each side reads. */
interface MatrixRow {
  readonly work: string;
  readonly metric: (side: string) => string;
  /** Sides with no figure for this workload (weft jit has no batch of its own). */
  readonly without?: readonly string[];
}

const MATRIX_ROWS: readonly MatrixRow[] = [
  { work: "10-step chain, µs CPU/step over the floor", metric: (s) => `peer_chain_${s}_cpu_us` },
  { work: "10-step chain, µs wall/step over the floor", metric: (s) => `peer_chain_${s}_wall_us` },
  { work: "5-way fan-out + join, µs CPU/step over the floor", metric: (s) => `peer_fanout_${s}_cpu_us` },
  { work: "5-way fan-out + join, µs wall/step over the floor", metric: (s) => `peer_fanout_${s}_wall_us` },
  { work: "1,000 I/O items at concurrency 16, ms wall", metric: (s) => `peer_batch_${s}_wall_ms`, without: ["weft_jit"] },
  { work: "1,000 I/O items at concurrency 16, ms CPU", metric: (s) => `peer_batch_${s}_cpu_ms`, without: ["weft_jit"] },
];

const MATRIX_SIDES = [
  { id: "plain", label: "floor (own cost)" },
  { id: "weft", label: "**weft**" },
  { id: "weft_jit", label: "**weft jit**" },
  ...PEER_SIDES,
];

/**
 * The side-by-side figures (`peer_*` metrics) as one table: a row per workload and figure,
 * a column per side; a peer's cell also gives its multiple of weft's figure in that row.
 * The floor's column is its own cost (plain awaits; the hand-written pool), which the other
 * per-step figures are measured over. Empty when results.json has no such figures.
 *
 * @example
 * ```ts
 * renderPeerMatrix([{ name: "peer_chain_weft_cpu_us", value: 0.8, unit: "µs" }, { name: "peer_chain_lcel_cpu_us", value: 68, unit: "µs" }]);
 * // "| work | floor (own cost) | **weft** | ... |\n...| 10-step chain, µs CPU/step over the floor | — | 0.8 | — | — | 68 (85×) | — | — |..."
 * ```
 */
export function renderPeerMatrix(metrics: readonly Metric[]): string {
  const byName = new Map(metrics.filter((m) => m.name.startsWith(PEER_PREFIX)).map((m) => [m.name, m]));
  if (byName.size === 0) return "";
  const num = (name: string) => {
    const v = byName.get(name)?.value;
    return typeof v === "number" && Number.isFinite(v) ? v : undefined;
  };
  const rows = MATRIX_ROWS.map((row) => {
    const weft = num(row.metric("weft"));
    const cells = MATRIX_SIDES.map((side) => {
      if (row.without?.includes(side.id)) return "";
      const v = num(row.metric(side.id));
      if (v === undefined) return "—";
      const peer = side.id !== "plain" && side.id !== "weft" && side.id !== "weft_jit";
      return peer && weft !== undefined && weft > 0 ? `${v} (${formatNumber(v / weft)}×)` : `${v}`;
    });
    return `| ${row.work} | ${cells.join(" | ")} |`;
  });
  return [`| work | ${MATRIX_SIDES.map((s) => s.label).join(" | ")} |`, `|---|${MATRIX_SIDES.map(() => "---:").join("|")}|`, ...rows].join("\n");
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
    if (m.name.startsWith(PEER_PREFIX)) continue;
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
  const matrix = renderPeerMatrix(metrics);
  return [
    `Measured ${machine.date} on ${machine.machine}. Generated by \`npm run bench:readme\` from \`benchmarks/results.json\`; ✓/✗ compare each value with the goal its issue sets.`,
    "",
    ...(matrix ? ["Side by side, same work in one process (the chart above; a peer's × is its multiple of weft's figure in that row):", "", matrix, ""] : []),
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
  /** Where the SVG chart goes; no chart is written without it. */
  readonly chart?: string;
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
 * Reads results.json and machine.json, rewrites the README's table in place and, when
 * `paths.chart` is given, writes the SVG chart there. Returns the new README text.
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
  const info = { machine: machine.machine, date: machine.date };
  const next = replaceBetweenMarkers(readFileSync(paths.readme, "utf8"), renderBenchTable(metrics, info));
  writeFileSync(paths.readme, next);
  if (paths.chart) writeFileSync(paths.chart, renderChart(metrics, info));
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
    chart: flag("chart") ?? path.join(root, CHART_PATH),
  };
  updateReadme(paths);
  console.log(`bench: table in ${path.relative(process.cwd(), paths.readme) || paths.readme} and chart in ${path.relative(process.cwd(), paths.chart!)} updated from ${path.relative(process.cwd(), paths.results)}`);
}
