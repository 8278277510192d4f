/**
 * The `weft` command line's one dispatcher: a verb is a plain object (name, summary,
 * options, positionals, run, or subcommands), defined in a file of its own under
 * `cli/verbs/` and listed in `cli/verbs.ts`. The dispatcher parses with Node's
 * `util.parseArgs` (strict: an unknown option is a usage error), prints `--help` from the
 * declaration, and maps outcomes to exit codes:
 *
 *   0  success
 *   1  failure (the verb ran and something is wrong: a failed health check, a missing run)
 *   2  usage error (unknown verb or option, missing or extra arguments, a bad value)
 *
 * Errors go to stderr as one line, `weft <verb>: <what happened>; <what to do>`, through the
 * one redactor, so a credential never reaches a terminal or a CI log.
 */
import { parseArgs } from "node:util";
import { nearestKey } from "../decorators/options.js";
import { ConfigError } from "../runtime/config/config.js";
import { boundedText, messageOf } from "../runtime/redact.js";

/** One option of a verb. Names are long names (`json`, `store`); `short` a single letter. */
export interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: boolean;
  /** The value's placeholder in help (`<path>`); string options only. */
  readonly value?: string;
  readonly description: string;
}

/** What a verb's `run` receives. */
export interface VerbInput {
  /** Parsed options by long name; absent when not given. */
  readonly values: Readonly<Record<string, string | boolean | readonly string[] | undefined>>;
  readonly positionals: readonly string[];
  /** The arguments after the verb's name, as given (for verbs that hand them on). */
  readonly argv: readonly string[];
  readonly io: Io;
}

/** Where a verb writes. Lines, not fragments: each call is one line (or block) of output. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** A verb (or a subcommand of one). Exactly one of `run` and `subcommands`. */
export interface Verb {
  readonly name: string;
  /** One line, lower case, no full stop: shown in the verb list. */
  readonly summary: string;
  /** Usage lines without the leading `weft <path>`: `"[--json]"`, `"<run> <node>"`. */
  readonly usage?: readonly string[];
  /** Paragraphs shown in `--help` below the usage. */
  readonly description?: string;
  readonly options?: Readonly<Record<string, OptionSpec>>;
  /** How many positional arguments `run` accepts (default none). */
  readonly positionals?: { readonly min: number; readonly max: number; readonly names: string };
  /** Runs the verb; returns its exit code (0 or 1). Throw `UsageError` for a usage problem, `CliError` for a failure. */
  readonly run?: (input: VerbInput) => number | Promise<number>;
  readonly subcommands?: readonly Verb[];
}

/** A usage problem: exit code 2, the message and a pointer to `--help`. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A failure the user can act on: exit code 1, the message and what to do. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    /** What to do about it: appended after `; `. */
    readonly hint?: string,
  ) {
    super(message);
  }
}

const HELP: OptionSpec = { type: "boolean", short: "h", description: "show this help" };

/** `verb`'s help text, as `weft <path> --help` prints it. */
export function helpText(path: readonly string[], verb: Verb): string {
  const name = ["weft", ...path].join(" ");
  const lines = [`${name}: ${verb.summary}`, ""];
  if (verb.subcommands) {
    lines.push(`usage: ${name} <${path.length === 0 ? "verb" : "command"}> [options]`, "");
    if (verb.description) lines.push(verb.description, "");
    lines.push(`${path.length === 0 ? "verbs" : "commands"}:`);
    const width = Math.max(...verb.subcommands.map((s) => s.name.length)) + 2;
    for (const sub of verb.subcommands) lines.push(`  ${sub.name.padEnd(width)}${sub.summary}`);
    lines.push("", `Run \`${name} <${path.length === 0 ? "verb" : "command"}> --help\` for its options.`);
    return lines.join("\n");
  }
  const usage = verb.usage ?? [""];
  lines.push(...usage.map((u, i) => `${i === 0 ? "usage: " : "       "}${name}${u ? ` ${u}` : ""}`), "");
  if (verb.description) lines.push(verb.description, "");
  const options = Object.entries({ ...verb.options, help: HELP });
  const labels = options.map(([long, spec]) => `${spec.short ? `-${spec.short}, ` : "    "}--${long}${spec.type === "string" ? ` ${spec.value ?? "<value>"}` : ""}`);
  const width = Math.max(...labels.map((l) => l.length)) + 2;
  lines.push("options:");
  options.forEach(([, spec], i) => lines.push(`  ${labels[i]!.padEnd(width)}${spec.description}`));
  return lines.join("\n");
}

/** The one-line form of an error message: newlines folded, redacted, bounded. */
function oneLine(text: string): string {
  return boundedText(text.replace(/\s*\n\s*/g, "; "), 600);
}

/**
 * Runs `weft <argv>` against the verb tree `root`; returns the exit code. Never throws:
 * every outcome is an exit code and, for a problem, one line on stderr.
 *
 * @example
 * ```ts
 * process.exitCode = await dispatch(root, process.argv.slice(2), processIo());
 * ```
 */
export async function dispatch(root: Verb, argv: readonly string[], io: Io): Promise<number> {
  const path: string[] = [];
  let verb = root;
  let rest = argv;
  // Walk down the subcommands: `weft runs show <id>` → runs → show.
  while (verb.subcommands) {
    const [head, ...tail] = rest;
    const where = ["weft", ...path].join(" ");
    if (head === undefined) {
      io.err(`${where}: missing ${path.length === 0 ? "verb" : "command"}; run \`${where} --help\` for the list`);
      return 2;
    }
    if (head === "-h" || head === "--help") {
      io.out(helpText(path, verb));
      return 0;
    }
    const next = verb.subcommands.find((s) => s.name === head);
    if (!next) {
      const near = nearestKey(head, verb.subcommands.map((s) => s.name));
      io.err(`${where}: unknown ${path.length === 0 ? "verb" : "command"} "${oneLine(head)}"${near ? ` (did you mean "${near}"?)` : ""}; run \`${where} --help\` for the list`);
      return 2;
    }
    path.push(next.name);
    verb = next;
    rest = tail;
  }
  const where = ["weft", ...path].join(" ");
  const usageHint = `run \`${where} --help\` for usage`;
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    const options = Object.fromEntries(
      Object.entries({ ...verb.options, help: HELP }).map(([long, spec]) => [
        long,
        { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) },
      ]),
    );
    ({ values, positionals } = parseArgs({ args: [...rest], options, strict: true, allowPositionals: true, allowNegative: false }) as {
      values: Record<string, string | boolean | string[] | undefined>;
      positionals: string[];
    });
  } catch (error) {
    io.err(`${where}: ${oneLine(messageOf(error).replace(/\. To specify a positional argument.*$/s, "").replace(/\.$/, ""))}; ${usageHint}`);
    return 2;
  }
  if (values.help) {
    io.out(helpText(path, verb));
    return 0;
  }
  const { min, max, names } = verb.positionals ?? { min: 0, max: 0, names: "" };
  if (positionals.length < min) {
    io.err(`${where}: missing ${names.split(" ").slice(positionals.length, min).join(" ")}; ${usageHint}`);
    return 2;
  }
  if (positionals.length > max) {
    io.err(`${where}: unexpected argument "${oneLine(positionals[max]!)}"; ${usageHint}`);
    return 2;
  }
  try {
    return await verb.run!({ values, positionals, argv: rest, io });
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${where}: ${oneLine(error.message)}; ${usageHint}`);
      return 2;
    }
    if (error instanceof CliError || error instanceof ConfigError) {
      const hint = error instanceof CliError ? error.hint : undefined;
      io.err(`${where}: ${oneLine(error.message)}${hint ? `; ${oneLine(hint)}` : ""}`);
      return 1;
    }
    const name = error instanceof Error && error.name !== "Error" ? `${error.name}: ` : "";
    io.err(`${where}: ${name}${oneLine(messageOf(error))}`);
    return 1;
  }
}

/** The process's streams and environment, for `dispatch`. */
export function processIo(): Io {
  return {
    out: (text) => void process.stdout.write(`${text}\n`),
    err: (text) => void process.stderr.write(`${text}\n`),
    env: process.env,
    cwd: process.cwd(),
  };
}

/** Reads a string option; `undefined` when absent. */
export function stringOption(input: VerbInput, name: string): string | undefined {
  const value = input.values[name];
  return typeof value === "string" ? value : undefined;
}

/**
 * Prints a listing the one way every verb does: with `--json` the `json` value (the items
 * themselves unless given), otherwise `empty` when there are none, otherwise a table of one
 * row per item. Returns the exit code.
 */
export function printListing<T>(input: VerbInput, items: readonly T[], listing: { readonly headers: readonly string[]; readonly row: (item: T) => readonly string[]; readonly empty?: string; readonly json?: unknown }): 0 {
  if (input.values.json) input.io.out(JSON.stringify(listing.json ?? items, null, 2));
  else if (items.length === 0 && listing.empty !== undefined) input.io.out(listing.empty);
  else input.io.out(table(listing.headers, items.map(listing.row)));
  return 0;
}

/** Prints `rows` as aligned columns (the text form of a listing). */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}
