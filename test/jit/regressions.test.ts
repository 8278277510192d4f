/**
 * Bugs found in the JIT, one test each, written to fail before its fix. Each names what
 * eager code does that the jitted function did not.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { op, jit, cond, map, vmap, TraceError } from "weft";
import { weftDirs } from "../../decorators/stack.js";
import { gates, flush } from "./harness.js";

const collect = op({ kind: "io" }, async (into: string[], x: string) => into.push(x));
const echo = op({ kind: "io" }, async (x: string) => `echo(${x})`);
const letters = op({ kind: "pure" }, (x: string) => x.split(""));

class Tagged {
  constructor(readonly value: unknown) {}
}

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

describe("traced values hidden in class instances", () => {
  it("falls back rather than return an instance that holds a traced value", async () => {
    const f = async (x: string) => new Tagged(await echo(x));
    const jf = jit(f);
    expect(await jf("p")).toEqual(new Tagged("echo(p)"));
    expect(await jf("q")).toEqual(new Tagged("echo(q)"));
    expect((await jf.inspect("r")).fallback).toMatch(/inside a Tagged instance/);
  });

  it("falls back rather than pass an op a Map that holds a traced value", async () => {
    const size = op({ kind: "io" }, async (m: unknown) => (m as Map<string, string>).get("k")!.length);
    const f = async (x: string) => size(new Map([["k", await echo(x)]]));
    const jf = jit(f, { strict: true });
    await expect(jf("p")).rejects.toThrow(TraceError);
    await expect(jit(f)("pq")).resolves.toBe(await f("pq"));
  });
});

const source = readFileSync(new URL(import.meta.url), "utf8").split("\n");

describe("every TraceError names a source line", () => {
  it("names the jitted function's definition when it awaits a foreign promise", async () => {
    const jf = jit(async (x: string) => {
      await new Promise((r) => setTimeout(r, 5));
      return echo(x);
    }, { strict: true });
    const error = await jf("p").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TraceError);
    expect((error as TraceError).loc?.file).toBe("test/jit/regressions.test.ts");
    expect((error as TraceError).message).toMatch(/\(test\/jit\/regressions\.test\.ts:\d+:\d+\)$/);
  });

  it("names the jitted function's definition when its result cannot be rebuilt", async () => {
    const jf = jit(async (x: string) => new Tagged(await echo(x)), { strict: true });
    const error = await jf("p").catch((e: unknown) => e);
    const loc = (error as TraceError).loc!;
    expect(loc.file).toBe("test/jit/regressions.test.ts");
    // The jit(...) line, not the line that awaited the call.
    expect(source[loc.line - 1]).toContain("jit(async (x: string) => new Tagged(");
  });
});

describe("map and vmap concurrency inside a plan", () => {
  it("runs at most `concurrency` items of a staged vmap at once, as eager vmap does", async () => {
    const g = gates();
    const slow = op({ kind: "io" }, async (x: string) => (await g.enter("slow"), x));
    const f = async (x: string) => vmap(slow, { concurrency: 2 })(await letters(x));
    const run = jit(f, { strict: true })("abcdef");
    await flush();
    expect(g.running).toBe(2);
    for (let i = 0; i < 6; i++) {
      g.open("slow");
      await flush();
      expect(g.running).toBe(Math.min(2, 5 - i));
    }
    expect(await run).toEqual(["a", "b", "c", "d", "e", "f"]);
    expect(g.peak).toBe(2);
  });

  it("applies vmap's default concurrency (16) to a staged vmap", async () => {
    const g = gates();
    const slow = op({ kind: "io" }, async (x: string) => (await g.enter("slow"), x));
    const run = jit(async (x: string) => vmap(slow)(await letters(x)), { strict: true })("abcdefghijklmnopqrst");
    await flush();
    expect(g.running).toBe(16);
    for (let i = 0; i < 20; i++) g.open("slow"), await flush();
    expect((await run).join("")).toBe("abcdefghijklmnopqrst");
  });

  it("honours map's concurrency option, staged and eager", async () => {
    const g = gates();
    const slow = op({ kind: "io" }, async (x: string) => (await g.enter("slow"), x));
    const f = async (x: string) => map(await letters(x), (c) => slow(c), { concurrency: 3 });
    for (const start of [() => jit(f, { strict: true })("abcdefg"), () => f("abcdefg")]) {
      const run = start();
      await flush();
      expect(g.running).toBe(3);
      for (let i = 0; i < 7; i++) g.open("slow"), await flush();
      expect((await run).join("")).toBe("abcdefg");
    }
    expect(g.peak).toBe(3);
  });
});

describe("cond branches that capture different values", () => {
  const lookup = op({ kind: "io" }, async (key: string) => (key === "none" ? "" : `value-of-${key}`));
  const isEmpty = op({ kind: "pure" }, (x: string) => x.length === 0);

  it("compiles when only the else branch captures an outer value", async () => {
    const f = async (key: string) => {
      const found = await lookup(key);
      return cond(await isEmpty(found), () => echo("missing"), () => echo(found));
    };
    const jf = jit(f);
    for (const key of ["k", "none"]) expect(await jf(key)).toBe(await f(key));
  });

  it("compiles when only the then branch captures an outer value", async () => {
    const f = async (key: string) => {
      const found = await lookup(key);
      return cond(await isEmpty(found), () => echo(key), () => echo("present"));
    };
    const jf = jit(f);
    for (const key of ["k", "none"]) expect(await jf(key)).toBe(await f(key));
  });
});

describe("a step waiting for a place under the concurrency limit", () => {
  for (const onError of ["fail-fast", "settle"] as const) {
    it(`does not start after a sibling failed (${onError})`, async () => {
      const g = gates();
      const first = op({ kind: "io" }, async (x: string) => (await g.enter("first"), x));
      const queued = op({ kind: "io" }, async (x: string) => (await g.enter("queued"), x));
      const jf = jit(async (x: string) => [await first(x), await queued(x)], { concurrency: 1, onError, strict: true });
      const run = jf("q").catch((e: unknown) => e);
      await flush();
      g.fail("first", new Error("down"));
      await flush();
      expect(g.started).toEqual(["first"]);
      expect(await run).toBeInstanceOf(Error);
    });
  }
});

describe("settle with a staged map", () => {
  it("lets the other items in flight finish before the run rejects", async () => {
    const g = gates();
    const item = op({ kind: "io" }, async (x: string) => (await g.enter(x), x));
    let rejected = false;
    const jf = jit(async (x: string) => map(await letters(x), (c) => item(c)), { onError: "settle", strict: true });
    const run = jf("abc").catch((e: unknown) => ((rejected = true), e));
    await flush();
    g.fail("a", new Error("down"));
    await flush();
    expect(rejected).toBe(false); // b and c are still in flight
    g.open("b");
    g.open("c");
    await flush();
    expect(rejected).toBe(true);
    expect(g.finished).toEqual(["b", "c"]);
  });
});

describe("source locations when run from the build with source maps", () => {
  it("treats the source folders that dist frames map back to as weft's own", () => {
    const dirs = weftDirs("file:///app/node_modules/weft/dist/compiler/trace.js");
    for (const d of ["compiler", "runtime", "decorators"]) {
      expect(dirs).toContain(`/app/node_modules/weft/dist/${d}/`);
      // `node --enable-source-maps` reports dist/compiler/trace.js as compiler/trace.ts.
      expect(dirs).toContain(`/app/node_modules/weft/${d}/`);
    }
  });

  it("adds no folder outside the package when run from source", () => {
    const dirs = weftDirs("file:///repo/compiler/trace.ts");
    expect(dirs).toEqual(["/repo/compiler/", "/repo/runtime/", "/repo/decorators/"]);
  });
});

describe("per-instance plans of a jitted method", () => {
  it("never share an in-flight compile between two instances with the same signature", async () => {
    const { Module } = await import("weft");
    class Greeter extends Module {
      constructor(readonly who: string) {
        super();
      }
      @op({ kind: "io" })
      async greet(x: string): Promise<string> {
        return `${this.who}: ${x}`;
      }
      @jit
      async run(x: string): Promise<string> {
        return this.greet(x);
      }
    }
    const a = new Greeter("a");
    const b = new Greeter("b");
    // Both first calls compile at once; each plan must call its own instance.
    expect(await Promise.all([a.run("hi"), b.run("hi")])).toEqual(["a: hi", "b: hi"]);
    expect(await Promise.all([a.run("yo"), b.run("yo")])).toEqual(["a: yo", "b: yo"]);
  });

  it("retries a compile that failed in strict mode on the next call", async () => {
    let calls = 0;
    const risky = op({ name: "risky", kind: "io" }, async (x: string) => x);
    const f = jit(
      async (x: string) => {
        calls++;
        const r = await risky(x);
        if (calls === 1) return JSON.stringify(r); // JSON of a traced value: untraceable
        return r;
      },
      { strict: true },
    );
    await expect(f("p")).rejects.toBeInstanceOf(TraceError);
    // The failure was not cached: the next call traces again (and this time the glue is traceable).
    expect(await f("p")).toBe("p");
    expect(calls).toBe(2);
  });
});

describe("source positions of op calls in staged code", () => {
  it("come from the transformer's marks: the TypeScript line and column of each call, with no stack read", async () => {
    const jf = jit(async (seed: string) => {
      const marked = await echo(seed);
      return letters(`${marked}:${await echo(marked)}`);
    });
    const capture = Error.captureStackTrace;
    let reads = 0;
    Error.captureStackTrace = (...args: Parameters<typeof capture>) => {
      reads++;
      return capture(...args);
    };
    let graph;
    try {
      graph = (await jf.inspect("p")).graph!;
    } finally {
      Error.captureStackTrace = capture;
    }
    const source = readFileSync(import.meta.filename, "utf8").split("\n");
    const where = (text: string) => {
      const line = source.findIndex((l) => l.includes(text));
      return { line: line + 1, column: source[line]!.indexOf(text) + 1 };
    };
    const ops = graph.nodes.filter((n) => n.kind === "op").map((n) => ({ op: (n as { desc: { name: string } }).desc.name, line: n.loc?.line, column: n.loc?.column }));
    expect(ops).toEqual([
      { op: "echo", ...where("echo(seed)") },
      { op: "echo", ...where("echo(marked)") },
      { op: "letters", ...where("letters(`${marked}") },
    ]);
    // The template literal's node reads the stack once (staged operators are not marked yet).
    expect(reads).toBeLessThanOrEqual(1);
  });
});
