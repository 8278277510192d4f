/**
 * health(): the config, the store, each configured provider (one cheap call on real HTTP to
 * the mock OpenAI server) and registered checks; a down provider fails its check, by name.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { configureDurable, health, MemoryStore, registerHealthCheck, setConfig } from "weft";
import { startMockOpenAI, type MockOpenAI } from "weft/testing";
import { unsetConfig } from "../../runtime/config/config.js";

let mock: MockOpenAI;
beforeAll(async () => {
  mock = await startMockOpenAI({ port: 0, models: ["m1", "m2", "m3"] });
  configureDurable({ store: new MemoryStore() });
});
afterAll(async () => {
  unsetConfig("providers");
  await mock.close();
});

test("passes when the store and every configured provider answer, and names each check", async () => {
  setConfig("providers.up", { baseUrl: mock.url });
  const report = await health({ providers: ["up", "local"] });
  expect(report.ok).toBe(true);
  expect(report.checks.map((c) => [c.name, c.ok, c.detail])).toEqual([
    ["config", true, "models.default = local:chat"],
    ["store", true, "configured store reads"],
    ["provider local", true, "2 models listed"],
    ["provider up", true, "3 models listed"],
  ]);
  expect(mock.requests.some((r) => r.path === "/v1/models")).toBe(true);
});

test("fails when a provider is down, with that check's reason, and the others still pass", async () => {
  const down = await startMockOpenAI({ port: 0 });
  const url = down.url;
  await down.close();
  setConfig("providers.down", { baseUrl: url });
  const report = await health({ providers: ["down"], timeout: "20s" });
  expect(report.ok).toBe(false);
  const check = report.checks.find((c) => c.name === "provider down")!;
  expect(check.ok).toBe(false);
  expect(check.detail).toMatch(/ECONNREFUSED|fetch failed|connect/i);
  expect(report.checks.filter((c) => c.name !== "provider down").every((c) => c.ok)).toBe(true);
});

test("runs registered checks; one that throws fails the report", async () => {
  const remove = registerHealthCheck("queue", () => {
    throw new Error("redis at 127.0.0.1:6379 refused the connection");
  });
  try {
    const report = await health({ providers: [] });
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === "queue")).toMatchObject({ ok: false, detail: "redis at 127.0.0.1:6379 refused the connection" });
  } finally {
    remove();
  }
  expect((await health({ providers: [] })).ok).toBe(true);
});
