/**
 * The JSON Schema of weft's config type (`WeftConfig` in runtime/config/types.ts), extracted
 * by the same extractor that gives ops their schemas, and written as a TypeScript module
 * (runtime/config/schema.generated.ts) that the runtime reads without loading TypeScript.
 * test/config/schema.test.ts fails when the committed module differs from what this returns
 * (`npm run config-schema` rewrites it).
 */
import path from "node:path";
import type * as TS from "typescript";
import { createSchemaExtractor } from "./schema.js";

/** Where the type is declared and where its schema goes, relative to weft's root. */
export const CONFIG_TYPES = "runtime/config/types.ts";
export const CONFIG_SCHEMA_MODULE = "runtime/config/schema.generated.ts";

/**
 * The source of `schema.generated.ts`: `CONFIG_SCHEMA` and `CONFIG_DEFS` for `WeftConfig`.
 * Throws when the type has something JSON Schema cannot express.
 *
 * @example
 * ```ts
 * writeFileSync(path.join(root, CONFIG_SCHEMA_MODULE), configSchemaModule(ts, root));
 * ```
 */
export function configSchemaModule(ts: typeof TS, root: string): string {
  const file = path.join(root, CONFIG_TYPES);
  const program = ts.createProgram([file], { strict: true, noEmit: true, skipLibCheck: true, types: [], target: ts.ScriptTarget.ES2022 });
  const source = program.getSourceFile(file);
  if (!source) throw new Error(`config schema: cannot read ${CONFIG_TYPES}`);
  const checker = program.getTypeChecker();
  const declaration = source.statements.find((s): s is TS.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === "WeftConfig");
  if (!declaration) throw new Error(`config schema: ${CONFIG_TYPES} declares no interface WeftConfig`);
  const extractor = createSchemaExtractor(ts, program, { root });
  const schema = extractor.schemaOf(checker.getTypeAtLocation(declaration.name), "config", { declaration });
  if (extractor.issues.length > 0) {
    throw new Error(`config schema: ${extractor.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`);
  }
  return [
    "// Generated from runtime/config/types.ts by transformers/config-schema.ts: `npm run config-schema`. Do not edit.",
    'import type { JsonSchema } from "../../decorators/descriptor.js";',
    "",
    "/** The JSON Schema of `WeftConfig`. */",
    `export const CONFIG_SCHEMA: JsonSchema = ${JSON.stringify(schema, null, 2)};`,
    "",
    "/** The definitions `CONFIG_SCHEMA` refers to. */",
    `export const CONFIG_DEFS: Readonly<Record<string, JsonSchema>> = ${JSON.stringify(extractor.defs(), null, 2)};`,
    "",
  ].join("\n");
}
