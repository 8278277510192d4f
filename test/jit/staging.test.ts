/**
 * Build-time staging (transformers/jit-stage.ts): what a Proxy cannot see, rewritten by the
 * transformer into staged forms the tracer records. Every function here is jitted in
 * strict mode where it is written (so the transformer sees it, and a fallback would throw),
 * and runs against its eager self on inputs that take every path.
 */
import { describe, expect, it } from "vitest";
import { op, jit } from "weft";
import { expectLikeEager, logged, note } from "./harness.js";

const echo = op({ kind: "io" }, async (x: string) => (note("echo", "io", x), `echo(${x})`));
const other = op({ kind: "io" }, async (x: string) => (note("other", "io", x), `other(${x})`));
const maybe = op({ kind: "io" }, async (x: string): Promise<{ v: string; inner?: { w: string } | null } | null> => {
  note("maybe", "io", x);
  return x === "none" ? null : x === "shallow" ? { v: x } : { v: x, inner: { w: `${x}-w` } };
});
const score = op({ kind: "io" }, async (x: string) => (note("score", "io", x), x.length));
const anything = op({ kind: "io" }, async (x: string): Promise<unknown> => {
  note("anything", "io", x);
  const table: Record<string, unknown> = { list: ["a"], zero: 0, negzero: -0, nan: Number.NaN, empty: "", nil: null, int: 7 };
  return x in table ? table[x] : x;
});

const strict = { strict: true } as const;

describe("templates and string building", () => {
  it("a prompt built from an earlier answer is a format node", async () => {
    const f = async (q: string) => {
      const draft = await echo(q);
      return echo(`Critique: ${draft} (for ${q})`);
    };
    const jf = await expectLikeEager(f, [["p"], ["q r"]], jit(f, strict));
    expect((await jf.inspect("p")).text).toContain("template");
  });

  it("string + and arithmetic on results", async () => {
    const f = async (q: string) => {
      const n = await score(q);
      return echo("n=" + (n * 2 + 1) + "/" + (await echo(q)));
    };
    await expectLikeEager(f, [["p"], ["abc"]], jit(f, strict));
  });

  it("edge values go through the staged operators as through the originals", async () => {
    const f = async (x: string) => {
      const v = await anything(x);
      return [`${v}`, typeof v, !v, v === 0, v == null, -(v as number), (v as number) < 1];
    };
    await expectLikeEager(f, [["zero"], ["negzero"], ["nan"], ["empty"], ["nil"], ["int"], ["list"]], jit(f, strict));
  });
});

describe("optional chaining and nullish values", () => {
  it("?. chains with optional and plain links", async () => {
    const f = async (x: string) => {
      const r = await maybe(x);
      return { v: r?.v, w: r?.inner?.w, deep: r?.inner?.["w"] };
    };
    await expectLikeEager(f, [["none"], ["shallow"], ["full"]], jit(f, strict));
  });

  it("?? and || with plain fallbacks, && with an op on the right", async () => {
    const f = async (x: string) => {
      const r = await maybe(x);
      const v = r?.v ?? "default";
      const shown = (await anything(x)) || "falsy";
      const both = r && (await echo(r.v));
      return [v, shown, both];
    };
    const jf = await expectLikeEager(f, [["none"], ["zero"], ["full"], ["none"]], jit(f, strict));
    expect((await jf.inspect("none")).text).toContain("cond");
  });
});

describe("conditionals run only the taken branch's ops", () => {
  it("?: with an op call in each branch", async () => {
    const f = async (x: string) => ((await score(x)) > 3 ? echo(x) : other(x));
    const jf = jit(f, strict);
    await expectLikeEager(f, [["ab"], ["abcdef"], ["x"]], jf);
    const { calls } = await logged(() => jf("abcdef"));
    expect(calls.map((c) => c.op)).toEqual(["score", "echo"]);
  });

  it("?: with awaits inside the branches", async () => {
    const f = async (x: string) => {
      const r = await maybe(x);
      return r ? `got ${await echo(r.v)}` : await other(x);
    };
    await expectLikeEager(f, [["none"], ["full"]], jit(f, strict));
  });
});

describe("defaults and builtins", () => {
  it("default parameters and destructuring defaults apply as eagerly", async () => {
    const f = async (x: string | undefined = "dflt") => {
      const { v = "no v", inner: { w = "no w" } = {} } = ((await maybe(x)) ?? {}) as { v?: string; inner?: { w?: string } };
      return [x, v, w];
    };
    await expectLikeEager(f, [[undefined], ["none"], ["shallow"], ["full"]], jit(f, strict));
  });

  it("Array.isArray, Number.is*, Boolean and concat on traced values", async () => {
    const f = async (x: string) => {
      const v = await anything(x);
      return [Array.isArray(v), Number.isInteger(v), Number.isNaN(v), Boolean(v), ["head"].concat(v as string)];
    };
    await expectLikeEager(f, [["list"], ["int"], ["nan"], ["empty"], ["other"]], jit(f, strict));
  });
});

describe("the rewritten code behaves as the original outside a trace", () => {
  it("returns the same values when called directly", async () => {
    const f = async (x: string | undefined = "d") => {
      const r = await maybe(x);
      return [`${r?.v ?? "none"}!`, r?.inner?.w, typeof r, !r, r ? 1 : 2];
    };
    const jf = jit(f, strict);
    for (const x of ["none", "full", undefined]) expect(await jf(x)).toEqual(await f(x));
    // The default parameter keeps the function's arity.
    expect(f.length).toBe(0);
  });
});
