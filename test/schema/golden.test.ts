/**
 * Golden tests: for each construct (golden-cases.ts), a fixture type, its exact schema, and
 * values that must pass and fail weft's ajv. Every case runs under TypeScript 6.0 and 5.9,
 * which must agree.
 */
import { inspect } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import type * as TS from "typescript";
import { checksSource } from "../../transformers/checks.js";
import { matches } from "../../runtime/validate.js";
import { createAjv, createProgram, extract, loadChecks, ts59, ts6 } from "./support.js";
import { CASES, SOURCE } from "./golden-cases.js";

describe.each([
  ["TypeScript 6.0", ts6],
  ["TypeScript 5.9", ts59],
] as const)("type ➝ JSON Schema under %s", (_label, ts: typeof TS) => {
  let program: TS.Program;
  const ajv = createAjv();
  beforeAll(() => {
    program = createProgram(ts, { "main.ts": SOURCE });
  });

  it.each(CASES.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const out = extract(ts, program, c.name);
    expect(out.issues).toEqual([]);
    expect(out.schema).toEqual(c.schema);
    expect(out.defs).toEqual(c.defs ?? {});
    // Exact key order too: the output must be byte-for-byte stable.
    expect(JSON.stringify(out.defs)).toBe(JSON.stringify(c.defs ?? {}));
    const root = typeof out.schema === "object" && Object.keys(out.defs).length > 0 ? { ...out.schema, $defs: out.defs } : out.schema;
    const validate = ajv.compile(root as object);
    for (const value of c.pass) expect(validate(value), `${inspect(value)} should pass`).toBe(true);
    for (const value of c.fail) expect(validate(value), `${inspect(value)} should fail`).toBe(false);
    // The generated check and the run-time interpreter agree with ajv on every sample.
    const source = checksSource({ params: [{ name: "value", schema: out.schema }], defs: out.defs });
    const check = source === undefined ? () => true : (await loadChecks(source)).params[0] ?? (() => true);
    for (const value of c.pass) {
      expect(check(value), `generated: ${inspect(value)} should pass`).toBe(true);
      expect(matches(out.schema, value, out.defs), `interpreter: ${inspect(value)} should pass`).toBe(true);
    }
    for (const value of c.fail) {
      expect(check(value), `generated: ${inspect(value)} should fail`).toBe(false);
      expect(matches(out.schema, value, out.defs), `interpreter: ${inspect(value)} should fail`).toBe(false);
    }
  });
});

describe("determinism", () => {
  it("orders union members the same whatever order TypeScript created the types in", () => {
    const a = createProgram(ts6, { "main.ts": `export type U = "b" | "a" | { z: 1 } | { y: 2 };` });
    // Mentioning the literals and object types first gives them lower type ids.
    const b = createProgram(ts6, { "first.ts": `export const x: { y: 2 } | "a" = "a"; export type Y = { y: 2 } | "b";`, "main.ts": `export type U = "b" | "a" | { z: 1 } | { y: 2 };` });
    const sa = extract(ts6, a, "U");
    const sb = extract(ts6, b, "U");
    expect(JSON.stringify(sb)).toBe(JSON.stringify(sa));
    expect(sa.schema).toEqual({ $ref: "#/$defs/U" });
    expect(sa.defs.U).toEqual({
      anyOf: [
        { enum: ["a", "b"] },
        // Anonymous members keep their source order.
        { type: "object", properties: { z: { const: 1 } }, required: ["z"] },
        { type: "object", properties: { y: { const: 2 } }, required: ["y"] },
      ],
    });
  });

  it("names a second, different type with a taken name Name_2", () => {
    const program = createProgram(ts6, {
      "a.ts": `export interface User { a: string }`,
      "b.ts": `export interface User { b: number }`,
      "main.ts": `import type { User as A } from "./a.js"; import type { User as B } from "./b.js"; export type Both = { a: A; b: B };`,
    });
    const out = extract(ts6, program, "Both");
    expect(Object.keys(out.defs)).toEqual(["Both", "User", "User_2"]);
    expect(out.defs.User).toEqual({ type: "object", properties: { a: { type: "string" } }, required: ["a"] });
  });
});
