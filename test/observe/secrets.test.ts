/**
 * A planted API key never leaves the process: the full demo runs against an OpenAI-compatible
 * server that requires the key, with the key in the environment as a user would set it, and
 * the key appears in none of stdout, stderr, Node warnings, spans (names, attributes,
 * status, events), runtime events, log records and error messages. The CLI's verbs that
 * touch credentials are run as processes with the same key, and print none of it either.
 */
import path from "node:path";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { configureLog, credential, op, subscribe, type LogRecord, type RuntimeEvent } from "weft";
import { startMockOpenAI, type MockOpenAI } from "weft/testing";
import { recordSpans } from "../support/spans.js";
import { sandbox } from "../cli/run.js";
import { buildDurableFixtures } from "../durable/build.js";

const PLANTED = "sk-plantedSecret0123456789abcdefXYZ";
const exporter = recordSpans();
let mock: MockOpenAI;

beforeAll(async () => {
  mock = await startMockOpenAI({ port: 0, apiKey: PLANTED, models: ["mock-chat"] });
});
afterAll(() => mock.close());

test("a planted key is absent from every output of a full demo run, and of the CLI", async () => {
  const env = { OPENAI_BASE_URL: mock.url, OPENAI_API_KEY: PLANTED, OPENAI_MODEL: "mock-chat" };
  const saved = { ...process.env };
  Object.assign(process.env, env);
  const outputs: string[] = [];
  const events: RuntimeEvent[] = [];
  const records: LogRecord[] = [];
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  const log = vi.spyOn(console, "log").mockImplementation((...parts: unknown[]) => void outputs.push(parts.map(String).join(" ")));
  const err = vi.spyOn(console, "error").mockImplementation((...parts: unknown[]) => void outputs.push(parts.map(String).join(" ")));
  const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => (outputs.push(String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => (outputs.push(String(chunk)), true));
  process.on("warning", onWarning);
  const stop = subscribe((e) => events.push(e));
  configureLog({ level: "debug", sink: (r) => records.push(r) });
  const errors: string[] = [];
  try {
    const { demo } = await import("../../examples/demo.js");
    // Section 7's batch runs in child processes, from the examples' transformer build.
    await demo({ quick: true, runner: buildDurableFixtures(path.resolve(import.meta.dirname, "../../examples")).script("desk-run.js") });
    // The key reached the server: the demo really ran against it.
    expect(mock.requests.some((r) => r.headers.authorization === `Bearer ${PLANTED}`)).toBe(true);
    // A body that quotes the key in its error, and the key as a value printed by user code.
    const leaky = op({ name: "secrets.leaky" }, async (): Promise<string> => {
      throw new Error(`upstream refused key ${process.env.OPENAI_API_KEY} (Authorization: Bearer ${PLANTED})`);
    });
    await leaky().catch((e: Error) => {
      errors.push(e.message, String(e), e.stack ?? "");
    });
    const key = credential("openai.apiKey")!;
    console.log("the key is", key, `${key}`, JSON.stringify({ key }));
  } finally {
    stop();
    configureLog({ level: undefined as never, sink: "warning" });
    process.off("warning", onWarning);
    log.mockRestore();
    err.mockRestore();
    stdout.mockRestore();
    stderr.mockRestore();
    for (const k of Object.keys(env)) delete process.env[k];
    Object.assign(process.env, saved);
  }
  const spans = exporter.getFinishedSpans().map((s) => JSON.stringify({ name: s.name, attributes: s.attributes, status: s.status, events: s.events }));
  expect(spans.length).toBeGreaterThan(10);
  expect(outputs.join("\n")).toMatch(/fastest: .*; all three gave the same answers/);
  expect(errors[0]).toMatch(/upstream refused key \[redacted\]/);
  const everything = {
    output: outputs.join("\n"),
    warnings: warnings.map((w) => `${w.name} ${w.message}`).join("\n"),
    spans: spans.join("\n"),
    events: JSON.stringify(events, (_, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v)),
    logs: JSON.stringify(records),
    errors: errors.join("\n"),
  };
  for (const [where, text] of Object.entries(everything)) expect(text.includes(PLANTED), `the key leaked into ${where}`).toBe(false);
  for (const [where, text] of Object.entries(everything)) expect(text.includes(PLANTED.slice(3, 20)), `part of the key leaked into ${where}`).toBe(false);

  // The CLI, as processes, with the key in the environment and in the credentials file.
  const cli = sandbox();
  const run = (args: string[]) => cli.run(args, { env });
  const results = [
    await run(["configure", "set", "--credential", "openai.apiKey", PLANTED]),
    await run(["configure", "get", "--credential", "openai.apiKey"]),
    await run(["configure", "list"]),
    await run(["configure", "list", "--json"]),
    await run(["models", "list", "--json"]),
    await run(["models", "test", "openai:mock-chat"]),
    await run(["health", "--json", "--timeout", "30s"]),
  ];
  expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0, 0, 0, 0]);
  for (const r of results) expect(r.stdout + r.stderr).not.toContain(PLANTED);
}, 120_000);
