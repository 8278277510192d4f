/**
 * The package as published: `npm pack --dry-run --json` on a fresh build lists every entry
 * point of `exports`, `main`, `types` and `bin`; no tests, fixtures, benchmarks or examples;
 * source maps whose sources ship; and README links that resolve inside the package.
 *
 * The build runs in a temp copy of the package (node_modules linked), so it never races
 * with a build in the working tree.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
  main: string;
  types: string;
  files: string[];
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
};

const tmp = mkdtempSync(path.join(os.tmpdir(), "weft-pack-"));
const copy = path.join(tmp, "weft");
let files: string[] = [];

beforeAll(() => {
  // What the package is made of: what the build reads and what `files` names.
  const build = JSON.parse(readFileSync(path.join(root, "tsconfig.build.json"), "utf8")) as { include: string[] };
  const named = pkg.files.filter((f) => !f.startsWith("!") && f !== "dist");
  for (const entry of new Set(["package.json", "README.md", "tsconfig.base.json", "tsconfig.build.json", ...build.include, ...named])) {
    cpSync(path.join(root, entry), path.join(copy, entry), { recursive: true });
  }
  symlinkSync(path.join(root, "node_modules"), path.join(copy, "node_modules"), "dir");
  execFileSync(process.execPath, [path.join(root, "node_modules/ts-patch/bin/tspc.js"), "-p", "tsconfig.build.json"], { cwd: copy, stdio: "pipe" });
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: copy, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const [report] = JSON.parse(out) as [{ files: { path: string }[] }];
  files = report.files.map((f) => f.path).sort();
}, 300_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const clean = (p: string) => path.posix.normalize(p.replace(/^\.\//, ""));

describe("npm pack", () => {
  it("ships every entry point: exports, main, types and bin", () => {
    const targets = [pkg.main, pkg.types, ...Object.values(pkg.bin)];
    for (const [key, value] of Object.entries(pkg.exports)) {
      if (key === "./package.json") continue;
      targets.push(...(typeof value === "string" ? [value] : Object.values(value)));
    }
    const missing = targets.map(clean).filter((t) => !files.includes(t));
    expect(missing, "entry points the package names but does not ship").toEqual([]);
    expect(files).toContain("package.json");
    expect(files).toContain("README.md");
  });

  it("ships no tests, fixtures, benchmarks or examples", () => {
    const stray = files.filter((f) => /(^|\/)(test|tests|fixtures|benchmarks|examples)\//.test(f) || /\.test(-d)?\.(ts|js|d\.ts)$/.test(f) || /\.bench\./.test(f));
    expect(stray).toEqual([]);
  });

  it("ships the sources its source maps point at", () => {
    const maps = files.filter((f) => f.endsWith(".map"));
    expect(maps.length).toBeGreaterThan(0);
    const dangling: string[] = [];
    for (const map of maps) {
      const { sources, sourceRoot = "" } = JSON.parse(readFileSync(path.join(copy, map), "utf8")) as { sources: string[]; sourceRoot?: string };
      for (const source of sources) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(map), sourceRoot, source));
        if (!files.includes(target)) dangling.push(`${map} -> ${target}`);
      }
    }
    expect(dangling).toEqual([]);
  });

  it("has README links that resolve inside the package", () => {
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^(https?:|mailto:|#)/.test(l));
    expect(links.length).toBeGreaterThan(0);
    const broken = links.map((l) => clean(l.split("#")[0]!)).filter((l) => !files.includes(l) && !files.some((f) => f.startsWith(`${l.replace(/\/$/, "")}/`)));
    expect(broken).toEqual([]);
  });
});

describe("a user project built with tspc against the package", () => {
  it("a jitted run's op failure and a fallback warning name the TypeScript line (the project's source maps), not dist/*.js", () => {
    const app = path.join(tmp, "app");
    mkdirSync(path.join(app, "src"), { recursive: true });
    mkdirSync(path.join(app, "node_modules"));
    symlinkSync(copy, path.join(app, "node_modules/weft"), "dir");
    symlinkSync(path.join(root, "node_modules/@types"), path.join(app, "node_modules/@types"), "dir");
    writeFileSync(path.join(app, "package.json"), JSON.stringify({ type: "module" }));
    const compilerOptions = { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, skipLibCheck: true, sourceMap: true, rootDir: "src", outDir: "dist", types: ["node"], plugins: [{ transform: "weft/transformer" }] };
    writeFileSync(path.join(app, "tsconfig.json"), JSON.stringify({ compilerOptions, include: ["src"] }));
    const lines = [
      'import { jit, op } from "weft";',
      "",
      'export const fetchPage = op({ kind: "io" }, async (q: string): Promise<string> => {',
      '  if (q.startsWith("bad")) throw new Error(`no page ${q}`);',
      "  return `page(${q})`;",
      "});",
      "",
      "export const pipeline = jit(async (q: string) => {",
      "  const first = await fetchPage(q);",
      "  return [first, await fetchPage(`bad-${q}`)];", // line 10: the failing call
      "});",
      "",
      "export const keys = jit(async (q: string) => {",
      "  const page = await fetchPage(q);",
      "  return JSON.stringify(page);", // line 15: falls back (JSON.stringify of a traced value)
      "});",
      "",
      'const plan = (await pipeline.inspect("x")).fallback ?? "plan";',
      'const error = (await pipeline("x").catch((e: unknown) => e)) as Error;',
      "const warnings: string[] = [];",
      'process.on("warning", (w) => warnings.push(w.message));',
      'await keys("y");',
      "await new Promise((r) => setImmediate(r));",
      "console.log(JSON.stringify({ plan, error: error.message, warnings }));",
    ];
    writeFileSync(path.join(app, "src/app.ts"), lines.join("\n"));
    execFileSync(process.execPath, [path.join(root, "node_modules/ts-patch/bin/tspc.js"), "-p", "tsconfig.json"], { cwd: app, stdio: "pipe" });
    const out = execFileSync(process.execPath, ["dist/app.js"], { cwd: app, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const report = JSON.parse(out.trim().split("\n").at(-1)!) as { plan: string; error: string; warnings: string[] };
    expect(report.plan).toBe("plan");
    expect(report.error).toContain("no page bad-x");
    expect(report.error).toMatch(/src\/app\.ts:10\b/);
    expect(report.error).not.toContain("dist/app.js");
    const fallback = report.warnings.find((w) => w.includes("jit(keys)"));
    expect(fallback).toMatch(/src\/app\.ts:15\b/);
    expect(fallback).not.toContain("dist/app.js");
    // Built without source maps, the op calls of the staged function still name the
    // TypeScript line: the transformer marked each call with it.
    writeFileSync(path.join(app, "tsconfig.json"), JSON.stringify({ compilerOptions: { ...compilerOptions, sourceMap: false, outDir: "plain" }, include: ["src"] }));
    execFileSync(process.execPath, [path.join(root, "node_modules/ts-patch/bin/tspc.js"), "-p", "tsconfig.json"], { cwd: app, stdio: "pipe" });
    const plain = JSON.parse(execFileSync(process.execPath, ["plain/app.js"], { cwd: app, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim().split("\n").at(-1)!) as { error: string };
    expect(plain.error).toMatch(/src\/app\.ts:10\b/);
  }, 180_000);
});
