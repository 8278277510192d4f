/**
 * The `weft` dispatcher as a real process: verbs, `--help`, exit codes (0 success, 1 failure,
 * 2 usage error) and one-line errors on stderr that say what to do.
 */
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { sandbox } from "./run.js";

const cli = sandbox();
const REPO = path.resolve(import.meta.dirname, "../..");

describe("weft <verb>", () => {
  test("weft --help lists every verb with its summary; exit 0 on stdout", async () => {
    const r = await cli.run(["--help"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(/^weft: /);
    expect(r.stdout).toMatch(/^verbs:$/m);
    expect(r.stdout).toMatch(/^ {2}gen +write the op manifest/m);
  });

  test("no verb is a usage error: exit 2, one line on stderr pointing at --help", async () => {
    const r = await cli.run([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("weft: missing verb; run `weft --help` for the list\n");
  });

  test("an unknown verb is a usage error naming the nearest verb", async () => {
    const r = await cli.run(["gne"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('weft: unknown verb "gne" (did you mean "gen"?); run `weft --help` for the list\n');
  });

  test("an unknown option is a usage error naming it", async () => {
    const r = await cli.run(["gen", "--frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^weft gen: Unknown option '--frobnicate'; run `weft gen --help` for usage\n$/);
  });

  test("a string option without its value is a usage error", async () => {
    const r = await cli.run(["gen", "-p"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^weft gen: Option '-p, --project <value>' argument missing; run `weft gen --help` for usage\n$/);
  });

  test("an extra positional argument is a usage error", async () => {
    const r = await cli.run(["gen", "extra"]);
    expect(r).toMatchObject({ code: 2, stderr: 'weft gen: unexpected argument "extra"; run `weft gen --help` for usage\n' });
  });

  test("weft gen --help prints the verb's usage and options", async () => {
    const r = await cli.run(["gen", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: weft gen \[-p <tsconfig>\]/m);
    expect(r.stdout).toMatch(/^ {2}-p, --project <tsconfig> +the tsconfig.json to analyse/m);
    expect(r.stdout).toMatch(/^ {2}-h, --help +show this help$/m);
  });

  test("weft gen still writes a manifest, and --check exits 1 once it is stale", async () => {
    const project = path.join(cli.cwd, "gen-project");
    cpSync(path.join(REPO, "test/fixtures/weft-project/src"), path.join(project, "src"), { recursive: true });
    cpSync(path.join(REPO, "test/fixtures/weft-project/weft-stub"), path.join(project, "node_modules/weft"), { recursive: true });
    const compilerOptions = { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, types: [], rootDir: "src", outDir: "dist", skipLibCheck: true };
    writeFileSync(path.join(project, "tsconfig.json"), JSON.stringify({ compilerOptions, include: ["src"] }));
    const tsPath = path.join(REPO, "node_modules/typescript");
    const r = await cli.run(["gen", "-p", path.join(project, "tsconfig.json"), "--typescript", tsPath]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^weft gen: \d+ op sites? → /);
    expect(existsSync(path.join(project, "weft.manifest.json"))).toBe(true);
    expect((await cli.run(["gen", "--check", "-p", path.join(project, "tsconfig.json"), "--typescript", tsPath])).code).toBe(0);
    const source = path.join(project, "src", "ops.ts");
    writeFileSync(source, `${readFileSync(source, "utf8")}\nexport const touched = 1;\n`);
    const stale = await cli.run(["gen", "--check", "-p", path.join(project, "tsconfig.json"), "--typescript", tsPath]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/out of date; run `weft gen`/);
  });
});
