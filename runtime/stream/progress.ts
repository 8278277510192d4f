/**
 * A terminal progress bar for streams: drawn in place on a TTY (one line, redrawn at most
 * every `redrawMs`), plain lines elsewhere (a CI log gets one line every `everyMs` and the
 * last one), so logs stay readable and terminals stay quiet.
 */
import { checkOptions } from "../../decorators/options.js";
import type { StreamProgress } from "./stream.js";

/** Where the bar is written: `process.stderr` by default. */
export interface ProgressOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** `data.progressBar` options. */
export interface ProgressBarOptions {
  /** Printed before the counts. Default `"stream"`. */
  readonly label?: string;
  /** Default `process.stderr`. */
  readonly output?: ProgressOutput;
  /** Least time between two plain lines (not a TTY). Default 1000 ms. */
  readonly everyMs?: number;
  /** Least time between two redraws on a TTY. Default 80 ms. */
  readonly redrawMs?: number;
  /** The clock, for tests. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * An `onProgress` callback that draws a progress bar.
 *
 * @example
 * ```ts
 * import { data } from "weft";
 * await data.stream(data.jsonl("questions.jsonl"), { onProgress: data.progressBar({ label: "questions" }) }).run();
 * ```
 */
export function progressBar(options: ProgressBarOptions = {}): (progress: StreamProgress) => void {
  checkOptions("data.progressBar", "progressBar", options);
  const out: ProgressOutput = options.output ?? process.stderr;
  const label = options.label ?? "stream";
  const now = options.now ?? Date.now;
  const tty = out.isTTY === true;
  const gap = tty ? (options.redrawMs ?? 80) : (options.everyMs ?? 1000);
  let last = -Infinity;
  let width = 0;
  return (p) => {
    const t = now();
    if (!p.done && t - last < gap) return;
    last = t;
    const columns = out.columns ?? 80;
    let line = describe(label, p, tty ? columns : 0);
    if (tty) {
      // Within one row, or the terminal wraps it and `\r` redraws only the last row.
      if (line.length > columns - 1) line = `${line.slice(0, Math.max(1, columns - 2))}…`;
      // Pad over a longer previous line; the last draw ends the line.
      out.write(`\r${line}${" ".repeat(Math.max(0, width - line.length))}${p.done ? "\n" : ""}`);
      width = line.length;
    } else out.write(`${line}\n`);
  };
}

const fmt = new Intl.NumberFormat("en-US");

/** One line of progress: `label [#####-----] 45% 4,500/10,000 · 3 failed · 1,200/s`. */
export function describe(label: string, p: StreamProgress, columns: number): string {
  const read = p.pulled + p.skipped;
  const rate = p.elapsedMs > 0 ? Math.round((p.pulled * 1000) / p.elapsedMs) : 0;
  const parts = [`${fmt.format(p.emitted)} out`];
  if (p.failed > 0) parts.push(`${fmt.format(p.failed)} failed`);
  if (p.dropped > 0) parts.push(`${fmt.format(p.dropped)} dropped`);
  if (p.skipped > 0) parts.push(`${fmt.format(p.skipped)} resumed past`);
  if (p.elapsedMs > 0) parts.push(`${fmt.format(rate)}/s`);
  if (p.done) parts.push("done");
  const tail = parts.join(" · ");
  if (p.total === undefined || p.total === 0) return `${label} ${fmt.format(read)} read · ${tail}`;
  const share = Math.min(1, read / p.total);
  const counts = `${Math.floor(share * 100)}% ${fmt.format(read)}/${fmt.format(p.total)}`;
  const barWidth = columns > 0 ? Math.max(10, Math.min(30, columns - label.length - counts.length - tail.length - 8)) : 20;
  const filled = Math.round(share * barWidth);
  return `${label} [${"#".repeat(filled)}${"-".repeat(barWidth - filled)}] ${counts} · ${tail}`;
}
