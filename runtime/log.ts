/**
 * The one logger. Every line weft writes about itself goes through here: the warnings it
 * has always printed (a jit fallback, an untyped op, an inline fallback) and its debug and
 * info records. A record carries its time, level, message, the active trace and span ids,
 * the durable run id and the op, and is redacted by the one redactor before any sink sees it.
 *
 * Quiet by default: the level is `warn` (config `log.level`, `WEFT_LOG_LEVEL`), so only
 * warnings and errors are written, and they go where Node's warnings go
 * (`process.emitWarning`, with their `WEFT_*` code, so `--no-warnings` and `process.on("warning")`
 * work as they always did). `configureLog({ sink: "json" })` writes JSON lines to stderr
 * instead; `configureLog({ sink: (record) => ... })` routes records anywhere;
 * `log.level: "silent"` (or `configureLog({ level: "silent" })`) writes nothing.
 */
import { currentFrame } from "./context.js";
import { boundedText, redactAttributes } from "./redact.js";

/** Severity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";
const RANK: Readonly<Record<LogLevel | "silent", number>> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** One log record, as a sink receives it (and as the JSON sink writes it, one per line). */
export interface LogRecord {
  /** ISO 8601 time. */
  readonly time: string;
  readonly level: LogLevel;
  readonly msg: string;
  /** A stable code for warnings (`WEFT_JIT_FALLBACK`). */
  readonly code?: string;
  /** The warning's name when it goes to Node's warnings (default `Warning`). */
  readonly type?: string;
  readonly trace_id?: string;
  readonly span_id?: string;
  readonly run_id?: string;
  readonly op?: string;
  readonly [field: string]: unknown;
}

/** Where records go: Node's warnings (the default), JSON lines on stderr, or a function. */
export type LogSink = "warning" | "json" | ((record: LogRecord) => void);

/** What `configureLog` sets. */
export interface LogSettings {
  /** The least severe level written. Default: config `log.level`, else `warn`. */
  readonly level?: LogLevel | "silent";
  readonly sink?: LogSink;
}

let settings: { level: LogLevel | "silent" | undefined; sink: LogSink } = { level: undefined, sink: "warning" };
// The config layers' `log.level`, installed by runtime/config (which loads with weft's entry);
// kept as a hook so the logger loads with nothing but the context, wherever weft warns.
let configuredLevel: () => LogLevel | "silent" | undefined = () => undefined;

/** Installs where the configured level comes from. Internal: runtime/config calls it. */
export function setLevelSource(source: () => LogLevel | "silent" | undefined): void {
  configuredLevel = source;
}

/**
 * Sets the logger's level and sink; returns the previous settings, to restore later.
 *
 * @example
 * ```ts
 * configureLog({ level: "info", sink: (record) => console.error(record.level, record.msg, record.op ?? "") });
 * ```
 */
export function configureLog(next: LogSettings): LogSettings {
  const previous: LogSettings = { ...(settings.level !== undefined && { level: settings.level }), sink: settings.sink };
  for (const key of Object.keys(next)) if (key !== "level" && key !== "sink") throw new TypeError(`configureLog: unknown option "${key}" (valid: level, sink)`);
  if (next.level !== undefined && !(next.level in RANK)) throw new TypeError(`configureLog: level must be one of ${Object.keys(RANK).join(", ")}, received ${JSON.stringify(next.level)}`);
  if (next.sink !== undefined && next.sink !== "warning" && next.sink !== "json" && typeof next.sink !== "function") {
    throw new TypeError(`configureLog: sink must be "warning", "json" or a function`);
  }
  settings = { level: "level" in next ? next.level : settings.level, sink: next.sink ?? settings.sink };
  return previous;
}

function level(): LogLevel | "silent" {
  if (settings.level !== undefined) return settings.level;
  try {
    return configuredLevel() ?? "warn";
  } catch {
    return "warn"; // a bad config file is reported where it is read; logging never throws
  }
}

/** True when a record of `at` would be written: check before building an expensive one. */
export function logEnabled(at: LogLevel): boolean {
  return RANK[at] >= RANK[level()];
}

function write(at: LogLevel, msg: string, fields?: Readonly<Record<string, unknown>>): void {
  if (!logEnabled(at)) return;
  const frame = currentFrame();
  const context = frame.span?.spanContext();
  const record: LogRecord = {
    time: new Date().toISOString(),
    level: at,
    msg: boundedText(msg),
    ...(context && { trace_id: context.traceId, span_id: context.spanId }),
    ...(frame.run && { run_id: frame.run.id }),
    ...(frame.op !== undefined && { op: frame.op }),
    ...(fields && (redactDeep(fields) as Record<string, unknown>)),
  };
  const sink = settings.sink;
  try {
    if (typeof sink === "function") sink(record);
    else if (sink === "json") process.stderr.write(`${JSON.stringify(record)}\n`);
    else if (at === "warn" || at === "error") {
      process.emitWarning(record.msg, { ...(record.code !== undefined && { code: record.code }), ...(typeof record.type === "string" && { type: record.type }) });
    }
    else process.stderr.write(`${JSON.stringify(record)}\n`);
  } catch {
    // A sink that throws never breaks the call that logged.
  }
}

/** `value` with secret-named keys and secret-shaped strings redacted at every depth (at most 8 levels). */
function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return boundedText(value);
  if (value === null || typeof value !== "object" || depth > 8) return value;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1));
  // A Secret (or anything with its own toJSON) is written as it serialises: `[redacted]` for a Secret.
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return redactDeep((value as { toJSON(): unknown }).toJSON(), depth + 1);
  const flat = redactAttributes(value as Record<string, unknown>);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flat)) out[k] = redactDeep(v, depth + 1);
  return out;
}

/**
 * The logger: `log.warn(message, { code: "WEFT_..." })`. Fields are redacted by key and value.
 *
 * @example
 * ```ts
 * log.info("cache cleared", { entries: 12 });
 * ```
 */
export const log = {
  debug: (msg: string, fields?: Readonly<Record<string, unknown>>) => write("debug", msg, fields),
  info: (msg: string, fields?: Readonly<Record<string, unknown>>) => write("info", msg, fields),
  warn: (msg: string, fields?: Readonly<Record<string, unknown>>) => write("warn", msg, fields),
  error: (msg: string, fields?: Readonly<Record<string, unknown>>) => write("error", msg, fields),
};
