/**
 * Worker threads run plain Node: they cannot import the `.ts` files vitest compiles in
 * process. So worker tests run weft and their fixture ops from JavaScript, built here:
 *
 *   node_modules/.cache/weft-workers/<hash>/
 *     package.json        {"type":"module"}
 *     lib/...             weft's sources (index.ts, decorators/, runtime/, compiler/, transformers/, cli/)
 *     fixtures/...        test/fixtures/workers/*.ts, with `from "weft"` pointing at lib/index.js
 *
 * The test imports the fixtures and weft's internals from there (dynamic `import()` of
 * file URLs), so the main thread and every worker load the very same modules: same op ids,
 * same registry code. Files under node_modules are loaded by Node itself, not by vitest's
 * transform, exactly as a worker loads them.
 *
 * Each file is compiled alone with `ts.transpileModule` (no type check; `npm run
 * typecheck` does that): about a second for the whole library, and only when a source
 * changed, since the output directory is named by a hash of every input. Concurrent test
 * files build into private temporary directories and rename; the first rename wins.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";

const ROOT = path.resolve(import.meta.dirname, "../..");
const LIB_INPUTS = ["index.ts", "decorators", "runtime", "compiler", "transformers", "cli"];
const FIXTURES = path.join(ROOT, "test/fixtures/workers");
// Bump when the layout or compiler options below change, so old builds are not reused.
const BUILD_VERSION = "1";

/** Where a worker build lives, and how to reach its modules. */
export interface WorkerBuild {
  readonly root: string;
  /** The file URL of a module in the build: `url("lib/runtime/executors.js")`. */
  url(relative: string): string;
  /** Imports a module of the build. */
  load<T>(relative: string): Promise<T>;
}

function sources(entry: string): string[] {
  const full = path.join(ROOT, entry);
  if (!existsSync(full)) return [];
  if (statSync(full).isFile()) return [full];
  const out: string[] = [];
  for (const name of readdirSync(full, { withFileTypes: true })) {
    const child = path.join(full, name.name);
    if (name.isDirectory()) out.push(...sources(path.relative(ROOT, child)));
    else if (/\.ts$/.test(name.name) && !/\.(test|d)\.ts$/.test(name.name)) out.push(child);
  }
  return out;
}

const OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  useDefineForClassFields: true,
  verbatimModuleSyntax: true,
  sourceMap: false,
};

/** Rewrites the bare specifier `weft` to the built library, as a relative path. */
function weftTo(relativeIndex: string): ts.TransformerFactory<ts.SourceFile> {
  return (context) => (file) => {
    const f = context.factory;
    const visit = (node: ts.Node): ts.Node => {
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) && node.moduleSpecifier.text === "weft") {
        return ts.isImportDeclaration(node)
          ? f.updateImportDeclaration(node, node.modifiers, node.importClause, f.createStringLiteral(relativeIndex), node.attributes)
          : f.updateExportDeclaration(node, node.modifiers, node.isTypeOnly, node.exportClause, f.createStringLiteral(relativeIndex), node.attributes);
      }
      return node;
    };
    return ts.visitEachChild(file, visit, context);
  };
}

function emit(file: string, outFile: string, transformers?: ts.CustomTransformers): void {
  const out = ts.transpileModule(readFileSync(file, "utf8"), { compilerOptions: OPTIONS, fileName: file, ...(transformers && { transformers }) });
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, out.outputText);
}

/**
 * Marks a build finished in `temp` complete and moves it to `root`, unless a concurrent
 * test file got there first (then theirs, identical, is kept).
 *
 * @example
 * ```ts
 * publishBuild(`${root}.${process.pid}`, root);
 * ```
 */
export function publishBuild(temp: string, root: string): void {
  // Written last: its presence marks a complete build.
  writeFileSync(path.join(temp, "package.json"), '{ "type": "module" }\n');
  try {
    renameSync(temp, root);
  } catch {
    rmSync(temp, { recursive: true, force: true });
  }
}

/**
 * Builds (or reuses) the JavaScript that worker tests run.
 *
 * @example
 * ```ts
 * const build = buildForWorkers();
 * const ops = await build.load<typeof import("../fixtures/workers/ops.js")>("fixtures/ops.js");
 * ```
 */
export function buildForWorkers(): WorkerBuild {
  const lib = LIB_INPUTS.flatMap(sources).sort();
  const fixtures = sources(path.relative(ROOT, FIXTURES)).sort();
  const hash = createHash("sha256").update(BUILD_VERSION).update(ts.version);
  for (const file of [...lib, ...fixtures]) hash.update(path.relative(ROOT, file)).update("\0").update(readFileSync(file)).update("\0");
  const cache = path.join(ROOT, "node_modules/.cache/weft-workers");
  const root = path.join(cache, hash.digest("hex").slice(0, 16));
  if (!existsSync(path.join(root, "package.json"))) {
    const temp = `${root}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    for (const file of lib) emit(file, path.join(temp, "lib", path.relative(ROOT, file)).replace(/\.ts$/, ".js"));
    for (const file of fixtures) {
      const outFile = path.join(temp, "fixtures", path.relative(FIXTURES, file)).replace(/\.ts$/, ".js");
      const index = path.relative(path.dirname(outFile), path.join(temp, "lib/index.js")).split(path.sep).join("/");
      emit(file, outFile, { before: [weftTo(index.startsWith(".") ? index : `./${index}`)] });
    }
    publishBuild(temp, root);
  }
  return {
    root,
    url: (relative) => pathToFileURL(path.join(root, relative)).href,
    load: <T>(relative: string) => import(pathToFileURL(path.join(root, relative)).href) as Promise<T>,
  };
}
