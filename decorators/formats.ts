/**
 * The one vetted set of `@format` checks, and the few helpers generated checks call.
 *
 * Plain data and pure functions (layer 1): the transformer reads the format names from
 * here to reject an unknown `@format` at build time, and the runtime hands this table to
 * the checks the transformer generated (`InjectedChecks`), so a build-time check and the
 * run-time error walk test a format with the same function. Nothing here compiles code.
 *
 * Each format is deliberately simple and documented by its test: RFC 3339 dates and
 * times (with calendar validity and leap seconds only at 23:59), ISO 8601 durations,
 * RFC 3986 URIs and references, a practical e-mail address, RFC 1123 host names,
 * dotted-quad IPv4, RFC 4291 IPv6, RFC 4122 UUIDs, RFC 6901 JSON pointers, base64,
 * and the numeric OpenAPI formats.
 */
import type { CheckLib, JsonSchema } from "./descriptor.js";

export type { Check, CheckLib, InjectedChecks, SiteChecks } from "./descriptor.js";

/** A format check: true when `text` is in the format. */
export type FormatCheck = (text: string) => boolean;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:z|([+-])(\d{2}):(\d{2}))$/i;
const DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isDate(text: string): boolean {
  const m = DATE.exec(text);
  if (!m) return false;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month >= 1 && month <= 12 && day >= 1 && day <= (month === 2 && leap ? 29 : DAYS[month]!);
}

function isTime(text: string): boolean {
  const m = TIME.exec(text);
  if (!m) return false;
  const hour = Number(m[1]);
  const minute = Number(m[2]);
  const second = Number(m[3]);
  const offsetHour = m[5] === undefined ? 0 : Number(m[5]);
  const offsetMinute = m[6] === undefined ? 0 : Number(m[6]);
  if (offsetHour > 23 || offsetMinute > 59 || hour > 23 || minute > 59) return false;
  if (second <= 59) return true;
  // A leap second is 23:59:60 in UTC, whatever the local offset says.
  if (second !== 60) return false;
  const sign = m[4] === "-" ? -1 : 1;
  const utc = (hour * 60 + minute - sign * (offsetHour * 60 + offsetMinute) + 1440) % 1440;
  return utc === 23 * 60 + 59;
}

const URI = /^[a-z][a-z0-9+.-]*:(?:\/\/(?:[a-z0-9._~!$&'()*+,;=:-]|%[0-9a-f]{2})*@?(?:\[[0-9a-f:.]+\]|(?:[a-z0-9._~!$&'()*+,;=-]|%[0-9a-f]{2})*)(?::\d*)?)?(?:[a-z0-9._~!$&'()*+,;=:@/-]|%[0-9a-f]{2})*(?:\?(?:[a-z0-9._~!$&'()*+,;=:@/?-]|%[0-9a-f]{2})*)?(?:#(?:[a-z0-9._~!$&'()*+,;=:@/?-]|%[0-9a-f]{2})*)?$/i;
const URI_REFERENCE = /^(?:[a-z][a-z0-9+.-]*:)?(?:\/\/(?:[a-z0-9._~!$&'()*+,;=:-]|%[0-9a-f]{2})*@?(?:\[[0-9a-f:.]+\]|(?:[a-z0-9._~!$&'()*+,;=-]|%[0-9a-f]{2})*)(?::\d*)?)?(?:[a-z0-9._~!$&'()*+,;=:@/-]|%[0-9a-f]{2})*(?:\?(?:[a-z0-9._~!$&'()*+,;=:@/?-]|%[0-9a-f]{2})*)?(?:#(?:[a-z0-9._~!$&'()*+,;=:@/?-]|%[0-9a-f]{2})*)?$/i;
const URL_PATTERN = /^(?:https?|ftp):\/\/(?:[^\s:@/]+(?::[^\s:@/]*)?@)?(?:localhost|\[[0-9a-f:.]+\]|(?:\d{1,3}\.){3}\d{1,3}|(?:[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]{0,61}[a-z0-9\u00a1-\uffff])?\.)*[a-z\u00a1-\uffff]{2,}\.?)(?::\d{2,5})?(?:[/?#]\S*)?$/iu;
const EMAIL = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
const HOSTNAME = /^(?=.{1,253}\.?$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[-0-9a-z]{0,61}[0-9a-z])?)*\.?$/i;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const UUID = /^(?:urn:uuid:)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DURATION = /^P(?!$)(?:(?:\d+Y)?(?:\d+M)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?|\d+W)$/;
const JSON_POINTER = /^(?:\/(?:[^~/]|~[01])*)*$/;
const RELATIVE_JSON_POINTER = /^(?:0|[1-9]\d*)(?:#|(?:\/(?:[^~/]|~[01])*)*)$/;
const BYTE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const INTEGER_TEXT = /^[+-]?\d+$/;
const FLOAT_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

function isIpv6(text: string): boolean {
  if (text.length > 45 || !/^[0-9a-f:.]+$/i.test(text)) return false;
  let head = text;
  let groups = 8;
  // An IPv4 tail counts as two groups.
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    if (!IPV4.test(text.slice(lastColon + 1))) return false;
    head = text.slice(0, lastColon + 1) + "0";
    groups = 7;
  }
  const halves = head.split("::");
  if (halves.length > 2) return false;
  const parts = (s: string) => (s === "" ? [] : s.split(":"));
  const left = parts(halves[0]!);
  const right = halves.length === 2 ? parts(halves[1]!) : [];
  const all = [...left, ...right];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return false;
  return halves.length === 2 ? all.length < groups : all.length === groups;
}

function isRegex(text: string): boolean {
  try {
    // Constructing a RegExp compiles a pattern, not code: allowed without eval.
    new RegExp(text, "u");
    return true;
  } catch {
    return false;
  }
}

function inRange(text: string, bits: 32 | 64): boolean {
  if (!INTEGER_TEXT.test(text)) return false;
  const n = BigInt(text);
  const limit = 1n << BigInt(bits - 1);
  return n >= -limit && n < limit;
}

/** Every `@format` weft checks, by name. */
export const FORMATS: Readonly<Record<string, FormatCheck>> = Object.freeze({
  date: isDate,
  time: isTime,
  "date-time": (text: string) => {
    const t = text.search(/[tT ]/);
    return t === 10 && isDate(text.slice(0, 10)) && isTime(text.slice(11));
  },
  duration: (text: string) => DURATION.test(text),
  uri: (text: string) => URI.test(text),
  "uri-reference": (text: string) => URI_REFERENCE.test(text),
  url: (text: string) => URL_PATTERN.test(text),
  email: (text: string) => EMAIL.test(text),
  hostname: (text: string) => HOSTNAME.test(text),
  ipv4: (text: string) => IPV4.test(text),
  ipv6: isIpv6,
  uuid: (text: string) => UUID.test(text),
  regex: isRegex,
  "json-pointer": (text: string) => JSON_POINTER.test(text),
  "relative-json-pointer": (text: string) => RELATIVE_JSON_POINTER.test(text),
  byte: (text: string) => BYTE.test(text),
  int32: (text: string) => inRange(text, 32),
  int64: (text: string) => inRange(text, 64),
  float: (text: string) => FLOAT_TEXT.test(text),
  double: (text: string) => FLOAT_TEXT.test(text),
  // OpenAPI's annotations for UI hints: any string.
  password: () => true,
  binary: () => true,
});

/** The names of `FORMATS`, for build-time checks of `@format`. */
export const FORMAT_NAMES: readonly string[] = Object.freeze(Object.keys(FORMATS));

/**
 * The length of `text` in code points, as JSON Schema's `minLength`/`maxLength` count it
 * (a surrogate pair is one character).
 *
 * @example
 * ```ts
 * codePoints("a😀"); // 2
 * ```
 */
export function codePoints(text: string): number {
  const n = text.length;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
    count++;
  }
  return count;
}

/**
 * True for a plain object: a prototype of `Object.prototype` or `null`. What
 * `Record<K, V>` and index signatures accept (not a `Date`, `Map` or class instance).
 *
 * @example
 * ```ts
 * isPlainObject({}); // true
 * isPlainObject(new Map()); // false
 * ```
 */
export function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * The deepest nesting of recursive types a value may have (see docs/schemas.md): deeper
 * values (and cyclic ones) fail validation with a `ValidationError` instead of running the
 * checks out of stack.
 */
export const MAX_DEPTH = 256;

/** The one `CheckLib`. */
export const CHECK_LIB: CheckLib = Object.freeze({ formats: FORMATS, codePoints, isPlainObject });


/** Keywords that never constrain a value. */
export const ANNOTATIONS: ReadonlySet<string> = new Set(["description", "title", "default", "readOnly", "writeOnly", "examples", "deprecated", "$comment"]);

/**
 * True for a schema every value satisfies (`true`, `{}`, or annotations only).
 *
 * @example
 * ```ts
 * unconstrained({ description: "anything" }); // true
 * ```
 */
export function unconstrained(schema: JsonSchema): boolean {
  if (schema === true) return true;
  if (schema === false) return false;
  return Object.keys(schema).every((k) => ANNOTATIONS.has(k));
}

/**
 * The `$defs` entries that can reach themselves through `$ref`s: recursive types, whose
 * checks count depth.
 *
 * @example
 * ```ts
 * recursiveDefs({ Tree: { type: "object", properties: { kids: { type: "array", items: { $ref: "#/$defs/Tree" } } } } }); // Set { "Tree" }
 * ```
 */
export function recursiveDefs(defs: Readonly<Record<string, JsonSchema>>): ReadonlySet<string> {
  const cached = recursiveCache.get(defs);
  if (cached) return cached;
  const edges = new Map<string, Set<string>>();
  for (const [name, body] of Object.entries(defs)) {
    const out = new Set<string>();
    collectRefs(body, out);
    edges.set(name, out);
  }
  const result = new Set<string>();
  for (const start of edges.keys()) {
    const seen = new Set<string>();
    const stack = [...(edges.get(start) ?? [])];
    while (stack.length > 0) {
      const next = stack.pop()!;
      if (next === start) {
        result.add(start);
        break;
      }
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...(edges.get(next) ?? []));
    }
  }
  recursiveCache.set(defs, result);
  return result;
}

const recursiveCache = new WeakMap<object, ReadonlySet<string>>();

function collectRefs(schema: unknown, out: Set<string>): void {
  if (Array.isArray(schema)) {
    for (const s of schema) collectRefs(s, out);
    return;
  }
  if (typeof schema !== "object" || schema === null) return;
  for (const [key, value] of Object.entries(schema)) {
    if (key === "$ref" && typeof value === "string" && value.startsWith("#/$defs/")) out.add(value.slice("#/$defs/".length));
    else if (key !== "const" && key !== "enum" && key !== "default" && key !== "examples") collectRefs(value, out);
  }
}

