/**
 * The shape of generated check code where it was chosen for speed, and that those choices
 * keep the schema's meaning: the generated check, the run-time interpreter and ajv agree.
 */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import type { JsonSchema } from "../../decorators/descriptor.js";
import { checksSource } from "../../transformers/checks.js";
import { matches } from "../../runtime/validate.js";
import { createAjv, loadChecks } from "./support.js";

const ajv = createAjv();

async function agree(schema: JsonSchema, defs: Record<string, JsonSchema>, pass: readonly unknown[], fail: readonly unknown[]): Promise<string> {
  const source = checksSource({ params: [{ name: "value", schema }], defs })!;
  const generated = (await loadChecks(source)).params[0]!;
  const oracle = ajv.compile({ ...(schema as object), $defs: defs });
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
  return source;
}

const object = (properties: Record<string, JsonSchema>, required: string[], extra: Record<string, unknown> = {}): JsonSchema => ({ type: "object", properties, required, ...extra });

describe("tagged unions", () => {
  it("switch on the tag once, with each object branch's checks in its case and the tag not tested again", async () => {
    const defs = {
      Event: {
        type: "object",
        discriminator: { propertyName: "kind" },
        oneOf: [
          object({ kind: { const: "click" }, x: { type: "number" } }, ["kind", "x"]),
          { $ref: "#/$defs/View" },
          object({ kind: { enum: ["buy", "sell"] }, total: { type: "number", minimum: 0 } }, ["kind", "total"]),
        ],
      },
      View: object({ kind: { const: "view" }, page: { type: "string" } }, ["kind", "page"]),
    } satisfies Record<string, JsonSchema>;
    const source = await agree(
      { $ref: "#/$defs/Event" },
      defs,
      [{ kind: "click", x: 1 }, { kind: "view", page: "/" }, { kind: "buy", total: 2 }, { kind: "sell", total: 0, extra: true }],
      [{ kind: "click", x: "1" }, { kind: "click" }, { kind: "view" }, { kind: "sell", total: -1 }, { kind: "other" }, {}, [], null, "click", Object.assign([], { kind: "click", x: 1 })],
    );
    // One function for the whole union: no function per branch, no trampoline for the named types.
    expect(source.match(/function \w+\(v, d\)/g)).toHaveLength(1);
    expect(source).toMatch(/switch \(v\.kind\)/);
    expect(source).not.toMatch(/x = v\.kind/);
  });

  it("keeps a branch's own tag test when its schema says more than the case label", async () => {
    // The tag may be a value the label lists but the branch refuses: it stays checked.
    const schema: JsonSchema = {
      type: "object",
      discriminator: { propertyName: "t" },
      oneOf: [object({ t: { enum: ["a", "b"] }, n: { type: "number" } }, ["t", "n"]), object({ t: { const: "c" }, closed: { type: "boolean" } }, ["t"], { additionalProperties: false })],
    };
    await agree(schema, {}, [{ t: "a", n: 1 }, { t: "c" }, { t: "c", closed: true }], [{ t: "a" }, { t: "c", other: 1 }, { t: "d", n: 1 }]);
  });

  it("calls a recursive branch's own function, which counts depth", async () => {
    const defs = {
      Node: {
        type: "object",
        discriminator: { propertyName: "type" },
        oneOf: [object({ type: { const: "leaf" }, value: { type: "number" } }, ["type", "value"]), { $ref: "#/$defs/Pair" }],
      },
      Pair: object({ type: { const: "pair" }, left: { $ref: "#/$defs/Node" }, right: { $ref: "#/$defs/Node" } }, ["type", "left", "right"]),
    } satisfies Record<string, JsonSchema>;
    const leaf = { type: "leaf", value: 1 };
    let deep: unknown = leaf;
    for (let i = 0; i < 300; i++) deep = { type: "pair", left: deep, right: leaf };
    const source = await agree({ $ref: "#/$defs/Node" }, defs, [leaf, { type: "pair", left: leaf, right: { type: "pair", left: leaf, right: leaf } }], [{ type: "pair", left: leaf }, { type: "pair", left: leaf, right: { type: "leaf" } }]);
    // ajv follows any depth; weft's checks stop at 256 levels (docs/schemas.md).
    const generated = (await loadChecks(source)).params[0]!;
    expect(generated(deep)).toBe(false);
    expect(matches({ $ref: "#/$defs/Node" }, deep, defs)).toBe(false);
  });
});
