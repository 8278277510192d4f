import { describe, expect, it } from "vitest";
import { op, jit, cond, map, subscribe } from "weft";

function counted() {
  const calls: string[] = [];
  const stop = subscribe((e) => e.type === "op:start" && calls.push(e.op));
  return { calls, stop };
}

const a = op({ name: "a", kind: "io" }, async (x: string) => `a(${x})`);
const b = op({ name: "b", kind: "io" }, async (x: string) => `b(${x})`);
const c = op({ name: "c", kind: "io" }, async (x: string, y: string) => `c(${x},${y})`);
const concat = op({ name: "concat", kind: "pure" }, (x: string, y: string) => x + y);

describe("jit smoke", () => {
  it("matches eager on a diamond of string ops, for different inputs, with the same op calls", async () => {
    const f = async (x: string) => c(await a(x), await b(x));
    const jf = jit(f);
    for (const input of ["one", "two", "three"]) {
      const eager = counted();
      const expected = await f(input);
      eager.stop();
      const jitted = counted();
      const got = await jf(input);
      jitted.stop();
      expect(got).toBe(expected);
      expect(jitted.calls.sort()).toEqual(eager.calls.sort());
    }
  });

  it("handles the Ember failure: c(a + b) with string ops, called twice with different inputs", async () => {
    const f = async (x: string) => c((await a(x)) + (await b(x)), x);
    const jf = jit(f);
    expect(await jf("p")).toBe(await f("p"));
    expect(await jf("q")).toBe(await f("q"));
    expect(await jf("q")).toBe("c(a(q)b(q),q)");
  });

  it("stages concatenation as a pure op and keeps string dependencies as edges", async () => {
    const f = async (x: string) => c(await concat(await a(x), await b(x)), x);
    const jf = jit(f);
    expect(await jf("p")).toBe("c(a(p)b(p),p)");
    expect(await jf("q")).toBe("c(a(q)b(q),q)");
    const view = await jf.inspect("z");
    expect(view.fallback).toBeUndefined();
    expect(view.text).toContain("concat");
  });

  it("stages cond and map", async () => {
    const isLong = op({ name: "isLong", kind: "pure" }, (s: string) => s.length > 3);
    const words = op({ name: "words", kind: "pure" }, (s: string) => s.split(" "));
    const f = async (x: string) => {
      const long = await isLong(x);
      const picked = await cond(long, () => a(x), () => b(x));
      const each = await map(await words(x), (w) => a(w));
      return { picked, each };
    };
    const jf = jit(f, { strict: true });
    expect(await jf("hi")).toEqual(await f("hi"));
    expect(await jf("hello big world")).toEqual(await f("hello big world"));
  });
});
