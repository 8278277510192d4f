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

describe("if/else statements are staged conds: only the taken branch's ops run", () => {
  it("an if that assigns a variable, with and without else", async () => {
    const f = async (x: string) => {
      const n = await score(x);
      let label = "short";
      let extra = "";
      if (n > 3) {
        label = await echo(x);
        extra = "long";
      } else label = await other(x);
      if (n === 1) extra = await echo(`one:${x}`);
      return { label, extra };
    };
    const jf = await expectLikeEager(f, [["ab"], ["abcdef"], ["x"], ["abcdef"]], jit(f, strict));
    expect((await jf.inspect("ab")).text).toContain("cond");
    const { calls } = await logged(() => jf("abcdef"));
    expect(calls.map((c) => c.op)).toEqual(["score", "echo"]);
  });

  it("an early return takes the rest of the function into the other branch", async () => {
    const f = async (x: string) => {
      const r = await maybe(x);
      if (!r) return "nothing";
      const first = await echo(r.v);
      if (r.inner) {
        const w = await other(r.inner.w);
        return `${first}+${w}`;
      } else if (first.length > 12) {
        return "long";
      }
      return first;
    };
    await expectLikeEager(f, [["none"], ["shallow"], ["full"], ["longer-shallow"], ["none"]], jit(f, strict));
  });

  it("a counter and a variable assigned in one branch only", async () => {
    const f = async (x: string) => {
      let count = 0;
      let seen: string | undefined;
      const n = await score(x);
      if (n % 2 === 0) {
        count++;
        seen = await echo(x);
      }
      if (n > 4) count += 10;
      return [count, seen];
    };
    await expectLikeEager(f, [["ab"], ["abc"], ["abcdef"], ["abcde"]], jit(f, strict));
  });

  it("the rewritten if behaves as the original outside a trace, and an op failing in a branch fails as eager", async () => {
    const failing = op({ kind: "io" }, async (x: string): Promise<string> => {
      note("failing", "io", x);
      throw new Error(`no ${x}`);
    });
    const f = async (x: string) => {
      let out = "a";
      if ((await score(x)) > 2) out = await failing(x);
      else out = await echo(x);
      return out;
    };
    const jf = await expectLikeEager(f, [["ab"], ["abcd"]], jit(f, strict));
    expect(await f("ab")).toBe("echo(ab)");
    await expect(jf("abcd")).rejects.toThrow(/no abcd/);
  });

  it("an if writing properties of an outer object literal: each branch writes its own copy", async () => {
    const f = async (x: string) => {
      const out: Record<string, string> = { first: x };
      out.before = "set before";
      if ((await score(x)) > 2) out.a = await echo(x);
      else {
        out.b = await other(x);
        out.first += "!";
      }
      return { out, a: out.a ?? "no a", keys: Object.keys(out) };
    };
    await expectLikeEager(f, [["ab"], ["abcd"], ["ab"]], jit(f, strict));
    const g = async (x: string) => {
      const out: { v?: string } = {};
      switch (await score(x)) {
        case 1:
          out.v = await echo(x);
          break;
        case 2:
          return out;
      }
      return [out.v ?? "unset", out];
    };
    await expectLikeEager(g, [["a"], ["ab"], ["abc"]], jit(g, strict));
  });

  it("an if the transform cannot stage still falls back loudly (an outer object seen under another name, or written two levels deep)", async () => {
    const aliased = async (x: string) => {
      const out: Record<string, string> = {};
      const same = out;
      if ((await score(x)) > 2) out.a = await echo(x);
      return same;
    };
    await expect(jit(aliased, strict)("ab")).rejects.toThrow(/branches on a traced value \(if\)/);
    await expectLikeEager(aliased, [["ab"], ["abcd"]], jit(aliased, { strict: false }));
    const deep = async (x: string) => {
      const out = { inner: { a: "" } };
      if ((await score(x)) > 2) out.inner.a = await echo(x);
      return out;
    };
    await expect(jit(deep, strict)("ab")).rejects.toThrow(/branches on a traced value \(if\)/);
    await expectLikeEager(deep, [["ab"], ["abcd"]], jit(deep, { strict: false }));
    // A second if writing the same object: it is the first one's traced result by then.
    const twice = async (x: string) => {
      const out: Record<string, string> = {};
      if ((await score(x)) > 2) out.a = await echo(x);
      if ((await score(x)) > 3) out.b = await other(x);
      return out;
    };
    await expect(jit(twice, strict)("ab")).rejects.toThrow(/written by an earlier staged if or switch is written again/);
    await expectLikeEager(twice, [["ab"], ["abc"], ["abcd"]], jit(twice, { strict: false }));
  });
});

describe("try/catch around op calls is a staged try: the handler runs only on failure, with eager's calls", () => {
  const flaky = op({ kind: "io" }, async (x: string): Promise<string> => {
    note("flaky", "io", x);
    if (x.includes("!")) throw new Error(`flaky ${x}`);
    return `flaky(${x})`;
  });

  it("a value assigned in the body or the handler", async () => {
    const f = async (x: string) => {
      let out = "start";
      let why = "";
      try {
        const a = await flaky(x);
        out = await echo(a);
      } catch (e) {
        why = (e as Error).message;
        out = await other(x);
      }
      return { out, why };
    };
    const jf = await expectLikeEager(f, [["ok"], ["bad!"], ["ok"], ["bad!"]], jit(f, strict));
    expect((await jf.inspect("ok")).text).toContain("try");
    // The failing call is the last: echo never runs, other does.
    const { calls } = await logged(() => jf("no!"));
    expect(calls.map((c) => c.op)).toEqual(["flaky", "other"]);
  });

  it("returns from the body and the handler", async () => {
    const f = async (x: string) => {
      const n = await score(x);
      try {
        return `${await flaky(x)}/${n}`;
      } catch {
        return "caught";
      }
    };
    await expectLikeEager(f, [["ok"], ["bad!"]], jit(f, strict));
  });

  it("ops after an awaited failing call are not made, ops issued together still are", async () => {
    const f = async (x: string) => {
      try {
        const [a, b] = await Promise.all([flaky(x), echo(x)]);
        const c = await other(a + b);
        return [a, b, c];
      } catch {
        return await echo("handled");
      }
    };
    await expectLikeEager(f, [["ok"], ["bad!"]], jit(f, strict));
  });

  it("a glue failure inside the body (a read of null) is caught as eagerly, before later calls", async () => {
    const f = async (x: string) => {
      try {
        const r = await maybe(x);
        const w = (r as { inner: { w: string } }).inner.w;
        return await echo(w);
      } catch {
        return await other(x);
      }
    };
    await expectLikeEager(f, [["full"], ["none"], ["shallow"]], jit(f, strict));
  });

  it("try inside an if branch, and an if inside a try body", async () => {
    const f = async (x: string) => {
      let v = "none";
      if ((await score(x)) > 2) {
        try {
          v = await flaky(x);
        } catch {
          v = "caught";
        }
      }
      try {
        const s = await score(v);
        if (s > 6) v = await flaky(`${v}!`);
      } catch (e) {
        v = `${v}:${(e as Error).message}`;
      }
      return v;
    };
    await expectLikeEager(f, [["ab"], ["abcd"], ["ab!c"], ["abcdefgh"]], jit(f, strict));
  });

  it("try/catch with an inert finally (glue assigning variables) is staged: the finally runs after it, as eagerly", async () => {
    const f = async (x: string) => {
      let v = "init";
      let steps = 0;
      try {
        v = await flaky(x);
        steps++;
      } catch (e) {
        v = await echo(`caught ${(e as Error).message}`);
      } finally {
        v += "|done";
        steps++;
      }
      return { v, steps };
    };
    const jf = await expectLikeEager(f, [["ok"], ["bad!"], ["ok"], ["bad!"]], jit(f, strict));
    expect((await jf.inspect("ok")).fallback).toBeUndefined();
  });

  it("a try the transform cannot stage still falls back loudly (finally, an unawaited return)", async () => {
    const withFinally = async (x: string) => {
      try {
        return await flaky(x);
      } finally {
        await echo("done");
      }
    };
    await expect(jit(withFinally, strict)("ok")).rejects.toThrow(/try\/catch/);
    const unawaited = async (x: string) => {
      try {
        return flaky(x);
      } catch {
        return "never caught";
      }
    };
    await expect(jit(unawaited, strict)("ok")).rejects.toThrow(/try\/catch/);
    await expectLikeEager(unawaited, [["ok"], ["bad!"]], jit(unawaited, { strict: false }));
  });
});

describe("for...of over a traced array is a staged map, one item at a time", () => {
  const lines = op({ kind: "io" }, async (x: string): Promise<string[]> => (note("lines", "io", x), x.split(",").filter((s) => s !== "")));
  const check = op({ kind: "io" }, async (x: string): Promise<string> => {
    note("check", "io", x);
    if (x.includes("!")) throw new Error(`bad ${x}`);
    return `ok(${x})`;
  });

  it("an array a loop pushed onto is traced after it: a staged builtin on it sees the loop's result (the generator found Array.isArray frozen to false)", async () => {
    const f = async (x: string) => {
      const out: string[] = [];
      for (const it of await lines(x)) out.push(await check(it));
      const seen = Array.isArray(out) ? out : [];
      return { out, seen };
    };
    const jf = await expectLikeEager(f, [["a,b"], [""], ["a,b,c"]], jit(f, strict));
    expect((await jf.inspect("a,b")).fallback).toBeUndefined();
  });

  it("collects with push, as eagerly, for arrays of every length", async () => {
    const f = async (x: string) => {
      const out: string[] = [];
      const lengths: number[] = [];
      for (const line of await lines(x)) {
        const checked = await check(line);
        out.push(`${checked}!`.slice(0, -1));
        lengths.push(await score(checked));
      }
      return { out, lengths };
    };
    const jf = await expectLikeEager(f, [["a,b"], [""], ["a,b,c,d"], ["q"]], jit(f, strict));
    expect((await jf.inspect("a")).text).toContain("map");
  });

  it("a failing item stops the loop there, as eagerly", async () => {
    const f = async (x: string) => {
      const out: string[] = [];
      for (const line of await lines(x)) out.push(await check(line));
      return out;
    };
    const jf = await expectLikeEager(f, [["a,b!,c"], ["a,b"]], jit(f, strict));
    const { calls } = await logged(() => jf("a,b!,c").catch(() => undefined));
    expect(calls.map((c) => c.args)).toEqual(['["a,b!,c"]', '["a"]', '["b!"]']);
  });

  it("a loop for effects only, and a loop inside a staged try", async () => {
    const f = async (x: string) => {
      for (const line of await lines(x)) await echo(line);
      let done = "no";
      try {
        for (const line of await lines(x)) await check(line);
        done = "yes";
      } catch {
        done = "failed";
      }
      return done;
    };
    await expectLikeEager(f, [["a,b"], ["a,b!,c"], [""]], jit(f, strict));
  });

  it("a loop the transform cannot stage still falls back loudly (it assigns an outer variable)", async () => {
    const f = async (x: string) => {
      let all = "";
      for (const line of await lines(x)) all += await check(line);
      return all;
    };
    await expect(jit(f, strict)("a,b")).rejects.toThrow(/iterat|keys|unknown length/);
    await expectLikeEager(f, [["a,b"], ["a"]], jit(f, { strict: false }));
  });
});

describe("switch on a traced value is a chain of staged conds", () => {
  it("case groups with break, a shared body and default, assigning a variable", async () => {
    const f = async (x: string) => {
      const n = await score(x);
      let label = "none";
      switch (n) {
        case 1:
        case 2:
          label = await echo(x);
          break;
        case 4: {
          label = await other(x);
          break;
        }
        default:
          label = `n=${n}`;
      }
      return label;
    };
    const jf = await expectLikeEager(f, [["a"], ["ab"], ["abcd"], ["abcdefg"], ["ab"]], jit(f, strict));
    const { calls } = await logged(() => jf("abcd"));
    expect(calls.map((c) => c.op)).toEqual(["score", "other"]);
  });

  it("cases that return take the rest of the function, with and without default", async () => {
    const f = async (x: string) => {
      const r = await maybe(x);
      switch (r?.inner?.w) {
        case undefined:
          return "no inner";
        case "deep-w":
          return echo("deep");
      }
      return other(r!.v);
    };
    await expectLikeEager(f, [["none"], ["shallow"], ["deep"], ["full"]], jit(f, strict));
    const g = async (x: string) => {
      switch (await score(x)) {
        case 0:
          return "empty";
        default:
          return echo(x);
      }
    };
    await expectLikeEager(g, [[""], ["ab"]], jit(g, strict));
  });

  it("a switch that falls through from one case into the next still falls back loudly", async () => {
    const f = async (x: string) => {
      let out = "";
      switch (await score(x)) {
        // @ts-expect-error: TS7029, the fall-through is the point
        case 1:
          out += await echo(x);
        // falls through
        case 2:
          out += await other(x);
      }
      return out;
    };
    await expect(jit(f, strict)("a")).rejects.toThrow(/branches on a traced value \(switch\)/);
    await expectLikeEager(f, [["a"], ["ab"], ["abc"]], jit(f, { strict: false }));
  });
});

describe("spreads, key listings and `in` on traced values", () => {
  it("object and array spreads of results build their literals in the plan", async () => {
    const f = async (x: string) => {
      const r = await maybe(x);
      const list = await anything("list");
      const k = await echo("k");
      return { merged: { a: 1, ...r, [k]: 2, b: x }, items: ["first", ...(list as string[]), ...x] };
    };
    const jf = await expectLikeEager(f, [["none"], ["shallow"], ["full"]], jit(f, strict));
    expect((await jf.inspect("full")).text).toContain("object");
  });

  it("Object.keys, Object.values, Object.entries and `in` see each run's keys", async () => {
    const f = async (x: string) => {
      const r = (await maybe(x)) ?? {};
      return [Object.keys(r), Object.values(r).length, Object.entries({ ...r }), "inner" in r, "v" in r];
    };
    await expectLikeEager(f, [["none"], ["shallow"], ["full"], ["none"]], jit(f, strict));
  });
});

describe("an if assigning a variable that a later closure reads", () => {
  it("is staged: a closure made after the if sees its final value, as eagerly", async () => {
    const f = async (x: string) => {
      let label = "short";
      if ((await score(x)) > 3) label = await echo(x);
      const shown = await (async () => other(label))();
      return [label, shown];
    };
    const jf = await expectLikeEager(f, [["ab"], ["abcdef"]], jit(f, strict));
    expect((await jf.inspect("ab")).text).toContain("cond");
  });

  it("still falls back when the closure is made before the if (it could run inside a branch)", async () => {
    const f = async (x: string) => {
      let label = "short";
      const show = () => other(label);
      if ((await score(x)) > 3) {
        label = await echo(x);
        return show();
      }
      return label;
    };
    await expect(jit(f, strict)("ab")).rejects.toThrow(/branches on a traced value \(if\)/);
    await expectLikeEager(f, [["ab"], ["abcdef"]], jit(f, { strict: false }));
  });
});

describe("silent mismatches the differential generator found (each returned a wrong value before its fix)", () => {
  const box = op({ kind: "io" }, async (x: string): Promise<Record<string, string>> => (note("box", "io", x), { v: x }));
  const bump = op({ kind: "io" }, async (o: Record<string, string>) => {
    note("bump", "io", JSON.stringify(o));
    o.v = `${o.v}+`;
    o.extra = "added";
    return 1;
  });
  const collect = op({ kind: "io" }, async (into: string[], x: string) => (note("collect", "io", x), into.push(x)));
  const letters = op({ kind: "pure" }, (x: string) => (note("letters", "pure", x), x.split("")));
  const failing = op({ kind: "io" }, async (x: string): Promise<string> => {
    note("failing", "io", x);
    if (x.includes("!")) throw new Error(`no ${x}`);
    return x;
  });

  it("an else-if chain whose branches return unawaited op calls", async () => {
    const f = async (x: string) => {
      const n = await score(x);
      if (n > 3) return echo(x);
      else if (n > 1) return other(x);
      return "small";
    };
    await expectLikeEager(f, [["abcdef"], ["ab"], ["a"], ["ab"]], jit(f, strict));
  });

  it("`r?.[k]` and `k in r` read before an op that changes r see r as it was, as eagerly", async () => {
    const f = async (x: string, k: string) => {
      const r = await box(x);
      const before = r?.[k];
      const had = "extra" in r;
      await bump(r);
      return { before, had, after: r?.[k], has: "extra" in r };
    };
    await expectLikeEager(f, [["p", "v"], ["q", "extra"]], jit(f, strict));
  });

  it("two equal concat() calls make two arrays: an op changing one leaves the other", async () => {
    const f = async (x: string) => {
      const base = ["k"];
      const t = await letters(x);
      const a = base.concat(t);
      const b = base.concat(t);
      await collect(a, "z");
      return [a, b];
    };
    await expectLikeEager(f, [["pq"], ["r"]], jit(f, strict));
  });

  it("two equal Object.keys() calls make two arrays", async () => {
    const f = async (x: string) => {
      const r = await box(x);
      const a = Object.keys(r);
      const b = Object.keys(r);
      await collect(a, "z");
      return [a, b];
    };
    await expectLikeEager(f, [["p"]], jit(f, strict));
  });

  it("`[x].concat(t)` spreads a traced array argument, as eagerly", async () => {
    const f = async (x: string) => [x].concat(await letters(x));
    await expectLikeEager(f, [["pq"], [""]], jit(f, strict));
  });

  it("a handler reading a variable the try body assigned sees its value at the failure: not staged, so eager", async () => {
    const f = async (x: string) => {
      let a = "init";
      try {
        a = await echo(x);
        await failing(a);
      } catch {
        a = `${a}!`;
      }
      return a;
    };
    const jf = await expectLikeEager(f, [["p!"], ["q"], ["p!"]], jit(f, { strict: false }));
    expect((await jf.inspect("p!")).fallback).toMatch(/try\/catch/);
  });
});

describe("an if calling a function of the jitted body's own", () => {
  it("is staged when the function only computes (both branches run while tracing, so one that changes outer state is not)", async () => {
    const f = async (x: string) => {
      const label = (s: string) => `[${s}]`;
      let out = "none";
      if ((await score(x)) > 2) out = await echo(label(x));
      else out = label(await other(x));
      return out;
    };
    const jf = await expectLikeEager(f, [["ab"], ["abcd"]], jit(f, strict));
    expect((await jf.inspect("ab")).text).toContain("cond");
  });
});
