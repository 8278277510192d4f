/**
 * `weft trace <file>` as a real process: a trace saved by `traceRecorder()` from a real
 * OpenTelemetry SDK run is printed as the waterfall; bad files and options are errors that
 * say what to do.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { op, traceRecorder } from "weft";
import { sandbox } from "./run.js";
import { exportSpansTo } from "../support/spans.js";

const cli = sandbox();
const recorder = exportSpansTo(traceRecorder());

describe("weft trace", () => {
  test("prints a saved run as its waterfall, failed attempts under their span", async () => {
    let calls = 0;
    const fetchPage = op({ name: "fetchPage", retry: { times: 2, backoff: { initial: 0, jitter: 0 } } }, async (url: string) => {
      if (calls++ === 0) throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
      return url.length;
    });
    const crawl = op({ name: "crawl" }, async (urls: string[]) => Promise.all(urls.map((u) => fetchPage(u))));
    await crawl(["a", "bb"]);
    writeFileSync(path.join(cli.cwd, "run.json"), JSON.stringify(recorder.toJSON()));
    const r = await cli.run(["trace", "run.json", "--width", "20"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ +start +duration +span +0 → [\d.]+ m?s +notes$/);
    expect(lines[1]).toMatch(/^ +[\d.]+ ms +[\d.]+ m?s +crawl +█/);
    expect(lines.filter((l) => /[├└]─ fetchPage/.test(l))).toHaveLength(2);
    expect(r.stdout).toMatch(/2 attempts/);
    expect(r.stdout).toMatch(/↻ attempt 1 failed at \+[\d.]+ ms: Error: socket hang up; retried after 0\.00 ms/);
    expect(lines.at(-1)).toMatch(/^3 spans in [\d.]+ m?s · 1 failed attempts retried or reported$/);
  });

  test("a missing file, a file that is not a trace and a bad width say what is wrong", async () => {
    const missing = await cli.run(["trace", "nope.json"]);
    expect(missing).toMatchObject({ code: 1, stdout: "", stderr: "weft trace: cannot read nope.json: ENOENT; pass the path of a saved trace\n" });
    writeFileSync(path.join(cli.cwd, "other.json"), JSON.stringify({ resourceSpans: [] }));
    const other = await cli.run(["trace", "other.json"]);
    expect(other).toMatchObject({ code: 1, stderr: 'weft trace: other.json: not a weft trace (format is undefined, expected "weft.trace/1"); save one with traceRecorder().toJSON()\n' });
    const width = await cli.run(["trace", "other.json", "--width", "wide"]);
    expect(width).toMatchObject({ code: 2, stderr: 'weft trace: --width must be a whole number from 8 to 200, received "wide"; run `weft trace --help` for usage\n' });
    const none = await cli.run(["trace"]);
    expect(none.code).toBe(2);
  });
});
