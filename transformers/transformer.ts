/**
 * The weft ts-patch transformer entry: `"plugins": [{ "transform": "weft/transformer" }]`.
 * Injects each op site's descriptor metadata (schemas, locator, hash) at build time.
 *
 * The rewrite (META is always the last argument; see `sites.ts` for how sites are found):
 *
 * | source                 | emitted                          |
 * |------------------------|----------------------------------|
 * | `op(fn)`               | `op(fn, META)`                   |
 * | `op(options, fn)`      | `op(options, fn, META)`          |
 * | `@op`                  | `@op(META)`                      |
 * | `@op(options)`         | `@op(options, META)`             |
 * | `jit(...)`, `@jit`     | as `op`                          |
 * | `vmap(f)`              | `vmap(f, undefined, META)`       |
 * | `vmap(f, opts)`        | `vmap(f, opts, META)`            |
 * | `@vmap`, `@vmap(opts)` | as `@op`                         |
 *
 * `META.locator.module` is an expression evaluated where the op is defined, so it names
 * the emitted module whatever the output layout: `import.meta.url` in ES module output,
 * `require("node:url").pathToFileURL(__filename).href` in CommonJS output.
 */
import { createRequire } from "node:module";
import path from "node:path";
import type * as TS from "typescript";
import { findOpSites, type OpSite } from "./sites.js";
import { stageFunction, stagingPlan } from "./jit-stage.js";

/** What ts-patch passes as the third argument of a program transformer factory. */
export interface TransformerExtras {
  readonly ts: typeof TS;
  readonly addDiagnostic?: (diagnostic: TS.Diagnostic) => void;
}

/** Plugin options from tsconfig. */
export interface WeftTransformerConfig {
  readonly [key: string]: unknown;
}

/** The diagnostic code of weft's build errors (`TS990001` in compiler output). */
export const WEFT_DIAGNOSTIC_CODE = 990001;

/**
 * Creates the transformer for one program.
 *
 * @example
 * ```jsonc
 * // tsconfig.json
 * { "compilerOptions": { "plugins": [{ "transform": "weft/transformer" }] } }
 * ```
 */
export default function weftTransformer(
  program: TS.Program,
  _config: WeftTransformerConfig = {},
  extras?: TransformerExtras,
): TS.TransformerFactory<TS.SourceFile> {
  const ts = extras?.ts ?? loadTypeScript();
  assertSupported(ts);
  const root = programRoot(program);
  const report = extras?.addDiagnostic;
  return (context) => (file) => {
    if (file.isDeclarationFile) return file;
    // Type information lives on the program's own source file, not on a copy an earlier transformer made.
    const original = program.getSourceFile(file.fileName) ?? (ts.getOriginalNode(file) as TS.SourceFile);
    if (!jsDocParsed(ts, original)) {
      // Without JSDoc, no site would be found (the marker tags) and no description or constraint kept.
      const message =
        "weft: TypeScript is not parsing JSDoc in this build (tsc's default since 5.3), so weft cannot find op sites or read descriptions and constraints. " +
        'ts-patch turns JSDoc parsing on for plugins whose package.json says "tsp": { "tscOptions": { "parseAllJsDoc": true } }, as weft\'s does: ' +
        'load the transformer as "weft/transformer" (or a path inside the weft package).';
      if (!report) throw new Error(message);
      if (!warned.has(program)) {
        warned.add(program);
        report({ file: original, start: 0, length: 0, messageText: message, category: ts.DiagnosticCategory.Error, code: WEFT_DIAGNOSTIC_CODE });
      }
      return file;
    }
    const sites = findOpSites(ts, program, original, { root });
    if (sites.length === 0) return file;
    const byNode = new Map<TS.Node, OpSite>();
    const failures: TS.Diagnostic[] = [];
    for (const site of sites) {
      if (site.errors.length === 0) byNode.set(site.node, site);
      for (const message of site.errors) failures.push(diagnostic(ts, original, site.node, message));
    }
    if (failures.length > 0) {
      // Without ts-patch's diagnostics channel (a bare `program.emit`), failing loudly is the only honest option.
      if (!report) throw new Error(failures.map((d) => formatDiagnostic(ts, d)).join("\n"));
      for (const d of failures) report(d);
    }
    if (byNode.size === 0) return file;
    const esm = emitsEsm(ts, program, original);
    const { factory } = context;
    // Jitted functions (and their helpers) written here get staged forms (jit-stage.ts).
    const staging = stagingPlan(ts, program.getTypeChecker(), original, sites.filter((s) => s.kind === "jit" && s.errors.length === 0).map((s) => s.node));
    // Staged code marks its calls' TypeScript positions against this module (`var`: hoisted, so a call before it runs reads the stack).
    const moduleMark = staging.size > 0 ? factory.createUniqueName("__weft_module") : undefined;
    const visitor = (node: TS.Node): TS.Node => {
      let visited = ts.visitEachChild(node, visitor, context);
      const staticParams = staging.get(ts.getOriginalNode(node));
      if (staticParams !== undefined) visited = stageFunction(ts, context, visited as TS.FunctionLikeDeclaration, staticParams, moduleMark);
      const site = byNode.get(ts.getOriginalNode(node));
      if (!site) return visited;
      const meta = metaExpression(factory, ts, site, esm);
      if (ts.isCallExpression(visited)) {
        const args = site.kind === "vmap" && visited.arguments.length === 1 ? [...visited.arguments, factory.createVoidZero()] : [...visited.arguments];
        return factory.updateCallExpression(visited, visited.expression, visited.typeArguments, [...args, meta]);
      }
      if (ts.isDecorator(visited)) {
        const expression = visited.expression;
        if (ts.isCallExpression(expression)) {
          return factory.updateDecorator(visited, factory.updateCallExpression(expression, expression.expression, expression.typeArguments, [...expression.arguments, meta]));
        }
        return factory.updateDecorator(visited, factory.createCallExpression(expression, undefined, [meta]));
      }
      return visited;
    };
    const out = ts.visitNode(file, visitor) as TS.SourceFile;
    if (moduleMark === undefined) return out;
    const from = sourceFromOutput(ts, program, original.fileName);
    const fields = [factory.createPropertyAssignment("url", moduleUrl(factory, ts, esm)), ...(from === undefined ? [] : [factory.createPropertyAssignment("from", factory.createStringLiteral(from))])];
    const declaration = factory.createVariableStatement(undefined, factory.createVariableDeclarationList([factory.createVariableDeclaration(moduleMark, undefined, undefined, factory.createObjectLiteralExpression(fields))], ts.NodeFlags.None));
    // After the prologue ("use strict" and other directives), before everything else.
    const directives = out.statements.findIndex((st) => !(ts.isExpressionStatement(st) && ts.isStringLiteral(st.expression)));
    const at = directives === -1 ? out.statements.length : directives;
    return factory.updateSourceFile(out, [...out.statements.slice(0, at), declaration, ...out.statements.slice(at)]);
  };
}

/**
 * Where the TypeScript source `file` is seen from the JavaScript file the program emits for
 * it (`../src/app.ts` from `dist/app.js`), so a marked call names it with no source map;
 * `undefined` when TypeScript cannot say.
 */
function sourceFromOutput(ts: typeof TS, program: TS.Program, file: string): string | undefined {
  try {
    const outputs = ts.getOutputFileNames({ options: program.getCompilerOptions(), fileNames: [...program.getRootFileNames()], errors: [] }, file, !ts.sys.useCaseSensitiveFileNames);
    const js = outputs.find((o) => /\.[cm]?jsx?$/.test(o));
    return js === undefined ? undefined : path.relative(path.dirname(js), file).split(path.sep).join("/");
  } catch {
    return undefined;
  }
}

/** This module's URL, in the emitted module format: `import.meta.url`, or `__filename` as a file URL. */
function moduleUrl(factory: TS.NodeFactory, ts: typeof TS, esm: boolean): TS.Expression {
  return esm
    ? factory.createPropertyAccessExpression(factory.createMetaProperty(ts.SyntaxKind.ImportKeyword, factory.createIdentifier("meta")), "url")
    : factory.createPropertyAccessExpression(
        factory.createCallExpression(factory.createPropertyAccessExpression(factory.createCallExpression(factory.createIdentifier("require"), undefined, [factory.createStringLiteral("node:url")]), "pathToFileURL"), undefined, [factory.createIdentifier("__filename")]),
        "href",
      );
}

// Programs already told that JSDoc parsing is off: one diagnostic per build is enough.
const warned = new WeakSet<TS.Program>();

function jsDocParsed(ts: typeof TS, file: TS.SourceFile): boolean {
  const mode = (file as { jsDocParsingMode?: number }).jsDocParsingMode;
  const all = (ts as { JSDocParsingMode?: { ParseAll?: number } }).JSDocParsingMode?.ParseAll;
  return mode === undefined || all === undefined || mode === all;
}

/**
 * Throws when this TypeScript cannot run JavaScript transformers (TypeScript 7, the Go
 * compiler), pointing at `weft gen`.
 *
 * @example
 * ```ts
 * assertSupported(require("typescript")); // throws on TypeScript 7
 * ```
 */
export function assertSupported(ts: typeof TS): void {
  const major = Number(String((ts as { versionMajorMinor?: unknown }).versionMajorMinor ?? ts.version ?? "").split(".")[0]);
  const api = ts as Partial<typeof TS>;
  const missing = ["factory", "visitEachChild", "createProgram", "getJSDocTags"].filter((k) => !(k in api) || api[k as keyof typeof TS] === undefined);
  if (!(major >= 7) && missing.length === 0) return;
  throw new Error(
    `weft: TypeScript ${String(ts.version)} ${major >= 7 ? "(the Go compiler) runs no JavaScript transformers" : `lacks the transformer API (${missing.join(", ")})`}. ` +
      "Build without the weft transformer and run `weft gen -p tsconfig.json` to write weft.manifest.json; " +
      "the runtime reads descriptors from it (see docs/schemas.md).",
  );
}

/**
 * The directory descriptors' `source.file` is relative to: the tsconfig's, else the program's.
 *
 * @example
 * ```ts
 * programRoot(program); // "/repo" for a program made from /repo/tsconfig.json
 * ```
 */
export function programRoot(program: TS.Program): string {
  const configFile = (program.getCompilerOptions() as { configFilePath?: unknown }).configFilePath;
  return typeof configFile === "string" ? path.dirname(configFile) : program.getCurrentDirectory();
}

function loadTypeScript(): typeof TS {
  // ts-patch always passes `extras.ts`; elsewhere, the TypeScript of the project being built.
  try {
    return createRequire(path.join(process.cwd(), "package.json"))("typescript") as typeof TS;
  } catch (error) {
    throw new Error("weft: cannot load the `typescript` package from the working directory; pass `extras.ts`", { cause: error });
  }
}

function emitsEsm(ts: typeof TS, program: TS.Program, file: TS.SourceFile): boolean {
  const format = (program as { getEmitModuleFormatOfFile?: (f: TS.SourceFile) => TS.ModuleKind }).getEmitModuleFormatOfFile?.(file);
  const options = program.getCompilerOptions();
  const kind = format ?? (options.module !== undefined && options.module >= ts.ModuleKind.Node16 && options.module <= ts.ModuleKind.NodeNext ? file.impliedNodeFormat : options.module);
  return kind !== ts.ModuleKind.CommonJS;
}

function metaExpression(factory: TS.NodeFactory, ts: typeof TS, site: OpSite, esm: boolean): TS.Expression {
  const { locator, ...rest } = site.meta;
  const props: TS.ObjectLiteralElementLike[] = [];
  for (const [key, value] of Object.entries(rest)) {
    if (key === "source") continue;
    props.push(factory.createPropertyAssignment(propertyKey(factory, key), literal(factory, ts, value)));
  }
  if (locator) {
    const module = moduleUrl(factory, ts, esm);
    const entries: TS.ObjectLiteralElementLike[] = [
      factory.createPropertyAssignment("module", module),
      factory.createPropertyAssignment("export", factory.createStringLiteral(locator.export)),
    ];
    if (locator.member !== undefined) entries.push(factory.createPropertyAssignment("member", factory.createStringLiteral(locator.member)));
    props.push(factory.createPropertyAssignment("locator", factory.createObjectLiteralExpression(entries, false)));
  }
  props.push(factory.createPropertyAssignment("source", literal(factory, ts, site.meta.source)));
  if (site.checks !== undefined) props.push(factory.createPropertyAssignment("checks", checksExpression(factory, site.checks)));
  return factory.createObjectLiteralExpression(props, false);
}

/**
 * Generated check code (`DescribedType.checks`, `OpSite.checks`) as an expression to
 * inject. The code is complete JavaScript written by transformers/checks.ts; it is emitted
 * verbatim as one synthesized node, so no later transform (module format, downlevelling)
 * reads into it, and it refers to nothing in the file around it.
 *
 * @example
 * ```ts
 * factory.createPropertyAssignment("checks", checksExpression(factory, described.checks!));
 * ```
 */
export function checksExpression(factory: TS.NodeFactory, source: string): TS.Expression {
  // One line: newlines inside would only shift the source map of the lines below.
  return factory.createParenthesizedExpression(factory.createIdentifier(source.replace(/\n\s*/g, " ")));
}

function propertyKey(factory: TS.NodeFactory, key: string): TS.PropertyName {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? factory.createIdentifier(key) : factory.createStringLiteral(key);
}

/** A JSON value as an expression (schemas are plain data: no functions, no cycles). */
function literal(factory: TS.NodeFactory, ts: typeof TS, value: unknown): TS.Expression {
  if (value === null) return factory.createNull();
  if (value === undefined) return factory.createVoidZero();
  switch (typeof value) {
    case "string":
      return factory.createStringLiteral(value);
    case "number":
      return value < 0 || Object.is(value, -0)
        ? factory.createPrefixUnaryExpression(ts.SyntaxKind.MinusToken, factory.createNumericLiteral(-value))
        : factory.createNumericLiteral(value);
    case "boolean":
      return value ? factory.createTrue() : factory.createFalse();
    case "object":
      if (Array.isArray(value)) return factory.createArrayLiteralExpression(value.map((v) => literal(factory, ts, v)), false);
      return factory.createObjectLiteralExpression(
        Object.entries(value as Record<string, unknown>)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => factory.createPropertyAssignment(propertyKey(factory, k), literal(factory, ts, v))),
        false,
      );
    default:
      throw new Error(`weft: cannot emit a ${typeof value} in descriptor metadata`);
  }
}

function diagnostic(ts: typeof TS, file: TS.SourceFile, node: TS.Node, message: string): TS.Diagnostic {
  const start = node.getStart(file);
  return {
    file,
    start,
    length: node.getEnd() - start,
    messageText: `weft: ${message}`,
    category: ts.DiagnosticCategory.Error,
    code: WEFT_DIAGNOSTIC_CODE,
  };
}

function formatDiagnostic(ts: typeof TS, d: TS.Diagnostic): string {
  const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
  if (!d.file || d.start === undefined) return message;
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
  return `${d.file.fileName}:${line + 1}:${character + 1}: ${message}`;
}
