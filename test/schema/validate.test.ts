/**
 * Runtime validators: compiled once per descriptor, nothing to check means no function,
 * and failures that name the op, parameter, JSON path, expected and received values.
 */
import { describe, expect, it } from "vitest";
import type { JsonSchema, OpDescriptor, ParamInfo } from "../../decorators/descriptor.js";
import { ValidationError } from "../../runtime/errors.js";
import { redactText, secretName } from "../../runtime/redact.js";
import { describeSchema, preview, validatorsFor } from "../../runtime/validate.js";
import { configure } from "../../runtime/settings.js";
import { freshRuntimeEach } from "../support/runtime.js";

function descriptor(params: ParamInfo[], returns?: JsonSchema, defs?: Record<string, JsonSchema>, validate?: boolean): OpDescriptor {
  return {
    id: "test#op",
    name: "score",
    kind: "io",
    async: true,
    params,
    ...(returns !== undefined ? { returns } : {}),
    ...(defs ? { defs } : {}),
    policy: validate === undefined ? {} : { validate },
    config: {},
    typed: true,
  };
}

function failure(run: () => void): ValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error("expected a ValidationError");
}

const item = { type: "object", properties: { score: { type: "number", minimum: 0 }, label: { type: "string" } }, required: ["score"] };
const batch = descriptor(
  [
    { name: "batch", schema: { type: "object", properties: { items: { type: "array", items: { $ref: "#/$defs/Item" } } }, required: ["items"] } },
    { name: "limit", schema: { type: "integer" }, optional: true },
  ],
  { type: "array", items: { type: "number" } },
  { Item: item },
);

// Each test runs in a fresh runtime: a validation switch turned off never reaches the next.
freshRuntimeEach();

describe("validatorsFor", () => {
  it("returns the same compiled validators for the same descriptor", () => {
    expect(validatorsFor(batch)).toBe(validatorsFor(batch));
  });

  it("leaves out checks with nothing to check", () => {
    expect(validatorsFor(descriptor([]))).toEqual({});
    expect(validatorsFor(descriptor([{ name: "x", schema: {} }, { name: "y", schema: true }, { name: "z", schema: { description: "any" } }], {}))).toEqual({});
    expect(validatorsFor(descriptor([{ name: "x", schema: { type: "string" } }]))).not.toHaveProperty("output");
    expect(validatorsFor(descriptor([], { type: "string" }))).not.toHaveProperty("input");
  });

  it("honours validate: false on the op", () => {
    expect(validatorsFor(descriptor([{ name: "x", schema: { type: "string" } }], { type: "string" }, undefined, false))).toEqual({});
  });

  it("accepts valid input and output without throwing", () => {
    const { input, output } = validatorsFor(batch);
    input!([{ items: [{ score: 1 }, { score: 2, label: "b" }] }]);
    input!([{ items: [] }, 3]);
    output!([1, 2]);
  });

  it("names the op, parameter, JSON path, expected and received for a bad input", () => {
    const error = failure(() => validatorsFor(batch).input!([{ items: [{ score: 1 }, { score: 2 }, { score: "high" }] }]));
    expect(error.op).toBe("score");
    expect(error.issues).toEqual([{ direction: "input", parameter: "batch", path: "$.items[2].score", expected: "number", received: '"high"', keyword: "type" }]);
    expect(error.message).toBe('score: invalid input: batch at $.items[2].score: expected number, received "high"');
  });

  it("reports constraints and missing properties in words", () => {
    const { input } = validatorsFor(batch);
    expect(failure(() => input!([{ items: [{ score: -1 }] }])).issues[0]).toMatchObject({ path: "$.items[0].score", expected: ">= 0", received: "-1", keyword: "minimum" });
    expect(failure(() => input!([{ items: [{ label: "x" }] }])).issues[0]).toMatchObject({ path: "$.items[0].score", expected: "number", received: "undefined", keyword: "required" });
    expect(failure(() => input!([{ items: [] }, 1.5])).issues[0]).toMatchObject({ parameter: "limit", path: "$", expected: "integer", received: "1.5" });
  });

  it("skips a missing optional parameter but checks a missing required one", () => {
    const { input } = validatorsFor(batch);
    input!([{ items: [] }]);
    expect(failure(() => input!([])).issues[0]).toMatchObject({ parameter: "batch", expected: "object", received: "undefined" });
  });

  it("checks rest parameters as the array of remaining arguments", () => {
    const { input } = validatorsFor(descriptor([{ name: "first", schema: { type: "string" } }, { name: "rest", schema: { type: "array", items: { type: "number" } }, rest: true }]));
    input!(["a"]);
    input!(["a", 1, 2]);
    expect(failure(() => input!(["a", 1, "2"])).issues[0]).toMatchObject({ parameter: "rest", path: "$[1]", expected: "number", received: '"2"' });
  });

  it("names the return value for a bad output", () => {
    const error = failure(() => validatorsFor(batch).output!([1, "2"]));
    expect(error.issues).toEqual([{ direction: "output", parameter: "return", path: "$[1]", expected: "number", received: '"2"', keyword: "type" }]);
    expect(error.message).toBe('score: invalid output: return at $[1]: expected number, received "2"');
  });

  it("explains unions, discriminators, enums and weft's keywords", () => {
    const defs = {
      Circle: { type: "object", properties: { kind: { const: "circle" }, r: { type: "number" } }, required: ["kind", "r"] },
      Square: { type: "object", properties: { kind: { const: "square" }, side: { type: "number" } }, required: ["kind", "side"] },
    };
    const shape = { type: "object", discriminator: { propertyName: "kind" }, oneOf: [{ $ref: "#/$defs/Circle" }, { $ref: "#/$defs/Square" }] };
    const { input } = validatorsFor(
      descriptor(
        [
          { name: "shape", schema: shape },
          { name: "maybe", schema: { anyOf: [{ $ref: "#/$defs/Circle" }, { type: "null" }] } },
          { name: "level", schema: { enum: ["low", "high"] } },
          { name: "at", schema: { instanceof: "Date" } },
          { name: "slots", schema: { type: "array", items: { anyOf: [{ type: "string" }, { typeof: "undefined" }] } } },
        ],
        undefined,
        defs,
      ),
    );
    const good = [{ kind: "circle", r: 1 }, null, "low", new Date(0), ["a", undefined]];
    input!(good);
    const bad = (i: number, value: unknown) => failure(() => input!(good.map((g, j) => (j === i ? value : g)))).issues[0];
    expect(bad(0, { kind: "triangle" })).toMatchObject({ path: "$.kind", expected: 'one of "circle" | "square"', received: '"triangle"' });
    expect(bad(0, { kind: "square", r: 1 })).toMatchObject({ path: "$.side", expected: "number", received: "undefined" });
    // The branch that matched the value's shape explains more than the union does.
    expect(bad(1, { kind: "circle", r: "1" })).toMatchObject({ path: "$.r", expected: "number" });
    expect(bad(1, 5)).toMatchObject({ path: "$", expected: "Circle | null", received: "5" });
    expect(bad(2, "mid")).toMatchObject({ expected: 'one of "low" | "high"', received: '"mid"' });
    expect(bad(3, "1970-01-01")).toMatchObject({ expected: "a Date", received: '"1970-01-01"' });
    expect(bad(4, ["a", 1])).toMatchObject({ path: "$[1]", expected: "string | undefined", received: "1" });
  });

  it("turns off everywhere with configure({ validate: false }), also for validators already handed out", () => {
    const { input, output } = validatorsFor(batch);
    configure({ validate: false });
    input!([42]);
    output!("not an array");
    configure({ validate: true });
    expect(() => input!([42])).toThrow(ValidationError);
  });

  it("reports a schema it cannot check, naming the op and parameter", () => {
    expect(() => validatorsFor(descriptor([{ name: "x", schema: { type: "string", format: "colour" } }]))).toThrow(/weft: cannot check the schema of score parameter "x": unknown format "colour"/);
  });
});

describe("received values in errors", () => {
  it("truncates long values to about 80 characters", () => {
    const text = preview({ text: "x".repeat(500), more: [1, 2, 3] });
    expect(text.length).toBeLessThanOrEqual(80);
    expect(text.endsWith("…")).toBe(true);
  });

  it("redacts secrets by key name and by shape", () => {
    expect(preview({ user: "ada", password: "hunter2", headers: { Authorization: "x" } })).toBe('{"user":"ada","password":"[redacted]","headers":{"Authorization":"[redacted]"}}');
    expect(preview({ apiKey: "k", client_secret: "s" })).toBe('{"apiKey":"[redacted]","client_secret":"[redacted]"}');
    expect(preview("sk-proj-abcdefghijklmnop")).toBe('"[redacted]"');
    expect(preview("use Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX2hlcmU now")).toBe('"use [redacted] now"');
    expect(redactText("ghp_abcdefghijklmnopqrstuvwxyz0123 and AKIAABCDEFGHIJKLMNOP")).toBe("[redacted] and [redacted]");
    expect(secretName("x-api-key")).toBe(true);
    expect(secretName("refresh_token")).toBe(true);
    expect(secretName("maxTokens")).toBe(false);
  });

  it("redacts a failing value that sits under a secret-named key or parameter", () => {
    const { input } = validatorsFor(descriptor([{ name: "apiKey", schema: { type: "string", minLength: 40 } }, { name: "opts", schema: { type: "object", properties: { token: { type: "number" } } } }]));
    expect(failure(() => input!(["short-but-secret", {}])).issues[0]).toMatchObject({ parameter: "apiKey", received: "[redacted]" });
    expect(failure(() => input!(["x".repeat(40), { token: "abc" }])).issues[0]).toMatchObject({ path: "$.token", received: "[redacted]" });
  });

  it("renders dates, typed arrays, cycles and functions", () => {
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    expect(preview(new Date(0))).toBe("Date(1970-01-01T00:00:00.000Z)");
    expect(preview(new Uint8Array(3))).toBe("Uint8Array(3 bytes)");
    expect(preview(cycle)).toBe('{"a":1,"self":[Circular]}');
    expect(preview(function named() {})).toBe("[function named]");
    expect(preview(10n)).toBe("10n");
  });
});

describe("the failing path", () => {
  it("builds the message on first read, with the same text and redaction as before, and the stack shows it", () => {
    const { input } = validatorsFor(descriptor([{ name: "token", schema: { type: "object", properties: { n: { type: "number" } } } }]));
    const error = failure(() => input!([{ n: "sk-abcdefghijklmnopqrstuvwx" }]));
    // Caught and dropped, a failed check costs no text: nothing is built until someone reads it.
    expect(Object.getOwnPropertyDescriptor(error, "message")).toBeUndefined();
    expect(error.issues[0]).toMatchObject({ parameter: "token", path: "$.n", received: "[redacted]" });
    // "token: expected ..." reads as a secret-named pair to the redactor, exactly as it did eagerly.
    const expected = "score: invalid input: token at $.n: expected number, received [redacted]";
    expect(redactText("score: invalid input: token at $.n: expected number, received [redacted]")).toBe(expected);
    expect(error.message).toBe(expected);
    expect(Object.getOwnPropertyDescriptor(error, "message")).toMatchObject({ value: expected, enumerable: false, writable: true });
    expect(error.stack?.split("\n")[0]).toBe(`ValidationError: ${expected}`);
    expect(String(error)).toBe(`ValidationError: ${expected}`);
    expect(Object.keys(error)).not.toContain("message");
  });

  it("formats the stack with the message even when the stack is read first, and lets a message be assigned", () => {
    const { input } = validatorsFor(descriptor([{ name: "n", schema: { type: "number" } }]));
    const first = failure(() => input!(["x"]));
    expect(first.stack?.split("\n")[0]).toBe('ValidationError: score: invalid input: n: expected number, received "x"');
    const second = failure(() => input!(["y"]));
    second.message = "replaced";
    expect(second.message).toBe("replaced");
    const bounded = new ValidationError("op", [{ direction: "output", parameter: "return", path: "$", expected: "x".repeat(5000), received: "1", keyword: "type" }]);
    expect(bounded.message.length).toBeLessThan(2100);
  });
});

describe("describeSchema", () => {
  it("says a schema in a few words", () => {
    expect(describeSchema({ type: "array", items: { type: ["string", "null"] } }, {})).toBe("(string | null)[]");
    expect(describeSchema({ $ref: "#/$defs/User" }, {})).toBe("User");
    expect(describeSchema({ const: "a" }, {})).toBe('"a"');
    expect(describeSchema(true, {})).toBe("any value");
  });
});
