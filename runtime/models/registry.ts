/**
 * The provider registry: names to providers, and model ids (`provider:model`) to the
 * provider and model name a call uses. Built in: `local` (always there), and every provider
 * the config names (`providers.<name>.baseUrl`, an OpenAI-compatible endpoint, with the key
 * `credential("<name>.apiKey")`); `openai` also from `OPENAI_BASE_URL` / `OPENAI_API_KEY`
 * (the config's environment layer), defaulting to api.openai.com when only a key is set.
 */
import { localProvider } from "./local.js";
import { openaiCompatible } from "./openai.js";
import { systemClock, type ModelProvider } from "./provider.js";
import { RateLimiter } from "./limits.js";
import { registerSecret } from "../redact.js";
import { getConfig } from "../config/config.js";
import { credential } from "../config/credentials.js";

type Config = Readonly<Record<string, unknown>>;

/** A resolved model id. Internal. */
export interface Resolved {
  /** `provider:model`, as recorded in usage and spans. */
  readonly id: string;
  readonly providerName: string;
  readonly model: string;
  readonly provider: ModelProvider;
  readonly limiter: RateLimiter;
}

const providers = new Map<string, ModelProvider>();
const limiters = new WeakMap<ModelProvider, RateLimiter>();

interface ProviderSettings {
  readonly baseUrl?: string;
  readonly model?: string;
}

/** A provider the config describes, built on first use. */
function fromConfig(name: string): ModelProvider | undefined {
  if (name === "local") return localProvider();
  // A name with a dot cannot be a config key segment (`providers.<name>`).
  if (name.includes(".")) return undefined;
  const settings = getConfig(`providers.${name}`) as ProviderSettings | undefined;
  const key = credential(`${name}.apiKey`);
  const baseURL = settings?.baseUrl ?? (name === "openai" && key ? "https://api.openai.com/v1" : undefined);
  if (!baseURL) return undefined;
  return openaiCompatible({ name, baseURL, ...(key && { apiKey: key.reveal() }) });
}

/**
 * The providers this process is set up for, with the model each is checked with: the
 * provider of `models.default`, every `providers.<name>` of the config, `openai` when a key
 * for it exists, and every registered one. Internal: `health()` and `weft models list`.
 */
export function configuredProviders(): { name: string; model: string | undefined }[] {
  const out = new Map<string, string | undefined>();
  const fallback = String(getConfig("models.default") ?? "local:chat");
  const colon = fallback.indexOf(":");
  if (colon > 0) out.set(fallback.slice(0, colon), fallback.slice(colon + 1));
  const configured = (getConfig("providers") ?? {}) as Readonly<Record<string, ProviderSettings>>;
  for (const [name, settings] of Object.entries(configured)) out.set(name, settings.model ?? out.get(name));
  if (!out.has("openai") && credential("openai.apiKey")) out.set("openai", undefined);
  for (const name of providers.keys()) if (!out.has(name)) out.set(name, undefined);
  return [...out].map(([name, model]) => ({ name, model }));
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Registers (or replaces) a provider under `name`. Internal: `models.register`. */
export function registerProvider(name: string, provider: ModelProvider): void {
  if (typeof name !== "string" || !NAME.test(name)) throw new TypeError(`models.register: a provider name is letters, digits, ".", "_" or "-" (no ":"), received ${JSON.stringify(name)}`);
  if (typeof provider !== "object" || provider === null || typeof provider.generate !== "function" || typeof provider.capabilities !== "object") {
    throw new TypeError(`models.register(${name}): expected a provider with generate() and capabilities`);
  }
  // The kernel's one redactor cuts these wherever weft writes text: messages, spans, events.
  for (const secret of provider.secrets ?? []) if (typeof secret === "string" && secret.length >= 6) registerSecret(secret);
  providers.set(name, provider);
  resolvedIds.clear();
}

/** Removes a registered provider (a built-in comes back on next use). Internal. */
export function unregisterProvider(name: string): boolean {
  resolvedIds.clear();
  return providers.delete(name);
}

/** Full `provider:model` ids resolved before (they do not depend on config): most calls name one. */
const resolvedIds = new Map<string, Resolved>();

function providerNamed(name: string): ModelProvider | undefined {
  let provider = providers.get(name);
  if (!provider) {
    provider = fromConfig(name);
    if (provider) registerProvider(name, provider);
  }
  return provider;
}

/**
 * The provider and model behind `id`: `provider:model`; a bare `model` uses the config's
 * `provider` (default `local`); `"default"` is the config's `model` (default `local:chat`).
 */
export function resolveModel(id: string, config: Config): Resolved {
  const known = resolvedIds.get(id);
  if (known !== undefined) return known;
  let full = id;
  if (full === "default") {
    const configured = config.model ?? getConfig("models.default");
    if (configured !== undefined && typeof configured !== "string") throw new TypeError(`models: config.model must be a model id string, received ${typeof configured}`);
    full = configured ?? "local:chat";
  }
  const colon = full.indexOf(":");
  const providerName = colon < 0 ? String(config.provider ?? "local") : full.slice(0, colon);
  const model = colon < 0 ? full : full.slice(colon + 1);
  if (model === "") throw new TypeError(`models: "${id}" names no model (expected "provider:model")`);
  const provider = providerNamed(providerName);
  if (!provider) {
    const known = [...new Set([...providers.keys(), "local"])].sort().join(", ");
    const hint =
      providerName === "openai"
        ? " (set OPENAI_BASE_URL / OPENAI_API_KEY, or `weft configure set --credential openai.apiKey <key>`, or models.register it)"
        : ` (set providers.${providerName}.baseUrl with \`weft configure set\`, or models.register it)`;
    throw new TypeError(`models: no provider "${providerName}" for "${id}"${hint}; registered: ${known}`);
  }
  let limiter = limiters.get(provider);
  if (!limiter) limiters.set(provider, (limiter = new RateLimiter(provider.rateLimits ?? {}, provider.clock ?? systemClock, provider.name)));
  const resolved: Resolved = Object.freeze({ id: `${providerName}:${model}`, providerName, model, provider, limiter });
  if (colon >= 0 && full === id && resolvedIds.size < 1024) resolvedIds.set(id, resolved);
  return resolved;
}
