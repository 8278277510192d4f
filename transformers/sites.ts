/**
 * Finds the op sites of a source file and computes what each one gets injected: the
 * `InjectedMeta` of `decorators/descriptor.ts`, minus the locator's module expression,
 * which depends on the emitted module format and is added by the transformer (or, for
 * `weft gen` manifests, by the runtime from the registering module's URL).
 *
 * Pure over a `ts.Program`: the transformer and `weft gen` both call `findOpSites`, which
 * is what makes their descriptors identical.
 */
import { untraceableUses, type UntraceableUse } from "./jit-check.js";
import type * as TS from "typescript";
import type { JsonSchema, ParamInfo, SourceLocation } from "../decorators/descriptor.js";
import type { SiteKind, SiteMeta } from "../decorators/manifest-format.js";
import { callForm } from "../decorators/options.js";
import { checksSource } from "./checks.js";
import { acceptsUndefined, createSchemaExtractor, declaredType, type SchemaIssue } from "./schema.js";
import { contentHash, relativePath } from "./util.js";

type Ts = typeof TS;

/** The standard library's async iterable types an op may return as a stream of checked items. */
const STREAM_TYPES = new Set(["AsyncIterable", "AsyncIterableIterator", "AsyncGenerator", "AsyncIteratorObject", "ReadableStream"]);
/** Where a stream type may be declared besides the default library: Node's types (its web `ReadableStream`). */
const NODE_TYPES = /[\\/]node_modules[\\/]@types[\\/]node[\\/]/;

/**
 * How the site receives META:
 * `call` = `op(fn)` / `op(options, fn)` / `vmap(f, opts?)`, `decorator` = `@op`,
 * `decorator-call` = `@op(options)`.
 */
export type SiteForm = "call" | "decorator" | "decorator-call";

/** One `op()` / `@op` / `jit()` / `@jit` / `vmap()` / `@vmap` site. */
export interface OpSite {
  readonly kind: SiteKind;
  readonly form: SiteForm;
  /** The call that gets META as its last argument, or the decorator that becomes a call. */
  readonly node: TS.CallExpression | TS.Decorator;
  readonly meta: SiteMeta;
  /** Build errors: schemas this site cannot have. When non-empty, nothing is injected. */
  readonly errors: readonly string[];
  /**
   * For an op site with schemas: the source of its generated checks (`InjectedChecks`, a
   * JavaScript function expression), injected as `META.checks`. Derived from `meta` only.
   */
  readonly checks?: string;
  /** Files (relative to the root) whose declarations shaped this site's schemas, its own included. */
  readonly files: readonly string[];
  /** First and last line (1-based) of the site: the call, or the decorator through the method. */
  readonly span: readonly [number, number];
  /** For a method site: the class's name and lines, and the method's name. */
  readonly owner?: { readonly name?: string; readonly member?: string; readonly span: readonly [number, number] };
}

/** Options of `findOpSites`. */
export interface SiteOptions {
  /** Directory that `source.file` and `files` are relative to: the tsconfig's directory. */
  readonly root: string;
}

/** Build errors reported per site, at most. */
const MAX_ERRORS = 5;

const TAGS: Readonly<Record<string, SiteKind>> = { weftOp: "op", weftJit: "jit", weftVmap: "vmap" };

/**
 * Every op site of `sourceFile`, in source order. Callees are matched by symbol: an
 * identifier (or namespace member) whose declaration, through any aliases and re-exports,
 * carries the JSDoc tag `@weftOp`, `@weftJit` or `@weftVmap`.
 *
 * @example
 * ```ts
 * for (const site of findOpSites(ts, program, program.getSourceFile("/repo/src/ops.ts")!, { root: "/repo" })) {
 *   console.log(site.kind, site.meta.name, site.errors);
 * }
 * ```
 */
export function findOpSites(ts: Ts, program: TS.Program, sourceFile: TS.SourceFile, options: SiteOptions): OpSite[] {
  const checker = program.getTypeChecker();
  const kinds = kindCache(checker);
  const modelsMarks = new Map<TS.Symbol, boolean>();
  const sites: OpSite[] = [];

  function calleeKind(expression: TS.Expression): SiteKind | undefined {
    const callee = skipOuter(expression);
    let symbol: TS.Symbol | undefined;
    if (ts.isIdentifier(callee)) {
      symbol = checker.getSymbolAtLocation(callee);
    } else if (ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression)) {
      // Only `namespace.member`: resolving arbitrary `obj.method` would type-check every call.
      const owner = checker.getSymbolAtLocation(callee.expression);
      const target = owner && owner.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(owner) : owner;
      if (target && target.flags & (ts.SymbolFlags.ValueModule | ts.SymbolFlags.NamespaceModule)) symbol = checker.getSymbolAtLocation(callee.name);
    }
    if (!symbol) return undefined;
    if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    if (kinds.has(symbol)) return kinds.get(symbol) ?? undefined;
    let kind: SiteKind | undefined;
    for (const decl of symbol.declarations ?? []) kind ??= markerOf(decl);
    kinds.set(symbol, kind ?? null);
    return kind;
  }

  /**
   * The site kind a declaration's doc comment marks. Read from the comment text, not with
   * `ts.getJSDocTags`: tsc and tspc (TypeScript >= 5.3) skip JSDoc parsing in .ts and .d.ts
   * files (`jsDocParsingMode`), so parsed tags are empty in real builds.
   */
  function markerOf(decl: TS.Declaration): SiteKind | undefined {
    const file = decl.getSourceFile();
    for (const range of ts.getLeadingCommentRanges(file.text, decl.getFullStart()) ?? []) {
      const match = /@(weftOp|weftJit|weftVmap)\b/.exec(file.text.slice(range.pos, range.end));
      if (match) return TAGS[match[1]!];
    }
    return undefined;
  }

  /** True when the last argument already is an injected META literal (the file was transformed before). */
  function hasMeta(args: readonly TS.Expression[]): boolean {
    const last = args[args.length - 1];
    return (
      last !== undefined &&
      ts.isObjectLiteralExpression(last) &&
      last.properties.some((p) => p.name !== undefined && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) && p.name.text === "__weft")
    );
  }

  function visit(node: TS.Node): void {
    if (ts.isDecorator(node)) {
      visitDecorator(node);
    } else if (ts.isCallExpression(node) && !ts.isDecorator(node.parent)) {
      visitCall(node);
    }
    ts.forEachChild(node, visit);
  }

  /**
   * True for `models.object(...)` where `models` is the export marked `@weftModels`, and for
   * any `x.object<T>(...)` whose `object` is a member marked `@weftObject` (a model
   * instance's: `models.instance(id).object<T>(prompt)`, `this.judge.object<T>(...)`).
   */
  function isModelsObject(call: TS.CallExpression): boolean {
    const callee = skipOuter(call.expression);
    if (!ts.isPropertyAccessExpression(callee) || callee.name.text !== "object") return false;
    // Only with a type argument is there a schema to inject, and only then is the member resolved.
    if (call.typeArguments !== undefined && isMarkedObjectMember(callee)) return true;
    if (!ts.isIdentifier(callee.expression)) return false;
    let symbol = checker.getSymbolAtLocation(callee.expression);
    if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    if (!symbol) return false;
    let marked = modelsMarks.get(symbol);
    if (marked === undefined) {
      marked = (symbol.declarations ?? []).some((decl) => {
        // The tag sits on the variable statement: `/** @weftModels */ export const models = ...`.
        const host = ts.isVariableDeclaration(decl) && ts.isVariableDeclarationList(decl.parent) ? decl.parent.parent : decl;
        const file = host.getSourceFile();
        return (ts.getLeadingCommentRanges(file.text, host.getFullStart()) ?? []).some((range) => /@weftModels\b/.test(file.text.slice(range.pos, range.end)));
      });
      modelsMarks.set(symbol, marked);
    }
    return marked;
  }

  function isMarkedObjectMember(callee: TS.PropertyAccessExpression): boolean {
    const symbol = checker.getSymbolAtLocation(callee.name);
    if (!symbol) return false;
    let marked = modelsMarks.get(symbol);
    if (marked === undefined) {
      marked = (symbol.declarations ?? []).some((decl) => {
        const file = decl.getSourceFile();
        return (ts.getLeadingCommentRanges(file.text, decl.getFullStart()) ?? []).some((range) => /@weftObject\b/.test(file.text.slice(range.pos, range.end)));
      });
      modelsMarks.set(symbol, marked);
    }
    return marked;
  }

  /** `models.object<T>(...)`: T's schema and definitions, injected as the call's last argument. */
  function visitModelsObject(call: TS.CallExpression): void {
    const typeArg = call.typeArguments?.[0];
    // Without T (`models.object(id, prompt, { schema })`) there is nothing to inject.
    if (!typeArg || hasMeta(call.arguments) || call.arguments.some(ts.isSpreadElement)) return;
    const callee = skipOuter(call.expression) as TS.PropertyAccessExpression;
    const owner = ts.isIdentifier(callee.expression) ? callee.expression.text : "…";
    const label = `${owner}.object<${typeArg.getText(sourceFile)}>`;
    const described = describeType(ts, program, checker.getTypeFromTypeNode(typeArg), label, "value", options);
    const hasDefs = Object.keys(described.defs).length > 0;
    const pos = sourceFile.getLineAndCharacterOfPosition(call.getStart(sourceFile));
    const file = relativePath(options.root, sourceFile.fileName);
    const meta: SiteMeta = {
      __weft: 1,
      params: [],
      returns: described.schema,
      ...(hasDefs ? { defs: described.defs } : {}),
      hash: contentHash({ returns: described.schema, defs: hasDefs ? described.defs : undefined }),
      source: { file, line: pos.line + 1, column: pos.character + 1 },
    };
    sites.push({ kind: "object", form: "call", node: call, meta, errors: described.errors, files: [...new Set([file, ...described.files])].sort(), span: lines(call) });
  }

  function visitCall(call: TS.CallExpression): void {
    if (isModelsObject(call)) return visitModelsObject(call);
    const kind = calleeKind(call.expression);
    if (!kind || hasMeta(call.arguments) || call.arguments.some(ts.isSpreadElement)) return;
    const args = call.arguments;
    const callable = (arg: TS.Expression | undefined) => arg !== undefined && checker.getTypeAtLocation(arg).getCallSignatures().length > 0;
    // Which argument is the function: the runtime's own call forms (decorators/options.ts), so
    // the transformer describes exactly the calls op(), jit() and vmap() accept.
    const form = kind === "object" ? undefined : callForm(kind, args.length, (i) => callable(args[i]));
    const fn = form === undefined ? undefined : args[form.fn];
    // `op(options)` with no function is a decorator factory used elsewhere: nothing to describe here.
    if (!fn || !callable(fn)) return;
    const signatures = checker.getTypeAtLocation(fn).getCallSignatures();
    const binding = bindingOf(call);
    const name = binding?.name ?? functionName(fn);
    const exported = binding?.exportName ?? undefined;
    const doc = docHost(binding?.host, fn);
    sites.push(
      build(kind, "call", call, signatures, name, exported === undefined ? undefined : { export: exported }, doc, call, lines(call), undefined),
    );
  }

  function visitDecorator(decorator: TS.Decorator): void {
    const expression = decorator.expression;
    const isCall = ts.isCallExpression(expression);
    const kind = calleeKind(isCall ? expression.expression : expression);
    if (!kind) return;
    if (isCall && hasMeta(expression.arguments)) return;
    const method = decorator.parent;
    if (!ts.isMethodDeclaration(method) || !method.body) return;
    const signature = checker.getSignatureFromDeclaration(method);
    if (!signature) return;
    const member = propertyName(method.name);
    const cls = method.parent;
    const classSymbol = ts.isClassLike(cls) ? (cls.name ? checker.getSymbolAtLocation(cls.name) : declaredSymbol(cls)) : undefined;
    const exportName = classSymbol ? exportNameOf(classSymbol) : undefined;
    const locator = exportName === undefined || member === undefined ? undefined : { export: exportName, member };
    const [first] = lines(decorator);
    const className = ts.isClassLike(cls) && cls.name ? cls.name.text : undefined;
    const owner = ts.isClassLike(cls) ? { ...(className ? { name: className } : {}), ...(member !== undefined ? { member } : {}), span: lines(cls) } : undefined;
    // `Judge.score`, as legacy decorators name it at run time; TC39 decorators cannot see the class name.
    const name = member === undefined ? undefined : className ? `${className}.${member}` : member;
    sites.push(
      build(kind, isCall ? "decorator-call" : "decorator", decorator, [signature], name, locator, method, method.name, [first, lines(method)[1]], owner),
    );
  }

  function build(
    kind: SiteKind,
    form: SiteForm,
    node: TS.CallExpression | TS.Decorator,
    signatures: readonly TS.Signature[],
    name: string | undefined,
    locator: SiteMeta["locator"],
    docNode: TS.Node | undefined,
    at: TS.Node,
    span: readonly [number, number],
    owner: OpSite["owner"],
  ): OpSite {
    const label = `${kind} ${name === undefined ? "(anonymous)" : `"${name}"`}`;
    const extractor = createSchemaExtractor(ts, program, options);
    const errors: string[] = [];
    const signature = signatures[signatures.length - 1]!;
    if (signatures.length > 1 && kind === "op") errors.push(`${label}: overloaded functions cannot be ops; give it a single signature`);
    const paramDocs = docNode ? paramDescriptions(docNode) : new Map<string, string>();
    const spread = spreadTuple(signature);
    const params: ParamInfo[] = spread ?? signature.getParameters().map((param, index) => {
      const decl = param.valueDeclaration && ts.isParameter(param.valueDeclaration) ? param.valueDeclaration : undefined;
      const paramName = decl && !ts.isIdentifier(decl.name) ? `arg${index}` : param.name;
      const type = checker.getTypeOfSymbol(param);
      const rest = decl?.dotDotDotToken !== undefined;
      const optional = !rest && ((decl !== undefined && checker.isOptionalParameter(decl)) || acceptsUndefined(ts, type));
      // `x?: Shape` reads as `Circle | Square | undefined`: describe the declared `Shape`.
      const context = { optional, ...(decl ? { declaration: decl } : {}), ...(decl?.type && !rest ? { typeNode: decl.type } : {}) };
      let schema = extractor.schemaOf((optional ? declaredType(ts, checker, param) : undefined) ?? type, paramName, context);
      const description = paramDocs.get(paramName);
      if (description !== undefined && typeof schema === "object") schema = { description, ...schema };
      return { name: paramName, schema, ...(optional ? { optional: true } : {}), ...(rest ? { rest: true } : {}) };
    });
    /**
     * `(...args: Parameters<F>)`, the call signature of an op or jitted value passed to vmap
     * or jit, is one rest parameter of tuple type: describe the tuple's elements instead.
     */
    function spreadTuple(sig: TS.Signature): ParamInfo[] | undefined {
      const [only, ...others] = sig.getParameters();
      const decl = only?.valueDeclaration;
      if (!only || others.length > 0 || !decl || !ts.isParameter(decl) || !decl.dotDotDotToken) return undefined;
      const type = checker.getTypeOfSymbol(only);
      if (!checker.isTupleType(type)) return undefined;
      const tuple = type as TS.TupleTypeReference;
      const flags = tuple.target.elementFlags;
      const elements = checker.getTypeArguments(tuple).slice(0, flags.length);
      return elements.map((element, i) => {
        const label = tuple.target.labeledElementDeclarations?.[i]?.name;
        const elementName = label && ts.isIdentifier(label) ? label.text : `arg${i}`;
        const flag = flags[i]!;
        const rest = (flag & ts.ElementFlags.Variable) !== 0;
        const optional = (flag & ts.ElementFlags.Optional) !== 0 || (!rest && acceptsUndefined(ts, element));
        const schema: JsonSchema = rest ? { type: "array", items: extractor.schemaOf(element, `${elementName}[]`) } : extractor.schemaOf(element, elementName, { optional });
        return { name: elementName, schema, ...(optional ? { optional: true } : {}), ...(rest ? { rest: true } : {}) };
      });
    }
    /** The item type of the standard library's async iterables and web `ReadableStream`s (lib.dom's or Node's), else undefined. */
    function streamItemType(type: TS.Type): TS.Type | undefined {
      const symbol = type.getSymbol() ?? type.aliasSymbol;
      if (symbol === undefined || !STREAM_TYPES.has(symbol.getName())) return undefined;
      const fromLib = (symbol.getDeclarations() ?? []).every((d) => {
        const file = d.getSourceFile();
        return program.isSourceFileDefaultLibrary(file) || NODE_TYPES.test(file.fileName);
      });
      if (!fromLib) return undefined;
      const args = checker.getTypeArguments(type as TS.TypeReference);
      return args[0] ?? checker.getUnknownType();
    }
    const returned = checker.getReturnTypeOfSignature(signature);
    // Awaiting a type parameter gives `Awaited<T>`; keep `T` so the error names it plainly.
    const generic = returned.flags & (ts.TypeFlags.TypeParameter | ts.TypeFlags.IndexedAccess | ts.TypeFlags.Conditional);
    const resolved = generic ? returned : (checker.getAwaitedType(returned) ?? returned);
    // An op that returns a stream (`AsyncIterable<T>`, an async generator): its items are
    // what is described and checked, each as it is yielded.
    const streamed = kind === "op" ? streamItemType(resolved) : undefined;
    const awaited = streamed ?? resolved;
    // `void` / `undefined` results have nothing to check: no return schema at all.
    const returnDecl = signature.getDeclaration() as TS.SignatureDeclaration | undefined;
    const returnSchema = awaited.flags & (ts.TypeFlags.Void | ts.TypeFlags.Undefined) ? undefined : extractor.schemaOf(awaited, "return", returnDecl && !streamed ? { declaration: returnDecl.type ?? returnDecl } : {});
    // jit and vmap sites validate nothing themselves (each op they call does), so a parameter
    // that is not JSON data (a Module, a client) is no build error there: it goes undescribed.
    const described = kind === "op" || extractor.issues.length === 0;
    if (kind === "op") {
      // A few errors say what is wrong; hundreds (a parameter typed `typeof window`) say nothing more.
      const shown = extractor.issues.slice(0, MAX_ERRORS);
      for (const issue of shown) errors.push(formatIssue(label, issue));
      if (extractor.issues.length > shown.length) errors.push(`${label}: ... and ${extractor.issues.length - shown.length} more such errors`);
    }
    if (!described) {
      for (let i = 0; i < params.length; i++) {
        const { schema: _s, ...rest } = params[i]!;
        params[i] = rest;
      }
    }
    const untraceable = kind === "jit" ? jitUntraceable(node, docNode) : [];
    const returns = described ? returnSchema : undefined;
    const defs = described ? extractor.defs() : {};
    const hasDefs = Object.keys(defs).length > 0;
    const hash = contentHash({ params, returns, defs: hasDefs ? defs : undefined, ...(streamed && { stream: true }) });
    const sf = at.getSourceFile();
    const pos = sf.getLineAndCharacterOfPosition(at.getStart(sf));
    const file = relativePath(options.root, sf.fileName);
    const doc = docNode ? documentation(docNode) : undefined;
    const meta: SiteMeta = {
      __weft: 1,
      ...(name !== undefined ? { name } : {}),
      params,
      ...(returns !== undefined ? { returns } : {}),
      ...(streamed ? { stream: true as const } : {}),
      ...(hasDefs ? { defs } : {}),
      ...(doc !== undefined ? { doc } : {}),
      ...(locator ? { locator } : {}),
      hash,
      source: { file, line: pos.line + 1, column: pos.character + 1 },
      ...(untraceable.length > 0 ? { untraceable } : {}),
    };
    const files = [...new Set([file, ...extractor.files()])].sort();
    // Only ops validate (jit and vmap sites defer to the ops they call).
    const checks = kind === "op" && errors.length === 0 ? checksSource(meta) : undefined;
    return { kind, form, node, meta, errors, files, span, ...(owner ? { owner } : {}), ...(checks !== undefined ? { checks } : {}) };
  }

  /** What the jit check (jit-check.ts) finds in the jitted function of a jit site. */
  function jitUntraceable(node: TS.CallExpression | TS.Decorator, docNode: TS.Node | undefined): UntraceableUse[] {
    let fn: TS.FunctionLikeDeclaration | undefined;
    let staticParams: number[] = [];
    if (ts.isCallExpression(node)) {
      for (const arg of node.arguments) {
        const found = functionOf(arg);
        if (found && !fn) fn = found;
        else if (ts.isObjectLiteralExpression(arg)) staticParams = staticOf(arg);
      }
    } else {
      if (docNode && ts.isMethodDeclaration(docNode)) fn = docNode;
      if (ts.isCallExpression(node.expression) && node.expression.arguments[0] && ts.isObjectLiteralExpression(node.expression.arguments[0])) staticParams = staticOf(node.expression.arguments[0]);
    }
    // A function written in the site's file is staged there (transformers/jit-stage.ts); one imported is only checked.
    return fn ? untraceableUses(ts, fn, staticParams, (callee) => (ts.isIdentifier(callee) ? functionOf(callee) : undefined), undefined, fn.getSourceFile() === node.getSourceFile()) : [];
  }

  /** The function an argument is or names: an inline function, or a declared one. */
  function functionOf(arg: TS.Expression): TS.FunctionLikeDeclaration | undefined {
    const inner = skipOuter(arg);
    if (ts.isArrowFunction(inner) || ts.isFunctionExpression(inner)) return inner;
    if (!ts.isIdentifier(inner)) return undefined;
    let symbol = checker.getSymbolAtLocation(inner);
    if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    const decl = symbol?.valueDeclaration;
    if (!decl || decl.getSourceFile().isDeclarationFile) return undefined;
    if (ts.isFunctionDeclaration(decl)) return decl;
    if (ts.isVariableDeclaration(decl) && decl.initializer) {
      const init = skipOuter(decl.initializer);
      if (ts.isArrowFunction(init) || ts.isFunctionExpression(init)) return init;
    }
    return undefined;
  }

  /** `{ static: [1, 2] }` in jit options: parameters passed by value, never traced. */
  function staticOf(options: TS.ObjectLiteralExpression): number[] {
    for (const prop of options.properties) {
      if (ts.isPropertyAssignment(prop) && ts.isIdentifier(prop.name) && prop.name.text === "static" && ts.isArrayLiteralExpression(prop.initializer)) {
        return prop.initializer.elements.flatMap((e) => (ts.isNumericLiteral(e) ? [Number(e.text)] : []));
      }
    }
    return [];
  }

  function skipOuter(node: TS.Expression): TS.Expression {
    while (ts.isParenthesizedExpression(node) || ts.isAsExpression(node) || ts.isSatisfiesExpression(node) || ts.isNonNullExpression(node) || ts.isTypeAssertionExpression(node)) {
      node = node.expression;
    }
    return node;
  }

  function lines(node: TS.Node): [number, number] {
    const start = sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile)).line + 1;
    const end = sourceFile.getLineAndCharacterOfPosition(node.getEnd()).line + 1;
    return [start, end];
  }

  /** The variable, property or default export a call's result is bound to. */
  function bindingOf(call: TS.CallExpression): { name?: string; exportName?: string; host: TS.Node } | undefined {
    let node: TS.Node = call;
    while (ts.isParenthesizedExpression(node.parent) || ts.isAsExpression(node.parent) || ts.isSatisfiesExpression(node.parent) || ts.isNonNullExpression(node.parent)) {
      node = node.parent;
    }
    const parent = node.parent;
    if (ts.isVariableDeclaration(parent) && parent.initializer === node && ts.isIdentifier(parent.name)) {
      const symbol = checker.getSymbolAtLocation(parent.name);
      const host = ts.isVariableDeclarationList(parent.parent) && ts.isVariableStatement(parent.parent.parent) ? parent.parent.parent : parent;
      const exportName = symbol ? exportNameOf(symbol) : undefined;
      return { name: parent.name.text, ...(exportName !== undefined ? { exportName } : {}), host };
    }
    if (ts.isExportAssignment(parent) && !parent.isExportEquals) return { exportName: "default", host: parent };
    if (ts.isPropertyAssignment(parent)) {
      const name = propertyName(parent.name);
      return { ...(name !== undefined ? { name } : {}), host: parent };
    }
    return undefined;
  }

  function functionName(fn: TS.Expression): string | undefined {
    const inner = skipOuter(fn);
    if ((ts.isFunctionExpression(inner) || ts.isClassExpression(inner)) && inner.name) return inner.name.text;
    if (ts.isIdentifier(inner)) return inner.text;
    return undefined;
  }

  /** Where the op's documentation lives: its binding, else the function it wraps. */
  function docHost(host: TS.Node | undefined, fn: TS.Expression): TS.Node | undefined {
    if (host && ts.getJSDocCommentsAndTags(host).length > 0) return host;
    const inner = skipOuter(fn);
    if (ts.isIdentifier(inner)) {
      let symbol = checker.getSymbolAtLocation(inner);
      if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
      const decl = symbol?.valueDeclaration;
      if (decl) return ts.isVariableDeclaration(decl) && ts.isVariableStatement(decl.parent.parent) ? decl.parent.parent : decl;
    }
    return host ?? inner;
  }

  function exportNameOf(symbol: TS.Symbol): string | undefined {
    const moduleSymbol = checker.getSymbolAtLocation(sourceFile);
    if (!moduleSymbol) return undefined;
    const target = normalize(symbol);
    const names = checker
      .getExportsOfModule(moduleSymbol)
      .filter((e) => normalize(e) === target)
      .map((e) => e.name)
      .sort();
    if (names.length === 0) return undefined;
    return names.includes(symbol.name) ? symbol.name : names[0];
  }

  function normalize(symbol: TS.Symbol): TS.Symbol {
    const resolved = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    return checker.getExportSymbolOfSymbol(resolved);
  }

  function declaredSymbol(node: TS.Node): TS.Symbol | undefined {
    return (node as { symbol?: TS.Symbol }).symbol;
  }

  function propertyName(name: TS.PropertyName): string | undefined {
    if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name)) return name.text;
    if (ts.isPrivateIdentifier(name)) return name.text;
    return undefined;
  }

  function documentation(node: TS.Node): string | undefined {
    const parts: string[] = [];
    for (const doc of ts.getJSDocCommentsAndTags(node)) {
      if (ts.isJSDoc(doc)) {
        const text = ts.getTextOfJSDocComment(doc.comment)?.trim();
        if (text) parts.push(text);
      }
    }
    return parts.length > 0 ? parts.join("\n\n") : undefined;
  }

  function paramDescriptions(node: TS.Node): Map<string, string> {
    const out = new Map<string, string>();
    for (const doc of ts.getJSDocCommentsAndTags(node)) {
      for (const tag of ts.isJSDoc(doc) ? (doc.tags ?? []) : [doc]) {
        if (ts.isJSDocParameterTag(tag) && ts.isIdentifier(tag.name)) {
          const text = ts.getTextOfJSDocComment(tag.comment)?.replace(/^\s*-\s*/, "").trim();
          if (text) out.set(tag.name.text, text);
        }
      }
    }
    return out;
  }

  visit(sourceFile);
  return sites;
}

/** The schema of one type (a type argument, say) with its definitions and generated check. */
export interface DescribedType {
  readonly schema: JsonSchema;
  readonly defs: Readonly<Record<string, JsonSchema>>;
  /** Source of an `InjectedChecks` function whose `params[0]` checks a value against `schema`; absent when nothing is checked. */
  readonly checks?: string;
  /** Build errors, each naming `label`, the path, the construct and where it was declared. */
  readonly errors: readonly string[];
  /** Files whose declarations shaped the schema (relative to the root). */
  readonly files: readonly string[];
}

/**
 * Schema, definitions and generated check for one type, with the same extractor, error
 * wording and check generator as op sites: the piece a site kind other than op (a
 * `models.object<T>()` call, say) uses to inject "T's schema and check" at its call.
 *
 * @example
 * ```ts
 * const t = describeType(ts, program, checker.getTypeFromTypeNode(call.typeArguments![0]!), 'models.object "answer"', "value", { root });
 * if (t.errors.length === 0) inject({ schema: t.schema, defs: t.defs, checks: t.checks });
 * ```
 */
export function describeType(ts: Ts, program: TS.Program, type: TS.Type, label: string, path: string, options: SiteOptions): DescribedType {
  const extractor = createSchemaExtractor(ts, program, options);
  const schema = extractor.schemaOf(type, path);
  const errors = extractor.issues.map((issue) => formatIssue(label, issue));
  const defs = errors.length === 0 ? extractor.defs() : {};
  const checks = errors.length === 0 ? checksSource({ params: [{ name: path, schema }], defs }) : undefined;
  return { schema, defs, errors, files: extractor.files(), ...(checks !== undefined ? { checks } : {}) };
}

/** A schema issue as a build error: the site, the path, what is wrong, and where it was declared. */
function formatIssue(label: string, issue: SchemaIssue): string {
  const where = issue.declaredAt ? ` (declared at ${issue.declaredAt.file}:${issue.declaredAt.line})` : "";
  return `${label}: cannot derive a JSON Schema for ${issue.path}: ${issue.message}${where}`;
}

// Tag lookups per checker: symbols are per program, so the cache dies with it.
const kindCaches = new WeakMap<TS.TypeChecker, Map<TS.Symbol, SiteKind | null>>();
function kindCache(checker: TS.TypeChecker): Map<TS.Symbol, SiteKind | null> {
  let cache = kindCaches.get(checker);
  if (!cache) kindCaches.set(checker, (cache = new Map()));
  return cache;
}

