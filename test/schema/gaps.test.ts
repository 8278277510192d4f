/**
 * Golden tests for the gaps of issue 12: each construct's exact schema or build error, and
 * for schemas, values that the generated check, the run-time interpreter and ajv (the
 * independent oracle) must all accept or all reject. Every case runs under TypeScript 6.0
 * and 5.9.
 */
import { inspect } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import type * as TS from "typescript";
import type { JsonSchema } from "../../decorators/descriptor.js";
import type { Samples } from "./gap-cases.js";
import { checksSource } from "../../transformers/checks.js";
import { explain, formatPath, matches } from "../../runtime/validate.js";
import { createAjv, createProgram, extract, loadChecks, ts59, ts6 } from "./support.js";
import { GAP_SAMPLES, GAP_SOURCE } from "./gap-cases.js";

// The build errors first (their lines are in the expected messages), then the schema fixtures.
const SOURCE = `
export enum Computed { A = 0, B = 1, C = true as any }
export enum Folded { A = 1 << 2, B = A | 1 }
export interface RowWithExtra extends Array<number> { label: string }
export type Keys = keyof [string, number];
export interface DatedFormat {
  /** @format date-time */
  at: Date;
}
export interface Global { g: typeof globalThis }
/** @closed */
export type NotAnObject = string | number;
${GAP_SOURCE}`;

describe.each([
  ["TypeScript 6.0", ts6],
  ["TypeScript 5.9", ts59],
] as const)("issue 12 gaps under %s", (_label, ts: typeof TS) => {
  let program: TS.Program;
  const ajv = createAjv();
  beforeAll(() => {
    program = createProgram(ts, { "main.ts": SOURCE });
  });

  /** The generated check, the interpreter and ajv agree, and say what the case says. */
  async function agree(schema: JsonSchema, defs: Record<string, JsonSchema>, { pass, fail }: Samples): Promise<void> {
    const root = typeof schema === "object" && Object.keys(defs).length > 0 ? { ...schema, $defs: defs } : schema;
    const oracle = ajv.compile(root as object);
    const generated = (await loadChecks(checksSource({ params: [{ name: "value", schema }], defs })!)).params[0]!;
    for (const [values, want] of [
      [pass, true],
      [fail, false],
    ] as const) {
      for (const value of values) {
        expect(oracle(value), `ajv: ${inspect(value)}`).toBe(want);
        expect(generated(value), `generated: ${inspect(value)}`).toBe(want);
        expect(matches(schema, value, defs), `interpreter: ${inspect(value)}`).toBe(want);
      }
    }
  }

  it("computed enum members are a build error naming the member; constant-folded ones are their values", () => {
    expect(extract(ts, program, "Computed").issues).toEqual([
      "value: enum `Computed` member `C` has a computed value (`true as any`), which a schema cannot list; give it a string or number literal (main.ts:2)",
    ]);
    const folded = extract(ts, program, "Folded");
    expect(folded.issues).toEqual([]);
    expect(folded.defs.Folded).toEqual({ type: "number", enum: [4, 5] });
  });

  it("applies the JSDoc constraints of a type alias where a value is written as that alias", async () => {
    const out = extract(ts, program, "Post");
    expect(out.issues).toEqual([]);
    expect(out.defs.Post).toEqual({
      type: "object",
      properties: { slug: { type: "string", pattern: "^[a-z]+$" }, tags: { type: "array", items: { type: "string" }, minItems: 1 }, short: { type: "string", pattern: "^[a-z]+$", maxLength: 3 } },
      required: ["slug", "tags", "short"],
    });
    await agree(out.schema, out.defs, GAP_SAMPLES.Post);
  });

  it("extracts array-like interfaces and tuple intersections", async () => {
    const grid = extract(ts, program, "Grid");
    expect(grid.issues).toEqual([]);
    expect(grid.defs.Row).toEqual({ type: "array", items: { type: "number" } });
    await agree(grid.schema, grid.defs, GAP_SAMPLES.Grid);
    const one = extract(ts, program, "AtLeastOne");
    expect(one.issues).toEqual([]);
    expect(one.schema).toEqual({ type: "array", prefixItems: [{ type: "number" }], items: { type: "number" }, minItems: 1 });
    await agree(one.schema, one.defs, GAP_SAMPLES.AtLeastOne);
    expect(extract(ts, program, "RowWithExtra").issues).toEqual([
      "value: `RowWithExtra` extends an array type and adds label, which JSON arrays cannot carry; use the array type itself, or an object with an array property (main.ts:4)",
    ]);
  });

  it("matches `${bigint}` and `${number}` holes as TypeScript does", async () => {
    const big = extract(ts, program, "Big");
    expect(big.issues).toEqual([]);
    await agree(big.schema, big.defs, GAP_SAMPLES.Big);
    const pct = extract(ts, program, "Pct");
    expect(pct.issues).toEqual([]);
    await agree(pct.schema, pct.defs, GAP_SAMPLES.Pct);
  });

  it("emits no duplicate anyOf branch", async () => {
    const out = extract(ts, program, "Inter");
    expect(out.issues).toEqual([]);
    const body = out.defs.Inter as { anyOf: JsonSchema[] };
    const seen = body.anyOf.map((b) => JSON.stringify(b));
    expect(new Set(seen).size).toBe(seen.length);
    await agree(out.schema, out.defs, GAP_SAMPLES.Inter);
  });

  it("rejects non-plain objects for Record and index signatures", async () => {
    const dict = extract(ts, program, "Dict");
    expect(dict.defs.Dict).toEqual({ type: "object", plainObject: true, additionalProperties: { type: "number" } });
    await agree(dict.schema, dict.defs, GAP_SAMPLES.Dict);
    const lookup = extract(ts, program, "Lookup");
    await agree(lookup.schema, lookup.defs, GAP_SAMPLES.Lookup);
  });

  it("checks 10,000-deep recursive values against a stated depth limit, and rejects cycles, without the stack", async () => {
    const out = extract(ts, program, "DeepTree");
    let deep: { value: number; children: unknown[] } = { value: 0, children: [] };
    for (let i = 0; i < 10_000; i++) deep = { value: i, children: [deep] };
    const shallow = { value: 1, children: [{ value: 2, children: [] }] };
    const cyclic: { value: number; children: unknown[] } = { value: 1, children: [] };
    cyclic.children.push(cyclic);
    const generated = (await loadChecks(checksSource({ params: [{ name: "value", schema: out.schema }], defs: out.defs })!)).params[0]!;
    expect(generated(shallow)).toBe(true);
    expect(generated(deep)).toBe(false);
    expect(generated(cyclic)).toBe(false);
    expect(explain(out.schema, deep, out.defs)).toMatchObject({ keyword: "depth", expected: "at most 256 levels of nested DeepTree" });
    expect(explain(out.schema, cyclic, out.defs)).toMatchObject({ keyword: "cycle", segments: ["children", 0], received: "a reference back to $" });
  });

  it("reads JSDoc written on the same line as another member", async () => {
    const out = extract(ts, program, "SameLine");
    expect(out.defs.SameLine).toEqual({
      type: "object",
      properties: { a: { type: "number" }, b: { type: "number", minimum: 0 }, c: { type: "string", maxLength: 2 } },
      required: ["a", "b", "c"],
    });
    await agree(out.schema, out.defs, GAP_SAMPLES.SameLine);
  });

  it("rejects undeclared properties of @closed types, and lets other types be open", async () => {
    const strict = extract(ts, program, "Strict");
    expect(strict.defs.Strict).toEqual({ type: "object", properties: { name: { type: "string" }, age: { type: "number" } }, required: ["name"], additionalProperties: false });
    await agree(strict.schema, strict.defs, GAP_SAMPLES.Strict);
    const loose = extract(ts, program, "Loose");
    await agree(loose.schema, loose.defs, GAP_SAMPLES.Loose);
    const alias = extract(ts, program, "StrictAlias");
    await agree(alias.schema, alias.defs, GAP_SAMPLES.StrictAlias);
    expect(explain(strict.schema, { name: "a", nmae: "typo" }, strict.defs)).toMatchObject({ keyword: "additionalProperties", segments: ["nmae"], expected: 'no property "nmae" (the type does not declare it)' });
    expect(extract(ts, program, "NotAnObject").issues).toEqual(["NotAnObject: @closed applies to object types (an interface or an object type alias), not `NotAnObject` (main.ts:12)"]);
  });

  it("gives short errors for keyof a tuple, @format on a Date and a globalThis-typed value, each with where it was declared", () => {
    expect(extract(ts, program, "Keys").issues).toEqual([
      'value: `keyof [string, number]` is every key of an array (its indexes, "length", its methods and Symbol.iterator); write the keys you mean as literals, e.g. "0" | "1"',
    ]);
    expect(extract(ts, program, "DatedFormat").issues).toEqual([
      "value.at: @format applies to strings, but this is a `Date`; a `Date` is checked as a Date object: type it `string` to check text in that format (main.ts:8)",
    ]);
    expect(extract(ts, program, "Global").issues).toEqual(["value.g: `typeof globalThis` is the global object, not data; pass the values the op needs (main.ts:10)"]);
  });
});

describe("paths in validation errors", () => {
  it("elides long keys, redacts credential-shaped keys and caps the whole path", () => {
    expect(formatPath(["items", 2, "x-id"])).toBe('$.items[2]["x-id"]');
    const long = "k".repeat(1_000_000);
    expect(formatPath([long])).toBe(`$.${"k".repeat(24)}…(1000000 chars)`.replace(/^\$\./, "$[\"").replace(/$/, '"]'));
    expect(formatPath(["sk-abcdefghijklmnopqrstuvwx"])).toBe('$["[redacted]"]');
    const path = formatPath(Array.from({ length: 200 }, (_, i) => `key${i}`));
    expect(path.length).toBeLessThanOrEqual(125);
    expect(path.startsWith("$.key0.key1")).toBe(true);
    expect(path.endsWith(".key199")).toBe(true);
  });
});
