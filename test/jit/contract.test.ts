/**
 * The JIT's contract, one block per class of silent mismatch found by random programs and
 * by hand (issue 11): for every input a jitted function returns what the plain function
 * returns, throws what it throws and makes the same io/cpu calls, or it falls back loudly
 * (a warning naming the reason and line; a TraceError in strict mode). Every case runs the
 * jitted function against the eager one through `expectLikeEager` (results, errors, call
 * multisets), and fallbacks are checked to be loud.
 */
import { describe, expect, it } from "vitest";
import { op, jit, vmap, withContext, getContext, TraceError, OpError, type JitOptions, type Jitted } from "weft";
import { expectLikeEager, fallbackWarnings, flush, gates, logged, note } from "./harness.js";

const risky = op({ kind: "io" }, async (x: string) => {
  note("risky", "io", x);
  if (x.startsWith("bad")) throw new Error(`risky cannot take ${x}`);
  return `ok(${x})`;
});
const echo = op({ kind: "io" }, async (x: string) => (note("echo", "io", x), `echo(${x})`));
const maybe = op({ kind: "io" }, async (x: string): Promise<{ v: string } | null> => (note("maybe", "io", x), x === "none" ? null : { v: x }));
const box = op({ kind: "io" }, async (x: string): Promise<{ v: string; n: number }> => (note("box", "io", x), { v: x, n: 0 }));
const bump = op({ kind: "io" }, async (o: { v: string; n: number }) => {
  note("bump", "io", o);
  o.n++;
  o.v = `${o.v}+`;
  return o.n;
});
const collect = op({ kind: "io" }, async (into: string[], x: string) => (note("collect", "io", into, x), into.push(x)));
const configured = op({ kind: "io" }, async (x: string) => {
  const tone = String(getContext().config.tone ?? "plain");
  note("configured", "io", x, tone);
  return `${tone}:${x}`;
});
const kindOf = op({ kind: "io" }, async (x: string): Promise<unknown> => (note("kindOf", "io", x), x === "list" ? [1, 2] : x === "int" ? 3 : x === "nan" ? Number.NaN : x === "" ? "" : 2.5));
const lengthOf = op({ kind: "cpu" }, (x: string) => (note("lengthOf", "cpu", x), x.length));

// biome-ignore lint: any is needed for function-type variance
type AnyFn = (...args: any[]) => Promise<any>;

/**
 * `f` matches eager on `inputs` and falls back loudly: one warning naming `reason` and a
 * test/jit line, `explain()` saying so, and a TraceError in strict mode. `jf` and `strict`
 * are made where `f` is written, so the build-time check sees `f`.
 */
async function expectLoudFallback<F extends AnyFn>(f: F, jf: Jitted<F>, strict: Jitted<F>, inputs: readonly Parameters<F>[], reason: RegExp): Promise<void> {
  await flush();
  const warnings = fallbackWarnings();
  try {
    await expectLikeEager(f, inputs, jf);
    const messages = await warnings.settle();
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(reason);
    expect(messages[0]).toMatch(/test\/jit\/contract\.test\.ts:\d+:\d+/);
    expect(jf.explain(...inputs[0]!)).toMatch(/^eager: /);
  } finally {
    warnings.stop();
  }
  const error = await strict(...inputs[0]!).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(TraceError);
  expect((error as TraceError).message).toMatch(reason);
}

describe("1. error handling is not frozen to the success path", () => {
  it("try/catch around an op call returns what eager returns on a failing input", async () => {
    const f = async (x: string) => {
      try {
        return await risky(x);
      } catch {
        return "caught";
      }
    };
    await expectLikeEager(f, [["bad"], ["fine"], ["bad again"]], jit(f));
  });

  it(".catch() on an op call", async () => {
    const f = async (x: string) => risky(x).catch(() => "caught");
    await expectLoudFallback(f, jit(f), jit(f, { strict: true }), [["bad"], ["fine"]], /\.catch\(\)/);
  });

  it("Promise.allSettled and Promise.race", async () => {
    const settled = async (x: string) => Promise.allSettled([risky(x), echo(x)]);
    await expectLoudFallback(settled, jit(settled), jit(settled, { strict: true }), [["bad"], ["fine"]], /Promise\.allSettled/);
    const race = async (x: string) => Promise.race([risky(x), echo(x)]);
    await expectLoudFallback(race, jit(race), jit(race, { strict: true }), [["fine"]], /Promise\.race/);
  });

  it("a voided op call is fire-and-forget in eager code: the jit falls back", async () => {
    const f = async (x: string) => {
      void risky(x);
      return echo(x);
    };
    await expectLoudFallback(f, jit(f), jit(f, { strict: true }), [["fine"]], /risky is called without await/);
  });
});

describe("2. optional chaining on a nullable result", () => {
  it("gives undefined where eager gives undefined", async () => {
    const f = async (x: string) => ({ v: (await maybe(x))?.v });
    await expectLikeEager(f, [["none"], ["some"], ["none"]], jit(f));
  });
});

describe("3. nested jits and helpers keep their own decisions", () => {
  const inner = jit(async (x: string) => {
    const r = await maybe(x);
    if (r) return echo(r.v);
    return "empty";
  });

  it("an inner jit that branches, called directly", async () => {
    const outer = async (x: string) => inner(await echo(x));
    await expectLikeEager(outer, [["none"], ["some"]]);
    await expectLikeEager(async (x: string) => inner(x), [["none"], ["some"], ["none"]]);
  });

  it("an inner jit that branches, called through vmap", async () => {
    const outer = async (xs: string[]) => vmap(inner)(xs);
    await expectLikeEager(outer, [[["none", "some"]], [["some", "none"]]]);
  });

  it("a helper function that branches on a traced value", async () => {
    async function pick(r: { v: string } | null) {
      if (r) return echo(r.v);
      return "empty";
    }
    const outer = async (x: string) => pick(await maybe(x));
    await expectLikeEager(outer, [["none"], ["some"], ["none"]], jit(outer));
  });
});

describe("4. effects on values are ordered", () => {
  it("a read after an op mutated the value sees the mutation", async () => {
    const f = async (x: string) => {
      const o = await box(x);
      await bump(o);
      return { v: o.v, n: o.n };
    };
    const jf = await expectLikeEager(f, [["p"], ["q"]], jit(f));
    expect((await jf.inspect("p")).fallback).toBeUndefined();
  });

  it("an op mutating its argument, read afterwards and before", async () => {
    const f = async (o: { v: string; n: number }) => {
      const before = o.n;
      await bump(o);
      return [before, o.n, o.v];
    };
    const jf = jit(f);
    for (const n of [0, 5]) {
      const mine = { v: "a", n };
      const theirs = { v: "a", n };
      expect(await jf(mine)).toEqual(await f(theirs));
      expect(mine).toEqual(theirs);
    }
    expect((await jf.inspect({ v: "a", n: 0 })).fallback).toBeUndefined();
  });

  it("one array literal passed to two mutating ops stays one array", async () => {
    const f = async (x: string) => {
      const into: string[] = [];
      await collect(into, x);
      await collect(into, await echo(x));
      return into;
    };
    const jf = await expectLikeEager(f, [["p"], ["q"]], jit(f));
    expect((await jf.inspect("p")).fallback).toBeUndefined();
  });
});

describe("5. withContext inside a jitted function", () => {
  it("config applies to the ops beneath it", async () => {
    const f = async (x: string) => {
      const plain = await configured(x);
      const formal = await withContext({ config: { tone: "formal" } }, () => configured(x));
      return [plain, formal];
    };
    const jf = await expectLikeEager(f, [["p"], ["q"]]);
    expect((await jf.inspect("p")).fallback).toBeUndefined();
  });

  it("a timeout inside falls back loudly", async () => {
    const f = async (x: string) => withContext({ timeout: "5s" }, () => configured(x));
    await expectLoudFallback(f, jit(f), jit(f, { strict: true }), [["p"], ["q"]], /withContext with a timeout/);
  });

  it("jitted functions have .with(), config reaching every op", async () => {
    const jf = jit(async (x: string) => configured(await echo(x)));
    const formal = jf.with({ config: { tone: "formal" } });
    const { outcome, calls } = await logged(() => formal("p"));
    expect(outcome).toEqual({ ok: true, value: "formal:echo(p)" });
    expect(calls.map((c) => c.op)).toEqual(["echo", "configured"]);
    expect(await jf("p")).toBe("plain:echo(p)");
    expect(() => jf.with({ retries: 2 } as never)).toThrow(/unknown option "retries"/);
  });
});

describe("6. defaults", () => {
  it("destructuring defaults apply to missing properties", async () => {
    const f = async (x: string) => {
      const { v = "dflt", w = "other" } = ((await maybe(x)) ?? {}) as { v?: string; w?: string };
      return [v, w];
    };
    await expectLikeEager(f, [["some"], ["none"]], jit(f));
  });

  it("a default parameter applies to an explicit undefined", async () => {
    const f = async (x: string | undefined = "fallback") => echo(x);
    await expectLikeEager(f, [[undefined], ["given"], [undefined]], jit(f));
  });
});

describe("7. builtins on traced values", () => {
  it("Array.isArray, Number.isInteger, Number.isNaN, Boolean and concat", async () => {
    const f = async (x: string) => {
      const k = await kindOf(x);
      return [Array.isArray(k), Number.isInteger(k), Number.isNaN(k), Boolean(k), ([] as unknown[]).concat(k)];
    };
    await expectLikeEager(f, [["list"], ["int"], ["nan"], [""], ["other"]], jit(f));
  });
});

describe("8. vmap over a constant array inside a jit", () => {
  it("makes no op call while tracing", async () => {
    const f = async (x: string) => [await echo(x), ...(await vmap(echo)(["c1", "c2"]))];
    await expectLikeEager(f, [["p"], ["q"]]);
  });
});

describe("9. promises", () => {
  class Service {
    constructor(readonly prefix: string) {}
    async fetch(x: string): Promise<string> {
      return `${this.prefix}/${x}`;
    }
  }

  it("an async method on a class-instance argument is awaited", async () => {
    const f = async (svc: Service, x: string) => echo(await svc.fetch(x));
    const jf = jit(f);
    for (const x of ["p", "q"]) {
      const jitted = await logged(() => jf(new Service("s"), x));
      const eager = await logged(() => f(new Service("s"), x));
      expect(jitted).toEqual(eager);
    }
  });

  it("an op promise left un-awaited in the result falls back", async () => {
    const f = async (x: string) => ({ now: await echo(x), later: echo(x) });
    const jf = jit(f);
    const jitted = await jf("p");
    expect(await jitted.later).toBe("echo(p)");
    await flush();
    expect(jf.explain("p")).toMatch(/^eager: .*without await/);
    const error = await jit(f, { strict: true })("p").catch((e: unknown) => e);
    expect((error as TraceError).message).toMatch(/without await.*contract\.test\.ts:\d+/);
  });
});

describe("10. failures as eager code meets them", () => {
  it("with two failing ops, the one eager code reaches first is reported", async () => {
    const g = gates();
    const slowFail = op({ kind: "io" }, async (x: string) => {
      await g.enter("slow");
      throw new Error(`slow failed on ${x}`);
    });
    const fastFail = op({ kind: "io" }, async (x: string) => {
      await g.enter("fast");
      throw new Error(`fast failed on ${x}`);
    });
    const f = async (x: string) => {
      await slowFail(x);
      return fastFail(x);
    };
    const run = jit(f)("p").catch((e: unknown) => e);
    await flush();
    g.open("fast");
    await flush();
    g.open("slow");
    const error = (await run) as OpError;
    expect(error).toBeInstanceOf(OpError);
    expect((error.cause as Error).message).toBe("slow failed on p");
  });

  it("an op before the failing one in program order is not cancelled", async () => {
    const g = gates();
    const slowOk = op({ kind: "io" }, async (x: string) => {
      await g.enter("slow", getContext().signal);
      return `slow(${x})`;
    });
    const f = async (x: string) => {
      await slowOk(x);
      return risky(x);
    };
    const run = jit(f)("bad").catch((e: unknown) => e);
    await flush();
    expect(g.started).toContain("slow");
    await flush();
    g.open("slow");
    const error = (await run) as OpError;
    expect((error.cause as Error).message).toBe("risky cannot take bad");
    expect(g.finished).toEqual(["slow"]);
  });
});

describe("11. LLM glue", () => {
  it("a prompt built with a template from an earlier answer matches eager; explain() tells the truth", async () => {
    const f = async (q: string) => {
      const draft = await echo(q);
      return echo(`Critique: ${draft}`);
    };
    const jf = await expectLikeEager(f, [["p"], ["q"]]);
    const fallback = (await jf.inspect("p")).fallback;
    if (fallback !== undefined) expect(jf.explain("p")).toMatch(/^eager: /);
    else expect(jf.explain("p")).toMatch(/^hit/);
  });

  it("lengths and arithmetic on results", async () => {
    const f = async (q: string) => echo(`${(await lengthOf(q)) * 2}`);
    await expectLikeEager(f, [["p"], ["abc"]]);
  });
});

describe("options are still checked", () => {
  it("strict mode with a clean function stays a plan", async () => {
    const options: JitOptions = { strict: true };
    const jf = await expectLikeEager(async (x: string) => echo(await echo(x)), [["p"]], options);
    expect((await jf.inspect("p")).fallback).toBeUndefined();
  });
});
