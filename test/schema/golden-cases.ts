/**
 * The golden fixtures: one type per construct, its exact schema, and values that must pass
 * and fail. test/schema/golden.test.ts checks the extractor against the schemas;
 * test/schema/agree.test.ts checks the generated checks against the schemas through every
 * build (TypeScript 6.0 and 5.9, both decorator modes, `weft gen`).
 */
import type { JsonSchema } from "../../decorators/descriptor.js";

export const SOURCE = `
export type Str = string;
export type Num = number;
export type Bool = boolean;
export type Nul = null;
export type Unk = unknown;
export type AnyT = any;

export interface Optionals {
  a?: string;
  b: string | undefined;
  c: number;
}

export type LitStr = "only";
export type LitNum = 42;
export type LitTrue = true;
export type Lits = "low" | "high" | "medium" | null;

export enum Color { Red = "red", Green = "green", Blue = "blue" }
export enum Level { Low, Mid = 5, High }
export type Paint = { color: Color; level: Level; exact: Color.Red; tint?: Color; shape: Shape | undefined };

export type Prim = string | number | boolean | null;
export type Mixed = string | 7 | { x: number };

export interface Circle { kind: "circle"; radius: number }
export interface Square { kind: "square"; side: number }
export type Shape = Square | Circle;
export type MaybeShape = Shape | null;

export type WithId = { id: string } & { createdAt: Date } & Named;
interface Named { name: string }
export type Branded = string & { readonly __brand: "UserId" };

/** A person. */
export interface Person {
  /** Full name. */
  readonly name: string;
  nickname?: string;
  readonly tags: readonly string[];
}

export type Matrix = number[][];
export type Fixed = [string, number];
export type OptTuple = [string, number?];
export type RestTuple = [string, ...boolean[]];
export type Empty = [];

export type Scores = Record<string, number>;
export type Keyed = Record<"a" | "b", boolean>;
export interface Indexed { fixed: string; [key: string]: string }
export type ByNumber = { [n: number]: string };
export type Headers = Record<\`x-\${string}\`, string>;
export type Template = \`user-\${number}\`;

export interface Tree { value: number; children: Tree[] }
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export interface Outer { inner: { deep: { leaf: Person } } }

export interface Page<T> { items: T[]; next?: string }
export type Box<T> = { value: T };
export type PersonPage = Page<Person>;
export type Pages = { words: Page<string>; boxes: Page<Box<number>> };
export type Boxes = { a: Box<number>; b: Box<string> };

export type When = { at: Date; bytes: Uint8Array; vectors: Float32Array };

export interface Constrained {
  /** @minimum 0 @maximum 10 */
  score: number;
  /** @exclusiveMinimum 0 @multipleOf 0.5 */
  weight: number;
  /** @integer @minimum 1 */
  count: number;
  /**
   * A slug.
   * @minLength 2
   * @maxLength 8
   * @pattern ^[a-z-]+$
   */
  slug: string;
  /** @format email */
  email: string;
  /** @minItems 1 @maxItems 3 */
  picks: string[];
  /** @default "en" */
  lang?: string;
  /** @default en-GB */
  locale?: string;
  /** @default 3 */
  retries?: number;
}
`;

export interface Case {
  readonly name: string;
  readonly schema: JsonSchema;
  readonly defs?: Record<string, JsonSchema>;
  readonly pass: readonly unknown[];
  readonly fail: readonly unknown[];
}

const person = {
  description: "A person.",
  type: "object",
  properties: {
    name: { description: "Full name.", readOnly: true, type: "string" },
    nickname: { type: "string" },
    tags: { readOnly: true, type: "array", items: { type: "string" } },
  },
  required: ["name", "tags"],
};
const circle = { type: "object", properties: { kind: { const: "circle" }, radius: { type: "number" } }, required: ["kind", "radius"] };
const square = { type: "object", properties: { kind: { const: "square" }, side: { type: "number" } }, required: ["kind", "side"] };
const shape = { type: "object", discriminator: { propertyName: "kind" }, oneOf: [{ $ref: "#/$defs/Circle" }, { $ref: "#/$defs/Square" }] };

export const CASES: readonly Case[] = [
  { name: "Str", schema: { type: "string" }, pass: ["", "x"], fail: [1, null, undefined] },
  { name: "Num", schema: { type: "number" }, pass: [0, -1.5], fail: ["1", null] },
  { name: "Bool", schema: { type: "boolean" }, pass: [true, false], fail: [0, "true"] },
  { name: "Nul", schema: { type: "null" }, pass: [null], fail: [undefined, 0] },
  { name: "Unk", schema: {}, pass: [1, "x", null, { a: 1 }], fail: [] },
  { name: "AnyT", schema: {}, pass: [1, null], fail: [] },
  {
    name: "Optionals",
    schema: { $ref: "#/$defs/Optionals" },
    defs: { Optionals: { type: "object", properties: { a: { type: "string" }, b: { type: "string" }, c: { type: "number" } }, required: ["c"] } },
    pass: [{ c: 1 }, { a: "x", b: "y", c: 2 }, { a: undefined, b: undefined, c: 3 }],
    fail: [{ a: "x" }, { a: 1, c: 1 }, { b: null, c: 1 }],
  },
  { name: "LitStr", schema: { const: "only" }, pass: ["only"], fail: ["other"] },
  { name: "LitNum", schema: { const: 42 }, pass: [42], fail: [41, "42"] },
  { name: "LitTrue", schema: { const: true }, pass: [true], fail: [false] },
  { name: "Lits", schema: { enum: ["high", "low", "medium", null] }, pass: ["low", null], fail: ["none", undefined] },
  { name: "Color", schema: { $ref: "#/$defs/Color" }, defs: { Color: { type: "string", enum: ["red", "green", "blue"] } }, pass: ["red"], fail: ["Red", 0] },
  { name: "Level", schema: { $ref: "#/$defs/Level" }, defs: { Level: { type: "number", enum: [0, 5, 6] } }, pass: [0, 6], fail: [1, "Low"] },
  {
    name: "Paint",
    schema: { $ref: "#/$defs/Paint" },
    // Optional properties keep the names of their declared types.
    defs: {
      Circle: circle,
      Color: { type: "string", enum: ["red", "green", "blue"] },
      Level: { type: "number", enum: [0, 5, 6] },
      Paint: {
        type: "object",
        properties: {
          color: { $ref: "#/$defs/Color" },
          level: { $ref: "#/$defs/Level" },
          exact: { const: "red" },
          tint: { $ref: "#/$defs/Color" },
          shape: { $ref: "#/$defs/Shape" },
        },
        required: ["color", "level", "exact"],
      },
      Shape: shape,
      Square: square,
    },
    pass: [{ color: "blue", level: 5, exact: "red" }, { color: "blue", level: 5, exact: "red", tint: "green", shape: { kind: "square", side: 1 } }],
    fail: [{ color: "blue", level: 5, exact: "blue" }, { color: "pink", level: 5, exact: "red" }, { color: "blue", level: 5, exact: "red", tint: "pink" }],
  },
  { name: "Prim", schema: { type: ["string", "number", "boolean", "null"] }, pass: ["a", 1, false, null], fail: [{}, []] },
  {
    name: "Mixed",
    schema: { $ref: "#/$defs/Mixed" },
    defs: { Mixed: { anyOf: [{ type: "string" }, { const: 7 }, { type: "object", properties: { x: { type: "number" } }, required: ["x"] }] } },
    pass: ["s", 7, { x: 1 }],
    fail: [8, { x: "1" }, null],
  },
  {
    name: "Shape",
    schema: { $ref: "#/$defs/Shape" },
    defs: { Circle: circle, Shape: shape, Square: square },
    pass: [{ kind: "circle", radius: 1 }, { kind: "square", side: 2 }],
    fail: [{ kind: "circle", side: 2 }, { kind: "triangle" }, { radius: 1 }, null],
  },
  {
    name: "MaybeShape",
    schema: { $ref: "#/$defs/MaybeShape" },
    defs: { Circle: circle, MaybeShape: { anyOf: [{ type: "null" }, shape] }, Square: square },
    pass: [null, { kind: "square", side: 2 }],
    fail: [{ kind: "square" }, "square"],
  },
  {
    name: "WithId",
    schema: { $ref: "#/$defs/WithId" },
    defs: {
      WithId: {
        type: "object",
        properties: { id: { type: "string" }, createdAt: { instanceof: "Date" }, name: { type: "string" } },
        required: ["id", "createdAt", "name"],
      },
    },
    pass: [{ id: "1", createdAt: new Date(0), name: "n" }],
    fail: [{ id: "1", createdAt: "1970-01-01", name: "n" }, { id: "1", createdAt: new Date(0) }],
  },
  { name: "Branded", schema: { type: "string" }, pass: ["u-1"], fail: [1] },
  { name: "Person", schema: { $ref: "#/$defs/Person" }, defs: { Person: person }, pass: [{ name: "a", tags: [] }, { name: "a", nickname: "b", tags: ["x"] }], fail: [{ name: "a" }, { name: "a", tags: [1] }] },
  { name: "Matrix", schema: { type: "array", items: { type: "array", items: { type: "number" } } }, pass: [[], [[1, 2], []]], fail: [[1], [["1"]]] },
  {
    name: "Fixed",
    schema: { type: "array", prefixItems: [{ type: "string" }, { type: "number" }], maxItems: 2, minItems: 2 },
    pass: [["a", 1]],
    fail: [["a"], ["a", 1, 2], [1, "a"]],
  },
  {
    name: "OptTuple",
    schema: { type: "array", prefixItems: [{ type: "string" }, { type: "number" }], maxItems: 2, minItems: 1 },
    pass: [["a"], ["a", 1]],
    fail: [[], ["a", "b"], ["a", 1, 2]],
  },
  {
    name: "RestTuple",
    schema: { type: "array", prefixItems: [{ type: "string" }], items: { type: "boolean" }, minItems: 1 },
    pass: [["a"], ["a", true, false]],
    fail: [[], ["a", 1], [true]],
  },
  { name: "Empty", schema: { type: "array", maxItems: 0 }, pass: [[]], fail: [[1]] },
  { name: "Scores", schema: { $ref: "#/$defs/Scores" }, defs: { Scores: { type: "object", plainObject: true, additionalProperties: { type: "number" } } }, pass: [{}, { a: 1 }], fail: [{ a: "1" }, []] },
  {
    name: "Keyed",
    schema: { $ref: "#/$defs/Keyed" },
    defs: { Keyed: { type: "object", properties: { a: { type: "boolean" }, b: { type: "boolean" } }, required: ["a", "b"] } },
    pass: [{ a: true, b: false }],
    fail: [{ a: true }, { a: true, b: 1 }],
  },
  {
    name: "Indexed",
    schema: { $ref: "#/$defs/Indexed" },
    defs: { Indexed: { type: "object", properties: { fixed: { type: "string" } }, required: ["fixed"], plainObject: true, additionalProperties: { type: "string" } } },
    pass: [{ fixed: "a", other: "b" }],
    fail: [{ fixed: "a", other: 1 }, {}],
  },
  {
    name: "ByNumber",
    schema: { $ref: "#/$defs/ByNumber" },
    defs: { ByNumber: { type: "object", plainObject: true, patternProperties: { "^(?:-?(?:\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?|Infinity)|NaN)$": { type: "string" } } } },
    pass: [{ 1: "a", 2.5: "b" }, { name: 1 }],
    fail: [{ 1: 2 }],
  },
  {
    name: "Headers",
    schema: { $ref: "#/$defs/Headers" },
    defs: { Headers: { type: "object", plainObject: true, patternProperties: { "^x-[\\s\\S]*$": { type: "string" } } } },
    pass: [{ "x-id": "1" }],
    fail: [{ "x-id": 1 }],
  },
  { name: "Template", schema: { type: "string", pattern: "^user-(?:\\s*(?:[+-]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+)\\s*|\\s+)$" }, pass: ["user-12", "user--1.5"], fail: ["user-", "user-x", "admin-1"] },
  {
    name: "Tree",
    schema: { $ref: "#/$defs/Tree" },
    defs: { Tree: { type: "object", properties: { value: { type: "number" }, children: { type: "array", items: { $ref: "#/$defs/Tree" } } }, required: ["value", "children"] } },
    pass: [{ value: 1, children: [{ value: 2, children: [] }] }],
    fail: [{ value: 1, children: [{ value: "2", children: [] }] }, { value: 1, children: [{ value: 2 }] }],
  },
  {
    name: "Json",
    schema: { $ref: "#/$defs/Json" },
    defs: {
      Json: {
        anyOf: [
          { type: ["string", "number", "boolean", "null"] },
          { type: "array", items: { $ref: "#/$defs/Json" } },
          { type: "object", plainObject: true, additionalProperties: { $ref: "#/$defs/Json" } },
        ],
      },
    },
    pass: [1, "a", null, [1, [true]], { a: { b: [null] } }],
    fail: [undefined, { a: [undefined] }, [() => 1], [1n]],
  },
  {
    name: "Outer",
    schema: { $ref: "#/$defs/Outer" },
    defs: {
      Outer: {
        type: "object",
        properties: {
          inner: {
            type: "object",
            properties: { deep: { type: "object", properties: { leaf: { $ref: "#/$defs/Person" } }, required: ["leaf"] } },
            required: ["deep"],
          },
        },
        required: ["inner"],
      },
      Person: person,
    },
    pass: [{ inner: { deep: { leaf: { name: "a", tags: [] } } } }],
    fail: [{ inner: { deep: { leaf: { name: 1, tags: [] } } } }],
  },
  {
    // An alias of an instance names it; an instance used directly is named by its arguments.
    name: "PersonPage",
    schema: { $ref: "#/$defs/PersonPage" },
    defs: {
      Person: person,
      PersonPage: { type: "object", properties: { items: { type: "array", items: { $ref: "#/$defs/Person" } }, next: { type: "string" } }, required: ["items"] },
    },
    pass: [{ items: [{ name: "a", tags: [] }] }],
    fail: [{ items: [{ name: "a" }] }, { next: "x" }],
  },
  {
    name: "Pages",
    schema: { $ref: "#/$defs/Pages" },
    defs: {
      Box_number: { type: "object", properties: { value: { type: "number" } }, required: ["value"] },
      Page_Box_number: { type: "object", properties: { items: { type: "array", items: { $ref: "#/$defs/Box_number" } }, next: { type: "string" } }, required: ["items"] },
      Page_string: { type: "object", properties: { items: { type: "array", items: { type: "string" } }, next: { type: "string" } }, required: ["items"] },
      Pages: { type: "object", properties: { words: { $ref: "#/$defs/Page_string" }, boxes: { $ref: "#/$defs/Page_Box_number" } }, required: ["words", "boxes"] },
    },
    pass: [{ words: { items: ["a"] }, boxes: { items: [{ value: 1 }] } }],
    fail: [{ words: { items: [1] }, boxes: { items: [] } }],
  },
  {
    name: "Boxes",
    schema: { $ref: "#/$defs/Boxes" },
    defs: {
      Box_number: { type: "object", properties: { value: { type: "number" } }, required: ["value"] },
      Box_string: { type: "object", properties: { value: { type: "string" } }, required: ["value"] },
      Boxes: { type: "object", properties: { a: { $ref: "#/$defs/Box_number" }, b: { $ref: "#/$defs/Box_string" } }, required: ["a", "b"] },
    },
    pass: [{ a: { value: 1 }, b: { value: "x" } }],
    fail: [{ a: { value: "1" }, b: { value: "x" } }],
  },
  {
    name: "When",
    schema: { $ref: "#/$defs/When" },
    defs: {
      When: {
        type: "object",
        properties: { at: { instanceof: "Date" }, bytes: { instanceof: "Uint8Array" }, vectors: { instanceof: "Float32Array" } },
        required: ["at", "bytes", "vectors"],
      },
    },
    pass: [{ at: new Date(), bytes: new Uint8Array(2), vectors: new Float32Array(1) }],
    fail: [{ at: Date.now(), bytes: new Uint8Array(2), vectors: new Float32Array(1) }, { at: new Date(), bytes: [1], vectors: new Float32Array(1) }],
  },
  {
    name: "Constrained",
    schema: { $ref: "#/$defs/Constrained" },
    defs: {
      Constrained: {
        type: "object",
        properties: {
          score: { type: "number", minimum: 0, maximum: 10 },
          weight: { type: "number", exclusiveMinimum: 0, multipleOf: 0.5 },
          count: { type: "integer", minimum: 1 },
          slug: { description: "A slug.", type: "string", minLength: 2, maxLength: 8, pattern: "^[a-z-]+$" },
          email: { type: "string", format: "email" },
          picks: { type: "array", items: { type: "string" }, minItems: 1, maxItems: 3 },
          lang: { type: "string", default: "en" },
          locale: { type: "string", default: "en-GB" },
          retries: { type: "number", default: 3 },
        },
        required: ["score", "weight", "count", "slug", "email", "picks"],
      },
    },
    pass: [{ score: 10, weight: 1.5, count: 1, slug: "ab-c", email: "a@b.io", picks: ["x"] }],
    fail: [
      { score: 11, weight: 1.5, count: 1, slug: "ab", email: "a@b.io", picks: ["x"] },
      { score: 1, weight: 0, count: 1, slug: "ab", email: "a@b.io", picks: ["x"] },
      { score: 1, weight: 0.7, count: 1, slug: "ab", email: "a@b.io", picks: ["x"] },
      { score: 1, weight: 1, count: 1.5, slug: "ab", email: "a@b.io", picks: ["x"] },
      { score: 1, weight: 1, count: 1, slug: "a", email: "a@b.io", picks: ["x"] },
      { score: 1, weight: 1, count: 1, slug: "abcdefghi", email: "a@b.io", picks: ["x"] },
      { score: 1, weight: 1, count: 1, slug: "AB", email: "a@b.io", picks: ["x"] },
      { score: 1, weight: 1, count: 1, slug: "ab", email: "not-an-email", picks: ["x"] },
      { score: 1, weight: 1, count: 1, slug: "ab", email: "a@b.io", picks: [] },
      { score: 1, weight: 1, count: 1, slug: "ab", email: "a@b.io", picks: ["a", "b", "c", "d"] },
    ],
  },
];
