/**
 * `weft gen` as a command: what it writes, where, and how it fails.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runGen, watchManifest } from "../../transformers/gen.js";
import { ts6 } from "../schema/support.js";

const REPO = path.resolve(import.meta.dirname, "../..");
let dir: string;

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { log: (s: string) => void out.push(s), error: (s: string) => void err.push(s) } };
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "weft-gen-"));
  mkdirSync(path.join(dir, "src"));
  mkdirSync(path.join(dir, "node_modules"));
  symlinkSync(path.join(REPO, "test/fixtures/weft-project/weft-stub"), path.join(dir, "node_modules/weft"), "dir");
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(
    path.join(dir, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { target: "ES2022", lib: ["ES2022"], module: "NodeNext", strict: true, types: [], skipLibCheck: true, noEmit: true }, include: ["src"] }),
  );
  writeFileSync(path.join(dir, "src/ok.ts"), `import { op } from "weft";\nexport const echo = op((text: string) => text);\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("weft gen", () => {
  it("writes the manifest beside the tsconfig, or where -o says, with paths relative to it", () => {
    const a = io();
    expect(runGen(["-p", path.join(dir, "tsconfig.json"), "--typescript", path.join(REPO, "node_modules/typescript")], a.io)).toBe(0);
    expect(a.out[0]).toMatch(/^weft gen: 1 op site → /);
    const beside = JSON.parse(readFileSync(path.join(dir, "weft.manifest.json"), "utf8"));
    expect(beside).toMatchObject({ weft: 1, root: ".", entries: [{ kind: "op", file: "src/ok.ts", span: [2, 2], meta: { name: "echo", locator: { export: "echo" } } }] });
    expect(Object.keys(beside.files)).toEqual(["src/ok.ts"]);

    const out = path.join(dir, "build/weft.manifest.json");
    mkdirSync(path.dirname(out));
    expect(runGen(["-p", path.join(dir, "tsconfig.json"), "-o", out, "--typescript", path.join(REPO, "node_modules/typescript")], io().io)).toBe(0);
    expect(JSON.parse(readFileSync(out, "utf8")).root).toBe("..");
  });

  it("reports build errors with file, line and column, and writes nothing", () => {
    writeFileSync(path.join(dir, "src/bad.ts"), `import { op } from "weft";\n\nexport const run = op((job: { done: () => void }) => 1);\n`);
    rmSync(path.join(dir, "weft.manifest.json"), { force: true });
    const b = io();
    expect(runGen(["-p", path.join(dir, "tsconfig.json"), "--typescript", path.join(REPO, "node_modules/typescript")], b.io)).toBe(1);
    expect(b.err).toEqual([
      'src/bad.ts:3:20: weft: op "run": cannot derive a JSON Schema for job.done: function types are not supported (`() => void`); pass data, or type it `unknown` to skip checking (declared at src/bad.ts:3)',
      "weft gen: 1 error; no manifest written",
    ]);
    expect(existsSync(path.join(dir, "weft.manifest.json"))).toBe(false);
    rmSync(path.join(dir, "src/bad.ts"));
  });

  it("rejects unknown arguments and missing values", () => {
    const c = io();
    expect(runGen(["--frobnicate"], c.io)).toBe(2);
    expect(c.err[0]).toMatch(/^weft gen: unknown argument --frobnicate/);
    const d = io();
    expect(runGen(["-p"], d.io)).toBe(2);
    expect(d.err[0]).toMatch(/^weft gen: -p needs a value/);
  });
});

describe("weft gen --watch", () => {
  // Real file watchers: asserts what was written after each edit, never how soon.
  it("writes the manifest, then again when a source file changes", async () => {
    const wdir = mkdtempSync(path.join(os.tmpdir(), "weft-gen-watch-"));
    mkdirSync(path.join(wdir, "src"));
    mkdirSync(path.join(wdir, "node_modules"));
    symlinkSync(path.join(REPO, "test/fixtures/weft-project/weft-stub"), path.join(wdir, "node_modules/weft"), "dir");
    writeFileSync(path.join(wdir, "package.json"), JSON.stringify({ type: "module" }));
    writeFileSync(path.join(wdir, "tsconfig.json"), JSON.stringify({ compilerOptions: { target: "ES2022", lib: ["ES2022"], module: "NodeNext", strict: true, types: [], skipLibCheck: true, noEmit: true }, include: ["src"] }));
    writeFileSync(path.join(wdir, "src/ok.ts"), `import { op } from "weft";\nexport const echo = op((text: string) => text);\n`);
    const manifestFile = path.join(wdir, "weft.manifest.json");
    const names = () => (existsSync(manifestFile) ? (JSON.parse(readFileSync(manifestFile, "utf8")) as { entries: { meta: { name: string } }[] }).entries.map((e) => e.meta.name) : []);
    const until = async (done: () => boolean) => {
      for (let i = 0; i < 300 && !done(); i++) await new Promise((r) => setTimeout(r, 50));
    };
    const log = io();
    const ts = ts6;
    const watch = watchManifest({ project: path.join(wdir, "tsconfig.json"), typescript: ts }, log.io);
    try {
      await until(() => names().length === 1);
      expect(names()).toEqual(["echo"]);
      expect(readFileSync(path.join(wdir, "weft.manifest.checks.cjs"), "utf8")).toContain("module.exports");
      writeFileSync(path.join(wdir, "src/ok.ts"), `import { op } from "weft";\nexport const echo = op((text: string) => text);\nexport const twice = op((n: number) => n * 2);\n`);
      await until(() => names().length === 2);
      expect(names()).toEqual(["echo", "twice"]);
      expect(log.err).toEqual([]);
    } finally {
      watch.close();
      rmSync(wdir, { recursive: true, force: true });
    }
  }, 30_000);
});
