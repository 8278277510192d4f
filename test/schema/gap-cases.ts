/**
 * The schema fixtures of issue 12's gaps, with values that must pass and fail: the types
 * test/schema/gaps.test.ts extracts (each schema exactly there), and that
 * test/schema/agree.test.ts builds as ops through every build (TypeScript 6.0 and 5.9, both
 * decorator modes, `weft gen`) beside the golden fixtures.
 */

export const GAP_SOURCE = `
/** @pattern ^[a-z]+$ */
export type Slug = string;
/** @minItems 1 */
export type NonEmpty = string[];
export interface Post {
  slug: Slug;
  tags: NonEmpty;
  /** @maxLength 3 */
  short: Slug;
}

export interface Row extends Array<number> {}
export interface Grid { rows: Row[] }
export type AtLeastOne = [number, ...number[]] & number[];

export type Big = \`id-\${bigint}\`;
export type Pct = \`\${number}%\`;

export type Inter = ({ a: string } & { b: string }) | { a: string; b: string } | null;

export type Dict = Record<string, number>;
export interface Lookup { [key: string]: string }

export interface DeepTree { value: number; children: DeepTree[] }

export interface SameLine { a: number; /** @minimum 0 */ b: number; /** @maxLength 2 */ c: string }

/** @closed */
export interface Strict { name: string; age?: number }
export interface Loose { name: string }
/** @closed */
export type StrictAlias = { id: string } & { rev: number };
`;

/** Values one fixture must accept and reject. */
export interface Samples {
  readonly name: string;
  readonly pass: readonly unknown[];
  readonly fail: readonly unknown[];
}

class Point {
  x = 1;
}

export const GAP_SAMPLES = {
  Post: { name: "Post", pass: [{ slug: "abc", tags: ["x"], short: "ab" }], fail: [{ slug: "ABC", tags: ["x"], short: "ab" }, { slug: "abc", tags: [], short: "ab" }, { slug: "abc", tags: ["x"], short: "abcd" }] },
  Grid: { name: "Grid", pass: [{ rows: [[1, 2], []] }], fail: [{ rows: [[1, "2"]] }, { rows: {} }] },
  AtLeastOne: { name: "AtLeastOne", pass: [[1], [1, 2, 3]], fail: [[], ["1"]] },
  Big: { name: "Big", pass: ["id-0", "id-12", "id--3", "id-0x1f"], fail: ["id-", "id-1.5", "id-1n", "id-01", "id-x"] },
  // TypeScript: `${number}` accepts text whose `+text` is finite.
  Pct: { name: "Pct", pass: ["5%", ".5%", "1e3%", "-2.5%", "0x10%", " 1%"], fail: ["NaN%", "Infinity%", "%", "abc%", "5"] },
  Inter: { name: "Inter", pass: [{ a: "x", b: "y" }, null], fail: [{ a: "x" }, { a: 1, b: "y" }] },
  Dict: { name: "Dict", pass: [{}, { a: 1 }, Object.create(null)], fail: [new Date(), new Map(), new Set(), new Uint8Array(2), new Point(), { a: "1" }] },
  Lookup: { name: "Lookup", pass: [{ a: "x" }], fail: [new Map(), [], new Date()] },
  DeepTree: { name: "DeepTree", pass: [{ value: 1, children: [{ value: 2, children: [] }] }], fail: [{ value: 1, children: [{ value: "2", children: [] }] }, { value: 1 }] },
  SameLine: { name: "SameLine", pass: [{ a: 1, b: 0, c: "ab" }], fail: [{ a: 1, b: -1, c: "ab" }, { a: 1, b: 1, c: "abc" }] },
  Strict: { name: "Strict", pass: [{ name: "a" }, { name: "a", age: 3 }], fail: [{ name: "a", nmae: "typo" }, { name: "a", age: 3, extra: 1 }] },
  Loose: { name: "Loose", pass: [{ name: "a", extra: 1 }], fail: [{}] },
  StrictAlias: { name: "StrictAlias", pass: [{ id: "a", rev: 1 }], fail: [{ id: "a", rev: 1, x: 0 }] },
} as const satisfies Record<string, Samples>;
