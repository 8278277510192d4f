/**
 * The fixture project (test/fixtures/weft-project) built the ways users build it:
 * - `tspc` with the transformer loaded by ts-patch from tsconfig `plugins`, under
 *   TypeScript 6.0 and 5.9, TC39 and legacy decorators, ES module and CommonJS output;
 * - plain `tsc` with no transformer (what TypeScript 7 and other builds look like), with
 *   a manifest from the `weft gen` command, read by weft's runtime at registration.
 * Every build is run by Node, and every path must hand each op site the same descriptor.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as TS from "typescript";
import { ts6 } from "../schema/support.js";

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, "../..");
const FIXTURE = path.join(REPO, "test/fixtures/weft-project");
const TSPC = path.join(REPO, "node_modules/ts-patch/bin/tspc.js");
const TSC = path.join(REPO, "node_modules/typescript/bin/tsc");

interface Build {
  readonly name: string;
  readonly compiler: "tspc-6.0" | "tspc-5.9" | "tsc";
  readonly legacy: boolean;
}

// Each build compiles the fixture twice in one program: src/esm (an ES module package) and
// src/cjs (a CommonJS package), so one compiler run covers both output formats.
const BUILDS: readonly Build[] = [
  { name: "tspc6-tc39", compiler: "tspc-6.0", legacy: false },
  { name: "tspc6-legacy", compiler: "tspc-6.0", legacy: true },
  { name: "tspc59-tc39", compiler: "tspc-5.9", legacy: false },
  { name: "tspc59-legacy", compiler: "tspc-5.9", legacy: true },
  { name: "gen-tc39", compiler: "tsc", legacy: false },
  { name: "gen-legacy", compiler: "tsc", legacy: true },
];
const FORMATS = [
  ["esm", "module"],
  ["cjs", "commonjs"],
] as const;

interface Site {
  readonly kind: string;
  readonly via: "transformer" | "manifest" | "none";
  readonly meta: { locator?: { module: string; export?: string }; source?: { file: string } } & Record<string, unknown>;
}

let tmp: string;
/** Sites by build and format ("tspc6-tc39/esm"). */
const sites = new Map<string, Site[]>();

/** Compiles TypeScript sources to ES modules the way `tsc` would for these files, without type checking. */
function transpile(ts: typeof TS, files: readonly string[], outDir: string, packageJson: object = { type: "module" }): void {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, "package.json"), JSON.stringify(packageJson));
  for (const file of files) {
    const { outputText } = ts.transpileModule(readFileSync(path.join(REPO, file), "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
      fileName: file,
    });
    writeFileSync(path.join(outDir, path.basename(file).replace(/\.ts$/, ".js")), outputText);
  }
}

function dirOf(build: Build): string {
  return path.join(tmp, build.name);
}

function weftGen(build: Build, ...flags: string[]) {
  // The temporary project has no node_modules/typescript of its own: name the one to use.
  const args = [path.join(tmp, "weft/transformers/cli.js"), "gen", ...flags, "-p", path.join(dirOf(build), "tsconfig.json"), "--typescript", path.join(REPO, "node_modules/typescript")];
  return run(process.execPath, args, { cwd: dirOf(build) });
}

async function runBuild(build: Build, format: string): Promise<Site[]> {
  const dist = path.join(dirOf(build), "dist", format);
  // One plain build runs with Node mapping stacks, the other leaves it to weft's own source-map reading.
  const flags = build.name === "gen-tc39" ? ["--enable-source-maps"] : [];
  const { stdout } = await run(process.execPath, [...flags, path.join(tmp, "run.mjs"), path.join(dist, "ops.js"), path.join(dist, "methods.js")], { cwd: dirOf(build) });
  return JSON.parse(stdout) as Site[];
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "weft-builds-"));
  // The transformer and the `weft` bin as ES modules, as `npm run build` ships them in dist/.
  transpile(ts6, ["transformers/transformer.ts", "transformers/sites.ts", "transformers/schema.ts", "transformers/checks.ts", "transformers/util.ts", "transformers/jit-check.ts", "transformers/jit-stage.ts", "transformers/gen.ts", "transformers/cli.ts"], path.join(tmp, "weft/transformers"), {
    type: "module",
    // As in weft's package.json: asks ts-patch to have tsc parse JSDoc, which the transformer reads.
    tsp: JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")).tsp,
  });
  transpile(ts6, ["decorators/formats.ts", "decorators/descriptor.ts", "decorators/options.ts"], path.join(tmp, "weft/decorators"));
  transpile(ts6, ["decorators/descriptor.ts", "decorators/options.ts", "decorators/stack.ts"], path.join(tmp, "weft-stub/decorators"));
  // A stand-in weft package whose runtime/manifest.js is weft's own.
  cpSync(path.join(FIXTURE, "weft-stub"), path.join(tmp, "weft-stub"), { recursive: true });
  // The manifest warns through the logger, which reads the context.
  transpile(ts6, ["runtime/manifest.ts", "runtime/errors.ts", "runtime/redact.ts", "runtime/log.ts", "runtime/context.ts", "runtime/duration.ts"], path.join(tmp, "weft-stub/runtime"));
  writeFileSync(
    path.join(tmp, "run.mjs"),
    `import { pathToFileURL } from "node:url";
for (const file of process.argv.slice(2)) await import(pathToFileURL(file).href);
process.stdout.write(JSON.stringify(globalThis.__weftSites ?? []));
`,
  );
  for (const build of BUILDS) {
    const dir = dirOf(build);
    for (const [format, type] of FORMATS) {
      cpSync(path.join(FIXTURE, "src"), path.join(dir, "src", format), { recursive: true });
      writeFileSync(path.join(dir, "src", format, "package.json"), JSON.stringify({ type }));
      mkdirSync(path.join(dir, "dist", format), { recursive: true });
      writeFileSync(path.join(dir, "dist", format, "package.json"), JSON.stringify({ type }));
    }
    mkdirSync(path.join(dir, "node_modules"));
    symlinkSync(path.join(tmp, "weft-stub"), path.join(dir, "node_modules/weft"), "dir");
    writeFileSync(
      path.join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          lib: ["ES2022"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          types: [],
          rootDir: "src",
          outDir: "dist",
          sourceMap: true,
          skipLibCheck: true,
          ...(build.legacy ? { experimentalDecorators: true } : {}),
          ...(build.compiler === "tsc" ? {} : { plugins: [{ transform: path.join(tmp, "weft/transformers/transformer.js") }] }),
        },
        include: ["src"],
      }),
    );
  }
  const projects = (compiler: Build["compiler"]) => BUILDS.filter((b) => b.compiler === compiler).map((b) => path.join(dirOf(b), "tsconfig.json"));
  // One compiler process per TypeScript (`-b` builds several projects), and `weft gen` through
  // the bin beside each plain build's tsconfig; it reads sources only, so it runs alongside.
  await Promise.all([
    run(process.execPath, [TSPC, "-b", ...projects("tspc-6.0")], { cwd: tmp }),
    run(process.execPath, [TSPC, "-b", ...projects("tspc-5.9")], { cwd: tmp, env: { ...process.env, TSP_COMPILER_TS_PATH: path.join(REPO, "node_modules/typescript-5.9") } }),
    run(process.execPath, [TSC, "-b", ...projects("tsc")], { cwd: tmp }),
    ...BUILDS.filter((b) => b.compiler === "tsc").map((b) => weftGen(b)),
  ]);
  const runs = BUILDS.flatMap((b) => FORMATS.map(([format]) => [`${b.name}/${format}`, runBuild(b, format)] as const));
  for (const [key, result] of runs) sites.set(key, await result);
}, 120_000);

afterAll(() => {
  if (tmp && !process.env.WEFT_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
});

/** A site without what names its own copy: the module URL and the esm/cjs source folder. */
function comparable(site: Site): string {
  const { locator, source, ...meta } = site.meta;
  const { module: _module, ...rest } = locator ?? { module: "" };
  return JSON.stringify({ kind: site.kind, ...meta, ...(locator ? { locator: rest } : {}), source: { ...source, file: source?.file.replace(/^src\/(esm|cjs)\//, "src/") } });
}

describe("descriptors across builds", () => {
  it("gives every site its descriptor, from the transformer or from the manifest", () => {
    expect(sites.size).toBe(12);
    for (const [key, got] of sites) {
      expect(got, key).toHaveLength(13);
      expect(new Set(got.map((s) => s.via)), key).toEqual(new Set([key.startsWith("gen") ? "manifest" : "transformer"]));
      // Every op gets generated checks, from the transformer or from weft gen's checks module.
      for (const site of got.filter((s) => s.kind === "op")) expect(typeof site.meta.checks, `${key} ${String(site.meta.name)}`).toBe("string");
    }
  });

  it("yields identical descriptors under TS 6.0 and 5.9, both decorator modes, ESM and CJS, and weft gen", () => {
    const reference = sites.get("tspc6-tc39/esm")!.map(comparable).sort();
    for (const [key, got] of sites) expect(got.map(comparable).sort(), key).toEqual(reference);
  });

  it("locates each exported op in its emitted module", () => {
    for (const [key, got] of sites) {
      const modules = new Set(got.flatMap((s) => (s.meta.locator ? [s.meta.locator.module] : [])));
      const dist = path.join(tmp, key.replace("/", "/dist/"));
      expect(modules, key).toEqual(new Set([`file://${dist}/ops.js`, `file://${dist}/methods.js`]));
    }
  });

  it("describes the fixture's ops as the source says", () => {
    const byName = new Map(sites.get("tspc6-tc39/esm")!.map((s) => [`${s.kind}:${String(s.meta.name)}:${JSON.stringify(s.meta.locator?.export ?? null)}`, s.meta]));
    expect([...byName.keys()].sort()).toEqual([
      'jit:Judge.both:"Judge"',
      'jit:counted:"counted"',
      'jit:pipeline:"pipeline"',
      'op:anonymous:"default"',
      'op:depth:"depth"',
      'op:Judge.explain:"Judge"',
      'op:internal:"joined"',
      'op:judge:"judge"',
      'op:Batcher.score:"Batcher"',
      'op:Judge.score:"Judge"',
      'op:tokenize:"tokenize"',
      'vmap:batch:"batch"',
      'vmap:Batcher.one:"Batcher"',
    ].map((k) => k.replace('op:anonymous:"default"', 'op:undefined:"default"')).sort());
    const judge = byName.get('op:judge:"judge"')!;
    expect(judge.params).toEqual([
      { name: "answer", schema: { description: "the text to judge", type: "string" } },
      { name: "rubric", schema: { $ref: "#/$defs/Rubric" } },
    ]);
    expect(judge.returns).toEqual({ $ref: "#/$defs/Verdict" });
    expect(Object.keys(judge.defs as object)).toEqual(["Confidence", "Criterion", "Rubric", "Verdict"]);
    expect(judge.doc).toBe("Judges an answer against a rubric.");
    expect(judge.source).toEqual({ file: "src/esm/ops.ts", line: 12, column: 22 });
    // vmap over an op describes the op's parameters, not `...args`.
    expect(byName.get('vmap:batch:"batch"')!.params).toEqual([{ name: "text", schema: { type: "string" } }]);
    expect(byName.get('op:internal:"joined"')!.params).toEqual([{ name: "parts", schema: { type: "array", items: { type: "string" } }, rest: true }]);
  });
});

describe("a stale manifest", () => {
  it("is refused when a type two imports away changes, naming the file; weft gen --check agrees", async () => {
    const build = BUILDS.find((b) => b.name === "gen-tc39")!;
    const deep = path.join(dirOf(build), "src/esm/deep.ts");
    writeFileSync(deep, readFileSync(deep, "utf8").replace("value: number;", "value: number;\n  note?: string;"));
    const [failure, check] = await Promise.all([
      runBuild(build, "esm").then(
        () => "ran",
        (error: { stderr: string }) => error.stderr,
      ),
      weftGen(build, "--check").then(
        () => "ok",
        (error: { code: number; stderr: string }) => `${error.code}: ${error.stderr.trim()}`,
      ),
    ]);
    expect(failure).toMatch(/StaleManifestError: weft: weft\.manifest\.json is stale: src\/esm\/deep\.ts changed since it was generated \(it shapes the types of Judge\.score, judge\)\. Run `weft gen` again/);
    expect(check).toBe("1: weft gen --check: weft.manifest.json is out of date; run `weft gen`");
  });
});
