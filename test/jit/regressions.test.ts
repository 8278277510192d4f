/**
 * Bugs found in the JIT, one test each, written to fail before its fix. Each names what
 * eager code does that the jitted function did not.
 */
import { describe, expect, it } from "vitest";
import { op, jit } from "weft";

const collect = op({ kind: "io" }, async (into: string[], x: string) => into.push(x));
const echo = op({ kind: "io" }, async (x: string) => `echo(${x})`);

describe("literals are fresh on every run", () => {
  it("passes an op a new array literal on every run, so its mutation does not leak into the next", async () => {
    const jf = jit(async (x: string) => collect([], x));
    expect([await jf("p"), await jf("q"), await jf("r")]).toEqual([1, 1, 1]);
  });

  it("returns a new object literal on every run, so a caller's mutation does not leak into the next", async () => {
    const jf = jit(async (x: string) => {
      await echo(x);
      return { seen: [] as string[] };
    });
    const first = await jf("p");
    first.seen.push("changed by the caller");
    expect(await jf("q")).toEqual({ seen: [] });
  });

  it("uses a static object argument's value when traced, not a later mutation of that object", async () => {
    const suffixed = op({ kind: "io" }, async (x: string, o: { suffix: string }) => x + o.suffix);
    const jf = jit(async (x: string, o: { suffix: string }) => suffixed(x, o), { static: [1] });
    const opts = { suffix: "one" };
    expect(await jf("p", opts)).toBe("pone");
    opts.suffix = "two"; // a new static value, so a new plan
    expect(await jf("p", opts)).toBe("ptwo");
    // The first plan again: it must not see the mutation made after it was traced.
    expect(await jf("p", { suffix: "one" })).toBe("pone");
  });
});
