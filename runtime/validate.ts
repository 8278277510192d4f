/**
 * Runtime validation of op inputs and outputs.
 *
 * The checks themselves are generated at build time (transformers/checks.ts writes each
 * site's JSON Schemas out as plain JavaScript, injected as `META.checks` or written by
 * `weft gen` beside the manifest) and built here once per descriptor, by calling them with
 * the vetted format table. Nothing is compiled at run time: no ajv, no `new Function`, so
 * weft runs under `node --disallow-code-generation-from-strings` and a strict CSP.
 *
 * A descriptor without generated checks (one built by hand, or a manifest without its
 * checks module) is checked by `matches`, an interpreter over the same schemas: slower,
 * same answers. Only a failing check walks the schema again (`explain`) to build the
 * `ValidationError`: the JSON path, the expected type in words and a truncated,
 * secret-redacted preview of what was received. The success path allocates nothing.
 *
 * weft's keywords (see docs/schemas.md): `{ "instanceof": "Date" }` (also typed arrays and
 * `ArrayBuffer`), `{ "typeof": "undefined" }`, and `{ "plainObject": true }` (a prototype of
 * `Object.prototype` or `null`, for `Record` and index signatures).
 */
import type { JsonSchema, OpDescriptor, ParamInfo } from "../decorators/descriptor.js";
import { CHECK_LIB, FORMATS, MAX_DEPTH, codePoints, isPlainObject, recursiveDefs, unconstrained, type Check, type InjectedChecks, type SiteChecks } from "../decorators/formats.js";
import { ValidationError, type ValidationIssue } from "./errors.js";
import { REDACTED, redactText, secretName } from "./redact.js";
// The one validation switch (`configure({ validate })`), also for validators already handed out.
import { settings } from "./settings.js";

/** The checks weft runs for one op. A missing member means there is nothing to check. */
export interface Validators {
  /** Throws `ValidationError` when an argument does not match its parameter's schema. */
  readonly input?: (args: readonly unknown[]) => void;
  /** Throws `ValidationError` when the (awaited) result does not match the return schema. */
  readonly output?: (value: unknown) => void;
}

/** Classes the `instanceof` keyword may name: the ones structured clone preserves. */
const CLASSES: Readonly<Record<string, abstract new (...args: never[]) => unknown>> = {
  Date,
  ArrayBuffer,
  Uint8Array,
  Uint8ClampedArray,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
};

const NONE: Validators = Object.freeze({});
const cache = new WeakMap<OpDescriptor, Validators>();
const EMPTY: readonly unknown[] = Object.freeze([]);


/**
 * The input and output checks of an op, built on first use and cached per descriptor.
 * Members are undefined when there is nothing to check (no schema, an unconstrained
 * schema, or `policy.validate === false`), so a caller skips them at no cost.
 *
 * @example
 * ```ts
 * const { input, output } = validatorsFor(desc);
 * input?.(args);                 // throws ValidationError before the body runs
 * const value = await body(...args);
 * output?.(value);               // throws ValidationError naming "return"
 * ```
 */
export function validatorsFor(desc: OpDescriptor): Validators {
  if (desc.policy.validate === false) return NONE;
  let validators = cache.get(desc);
  if (!validators) {
    validators = build(desc);
    cache.set(desc, validators);
  }
  return validators;
}

interface ParamCheck {
  readonly index: number;
  readonly param: ParamInfo;
  readonly schema: JsonSchema;
  readonly check: Check;
}

/**
 * The generated checks of a site, built with the vetted formats; undefined without any.
 *
 * @example
 * ```ts
 * generatedChecks(desc)?.params[0]?.(value); // true when value matches parameter 0
 * ```
 */
export function generatedChecks(desc: { readonly name: string; readonly checks?: InjectedChecks }): SiteChecks | undefined {
  if (desc.checks === undefined) return undefined;
  try {
    return desc.checks(CHECK_LIB);
  } catch (error) {
    throw new Error(`weft: the generated checks of ${desc.name} failed to build (${(error as Error).message}); rebuild with the weft transformer or rerun \`weft gen\``, { cause: error });
  }
}

function build(desc: OpDescriptor): Validators {
  const generated = generatedChecks(desc);
  const defs = desc.defs ?? {};
  const checks: ParamCheck[] = [];
  desc.params.forEach((param, index) => {
    if (param.schema === undefined || unconstrained(param.schema)) return;
    const check = generated ? generated.params[index] : interpreted(desc, param.schema, defs, `parameter "${param.name}"`);
    if (check) checks.push({ index, param, schema: param.schema, check });
  });
  const returnSchema = desc.returns !== undefined && !unconstrained(desc.returns) ? desc.returns : undefined;
  const returns = returnSchema === undefined ? undefined : generated ? (generated.returns ?? undefined) : interpreted(desc, returnSchema, defs, "return value");
  if (checks.length === 0 && !returns) return NONE;
  const input = checks.length === 0 ? undefined : inputCheck(desc, checks);
  const output =
    returns && returnSchema !== undefined
      ? (value: unknown): void => {
          if (settings.validate && !returns(value)) throw failure(desc, "output", "return", value, returnSchema);
        }
      : undefined;
  return { ...(input ? { input } : {}), ...(output ? { output } : {}) };
}

function interpreted(desc: OpDescriptor, schema: JsonSchema, defs: Readonly<Record<string, JsonSchema>>, what: string): Check {
  // Names the interpreter would only meet on some value: refuse them now, not at some later call.
  const unknown = unknownNames({ schema, defs });
  if (unknown) throw new Error(`weft: cannot check the schema of ${desc.name} ${what}: ${unknown}`);
  const walker = new Walker(defs);
  return (value) => walker.matches(schema, value);
}

/**
 * The input check, specialised for the common shapes (one or two plain parameters) so
 * the hot path is a couple of direct calls; the general case loops.
 */
function inputCheck(desc: OpDescriptor, checks: readonly ParamCheck[]): (args: readonly unknown[]) => void {
  const one = (c: ParamCheck): ((args: readonly unknown[]) => void) | undefined => {
    if (c.param.rest === true) return undefined;
    const { index, check, schema } = c;
    const name = c.param.name;
    return c.param.optional === true
      ? (args) => {
          const value = args[index];
          if (value !== undefined && settings.validate && !check(value)) throw failure(desc, "input", name, value, schema);
        }
      : (args) => {
          const value = args[index];
          if (settings.validate && !check(value)) throw failure(desc, "input", name, value, schema);
        };
  };
  if (checks.length === 1) {
    const single = one(checks[0]!);
    if (single) return single;
  }
  if (checks.length === 2) {
    const first = one(checks[0]!);
    const second = one(checks[1]!);
    if (first && second) {
      return (args) => {
        first(args);
        second(args);
      };
    }
  }
  const n = checks.length;
  return (args) => {
    if (!settings.validate) return;
    for (let i = 0; i < n; i++) {
      const c = checks[i]!;
      if (c.param.rest === true) {
        const rest = args.length > c.index ? args.slice(c.index) : EMPTY;
        if (!c.check(rest)) throw failure(desc, "input", c.param.name, rest, c.schema);
        continue;
      }
      const value = args[c.index];
      if (value === undefined && c.param.optional === true) continue;
      if (!c.check(value)) throw failure(desc, "input", c.param.name, value, c.schema);
    }
  };
}

function unknownNames(schema: unknown): string | undefined {
  if (Array.isArray(schema)) {
    for (const s of schema) {
      const found = unknownNames(s);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof schema !== "object" || schema === null) return undefined;
  const s = schema as Schema;
  if (typeof s.format === "string" && !(s.format in FORMATS)) return `unknown format "${s.format}"`;
  if (typeof s.instanceof === "string" && !(s.instanceof in CLASSES)) return `"instanceof" supports ${Object.keys(CLASSES).join(", ")}; got "${s.instanceof}"`;
  for (const [key, value] of Object.entries(s)) {
    if (key === "const" || key === "enum" || key === "default" || key === "examples") continue;
    const found = unknownNames(value);
    if (found) return found;
  }
  return undefined;
}

// ---- the schema walk: the fallback check and the error explanation ----------------

type Schema = { readonly [key: string]: unknown };
type Segment = string | number;

/** Where and why a value does not match: what `explain` returns. */
export interface Mismatch {
  /** Keys and indexes from the root to the failing value. */
  readonly segments: readonly Segment[];
  readonly keyword: string;
  readonly expected: string;
  readonly received: unknown;
}

/**
 * Why `value` does not match `schema` (the first failing keyword, the deepest branch of a
 * failing union), or undefined when it matches. Iterates nothing twice on success and
 * follows recursive types only to `MAX_DEPTH`, naming a cycle when it meets one.
 *
 * @example
 * ```ts
 * explain({ type: "object", properties: { n: { type: "number" } } }, { n: "1" }, {});
 * // { segments: ["n"], keyword: "type", expected: "number", received: "1" }
 * ```
 */
export function explain(schema: JsonSchema, value: unknown, defs: Readonly<Record<string, JsonSchema>>): Mismatch | undefined {
  return new Walker(defs).explain(schema, value);
}

/**
 * True when `value` matches `schema`: the interpreter behind descriptors without generated
 * checks, with the same answers (test/schema/agree.test.ts).
 *
 * @example
 * ```ts
 * matches({ type: "array", items: { type: "string" } }, ["a"], {}); // true
 * ```
 */
export function matches(schema: JsonSchema, value: unknown, defs: Readonly<Record<string, JsonSchema>>): boolean {
  return new Walker(defs).matches(schema, value);
}

class Walker {
  private readonly recursive: ReadonlySet<string>;
  private readonly regexes = new Map<string, RegExp>();
  private readonly path: Segment[] = [];
  private readonly ancestors: { value: object; depth: number }[] = [];
  /** True while `explain` runs (a walker is not re-entrant). */
  busy = false;

  constructor(private readonly defs: Readonly<Record<string, JsonSchema>>) {
    this.recursive = recursiveDefs(defs);
  }

  matches(schema: JsonSchema, value: unknown): boolean {
    this.path.length = 0;
    this.ancestors.length = 0;
    return this.walk(schema, value, 0) === undefined;
  }

  explain(schema: JsonSchema, value: unknown): Mismatch | undefined {
    this.path.length = 0;
    this.ancestors.length = 0;
    this.busy = true;
    try {
      return this.walk(schema, value, 0);
    } finally {
      this.busy = false;
    }
  }

  private miss(keyword: string, expected: string, received: unknown, extra?: Segment): Mismatch {
    const segments = extra === undefined ? [...this.path] : [...this.path, extra];
    return { segments, keyword, expected, received };
  }

  private regex(pattern: string): RegExp {
    let re = this.regexes.get(pattern);
    if (!re) this.regexes.set(pattern, (re = new RegExp(pattern, "u")));
    return re;
  }

  private walk(schema: JsonSchema, v: unknown, d: number): Mismatch | undefined {
    if (schema === true) return undefined;
    if (schema === false) return this.miss("false schema", "nothing (no value is allowed here)", v);
    const s = schema as Schema;
    // The walk allocates nothing on a matching node: it runs on every failure, over the whole value up to the mismatch.
    const type = s.type;
    if (typeof type === "string") {
      if (!hasType(type, v)) return this.miss("type", type, v);
    } else if (Array.isArray(type) && !(type as string[]).some((t) => hasType(t, v))) {
      return this.miss("type", type.join(" | "), v);
    }
    if (s.const !== undefined && v !== s.const) return this.miss("const", JSON.stringify(s.const), v);
    if (Array.isArray(s.enum) && !s.enum.includes(v)) return this.miss("enum", `one of ${s.enum.map((x) => JSON.stringify(x)).join(" | ")}`, v);
    if (typeof s.instanceof === "string") {
      const cls = CLASSES[s.instanceof];
      if (!cls) throw new Error(`weft: "instanceof" supports ${Object.keys(CLASSES).join(", ")}; got "${s.instanceof}"`);
      if (!(v instanceof cls)) return this.miss("instanceof", `a ${s.instanceof}`, v);
    }
    if (s.typeof === "undefined" && v !== undefined) return this.miss("typeof", "undefined", v);
    if (typeof v === "number") {
      if (typeof s.minimum === "number" && !(v >= s.minimum)) return this.miss("minimum", `>= ${s.minimum}`, v);
      if (typeof s.maximum === "number" && !(v <= s.maximum)) return this.miss("maximum", `<= ${s.maximum}`, v);
      if (typeof s.exclusiveMinimum === "number" && !(v > s.exclusiveMinimum)) return this.miss("exclusiveMinimum", `> ${s.exclusiveMinimum}`, v);
      if (typeof s.exclusiveMaximum === "number" && !(v < s.exclusiveMaximum)) return this.miss("exclusiveMaximum", `< ${s.exclusiveMaximum}`, v);
      if (typeof s.multipleOf === "number" && (v / s.multipleOf) % 1 !== 0) return this.miss("multipleOf", `a multiple of ${s.multipleOf}`, v);
    }
    if (typeof v === "string") {
      if (typeof s.minLength === "number" && codePoints(v) < s.minLength) return this.miss("minLength", `at least ${s.minLength} characters`, v);
      if (typeof s.maxLength === "number" && codePoints(v) > s.maxLength) return this.miss("maxLength", `at most ${s.maxLength} characters`, v);
      if (typeof s.pattern === "string" && !this.regex(s.pattern).test(v)) return this.miss("pattern", `a string matching /${s.pattern}/`, v);
      if (typeof s.format === "string") {
        const format = FORMATS[s.format];
        if (!format) throw new Error(`weft: unknown format "${s.format}"`);
        if (!format(v)) return this.miss("format", `a string in "${s.format}" format`, v);
      }
    }
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      const found = this.object(s, v as Record<string, unknown>, d);
      if (found) return found;
    }
    if (Array.isArray(v)) {
      const found = this.array(s, v, d);
      if (found) return found;
    }
    if (typeof s.$ref === "string") {
      const found = this.ref(s.$ref, v, d);
      if (found) return found;
    }
    if (Array.isArray(s.anyOf)) {
      const found = this.anyOf(s, s.anyOf as JsonSchema[], v, d);
      if (found) return found;
    }
    if (Array.isArray(s.oneOf)) return this.oneOf(s, v, d);
    return undefined;
  }

  private ref(ref: string, v: unknown, d: number): Mismatch | undefined {
    const name = ref.slice("#/$defs/".length);
    const body = this.defs[name];
    if (body === undefined) throw new Error(`weft: no $defs entry "${name}"`);
    if (!this.recursive.has(name)) return this.walk(body, v, d);
    if (typeof v === "object" && v !== null) {
      // An ancestor is a value further up the path: the same value met again at the same
      // place (one recursive type naming another, `Node` -> `Pair`) is not a cycle.
      const back = this.ancestors.find((a) => a.value === v && a.depth < this.path.length);
      if (back) return this.miss("cycle", `a value without cycles (${name} is recursive)`, `a reference back to ${formatPath(this.path.slice(0, back.depth))}`);
    }
    if (d + 1 > MAX_DEPTH) return this.miss("depth", `at most ${MAX_DEPTH} levels of nested ${name}`, v);
    const tracked = typeof v === "object" && v !== null;
    if (tracked) this.ancestors.push({ value: v, depth: this.path.length });
    try {
      return this.walk(body, v, d + 1);
    } finally {
      if (tracked) this.ancestors.pop();
    }
  }

  private object(s: Schema, v: Record<string, unknown>, d: number): Mismatch | undefined {
    if (s.plainObject === true && !isPlainObject(v)) return this.miss("plainObject", "a plain object", v);
    const properties = (s.properties ?? {}) as Record<string, JsonSchema>;
    if (Array.isArray(s.required)) {
      for (const key of s.required as string[]) {
        if (v[key] === undefined) return this.miss("required", describeSchema(properties[key] ?? true, this.defs), undefined, key);
      }
    }
    for (const key in properties) {
      const x = v[key];
      if (x === undefined) continue;
      const found = this.at(key, properties[key]!, x, d);
      if (found) return found;
    }
    const patterns = s.patternProperties as Record<string, JsonSchema> | undefined;
    const additional = s.additionalProperties as JsonSchema | undefined;
    if (patterns === undefined && (additional === undefined || unconstrained(additional))) return undefined;
    for (const key in v) {
      let matched = false;
      if (patterns) {
        for (const pattern of Object.keys(patterns)) {
          if (!this.regex(pattern).test(key)) continue;
          matched = true;
          const found = this.at(key, patterns[pattern]!, v[key], d);
          if (found) return found;
        }
      }
      if (matched || additional === undefined || Object.hasOwn(properties, key)) continue;
      if (additional === false) return this.miss("additionalProperties", `no property "${elideKey(key)}" (the type does not declare it)`, v[key], key);
      const found = this.at(key, additional, v[key], d);
      if (found) return found;
    }
    return undefined;
  }

  private array(s: Schema, v: unknown[], d: number): Mismatch | undefined {
    if (typeof s.minItems === "number" && v.length < s.minItems) return this.miss("minItems", `at least ${s.minItems} items`, v);
    if (typeof s.maxItems === "number" && v.length > s.maxItems) return this.miss("maxItems", `at most ${s.maxItems} items`, v);
    const prefix = (s.prefixItems ?? EMPTY) as readonly JsonSchema[];
    for (let i = 0; i < prefix.length && i < v.length; i++) {
      const found = this.at(i, prefix[i]!, v[i], d);
      if (found) return found;
    }
    const items = s.items as JsonSchema | undefined;
    if (items === undefined || unconstrained(items)) return undefined;
    for (let i = prefix.length; i < v.length; i++) {
      const found = this.at(i, items, v[i], d);
      if (found) return found;
    }
    return undefined;
  }

  private at(segment: Segment, schema: JsonSchema, v: unknown, d: number): Mismatch | undefined {
    this.path.push(segment);
    try {
      return this.walk(schema, v, d);
    } finally {
      this.path.pop();
    }
  }

  /** The deepest branch's reason when a branch failed inside the value, else the union in words. */
  private anyOf(s: Schema, branches: readonly JsonSchema[], v: unknown, d: number): Mismatch | undefined {
    let best: Mismatch | undefined;
    for (const branch of branches) {
      const found = this.walk(branch, v, d);
      if (!found) return undefined;
      if (found.segments.length > this.path.length && (!best || found.segments.length > best.segments.length)) best = found;
    }
    return best ?? this.miss("anyOf", describeSchema(s as JsonSchema, this.defs), v);
  }

  private oneOf(s: Schema, v: unknown, d: number): Mismatch | undefined {
    const branches = s.oneOf as JsonSchema[];
    const tag = (s.discriminator as { propertyName?: string } | undefined)?.propertyName;
    if (tag === undefined) {
      let passed = 0;
      let best: Mismatch | undefined;
      for (const branch of branches) {
        const found = this.walk(branch, v, d);
        if (!found) passed++;
        else if (found.segments.length > this.path.length && (!best || found.segments.length > best.segments.length)) best = found;
      }
      if (passed === 1) return undefined;
      return passed > 1 ? this.miss("oneOf", `exactly one of ${describeSchema(s as JsonSchema, this.defs)}`, v) : (best ?? this.miss("oneOf", describeSchema(s as JsonSchema, this.defs), v));
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) return this.miss("type", "object", v);
    const tagValue = (v as Record<string, unknown>)[tag];
    for (const branch of branches) {
      if (tagsOf(branch, tag, this.defs).includes(tagValue)) return this.walk(branch, v, d);
    }
    return this.miss("discriminator", `one of ${branches.flatMap((b) => tagsOf(b, tag, this.defs)).map((x) => JSON.stringify(x)).join(" | ")}`, tagValue, tag);
  }
}

function hasType(type: string, v: unknown): boolean {
  switch (type) {
    case "string":
      return typeof v === "string";
    case "number":
      return Number.isFinite(v);
    case "integer":
      return Number.isInteger(v);
    case "boolean":
      return typeof v === "boolean";
    case "null":
      return v === null;
    case "array":
      return Array.isArray(v);
    case "object":
      return typeof v === "object" && v !== null && !Array.isArray(v);
    default:
      throw new Error(`weft: unknown JSON Schema type "${type}"`);
  }
}

function tagsOf(branch: JsonSchema, tag: string, defs: Readonly<Record<string, JsonSchema>>): unknown[] {
  const body = deref(branch, defs);
  if (typeof body !== "object") return [];
  const prop = (body.properties as Record<string, Schema> | undefined)?.[tag];
  if (!prop) return [];
  if (prop.const !== undefined) return [prop.const];
  return Array.isArray(prop.enum) ? prop.enum : [];
}

// ---- failures ----------------------------------------------------------------------

// A failed check is an expected outcome, not a crash: a short stack is enough to find the caller.
const STACK_FRAMES = 8;

const walkers = new WeakMap<OpDescriptor, Walker>();

/** The descriptor's error walker, kept between failures (its regexes compiled once). */
function walkerOf(desc: OpDescriptor): Walker {
  let walker = walkers.get(desc);
  // A walk in progress (a getter on the failing value that failed a check itself) keeps its own.
  if (walker === undefined || walker.busy) {
    walker = new Walker(desc.defs ?? {});
    if (!walkers.has(desc)) walkers.set(desc, walker);
  }
  return walker;
}

function failure(desc: OpDescriptor, direction: "input" | "output", parameter: string, value: unknown, schema: JsonSchema): ValidationError {
  const found = walkerOf(desc).explain(schema, value);
  const issue: ValidationIssue = found
    ? toIssue(found, direction, parameter)
    : { direction, parameter, path: "$", expected: "a valid value", received: preview(value, secretName(parameter)), keyword: "unknown" };
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = Math.min(limit, STACK_FRAMES);
  try {
    return new ValidationError(desc.name, [issue]);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function toIssue(found: Mismatch, direction: "input" | "output", parameter: string): ValidationIssue {
  const secret = secretName(parameter) || found.segments.some((s) => typeof s === "string" && secretName(s));
  return { direction, parameter, path: formatPath(found.segments), expected: found.expected, received: preview(found.received, secret), keyword: found.keyword };
}

const KEY_LIMIT = 32;
const PATH_LIMIT = 120;

/** A user key as a path shows it: at most 32 characters, and `[redacted]` when it looks like a credential. */
function elideKey(key: string): string {
  const cut = key.length > 10_000 ? key.slice(0, 10_000) : key;
  if (redactText(cut) !== cut) return REDACTED;
  return key.length > KEY_LIMIT ? `${key.slice(0, KEY_LIMIT - 8)}…(${key.length} chars)` : key;
}

/**
 * A JSON path (`$.items[2]["x-id"]`) from keys and indexes, bounded: long keys are elided,
 * credential-shaped keys redacted, and a path over 120 characters keeps its ends.
 *
 * @example
 * ```ts
 * formatPath(["items", 2, "x-id"]); // '$.items[2]["x-id"]'
 * ```
 */
export function formatPath(segments: readonly Segment[]): string {
  const parts = segments.map((s) => {
    if (typeof s === "number") return `[${s}]`;
    const key = elideKey(s);
    return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  });
  let text = `$${parts.join("")}`;
  if (text.length <= PATH_LIMIT) return text;
  let head = "$";
  let i = 0;
  while (i < parts.length && head.length + parts[i]!.length <= PATH_LIMIT / 2) head += parts[i++];
  let tail = "";
  let j = parts.length;
  while (j > i && tail.length + parts[j - 1]!.length <= PATH_LIMIT / 2 - 4) tail = parts[--j] + tail;
  text = `${head}…${tail}`;
  return text;
}

function deref(schema: JsonSchema, defs: Readonly<Record<string, JsonSchema>>): JsonSchema {
  for (let i = 0; i < 10 && typeof schema === "object" && typeof schema.$ref === "string" && schema.$ref.startsWith("#/$defs/"); i++) {
    schema = defs[schema.$ref.slice("#/$defs/".length)] ?? schema;
  }
  return schema;
}

/**
 * A schema in a few words: `string`, `number | null`, `"a" | "b"`, `Rubric`, `string[]`.
 *
 * @example
 * ```ts
 * describeSchema({ anyOf: [{ $ref: "#/$defs/User" }, { type: "null" }] }, {}); // "User | null"
 * ```
 */
export function describeSchema(schema: JsonSchema, defs: Readonly<Record<string, JsonSchema>>, depth = 0): string {
  if (schema === true) return "any value";
  if (schema === false) return "nothing";
  if (typeof schema.$ref === "string") return schema.$ref.replace(/^#\/\$defs\//, "");
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  const union = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(union)) {
    if (depth > 2) return "a union";
    return [...new Set(union.map((s) => describeSchema(s, defs, depth + 1)))].join(" | ");
  }
  if (typeof schema.instanceof === "string") return schema.instanceof;
  if (schema.typeof === "undefined") return "undefined";
  const type = schema.type;
  if (type === "array" && schema.items !== undefined && !Array.isArray(schema.prefixItems) && depth <= 2) {
    const inner = describeSchema(schema.items as JsonSchema, defs, depth + 1);
    return inner.includes(" ") ? `(${inner})[]` : `${inner}[]`;
  }
  if (Array.isArray(type)) return type.join(" | ");
  if (typeof type === "string") return type;
  return "any value";
}

// ---- previews ----------------------------------------------------------------------

const PREVIEW_LIMIT = 80;

/**
 * A short, redacted rendering of a value for error messages: at most about 80
 * characters, secrets (by key name or by shape) replaced with `[redacted]`, cycles cut.
 *
 * @example
 * ```ts
 * preview({ user: "ada", password: "hunter2" }); // '{"user":"ada","password":"[redacted]"}'
 * ```
 */
export function preview(value: unknown, secret = false, limit = PREVIEW_LIMIT): string {
  if (secret && value !== undefined && value !== null) return REDACTED;
  const out: string[] = [];
  let length = 0;
  const seen = new Set<object>();
  const push = (s: string): boolean => {
    out.push(s);
    length += s.length;
    return length <= limit;
  };
  const write = (v: unknown): boolean => {
    switch (typeof v) {
      case "undefined":
        return push("undefined");
      case "string": {
        // Redact before cutting, so a cut never leaves half a key unrecognised.
        const text = redactText(v.length > 10_000 ? v.slice(0, 10_000) : v);
        return push(JSON.stringify(text.length > limit ? text.slice(0, limit) : text));
      }
      case "number":
      case "boolean":
        return push(String(v));
      case "bigint":
        return push(`${v}n`);
      case "symbol":
        return push(v.toString());
      case "function":
        return push(`[function ${v.name || "anonymous"}]`);
      default:
        break;
    }
    if (v === null) return push("null");
    const obj = v as object;
    if (obj instanceof Date) return push(Number.isNaN(obj.getTime()) ? "Invalid Date" : `Date(${obj.toISOString()})`);
    if (seen.has(obj)) return push("[Circular]");
    seen.add(obj);
    if (Array.isArray(obj)) {
      if (!push("[")) return false;
      for (let i = 0; i < obj.length; i++) {
        if ((i > 0 && !push(",")) || !write(obj[i])) return false;
      }
      return push("]");
    }
    if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) return push(`${obj.constructor.name}(${(obj as ArrayBuffer).byteLength} bytes)`);
    const name = obj.constructor && obj.constructor !== Object ? `${obj.constructor.name} ` : "";
    if (!push(`${name}{`)) return false;
    let first = true;
    for (const key of Object.keys(obj)) {
      if ((!first && !push(",")) || !push(`${JSON.stringify(key)}:`)) return false;
      first = false;
      const inner = (obj as Record<string, unknown>)[key];
      if (!(secretName(key) && inner !== undefined && inner !== null ? push(JSON.stringify(REDACTED)) : write(inner))) return false;
    }
    return push("}");
  };
  write(value);
  const text = out.join("");
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}
