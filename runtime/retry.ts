/**
 * What a retry policy retries by default, and how long a failure asks to be left alone.
 *
 * Transient failures only: network errors, an attempt's own timeout (a nested deadline, not
 * the call's), a crashed worker, and HTTP 408, 409, 425, 429 and 5xx when the error carries
 * a status. Never a programming error (`TypeError`, `RangeError`, `ReferenceError`,
 * `SyntaxError`), another 4xx, a validation error or a cancellation: those fail the same
 * way every time. An error nothing classifies is not retried either; `retryOn` says
 * otherwise for an op that knows better.
 */
import type { BackoffPolicy, RetryPolicy } from "../decorators/descriptor.js";
import { toMillis } from "./duration.js";

// Node's and undici's codes for a connection that failed or broke: worth another try.
const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ESOCKETTIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);

const TRANSIENT_STATUS = new Set([408, 409, 425, 429]);

/** The HTTP status an error carries (`status`, `statusCode`, or `response.status`), if any. */
export function statusOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as { status?: unknown; statusCode?: unknown; response?: { status?: unknown } };
  const status = e.status ?? e.statusCode ?? e.response?.status;
  return typeof status === "number" && Number.isInteger(status) ? status : undefined;
}

function tagOf(error: unknown): unknown {
  return typeof error === "object" && error !== null ? (error as { _tag?: unknown })._tag : undefined;
}

function isNetworkError(error: unknown, depth = 0): boolean {
  if (typeof error !== "object" || error === null || depth > 4) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
  // fetch reports a network failure as `TypeError: fetch failed` with the socket error as cause.
  return isNetworkError((error as { cause?: unknown }).cause, depth + 1);
}

/**
 * True for a failure worth another attempt under a retry policy with no `retryOn`.
 * `callExpired` says whether the call's own deadline has passed (then nothing is retried).
 *
 * @example
 * ```ts
 * isTransient(Object.assign(new Error("busy"), { status: 503 })); // true
 * isTransient(new TypeError("x is not a function")); // false
 * ```
 */
export function isTransient(error: unknown): boolean {
  const tag = tagOf(error);
  if (tag === "WorkerCrashed") return true;
  // A nested op's deadline (this call's own has not passed, or the kernel would not ask).
  if (tag === "DeadlineExceeded") return true;
  if (tag === "ValidationError" || tag === "Cancelled") return false;
  // An op this one called failed: retry when what it failed with is transient.
  if (tag === "OpError" || tag === "BatchItemError") return isTransient((error as { cause?: unknown }).cause);
  const status = statusOf(error);
  if (status !== undefined) return TRANSIENT_STATUS.has(status) || (status >= 500 && status <= 599);
  if (isNetworkError(error)) return true;
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return error.name === "TimeoutError";
  return false;
}

/**
 * Never retried, whatever `retryOn` says: a cancellation, and an invalid input (the same
 * input fails the same way). An invalid output may differ on another attempt (a model's
 * reply does), so `retryOn` decides for it; by default it is not retried.
 */
export function neverRetried(error: unknown): boolean {
  const tag = tagOf(error);
  return tag === "Cancelled" || (tag === "ValidationError" && !isOutputError(error));
}

/** A `ValidationError` whose every issue is about a return value. */
function isOutputError(error: unknown): boolean {
  const issues = (error as { issues?: unknown }).issues;
  return Array.isArray(issues) && issues.length > 0 && issues.every((i) => (i as { direction?: unknown } | null)?.direction === "output");
}

/**
 * How long a failure asked to wait before the next attempt, in ms: `retryAfterMs`, or a
 * `Retry-After` header (seconds or an HTTP date) on the error, its `headers` or its
 * `response.headers` (a `Headers` or a plain object).
 *
 * @example
 * ```ts
 * retryAfterOf(Object.assign(new Error("slow down"), { status: 429, headers: { "retry-after": "2" } })); // 2000
 * ```
 */
export function retryAfterOf(error: unknown, now = Date.now()): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as { retryAfterMs?: unknown; retryAfter?: unknown; headers?: unknown; response?: { headers?: unknown } };
  if (typeof e.retryAfterMs === "number" && Number.isFinite(e.retryAfterMs) && e.retryAfterMs >= 0) return e.retryAfterMs;
  const raw = e.retryAfter ?? header(e.headers) ?? header(e.response?.headers);
  if (typeof raw === "number") return Number.isFinite(raw) && raw >= 0 ? raw * 1000 : undefined;
  if (typeof raw !== "string" || raw.trim() === "") return undefined;
  const text = raw.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function header(headers: unknown): unknown {
  if (typeof headers !== "object" || headers === null) return undefined;
  const get = (headers as { get?: unknown }).get;
  if (typeof get === "function") return (get as (name: string) => unknown).call(headers, "retry-after") ?? undefined;
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === "retry-after") return value;
  return undefined;
}

/** A retry policy's backoff in milliseconds, resolved once per call. */
export interface Backoff {
  readonly initial: number;
  readonly factor: number;
  readonly max: number;
  readonly jitter: number;
}

/** The backoff of `retry`, with its defaults (100 ms, x2, at most 30 s, jitter 0.5). */
export function backoffOf(retry: RetryPolicy, op: string): Backoff {
  const backoff: BackoffPolicy = retry.backoff ?? {};
  return {
    initial: toMillis(backoff.initial ?? 100, `${op}: retry.backoff.initial`),
    factor: backoff.factor ?? 2,
    max: toMillis(backoff.max ?? 30_000, `${op}: retry.backoff.max`),
    jitter: Math.min(1, Math.max(0, backoff.jitter ?? 0.5)),
  };
}

/** The delay before retry `n` (after attempt `n` failed): backoff with jitter, at least what the error asked. */
export function retryDelay(backoff: Backoff, n: number, random: number, error: unknown): number {
  const base = Math.min(backoff.max, backoff.initial * backoff.factor ** (n - 1));
  const delay = base * (1 - backoff.jitter * random);
  const asked = retryAfterOf(error);
  return asked === undefined ? delay : Math.max(delay, asked);
}
