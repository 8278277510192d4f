/**
 * `weft trace <file>`: prints a saved trace (`JSON.stringify(traceRecorder().toJSON())`) as
 * the terminal waterfall the recorder draws: the span tree with start offsets, durations,
 * bars on one time axis, attempts, failed attempts, cache hits, tokens and cost.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { CliError, UsageError, stringOption, type Verb } from "../command.js";
import { parseRecordedTrace, renderWaterfall } from "../../runtime/trace/view.js";

export const trace: Verb = {
  name: "trace",
  summary: "print a saved trace as a waterfall: span tree, timings, attempts, cache hits, tokens, cost",
  usage: ["<file> [--width <n>] [--color]"],
  description:
    "Reads a trace saved with JSON.stringify(traceRecorder().toJSON()) (see the README's Telemetry\n" +
    "section) and prints one line per span in call-tree order; failed attempts follow their span.",
  positionals: { min: 1, max: 1, names: "<file>" },
  options: {
    width: { type: "string", value: "<n>", description: "width of the time bars in characters (default 32)" },
    color: { type: "boolean", description: "colour failures and cache hits (ANSI)" },
  },
  run(input) {
    const file = path.resolve(input.io.cwd, input.positionals[0]!);
    const width = stringOption(input, "width");
    const barWidth = width === undefined ? undefined : Number(width);
    if (barWidth !== undefined && !(Number.isInteger(barWidth) && barWidth >= 8 && barWidth <= 200)) throw new UsageError(`--width must be a whole number from 8 to 200, received ${JSON.stringify(width)}`);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new CliError(`cannot read ${input.positionals[0]}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, "pass the path of a saved trace");
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CliError(`${input.positionals[0]} is not JSON`, "save a trace with JSON.stringify(traceRecorder().toJSON())");
    }
    let saved;
    try {
      saved = parseRecordedTrace(parsed, input.positionals[0]!);
    } catch (error) {
      throw new CliError((error as Error).message);
    }
    input.io.out(renderWaterfall(saved.spans, { barWidth, color: input.values.color === true }).trimEnd());
    return 0;
  },
};
