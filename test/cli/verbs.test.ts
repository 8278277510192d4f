/**
 * Every `weft` verb as a real process with real arguments, over real state: config files
 * and a credentials file in a private home, a SQLite durable store written by a user's
 * program (test/fixtures/cli/app.ts, built by the weft transformer), a mock OpenAI server on
 * 127.0.0.1. Each test checks the output and the exit code. (Every verb's `--help` is run by
 * test/cli/reference.test.ts, which checks it against docs/cli.md.)
 */
import { spawn } from "node:child_process";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startMockOpenAI, type MockOpenAI } from "weft/testing";
import { buildDurableFixtures } from "../durable/build.js";
import { sandbox, type CliResult } from "./run.js";

const cli = sandbox();
const build = buildDurableFixtures(path.resolve(import.meta.dirname, "../fixtures/cli"));
const app = build.script("app.js");
const store = path.join(cli.cwd, "state", "weft.db");
const appLog = path.join(cli.cwd, "app.log");
const env = { WEFT_DURABLE_PATH: store, APP_LOG: appLog };

/** Runs the user's program as its own process: `main` under durable({ run }). */
function runApp(mode: string, run: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [app], { cwd: cli.cwd, env: { ...process.env, ...env, APP_MODE: mode, APP_RUN: run, HOME: cli.home, XDG_CONFIG_HOME: cli.configHome } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const weft = (args: string[], extra: Record<string, string | undefined> = {}) => cli.run(args, { env: { ...env, ...extra } });
const bodies = () => (existsSync(appLog) ? readFileSync(appLog, "utf8").trim().split("\n") : []);
const reset = () => writeFileSync(appLog, "");

describe("weft configure", () => {
  test("set, get, unset and list walk the layers; a value is checked before it is written", async () => {
    expect(await weft(["configure", "get", "models.default"])).toMatchObject({ code: 0, stdout: "local:chat  (default)\n" });
    expect((await weft(["configure", "set", "models.default", "openai:gpt-4o-mini"])).code).toBe(0);
    expect(await weft(["configure", "get", "models.default"])).toMatchObject({ code: 0, stdout: "openai:gpt-4o-mini  (user)\n" });
    expect((await weft(["configure", "set", "--project", "models.default", "local:project"])).code).toBe(0);
    expect(existsSync(path.join(cli.cwd, "weft.config.json"))).toBe(true);
    expect((await weft(["configure", "get", "models.default"])).stdout).toBe("local:project  (project)\n");
    expect((await weft(["configure", "get", "models.default"], { WEFT_MODELS_DEFAULT: "env:model" })).stdout).toBe("env:model  (env)\n");
    const json = JSON.parse((await weft(["configure", "get", "models.default", "--json"])).stdout) as unknown;
    expect(json).toEqual({ key: "models.default", value: "local:project", source: "project" });
    expect((await weft(["configure", "set", "concurrency", "4"])).code).toBe(0);
    const listed = await weft(["configure", "list"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^concurrency +4 +user \(.*config\.json\)$/m);
    expect(listed.stdout).toMatch(/^models\.default +local:project +project \(.*weft\.config\.json\)$/m);
    expect(listed.stdout).toMatch(/^log\.level +warn +default$/m);
    expect((await weft(["configure", "unset", "--project", "models.default"])).code).toBe(0);
    expect((await weft(["configure", "get", "models.default"])).stdout).toBe("openai:gpt-4o-mini  (user)\n");
    expect((await weft(["configure", "unset", "models.default"])).code).toBe(0);
  });

  test("a bad value is refused with the key and what was expected (exit 1); an unknown key is a usage error (exit 2)", async () => {
    const bad = await weft(["configure", "set", "concurrency", "0"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^weft configure set: config file .*config\.json: expected >= 1 at concurrency, received 0\n$/);
    const unknown = await weft(["configure", "set", "models.defualt", "x"]);
    expect(unknown).toMatchObject({ code: 2, stderr: 'weft configure set: unknown config key "models.defualt"; run `weft configure set --help` for usage\n' });
    expect((await weft(["configure", "get", "models.default", "extra"])).code).toBe(2);
  });

  test("a bad value in a config file fails every verb that reads config, naming the file and key", async () => {
    const file = path.join(cli.cwd, "weft.config.json");
    writeFileSync(file, JSON.stringify({ log: { level: "loud" } }));
    try {
      const r = await weft(["configure", "get", "log.level"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`weft configure get: config file ${file}: expected one of "debug" | "error" | "info" | "silent" | "warn" at log.level, received "loud"\n`);
    } finally {
      writeFileSync(file, "{}");
    }
  });

  test("credentials: written 0600, shown redacted, refused once others can read the file", async () => {
    const key = "sk-cliplanted0123456789";
    const set = await weft(["configure", "set", "--credential", "acme.apiKey", key]);
    expect(set.code).toBe(0);
    expect(set.stdout).not.toContain(key);
    const file = path.join(cli.configHome, "weft", "credentials.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const got = await weft(["configure", "get", "--credential", "acme.apiKey"]);
    expect(got).toMatchObject({ code: 0, stdout: "[redacted]  (credentials)\n" });
    const listed = await weft(["configure", "list", "--json"]);
    expect(listed.stdout).toContain('"key": "acme.apiKey"');
    expect(listed.stdout).not.toContain(key);
    chmodSync(file, 0o644);
    const refused = await weft(["configure", "get", "--credential", "acme.apiKey"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`weft configure get: credentials file ${file} is open to group or others (mode 644); weft will not read it. Run \`chmod 600 ${file}\`\n`);
    chmodSync(file, 0o600);
    expect((await weft(["configure", "unset", "--credential", "acme.apiKey"])).code).toBe(0);
    expect((await weft(["configure", "get", "--credential", "acme.apiKey"])).code).toBe(1);
  });
});

describe("durable verbs over a store a real program wrote", () => {
  test("with no store yet, they fail saying how to get one", async () => {
    const r = await weft(["runs", "list"]);
    expect(r).toMatchObject({ code: 1, stdout: "" });
    expect(r.stderr).toBe(`weft runs list: no durable store at ${store}; run a durable program first, or pass --store <path> (or set durable.path)\n`);
  });

  test("runs list|show, then runs resume skips the journaled nodes and finishes the run", async () => {
    reset();
    expect((await runApp("crash", "nightly")).stdout).toMatch(/^failed: .*crashed after scoring.*\n$/);
    expect(bodies()).toEqual(["score 1", "score 2", "total 2"]);
    const list = await weft(["runs", "list", "--json"]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id: "nightly", status: "failed", nodesDone: 2 })]);
    expect((await weft(["runs", "list"])).stdout).toMatch(/^nightly +failed +2 +0 +0 /m);
    const show = await weft(["runs", "show", "nightly"]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^run nightly: failed/);
    expect(show.stdout).toMatch(/nodes journaled: 2/);
    expect(show.stdout).toMatch(/score#0 = \{"item":1,"score":2\}/);
    expect((await weft(["runs", "show", "nope"])).stderr).toMatch(/^weft runs show: no run "nope" in .*; list the runs with `weft runs list`\n$/);
    reset();
    const resumed = await weft(["runs", "resume", "nightly", app]);
    expect(resumed.stderr).toBe("");
    expect(resumed).toMatchObject({ code: 0, stdout: "run nightly: completed, result 6\n" });
    // Only the node that had not finished ran again.
    expect(bodies()).toEqual(["total 2"]);
    expect(JSON.parse((await weft(["runs", "list", "--json"])).stdout)).toEqual([expect.objectContaining({ id: "nightly", status: "completed" })]);
  });

  test("dlq list shows the failed items; dlq replay runs only them", async () => {
    reset();
    await runApp("flaky", "batch");
    const list = await weft(["dlq", "list", "batch", "--json"]);
    expect(list.code).toBe(0);
    const letters = JSON.parse(list.stdout) as { index: number; error: string; status: string }[];
    expect(letters.map((d) => [d.index, d.status])).toEqual([
      [2, "open"],
      [5, "open"],
    ]);
    expect(letters[0]!.error).toMatch(/item 3 is flaky/);
    expect((await weft(["dlq", "list"])).stdout).toMatch(/^batch +\S+ +2 +open +1 /m);
    reset();
    const replay = await weft(["dlq", "replay", "batch", app, "--export", "main"], { APP_MODE: "flaky", APP_FIXED: "1" });
    expect(replay).toMatchObject({ code: 0, stdout: "run batch: replayed 2 of 2 dead letters\n" });
    expect(bodies().sort()).toEqual(["score 3", "score 6"]);
    expect((await weft(["dlq", "list", "batch"])).stdout).toBe("no dead letters\n");
    expect((await weft(["dlq", "replay", "batch", app], { APP_MODE: "flaky", APP_FIXED: "1" })).code).toBe(1);
  });

  for (const decision of ["approve", "deny"] as const) {
    test(`${decision} decides a risky call another process is waiting on`, async () => {
      const run = `pay-${decision}`;
      const waiting = runApp("risky", run);
      let key: string | undefined;
      for (let i = 0; i < 500 && key === undefined; i++) {
        const shown = await weft(["runs", "show", run, "--json"]);
        if (shown.code === 0) key = (JSON.parse(shown.stdout) as { approvals: { key: string; status: string }[] }).approvals.find((a) => a.status === "pending")?.key;
        if (key === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(key).toBe(`run(${run})/transfer#0`);
      const wrong = await weft([decision, run, "run(x)/nothing#0"]);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toBe(`weft ${decision}: no pending approval "run(x)/nothing#0" in run "${run}"; pending in that run: ${key}\n`);
      const done = await weft([decision, run, key!, "--by", "ada", "--reason", "checked"]);
      expect(done).toMatchObject({ code: 0, stdout: `${decision === "approve" ? "approved" : "denied"} ${key} in run ${run}\n` });
      const out = await waiting;
      expect(out.stdout).toBe(decision === "approve" ? '"sent 1200"\n' : "failed: transfer: denied by ada: checked\n");
    }, 30_000);
  }

  test("cache clear removes the cached results", async () => {
    expect((await runApp("cache", "-")).stdout).toBe("HI\n");
    expect(await weft(["cache", "clear"])).toMatchObject({ code: 0, stdout: "removed 1 cached result\n" });
    expect(await weft(["cache", "clear"])).toMatchObject({ code: 0, stdout: "removed 0 cached results\n" });
  });
});

describe("weft inspect", () => {
  test("lists a built module's ops with their schemas, and its jitted functions", async () => {
    const r = await weft(["inspect", app]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^op score \(io\): \(item: number\) => Scored$/m);
    expect(r.stdout).toMatch(/^op transfer \(io\): \(cents: number\) => string$/m);
    expect(r.stdout).toMatch(/^ {2}policy: .*risk "high"/m);
    expect(r.stdout).toMatch(/^jit pipeline: /m);
    const json = JSON.parse((await weft(["inspect", app, "--json"])).stdout) as { ops: { export: string; params: { schema: unknown }[] }[] };
    expect(json.ops.find((o) => o.export === "score")!.params[0]!.schema).toEqual({ type: "number" });
  });

  test("prints a jitted function's plan as text or Mermaid for given arguments", async () => {
    const text = await weft(["inspect", app, "--jit", "pipeline", "--args", "[1, 2]"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/score/);
    const mermaid = await weft(["inspect", app, "--jit", "pipeline", "--args", "[1, 2]", "--mermaid"]);
    expect(mermaid.stdout).toMatch(/^flowchart TD/);
    expect((await weft(["inspect", app, "--jit", "pipeline"])).code).toBe(2);
    expect((await weft(["inspect", app, "--jit", "score", "--args", "[1]"])).stderr).toMatch(/^weft inspect: .*export "score" is not a jitted function; jitted exports: pipeline\n$/);
    expect((await weft(["inspect", "missing.js"])).stderr).toMatch(/^weft inspect: no module at .*missing\.js; pass the path of a built \.js file\n$/);
  });
});

describe("weft models and weft health against an OpenAI-compatible server", () => {
  let mock: MockOpenAI;
  beforeAll(async () => {
    mock = await startMockOpenAI({ port: 0, models: ["mock-chat", "mock-embed"], apiKey: "sk-mockkey0123456789" });
  });
  afterAll(() => mock.close());
  const provider = () => ({ OPENAI_BASE_URL: mock.url, OPENAI_API_KEY: "sk-mockkey0123456789", WEFT_MODELS_DEFAULT: "openai:mock-chat" });

  test("models list shows each configured provider's models, and the default", async () => {
    const r = await weft(["models", "list", "--json"], provider());
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { default: string; models: { model: string; default: boolean }[] };
    expect(out.default).toBe("openai:mock-chat");
    expect(out.models.map((m) => [m.model, m.default])).toEqual([
      ["openai:mock-chat", true],
      ["openai:mock-embed", false],
    ]);
    expect((await weft(["models", "list"], provider())).stdout).toMatch(/^openai:mock-chat +\* +provider$/m);
  });

  test("models test makes one call and prints latency, usage and cost", async () => {
    const r = await weft(["models", "test", "openai:mock-chat"], provider());
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^openai:mock-chat: \d+ ms\n {2}usage: \d+ input \+ \d+ output tokens\n {2}cost: +(unpriced|\$\d+\.\d{6})\n {2}reply: /);
    const local = await weft(["models", "test", "--json"]);
    expect(JSON.parse(local.stdout)).toMatchObject({ model: "local:chat", usage: { inputTokens: expect.any(Number) } });
  });

  test("health passes with the provider up and fails, per check, when it is down", async () => {
    // A wide deadline: the machine may be loaded; what is checked is which checks pass.
    const up = await weft(["health", "--json", "--timeout", "30s"], provider());
    expect(up.code, up.stdout).toBe(0);
    const report = JSON.parse(up.stdout) as { ok: boolean; checks: { name: string; ok: boolean }[] };
    expect(report.checks.map((c) => [c.name, c.ok])).toEqual([
      ["config", true],
      ["store", true],
      ["provider openai", true],
    ]);
    const down = { ...provider(), OPENAI_BASE_URL: "http://127.0.0.1:9/v1" };
    const failed = await weft(["health"], down);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^provider openai +FAIL +\d+ +/m);
    expect(failed.stdout).toMatch(/^config +ok /m);
    expect(failed.stderr).toBe("weft health: provider openai failed; see the table above\n");
    const badKey = await weft(["health", "--json"], { ...provider(), OPENAI_API_KEY: "sk-wrongkey0000000000" });
    expect(badKey.code).toBe(1);
    expect(badKey.stdout).not.toContain("sk-wrongkey0000000000");
  });
});

describe("weft clean", () => {
  test("removes the generated manifest and cached results; --dry-run removes nothing", async () => {
    const manifest = path.join(cli.cwd, "weft.manifest.json");
    writeFileSync(manifest, "{}");
    writeFileSync(path.join(cli.cwd, "weft.manifest.checks.cjs"), "");
    const dry = await weft(["clean", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`would remove ${manifest}`);
    expect(existsSync(manifest)).toBe(true);
    const r = await weft(["clean"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`removed ${manifest}`);
    expect(r.stdout).toMatch(/removed \d+ cached results? from /);
    expect(existsSync(manifest)).toBe(false);
    expect(JSON.parse((await weft(["runs", "list", "--json"])).stdout).length).toBeGreaterThan(0);
  });
});
