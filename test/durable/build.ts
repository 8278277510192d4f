/**
 * Durable tests run real `node` processes (crash, lease and approval tests), which cannot
 * import the `.ts` files vitest compiles in process. So the fixtures in test/fixtures/durable
 * are compiled here by the real weft transformer (schemas and locators injected, as in a
 * user's build), against weft's JavaScript build from test/workers/build.ts:
 *
 *   node_modules/.cache/weft-durable/<hash>/
 *     package.json     {"type":"module"}
 *     *.js             the fixtures, with `from "weft"` pointing at the worker build's lib/index.js
 *
 * The output directory is named by a hash of the fixtures and the library build, so it is
 * reused until a source changes.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";
import weftTransformer from "../../transformers/transformer.js";
import { buildForWorkers, publishBuild } from "../workers/build.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const FIXTURES = path.join(ROOT, "test/fixtures/durable");

/** The compiled fixtures: `script("child.js")` is the path to run with `node`. */
export interface DurableBuild {
  readonly root: string;
  script(name: string): string;
  /**
   * Environment for the children: Node's compile cache beside the build, so each child
   * loads weft's modules as cached bytecode rather than compiling them again (most of a
   * child's CPU time is that import).
   */
  readonly env: Readonly<Record<string, string>>;
  /** Imports a module of weft's JavaScript build (the same modules the children load). */
  lib<T>(relative: string): Promise<T>;
}

/**
 * Compiles (or reuses) the durable fixtures, or the fixtures of another folder (the CLI's:
 * test/fixtures/cli) the same way.
 *
 * @example
 * ```ts
 * const build = buildDurableFixtures();
 * spawn(process.execPath, [build.script("child.js")]);
 * ```
 */
export function buildDurableFixtures(fixtures: string = FIXTURES): DurableBuild {
  const lib = buildForWorkers();
  const files = readdirSync(fixtures)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => path.join(fixtures, f))
    .sort();
  const hash = createHash("sha256").update(lib.root).update(ts.version);
  for (const file of files) hash.update(path.basename(file)).update("\0").update(readFileSync(file)).update("\0");
  const root = path.join(ROOT, "node_modules/.cache", `weft-${path.basename(fixtures)}`, hash.digest("hex").slice(0, 16));
  if (!existsSync(path.join(root, "package.json"))) {
    const temp = `${root}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    mkdirSync(temp, { recursive: true });
    const program = ts.createProgram({
      rootNames: files,
      options: {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        strict: true,
        skipLibCheck: true,
        types: ["node"],
        paths: { weft: [path.join(ROOT, "index.ts")] },
        baseUrl: ROOT,
        outDir: temp,
        rootDir: fixtures,
        noEmitOnError: false,
      },
    });
    const problems: string[] = [];
    const weftUrl = lib.url("lib/index.js");
    program.emit(
      undefined,
      (name, text) => {
        if (!name.endsWith(".js") || !name.startsWith(temp)) return;
        // The fixtures import weft's build, as an installed package would be imported.
        writeFileSync(name, text.replace(/from "weft"/g, `from ${JSON.stringify(weftUrl)}`));
      },
      undefined,
      false,
      { before: [weftTransformer(program, {}, { ts: ts as never, addDiagnostic: (d) => problems.push(ts.flattenDiagnosticMessageText(d.messageText, "\n")) })] },
    );
    if (problems.length > 0) throw new Error(`weft transformer reported, building ${path.relative(ROOT, fixtures)}:\n${problems.join("\n")}`);
    publishBuild(temp, root);
  }
  return {
    root,
    script: (name) => path.join(root, name),
    env: { NODE_COMPILE_CACHE: path.join(root, "compile-cache") },
    lib: <T>(relative: string) => import(lib.url(relative)) as Promise<T>,
  };
}

/** `file://` URL of a script, for dynamic imports in tests. */
export function urlOf(file: string): string {
  return pathToFileURL(file).href;
}
