/**
 * Keeps `npm run bench` and `npm run bench:readme` working, without asserting any timing:
 * every suite that benchmarks/run.ts registers is imported through vitest (no build needed)
 * and run in quick mode, and the README-table generator runs on a temp copy of the README.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Metric, Suite } from "../benchmarks/harness.js";
import { END_MARKER, EXPECTED_METRICS, GOALS, PEER_PREFIX, START_MARKER, meetsGoal, renderBenchTable, replaceBetweenMarkers, updateReadme } from "../benchmarks/readme-table.js";

const root = path.resolve(import.meta.dirname, "..");
const benchDir = path.join(root, "benchmarks");

// The suites `npm run bench` runs are the ones run.ts imports: read them from its source
// rather than importing run.ts, which runs every suite at load.
const runSource = readFileSync(path.join(benchDir, "run.ts"), "utf8");
const registered = [...runSource.matchAll(/import\("\.\/([\w.-]+)\.bench\.js"\)/g)].map((m) => `${m[1]}.bench.ts`);
const onDisk = readdirSync(benchDir).filter((f) => f.endsWith(".bench.ts"));

// Names a suite must keep returning: results.json readers (the README table, the issues'
// goals) look them up by name.
const REQUIRED: Record<string, readonly string[]> = {
  "op-call.bench.ts": ["op_call_overhead_us"],
  "jit.bench.ts": ["jit_plan_share"],
  "peers.bench.ts": ["peer_chain_weft_cpu_us", "peer_fanout_weft_cpu_us", "peer_batch_weft_wall_ms", "lcel_step_overhead_ratio", "lcel_batch_wall_ratio", "effect_step_overhead_ratio"],
};

describe("npm run bench: every registered suite runs in quick mode", () => {
  const all: Metric[] = [];

  it("registers suites that exist", () => {
    expect(registered.length).toBeGreaterThan(0);
    for (const file of registered) expect(onDisk, `run.ts imports ./${file.replace(/\.ts$/, ".js")}`).toContain(file);
    // A suite file that run.ts does not import never reaches results.json; say so, without
    // failing a suite that is still being written.
    const unregistered = onDisk.filter((f) => !registered.includes(f));
    if (unregistered.length > 0) console.warn(`benchmarks not registered in run.ts (npm run bench skips them): ${unregistered.join(", ")}`);
  });

  for (const file of registered.filter((f) => onDisk.includes(f))) {
    it(`${file} returns finite, named metrics`, async () => {
      const { run } = (await import(path.join(benchDir, file))) as { run: Suite };
      const metrics = await run({ quick: true });
      expect(metrics.length).toBeGreaterThan(0);
      for (const m of metrics) {
        expect(m.name, "metric names are snake_case keys").toMatch(/^[a-z][a-z0-9_]*$/);
        expect(Number.isFinite(m.value), `${m.name}.value is finite (got ${m.value})`).toBe(true);
        expect(typeof m.unit).toBe("string");
        if (m.ratio !== undefined) expect(Number.isFinite(m.ratio), `${m.name}.ratio is finite (got ${m.ratio})`).toBe(true);
      }
      const names = metrics.map((m) => m.name);
      for (const name of REQUIRED[file] ?? []) expect(names).toContain(name);
      if (file === "peers.bench.ts") {
        // A ratio alone hides whether both sides are fast or both slow: both figures are shown.
        for (const m of metrics.filter((x) => x.name.endsWith("_ratio") || x.name.endsWith("_over_pool"))) {
          expect(m.baseline, m.name).toMatch(/weft [\d.e+-]+ (µs|ms)/);
          expect(m.baseline, m.name).toMatch(/(Effect|LCEL|LangGraph\.js|Mastra|pool) [\d.e+-]+ (µs|ms)/);
          expect(m.ratio).toBe(m.value);
        }
      }
      all.push(...metrics);
    }, 180_000);
  }

  it("gives every metric a distinct name across suites, and the table shows them all", () => {
    const names = all.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    const table = renderBenchTable(all, { machine: "test machine", date: "2026-01-01" });
    // Side-by-side figures are cells of the peers matrix; every other metric is a row.
    for (const name of names.filter((n) => !n.startsWith(PEER_PREFIX))) expect(table).toContain(`| \`${name}\` |`);
    for (const m of all.filter((x) => x.name.startsWith(PEER_PREFIX))) expect(table, m.name).toMatch(new RegExp(`\\| ${String(m.value).replace(".", "\\.")}( \\([-\\d.,]+×\\))? \\|`));
  });
});

describe("the README benchmark table", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "weft-readme-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const paths = { readme: path.join(dir, "README.md"), results: path.join(dir, "results.json"), machine: path.join(dir, "machine.json") };
  const machine = { machine: "Test CPU, 2 cores, 24 GiB, Node v20.20.2", date: "2026-11-23" };
  const metrics = [
    { name: "op_call_overhead_us", value: 0.44, unit: "µs/call", baseline: "await plain async fn", ratio: 3.4 },
    { name: "cpu_vmap_speedup_5ms", value: 1.2, unit: "×", baseline: "eager loop", ratio: 1.2 },
    { name: "trace_compile_ms_1000", value: 10, unit: "ms" },
    { name: "lcel_batch_wall_ratio", value: 50, unit: "× (LCEL ÷ weft)", baseline: "LCEL 200 ms | weft 4 ms", ratio: 50 },
    // JSON writes NaN as null: a broken measurement.
    { name: "validation_speedup_vs_zod", value: null, unit: "×" },
  ];

  function fresh(): { before: string; after: string } {
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    writeFileSync(paths.readme, readme);
    writeFileSync(paths.results, JSON.stringify(metrics));
    writeFileSync(paths.machine, JSON.stringify(machine));
    return { before: readme, after: updateReadme(paths) };
  }

  const rowOf = (text: string, name: string) => text.split("\n").find((l) => l.startsWith(`| \`${name}\` |`));

  it("the real README has exactly one pair of markers, in order", () => {
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    expect(readme.split(START_MARKER)).toHaveLength(2);
    expect(readme.split(END_MARKER)).toHaveLength(2);
    expect(readme.indexOf(START_MARKER)).toBeLessThan(readme.indexOf(END_MARKER));
  });

  it("rewrites only what lies between the markers, and writes the file", () => {
    const { before, after } = fresh();
    expect(readFileSync(paths.readme, "utf8")).toBe(after);
    const head = (s: string) => s.slice(0, s.indexOf(START_MARKER) + START_MARKER.length);
    const tail = (s: string) => s.slice(s.indexOf(END_MARKER));
    expect(head(after)).toBe(head(before));
    expect(tail(after)).toBe(tail(before));
    expect(after).toContain(`Measured ${machine.date} on ${machine.machine}.`);
    expect(after).toContain("| metric | value | baseline | ratio | goal | met |");
  });

  it("marks met goals ✓ and missed or broken ones ✗, and shows goals", () => {
    const { after } = fresh();
    expect(rowOf(after, "op_call_overhead_us")).toBe("| `op_call_overhead_us` | 0.44 µs/call | await plain async fn | 3.4× | ≤ 0.5 µs | ✓ |");
    expect(rowOf(after, "cpu_vmap_speedup_5ms")).toMatch(/\| ≥ 1\.85 \| ✗ \|$/);
    // Exactly at the target meets a ≤ goal.
    expect(rowOf(after, "trace_compile_ms_1000")).toMatch(/\| ≤ 10 ms \| ✓ \|$/);
    expect(rowOf(after, "validation_speedup_vs_zod")).toMatch(/invalid \(null\).*\| ≥ 15 \| ✗ \|$/);
    // No goal: no mark; a `|` in a baseline is escaped so the row keeps its columns.
    expect(rowOf(after, "lcel_batch_wall_ratio")).toBe("| `lcel_batch_wall_ratio` | 50 × (LCEL ÷ weft) | LCEL 200 ms \\| weft 4 ms | 50× |  |  |");
  });

  it("lists every expected metric that results.json lacks as not measured", () => {
    const { after } = fresh();
    const measured = new Set(metrics.map((m) => m.name));
    for (const name of EXPECTED_METRICS.filter((n) => !measured.has(n))) {
      const row = rowOf(after, name);
      expect(row, name).toBeDefined();
      expect(row).toContain("not measured");
      expect(row).toMatch(/— \|$/);
      if (GOALS[name]) expect(row).toContain(GOALS[name]!.target.toString());
    }
    expect(rowOf(after, "plan_node_overhead_us")).toBe("| `plan_node_overhead_us` | not measured | | | ≤ 0.7 µs | — |");
  });

  it("is idempotent", () => {
    const { after } = fresh();
    expect(updateReadme(paths)).toBe(after);
  });

  it("refuses a README without markers, with repeated markers, or with them reversed", () => {
    expect(() => replaceBetweenMarkers("# no table\n", "x")).toThrow(/markers/);
    expect(() => replaceBetweenMarkers(`${START_MARKER}\n${END_MARKER}\n${START_MARKER}\n${END_MARKER}\n`, "x")).toThrow(/more than one/);
    expect(() => replaceBetweenMarkers(`${END_MARKER}\n${START_MARKER}\n`, "x")).toThrow(/before/);
  });

  it("says to run the benchmarks when results.json is missing", () => {
    expect(() => updateReadme({ ...paths, results: path.join(dir, "absent.json") })).toThrow(/npm run bench/);
  });

  it("compares values with goals in both directions", () => {
    expect(meetsGoal(1, { op: "<=", target: 1 })).toBe(true);
    expect(meetsGoal(1.01, { op: "<=", target: 1 })).toBe(false);
    expect(meetsGoal(1.85, { op: ">=", target: 1.85 })).toBe(true);
    expect(meetsGoal(Number.NaN, { op: ">=", target: 0 })).toBe(false);
    expect(meetsGoal(Number.POSITIVE_INFINITY, { op: ">=", target: 0 })).toBe(false);
    expect(meetsGoal(undefined, { op: "<=", target: 1 })).toBe(false);
  });
});
