/**
 * The shape of weft's configuration: what the config files (`config.json` in the user's
 * config directory, `weft.config.json` in the project), `WEFT_*` variables and `setConfig`
 * may set. Its JSON Schema is extracted from this file by weft's own schema extractor
 * (`schema.generated.ts`, checked by test/config/schema.test.ts), so a bad value in a file
 * is an error naming the file, the key and what was expected.
 *
 * Every object is closed: an unknown key is an error, with the nearest valid key.
 */

/** @closed */
export interface WeftConfig {
  readonly models?: ModelsConfig;
  /** Model providers by name (`openai`, or a name of your own for another compatible endpoint). */
  readonly providers?: Readonly<Record<string, ProviderConfig>>;
  readonly durable?: DurableConfig;
  readonly log?: LogConfig;
  readonly metrics?: MetricsConfig;
  /**
   * Maximum concurrent top-level op calls (`configure({ concurrency })`).
   * @minimum 1
   */
  readonly concurrency?: number;
  /** Validate op inputs and outputs against their schemas. */
  readonly validate?: boolean;
}

/** @closed */
export interface ModelsConfig {
  /**
   * The model `models("default", ...)` calls: `provider:model`.
   * @minLength 1
   */
  readonly default?: string;
}

/** @closed */
export interface ProviderConfig {
  /**
   * An OpenAI-compatible endpoint's base URL (`https://api.openai.com/v1`).
   * @format uri
   */
  readonly baseUrl?: string;
  /**
   * The API key. Prefer the credentials file (`weft configure set --credential`) or the
   * environment: a config file is usually not private.
   */
  readonly apiKey?: string;
  /** The model `weft models list` and `weft health` use for this provider. */
  readonly model?: string;
}

/** @closed */
export interface DurableConfig {
  /** The SQLite file of durable runs, caches, dead letters and approvals. */
  readonly path?: string;
  /** `NORMAL` survives a process crash; `FULL` survives power loss (an fsync per append). */
  readonly synchronous?: "NORMAL" | "FULL";
}

/** @closed */
export interface LogConfig {
  /** The least severe level written; `silent` writes nothing (the default: weft is quiet). */
  readonly level?: "debug" | "info" | "warn" | "error" | "silent";
}

/** @closed */
export interface MetricsConfig {
  /** Record op and model metrics through `@opentelemetry/api` (default true; no SDK, no cost). */
  readonly enabled?: boolean;
}
