/**
 * TypeScript type ➝ JSON Schema (draft 2020-12), as a pure function over a `ts.Program`.
 *
 * The `ts` namespace is a parameter, never a value import: the extractor runs inside
 * whichever TypeScript the user compiles with (5.9 or 6.0 under ts-patch, or the one
 * `weft gen` loads), and two copies of TypeScript must never mix their types.
 *
 * Shape of the output (stable, so the same sources always give the same bytes):
 * - named object types, named non-literal unions and enums go to `$defs` and are
 *   referenced as `{ "$ref": "#/$defs/Name" }`; generic instances get `Name_Arg` names;
 *   a second, different type with a taken name gets `Name_2`;
 * - union members are ordered canonically (not by TypeScript's internal type ids, which
 *   depend on the order files were checked); properties follow their declarations;
 * - what JSON Schema cannot express is reported as a `SchemaIssue`, never widened to `{}`.
 *
 * Two keywords are weft's own, registered in weft's ajv (`runtime/validate.ts`):
 * `{ "instanceof": "Date" }` (also typed arrays and `ArrayBuffer`), because values reach
 * worker threads by structured clone, which keeps these objects as they are; and
 * `{ "typeof": "undefined" }`, for `undefined` where JSON has no word for it (array
 * elements, `T | undefined` returns). Optional properties and parameters need neither.
 */
import type * as TS from "typescript";
import type { JsonSchema } from "../decorators/descriptor.js";
import { FORMAT_NAMES } from "../decorators/formats.js";
import { relativePath } from "./util.js";

type Ts = typeof TS;
type Schema = { [key: string]: unknown };

/** One thing the extractor could not express, with where it sits inside the value. */
export interface SchemaIssue {
  /** Path inside the value, from the parameter name: `rubric.criteria[].weight`. */
  readonly path: string;
  readonly message: string;
  /** Where the offending type or property was written, relative to the root. */
  readonly declaredAt?: { readonly file: string; readonly line: number };
}

/** How a value is used where its schema is asked for. */
export interface SchemaContext {
  /**
   * The value may be missing (an optional property or parameter): `undefined` is dropped
   * from a top-level union, since a missing value is never checked against the schema.
   */
  readonly optional?: boolean;
  /**
   * Where the value is declared (a parameter, a property, a function for `return`): build
   * errors without a declaration of their own say "(declared at ...)" with this.
   */
  readonly declaration?: TS.Node;
  /** The type as written there: a reference to a type alias carries that alias's JSDoc constraints. */
  readonly typeNode?: TS.TypeNode;
}

/** Extracts schemas for many values that share one `$defs` table (one op site). */
export interface SchemaExtractor {
  /** The schema of a value of `type`; `path` names the value in issues (`"rubric"`, `"return"`). */
  schemaOf(type: TS.Type, path: string, context?: SchemaContext): JsonSchema;
  /** Every definition the schemas returned so far refer to, sorted by name. */
  defs(): Record<string, JsonSchema>;
  /** What could not be expressed, in the order found. */
  readonly issues: readonly SchemaIssue[];
  /** Source files (relative to the root, `/`-separated) whose declarations shaped the schemas. */
  files(): string[];
}

/** Options of `createSchemaExtractor`. */
export interface ExtractorOptions {
  /** Directory that file names in issues and `files()` are relative to. */
  readonly root: string;
}

/** Built-in classes kept by structured clone, checked with weft's `instanceof` keyword. */
export const INSTANCEOF_CLASSES: readonly string[] = [
  "Date",
  "ArrayBuffer",
  "Uint8Array",
  "Uint8ClampedArray",
  "Int8Array",
  "Uint16Array",
  "Int16Array",
  "Uint32Array",
  "Int32Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "BigUint64Array",
];

/** `@format` values weft checks: the one vetted set of decorators/formats.ts. */
export const KNOWN_FORMATS: readonly string[] = FORMAT_NAMES;

/** JSDoc tags that become constraints: which JSON type they apply to and how the text parses. */
const CONSTRAINT_TAGS: Readonly<Record<string, { readonly on: "number" | "string" | "array"; readonly value: "number" | "count" | "regex" | "format" }>> = {
  minimum: { on: "number", value: "number" },
  maximum: { on: "number", value: "number" },
  exclusiveMinimum: { on: "number", value: "number" },
  exclusiveMaximum: { on: "number", value: "number" },
  multipleOf: { on: "number", value: "number" },
  minLength: { on: "string", value: "count" },
  maxLength: { on: "string", value: "count" },
  pattern: { on: "string", value: "regex" },
  format: { on: "string", value: "format" },
  minItems: { on: "array", value: "count" },
  maxItems: { on: "array", value: "count" },
};

// A number as JavaScript's `String(n)` writes it, for numeric index signature keys.
const NUMBER_PATTERN = "-?(?:\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?|Infinity)|NaN";
// What TypeScript accepts for a `${number}` hole: text whose `+text` is finite (so `.5`,
// `1e3`, `0x1f` and surrounding white space, but not `NaN`, `Infinity` or nothing at all).
const NUMBER_TEXT_PATTERN =
  "\\s*(?:[+-]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+)\\s*|\\s+";
// What TypeScript accepts for a `${bigint}` hole: an integer literal, optionally negative, in any base.
const BIGINT_TEXT_PATTERN = "-?(?:0|[1-9]\\d*|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+)";

/**
 * Creates an extractor bound to one program. Call `schemaOf` for each parameter and the
 * return type of one op, then read `defs()`, `issues` and `files()`.
 *
 * @example
 * ```ts
 * const x = createSchemaExtractor(ts, program, { root: "/repo" });
 * const schema = x.schemaOf(checker.getTypeAtLocation(node), "rubric");
 * if (x.issues.length === 0) console.log(schema, x.defs());
 * ```
 */
export function createSchemaExtractor(ts: Ts, program: TS.Program, options: ExtractorOptions): SchemaExtractor {
  const checker = program.getTypeChecker();
  const F = ts.TypeFlags;
  const issues: SchemaIssue[] = [];
  const defNames = new Map<TS.Type, string>();
  const defBodies = new Map<string, JsonSchema | undefined>();
  const files = new Set<string>();
  // Anonymous types being converted: meeting one again means a cycle no name can break.
  const inProgress = new Set<TS.Type>();
  let depth = 0;

  function relative(fileName: string): string {
    return relativePath(options.root, fileName);
  }

  function note(symbol: TS.Symbol | undefined): void {
    for (const d of symbol?.declarations ?? []) {
      const sf = d.getSourceFile();
      if (!program.isSourceFileDefaultLibrary(sf)) files.add(relative(sf.fileName));
    }
  }

  function where(node: TS.Node | undefined): SchemaIssue["declaredAt"] {
    if (!node) return undefined;
    const sf = node.getSourceFile();
    if (program.isSourceFileDefaultLibrary(sf)) return undefined;
    return { file: relative(sf.fileName), line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 };
  }

  // Declarations being converted, innermost last: where an error with no node of its own points.
  const declarations: TS.Node[] = [];

  function fail(path: string, message: string, node?: TS.Node): JsonSchema {
    const declaredAt = where(node) ?? where(declarations[declarations.length - 1]);
    issues.push(declaredAt ? { path, message, declaredAt } : { path, message });
    // Never reaches a descriptor: a site with issues gets a build error instead of a schema.
    return false;
  }

  function show(type: TS.Type): string {
    // The structure, not the alias name: `(x: number) => void` says more than `Fn`.
    return checker.typeToString(type, undefined, ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.InTypeAlias);
  }

  /** Declared by the standard library (possibly augmented elsewhere, as @types/node does for typed arrays). */
  function isLib(symbol: TS.Symbol | undefined): boolean {
    return (symbol?.declarations ?? []).some((d) => program.isSourceFileDefaultLibrary(d.getSourceFile()));
  }

  // ---- names -------------------------------------------------------------------------

  function typeArgumentsOf(type: TS.Type): readonly TS.Type[] {
    if (!(type.flags & F.Object) || !((type as TS.ObjectType).objectFlags & ts.ObjectFlags.Reference)) return [];
    const ref = type as TS.TypeReference;
    const count = (ref.target as TS.InterfaceType).typeParameters?.length ?? 0;
    return checker.getTypeArguments(ref).slice(0, count);
  }

  function isAnonymousName(name: string): boolean {
    return name === "__type" || name === "__object" || name === "__function" || name.startsWith("__");
  }

  /** The def name a type would get (before collision suffixes), or undefined to inline it. */
  function baseName(type: TS.Type): string | undefined {
    // Library aliases (Record, Partial, Pick, ...) are inlined: their instances are rarely shared.
    if (type.aliasSymbol && !isAnonymousName(type.aliasSymbol.name) && !isLib(type.aliasSymbol)) {
      return withArgs(type.aliasSymbol.name, type.aliasTypeArguments ?? []);
    }
    const symbol = type.getSymbol();
    if (!symbol || isAnonymousName(symbol.name)) return undefined;
    if (type.flags & F.Union && symbol.flags & ts.SymbolFlags.Enum) return sanitize(symbol.name);
    if (type.flags & F.Object && symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.Class)) {
      return withArgs(symbol.name, typeArgumentsOf(type));
    }
    return undefined;
  }

  function withArgs(name: string, args: readonly TS.Type[]): string {
    return sanitize([name, ...args.map(argName)].join("_"));
  }

  function argName(type: TS.Type): string {
    if (type.flags & (F.StringLiteral | F.NumberLiteral)) return String((type as TS.LiteralType).value);
    if (type.flags & (F.String | F.Number | F.Boolean | F.Null | F.Undefined | F.Any | F.Unknown | F.BooleanLiteral)) return show(type);
    if (checker.isArrayType(type)) return `${argName(typeArgumentsOf(type)[0] ?? type)}Array`;
    return baseName(type) ?? "Anon";
  }

  function sanitize(name: string): string {
    return name.replace(/[^A-Za-z0-9_]+/g, "_").replace(/^_+|_+$/g, "") || "Anon";
  }

  function definition(type: TS.Type, base: string, build: () => JsonSchema, docSymbol: TS.Symbol | undefined): JsonSchema {
    let name = defNames.get(type);
    if (name === undefined) {
      name = base;
      for (let n = 2; defBodies.has(name); n++) name = `${base}_${n}`;
      defNames.set(type, name);
      // Reserve the name first: a recursive reference inside `build` finds it.
      defBodies.set(name, undefined);
      note(docSymbol);
      const doc = docSymbol ? docOf(docSymbol) : undefined;
      const description = doc?.description;
      let body = build();
      if (doc?.tags.some((t) => t.name === "closed")) body = closed(body, base, docSymbol!);
      defBodies.set(name, description && typeof body === "object" ? { description, ...body } : body);
    }
    return { $ref: `#/$defs/${name}` };
  }

  // ---- conversion --------------------------------------------------------------------

  /** `@closed` on an object type: properties it does not declare are rejected. */
  function closed(body: JsonSchema, name: string, symbol: TS.Symbol): JsonSchema {
    if (typeof body !== "object" || body.type !== "object" || body.discriminator !== undefined) {
      return fail(name, `@closed applies to object types (an interface or an object type alias), not \`${name}\``, symbol.declarations?.[0]);
    }
    if (body.additionalProperties !== undefined || body.patternProperties !== undefined) {
      return fail(name, `@closed on \`${name}\`, which has an index signature: its extra keys are already checked; drop @closed`, symbol.declarations?.[0]);
    }
    return { ...body, additionalProperties: false };
  }

  function schemaOf(type: TS.Type, path: string, context: SchemaContext = {}): JsonSchema {
    if (++depth > 100) {
      depth--;
      return fail(path, `type \`${show(type)}\` nests more than 100 levels deep`);
    }
    if (context.declaration) declarations.push(context.declaration);
    try {
      const schema = convert(type, path, context.optional === true);
      const alias = context.typeNode ? aliasOf(context.typeNode) : undefined;
      return alias ? constrain(schema, alias, path, alias.declarations?.[0]) : schema;
    } finally {
      if (context.declaration) declarations.pop();
      depth--;
    }
  }

  /** The type alias a type node refers to (`slug: Slug`), when it is one written in the project. */
  function aliasOf(node: TS.TypeNode): TS.Symbol | undefined {
    let inner = node;
    while (ts.isParenthesizedTypeNode(inner)) inner = inner.type;
    if (!ts.isTypeReferenceNode(inner)) return undefined;
    let symbol = checker.getSymbolAtLocation(inner.typeName);
    if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    if (!symbol || !(symbol.flags & ts.SymbolFlags.TypeAlias) || isLib(symbol)) return undefined;
    return symbol;
  }

  function convert(type: TS.Type, path: string, optional: boolean): JsonSchema {
    const f = type.flags;
    if (f & (F.Any | F.Unknown)) return {};
    if (f & F.Never) return false;
    if (f & F.TypeParameter) {
      return fail(path, `unresolved type parameter \`${show(type)}\`: give the op concrete types (generic ops cannot be checked)`, type.getSymbol()?.declarations?.[0]);
    }
    if (f & (F.BigInt | F.BigIntLiteral)) return fail(path, "`bigint` is not JSON data; use number or a decimal string");
    if (f & (F.ESSymbol | F.UniqueESSymbol)) return fail(path, "`symbol` is not JSON data; use a string");
    if (f & (F.Index | F.IndexedAccess | F.Conditional | F.Substitution)) {
      return fail(path, `unresolved generic type \`${show(type)}\``);
    }
    if (f & F.StringMapping) return fail(path, `string mapping type \`${show(type)}\` cannot be expressed; use string`);
    // `boolean` is the union `true | false`; say it in one word.
    if (f & F.Boolean) return { type: "boolean" };
    if (f & F.Union) return union(type as TS.UnionType, path, optional);
    if (f & F.String) return { type: "string" };
    if (f & F.Number) return { type: "number" };
    if (f & F.Null) return { type: "null" };
    if (f & (F.Undefined | F.Void)) return { typeof: "undefined" };
    if (f & (F.StringLiteral | F.NumberLiteral)) {
      note(type.getSymbol());
      return { const: (type as TS.LiteralType).value };
    }
    if (f & F.BooleanLiteral) return { const: show(type) === "true" };
    if (f & F.TemplateLiteral) return templateLiteral(type as TS.TemplateLiteralType, path);
    if (f & F.NonPrimitive) return { type: ["object", "array"] };
    if (f & F.Intersection) return intersection(type as TS.IntersectionType, path);
    if (f & F.Object) return object(type as TS.ObjectType, path);
    return fail(path, `type \`${show(type)}\` cannot be expressed as JSON Schema`);
  }

  function templateLiteral(type: TS.TemplateLiteralType, path: string): JsonSchema {
    let pattern = `^${escapeRegex(type.texts[0] ?? "")}`;
    for (let i = 0; i < type.types.length; i++) {
      const hole = type.types[i]!;
      if (hole.flags & F.String) pattern += "[\\s\\S]*";
      else if (hole.flags & F.Number) pattern += `(?:${NUMBER_TEXT_PATTERN})`;
      else if (hole.flags & F.BigInt) pattern += `(?:${BIGINT_TEXT_PATTERN})`;
      else if (hole.flags & F.Boolean) pattern += "(?:true|false)";
      else return fail(path, `template literal hole \`${show(hole)}\` in \`${show(type)}\` cannot be expressed`);
      pattern += escapeRegex(type.texts[i + 1] ?? "");
    }
    return { type: "string", pattern: `${pattern}$` };
  }

  function intersection(type: TS.IntersectionType, path: string): JsonSchema {
    // A primitive intersected with object types is a branded primitive (`string & { __brand: "Id" }`):
    // the brand exists only in the type system, so the value is checked as the primitive.
    const primitive = type.types.find((t) => t.flags & (F.String | F.Number | F.Boolean | F.StringLiteral | F.NumberLiteral | F.TemplateLiteral));
    if (primitive) return convert(primitive, path, false);
    // `[number, ...number[]] & number[]`: a tuple or array intersected with arrays is the most specific of them.
    if (type.types.every((t) => checker.isArrayType(t) || checker.isTupleType(t))) {
      return convert(type.types.find((t) => checker.isTupleType(t)) ?? type.types[0]!, path, false);
    }
    const base = baseName(type);
    if (base) return definition(type, base, () => objectBody(type, path), type.aliasSymbol);
    return anonymous(type, path);
  }

  function anonymous(type: TS.Type, path: string): JsonSchema {
    if (inProgress.has(type)) return fail(path, `recursive anonymous type \`${show(type)}\`: give it a name (an interface or type alias)`);
    inProgress.add(type);
    try {
      return objectBody(type, path);
    } finally {
      inProgress.delete(type);
    }
  }

  function union(type: TS.UnionType, path: string, optional: boolean): JsonSchema {
    if (type.types.some((t) => t.flags & (F.ESSymbol | F.UniqueESSymbol))) {
      const origin = (type as { origin?: TS.Type }).origin;
      const ofType = origin && origin.flags & F.Index ? (origin as TS.IndexType).type : undefined;
      if (ofType && (checker.isArrayType(ofType) || checker.isTupleType(ofType))) {
        return fail(path, `\`keyof ${show(ofType)}\` is every key of an array (its indexes, "length", its methods and Symbol.iterator); write the keys you mean as literals, e.g. "0" | "1"`);
      }
      return fail(path, `\`${show(type)}\` includes \`symbol\`, which is not JSON data; use string keys`);
    }
    const symbol = type.getSymbol();
    if (symbol && symbol.flags & ts.SymbolFlags.Enum) {
      return definition(type, baseName(type) ?? sanitize(symbol.name), () => enumBody(type, path, symbol), symbol);
    }
    const base = baseName(type);
    const literalOnly = type.types.every((t) => t.flags & (F.Literal | F.Null | F.Undefined | F.Void | F.String | F.Number | F.Boolean));
    if (literalOnly && type.aliasSymbol && docOf(type.aliasSymbol).tags.some((t) => t.name === "closed")) {
      return fail(type.aliasSymbol.name, `@closed applies to object types (an interface or an object type alias), not \`${type.aliasSymbol.name}\``, type.aliasSymbol.declarations?.[0]);
    }
    if (base && !literalOnly) {
      // A named union is one definition whatever the context: undefined stays a member.
      return definition(type, base, () => unionBody(type.types, path), type.aliasSymbol);
    }
    const members = optional ? type.types.filter((t) => !(t.flags & (F.Undefined | F.Void))) : type.types;
    if (members.length === 1) return convert(members[0]!, path, false);
    return unionBody(members, path);
  }

  function enumBody(type: TS.UnionType, path: string, symbol: TS.Symbol): JsonSchema {
    // Declaration order of the members, which is the enum's own order.
    const members = [...type.types].sort((a, b) => declPos(a.getSymbol()) - declPos(b.getSymbol()));
    const values: (string | number)[] = [];
    for (const m of members) {
      const decl = m.getSymbol()?.valueDeclaration;
      const value = decl && ts.isEnumMember(decl) ? checker.getConstantValue(decl) : (m as TS.LiteralType).value;
      if (typeof value !== "string" && typeof value !== "number") {
        const written = decl && ts.isEnumMember(decl) && decl.initializer ? ` (\`${decl.initializer.getText()}\`)` : "";
        return fail(path, `enum \`${symbol.name}\` member \`${m.getSymbol()?.name ?? "?"}\` has a computed value${written}, which a schema cannot list; give it a string or number literal`, decl);
      }
      values.push(value);
    }
    const kinds = new Set(values.map((v) => typeof v));
    const body: Schema = {};
    if (kinds.size === 1) body.type = kinds.has("string") ? "string" : "number";
    body.enum = values;
    return body;
  }

  function declPos(symbol: TS.Symbol | undefined): number {
    return symbol?.declarations?.[0]?.pos ?? 0;
  }

  function unionBody(types: readonly TS.Type[], path: string): JsonSchema {
    let members = [...types];
    // `boolean` is `true | false` inside a union.
    const hasTrue = members.some((t) => t.flags & F.BooleanLiteral && show(t) === "true");
    const hasFalse = members.some((t) => t.flags & F.BooleanLiteral && show(t) === "false");
    const booleanType = hasTrue && hasFalse ? members.find((t) => t.flags & F.BooleanLiteral) : undefined;
    if (booleanType) members = members.filter((t) => !(t.flags & F.BooleanLiteral));
    members.sort(compareTypes);

    const primitives: string[] = [];
    const literals: unknown[] = [];
    const others: TS.Type[] = [];
    let undefinedMember = false;
    if (booleanType) primitives.push("boolean");
    for (const t of members) {
      if (t.flags & F.String) primitives.push("string");
      else if (t.flags & F.Number) primitives.push("number");
      else if (t.flags & F.Null) primitives.push("null");
      else if (t.flags & (F.Undefined | F.Void)) undefinedMember = true;
      else if (t.flags & (F.StringLiteral | F.NumberLiteral)) literals.push((t as TS.LiteralType).value);
      else if (t.flags & F.BooleanLiteral) literals.push(show(t) === "true");
      else others.push(t);
    }
    primitives.sort(comparePrimitive);

    const branches: JsonSchema[] = [];
    if (others.length === 0 && literals.length > 0) {
      // Literals plus `null`: one enum, the fastest check and the clearest error.
      const values = [...literals];
      if (primitives.length === 1 && primitives[0] === "null") values.push(null);
      else if (primitives.length > 0) branches.push(typeSchema(primitives));
      branches.push(values.length === 1 ? { const: values[0] } : { enum: values });
    } else {
      if (primitives.length > 0) branches.push(typeSchema(primitives));
      if (literals.length > 0) branches.push(literals.length === 1 ? { const: literals[0] } : { enum: literals });
      const objects = others.map((t) => convert(t, path, false));
      const tagged = discriminated(objects);
      if (tagged) branches.push(tagged);
      else branches.push(...objects);
    }
    if (undefinedMember) branches.push({ typeof: "undefined" });
    // Different types can have one schema (an intersection and its parts, say): one branch each.
    const unique = branches.filter((b, i) => branches.findIndex((o) => JSON.stringify(o) === JSON.stringify(b)) === i);
    if (unique.length === 1) return unique[0]!;
    return { anyOf: unique };
  }

  function typeSchema(primitives: readonly string[]): JsonSchema {
    return { type: primitives.length === 1 ? primitives[0] : [...primitives] };
  }

  /** `oneOf` + ajv's `discriminator` when every member is an object tagged by one string literal property. */
  function discriminated(members: readonly JsonSchema[]): JsonSchema | undefined {
    if (members.length < 2) return undefined;
    const bodies = members.map(resolve);
    if (bodies.some((b) => !b || typeof b !== "object" || !b.properties || !Array.isArray(b.required))) return undefined;
    const objects = bodies as { properties: Record<string, Schema>; required: string[] }[];
    for (const tag of Object.keys(objects[0]!.properties)) {
      const seen = new Set<string>();
      const ok = objects.every((o) => {
        const p = o.properties[tag];
        if (!p || !o.required.includes(tag)) return false;
        const values = p.const !== undefined ? [p.const] : Array.isArray(p.enum) ? p.enum : undefined;
        // ajv's discriminator maps non-empty strings; anything else stays a plain anyOf.
        if (!values || values.some((v) => typeof v !== "string" || v === "" || seen.has(v))) return false;
        for (const v of values as string[]) seen.add(v);
        return true;
      });
      if (ok) return { type: "object", discriminator: { propertyName: tag }, oneOf: [...members] };
    }
    return undefined;
  }

  function resolve(schema: JsonSchema): Schema | undefined {
    if (typeof schema !== "object") return undefined;
    const ref = schema.$ref;
    if (typeof ref !== "string") return schema as Schema;
    const body = defBodies.get(ref.slice("#/$defs/".length));
    return body && typeof body === "object" ? (body as Schema) : undefined;
  }

  function object(type: TS.ObjectType, path: string): JsonSchema {
    if (checker.isTupleType(type)) return tuple(type as TS.TupleTypeReference, path);
    if (checker.isArrayType(type)) {
      const item = typeArgumentsOf(type)[0];
      const items = item ? schemaOf(item, `${path}[]`) : {};
      return isTrue(items) ? { type: "array" } : { type: "array", items };
    }
    const symbol = type.getSymbol();
    if (symbol && symbol.flags & ts.SymbolFlags.ValueModule && symbol.escapedName === "globalThis") {
      return fail(path, "`typeof globalThis` is the global object, not data; pass the values the op needs");
    }
    if (symbol && !isLib(symbol) && checker.isArrayLikeType(type)) {
      // `interface Row extends Array<number> {}`: an array, unless the interface adds members of its own.
      const own = checker.getPropertiesOfType(type).filter((p) => !isLib(p));
      if (own.length > 0) {
        return fail(path, `\`${symbol.name}\` extends an array type and adds ${own.map((p) => p.name).slice(0, 3).join(", ")}, which JSON arrays cannot carry; use the array type itself, or an object with an array property`, own[0]!.declarations?.[0]);
      }
      const element = checker.getIndexInfosOfType(type).find((i) => i.keyType.flags & F.Number)?.type;
      const build = (): JsonSchema => {
        const items = element ? schemaOf(element, `${path}[]`) : {};
        return isTrue(items) ? { type: "array" } : { type: "array", items };
      };
      const base = baseName(type);
      return base ? definition(type, base, build, symbol) : build();
    }
    if (symbol && isLib(symbol)) {
      if (INSTANCEOF_CLASSES.includes(symbol.name)) return { instanceof: symbol.name };
      if (symbol.name === "Promise" || symbol.name === "PromiseLike") {
        return fail(path, "a Promise is only unwrapped as an op's return type; await it before passing it on");
      }
      if (symbol.name === "Map" || symbol.name === "ReadonlyMap") return fail(path, `\`${show(type)}\` is not JSON data; use Record<K, V> or an array of entries`);
      if (symbol.name === "Set" || symbol.name === "ReadonlySet") return fail(path, `\`${show(type)}\` is not JSON data; use an array`);
    }
    if (checker.getSignaturesOfType(type, ts.SignatureKind.Call).length > 0 || checker.getSignaturesOfType(type, ts.SignatureKind.Construct).length > 0) {
      return fail(path, `function types are not supported (\`${show(type)}\`); pass data, or type it \`unknown\` to skip checking`, symbol?.declarations?.[0]);
    }
    const base = baseName(type);
    if (base) return definition(type, base, () => objectBody(type, path), type.aliasSymbol ?? symbol);
    return anonymous(type, path);
  }

  function isTrue(schema: JsonSchema): boolean {
    return schema === true || (typeof schema === "object" && Object.keys(schema).length === 0);
  }

  function tuple(type: TS.TupleTypeReference, path: string): JsonSchema {
    const flags = type.target.elementFlags;
    const elements = checker.getTypeArguments(type).slice(0, flags.length);
    const prefixItems: JsonSchema[] = [];
    let minItems = 0;
    let rest: JsonSchema | undefined;
    for (let i = 0; i < flags.length; i++) {
      const flag = flags[i]!;
      const element = elements[i]!;
      if (flag & ts.ElementFlags.Variable) {
        if (i !== flags.length - 1) return fail(path, `tuple \`${show(type)}\` has a rest element before its end, which JSON Schema cannot express`);
        if (flag & ts.ElementFlags.Variadic) return fail(`${path}[${i}]`, `unresolved variadic element in \`${show(type)}\``);
        rest = schemaOf(element, `${path}[${i}...]`);
        continue;
      }
      if (flag & ts.ElementFlags.Required) minItems = i + 1;
      prefixItems.push(schemaOf(element, `${path}[${i}]`, { optional: (flag & ts.ElementFlags.Optional) !== 0 }));
    }
    const schema: Schema = { type: "array" };
    if (prefixItems.length > 0) schema.prefixItems = prefixItems;
    if (rest !== undefined) {
      if (!isTrue(rest)) schema.items = rest;
    } else {
      schema.maxItems = prefixItems.length;
    }
    if (minItems > 0) schema.minItems = minItems;
    return schema;
  }

  function objectBody(type: TS.Type, path: string): JsonSchema {
    const symbol = type.getSymbol();
    const props = checker.getPropertiesOfType(type).filter((p) => !p.name.startsWith("__#"));
    if (symbol && symbol.flags & ts.SymbolFlags.Class) {
      const methods = props.filter((p) => p.flags & (ts.SymbolFlags.Method | ts.SymbolFlags.Accessor)).map((p) => p.name);
      if (methods.length > 0) {
        return fail(
          path,
          `instances of class \`${symbol.name}\` carry methods (${methods.slice(0, 3).join(", ")}), which JSON Schema cannot express; pass plain data (an interface or type), or type it \`unknown\` to skip checking`,
          symbol.declarations?.[0],
        );
      }
    }
    if (symbol && isLib(symbol) && props.some((p) => p.flags & ts.SymbolFlags.Method)) {
      return fail(path, `built-in \`${show(type)}\` is not JSON data`);
    }
    const methods = props.filter((p) => p.flags & ts.SymbolFlags.Method);
    if (methods.length > 0) {
      // One error for the whole type: its methods are the reason, not each in turn.
      const names = methods.map((m) => m.name);
      return fail(
        path,
        `methods are not JSON data (${names.slice(0, 3).join(", ")}${names.length > 3 ? ", ..." : ""} in \`${show(type)}\`); pass plain data, or type it \`unknown\` to skip checking`,
        methods[0]!.declarations?.[0],
      );
    }
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const prop of [...props].sort(compareSymbols)) {
      const at = `${path}.${prop.name}`;
      if (prop.name.startsWith("__@")) {
        // TypeScript's internal name is `__@iterator@12`; the source says `[Symbol.iterator]`.
        const decl = prop.declarations?.[0] as TS.NamedDeclaration | undefined;
        const written = decl?.name ? decl.name.getText() : "[symbol]";
        fail(`${path}${written}`, "symbol-keyed properties are not JSON data", decl);
        continue;
      }
      note(prop);
      const optional = (prop.flags & ts.SymbolFlags.Optional) !== 0;
      const propType = checker.getTypeOfSymbol(prop);
      // ajv treats an undefined property as absent: `a: T | undefined` is an optional `T`.
      const absentOk = optional || acceptsUndefined(ts, propType);
      // `shape?: Shape` reads as `Circle | Square | undefined`, which has lost the name `Shape`.
      const described = (absentOk ? declaredType(ts, checker, prop) : undefined) ?? propType;
      const decl = prop.valueDeclaration ?? prop.declarations?.[0];
      const typeNode = decl && (ts.isPropertySignature(decl) || ts.isPropertyDeclaration(decl)) ? decl.type : undefined;
      properties[prop.name] = annotate(schemaOf(described, at, { optional: absentOk, ...(decl ? { declaration: decl } : {}), ...(typeNode ? { typeNode } : {}) }), prop, at);
      if (!absentOk) required.push(prop.name);
    }
    const schema: Schema = { type: "object" };
    if (Object.keys(properties).length > 0) schema.properties = properties;
    if (required.length > 0) schema.required = required;
    const indexInfos = checker.getIndexInfosOfType(type);
    // A `Record` or index signature is a plain object: not a Date, Map, typed array or class instance.
    if (indexInfos.length > 0 && !(symbol && symbol.flags & ts.SymbolFlags.Class)) schema.plainObject = true;
    for (const info of indexInfos) {
      const key = info.keyType;
      const value = schemaOf(info.type, `${path}[${show(key)}]`, { optional: true });
      if (key.flags & F.String) {
        if (!isTrue(value)) schema.additionalProperties = value;
      } else if (key.flags & F.Number) {
        addPattern(schema, `^(?:${NUMBER_PATTERN})$`, value);
      } else if (key.flags & F.TemplateLiteral) {
        const keySchema = templateLiteral(key as TS.TemplateLiteralType, `${path}[key]`);
        if (typeof keySchema === "object" && typeof keySchema.pattern === "string") addPattern(schema, keySchema.pattern, value);
      } else {
        fail(`${path}[${show(key)}]`, `index signatures keyed by \`${show(key)}\` are not JSON data`, info.declaration);
      }
    }
    return schema;
  }

  function addPattern(schema: Schema, pattern: string, value: JsonSchema): void {
    const patterns = (schema.patternProperties ?? {}) as Record<string, JsonSchema>;
    patterns[pattern] = value;
    schema.patternProperties = patterns;
  }

  // ---- JSDoc -------------------------------------------------------------------------

  function documentation(symbol: TS.Symbol): string | undefined {
    const text = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
    return text === "" ? undefined : text;
  }

  /** Description, readOnly and JSDoc constraints of a property, on top of its type's schema. */
  function annotate(schema: JsonSchema, prop: TS.Symbol, path: string): JsonSchema {
    if (typeof schema !== "object") return schema;
    const extra: Schema = {};
    const doc = docOf(prop);
    if (doc.description) extra.description = doc.description;
    const decl = prop.declarations?.[0];
    if (decl && ts.getCombinedModifierFlags(decl as TS.Declaration) & ts.ModifierFlags.Readonly) extra.readOnly = true;
    const out = constrain(schema, prop, path, decl, doc.tags);
    return typeof out === "object" ? { ...extra, ...out } : out;
  }

  /** `schema` with the JSDoc constraints of `symbol` (a property, or a type alias the value is written as) applied. */
  function constrain(schema: JsonSchema, symbol: TS.Symbol, path: string, decl: TS.Node | undefined, tags = docOf(symbol).tags): JsonSchema {
    if (typeof schema !== "object") return schema;
    let out: Schema = { ...schema };
    for (const tag of tags) {
      const text = tag.text;
      if (tag.name === "default") {
        out.default = parseDefault(text, out, path, decl);
        continue;
      }
      if (tag.name === "integer") {
        if (!applies(out, "number")) fail(path, `@integer applies to numbers, but this is ${describe(out)}`, decl);
        else out = { ...out, type: Array.isArray(out.type) ? out.type.map((t) => (t === "number" ? "integer" : t)) : "integer" };
        continue;
      }
      const rule = CONSTRAINT_TAGS[tag.name];
      if (!rule) continue;
      if (!applies(out, rule.on)) {
        const hint = out.instanceof === "Date" && rule.on === "string" ? "; a `Date` is checked as a Date object: type it `string` to check text in that format" : "";
        fail(path, `@${tag.name} applies to ${rule.on === "array" ? "arrays" : `${rule.on}s`}, but this is ${describe(out)}${hint}`, decl);
        continue;
      }
      const value = parseTagValue(tag.name, rule.value, text, path, decl);
      if (value !== undefined) out[tag.name] = value;
    }
    return out;
  }

  /**
   * A symbol's doc comment: TypeScript's, or, where TypeScript attached none, a `/** ... *\/`
   * written on the same line right before the declaration (`a: number; /** @minimum 0 *\/ b: number`),
   * which TypeScript leaves unattached.
   */
  function docOf(symbol: TS.Symbol): { readonly description?: string; readonly tags: readonly { readonly name: string; readonly text: string }[] } {
    const tags = symbol.getJsDocTags(checker).map((t) => ({ name: t.name, text: ts.displayPartsToString(t.text).trim() }));
    const description = documentation(symbol);
    if (tags.length > 0 || description !== undefined) return { ...(description !== undefined ? { description } : {}), tags };
    const decl = symbol.declarations?.[0];
    if (!decl) return { tags };
    const sf = decl.getSourceFile();
    const trivia = sf.text.slice(decl.pos, decl.getStart(sf));
    const match = /\/\*\*((?:[^*]|\*(?!\/))*)\*\/\s*$/.exec(trivia);
    if (!match) return { tags };
    const body = match[1]!
      .split("\n")
      .map((line) => line.replace(/^\s*\*?\s?/, ""))
      .join("\n");
    const parts = body.split(/(?:^|\s)(?=@[A-Za-z]+)/);
    const text = parts[0]!.startsWith("@") ? "" : parts.shift()!.trim();
    const parsed = parts.map((part) => {
      const m = /^@([A-Za-z]+)\s*([\s\S]*)$/.exec(part)!;
      return { name: m[1]!, text: m[2]!.trim() };
    });
    return { ...(text !== "" ? { description: text } : {}), tags: parsed };
  }

  function applies(schema: Schema, on: "number" | "string" | "array"): boolean {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    return types.includes(on) || (on === "number" && types.includes("integer"));
  }

  function describe(schema: Schema): string {
    if (schema.$ref) return `\`${String(schema.$ref).slice("#/$defs/".length)}\``;
    if (typeof schema.instanceof === "string") return `a \`${schema.instanceof}\``;
    if (schema.type) return `a value of type ${JSON.stringify(schema.type)}`;
    if (schema.enum || schema.const !== undefined) return "a literal type";
    if (schema.anyOf || schema.oneOf) return "a union of several types";
    return "a value of no single type";
  }

  function parseTagValue(name: string, kind: "number" | "count" | "regex" | "format", text: string, path: string, decl: TS.Node | undefined): unknown {
    switch (kind) {
      case "number":
      case "count": {
        const n = Number(text);
        if (text === "" || !Number.isFinite(n) || (kind === "count" && (!Number.isInteger(n) || n < 0))) {
          fail(path, `@${name} needs ${kind === "count" ? "a non-negative integer" : "a number"}, got "${text}"`, decl);
          return undefined;
        }
        return n;
      }
      case "regex":
        try {
          // ajv compiles patterns with the `u` flag: check them the same way now, not at first call.
          new RegExp(text, "u");
          return text;
        } catch (e) {
          fail(path, `@pattern ${text} is not a valid regular expression: ${(e as Error).message}`, decl);
          return undefined;
        }
      case "format":
        if (!KNOWN_FORMATS.includes(text)) {
          fail(path, `@format "${text}" is unknown; use one of ${KNOWN_FORMATS.join(", ")}`, decl);
          return undefined;
        }
        return text;
      default: {
        const never: never = kind;
        return never;
      }
    }
  }

  function parseDefault(text: string, schema: Schema, path: string, decl: TS.Node | undefined): unknown {
    try {
      return JSON.parse(text);
    } catch {
      // `@default en` on a string property means the string "en".
      if (applies(schema, "string")) return text;
      fail(path, `@default ${text} is not a JSON value`, decl);
      return undefined;
    }
  }

  // ---- ordering ----------------------------------------------------------------------

  function compareSymbols(a: TS.Symbol, b: TS.Symbol): number {
    const da = a.declarations?.[0];
    const db = b.declarations?.[0];
    if (da && db) {
      const fa = relative(da.getSourceFile().fileName);
      const fb = relative(db.getSourceFile().fileName);
      if (fa !== fb) return fa < fb ? -1 : 1;
      if (da.pos !== db.pos) return da.pos - db.pos;
    } else if (da || db) {
      return da ? -1 : 1;
    }
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  }

  /** A total order on union members that does not depend on TypeScript's type ids. */
  function compareTypes(a: TS.Type, b: TS.Type): number {
    const ra = rank(a);
    const rb = rank(b);
    if (ra !== rb) return ra - rb;
    if (a.flags & (F.StringLiteral | F.NumberLiteral) && b.flags & (F.StringLiteral | F.NumberLiteral)) {
      const va = (a as TS.LiteralType).value;
      const vb = (b as TS.LiteralType).value;
      if (typeof va === "number" && typeof vb === "number") return va - vb;
      if (typeof va !== typeof vb) return typeof va === "number" ? -1 : 1;
      return va < vb ? -1 : va > vb ? 1 : 0;
    }
    const ka = typeKey(a);
    const kb = typeKey(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  }

  // Primitives, then literals, then arrays and tuples, then other objects.
  function rank(t: TS.Type): number {
    if (t.flags & (F.String | F.Number | F.Boolean | F.Null | F.Undefined | F.Void)) return 0;
    if (t.flags & (F.StringLiteral | F.NumberLiteral | F.BooleanLiteral)) return 1;
    if (checker.isArrayType(t) || checker.isTupleType(t)) return 2;
    return 3;
  }

  function typeKey(t: TS.Type): string {
    const name = baseName(t) ?? "";
    const decl = (t.aliasSymbol ?? t.getSymbol())?.declarations?.[0];
    const at = decl ? `${relative(decl.getSourceFile().fileName)}:${String(decl.pos).padStart(9, "0")}` : "";
    return `${name}\u0000${at}\u0000${show(t)}`;
  }

  return {
    schemaOf,
    defs() {
      const out: Record<string, JsonSchema> = {};
      for (const name of [...defBodies.keys()].sort()) {
        const body = defBodies.get(name);
        if (body !== undefined) out[name] = body;
      }
      return out;
    },
    get issues() {
      return issues;
    },
    files() {
      return [...files].sort();
    },
  };
}

/**
 * True when `undefined` is a value of `type` (`any`, `unknown`, `void`, or a union with
 * `undefined`): such a property or parameter may be left out.
 *
 * @example
 * ```ts
 * acceptsUndefined(ts, checker.getTypeAtLocation(param)); // true for `x: string | undefined`
 * ```
 */
export function acceptsUndefined(ts: Ts, type: TS.Type): boolean {
  const F = ts.TypeFlags;
  if (type.flags & (F.Any | F.Unknown | F.Undefined | F.Void)) return true;
  return !!(type.flags & F.Union) && (type as TS.UnionType).types.some((t) => t.flags & (F.Undefined | F.Void));
}

/**
 * The type written on a property or parameter declaration, without `undefined`, before
 * TypeScript adds `undefined` for `?` (which rebuilds a union and drops its alias name).
 * For optional values only, where a missing value is never checked. Only for the
 * declaration's own symbol: an instantiated one (a property of `Box<number>`) has a
 * declared type that still mentions the type parameter.
 *
 * @example
 * ```ts
 * declaredType(ts, checker, propSymbol) ?? checker.getTypeOfSymbol(propSymbol);
 * ```
 */
export function declaredType(ts: Ts, checker: TS.TypeChecker, symbol: TS.Symbol): TS.Type | undefined {
  const decl = symbol.valueDeclaration;
  if (!decl || !(ts.isPropertySignature(decl) || ts.isPropertyDeclaration(decl) || ts.isParameter(decl)) || !decl.type) return undefined;
  if (ts.isParameter(decl) && decl.dotDotDotToken) return undefined;
  const own = decl.name && !ts.isObjectBindingPattern(decl.name) && !ts.isArrayBindingPattern(decl.name) ? checker.getSymbolAtLocation(decl.name) : undefined;
  if (own !== symbol) return undefined;
  // `t: Shape | undefined` written out: the one other member is the type that has a name.
  let node: TS.TypeNode = decl.type;
  while (ts.isParenthesizedTypeNode(node)) node = node.type;
  if (ts.isUnionTypeNode(node)) {
    const defined = node.types.filter((t) => t.kind !== ts.SyntaxKind.UndefinedKeyword && t.kind !== ts.SyntaxKind.VoidKeyword);
    if (defined.length === 1) node = defined[0]!;
  }
  return checker.getTypeFromTypeNode(node);
}

const PRIMITIVE_ORDER = ["string", "number", "integer", "boolean", "null"];
function comparePrimitive(a: string, b: string): number {
  return PRIMITIVE_ORDER.indexOf(a) - PRIMITIVE_ORDER.indexOf(b);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
