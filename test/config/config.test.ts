/**
 * Layered config: precedence across all five layers, dot-notation reads and writes, a bad
 * value in each file named by file, key and expectation, and the credentials file's
 * permissions and lookup order.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { inspect } from "node:util";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { withContext } from "weft";
import { getConfig, listConfig, setConfig, unsetConfig, userConfigFile, writeConfigValue } from "../../runtime/config/config.js";
import { credential, credentialsFile, findCredential, setCredential, writeCredential } from "../../runtime/config/credentials.js";
import { Secret } from "../../runtime/config/secret.js";
import { redactText } from "../../runtime/redact.js";

let base: string;
let project: string;
const saved = { cwd: process.cwd(), env: { ...process.env } };

beforeEach(() => {
  base = mkdtempSync(path.join(tmpdir(), "weft-config-"));
  project = path.join(base, "project", "src", "deep");
  mkdirSync(project, { recursive: true });
  for (const k of Object.keys(process.env)) if (/^(WEFT_|OPENAI_)/.test(k)) delete process.env[k];
  process.env.XDG_CONFIG_HOME = path.join(base, "config");
  process.chdir(project);
});

afterEach(() => {
  process.chdir(saved.cwd);
  for (const k of Object.keys(process.env)) if (!(k in saved.env)) delete process.env[k];
  Object.assign(process.env, saved.env);
  unsetConfig("models.default");
  setCredential("openai.apiKey", undefined);
});

function userFile(tree: unknown): string {
  const file = path.join(base, "config", "weft", "config.json");
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(tree));
  return file;
}

function projectFile(tree: unknown): string {
  // Two levels above the working directory: found by walking upwards.
  const file = path.join(base, "project", "weft.config.json");
  writeFileSync(file, JSON.stringify(tree));
  return file;
}

describe("precedence", () => {
  test("default < user file < project file < environment < runtime (setConfig < withContext)", () => {
    expect(getConfig("models.default")).toBe("local:chat");
    userFile({ models: { default: "user:m" } });
    expect(getConfig("models.default")).toBe("user:m");
    projectFile({ models: { default: "project:m" } });
    expect(getConfig("models.default")).toBe("project:m");
    process.env.WEFT_MODELS_DEFAULT = "env:m";
    expect(getConfig("models.default")).toBe("env:m");
    setConfig("models.default", "runtime:m");
    expect(getConfig("models.default")).toBe("runtime:m");
    withContext({ config: { models: { default: "context:m" } } }, () => expect(getConfig("models.default")).toBe("context:m"));
    withContext({ config: { "models.default": "dotted:m" } }, () => expect(getConfig("models.default")).toBe("dotted:m"));
    // Each layer, taken away from the top, uncovers the one beneath.
    unsetConfig("models.default");
    expect(getConfig("models.default")).toBe("env:m");
    delete process.env.WEFT_MODELS_DEFAULT;
    expect(getConfig("models.default")).toBe("project:m");
  });

  test("objects merge key by key across layers; listConfig names the winning layer and file", () => {
    const user = userFile({ providers: { vllm: { baseUrl: "http://127.0.0.1:1/v1", model: "qwen" } }, log: { level: "info" } });
    const proj = projectFile({ providers: { vllm: { model: "llama" } } });
    process.env.WEFT_CONCURRENCY = "8";
    expect(getConfig("providers.vllm")).toEqual({ baseUrl: "http://127.0.0.1:1/v1", model: "llama" });
    expect(getConfig("concurrency")).toBe(8);
    const entries = Object.fromEntries(listConfig().map((e) => [e.key, e]));
    expect(entries["providers.vllm.baseUrl"]).toMatchObject({ layer: "user", file: user });
    expect(entries["providers.vllm.model"]).toMatchObject({ value: "llama", layer: "project", file: proj });
    expect(entries["log.level"]).toMatchObject({ value: "info", layer: "user" });
    expect(entries["concurrency"]).toMatchObject({ value: 8, layer: "env" });
    expect(entries["models.default"]).toMatchObject({ value: "local:chat", layer: "default" });
  });

  test("provider conventions: OPENAI_BASE_URL and OPENAI_MODEL set providers.openai", () => {
    process.env.OPENAI_BASE_URL = "http://127.0.0.1:9/v1";
    process.env.OPENAI_MODEL = "gpt-test";
    expect(getConfig("providers.openai")).toEqual({ baseUrl: "http://127.0.0.1:9/v1", model: "gpt-test" });
  });

  test("a file edit is seen without a restart", () => {
    const file = userFile({ models: { default: "a:1" } });
    expect(getConfig("models.default")).toBe("a:1");
    writeFileSync(file, JSON.stringify({ models: { default: "b:22" } }));
    expect(getConfig("models.default")).toBe("b:22");
  });
});

describe("bad values", () => {
  test("a bad value in the user file names the file, the key and what was expected", () => {
    const file = userFile({ models: { default: 3 } });
    expect(() => getConfig("models.default")).toThrow(`config file ${file}: expected string at models.default, received 3`);
  });

  test("a bad value in the project file names the file, the key and what was expected", () => {
    const file = projectFile({ log: { level: "loud" } });
    expect(() => getConfig("log.level")).toThrow(`config file ${file}: expected one of "debug" | "error" | "info" | "silent" | "warn" at log.level, received "loud"`);
  });

  test("an unknown key in a file is an error with the nearest valid key", () => {
    const file = projectFile({ models: { defualt: "x:y" } });
    expect(() => getConfig("models")).toThrow(`config file ${file}: unknown key "models.defualt" (did you mean "models.default"?)`);
  });

  test("a file that is not JSON says so, naming the file", () => {
    const file = userFile({});
    writeFileSync(file, "{ models: ");
    expect(() => getConfig("models.default")).toThrow(new RegExp(`^config file ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not valid JSON`));
  });

  test("a bad environment value names the variable and the key", () => {
    process.env.WEFT_CONCURRENCY = "lots";
    expect(() => getConfig("concurrency")).toThrow('environment variable WEFT_CONCURRENCY: expected number at concurrency, received "lots"');
    process.env.WEFT_CONCURRENCY = "0";
    expect(() => getConfig("concurrency")).toThrow('environment variable WEFT_CONCURRENCY: expected >= 1 at concurrency, received "0"');
  });

  test("setConfig and writeConfigValue check the value before keeping it", () => {
    expect(() => setConfig("validate", "yes")).toThrow('setConfig("validate"): expected boolean at validate, received "yes"');
    expect(() => setConfig("models.nope", "x")).toThrow('setConfig("models.nope"): unknown key "models.nope"');
    const file = userConfigFile();
    expect(() => writeConfigValue(file, "durable.synchronous", "SOMETIMES")).toThrow(/: expected one of "FULL" \| "NORMAL" at durable\.synchronous, received "SOMETIMES"$/);
    writeConfigValue(file, "durable.synchronous", "FULL");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ durable: { synchronous: "FULL" } });
    writeConfigValue(file, "durable.synchronous", undefined);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({});
  });
});

describe("credentials", () => {
  const KEY = "sk-planted0123456789abcdef";

  test("are written 0600, and refused (with what to do) once group or others can read them", () => {
    writeCredential("openai.apiKey", KEY);
    const file = credentialsFile();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(credential("openai.apiKey")?.reveal()).toBe(KEY);
    chmodSync(file, 0o644);
    expect(() => credential("openai.apiKey")).toThrow(`credentials file ${file} is open to group or others (mode 644); weft will not read it. Run \`chmod 600 ${file}\``);
    chmodSync(file, 0o640);
    expect(() => credential("openai.apiKey")).toThrow(/mode 640/);
    chmodSync(file, 0o600);
    expect(credential("openai.apiKey")?.reveal()).toBe(KEY);
  });

  test("are looked up runtime > environment > config > credentials file", () => {
    writeCredential("openai.apiKey", "sk-fromfile000000001");
    expect(findCredential("openai.apiKey")).toMatchObject({ source: "credentials" });
    userFile({ providers: { openai: { apiKey: "sk-fromconfig0000001" } } });
    expect(findCredential("openai.apiKey")).toMatchObject({ source: "config" });
    expect(credential("openai.apiKey")?.reveal()).toBe("sk-fromconfig0000001");
    process.env.OPENAI_API_KEY = "sk-fromenv000000001";
    expect(findCredential("openai.apiKey")).toMatchObject({ source: "env" });
    expect(credential("openai.apiKey")?.reveal()).toBe("sk-fromenv000000001");
    setCredential("openai.apiKey", "sk-fromruntime00001");
    expect(credential("openai.apiKey")?.reveal()).toBe("sk-fromruntime00001");
    setCredential("openai.apiKey", undefined);
    delete process.env.OPENAI_API_KEY;
    process.env.WEFT_CREDENTIAL_OPENAI_API_KEY = "sk-fromweftenv00001";
    expect(credential("openai.apiKey")?.reveal()).toBe("sk-fromweftenv00001");
  });

  test("rotating the key in the file is seen on the next lookup", () => {
    writeCredential("openai.apiKey", "sk-first000000000001");
    expect(credential("openai.apiKey")?.reveal()).toBe("sk-first000000000001");
    writeCredential("openai.apiKey", "sk-second00000000002");
    expect(credential("openai.apiKey")?.reveal()).toBe("sk-second00000000002");
  });

  test("a credential is a redacted value: String, JSON, inspect, templates and messages show [redacted]", () => {
    writeCredential("acme.token", "tok-9f8e7d6c5b4a3210");
    const secret = credential("acme.token")!;
    expect(secret).toBeInstanceOf(Secret);
    expect(String(secret)).toBe("[redacted]");
    expect(`${secret}`).toBe("[redacted]");
    expect(JSON.stringify({ key: secret })).toBe('{"key":"[redacted]"}');
    expect(inspect(secret)).toBe("Secret(acme.token: [redacted])");
    expect(inspect({ nested: { secret } })).not.toContain("tok-9f8e7d6c5b4a3210");
    // Once read, the raw text is redacted wherever weft writes text.
    expect(redactText(`request failed with token tok-9f8e7d6c5b4a3210`)).toBe("request failed with token [redacted]");
    // getConfig hands out API keys as Secrets too.
    userFile({ providers: { acme: { apiKey: "acme-key-123456789" } } });
    expect(String(getConfig("providers.acme.apiKey"))).toBe("[redacted]");
  });

  test("a malformed credentials file names the key, never the value", () => {
    const file = credentialsFile();
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ openai: { apiKey: 12345678 } }), { mode: 0o600 });
    expect(() => credential("openai.apiKey")).toThrow(`credentials file ${file}: expected string at openai.apiKey, received number`);
  });
});
