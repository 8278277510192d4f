/**
 * Runtime validation of op inputs and outputs against the descriptor's JSON Schemas.
 *
 * One shared Ajv (draft 2020-12, strict, ajv-formats, weft's two keywords); one compiled
 * function per parameter and one for the return value, built on an op's first call and
 * cached per descriptor. The success path allocates nothing: a loop over precompiled
 * functions. Only a failure builds a `ValidationError`, with a JSON path, the expected
 * type in words and a truncated, secret-redacted preview of what was received.
 *
 * weft's keywords (see docs/schemas.md):
 * - `{ "instanceof": "Date" }`: the value is a `Date` (also typed arrays and `ArrayBuffer`).
 *   Structured clone keeps these objects, so a `Date` reaches a worker thread as a `Date`,
 *   and a string is not silently accepted in its place.
 * - `{ "typeof": "undefined" }`: the value is `undefined`, for `T | undefined` where a
 *   missing property or parameter is not the question (array elements, return values).
 *
 * Ajv runs strict, except `strictTuples`: TypeScript tuples with optional or rest elements
 * are variable-length on purpose, which is exactly what that check flags. The schemas
 * always carry `minItems` (and `maxItems` when there is no rest element).
 */
import AjvModule, { _, type KeywordCxt, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import formatsModule from "ajv-formats";
import type { JsonSchema, OpDescriptor, ParamInfo } from "../decorators/descriptor.js";
import { ValidationError, type ValidationIssue } from "./errors.js";
import { REDACTED, redactText, secretName } from "./redact.js";

// ajv and ajv-formats are CommonJS with a `default` that is the export itself; this works
// whether the importer sees `module.exports` (Node) or the namespace (bundlers).
const Ajv2020 = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as unknown as typeof AjvModule.default;
const addFormats = ((formatsModule as unknown as { default?: unknown }).default ?? formatsModule) as unknown as typeof formatsModule.default;
type Ajv = InstanceType<typeof Ajv2020>;

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

/**
 * A new Ajv configured exactly as weft's runtime uses it: draft 2020-12, strict (but for
 * `strictTuples`), ajv-formats, the `discriminator` keyword, and weft's `instanceof` and
 * `typeof` keywords. Exported for tests and tools that want to check a schema the way
 * the runtime will.
 *
 * @example
 * ```ts
 * const check = createAjv().compile({ type: "object", properties: { at: { instanceof: "Date" } } });
 * check({ at: new Date() }); // true
 * ```
 */
export function createAjv(): Ajv {
  const ajv = new Ajv2020({
    strict: true,
    strictTuples: false,
    allowUnionTypes: true,
    discriminator: true,
    allErrors: false,
    // Errors carry the failing schema and value: only the failure path reads them.
    verbose: true,
    messages: false,
  });
  addFormats(ajv);
  ajv.addKeyword({
    keyword: "instanceof",
    schemaType: "string",
    code(cxt: KeywordCxt) {
      const name = cxt.schema as string;
      const cls = CLASSES[name];
      if (!cls) throw new Error(`weft: "instanceof" supports ${Object.keys(CLASSES).join(", ")}; got "${name}"`);
      const ref = cxt.gen.scopeValue("keyword", { ref: cls });
      cxt.fail(_`!(${cxt.data} instanceof ${ref})`);
    },
  });
  ajv.addKeyword({
    keyword: "typeof",
    schemaType: "string",
    code(cxt: KeywordCxt) {
      if (cxt.schema !== "undefined") throw new Error(`weft: "typeof" supports "undefined"; got "${String(cxt.schema)}"`);
      cxt.fail(_`${cxt.data} !== undefined`);
    },
  });
  return ajv;
}

let shared: Ajv | undefined;
let enabled = true;
const NONE: Validators = Object.freeze({});
const cache = new WeakMap<OpDescriptor, Validators>();
const EMPTY: readonly unknown[] = Object.freeze([]);

/**
 * Turns validation on or off for every op, effective immediately (also for validators
 * already handed out). Per op, `op({ validate: false }, fn)` turns it off for that op.
 *
 * @example
 * ```ts
 * setValidation(false); // e.g. in a hot loop whose inputs are already trusted
 * try { await pipeline(items); } finally { setValidation(true); }
 * ```
 */
export function setValidation(on: boolean): void {
  enabled = on;
}

/**
 * Whether validation is globally on.
 *
 * @example
 * ```ts
 * if (!validationEnabled()) console.warn("weft validation is off");
 * ```
 */
export function validationEnabled(): boolean {
  return enabled;
}

/**
 * The input and output checks of an op, compiled on first use and cached per descriptor.
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
  readonly validate: ValidateFunction;
}

function build(desc: OpDescriptor): Validators {
  const checks: ParamCheck[] = [];
  desc.params.forEach((param, index) => {
    if (param.schema === undefined || unconstrained(param.schema)) return;
    checks.push({ index, param, validate: compile(desc, param.schema, `parameter "${param.name}"`) });
  });
  const returns = desc.returns !== undefined && !unconstrained(desc.returns) ? compile(desc, desc.returns, "return value") : undefined;
  if (checks.length === 0 && !returns) return NONE;
  const input = checks.length === 0 ? undefined : inputCheck(desc, checks);
  const output = returns
    ? (value: unknown): void => {
        if (enabled && !returns(value)) throw failure(desc, "output", "return", value, returns);
      }
    : undefined;
  return { ...(input ? { input } : {}), ...(output ? { output } : {}) };
}

/**
 * The input check, specialised for the common shapes (one or two plain parameters) so
 * the hot path is a couple of direct calls; the general case loops.
 */
function inputCheck(desc: OpDescriptor, checks: readonly ParamCheck[]): (args: readonly unknown[]) => void {
  const one = (check: ParamCheck): ((args: readonly unknown[]) => void) | undefined => {
    if (check.param.rest === true) return undefined;
    const { index, validate } = check;
    const name = check.param.name;
    return check.param.optional === true
      ? (args) => {
          const value = args[index];
          if (value !== undefined && enabled && !validate(value)) throw failure(desc, "input", name, value, validate);
        }
      : (args) => {
          const value = args[index];
          if (enabled && !validate(value)) throw failure(desc, "input", name, value, validate);
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
    if (!enabled) return;
    for (let i = 0; i < n; i++) {
      const check = checks[i]!;
      if (check.param.rest === true) {
        const rest = args.length > check.index ? args.slice(check.index) : EMPTY;
        if (!check.validate(rest)) throw failure(desc, "input", check.param.name, rest, check.validate);
        continue;
      }
      const value = args[check.index];
      if (value === undefined && check.param.optional === true) continue;
      if (!check.validate(value)) throw failure(desc, "input", check.param.name, value, check.validate);
    }
  };
}

const ANNOTATIONS = new Set(["description", "title", "default", "readOnly", "writeOnly", "examples", "deprecated", "$comment"]);

/** True for a schema every value satisfies (`true`, `{}`, or annotations only). */
function unconstrained(schema: JsonSchema): boolean {
  if (schema === true) return true;
  if (schema === false) return false;
  return Object.keys(schema).every((k) => ANNOTATIONS.has(k));
}

function compile(desc: OpDescriptor, schema: JsonSchema, what: string): ValidateFunction {
  shared ??= createAjv();
  const full = typeof schema === "object" && desc.defs && Object.keys(desc.defs).length > 0 ? { ...schema, $defs: desc.defs } : schema;
  try {
    return shared.compile(full as object | boolean);
  } catch (error) {
    throw new Error(`weft: cannot compile the schema of ${desc.name} ${what}: ${(error as Error).message}`, { cause: error });
  }
}

// ---- failures ----------------------------------------------------------------------

function failure(desc: OpDescriptor, direction: "input" | "output", parameter: string, value: unknown, validate: ValidateFunction): ValidationError {
  const errors = validate.errors ?? [];
  const error = pickError(errors);
  const issue = error
    ? describeError(error, direction, parameter, value, desc.defs ?? {})
    : { direction, parameter, path: "$", expected: "a valid value", received: preview(value, secretName(parameter)), keyword: "unknown" };
  return new ValidationError(desc.name, [issue]);
}

/**
 * The most useful of ajv's errors. With `allErrors: false` the last error is the one that
 * stopped validation; when that is an `anyOf` whose branches failed deeper inside the
 * value, the deepest branch error says more ("$.user.age: expected number") than the union.
 */
function pickError(errors: readonly ErrorObject[]): ErrorObject | undefined {
  const last = errors[errors.length - 1];
  if (!last || (last.keyword !== "anyOf" && last.keyword !== "oneOf")) return last;
  let best: ErrorObject | undefined;
  for (const e of errors) {
    if (e === last || !e.instancePath.startsWith(last.instancePath) || e.instancePath.length <= last.instancePath.length) continue;
    if (!best || e.instancePath.length > best.instancePath.length) best = e;
  }
  return best ?? last;
}

function describeError(error: ErrorObject, direction: "input" | "output", parameter: string, root: unknown, defs: Readonly<Record<string, JsonSchema>>): ValidationIssue {
  const segments = error.instancePath === "" ? [] : error.instancePath.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  let path = "$";
  let at: unknown = root;
  let secret = secretName(parameter);
  for (const segment of segments) {
    path += Array.isArray(at) ? `[${segment}]` : member(segment);
    secret ||= secretName(segment);
    at = at !== null && typeof at === "object" ? (at as Record<string, unknown>)[segment] : undefined;
  }
  const params = error.params as Record<string, unknown>;
  let expected: string;
  let received: unknown = error.data;
  switch (error.keyword) {
    case "required": {
      const missing = String(params.missingProperty);
      path += member(missing);
      secret ||= secretName(missing);
      const properties = (error.parentSchema as { properties?: Record<string, JsonSchema> } | undefined)?.properties;
      const schema = properties?.[missing];
      expected = schema === undefined ? "a value" : describeSchema(schema, defs);
      received = undefined;
      break;
    }
    case "discriminator": {
      const tag = String(params.tag);
      path += member(tag);
      expected = `one of ${tagValues(error.parentSchema, tag, defs)}`;
      received = params.tagValue;
      break;
    }
    default:
      expected = expectedWords(error, defs);
  }
  return { direction, parameter, path, expected, received: preview(received, secret), keyword: error.keyword };
}

function member(key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function expectedWords(error: ErrorObject, defs: Readonly<Record<string, JsonSchema>>): string {
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "type":
      return Array.isArray(error.schema) ? (error.schema as string[]).join(" | ") : String(error.schema ?? p.type);
    case "const":
      return JSON.stringify(p.allowedValue);
    case "enum":
      return `one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(" | ")}`;
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return `${String(p.comparison)} ${String(p.limit)}`;
    case "multipleOf":
      return `a multiple of ${String(p.multipleOf)}`;
    case "minLength":
      return `at least ${String(p.limit)} characters`;
    case "maxLength":
      return `at most ${String(p.limit)} characters`;
    case "minItems":
      return `at least ${String(p.limit)} items`;
    case "maxItems":
    case "items":
      return `at most ${String(p.limit)} items`;
    case "pattern":
      return `a string matching /${String(p.pattern)}/`;
    case "format":
      return `a string in "${String(p.format)}" format`;
    case "instanceof":
      return `a ${String(error.schema)}`;
    case "typeof":
      return "undefined";
    case "false schema":
      return "nothing (this value cannot have any value)";
    case "anyOf":
    case "oneOf":
      return describeSchema(error.parentSchema as JsonSchema, defs);
    default:
      return `a value satisfying "${error.keyword}"`;
  }
}

function tagValues(parent: unknown, tag: string, defs: Readonly<Record<string, JsonSchema>>): string {
  const oneOf = (parent as { oneOf?: JsonSchema[] } | undefined)?.oneOf ?? [];
  const values: unknown[] = [];
  for (const member of oneOf) {
    const body = deref(member, defs) as { properties?: Record<string, { const?: unknown; enum?: unknown[] }> };
    const prop = body?.properties?.[tag];
    if (prop?.const !== undefined) values.push(prop.const);
    else if (prop?.enum) values.push(...prop.enum);
  }
  return values.map((v) => JSON.stringify(v)).join(" | ");
}

function deref(schema: JsonSchema, defs: Readonly<Record<string, JsonSchema>>): JsonSchema {
  if (typeof schema === "object" && typeof schema.$ref === "string" && schema.$ref.startsWith("#/$defs/")) {
    return defs[schema.$ref.slice("#/$defs/".length)] ?? schema;
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
// Secret names and shapes have one authority, the redactor; re-exported for this module's callers.
export { secretName, redactText };

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
