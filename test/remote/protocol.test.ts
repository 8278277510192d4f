/**
 * The remote job protocol's value encoding: JSON exactly when JSON carries a value as
 * structured clone would, else structured clone, so every value arrives as it left.
 */
import { describe, expect, it } from "vitest";
import { PROTOCOL_VERSION, decodeReply, encodeReply, fromWire, jsonFaithful, toWire } from "../../runtime/remote/protocol.js";

class Point {
  constructor(readonly x: number) {}
}

describe("remote wire values", () => {
  it("plain data goes as JSON, as it is", () => {
    for (const value of [0, 1.5, -3, "é\ud800", true, null, [], {}, [1, [2, { a: "b" }]], { a: { b: [null, false] } }, Object.create(null) as object]) {
      expect(jsonFaithful(value)).toBe(true);
      expect(toWire(value)).toEqual({ json: value });
      expect(JSON.parse(JSON.stringify(value))).toStrictEqual(structuredClone(value));
    }
  });

  it("what JSON would change goes as structured clone, and comes back unchanged", () => {
    const shared = { n: 1 };
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    const extra = Object.assign([1, 2], { tag: "x" });
    const awkward: unknown[] = [-0, NaN, Infinity, undefined, 10n, new Date(0), /x/g, new Map([[1, 2]]), new Set([1]), new Uint8Array([1]), [1, , 3], [undefined], { u: undefined }, { a: shared, b: shared }, cyclic, extra, new Point(1), JSON.parse('{"__proto__": 1}')];
    for (const value of awkward) {
      expect(jsonFaithful(value), String(value)).toBe(false);
      const wire = toWire(value);
      expect("v8" in wire).toBe(true);
      const back = fromWire(JSON.parse(JSON.stringify(wire)) as typeof wire);
      expect(back).toStrictEqual(structuredClone(value));
    }
    const pair = fromWire<{ a: object; b: object }>(toWire({ a: shared, b: shared }));
    expect(pair.a).toBe(pair.b);
    expect(Object.is(fromWire(toWire(-0)), -0)).toBe(true);
  });

  it("a big value is not walked to the end: it goes as structured clone", () => {
    const big = Array.from({ length: 5000 }, (_, i) => i);
    expect(jsonFaithful(big)).toBe(false);
    expect(fromWire(toWire(big))).toEqual(big);
  });

  it("a reply survives BullMQ's JSON round trip; anything else is refused by name", () => {
    const reply = { type: "items", items: { values: [1, new Date(5)], failures: [] }, timings: [] } as const;
    expect(decodeReply(JSON.parse(JSON.stringify(encodeReply(reply))))).toStrictEqual(structuredClone(reply));
    expect(decodeReply({ weft: PROTOCOL_VERSION, value: { a: 1 } })).toEqual({ type: "value", value: { a: 1 }, timings: [] });
    expect(decodeReply({ weft: PROTOCOL_VERSION, items: [1, 2] })).toEqual({ type: "items", items: { values: [1, 2], failures: [] }, timings: [] });
    expect(() => decodeReply("42")).toThrow(new RegExp(`not a weft reply of version ${PROTOCOL_VERSION}`));
    expect(() => decodeReply({ weft: PROTOCOL_VERSION - 1, value: 1 })).toThrow(new RegExp(`of protocol version ${PROTOCOL_VERSION - 1}`));
  });
});
