/**
 * The transformer as a pure function: inline sources through an in-memory compiler host,
 * emitted through the weft transformer, and the emitted CommonJS run against a recorder.
 */
import { describe, expect, it } from "vitest";
import type * as TS from "typescript";
import { CHECK_LIB, type InjectedChecks } from "../../decorators/formats.js";
import { assertSupported } from "../../transformers/transformer.js";
import { createProgram, ts59, ts6 } from "../schema/support.js";
import { emit, runCommonJs, WEFT_STUB, type RecordedCall } from "./support.js";

interface BuildOptions {
  readonly ts?: typeof TS;
  readonly format?: "cjs" | "esm";
  readonly legacy?: boolean;
}

function build(files: Record<string, string>, options: BuildOptions = {}) {
  const ts = options.ts ?? ts6;
  const program = createProgram(
    ts,
    { ...WEFT_STUB, "package.json": JSON.stringify({ type: options.format === "esm" ? "module" : "commonjs" }), ...files },
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      ...(options.legacy ? { experimentalDecorators: true } : {}),
    },
  );
  return emit(ts, program);
}

function calls(files: Record<string, string>, options: BuildOptions = {}): RecordedCall[] {
  const out = build(files, options);
  expect(out.diagnostics).toEqual([]);
  return runCommonJs(out.js, "main.js");
}

const META = expect.objectContaining({ __weft: 1 });

describe("which calls are op sites", () => {
  it("finds weft's op, jit and vmap by symbol, through renaming imports, re-exports and namespaces", () => {
    const recorded = calls({
      "lib.ts": `export { op as makeOp, jit } from "weft";`,
      "main.ts": `
        import { op as operator, vmap } from "weft";
        import * as weft from "weft";
        import { makeOp, jit as trace } from "./lib.js";
        export const a = operator((x: string) => x);
        export const b = weft.op((x: number) => x);
        export const c = makeOp((x: boolean) => x);
        export const d = trace((x: string) => x.length);
        export const e = vmap((x: string) => x);
      `,
    });
    expect(recorded.map((c) => [c.kind, c.args.length, c.args[c.args.length - 1]])).toEqual([
      ["op", 2, META],
      ["op", 2, META],
      ["op", 2, META],
      ["jit", 2, META],
      ["vmap", 3, META],
    ]);
  });

  it("takes the function from either argument of jit, and describes an op's own parameters under vmap and jit", () => {
    const recorded = calls({
      "main.ts": `
        import { jit, vmap } from "weft";
        type Score = (...args: Parameters<(answer: string, weight?: number) => number>) => Promise<number>;
        const score = (async (answer: string) => answer.length) as Score;
        export const a = jit((q: string) => q.length, { name: "a" });
        export const b = vmap(score, { concurrency: 2 });
        export const c = jit(score);
      `,
    });
    const metas = recorded.map((c) => c.args[c.args.length - 1] as { params: unknown; returns: unknown });
    expect(recorded.map((c) => c.args.length)).toEqual([3, 3, 2]);
    expect(metas[0]?.params).toEqual([{ name: "q", schema: { type: "string" } }]);
    const spread = [
      { name: "answer", schema: { type: "string" } },
      { name: "weight", schema: { type: "number" }, optional: true },
    ];
    expect(metas[1]?.params).toEqual(spread);
    expect(metas[2]?.params).toEqual(spread);
    expect(metas[2]?.returns).toEqual({ type: "number" });
  });

  it("leaves alone functions that are only named like weft's", () => {
    const out = build({
      "main.ts": `
        function op(fn: (x: string) => string) { return fn; }
        const tools = { jit: (fn: (x: number) => number) => fn };
        export const a = op((x: string) => x);
        export const b = tools.jit((x: number) => x);
      `,
    });
    expect(out.diagnostics).toEqual([]);
    expect(out.js["main.js"]).not.toContain("__weft");
  });

  it("skips decorator-factory calls with no function, and sites that already carry META", () => {
    const out = build({
      "main.ts": `
        import { op } from "weft";
        export const deco = op({ kind: "io" });
        export const done = op((x: string) => x, { __weft: 1 });
      `,
    });
    expect(out.js["main.js"]?.match(/__weft/g)).toHaveLength(1);
  });
});

describe("the rewrite", () => {
  const source = `
    import { op, jit, vmap } from "weft";
    export const f1 = op((x: string) => x);
    export const f2 = op({ kind: "cpu" }, (x: string) => x);
    export const j1 = jit((x: string) => x);
    export const j2 = jit({ strict: true }, (x: string) => x);
    export const v1 = vmap((x: string) => x);
    export const v2 = vmap((x: string) => x, { concurrency: 4 });
    export class Judge {
      @op async bare(answer: string): Promise<number> { return answer.length; }
      @op({ timeout: "1s" }) async withOptions(answer: string): Promise<number> { return answer.length; }
      @jit async traced(q: string): Promise<string> { return q; }
      @vmap({ concurrency: 2 }) async batched(q: string): Promise<string> { return q; }
    }
  `;

  function shapes(options: BuildOptions): unknown[] {
    return calls({ "main.ts": source }, options).map((c) => [c.kind, ...c.args.map((a) => (typeof a === "function" ? "fn" : a === undefined ? "undefined" : (a as { __weft?: 1 }).__weft ? "META" : a))]);
  }

  const expected = [
    ["op", "fn", "META"],
    ["op", { kind: "cpu" }, "fn", "META"],
    ["jit", "fn", "META"],
    ["jit", { strict: true }, "fn", "META"],
    ["vmap", "fn", "undefined", "META"],
    ["vmap", "fn", { concurrency: 4 }, "META"],
    ["op", "META"],
    ["op", { timeout: "1s" }, "META"],
    ["jit", "META"],
    ["vmap", { concurrency: 2 }, "META"],
  ];

  it.each([
    ["TC39 decorators, TypeScript 6.0", { ts: ts6 }],
    ["legacy decorators, TypeScript 6.0", { ts: ts6, legacy: true }],
    ["TC39 decorators, TypeScript 5.9", { ts: ts59 }],
    ["legacy decorators, TypeScript 5.9", { ts: ts59, legacy: true }],
  ] as const)("puts META last at every site (%s)", (_label, options) => {
    const got = shapes(options);
    // Decorators run when the class is defined, after the function forms above it.
    expect(got).toEqual(expected);
  });

  it("names the module with import.meta.url in ES module output and the file URL of __filename in CommonJS", () => {
    const files = { "main.ts": `import { op } from "weft"; export const f = op((x: string) => x);` };
    expect(build(files, { format: "esm" }).js["main.js"]).toContain("module: import.meta.url");
    expect(build(files, { format: "cjs" }).js["main.js"]).toContain(`module: require("node:url").pathToFileURL(__filename).href`);
  });
});

describe("the injected descriptor", () => {
  function metaOf(source: string, extra: Record<string, string> = {}): Record<string, unknown>[] {
    return calls({ "main.ts": source, ...extra }).map((c) => c.args[c.args.length - 1] as Record<string, unknown>);
  }

  it("describes parameters, the awaited return type, shared defs, docs, locator and source", () => {
    const [meta] = metaOf(
      `import { op } from "weft";
import type { Rubric } from "./types.js";
/**
 * Scores an answer.
 * @param answer - the text to score
 */
export const score = op(async (answer: string, rubric: Rubric, weight?: number, ...tags: string[]): Promise<{ total: number; rubric: Rubric }> => ({ total: 1, rubric }));
`,
      { "types.ts": `/** How to score. */ export interface Rubric { criteria: string[] }` },
    );
    expect(meta).toEqual({
      __weft: 1,
      name: "score",
      params: [
        { name: "answer", schema: { description: "the text to score", type: "string" } },
        { name: "rubric", schema: { $ref: "#/$defs/Rubric" } },
        { name: "weight", schema: { type: "number" }, optional: true },
        { name: "tags", schema: { type: "array", items: { type: "string" } }, rest: true },
      ],
      returns: { type: "object", properties: { total: { type: "number" }, rubric: { $ref: "#/$defs/Rubric" } }, required: ["total", "rubric"] },
      defs: { Rubric: { description: "How to score.", type: "object", properties: { criteria: { type: "array", items: { type: "string" } } }, required: ["criteria"] } },
      doc: "Scores an answer.",
      locator: { module: "file:///virtual/main.js", export: "score" },
      hash: expect.stringMatching(/^[0-9a-f]{16}$/),
      source: { file: "main.ts", line: 7, column: 22 },
      checks: expect.any(Function),
    });
    // The injected checks are built with the runtime's formats and check what the schemas say.
    const checks = (meta!.checks as InjectedChecks)(CHECK_LIB);
    expect(checks.params.map((c) => c?.("x") ?? null)).toEqual([true, false, false, false]);
    expect(checks.params[1]!({ criteria: ["a"] })).toBe(true);
    expect(checks.params[3]!(["a", "b"])).toBe(true);
    expect(checks.returns!({ total: 1, rubric: { criteria: [] } })).toBe(true);
    expect(checks.returns!({ total: "1", rubric: { criteria: [] } })).toBe(false);
  });

  it("keeps the declared name of an optional parameter's type", () => {
    const [meta] = metaOf(`import { op } from "weft"; type Shape = { kind: "a" } | { kind: "b" }; export const f = op((s?: Shape, t: Shape | undefined = undefined) => 1);`);
    expect(meta?.params).toEqual([
      { name: "s", schema: { $ref: "#/$defs/Shape" }, optional: true },
      { name: "t", schema: { $ref: "#/$defs/Shape" }, optional: true },
    ]);
  });

  it("omits returns for void results and the locator for ops that are not exported", () => {
    const [meta] = metaOf(`import { op } from "weft"; const log = op(async (line: string): Promise<void> => {}); void log;`);
    expect(meta).not.toHaveProperty("returns");
    expect(meta).not.toHaveProperty("locator");
    expect(meta?.name).toBe("log");
  });

  it("finds the export name however the binding is exported", () => {
    const metas = metaOf(`
      import { op } from "weft";
      const inner = op((x: string) => x);
      export { inner as renamed };
      export default op(function named(x: number) { return x; });
      export class Scorer { @op async score(x: string): Promise<number> { return x.length; } }
      class Hidden { @op async score(x: string): Promise<number> { return x.length; } }
      export { Hidden as Visible };
      class Unexported { @op async score(x: string): Promise<number> { return x.length; } }
      export const alias = Unexported; // a new binding, not an export of the class
    `);
    expect(metas.map((m) => [m.name, m.locator])).toEqual([
      ["inner", { module: "file:///virtual/main.js", export: "renamed" }],
      ["named", { module: "file:///virtual/main.js", export: "default" }],
      ["Scorer.score", { module: "file:///virtual/main.js", export: "Scorer", member: "score" }],
      ["Hidden.score", { module: "file:///virtual/main.js", export: "Visible", member: "score" }],
      ["Unexported.score", undefined],
    ]);
  });

  it("gives equal hashes to equal schemas and different hashes when a type changes", () => {
    const hashOf = (type: string) => metaOf(`import { op } from "weft"; export const f = op((x: ${type}) => x);`)[0]?.hash;
    expect(hashOf("{ a: string }")).toBe(hashOf("{ a: string }"));
    expect(hashOf("{ a: string }")).not.toBe(hashOf("{ a: number }"));
  });

  it("agrees between TypeScript 6.0 and 5.9", () => {
    const files = {
      "main.ts": `import { op } from "weft"; import type { Shape } from "./shapes.js"; export const area = op(async (s: Shape, scale = 1): Promise<number> => scale);`,
      "shapes.ts": `export type Shape = { kind: "circle"; r: number } | { kind: "square"; side: number };`,
    };
    // Generated checks are functions: compared by their code.
    const metas = (ts: typeof TS) =>
      calls(files, { ts }).map((c) => {
        const meta = c.args[c.args.length - 1] as Record<string, unknown>;
        return { ...meta, checks: String(meta.checks) };
      });
    expect(metas(ts59)).toEqual(metas(ts6));
  });
});

describe("build errors", () => {
  it("reports each unsupported type at its site, with file, line and path, and injects nothing there", () => {
    const out = build({
      "main.ts": `import { op } from "weft";
import type { Job } from "./job.js";
export const ok = op((x: string) => x);
export const bad = op((job: Job) => job.id);
export const generic = op(<T,>(x: T) => x);
`,
      "job.ts": `export interface Job {
  id: string;
  onDone: (result: string) => void;
}`,
    });
    expect(out.diagnostics).toEqual([
      'main.ts:4: weft: op "bad": cannot derive a JSON Schema for job.onDone: function types are not supported (`(result: string) => void`); pass data, or type it `unknown` to skip checking (declared at job.ts:3)',
      'main.ts:5: weft: op "generic": cannot derive a JSON Schema for x: unresolved type parameter `T`: give the op concrete types (generic ops cannot be checked) (declared at main.ts:5)',
      'main.ts:5: weft: op "generic": cannot derive a JSON Schema for return: unresolved type parameter `T`: give the op concrete types (generic ops cannot be checked) (declared at main.ts:5)',
    ]);
    expect(out.js["main.js"]?.match(/__weft/g)).toHaveLength(1);
  });

  it("rejects overloaded functions as ops", () => {
    const out = build({
      "main.ts": `import { op } from "weft";
function parse(x: string): number;
function parse(x: number): number;
function parse(x: unknown): number { return Number(x); }
export const p = op(parse);
`,
    });
    expect(out.diagnostics).toEqual(['main.ts:5: weft: op "p": overloaded functions cannot be ops; give it a single signature']);
  });

  it("fails the build when TypeScript was told not to parse JSDoc, instead of finding no sites", () => {
    const program = createProgram(ts6, { ...WEFT_STUB, "main.ts": `import { op } from "weft"; export const f = op((x: string) => x);` }, { module: ts6.ModuleKind.ESNext });
    // What tsc does since 5.3 unless ts-patch is asked to parse all JSDoc.
    (program.getSourceFile("/virtual/main.ts") as { jsDocParsingMode?: number }).jsDocParsingMode = ts6.JSDocParsingMode.ParseForTypeErrors;
    const out = emit(ts6, program);
    expect(out.diagnostics).toHaveLength(1);
    expect(out.diagnostics[0]).toContain("weft: TypeScript is not parsing JSDoc in this build");
    expect(out.js["main.js"]).not.toContain("__weft");
  });

  it("throws when there is no diagnostics channel to report through", async () => {
    const { default: weftTransformer } = await import("../../transformers/transformer.js");
    const program = createProgram(ts6, { ...WEFT_STUB, "main.ts": `import { op } from "weft"; export const f = op((x: bigint) => x);` });
    expect(() => program.emit(undefined, () => {}, undefined, false, { before: [weftTransformer(program, {}, { ts: ts6 })] })).toThrow(
      /main\.ts:1:\d+: weft: op "f": cannot derive a JSON Schema for x: `bigint` is not JSON data/,
    );
  });

  it("refuses TypeScript 7, pointing at weft gen", () => {
    expect(() => assertSupported({ ...ts6, version: "7.0.0", versionMajorMinor: "7.0" } as unknown as typeof TS)).toThrow(
      "weft: TypeScript 7.0.0 (the Go compiler) runs no JavaScript transformers. Build without the weft transformer and run `weft gen -p tsconfig.json` to write weft.manifest.json",
    );
    expect(() => assertSupported({ version: "6.5.0", versionMajorMinor: "6.5" } as unknown as typeof TS)).toThrow(/lacks the transformer API \(factory, visitEachChild, createProgram, getJSDocTags\)/);
    expect(() => assertSupported(ts6)).not.toThrow();
  });
});
