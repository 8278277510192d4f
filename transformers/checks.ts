/**
 * Generated checks: the JSON Schemas of one site (as `schema.ts` derived them from the
 * types) written out as plain JavaScript at build time, so validating costs a few
 * `typeof`s and loops, and nothing is compiled at run time (no ajv, no `new Function`).
 *
 * The schemas are the only input: a check is the schema's meaning in code, keyword by
 * keyword, so the two cannot disagree (test/schema/agree.test.ts runs both on every
 * golden fixture). The output is the source of one function expression,
 * `function (F) { ...; return { params: [...], returns: ... }; }`, the `InjectedChecks` of
 * `decorators/formats.ts`: the runtime calls it once with the vetted format table.
 *
 * Shape of the code: one function per `$defs` entry (one per named type) and per object,
 * array or tagged union inside it, each taking the value and the recursion depth; scalar
 * checks are inlined. Only functions of recursive types count depth, and stop at
 * `MAX_DEPTH` (a cyclic value therefore fails too; the error walk says which it was).
 *
 * Semantics match ajv's draft 2020-12 validator for these keywords (a property whose value
 * is `undefined` is absent, `number` means finite, lengths count code points), plus weft's
 * keywords `instanceof`, `typeof` and `plainObject` (see docs/schemas.md).
 */
import type { JsonSchema, ParamInfo } from "../decorators/descriptor.js";
import { ANNOTATIONS, FORMAT_NAMES, MAX_DEPTH, recursiveDefs, unconstrained } from "../decorators/formats.js";

type Schema = { readonly [key: string]: unknown };

/** What the checks of one site are generated from. */
export interface CheckSource {
  readonly params: readonly ParamInfo[];
  readonly returns?: JsonSchema;
  readonly defs?: Readonly<Record<string, JsonSchema>>;
}

/** Every keyword a check understands; anything else in a schema is an extractor bug. */
const KEYWORDS = new Set([
  "type", "const", "enum", "anyOf", "oneOf", "discriminator", "$ref", "properties", "required", "additionalProperties",
  "patternProperties", "plainObject", "items", "prefixItems", "minItems", "maxItems", "minimum", "maximum",
  "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "format", "instanceof", "typeof",
]);

/**
 * The source of the site's `InjectedChecks` function, or undefined when nothing is checked.
 *
 * @example
 * ```ts
 * const source = checksSource({ params: [{ name: "n", schema: { type: "number" } }] });
 * // "function (F) { ... return { params: [function (v) { return Number.isFinite(v); }] }; }"
 * ```
 */
export function checksSource(site: CheckSource): string | undefined {
  const gen = new Generator(site.defs ?? {});
  const params = site.params.map((p) => (p.schema === undefined || unconstrained(p.schema) ? "null" : gen.entry(p.schema)));
  const returns = site.returns === undefined || unconstrained(site.returns) ? undefined : gen.entry(site.returns);
  if (returns === undefined && params.every((p) => p === "null")) return undefined;
  return gen.finish(params, returns);
}

class Generator {
  private readonly lines: string[] = [];
  private readonly hoisted: string[] = [];
  private readonly defFns = new Map<string, string>();
  private readonly recursive: ReadonlySet<string>;
  private readonly constants = new Map<string, string>();
  private counter = 0;

  constructor(private readonly defs: Readonly<Record<string, JsonSchema>>) {
    this.recursive = recursiveDefs(defs);
  }

  entry(schema: JsonSchema): string {
    return `function (v) { return ${this.expr(schema, "v", "0")}; }`;
  }

  finish(params: readonly string[], returns: string | undefined): string {
    const body = [
      '"use strict";',
      ...this.hoisted,
      ...this.lines,
      `return { params: [${params.join(", ")}]${returns === undefined ? "" : `, returns: ${returns}`} };`,
    ];
    return `function (F) {\n${body.map((l) => `  ${l}`).join("\n")}\n}`;
  }

  private name(prefix: string): string {
    return `${prefix}${this.counter++}`;
  }

  /** A value computed once when the checks are built (a RegExp, a Set, a format). */
  private constant(key: string, prefix: string, init: string): string {
    let name = this.constants.get(key);
    if (name === undefined) {
      name = this.name(prefix);
      this.constants.set(key, name);
      this.hoisted.push(`var ${name} = ${init};`);
    }
    return name;
  }

  private defFunction(name: string): string {
    let fn = this.defFns.get(name);
    if (fn === undefined) {
      fn = this.name(`t_${name.replace(/[^A-Za-z0-9_]/g, "_")}_`);
      this.defFns.set(name, fn);
      const body = this.defs[name];
      if (body === undefined) throw new Error(`weft: no $defs entry "${name}"`);
      if (this.recursive.has(name)) {
        this.lines.push(`function ${fn}(v, d) { if (++d > ${MAX_DEPTH}) return false; return ${this.expr(body, "v", "d")}; }`);
      } else {
        const test = this.expr(body, "v", "d");
        // A named type that is one object, array or union function is that function: no trampoline.
        const direct = /^([A-Za-z_$][\w$]*)\(v, d\)$/.exec(test);
        if (direct) this.defFns.set(name, (fn = direct[1]!));
        else this.lines.push(`function ${fn}(v, d) { return ${test}; }`);
      }
    }
    return fn;
  }

  /** A boolean expression: `v` (an identifier or member read, evaluated once) matches `schema`. */
  expr(schema: JsonSchema, v: string, d: string): string {
    if (schema === true) return "true";
    if (schema === false) return "false";
    const s = schema as Schema;
    for (const key of Object.keys(s)) {
      if (!KEYWORDS.has(key) && !ANNOTATIONS.has(key)) throw new Error(`weft: generated checks do not support the schema keyword "${key}"`);
    }
    if (unconstrained(s)) return "true";
    const parts: string[] = [];
    const types = s.type === undefined ? undefined : Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    const objectish = hasAny(s, ["properties", "required", "additionalProperties", "patternProperties", "plainObject"]);
    const arrayish = hasAny(s, ["items", "prefixItems", "minItems", "maxItems"]);
    const numeric = hasAny(s, ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"]);
    const stringy = hasAny(s, ["minLength", "maxLength", "pattern", "format"]);
    const needsVar = (objectish || arrayish || s.oneOf !== undefined) || (numeric && stringy);
    if (needsVar && !/^[A-Za-z_$][\w$]*$/.test(v)) {
      // Read the value once: hand it to a function.
      const fn = this.name("f");
      this.lines.push(`function ${fn}(v, d) { return ${this.expr(schema, "v", "d")}; }`);
      return `${fn}(${v}, ${d})`;
    }
    // The type keyword, unless the keyword-specific function checks it anyway.
    const typeDoneByObject = objectish && types?.length === 1 && types[0] === "object";
    const typeDoneByArray = arrayish && types?.length === 1 && types[0] === "array";
    // A tagged union's function rejects non-objects itself.
    const typeDoneByUnion = !typeDoneByObject && !objectish && types?.length === 1 && types[0] === "object" && Array.isArray(s.oneOf) && discriminatorOf(s) !== undefined;
    if (types && !typeDoneByObject && !typeDoneByArray && !typeDoneByUnion) parts.push(or(types.map((t) => typeTest(t, v))));
    if (s.const !== undefined) parts.push(`${v} === ${literal(s.const)}`);
    if (Array.isArray(s.enum)) parts.push(this.enumTest(s.enum, v));
    if (typeof s.instanceof === "string") parts.push(`${v} instanceof ${instanceClass(s.instanceof)}`);
    if (s.typeof !== undefined) {
      if (s.typeof !== "undefined") throw new Error(`weft: "typeof" supports "undefined"; got ${JSON.stringify(s.typeof)}`);
      parts.push(`${v} === undefined`);
    }
    if (numeric) parts.push(guard(types, "number", v, this.numberTests(s, v)));
    if (stringy) parts.push(guard(types, "string", v, this.stringTests(s, v)));
    if (objectish) {
      const fn = this.objectFunction(s, typeDoneByObject);
      parts.push(`${fn}(${v}, ${d})`);
    }
    if (arrayish) {
      const fn = this.arrayFunction(s, typeDoneByArray);
      parts.push(`${fn}(${v}, ${d})`);
    }
    if (typeof s.$ref === "string") {
      const ref = s.$ref;
      if (!ref.startsWith("#/$defs/")) throw new Error(`weft: generated checks resolve only local "#/$defs/" references, not "${ref}"`);
      parts.push(`${this.defFunction(ref.slice("#/$defs/".length))}(${v}, ${d})`);
    }
    if (Array.isArray(s.anyOf)) parts.push(or((s.anyOf as JsonSchema[]).map((b) => this.expr(b, v, d))));
    if (Array.isArray(s.oneOf)) parts.push(this.oneOf(s, v, d));
    return parts.length === 0 ? "true" : and(parts);
  }

  private enumTest(values: readonly unknown[], v: string): string {
    if (values.length <= 6) return or(values.map((x) => `${v} === ${literal(x)}`));
    const set = this.constant(`enum:${JSON.stringify(values)}`, "e", `new Set(${JSON.stringify(values)})`);
    return `${set}.has(${v})`;
  }

  private numberTests(s: Schema, v: string): string {
    const tests: string[] = [];
    if (typeof s.minimum === "number") tests.push(`${v} >= ${literal(s.minimum)}`);
    if (typeof s.maximum === "number") tests.push(`${v} <= ${literal(s.maximum)}`);
    if (typeof s.exclusiveMinimum === "number") tests.push(`${v} > ${literal(s.exclusiveMinimum)}`);
    if (typeof s.exclusiveMaximum === "number") tests.push(`${v} < ${literal(s.exclusiveMaximum)}`);
    if (typeof s.multipleOf === "number") tests.push(`(${v} / ${literal(s.multipleOf)}) % 1 === 0`);
    return and(tests);
  }

  private stringTests(s: Schema, v: string): string {
    const tests: string[] = [];
    // `length` counts UTF-16 units, at least the code points and at most twice them: count only when that cannot decide.
    if (typeof s.minLength === "number" && s.minLength > 0) tests.push(`(${v}.length >= ${s.minLength * 2} || (${v}.length >= ${s.minLength} && F.codePoints(${v}) >= ${s.minLength}))`);
    if (typeof s.maxLength === "number") tests.push(`(${v}.length <= ${s.maxLength} || F.codePoints(${v}) <= ${s.maxLength})`);
    if (typeof s.pattern === "string") {
      const re = this.constant(`re:${s.pattern}`, "r", `new RegExp(${JSON.stringify(s.pattern)}, "u")`);
      tests.push(`${re}.test(${v})`);
    }
    if (typeof s.format === "string") {
      if (!FORMAT_NAMES.includes(s.format)) throw new Error(`weft: unknown format "${s.format}"`);
      const fmt = this.constant(`fmt:${s.format}`, "fmt", `F.formats[${JSON.stringify(s.format)}]`);
      tests.push(`${fmt}(${v})`);
    }
    return and(tests);
  }

  private objectFunction(s: Schema, checkType: boolean): string {
    const fn = this.name("o");
    const body: string[] = [];
    if (checkType) body.push(`if (typeof v !== "object" || v === null || Array.isArray(v)) return false;`);
    else body.push(`if (typeof v !== "object" || v === null || Array.isArray(v)) return true;`);
    body.push("var x;", ...this.objectStatements(s), "return true;");
    this.lines.push(`function ${fn}(v, d) { ${body.join(" ")} }`);
    return fn;
  }

  /**
   * The statements checking object `v` (already known to be a non-array object) against
   * `s`'s object keywords, each returning false on a mismatch; `checked` names properties
   * the caller has already checked (a union's tag). They assign `x`, which the caller declares.
   */
  private objectStatements(s: Schema, checked: ReadonlySet<string> = new Set()): string[] {
    const body: string[] = [];
    if (s.plainObject === true) body.push(`if (!F.isPlainObject(v)) return false;`);
    const properties = (s.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((s.required ?? []) as string[]);
    for (const key of [...required]) {
      if (!(key in properties) && !checked.has(key)) body.push(`if (${member("v", key)} === undefined) return false;`);
    }
    for (const [key, prop] of Object.entries(properties)) {
      if (checked.has(key)) continue;
      const test = this.expr(prop, "x", "d");
      body.push(`x = ${member("v", key)};`);
      if (required.has(key)) {
        const rejectsUndefined = typeof prop === "object" && (prop.type !== undefined || prop.const !== undefined || prop.enum !== undefined || prop.instanceof !== undefined);
        body.push(rejectsUndefined ? `if (!(${test})) return false;` : `if (x === undefined || !(${test})) return false;`);
      } else if (test !== "true") {
        body.push(`if (x !== undefined && !(${test})) return false;`);
      }
    }
    const patterns = Object.entries((s.patternProperties ?? {}) as Record<string, JsonSchema>);
    const additional = s.additionalProperties as JsonSchema | undefined;
    const checksAdditional = additional !== undefined && !unconstrained(additional);
    if (patterns.length > 0 || checksAdditional) {
      const known = Object.keys(properties);
      const loop: string[] = [];
      if (known.length > 0 && checksAdditional) loop.push(`if (${or(known.map((k) => `k === ${JSON.stringify(k)}`))}) continue;`);
      if (patterns.length > 0) loop.push("var m = false;");
      for (const [pattern, value] of patterns) {
        const re = this.constant(`re:${pattern}`, "r", `new RegExp(${JSON.stringify(pattern)}, "u")`);
        const test = this.expr(value, "x", "d");
        // ajv applies `patternProperties` to every matching key, `properties` or not.
        loop.push(`if (${re}.test(k)) { ${checksAdditional ? "m = true; " : ""}x = v[k]; if (!(${test})) return false; }`);
      }
      if (checksAdditional) {
        const pre = patterns.length > 0 ? "if (m) continue; " : "";
        if (additional === false) loop.push(`${pre}return false;`);
        else loop.push(`${pre}x = v[k]; if (!(${this.expr(additional, "x", "d")})) return false;`);
      }
      body.push(`for (var k in v) { ${loop.join(" ")} }`);
    }
    return body;
  }

  private arrayFunction(s: Schema, checkType: boolean): string {
    const fn = this.name("a");
    const body: string[] = [];
    body.push(checkType ? "if (!Array.isArray(v)) return false;" : "if (!Array.isArray(v)) return true;");
    body.push("var n = v.length;");
    if (typeof s.minItems === "number" && s.minItems > 0) body.push(`if (n < ${s.minItems}) return false;`);
    if (typeof s.maxItems === "number") body.push(`if (n > ${s.maxItems}) return false;`);
    const prefix = (s.prefixItems ?? []) as JsonSchema[];
    body.push("var x;");
    prefix.forEach((item, i) => {
      const test = this.expr(item, "x", "d");
      if (test !== "true") body.push(`if (n > ${i}) { x = v[${i}]; if (!(${test})) return false; }`);
    });
    const items = s.items as JsonSchema | undefined;
    if (items !== undefined && !unconstrained(items)) {
      body.push(`for (var i = ${prefix.length}; i < n; i++) { x = v[i]; if (!(${this.expr(items, "x", "d")})) return false; }`);
    }
    body.push("return true;");
    this.lines.push(`function ${fn}(v, d) { ${body.join(" ")} }`);
    return fn;
  }

  /** A tagged union: the tag picks the one branch (ajv's `discriminator`); otherwise exactly one branch. */
  private oneOf(s: Schema, v: string, d: string): string {
    const branches = s.oneOf as JsonSchema[];
    const tag = (s.discriminator as { propertyName?: string } | undefined)?.propertyName;
    const fn = this.name("u");
    if (tag === undefined) {
      const tests = branches.map((b) => this.expr(b, "v", "d"));
      this.lines.push(`function ${fn}(v, d) { var c = 0; ${tests.map((t) => `if (${t}) c++;`).join(" ")} return c === 1; }`);
      return `${fn}(${v}, ${d})`;
    }
    // The tag is read once and picks the branch; an object branch's checks are written into
    // its case (no call per branch, the tag not tested again), anything else is called.
    const cases: string[] = [];
    for (const branch of branches) {
      const values = tagValues(branch, tag, this.defs);
      if (values.length === 0) throw new Error(`weft: a discriminated branch has no "${tag}" value`);
      const labels = values.map((x) => `case ${literal(x)}:`).join(" ");
      const body = this.inlineBranch(branch, tag, values.length);
      cases.push(body === undefined ? `${labels} return ${this.expr(branch, "v", "d")};` : `${labels} { ${[...body, "return true;"].join(" ")} }`);
    }
    this.lines.push(
      `function ${fn}(v, d) { if (typeof v !== "object" || v === null || Array.isArray(v)) return false; var x; switch (${member("v", tag)}) { ${cases.join(" ")} default: return false; } }`,
    );
    return `${fn}(${v}, ${d})`;
  }

  /**
   * The statements of a tagged union's branch written into its case, when the branch is a
   * plain object schema (inline, or a named type that is not recursive: those count depth
   * in their own function); undefined otherwise. The case label already matched the tag.
   */
  private inlineBranch(branch: JsonSchema, tag: string, tags: number): string[] | undefined {
    let body = branch;
    if (typeof body === "object" && typeof body.$ref === "string" && Object.keys(body).every((k) => k === "$ref" || ANNOTATIONS.has(k))) {
      const name = body.$ref.startsWith("#/$defs/") ? body.$ref.slice("#/$defs/".length) : undefined;
      if (name === undefined || this.recursive.has(name) || this.defs[name] === undefined) return undefined;
      body = this.defs[name]!;
    }
    if (typeof body !== "object") return undefined;
    const s = body as Schema;
    const objectKeys = ["type", "properties", "required", "additionalProperties", "patternProperties", "plainObject"];
    if (s.type !== "object" || !Object.keys(s).every((k) => objectKeys.includes(k) || ANNOTATIONS.has(k))) return undefined;
    // The tag's own schema is what the case labels say (its const, or an enum of exactly those values).
    const prop = (s.properties as Record<string, Schema> | undefined)?.[tag];
    const exact = prop !== undefined && Object.keys(prop).every((k) => ANNOTATIONS.has(k) || k === "const" || k === "enum") && (prop.const !== undefined ? prop.enum === undefined : Array.isArray(prop.enum) && prop.enum.length === tags);
    return this.objectStatements(s, exact ? new Set([tag]) : new Set());
  }
}

function discriminatorOf(s: Schema): string | undefined {
  return (s.discriminator as { propertyName?: string } | undefined)?.propertyName;
}

/** The values a branch allows for its tag property. */
function tagValues(branch: JsonSchema, tag: string, defs: Readonly<Record<string, JsonSchema>>): unknown[] {
  let body = branch;
  for (let i = 0; i < 10 && typeof body === "object" && typeof body.$ref === "string"; i++) body = defs[body.$ref.slice("#/$defs/".length)] ?? false;
  if (typeof body !== "object") return [];
  const prop = (body.properties as Record<string, Schema> | undefined)?.[tag];
  if (!prop) return [];
  if (prop.const !== undefined) return [prop.const];
  return Array.isArray(prop.enum) ? prop.enum : [];
}

function hasAny(s: Schema, keys: readonly string[]): boolean {
  return keys.some((k) => s[k] !== undefined);
}

function typeTest(type: string, v: string): string {
  switch (type) {
    case "string":
      return `typeof ${v} === "string"`;
    case "number":
      return `Number.isFinite(${v})`;
    case "integer":
      return `Number.isInteger(${v})`;
    case "boolean":
      return `typeof ${v} === "boolean"`;
    case "null":
      return `${v} === null`;
    case "array":
      return `Array.isArray(${v})`;
    case "object":
      return `(typeof ${v} === "object" && ${v} !== null && !Array.isArray(${v}))`;
    default:
      throw new Error(`weft: unknown JSON Schema type "${type}"`);
  }
}

/** Type-specific keywords apply only to values of that type (JSON Schema's rule). */
function guard(types: readonly string[] | undefined, on: "number" | "string", v: string, test: string): string {
  const only = types !== undefined && types.every((t) => (on === "number" ? t === "number" || t === "integer" : t === on));
  if (only) return test;
  return `(${on === "number" ? `typeof ${v} !== "number"` : `typeof ${v} !== "string"`} || (${test}))`;
}

const INSTANCE_CLASSES = new Set([
  "Date", "ArrayBuffer", "Uint8Array", "Uint8ClampedArray", "Int8Array", "Uint16Array", "Int16Array", "Uint32Array",
  "Int32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
]);

function instanceClass(name: string): string {
  if (!INSTANCE_CLASSES.has(name)) throw new Error(`weft: "instanceof" supports ${[...INSTANCE_CLASSES].join(", ")}; got "${name}"`);
  return name;
}

function member(v: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${v}.${key}` : `${v}[${JSON.stringify(key)}]`;
}

function literal(value: unknown): string {
  if (typeof value === "number") {
    if (Object.is(value, -0)) return "-0";
    return Number.isFinite(value) ? String(value) : "NaN";
  }
  if (typeof value === "string" || typeof value === "boolean" || value === null) return JSON.stringify(value);
  throw new Error(`weft: generated checks compare only strings, numbers, booleans and null, not ${JSON.stringify(value)}`);
}

function and(parts: readonly string[]): string {
  const kept = parts.filter((p) => p !== "true");
  if (kept.includes("false")) return "false";
  if (kept.length === 0) return "true";
  return kept.length === 1 ? kept[0]! : kept.map(wrap).join(" && ");
}

function or(parts: readonly string[]): string {
  if (parts.includes("true")) return "true";
  const kept = parts.filter((p) => p !== "false");
  if (kept.length === 0) return "false";
  return kept.length === 1 ? kept[0]! : `(${kept.map(wrap).join(" || ")})`;
}

// Parenthesised whenever it is more than a call or a name: redundant parentheses cost nothing.
function wrap(expr: string): string {
  return /^[\w$.]+(\([\w$, ]*\))?$/.test(expr) ? expr : `(${expr})`;
}
