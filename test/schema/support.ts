/**
 * In-memory TypeScript programs for the schema and transformer tests: sources are strings,
 * the standard library is read once from the TypeScript package and its parsed files are
 * shared between programs (parsing lib.es2022 is most of a small program's cost).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import AjvModule from "ajv/dist/2020.js";
import type * as TS from "typescript";
import { createSchemaExtractor } from "../../transformers/schema.js";
import type { JsonSchema } from "../../decorators/descriptor.js";
import { CHECK_LIB, FORMATS, isPlainObject, type InjectedChecks, type SiteChecks } from "../../decorators/formats.js";

const require = createRequire(import.meta.url);
/** TypeScript 6.0, the default compiler. */
export const ts6 = require("typescript") as typeof TS;
/** TypeScript 5.9, installed as the `typescript-5.9` alias. */
export const ts59 = require("typescript-5.9") as typeof TS;

/** Where virtual files live. */
export const ROOT = "/virtual";

const libCache = new Map<string, TS.SourceFile>();

/** Options every in-memory program starts from. */
export function baseOptions(ts: typeof TS): TS.CompilerOptions {
  return {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2022.d.ts"],
    types: [],
    strict: true,
    skipLibCheck: true,
    noEmitOnError: false,
    configFilePath: `${ROOT}/tsconfig.json`,
  };
}

/**
 * A program over `files` (paths relative to `/virtual`).
 *
 * @example
 * ```ts
 * const program = createProgram(ts6, { "a.ts": "export type T = string;" });
 * ```
 */
export function createProgram(ts: typeof TS, files: Record<string, string>, options: TS.CompilerOptions = {}): TS.Program {
  const all = new Map(Object.entries(files).map(([name, text]) => [path.posix.join(ROOT, name), text]));
  const compilerOptions = { ...baseOptions(ts), ...options };
  const libDir = path.dirname(ts.getDefaultLibFilePath(compilerOptions));
  const host: TS.CompilerHost = {
    getSourceFile(fileName, languageVersion) {
      const text = all.get(fileName);
      if (text !== undefined) return ts.createSourceFile(fileName, text, languageVersion, true);
      const key = `${ts.version}:${fileName}:${JSON.stringify(languageVersion)}`;
      let cached = libCache.get(key);
      if (!cached && ts.sys.fileExists(fileName)) {
        cached = ts.createSourceFile(fileName, ts.sys.readFile(fileName)!, languageVersion, true);
        libCache.set(key, cached);
      }
      return cached;
    },
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    getDefaultLibLocation: () => libDir,
    writeFile: () => {},
    getCurrentDirectory: () => ROOT,
    getDirectories: () => [],
    getCanonicalFileName: (f) => f,
    useCaseSensitiveFileNames: () => true,
    getNewLine: () => "\n",
    fileExists: (f) => all.has(f) || (f.startsWith(libDir) && ts.sys.fileExists(f)),
    readFile: (f) => all.get(f) ?? (f.startsWith(libDir) ? ts.sys.readFile(f) : undefined),
    directoryExists: (d) => d === ROOT || [...all.keys()].some((f) => f.startsWith(`${d}/`)) || d.startsWith(libDir),
  };
  return ts.createProgram({ rootNames: [...all.keys()].filter((f) => !f.includes("/node_modules/")), options: compilerOptions, host });
}

/** The schema of each exported type alias / interface of `source`, with shared defs, or the issues. */
export interface Extracted {
  readonly schema: JsonSchema;
  readonly defs: Record<string, JsonSchema>;
  readonly issues: string[];
}

/**
 * Extracts the schema of the type named `name` in `main.ts`, as a value of that type.
 *
 * @example
 * ```ts
 * const { schema } = extract(program, "User");
 * ```
 */
export function extract(ts: typeof TS, program: TS.Program, name: string, file = "main.ts"): Extracted {
  const sf = program.getSourceFile(path.posix.join(ROOT, file));
  if (!sf) throw new Error(`no ${file}`);
  const checker = program.getTypeChecker();
  const decl = sf.statements.find(
    (s): s is TS.TypeAliasDeclaration | TS.InterfaceDeclaration | TS.EnumDeclaration =>
      (ts.isTypeAliasDeclaration(s) || ts.isInterfaceDeclaration(s) || ts.isEnumDeclaration(s)) && s.name.text === name,
  );
  if (!decl) throw new Error(`no type ${name} in ${file}`);
  const type = checker.getTypeAtLocation(decl.name);
  const x = createSchemaExtractor(ts, program, { root: ROOT });
  const schema = x.schemaOf(type, "value");
  return {
    schema,
    defs: x.defs(),
    issues: x.issues.map((i) => `${i.path}: ${i.message}${i.declaredAt ? ` (${i.declaredAt.file}:${i.declaredAt.line})` : ""}`),
  };
}

// ajv is CommonJS with a `default` that is the export itself.
const Ajv2020 = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as unknown as typeof AjvModule.default;

/**
 * An independent oracle for weft's schemas: ajv (draft 2020-12, strict but for
 * `strictTuples`) with weft's three keywords and weft's own format table registered.
 * Tests only: the runtime never compiles schemas (see runtime/validate.ts).
 *
 * @example
 * ```ts
 * createAjv().compile({ type: "object", properties: { at: { instanceof: "Date" } } })({ at: new Date() }); // true
 * ```
 */
export function createAjv(): InstanceType<typeof Ajv2020> {
  const ajv = new Ajv2020({ strict: true, strictTuples: false, allowUnionTypes: true, discriminator: true, allErrors: false, messages: false });
  for (const [name, check] of Object.entries(FORMATS)) ajv.addFormat(name, { type: "string", validate: check });
  const classes: Record<string, abstract new (...args: never[]) => unknown> = { Date, ArrayBuffer, Uint8Array, Uint8ClampedArray, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array };
  ajv.addKeyword({ keyword: "instanceof", schemaType: "string", validate: (name: string, data: unknown) => data instanceof classes[name]! });
  ajv.addKeyword({ keyword: "typeof", schemaType: "string", validate: (_: string, data: unknown) => data === undefined });
  ajv.addKeyword({ keyword: "plainObject", schemaType: "boolean", validate: (on: boolean, data: unknown) => !on || typeof data !== "object" || data === null || isPlainObject(data) });
  return ajv;
}

let loaded = 0;
const scratch = mkdtempSync(path.join(tmpdir(), "weft-checks-"));

/**
 * Loads generated check code the way a build ships it, as a module (never `eval`), and
 * builds it with the runtime's `CheckLib`.
 *
 * @example
 * ```ts
 * const checks = await loadChecks(checksSource({ params: [{ name: "n", schema: { type: "number" } }] })!);
 * checks.params[0]!(1); // true
 * ```
 */
export async function loadChecks(source: string): Promise<SiteChecks> {
  const file = path.join(scratch, `checks-${process.pid}-${++loaded}.mjs`);
  writeFileSync(file, `export default ${source};\n`);
  const mod = (await import(pathToFileURL(file).href)) as { default: InjectedChecks };
  return mod.default(CHECK_LIB);
}
