/**
 * The durable codec: every value an op may return comes back as it was, primitives
 * (stored without the serializer) included; a value that cannot be stored names its path.
 */
import { expect, test } from "vitest";
import { canonical, decode, encode, inputHash } from "../../runtime/durable/codec.js";
import { UnstorableValue } from "weft";

test("values round-trip: primitives, -0, NaN, long and unicode strings, nested structures", () => {
  const values: unknown[] = [0, -0, 1.5, NaN, Infinity, -1e308, "", "héllo 🌍", "x".repeat(10_000), true, false, null, undefined, 10n, [1, "a", null], { a: new Date(0), b: new Uint16Array([1, 2]) }, new Map([[1, new Set(["x"])]])];
  for (const value of values) expect(decode(encode(value, "t"))).toEqual(value);
  expect(Object.is(decode(encode(-0, "t")), -0)).toBe(true);
});

test("a value that cannot be stored fails with its path", () => {
  const error = (() => {
    try {
      encode({ items: [1, { f: Symbol("s") }] }, "node x");
    } catch (e) {
      return e;
    }
  })();
  expect(error).toBeInstanceOf(UnstorableValue);
  expect((error as UnstorableValue).path).toBe("$.items[1].f");
});

test("the canonical text ignores key order and tells types apart", () => {
  expect(canonical({ a: 1, b: [2] })).toBe(canonical({ b: [2], a: 1 }));
  expect(inputHash([1])).not.toBe(inputHash(["1"]));
  expect(inputHash([new Date(5)])).not.toBe(inputHash([5]));
  expect(inputHash([undefined])).not.toBe(inputHash([null]));
});
