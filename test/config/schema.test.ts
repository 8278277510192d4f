/**
 * The config schema is the config type's: runtime/config/schema.generated.ts is exactly what
 * weft's extractor makes of `WeftConfig` today. `npm run config-schema` rewrites it.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { expect, test } from "vitest";
import { CONFIG_SCHEMA_MODULE, configSchemaModule } from "../../transformers/config-schema.js";

const ROOT = path.resolve(import.meta.dirname, "../..");

test("the committed config schema is the one extracted from WeftConfig", () => {
  const want = configSchemaModule(ts as never, ROOT);
  const file = path.join(ROOT, CONFIG_SCHEMA_MODULE);
  if (process.env.WEFT_WRITE_CONFIG_SCHEMA === "1") writeFileSync(file, want);
  expect(readFileSync(file, "utf8"), `${CONFIG_SCHEMA_MODULE} is stale: run \`npm run config-schema\``).toBe(want);
});
