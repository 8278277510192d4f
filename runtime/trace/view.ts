/**
 * A trace people can read in a terminal: a recorded run's spans as a waterfall, one line
 * per span in call-tree order, with its start offset, duration, a bar on a shared time axis
 * (so parallel calls show as overlapping bars), and what weft knows about it: attempts,
 * failed attempts with their error and the delay before the next, cache hits, tokens and
 * cost. Pure: plain span records in, text out. `traceRecorder()` (recorder.ts) collects the
 * records from OpenTelemetry; `weft trace <file>` prints a saved one.
 */

/** One span of a recorded trace, as plain data (what `weft trace` reads back). */
export interface TraceSpan {
  readonly id: string;
  /** The parent span's id; absent (or not among the spans) for a root. */
  readonly parent?: string | undefined;
  readonly name: string;
  /** Start and end, in milliseconds since the epoch (fractional). */
  readonly startMs: number;
  readonly endMs: number;
  readonly status: "ok" | "error" | "unset";
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly events: readonly TraceEvent[];
}

/** An event on a span (a failed attempt, the exception). */
export interface TraceEvent {
  readonly name: string;
  readonly timeMs: number;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** A saved trace: what `traceRecorder().toJSON()` returns and `weft trace` reads. */
export interface RecordedTrace {
  readonly format: typeof TRACE_FORMAT;
  readonly spans: readonly TraceSpan[];
}

/** The `format` tag of a saved trace. */
export const TRACE_FORMAT = "weft.trace/1";

/** How `renderWaterfall` lays out its lines. */
export interface WaterfallOptions {
  /** Width of the time bars, in characters (default 32). */
  readonly barWidth?: number;
  /** Longest name column, in characters (default 44); longer names are cut with `…`. */
  readonly nameWidth?: number;
  /** ANSI colours (failures red, cache hits dim); default false. */
  readonly color?: boolean;
}

interface Node {
  readonly span: TraceSpan;
  readonly children: Node[];
}

/**
 * The waterfall of `spans`, as lines of text (a trailing newline on each).
 *
 * @example
 * ```ts
 * import { renderWaterfall } from "weft";
 * process.stdout.write(renderWaterfall([
 *   { id: "a", name: "pipeline", startMs: 0, endMs: 40, status: "ok", attributes: {}, events: [] },
 *   { id: "b", parent: "a", name: "draft", startMs: 1, endMs: 30, status: "ok", attributes: { "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 30 }, events: [] },
 * ]));
 * ```
 */
export function renderWaterfall(spans: readonly TraceSpan[], options: WaterfallOptions = {}): string {
  if (spans.length === 0) return "(no spans recorded: register a tracer provider before the run, see the README's Telemetry section)\n";
  const barWidth = options.barWidth ?? 32;
  const nameWidth = options.nameWidth ?? 44;
  const paint = options.color ? (code: string, text: string) => `\u001b[${code}m${text}\u001b[0m` : (_: string, text: string) => text;
  const roots = tree(spans);
  const t0 = Math.min(...spans.map((s) => s.startMs));
  const t1 = Math.max(...spans.map((s) => s.endMs));
  const total = Math.max(t1 - t0, 1e-3);
  const lines: string[] = [];
  const totals = { tokensIn: 0, tokensOut: 0, cost: 0, costed: false, failedAttempts: 0, cacheHits: 0, errors: 0 };

  const visit = (node: Node, prefix: string, childPrefix: string): void => {
    const s = node.span;
    const a = s.attributes;
    const label = cut(prefix + s.name, nameWidth).padEnd(nameWidth);
    const from = Math.min(barWidth - 1, Math.floor(((s.startMs - t0) / total) * barWidth));
    const length = Math.max(1, Math.min(barWidth - from, Math.round(((s.endMs - s.startMs) / total) * barWidth)));
    const failed = s.status === "error";
    const cached = a["weft.cache"] === "hit";
    const bar = " ".repeat(from) + paint(failed ? "31" : cached ? "2" : "36", "█".repeat(length)) + " ".repeat(barWidth - from - length);
    const notes: string[] = [];
    const attempts = num(a["weft.attempts"]);
    if (attempts !== undefined && attempts > 1) notes.push(`${attempts} attempts`);
    if (cached) notes.push("cache hit");
    const tokensIn = num(a["gen_ai.usage.input_tokens"]);
    const tokensOut = num(a["gen_ai.usage.output_tokens"]);
    if (tokensIn !== undefined || tokensOut !== undefined) {
      notes.push(`${tokensIn ?? 0}+${tokensOut ?? 0} tok`);
      totals.tokensIn += tokensIn ?? 0;
      totals.tokensOut += tokensOut ?? 0;
    }
    const cost = num(a["weft.usage.cost_usd"]);
    if (cost !== undefined) {
      notes.push(`$${cost.toFixed(6)}`);
      totals.cost += cost;
      totals.costed = true;
    }
    if (cached) totals.cacheHits++;
    if (failed) {
      totals.errors++;
      notes.push(paint("31", `✗ ${String(a["weft.outcome"] ?? "error")}`));
    }
    lines.push(`${ms(s.startMs - t0).padStart(9)} ${ms(s.endMs - s.startMs).padStart(9)}  ${label} ${bar}  ${notes.join(" · ")}`.trimEnd());
    const detail = childPrefix + (node.children.length > 0 ? "│  " : "   ");
    for (const e of s.events) {
      if (e.name !== "weft.attempt.failed") continue;
      totals.failedAttempts++;
      const delay = num(e.attributes["weft.retry.delay_ms"]);
      const why = `${String(e.attributes["exception.type"] ?? "Error")}: ${String(e.attributes["exception.message"] ?? "")}`;
      const then = delay === undefined ? "not retried" : `retried after ${ms(delay)}`;
      lines.push(`${" ".repeat(20)}  ${cut(`${detail}↻ attempt ${String(e.attributes["weft.attempt"] ?? "?")} failed at +${ms(e.timeMs - s.startMs)}: ${why}; ${then}`, nameWidth + barWidth + 40)}`);
    }
    node.children.forEach((child, i) => {
      const last = i === node.children.length - 1;
      visit(child, childPrefix + (last ? "└─ " : "├─ "), childPrefix + (last ? "   " : "│  "));
    });
  };

  lines.push(`${"start".padStart(9)} ${"duration".padStart(9)}  ${"span".padEnd(nameWidth)} ${`0 → ${ms(total)}`.padEnd(barWidth)}  notes`);
  for (const root of roots) visit(root, "", "");
  const summary = [`${spans.length} spans in ${ms(total)}`];
  if (totals.failedAttempts > 0) summary.push(`${totals.failedAttempts} failed attempts retried or reported`);
  if (totals.errors > 0) summary.push(`${totals.errors} spans failed`);
  if (totals.cacheHits > 0) summary.push(`${totals.cacheHits} cache hits`);
  if (totals.tokensIn + totals.tokensOut > 0) summary.push(`${totals.tokensIn} input + ${totals.tokensOut} output tokens`);
  if (totals.costed) summary.push(`$${totals.cost.toFixed(6)}`);
  lines.push(summary.join(" · "));
  return `${lines.join("\n")}\n`;
}

/** Spans as call trees, children in start order; a span whose parent is missing is a root. */
function tree(spans: readonly TraceSpan[]): Node[] {
  const nodes = new Map<string, Node>();
  for (const span of spans) nodes.set(span.id, { span, children: [] });
  const roots: Node[] = [];
  for (const node of nodes.values()) {
    const parent = node.span.parent === undefined ? undefined : nodes.get(node.span.parent);
    (parent && parent !== node ? parent.children : roots).push(node);
  }
  const byStart = (a: Node, b: Node) => a.span.startMs - b.span.startMs || a.span.endMs - b.span.endMs;
  for (const node of nodes.values()) node.children.sort(byStart);
  return roots.sort(byStart);
}

function ms(value: number): string {
  if (value >= 10_000) return `${(value / 1000).toFixed(1)} s`;
  if (value >= 100) return `${value.toFixed(0)} ms`;
  if (value >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function cut(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/**
 * Checks that `value` is a saved trace (`traceRecorder().toJSON()`), naming the first thing
 * wrong. Internal: `weft trace` reads files with it.
 */
export function parseRecordedTrace(value: unknown, source: string): RecordedTrace {
  const fail = (why: string): never => {
    throw new TypeError(`${source}: not a weft trace (${why}); save one with traceRecorder().toJSON()`);
  };
  if (typeof value !== "object" || value === null) return fail("expected an object");
  const v = value as { format?: unknown; spans?: unknown };
  if (v.format !== TRACE_FORMAT) return fail(`format is ${JSON.stringify(v.format)}, expected "${TRACE_FORMAT}"`);
  if (!Array.isArray(v.spans)) return fail("spans is not an array");
  v.spans.forEach((s: unknown, i) => {
    const span = s as Partial<TraceSpan> | null;
    if (typeof span !== "object" || span === null) return fail(`spans[${i}] is not an object`);
    if (typeof span.id !== "string" || typeof span.name !== "string") return fail(`spans[${i}] has no id or name`);
    if (typeof span.startMs !== "number" || typeof span.endMs !== "number") return fail(`spans[${i}] has no startMs/endMs`);
    if (!Array.isArray(span.events) || typeof span.attributes !== "object" || span.attributes === null) return fail(`spans[${i}] has no attributes or events`);
  });
  return value as RecordedTrace;
}
