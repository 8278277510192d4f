/**
 * What JSON Schema cannot express is a build error naming the path inside the type and
 * where it was declared, never a silent `{}`. One test per error, asserting the message.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type * as TS from "typescript";
import { createSchemaExtractor } from "../../transformers/schema.js";
import { createProgram, extract, ts6 } from "./support.js";

const SOURCE = `
export type Fn = (x: number) => void;
export interface Callbacks {
  name: string;
  onProgress: (done: number) => void;
}
export interface WithMethod {
  id: string;
  run(): void;
}
export type Sym = { key: symbol };
export type Big = { amount: bigint };
export class Judge {
  model = "m";
  score(answer: string): number { return answer.length; }
}
export type HoldsJudge = { judges: Judge[] };
export class Point { x = 0; y = 0 }
export type Data = { at: Point };
export type Later = { value: Promise<string> };
export type Lookup = { cache: Map<string, number> };
export type Unique = { ids: Set<string> };
export type Pattern = { re: RegExp };
export type Middle = [...string[], number];
export type Upper = { code: Uppercase<string> };
export interface SymKeyed { [Symbol.iterator]: number; ok: string }

export interface BadTags {
  /** @minimum 1 */
  name: string;
  /** @minLength 1.5 */
  title: string;
  /** @pattern ([a-z */
  slug: string;
  /** @format colour */
  colour: string;
  /** @default {not json} */
  count: number;
  /** @maximum ten */
  size: number;
}

export function generic<T>(x: T): { value: T } { return { value: x }; }
`;

describe("schema build errors", () => {
  let program: TS.Program;
  beforeAll(() => {
    program = createProgram(ts6, { "main.ts": SOURCE });
  });

  const issues = (name: string): string[] => extract(ts6, program, name).issues;

  it("rejects function types, naming the path and the declaration", () => {
    expect(issues("Fn")).toEqual(["value: function types are not supported (`(x: number) => void`); pass data, or type it `unknown` to skip checking (main.ts:2)"]);
    expect(issues("Callbacks")).toEqual([
      "value.onProgress: function types are not supported (`(done: number) => void`); pass data, or type it `unknown` to skip checking (main.ts:5)",
    ]);
  });

  it("rejects methods on interfaces", () => {
    expect(issues("WithMethod")).toEqual(["value: methods are not JSON data (run in `WithMethod`); pass plain data, or type it `unknown` to skip checking (main.ts:9)"]);
  });

  it("rejects symbol and bigint", () => {
    expect(issues("Sym")).toEqual(["value.key: `symbol` is not JSON data; use a string (main.ts:11)"]);
    expect(issues("Big")).toEqual(["value.amount: `bigint` is not JSON data; use number or a decimal string (main.ts:12)"]);
  });

  it("rejects class instances with methods, but accepts data classes", () => {
    expect(issues("HoldsJudge")).toEqual([
      "value.judges[]: instances of class `Judge` carry methods (score), which JSON Schema cannot express; pass plain data (an interface or type), or type it `unknown` to skip checking (main.ts:13)",
    ]);
    expect(issues("Data")).toEqual([]);
  });

  it("rejects Promise outside return position, Map, Set and other built-ins with methods", () => {
    expect(issues("Later")).toEqual(["value.value: a Promise is only unwrapped as an op's return type; await it before passing it on (main.ts:20)"]);
    expect(issues("Lookup")).toEqual(["value.cache: `Map<string, number>` is not JSON data; use Record<K, V> or an array of entries (main.ts:21)"]);
    expect(issues("Unique")).toEqual(["value.ids: `Set<string>` is not JSON data; use an array (main.ts:22)"]);
    expect(issues("Pattern")).toEqual(["value.re: built-in `RegExp` is not JSON data (main.ts:23)"]);
  });

  it("rejects a tuple rest element before the end", () => {
    expect(issues("Middle")).toEqual(["value: tuple `[...string[], number]` has a rest element before its end, which JSON Schema cannot express"]);
  });

  it("rejects string mapping types and symbol keys", () => {
    expect(issues("Upper")).toEqual(["value.code: string mapping type `Uppercase<string>` cannot be expressed; use string (main.ts:25)"]);
    expect(issues("SymKeyed")).toEqual(["value[Symbol.iterator]: symbol-keyed properties are not JSON data (main.ts:26)"]);
  });

  it("rejects JSDoc constraints that do not fit the type or do not parse", () => {
    expect(issues("BadTags")).toEqual([
      'value.name: @minimum applies to numbers, but this is a value of type "string" (main.ts:30)',
      'value.title: @minLength needs a non-negative integer, got "1.5" (main.ts:32)',
      "value.slug: @pattern ([a-z is not a valid regular expression: Invalid regular expression: /([a-z/u: Unterminated character class (main.ts:34)",
      `value.colour: @format "colour" is unknown; use one of date, time, date-time, duration, uri, uri-reference, url, email, hostname, ipv4, ipv6, uuid, regex, json-pointer, relative-json-pointer, byte, int32, int64, float, double, password, binary (main.ts:36)`,
      "value.count: @default {not json} is not a JSON value (main.ts:38)",
      'value.size: @maximum needs a number, got "ten" (main.ts:40)',
    ]);
  });

  it("rejects unresolved type parameters", () => {
    const checker = program.getTypeChecker();
    const sf = program.getSourceFile("/virtual/main.ts")!;
    const fn = sf.statements.find((s): s is TS.FunctionDeclaration => ts6.isFunctionDeclaration(s) && s.name?.text === "generic")!;
    const signature = checker.getSignatureFromDeclaration(fn)!;
    const x = createSchemaExtractor(ts6, program, { root: "/virtual" });
    x.schemaOf(checker.getTypeOfSymbol(signature.getParameters()[0]!), "x");
    x.schemaOf(checker.getReturnTypeOfSignature(signature), "return");
    expect(x.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      "x: unresolved type parameter `T`: give the op concrete types (generic ops cannot be checked)",
      "return.value: unresolved type parameter `T`: give the op concrete types (generic ops cannot be checked)",
    ]);
  });

  it("names recursive mapped types by their alias, so the cycle closes", () => {
    const p = createProgram(ts6, { "main.ts": `type Deep<T> = { [K in keyof T]: Deep<T[K]> }; interface N { next: N } export type X = { d: Deep<N> };` });
    const out = extract(ts6, p, "X");
    expect(out.issues).toEqual([]);
    expect(out.defs.Deep_N).toEqual({ type: "object", properties: { next: { $ref: "#/$defs/Deep_N" } }, required: ["next"] });
  });
});

