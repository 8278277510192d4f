/**
 * The generated checks and the JSON Schemas agree, on every golden fixture (golden-cases.ts)
 * and every schema fixture of the gap tests (gap-cases.ts),
 * through every way a build gets them: the transformer under TypeScript 6.0 and 5.9, with
 * TC39 and legacy decorators (an op per fixture as a function and as a decorated method),
 * and `weft gen` (the manifest and its checks module, under both compilers and both modes).
 *
 * For each op the build described, the runtime's own validator (`validatorsFor`, running the
 * build's generated check) and ajv over the build's JSON Schema must both accept the
 * fixture's valid samples and reject its invalid ones; a rejection must also be explained
 * (a `ValidationError` naming a real keyword, not "a valid value").
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as TS from "typescript";
import type { InjectedChecks, JsonSchema, OpDescriptor, ParamInfo } from "../../decorators/descriptor.js";
import { ValidationError } from "../../runtime/errors.js";
import { validatorsFor } from "../../runtime/validate.js";
import { generateManifest } from "../../transformers/gen.js";
import { emit, runCommonJs, WEFT_STUB } from "../transformer/support.js";
import { CASES as GOLDEN, SOURCE as GOLDEN_SOURCE } from "./golden-cases.js";
import { GAP_SAMPLES, GAP_SOURCE, type Samples } from "./gap-cases.js";
import { createAjv, createProgram, ts59, ts6 } from "./support.js";

/** The fixtures: each type's name and the values it must accept and reject. */
const CASES: readonly Samples[] = [...GOLDEN, ...Object.values(GAP_SAMPLES)];
const SOURCE = `${GOLDEN_SOURCE}\n${GAP_SOURCE}`;

/** One op per fixture, as a function and as a decorated method. */
const OPS = [
  `import { op } from "weft";`,
  `import type { ${CASES.map((c) => c.name).join(", ")} } from "./types.js";`,
  ...CASES.map((c) => `export const fn_${c.name} = op((value: ${c.name}): number => 0);`),
  "export class Checks {",
  ...CASES.map((c) => `  @op\n  m_${c.name}(value: ${c.name}): number {\n    return 0;\n  }`),
  "}",
  "",
].join("\n");

/** What a build handed one op: the parts of its metadata validation reads. */
interface Described {
  readonly name: string;
  readonly params: readonly ParamInfo[];
  readonly defs?: Record<string, JsonSchema>;
  readonly checks?: InjectedChecks;
}

const COMPILERS = [
  ["TypeScript 6.0", ts6],
  ["TypeScript 5.9", ts59],
] as const;
const MODES = [
  ["TC39 decorators", false],
  ["legacy decorators", true],
] as const;

const ajv = createAjv();
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "weft-agree-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function descriptor(d: Described): OpDescriptor {
  return { id: `agree#${d.name}`, name: d.name, kind: "io", async: false, params: d.params, ...(d.defs ? { defs: d.defs } : {}), ...(d.checks ? { checks: d.checks } : {}), policy: {}, config: {}, typed: true };
}

/** Every golden fixture's samples through the op's runtime validator and through ajv over its schema. */
function expectAgreement(ops: ReadonlyMap<string, Described>, prefix: string): void {
  expect([...ops.keys()].filter((n) => n.startsWith(prefix)).sort()).toEqual(CASES.map((c) => `${prefix}${c.name}`).sort());
  for (const c of CASES) {
    const described = ops.get(`${prefix}${c.name}`)!;
    const param = described.params[0]!;
    expect(param.name).toBe("value");
    const schema = param.schema ?? true;
    const defs = described.defs ?? {};
    const oracle = ajv.compile(typeof schema === "object" && Object.keys(defs).length > 0 ? { ...schema, $defs: defs } : (schema as object));
    const input = validatorsFor(descriptor(described)).input;
    // A fixture with something to check has its generated check: no build falls back to the interpreter.
    if (input !== undefined) expect(typeof described.checks, `${described.name} has generated checks`).toBe("function");
    const run = (value: unknown): ValidationError | undefined => {
      try {
        input?.([value]);
        return undefined;
      } catch (error) {
        if (error instanceof ValidationError) return error;
        throw error;
      }
    };
    for (const value of c.pass) {
      expect(oracle(value), `${described.name}: ajv accepts ${inspect(value)}`).toBe(true);
      expect(run(value), `${described.name}: the check accepts ${inspect(value)}`).toBeUndefined();
    }
    for (const value of c.fail) {
      expect(oracle(value), `${described.name}: ajv rejects ${inspect(value)}`).toBe(false);
      const error = run(value);
      expect(error, `${described.name}: the check rejects ${inspect(value)}`).toBeInstanceOf(ValidationError);
      expect(error!.issues[0]!.keyword, `${described.name}: the rejection of ${inspect(value)} is explained`).not.toBe("unknown");
    }
  }
}

describe.each(COMPILERS)("the transformer under %s", (_label, ts: typeof TS) => {
  it.each(MODES)("agrees with the JSON Schema on every golden fixture, with %s", (_mode, legacy) => {
    const program = createProgram(ts, { ...WEFT_STUB, "types.ts": SOURCE, "ops.ts": OPS }, { module: ts.ModuleKind.CommonJS, experimentalDecorators: legacy });
    const { js, diagnostics } = emit(ts, program);
    expect(diagnostics).toEqual([]);
    const ops = new Map<string, Described>();
    for (const call of runCommonJs(js, "ops.js")) {
      const meta = call.args.find((a): a is Described & { __weft: 1 } => typeof a === "object" && a !== null && (a as { __weft?: unknown }).__weft === 1);
      if (meta) ops.set(meta.name, meta);
    }
    expectAgreement(ops, "fn_");
    expectAgreement(ops, "Checks.m_");
  });
});

describe.each(COMPILERS)("weft gen under %s", (label, ts: typeof TS) => {
  it.each(MODES)("agrees with the JSON Schema on every golden fixture, with %s", (mode, legacy) => {
    const dir = path.join(tmp, `${label}-${mode}`.replace(/\W+/g, "-"));
    mkdirSync(path.join(dir, "src"), { recursive: true });
    for (const [file, text] of Object.entries(WEFT_STUB)) {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), text);
    }
    writeFileSync(path.join(dir, "src/types.ts"), SOURCE);
    writeFileSync(path.join(dir, "src/ops.ts"), OPS);
    writeFileSync(
      path.join(dir, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { target: "ES2022", lib: ["ES2022"], module: "NodeNext", strict: true, types: [], skipLibCheck: true, noEmit: true, ...(legacy ? { experimentalDecorators: true } : {}) }, include: ["src"] }),
    );
    const result = generateManifest({ project: path.join(dir, "tsconfig.json"), typescript: ts });
    expect(result.errors).toEqual([]);
    // The checks module as the runtime loads it: `require`d, nothing compiled.
    const checksFile = path.join(dir, "weft.manifest.checks.cjs");
    writeFileSync(checksFile, result.checks);
    const checks = createRequire(checksFile)(checksFile) as Record<string, InjectedChecks>;
    const ops = new Map<string, Described>();
    for (const entry of result.manifest.entries) {
      const meta = entry.meta as unknown as Described & { hash?: string };
      const injected = meta.hash === undefined ? undefined : checks[meta.hash];
      ops.set(meta.name, { ...meta, ...(injected ? { checks: injected } : {}) });
    }
    expectAgreement(ops, "fn_");
    expectAgreement(ops, "Checks.m_");
  });
});
