/**
 * Typed model errors. A provider's failure is a `ProviderError` classified as retryable
 * or not; a call that would break its run's budget is refused with `BudgetExceeded`
 * before anything is sent.
 */
import { WeftError } from "../errors.js";
import { redactText } from "../redact.js";

const MESSAGE_LIMIT = 300;

/** HTTP statuses worth another attempt: timeouts, conflicts, rate limits, server errors. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** What a `ProviderError` carries. */
export interface ProviderErrorInit {
  readonly provider: string;
  readonly model: string;
  /** HTTP status; undefined for a network failure (refused, reset, DNS). */
  readonly status: number | undefined;
  readonly requestId?: string;
  /** The provider's own error code (`rate_limit_exceeded`, `invalid_api_key`, ...). */
  readonly code?: string;
  /** From `Retry-After` / `retry-after-ms` on a 429 or 503. */
  readonly retryAfterMs?: number;
  /** The provider's message, bounded and redacted here. */
  readonly detail: string;
  /** Values to cut from the message besides what looks like a credential (the provider's API keys). */
  readonly secrets?: readonly string[];
  /** Overrides the classification by status (a stream that broke after its first delta is final). */
  readonly retryable?: boolean;
  readonly cause?: unknown;
}

/**
 * A model provider refused or failed a request. `retryable` is true for 408, 409, 429,
 * 5xx and network failures, false for 400, 401, 403, 404, 422 and the rest; weft's
 * default retry policy for model calls follows it, and waits out `retryAfterMs`.
 *
 * @example
 * ```ts
 * try { await models("openai:gpt-4o-mini", "hi"); }
 * catch (e) { if (e instanceof OpError && e.cause instanceof ProviderError) console.log(e.cause.status, e.cause.requestId); }
 * ```
 */
export class ProviderError extends WeftError {
  readonly _tag = "ProviderError";
  readonly provider: string;
  readonly model: string;
  readonly status: number | undefined;
  readonly requestId: string | undefined;
  readonly code: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly retryable: boolean;
  /** The provider's message, bounded and redacted. */
  readonly detail: string;

  constructor(init: ProviderErrorInit) {
    const detail = scrub(init.detail, init.secrets);
    const what = init.status === undefined ? "network error" : `HTTP ${init.status}`;
    const id = init.requestId ? ` (request ${scrub(init.requestId, init.secrets)})` : "";
    super(`${init.provider}:${init.model}: ${what}${init.code ? ` ${scrub(init.code, init.secrets)}` : ""}: ${detail}${id}`, { cause: init.cause });
    this.provider = init.provider;
    this.model = init.model;
    this.status = init.status;
    this.requestId = init.requestId;
    this.code = init.code;
    this.retryAfterMs = init.retryAfterMs;
    this.retryable = init.retryable ?? (init.status === undefined || retryableStatus(init.status));
    this.detail = detail;
  }
}

/** A run's budget. */
export interface Budget {
  /** Most tokens (input + output) the run may use. */
  readonly tokens?: number;
  /** Most US dollars the run may spend. */
  readonly costUsd?: number;
}

/**
 * A model call would exceed its run's token or cost budget; it was not sent. Never retried.
 *
 * @example
 * ```ts
 * await models.track(() => pipeline(question), { budget: { costUsd: 0.5 } }).catch((e) => e instanceof OpError && e.cause instanceof BudgetExceeded);
 * ```
 */
export class BudgetExceeded extends WeftError {
  readonly _tag = "BudgetExceeded";
  constructor(
    readonly model: string,
    /** `"tokens"` or `"costUsd"`: which limit the call would break. */
    readonly limit: "tokens" | "costUsd",
    readonly budget: number,
    /** Already used in the run. */
    readonly used: number,
    /** What this call would add at least (its prompt, plus `maxTokens` when set). */
    readonly requested: number,
  ) {
    const fmt = (n: number) => (limit === "costUsd" ? `$${n.toFixed(6)}` : `${n} tokens`);
    super(`${model}: budget exceeded: ${fmt(used)} used + ${fmt(requested)} for this call > ${fmt(budget)}`);
  }
}

/** `text` bounded, with credentials and the given secrets cut. Internal. */
export function scrub(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join("[redacted]");
  out = redactText(out);
  return out.length > MESSAGE_LIMIT ? `${out.slice(0, MESSAGE_LIMIT - 1)}…` : out;
}
