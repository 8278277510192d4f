/**
 * The one redactor. Every string that leaves the process through weft (error messages,
 * span status, attributes and exception events, runtime events, validation previews)
 * passes through here first, so a secret quoted by a body never reaches a log or a trace.
 *
 * Two kinds of secret are recognised:
 * - values: credentials registered with `registerSecret` (and, once, secret-named
 *   environment variables such as `OPENAI_API_KEY`), and secret-shaped strings (`sk-...`
 *   keys, bearer tokens, JWTs, AWS access keys, GitHub and Slack tokens, private keys,
 *   `password=...` pairs, passwords in URLs);
 * - names: a property, parameter or header whose name says it holds a secret
 *   (`password`, `apiKey`, `secretKey`, `accessKey`, `pwd`, `bearer`, `session`, ...).
 */

/** What a secret is replaced with. */
export const REDACTED = "[redacted]";

/** The largest message weft writes into an error, span or event (characters, after redaction). */
export const MESSAGE_LIMIT = 2000;

// Names compared after lower-casing and dropping `-`, `_` and spaces: `api_key`, `apiKey`, `X-Api-Key`.
const SECRET_NAMES = new Set(["auth", "pwd", "pass", "bearer", "session", "passcode", "pin", "otp", "mfa", "sid"]);
const SECRET_SUFFIXES = [
  "password",
  "passwd",
  "passphrase",
  "passcode",
  "secret",
  "secrets",
  "token",
  "apikey",
  "apikeys",
  "accesskey",
  "accesskeys",
  "secretkey",
  "signingkey",
  "privatekey",
  "encryptionkey",
  "masterkey",
  "sessionkey",
  "authorization",
  "cookie",
  "cookies",
  "credential",
  "credentials",
  "session",
  "sessionid",
  "bearer",
  "pwd",
];

/**
 * True for a property, parameter, header or variable name that holds a secret.
 *
 * @example
 * ```ts
 * secretName("secretKey"); // true
 * secretName("X-Api-Key"); // true
 * secretName("maxTokens"); // false
 * ```
 */
export function secretName(name: string): boolean {
  const key = name.toLowerCase().replace(/[-_\s]/g, "");
  if (SECRET_NAMES.has(key)) return true;
  for (const suffix of SECRET_SUFFIXES) if (key.endsWith(suffix)) return true;
  return false;
}

// A secret-named key followed by `=` or `:` and a value: `password=hunter2`, `"apiKey": "abc"`.
const NAMED_VALUE =
  /((?:[A-Za-z0-9]+[-_])*(?:pass(?:word|wd|phrase|code)?|pwd|secret(?:[-_]?key)?|token|api[-_]?keys?|access[-_]?keys?|signing[-_]?key|private[-_]?key|auth(?:orization)?|cookie|credentials?|session(?:[-_]?id)?|bearer)["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s"',;&}]+)/gi;

const SECRET_SHAPES: readonly RegExp[] = [
  /\bsk-[A-Za-z0-9_-]{8,}/g, // OpenAI / Anthropic style keys
  /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /\bBasic\s+[A-Za-z0-9+/=]{8,}/g,
  /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g,
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/g,
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, // AWS access key ids
  /\bAIza[0-9A-Za-z_-]{35}/g, // Google API keys
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, // JWTs
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /(?<=\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)[^\s/@]+(?=@)/gi, // the password in scheme://user:password@host
];

const known = new Set<string>();
let knownPattern: RegExp | undefined;
let envScanned = false;

/**
 * Registers a credential value (an API key read from a config file, a token from a vault):
 * from now on weft replaces it with `[redacted]` wherever it would write it. Values shorter
 * than 6 characters are refused (they would redact ordinary words).
 *
 * @example
 * ```ts
 * registerSecret(process.env.MY_SERVICE_TOKEN!);
 * ```
 */
export function registerSecret(value: string): void {
  if (typeof value !== "string") throw new TypeError(`registerSecret: expected a string, received ${typeof value}`);
  if (value.length < 6) throw new RangeError("registerSecret: a secret shorter than 6 characters would redact ordinary text");
  if (known.has(value)) return;
  known.add(value);
  knownPattern = undefined;
}

/** Secret-named environment variables (`OPENAI_API_KEY`, `DB_PASSWORD`, ...) count as known credentials. */
function scanEnvironment(): void {
  envScanned = true;
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && value.length >= 8 && secretName(name)) known.add(value);
  }
  knownPattern = undefined;
}

function knownValues(): RegExp | undefined {
  if (!envScanned) scanEnvironment();
  if (knownPattern === undefined && known.size > 0) {
    // Longest first, so a secret containing another is replaced whole.
    const alternatives = [...known].sort((a, b) => b.length - a.length).map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    knownPattern = new RegExp(alternatives.join("|"), "g");
  }
  return knownPattern;
}

/**
 * `text` with every known credential and secret-shaped string replaced by `[redacted]`.
 *
 * @example
 * ```ts
 * redactText("rejected key sk-abc123def456ghi"); // "rejected key [redacted]"
 * redactText("login failed: password=hunter2"); // "login failed: password=[redacted]"
 * ```
 */
export function redactText(text: string): string {
  let out = text;
  const values = knownValues();
  if (values !== undefined) out = out.replace(values, REDACTED);
  for (const shape of SECRET_SHAPES) out = out.replace(shape, REDACTED);
  return out.replace(NAMED_VALUE, (_, key: string, value: string) => (value.includes(REDACTED) ? key + value : key + REDACTED));
}

/**
 * `text` redacted, then cut to `limit` characters with a note of how much was cut. Redacted
 * before cutting, so a cut never leaves half a secret unrecognised.
 *
 * @example
 * ```ts
 * boundedText("x".repeat(5000)).length; // about 2000
 * ```
 */
export function boundedText(text: string, limit = MESSAGE_LIMIT): string {
  const clean = redactText(text.length > limit * 8 ? text.slice(0, limit * 8) : text);
  if (clean.length <= limit) return clean;
  return `${clean.slice(0, limit)}… (${text.length - limit} more characters)`;
}

/** The message of any thrown value, as text. */
export function messageOf(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  if (typeof reason === "string") return reason;
  try {
    return String(reason);
  } catch {
    return Object.prototype.toString.call(reason);
  }
}

/**
 * A copy of `error` safe to hand to listeners outside the call: weft's own errors as they
 * are (their messages are redacted when built), any other error as a plain `Error` with the
 * same name, a redacted message and its `code`/`status` kept, and no cause or stack
 * frames pointing at secret-bearing values.
 *
 * @example
 * ```ts
 * redactError(new Error("key sk-abc123def456ghi")).message; // "key [redacted]"
 * ```
 */
export function redactError(error: unknown): unknown {
  if (error instanceof Error && typeof (error as { _tag?: unknown })._tag === "string" && error.message === boundedText(error.message)) return error;
  const copy = new Error(boundedText(messageOf(error)));
  if (error instanceof Error) {
    copy.name = error.name;
    copy.stack = `${error.name}: ${copy.message}\n${(error.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l)).join("\n")}`;
    for (const key of ["code", "status", "statusCode", "_tag"] as const) {
      const value = (error as unknown as Record<string, unknown>)[key];
      if (typeof value === "string" || typeof value === "number") (copy as unknown as Record<string, unknown>)[key] = value;
    }
  }
  return copy;
}

/**
 * Span or event attributes with secret-named keys and secret-shaped values redacted.
 *
 * @example
 * ```ts
 * redactAttributes({ "http.url": "https://u:pw123456@h/", apiKey: "x" }); // both redacted
 * ```
 */
export function redactAttributes<T extends Record<string, unknown>>(attributes: T): T {
  let out: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(attributes)) {
    const clean = secretName(key) && value !== undefined && value !== null ? REDACTED : typeof value === "string" ? boundedText(value) : value;
    if (clean !== value) (out ??= { ...attributes })[key] = clean;
  }
  return (out ?? attributes) as T;
}
