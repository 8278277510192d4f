/**
 * `health()`: is this process able to do its work? It checks the config layers and the
 * credentials file (readable, well formed, private), the durable store (opens and reads),
 * each configured model provider (one cheap call: its model list when it has one, else a
 * one-token generation) and anything registered with `registerHealthCheck` (the remote
 * queue, when scaled out). Checks run concurrently, each under a deadline.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { DurationInput } from "../decorators/descriptor.js";
import { toMillis } from "./duration.js";
import { getConfig } from "./config/config.js";
import { credentialsFile, readCredentialsFile } from "./config/credentials.js";
import type * as Registry from "./models/registry.js";
import type * as DurableSettings from "./durable/settings.js";
import type * as Sqlite from "./durable/sqlite.js";
import { lazyModule } from "./lazy.js";
import { boundedText, messageOf } from "./redact.js";

// What the checks look at loads when `health()` runs.
const registry = lazyModule<typeof Registry>("./models/registry.js", import.meta.url, () => import("./models/registry.js"));
const settings = lazyModule<typeof DurableSettings>("./durable/settings.js", import.meta.url, () => import("./durable/settings.js"));
const sqlite = lazyModule<typeof Sqlite>("./durable/sqlite.js", import.meta.url, () => import("./durable/sqlite.js"));

/** One check's outcome. */
export interface HealthCheck {
  /** `config`, `store`, `provider openai`, ... */
  readonly name: string;
  readonly ok: boolean;
  /** What was found: the reason on failure. Redacted. */
  readonly detail: string;
  readonly ms: number;
}

/** Every check, and whether all passed. */
export interface HealthReport {
  readonly ok: boolean;
  readonly checks: readonly HealthCheck[];
}

/** Options of `health`. */
export interface HealthOptions {
  /** Each check's deadline. Default 5 s. */
  readonly timeout?: DurationInput;
  /** Check only these providers (default: every configured one). */
  readonly providers?: readonly string[];
}

type Check = (signal: AbortSignal) => Promise<string> | string;
const extra = new Map<string, Check>();

/**
 * Adds a check to every `health()` report (a queue, a database of your own). It returns a
 * short detail when healthy and throws when not.
 *
 * @example
 * ```ts
 * import { access } from "node:fs/promises";
 * registerHealthCheck("scratch dir", async () => { await access("/tmp"); return "writable"; });
 * ```
 */
export function registerHealthCheck(name: string, check: Check): () => void {
  extra.set(name, check);
  return () => extra.delete(name);
}

async function run(name: string, check: Check, timeoutMs: number): Promise<HealthCheck> {
  const started = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  try {
    const detail = await Promise.race([
      Promise.resolve().then(() => check(controller.signal)),
      new Promise<never>((_, reject) => controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true })),
    ]);
    return { name, ok: true, detail: boundedText(detail, 300), ms: Math.round(performance.now() - started) };
  } catch (error) {
    return { name, ok: false, detail: boundedText(messageOf(error).replace(/\s*\n\s*/g, "; "), 300), ms: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

function checkConfig(): string {
  const model = getConfig("models.default");
  readCredentialsFile(credentialsFile());
  return `models.default = ${String(model)}`;
}

async function checkStore(): Promise<string> {
  const configured = settings().durableSettings.configuredStore();
  if (configured) {
    await configured.listRuns();
    return "configured store reads";
  }
  const file = path.resolve(settings().durableSettings.path ?? (getConfig("durable.path") as string | undefined) ?? path.join(".weft", "durable.db"));
  if (!existsSync(file)) return `no store yet at ${file} (created by the first durable run)`;
  const store = new (sqlite().SqliteStore)(file);
  try {
    return `${store.listRuns().length} runs in ${file}`;
  } finally {
    store.close();
  }
}

function checkProvider(name: string, model: string | undefined): Check {
  return async (signal) => {
    const resolved = registry().resolveModel(`${name}:${model ?? "health"}`, {});
    const provider = resolved.provider;
    if (provider.listModels) {
      const models = await provider.listModels(signal);
      return `${models.length} model${models.length === 1 ? "" : "s"} listed`;
    }
    if (model === undefined) return "registered (no model configured to call)";
    const reply = await provider.generate({ model, messages: [{ role: "user", content: "ping" }], maxTokens: 1, signal });
    return `${model} answered (${reply.usage.inputTokens + reply.usage.outputTokens} tokens)`;
  };
}

/**
 * Runs every check and reports each; `ok` is false when any failed.
 *
 * @example
 * ```ts
 * const report = await health();
 * if (!report.ok) for (const c of report.checks) if (!c.ok) console.error(c.name, c.detail);
 * ```
 */
export async function health(options: HealthOptions = {}): Promise<HealthReport> {
  const timeoutMs = options.timeout === undefined ? 5000 : toMillis(options.timeout, "health timeout");
  const checks: [string, Check][] = [
    ["config", checkConfig],
    ["store", checkStore],
  ];
  let providers: { name: string; model: string | undefined }[] = [];
  try {
    providers = registry().configuredProviders();
  } catch (error) {
    checks.push(["providers", () => Promise.reject(error)]);
  }
  for (const p of providers) if (!options.providers || options.providers.includes(p.name)) checks.push([`provider ${p.name}`, checkProvider(p.name, p.model)]);
  for (const [name, check] of extra) checks.push([name, check]);
  const results = await Promise.all(checks.map(([name, check]) => run(name, check, timeoutMs)));
  return { ok: results.every((r) => r.ok), checks: results };
}
