/**
 * The model ops' checks are generated from their schemas: runtime/models/checks.generated.ts
 * is exactly what the build-time check generator (transformers/checks.ts) writes from
 * runtime/models/schemas.ts today (`npm run models-checks` rewrites it), and the generated
 * checks give the schema interpreter's answers. (The generation lives here: transformers/
 * may not import the runtime, and the runtime does not carry the generator.)
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";
import { CHECK_LIB } from "../../decorators/formats.js";
import { MODEL_CHECKS } from "../../runtime/models/checks.generated.js";
import { MODEL_OPS } from "../../runtime/models/schemas.js";
import { matches } from "../../runtime/validate.js";
import { checksSource } from "../../transformers/checks.js";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** Where the module goes, relative to weft's root. */
const MODEL_CHECKS_MODULE = "runtime/models/checks.generated.ts";

/**
 * The source of `checks.generated.ts`: `MODEL_CHECKS`, each model op's `InjectedChecks`,
 * written by the generator that writes an op's checks at build time (transformers/checks.ts).
 */
function modelChecksModule(): string {
  const entries = Object.entries(MODEL_OPS).map(([name, op]) => {
    const source = checksSource({ params: op.params.map(([param, schema, optional]) => ({ name: param, schema, ...(optional && { optional: true }) })), ...(op.returns !== undefined && { returns: op.returns }) });
    if (source === undefined) throw new Error(`model checks: ${name} checks nothing`);
    // The generator writes plain JavaScript; typed here so the module compiles under strict TypeScript.
    const typed = source
      .replace(/^function \(F\)/, "function (F: CheckLib): SiteChecks")
      .replace(/function (\w+)\(v, d\)/g, "function $1(v: any, d: number): boolean")
      .replace(/function \(v\)/g, "function (v: any): boolean");
    return `  ${JSON.stringify(name)}: ${typed.replace(/\n/g, "\n  ")},`;
  });
  return [
    "// Generated from runtime/models/schemas.ts by test/models/checks.test.ts: `npm run models-checks`. Do not edit.",
    'import type { CheckLib, InjectedChecks, SiteChecks } from "../../decorators/descriptor.js";',
    'import type { ModelOpName } from "./schemas.js";',
    "",
    "/** Each model op's checks, generated from its schemas. */",
    "export const MODEL_CHECKS: Readonly<Record<ModelOpName, InjectedChecks>> = {",
    ...entries,
    "};",
    "",
  ].join("\n");
}

test("the committed model checks are the ones generated from the model ops' schemas", () => {
  const want = modelChecksModule();
  const file = path.join(ROOT, MODEL_CHECKS_MODULE);
  if (process.env.WEFT_WRITE_MODEL_CHECKS === "1") writeFileSync(file, want);
  expect(readFileSync(file, "utf8"), `${MODEL_CHECKS_MODULE} is stale: run \`npm run models-checks\``).toBe(want);
});

test("the generated checks and the schema interpreter agree on the values a model call takes and returns", () => {
  const values: readonly unknown[] = [
    "local:chat", "", "é", 0, 1.5, -1, Number.NaN, true, null, undefined, [], {}, ["a", "b"], [1], [[0.1, 0.2]],
    [{ role: "user", content: "hi" }], [{ role: "user", content: 1 }], [{ role: "robot", content: "hi" }], [{ role: "user", content: "hi", extra: 1 }], [{ role: "user" }],
    { temperature: 0.5, maxTokens: 10, topP: 1, stop: ["x"], seed: 3, system: "s" }, { temperature: -1 }, { maxTokens: 0 }, { maxTokens: 1.5 }, { topP: 2 }, { stop: [1] }, { seed: 1.5 }, { unknown: 1 },
    { schema: { name: "output", schema: {} } }, { schema: { name: "output", schema: true } }, { schema: { name: "output" } }, { schema: { name: 1, schema: {} } },
    { schema: { type: "object" }, schemaName: "out_1", defs: {} }, { schemaName: "bad name" }, { schemaName: "x".repeat(65) }, { dimensions: 8 }, { dimensions: 0 },
    { text: "t", model: "m", usage: {}, finishReason: "stop" }, { text: "t", model: "m", usage: {}, finishReason: "stop", requestId: "r" }, { text: "t", model: "m", usage: [], finishReason: "stop" }, { text: "t", model: "m", finishReason: "stop" },
  ];
  for (const [name, op] of Object.entries(MODEL_OPS)) {
    const generated = MODEL_CHECKS[name as keyof typeof MODEL_OPS](CHECK_LIB);
    const schemas: [string, unknown][] = [...op.params.map(([param, schema]) => [param, schema] as [string, unknown]), ["return", op.returns]];
    schemas.forEach(([what, schema], index) => {
      const check = index < op.params.length ? generated.params[index] : generated.returns;
      if (schema === undefined || (typeof schema === "object" && schema !== null && Object.keys(schema).length === 0)) return expect(check ?? null, `${name} ${what}`).toBeNull();
      for (const value of values) expect(check!(value), `${name} ${what} on ${JSON.stringify(value)}`).toBe(matches(schema as never, value, {}));
    });
  }
});
