/**
 * The README's benchmark chart: weft beside each peer, drawn as an SVG from results.json.
 * Three panels of horizontal bars on log scales: the chain's and the fan-out's CPU overhead
 * per step (`peer_<workload>_<side>_cpu_us`) and the batch's wall time
 * (`peer_batch_<side>_wall_ms`). weft's bars are highlighted; each peer's bar says how many
 * times weft's figure it is. A side results.json lacks (a peer that was skipped) shows as
 * "not measured".
 *
 * The SVG is plain text built here, with no dependencies, and deterministic: the same
 * results give the same bytes, so a test can redraw it and compare with the committed file.
 * It embeds the SHA-256 of the figures it was drawn from.
 */
import { createHash } from "node:crypto";
import type { Metric } from "./harness.js";

/** A side of the comparison: its results.json key and its name on the chart. */
export interface Side {
  readonly id: string;
  readonly label: string;
  /** weft's own sides are highlighted. */
  readonly weft?: boolean;
  /** The floor (no framework): drawn as an outline. */
  readonly floor?: boolean;
}

/** One panel: which metric each side's bar reads, and how it is titled. */
export interface Panel {
  readonly title: string;
  readonly unit: string;
  /** The metric name for a side. */
  readonly metric: (side: string) => string;
  readonly sides: readonly Side[];
  /** The side peers' bars are compared with ("N× weft"). */
  readonly reference: string;
  /** A second figure printed after each bar's value (the batch's CPU time beside its wall time). */
  readonly secondary?: { readonly metric: (side: string) => string; readonly unit: string };
  /** A metric shown under the title as the floor's own figure, when the panel has no floor bar. */
  readonly floorNote?: { readonly metric: string; readonly text: string; readonly unit: string };
}

/** The peers, in chart order, with the names the chart gives them. */
export const PEER_SIDES: readonly Side[] = [
  { id: "effect", label: "Effect" },
  { id: "lcel", label: "LCEL" },
  { id: "langgraph", label: "LangGraph.js" },
  { id: "mastra", label: "Mastra" },
];

/** The three panels of the README chart. */
export const PANELS: readonly Panel[] = [
  {
    title: "10-step chain: CPU overhead per step",
    unit: "µs",
    metric: (side) => `peer_chain_${side}_cpu_us`,
    sides: [{ id: "weft", label: "weft", weft: true }, { id: "weft_jit", label: "weft jit", weft: true }, ...PEER_SIDES],
    reference: "weft",
    floorNote: { metric: "peer_chain_plain_cpu_us", text: "over plain awaits, which take", unit: "µs/step" },
  },
  {
    title: "5-way fan-out + join: CPU overhead per step",
    unit: "µs",
    metric: (side) => `peer_fanout_${side}_cpu_us`,
    sides: [{ id: "weft", label: "weft", weft: true }, { id: "weft_jit", label: "weft jit", weft: true }, ...PEER_SIDES],
    reference: "weft",
    floorNote: { metric: "peer_fanout_plain_cpu_us", text: "over Promise.all of the bodies, which takes", unit: "µs/step" },
  },
  {
    title: "1,000 I/O items, 16 in flight: wall time",
    unit: "ms",
    metric: (side) => `peer_batch_${side}_wall_ms`,
    secondary: { metric: (side) => `peer_batch_${side}_cpu_ms`, unit: "ms CPU" },
    sides: [{ id: "plain", label: "hand-written pool", floor: true }, { id: "weft", label: "weft vmap", weft: true }, ...PEER_SIDES],
    reference: "weft",
  },
];

const WIDTH = 820;
const LABEL_X = 16;
const AXIS_X = 150;
const AXIS_END = 560;
const ROW = 22;
const BAR = 14;
const PANEL_GAP = 26;
const COLORS = { weft: "#2563eb", peer: "#9ca3af", floor: "#ffffff", floorStroke: "#6b7280", text: "#111827", muted: "#6b7280", grid: "#e5e7eb" };

/** Escapes text for SVG content and attributes. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * A figure as the chart prints it: three significant digits, thousands grouped.
 *
 * @example
 * ```ts
 * formatNumber(0.0004567); // "0.000457"
 * formatNumber(12345.6);   // "12,346"
 * ```
 */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1000) return Math.round(value).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  if (value === 0) return "0";
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(value))));
  return Number(value.toFixed(digits)).toString();
}

/** A decade's tick label: 0.01, 0.1, 1, 10, 100, 1k, 10k, 100k, 1M. */
function decadeLabel(exp: number): string {
  if (exp >= 6) return `${10 ** (exp - 6)}M`;
  if (exp >= 3) return `${10 ** (exp - 3)}k`;
  return exp >= 0 ? String(10 ** exp) : (10 ** exp).toFixed(-exp);
}

/** Where the chart reads its figures: a metric's value when it is a finite number. */
function valueOf(byName: ReadonlyMap<string, Metric>, name: string): number | undefined {
  const value = byName.get(name)?.value;
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/**
 * The figures a chart of `panels` reads from `metrics`, by metric name, in a fixed order:
 * what the embedded hash covers.
 */
export function chartFigures(metrics: readonly Metric[], panels: readonly Panel[] = PANELS): Array<[string, number | null]> {
  const byName = new Map(metrics.map((m) => [m.name, m]));
  const names = panels.flatMap((p) => [...p.sides.map((s) => p.metric(s.id)), ...(p.secondary ? p.sides.map((s) => p.secondary!.metric(s.id)) : []), ...(p.floorNote ? [p.floorNote.metric] : [])]);
  return names.map((name) => [name, valueOf(byName, name) ?? null]);
}

function panelSvg(panel: Panel, byName: ReadonlyMap<string, Metric>, top: number): { svg: string[]; height: number } {
  const out: string[] = [];
  const values = panel.sides.map((s) => valueOf(byName, panel.metric(s.id)));
  const positive = values.filter((v): v is number => v !== undefined && v > 0);
  // The axis starts at least a fifth of a decade below the smallest figure, so its bar shows.
  const lo = Math.floor(Math.log10(positive.length > 0 ? Math.min(...positive) : 1) - 0.2);
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(positive.length > 0 ? Math.max(...positive) : 10)));
  const x = (v: number) => AXIS_X + ((Math.log10(v) - lo) / (hi - lo)) * (AXIS_END - AXIS_X);

  out.push(`<text x="${LABEL_X}" y="${top + 14}" font-size="14" font-weight="600" fill="${COLORS.text}">${escapeXml(`${panel.title} (${panel.unit}, log scale)`)}</text>`);
  let y = top + 22;
  if (panel.floorNote) {
    const floor = valueOf(byName, panel.floorNote.metric);
    const text = `${panel.floorNote.text} ${floor === undefined ? "(not measured)" : `${formatNumber(floor)} ${panel.floorNote.unit}`}`;
    out.push(`<text x="${LABEL_X}" y="${y + 10}" font-size="11" fill="${COLORS.muted}">${escapeXml(text)}</text>`);
    y += 16;
  }
  const rowsTop = y + 4;
  const rowsBottom = rowsTop + panel.sides.length * ROW;
  // Decade grid lines and their labels under the rows.
  for (let exp = lo; exp <= hi; exp++) {
    const gx = x(10 ** exp).toFixed(1);
    out.push(`<line x1="${gx}" y1="${rowsTop}" x2="${gx}" y2="${rowsBottom}" stroke="${COLORS.grid}" stroke-width="1"/>`);
    out.push(`<text x="${gx}" y="${rowsBottom + 12}" font-size="10" fill="${COLORS.muted}" text-anchor="middle">${escapeXml(decadeLabel(exp))}</text>`);
  }
  const reference = valueOf(byName, panel.metric(panel.reference));
  panel.sides.forEach((side, i) => {
    const value = values[i];
    const rowY = rowsTop + i * ROW;
    const barY = rowY + (ROW - BAR) / 2;
    const textY = rowY + ROW / 2 + 4;
    out.push(`<text x="${AXIS_X - 8}" y="${textY}" font-size="12" fill="${COLORS.text}" text-anchor="end"${side.weft ? ' font-weight="600"' : ""}>${escapeXml(side.label)}</text>`);
    if (value === undefined) {
      out.push(`<text x="${AXIS_X + 4}" y="${textY}" font-size="11" fill="${COLORS.muted}" font-style="italic">not measured</text>`);
      return;
    }
    if (value <= 0) {
      out.push(`<text x="${AXIS_X + 4}" y="${textY}" font-size="11" fill="${COLORS.muted}">${escapeXml(`${formatNumber(value)} ${panel.unit} (below what this run resolves)`)}</text>`);
      return;
    }
    const end = x(value);
    const fill = side.weft ? COLORS.weft : side.floor ? COLORS.floor : COLORS.peer;
    const stroke = side.floor ? ` stroke="${COLORS.floorStroke}" stroke-width="1"` : "";
    out.push(`<rect class="${side.weft ? "weft" : side.floor ? "floor" : "peer"}" data-side="${escapeXml(side.id)}" data-value="${value}" x="${AXIS_X}" y="${barY}" width="${Math.max(1, end - AXIS_X).toFixed(1)}" height="${BAR}" fill="${fill}"${stroke}/>`);
    let label = `${formatNumber(value)} ${panel.unit}`;
    const second = panel.secondary ? valueOf(byName, panel.secondary.metric(side.id)) : undefined;
    if (second !== undefined) label += `, ${formatNumber(second)} ${panel.secondary!.unit}`;
    if (!side.weft && !side.floor && reference !== undefined && reference > 0) label += `  (${formatNumber(value / reference)}× weft)`;
    out.push(`<text x="${(end + 6).toFixed(1)}" y="${textY}" font-size="11" fill="${COLORS.text}"${side.weft ? ' font-weight="600"' : ""}>${escapeXml(label)}</text>`);
  });
  return { svg: out, height: rowsBottom + 16 - top };
}

/** Where and when the figures were measured. */
export interface ChartMachine {
  readonly machine: string;
  readonly date: string;
}

/**
 * The chart as SVG text, drawn from `metrics` (results.json) and `machine` (machine.json).
 *
 * @example
 * ```ts
 * const svg = renderChart(JSON.parse(readFileSync("benchmarks/results.json", "utf8")), { machine: "AMD EPYC, 2 cores", date: "2026-12-01" });
 * writeFileSync("docs/benchmarks.svg", svg);
 * ```
 */
export function renderChart(metrics: readonly Metric[], machine: ChartMachine, panels: readonly Panel[] = PANELS): string {
  const byName = new Map(metrics.map((m) => [m.name, m]));
  const figures = chartFigures(metrics, panels);
  const hash = createHash("sha256").update(JSON.stringify({ figures, machine: { machine: machine.machine, date: machine.date } })).digest("hex");
  const body: string[] = [];
  let y = 44;
  for (const panel of panels) {
    const { svg, height } = panelSvg(panel, byName, y);
    body.push(...svg);
    y += height + PANEL_GAP;
  }
  const footerY = y - PANEL_GAP + 12;
  const footer = `Measured ${machine.date} on ${machine.machine}. Drawn by npm run bench:readme from benchmarks/results.json.`;
  const height = footerY + 16;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" role="img" aria-labelledby="title">`,
    `<title id="title">weft beside Effect, LCEL, LangGraph.js and Mastra on the same work (lower is better)</title>`,
    `<desc>${escapeXml(JSON.stringify(figures))}</desc>`,
    `<metadata data-results-sha256="${hash}"/>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${LABEL_X}" y="24" font-size="16" font-weight="700" fill="${COLORS.text}">weft beside its peers, same work, same process (lower is better)</text>`,
    ...body,
    `<text x="${LABEL_X}" y="${footerY}" font-size="10" fill="${COLORS.muted}">${escapeXml(footer)}</text>`,
    "</svg>",
    "",
  ].join("\n");
}

/**
 * The SHA-256 a chart embeds, read back from its SVG text (undefined when it has none).
 *
 * @example
 * ```ts
 * embeddedHash(renderChart(metrics, machine)); // "3f1c…" (64 hex digits)
 * ```
 */
export function embeddedHash(svg: string): string | undefined {
  return /data-results-sha256="([0-9a-f]{64})"/.exec(svg)?.[1];
}
