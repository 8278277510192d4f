/**
 * The README's benchmark chart and tables are generated, never hand-edited: the committed
 * docs/benchmarks.svg and the README's table are exactly what `npm run bench:readme` draws
 * from the committed results.json and machine.json, and the chart's drawing is checked on
 * made-up figures (log scale, weft highlighted, gaps shown, text escaped).
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PANELS, chartFigures, embeddedHash, escapeXml, formatNumber, renderChart } from "../benchmarks/chart.js";
import type { Metric } from "../benchmarks/harness.js";
import { CHART_PATH, END_MARKER, START_MARKER, renderBenchTable, renderPeerMatrix } from "../benchmarks/readme-table.js";

const root = path.resolve(import.meta.dirname, "..");
const read = (file: string) => readFileSync(path.join(root, file), "utf8");
const results = JSON.parse(read("benchmarks/results.json")) as Metric[];
const machine = JSON.parse(read("benchmarks/machine.json")) as { machine: string; date: string };

/** The bars of a chart: side, value and width, in drawing order. */
function bars(svg: string): Array<{ cls: string; side: string; value: number; width: number }> {
  return [...svg.matchAll(/<rect class="(\w+)" data-side="([\w]+)" data-value="([^"]+)" x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].map((m) => ({ cls: m[1]!, side: m[2]!, value: Number(m[3]), width: Number(m[4]) }));
}

describe("the committed chart and README table", () => {
  it("docs/benchmarks.svg is what results.json and machine.json draw, byte for byte", () => {
    const committed = read(CHART_PATH);
    expect(committed, `${CHART_PATH} is stale or hand-edited: run npm run bench:readme`).toBe(renderChart(results, machine));
    expect(embeddedHash(committed)).toMatch(/^[0-9a-f]{64}$/);
  });

  it("the README's benchmark section opens with the chart, by a path that exists", () => {
    const readme = read("README.md");
    const section = readme.slice(readme.indexOf("## Benchmarks\n"));
    const firstContent = section.split("\n").slice(1).find((line) => line.trim() !== "");
    // Relative to the repository, or an absolute address ending in the same path.
    expect(firstContent).toMatch(new RegExp(`^!\\[[^\\]]+\\]\\((?:[^)]*/)?${CHART_PATH.replace(".", "\\.")}\\)$`));
    expect(existsSync(path.join(root, CHART_PATH))).toBe(true);
  });

  it("the README's table is what results.json renders", () => {
    const readme = read("README.md");
    const between = readme.slice(readme.indexOf(START_MARKER) + START_MARKER.length, readme.indexOf(END_MARKER));
    expect(between, "the README's benchmark table is stale or hand-edited: run npm run bench:readme").toBe(`\n${renderBenchTable(results, machine)}\n`);
  });
});

describe("renderChart", () => {
  const info = { machine: "Test CPU <2 cores> & co", date: "2026-12-01" };
  const figures: Metric[] = [
    { name: "peer_chain_plain_cpu_us", value: 0.15, unit: "µs" },
    { name: "peer_chain_weft_cpu_us", value: 1, unit: "µs" },
    { name: "peer_chain_weft_jit_cpu_us", value: 2, unit: "µs" },
    { name: "peer_chain_effect_cpu_us", value: 10, unit: "µs" },
    { name: "peer_chain_lcel_cpu_us", value: 100, unit: "µs" },
    { name: "peer_chain_langgraph_cpu_us", value: 1000, unit: "µs" },
    // No Mastra figure in the chain: as if Mastra had been skipped.
    { name: "peer_fanout_weft_cpu_us", value: 2, unit: "µs" },
    { name: "peer_fanout_mastra_cpu_us", value: -0.5, unit: "µs" },
    { name: "peer_batch_plain_wall_ms", value: 1, unit: "ms" },
    { name: "peer_batch_weft_wall_ms", value: 2, unit: "ms" },
    { name: "peer_batch_lcel_wall_ms", value: 200, unit: "ms" },
    { name: "peer_batch_lcel_cpu_ms", value: 40, unit: "ms" },
  ];
  const svg = renderChart(figures, info);
  const drawn = bars(svg);

  it("draws one bar per measured, positive figure, weft's highlighted and the floor outlined", () => {
    expect(drawn.map((b) => `${b.cls}:${b.side}:${b.value}`)).toEqual([
      "weft:weft:1",
      "weft:weft_jit:2",
      "peer:effect:10",
      "peer:lcel:100",
      "peer:langgraph:1000",
      "weft:weft:2",
      "floor:plain:1",
      "weft:weft:2",
      "peer:lcel:200",
    ]);
  });

  it("puts values on a log scale: each tenfold step adds the same length", () => {
    const chain = drawn.slice(0, 5);
    const steps = [chain[2]!.width - chain[0]!.width, chain[3]!.width - chain[2]!.width, chain[4]!.width - chain[3]!.width];
    for (const step of steps) expect(step).toBeCloseTo(steps[0]!, 0);
    expect(steps[0]).toBeGreaterThan(0);
    // 2 is log10(2) ≈ 0.301 of a decade past 1.
    expect((chain[1]!.width - chain[0]!.width) / steps[0]!).toBeCloseTo(Math.log10(2), 1);
  });

  it("labels each peer with its multiple of weft, and shows gaps and unresolved figures as text", () => {
    expect(svg).toContain("1,000 µs  (1,000× weft)");
    // The batch's CPU time is printed beside its wall time, when measured.
    expect(svg).toContain("200 ms, 40 ms CPU  (100× weft)");
    expect(svg).toContain(">2 ms<");
    // Mastra has no chain figure; its fan-out figure is not positive, so no bar on a log scale.
    expect(svg.match(/not measured/g)?.length).toBeGreaterThanOrEqual(1);
    expect(svg).toContain("-0.5 µs (below what this run resolves)");
    expect(svg).toContain("over plain awaits, which take 0.15 µs/step");
    expect(svg).toContain("over Promise.all of the bodies, which takes (not measured)");
  });

  it("escapes text and embeds the hash of exactly the figures it drew", () => {
    expect(svg).toContain("Test CPU &lt;2 cores&gt; &amp; co");
    expect(svg).not.toContain("<2 cores>");
    const other = renderChart(figures.map((m) => (m.name === "peer_chain_lcel_cpu_us" ? { ...m, value: 101 } : m)), info);
    expect(embeddedHash(other)).not.toBe(embeddedHash(svg));
    // A metric the chart does not draw does not change it.
    expect(renderChart([...figures, { name: "op_call_overhead_us", value: 0.5, unit: "µs" }], info)).toBe(svg);
    expect(chartFigures(figures).length).toBe(PANELS.reduce((n, p) => n + p.sides.length * (p.secondary ? 2 : 1) + (p.floorNote ? 1 : 0), 0));
  });

  it("formats figures with three significant digits and grouped thousands", () => {
    expect(formatNumber(0.000456789)).toBe("0.000457");
    expect(formatNumber(1.23456)).toBe("1.23");
    expect(formatNumber(99.96)).toBe("100");
    expect(formatNumber(1620.4)).toBe("1,620");
    expect(formatNumber(1234567)).toBe("1,234,567");
    expect(escapeXml(`a"<b>&`)).toBe("a&quot;&lt;b&gt;&amp;");
  });
});

describe("renderPeerMatrix", () => {
  it("gives a column per side, a peer's multiple of weft in its row, and — for a gap", () => {
    const md = renderPeerMatrix([
      { name: "peer_chain_plain_cpu_us", value: 0.15, unit: "µs" },
      { name: "peer_chain_weft_cpu_us", value: 0.8, unit: "µs" },
      { name: "peer_chain_lcel_cpu_us", value: 68, unit: "µs" },
      { name: "peer_batch_weft_wall_ms", value: 2, unit: "ms" },
    ]);
    const lines = md.split("\n");
    expect(lines[0]).toBe("| work | floor (own cost) | **weft** | **weft jit** | Effect | LCEL | LangGraph.js | Mastra |");
    expect(lines[2]).toBe("| 10-step chain, µs CPU/step over the floor | 0.15 | 0.8 | — | — | 68 (85×) | — | — |");
    // weft jit has no batch of its own: an empty cell, not a gap.
    expect(lines.find((l) => l.startsWith("| 1,000 I/O items at concurrency 16, ms wall"))).toBe("| 1,000 I/O items at concurrency 16, ms wall | — | 2 |  | — | — | — | — |");
  });

  it("is empty without side-by-side figures, and the main table then has no matrix", () => {
    expect(renderPeerMatrix([{ name: "op_call_overhead_us", value: 0.5, unit: "µs" }])).toBe("");
    expect(renderBenchTable([{ name: "op_call_overhead_us", value: 0.5, unit: "µs" }], { machine: "m", date: "d" })).not.toContain("Side by side");
  });
});
