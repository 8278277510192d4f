/**
 * No eval on the run path: the validation tests, the worker tests and the demo pass with
 * code generation from strings disallowed (`node --disallow-code-generation-from-strings`,
 * what a strict CSP or Cloudflare Workers impose). The flag goes through NODE_OPTIONS, so
 * vitest's own workers and weft's worker threads run under it too.
 *
 * This file plays both parts: run normally, it starts that nested run; inside it (with
 * WEFT_NO_EVAL_PROBE set), it only checks that the flag really is in force there.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, "../..");
const probe = process.env.WEFT_NO_EVAL_PROBE === "1";

/** The failed files and tests named in the nested run's JSON report, or undefined without one. */
function failuresIn(report: string): string | undefined {
  try {
    const r = JSON.parse(readFileSync(report, "utf8")) as { testResults: { name: string; status: string; message?: string; assertionResults: { status: string; fullName: string; failureMessages: string[] }[] }[] };
    const lines = r.testResults
      .filter((f) => f.status !== "passed")
      .flatMap((f) => [`${path.relative(REPO, f.name)}: ${f.message ?? f.status}`, ...f.assertionResults.filter((a) => a.status === "failed").map((a) => `  ${a.fullName}: ${a.failureMessages.join("\n").slice(0, 1000)}`)]);
    return lines.length > 0 ? lines.join("\n").slice(0, 8000) : undefined;
  } catch {
    return undefined;
  }
}

describe.runIf(probe)("inside the no-eval run", () => {
  it("cannot compile code from strings", () => {
    expect(() => new Function("return 1")).toThrow(EvalError);
  });
});

describe.skipIf(probe)("no eval on the run path", () => {
  it("passes the validation, worker and demo tests under --disallow-code-generation-from-strings", async () => {
    const files = ["test/schema/no-eval.test.ts", "test/schema/validate.test.ts", "test/workers", "test/examples.test.ts"];
    const dir = mkdtempSync(path.join(os.tmpdir(), "weft-no-eval-"));
    const out = path.join(dir, "report.json");
    await run(process.execPath, [path.join(REPO, "node_modules/vitest/vitest.mjs"), "run", "--reporter=json", `--outputFile=${out}`, ...files], {
      cwd: REPO,
      env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --disallow-code-generation-from-strings`.trim(), WEFT_NO_EVAL_PROBE: "1" },
      maxBuffer: 64 * 1024 * 1024,
    }).catch((error: { stdout?: string; stderr?: string }) => {
      throw new Error(`the no-eval run failed:\n${failuresIn(out) ?? `${(error.stdout ?? "").slice(-4000)}\n${(error.stderr ?? "").slice(-4000)}`}`);
    });
    const report = JSON.parse(readFileSync(out, "utf8")) as { numFailedTests: number; numPassedTests: number; testResults: { name: string }[] };
    expect(report.numFailedTests).toBe(0);
    // The probe ran, and so did every suite asked for.
    expect(report.numPassedTests).toBeGreaterThan(50);
    const ran = report.testResults.map((r) => path.relative(REPO, r.name));
    for (const file of ["test/schema/no-eval.test.ts", "test/schema/validate.test.ts", "test/workers/pool.test.ts", "test/examples.test.ts"]) expect(ran).toContain(file);
    rmSync(dir, { recursive: true, force: true });
  }, 240_000);
});
