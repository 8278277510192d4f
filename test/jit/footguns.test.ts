/**
 * What a tracing JIT freezes, one test each (after tinygrad's test_jit_footguns.py).
 *
 * `jit(f)` runs `f` once per input signature on tracer values and records the op calls.
 * Everything else `f` does (its glue code) runs only then: values it computes are frozen
 * into the plan, and later calls with the same signature replay the plan without running
 * the glue. Each test shows one way this differs from eager code and what weft does about
 * it: detects it (falls back to eager with a warning, or a TraceError in strict mode),
 * documents it as a limit, or offers the staged form that keeps it correct.
 *
 * Several functions here come through `opaque()`, as they would from a library that jits a
 * callback: written inline as `jit(async (x) => { if (r) ... })`, branching and equality on
 * traced values are for the transformer's build-time check (transformers/jit-check.ts) to
 * catch; these tests pin down what the runtime tracer alone does.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { op, jit, cond, map, TraceError } from "weft";
import { fallbackWarnings, flush, gates } from "./harness.js";

/** Hands a function over without its source being visible at the `jit(...)` call. */
function opaque<F>(f: F): F {
  return f;
}

const calls: string[] = [];
const shout = op({ kind: "io" }, async (x: string) => (calls.push(`shout(${x})`), `${x.toUpperCase()}!`));
const stamp = op({ kind: "io" }, async (x: string, at: string) => (calls.push(`stamp(${x},${at})`), `${x}@${at}`));
const isEmpty = op({ kind: "pure" }, (x: string) => x.length === 0);
const equals = op({ kind: "pure" }, (x: string, y: string) => x === y);
const lookup = op({ kind: "io" }, async (key: string) => (key === "none" ? "" : `value-of-${key}`));
const words = op({ kind: "pure" }, (x: string) => x.split(" "));
const now = op({ kind: "io" }, async () => String(Date.now()));

afterEach(() => {
  vi.restoreAllMocks();
  calls.length = 0;
});

describe("values read by glue code are frozen at trace time", () => {
  it("a captured variable is read once, while tracing: later changes are not seen", async () => {
    let suffix = "v1";
    const jf = jit(async (x: string) => stamp(x, suffix));
    expect(await jf("p")).toBe("p@v1");
    suffix = "v2";
    // Eager code would read "v2" now; the plan holds the value it saw while tracing.
    expect(await jf("q")).toBe("q@v1");
    // What to do: pass it as an argument (a traced input, read on every call) ...
    const asArgument = jit(async (x: string, at: string) => stamp(x, at));
    expect(await asArgument("q", suffix)).toBe("q@v2");
    // ... or as a static argument, which keys the cache by value: a new value retraces.
    const asStatic = jit(async (x: string, at: string) => stamp(x, at), { static: [1] });
    expect(await asStatic("q", "v2")).toBe("q@v2");
    expect(await asStatic("q", "v3")).toBe("q@v3");
  });

  it("a captured plain object is copied as it was while tracing: a later mutation is not seen", async () => {
    const config = { at: "fr" };
    const jf = jit(async (x: string) => stamp(x, config.at));
    expect(await jf("p")).toBe("p@fr");
    config.at = "de";
    expect(await jf("q")).toBe("q@fr");
    // An op body reads its arguments on every call: give it the object, not a field read in glue.
    const reads = op({ kind: "io" }, async (x: string, c: { at: string }) => `${x}@${c.at}`);
    const live = jit(async (x: string, c: { at: string }) => reads(x, c));
    expect(await live("q", config)).toBe("q@de");
  });

  it("Date.now() in glue code is evaluated once: every call gets the trace-time stamp", async () => {
    const clock = vi.spyOn(Date, "now");
    const f = async (x: string) => stamp(x, String(Date.now()));
    const jf = jit(f);
    clock.mockReturnValue(1000);
    expect(await jf("p")).toBe("p@1000");
    clock.mockReturnValue(2000);
    expect(await jf("q")).toBe("q@1000"); // frozen
    expect(await f("q")).toBe("q@2000"); // what eager code does
    // What to do: read the clock inside an op, which runs on every call.
    const fixed = jit(async (x: string) => stamp(x, await now()));
    expect(await fixed("r")).toBe("r@2000");
    clock.mockReturnValue(3000);
    expect(await fixed("s")).toBe("s@3000");
  });

  it("Math.random() in glue code is drawn once: every call gets the same number", async () => {
    const random = vi.spyOn(Math, "random").mockReturnValueOnce(0.25).mockReturnValueOnce(0.75);
    const jf = jit(async (x: string) => stamp(x, Math.random().toFixed(2)));
    expect(await jf("p")).toBe("p@0.25");
    expect(await jf("q")).toBe("q@0.25"); // not 0.75: glue ran once
    expect(random).toHaveBeenCalledTimes(1);
  });

  it("side effects in glue code run once, while tracing, not on every call", async () => {
    let logged = 0;
    const jf = jit(async (x: string) => {
      logged++; // a console.log here would print once, with a tracer, not a value
      return shout(x);
    });
    for (const x of ["a", "b", "c"]) await jf(x);
    expect(logged).toBe(1);
    expect(calls).toEqual(["shout(a)", "shout(b)", "shout(c)"]); // ops, by contrast, run on every call
  });
});

describe("what build-time staging covers, and what it does not", () => {
  it("written inline, === and ?: on a traced value are staged by the transformer (a plan, both branches right)", async () => {
    const jf = jit(async (k: string) => ((await lookup(k)) === "" ? shout("empty") : shout(k)), { strict: true });
    expect(await jf("none")).toBe("EMPTY!");
    expect(await jf("key")).toBe("KEY!");
  });

  it("a glue read of a literal an op mutated is frozen: read it through an op's result instead", async () => {
    const push = op({ kind: "io" }, async (into: string[], x: string) => into.push(x));
    const f = async (x: string) => {
      const into: string[] = [];
      await push(into, x);
      // Eager code reads 1 here; the tracer read the literal while tracing, when it was empty.
      return { length: into.length, items: into };
    };
    const jf = jit(f);
    expect(await f("p")).toEqual({ length: 1, items: ["p"] });
    expect(await jf("p")).toEqual({ length: 0, items: ["p"] });
    // What to do: use the op's result (push returns the new length), or let an op build the array.
    const fixed = jit(async (x: string) => {
      const into: string[] = [];
      return { length: await push(into, x), items: into };
    });
    expect(await fixed("p")).toEqual({ length: 1, items: ["p"] });
  });
});

describe("what a Proxy cannot see (documented limits), and the staged fix", () => {
  it("truthiness of a traced value is always true while tracing: `if (r)` freezes the then-branch", async () => {
    const f = async (key: string) => {
      const found = await lookup(key);
      return found ? shout(found) : shout("missing");
    };
    const jf = jit(opaque(f));
    expect(await jf("k")).toBe(await f("k"));
    // "" is falsy, but the plan only has the branch the tracer took: a limit, not detected.
    expect(await f("none")).toBe("MISSING!");
    expect(await jf("none")).toBe("!");
    // The fix: compute the condition in an op and stage the branch with cond().
    const staged = jit(
      opaque(async (key: string) => {
        const found = await lookup(key);
        return cond(await isEmpty(found), () => shout("missing"), () => shout(found));
      }),
      { strict: true },
    );
    expect(await staged("k")).toBe(await f("k"));
    expect(await staged("none")).toBe("MISSING!");
  });

  it("=== on a traced value is always false: a Proxy never equals a string", async () => {
    const f = async (key: string) => ((await lookup(key)) === "value-of-k" ? shout("same") : shout("different"));
    const jf = jit(opaque(f));
    expect(await f("k")).toBe("SAME!");
    expect(await jf("k")).toBe("DIFFERENT!"); // frozen: the limit
    const staged = jit(opaque(async (key: string) => cond(await equals(await lookup(key), "value-of-k"), () => shout("same"), () => shout("different"))));
    expect(await staged("k")).toBe("SAME!");
    expect(await staged("j")).toBe("DIFFERENT!");
  });

  it('typeof a traced value is "function": type tests in glue take the wrong branch', async () => {
    const f = async (key: string) => {
      const found = await lookup(key);
      return typeof found === "string" ? shout(found) : shout("not a string");
    };
    expect(await f("k")).toBe("VALUE-OF-K!");
    expect(await jit(opaque(f))("k")).toBe("NOT A STRING!"); // frozen: a tracer is a callable Proxy
  });

  it("a callback passed to a method of a traced value is refused while tracing; map() stages it", async () => {
    const f = async (x: string) => {
      const parts = await words(x);
      const tail = await shout(x);
      return parts.map((w) => w + tail);
    };
    expect(await f("a b")).toEqual(["aA B!", "bA B!"]);
    // `parts.map(cb)` would run cb later, in the plan, where `tail` is a tracer with no
    // trace behind it. A Proxy cannot tell what cb captures, so any callback is refused at
    // trace time, where falling back to eager is still safe (no op has run).
    await expect(jit(f, { strict: true })("a b")).rejects.toThrow(/a callback was passed to map\(\) on a traced value/);
    const warnings = fallbackWarnings();
    try {
      expect(await jit(f)("a b")).toEqual(["aA B!", "bA B!"]);
      expect(await warnings.settle()).toHaveLength(1);
    } finally {
      warnings.stop();
    }
    // map() stages the body in the graph instead.
    const staged = jit(async (x: string) => {
      const tail = await shout(x);
      return map(await words(x), (w) => stamp(w, tail));
    }, { strict: true });
    expect(await staged("a b")).toEqual(["a@A B!", "b@A B!"]);
  });
});

describe("what ordering effects costs", () => {
  it("io ops handed the same object run one after the other (either may change it); handed its string field, they overlap", async () => {
    const g = gates();
    const look = op({ name: "look", kind: "io" }, async (q: { text: string }) => (await g.enter("look"), q.text));
    const lookText = op({ name: "lookText", kind: "io" }, async (text: string) => (await g.enter("lookText"), text));
    const whole = jit(
      async (x: string) => {
        const q = { text: x };
        return [await look(q), await look(q)];
      },
      { strict: true },
    );
    const run = whole("p");
    await flush();
    expect(g.waiting).toEqual(["look"]); // the second waits for the first
    g.open("look");
    await flush();
    expect(g.waiting).toEqual(["look"]);
    g.open("look");
    expect(await run).toEqual(["p", "p"]);

    const fields = jit(
      async (x: string) => {
        const q = { text: x };
        return [await lookText(q.text), await lookText(q.text)];
      },
      { strict: true },
    );
    const both = fields("p");
    await flush();
    expect(g.waiting).toEqual(["lookText", "lookText"]); // a string cannot be changed: both start
    g.open("lookText");
    g.open("lookText");
    expect(await both).toEqual(["p", "p"]);
  });
});

describe("what the tracer detects", () => {
  it("mutating a traced value is detected: eager fallback with a warning, TraceError when strict", async () => {
    const doc = op({ kind: "io" }, async (x: string) => ({ text: x, extra: "" }));
    const f = async (x: string) => {
      const d = await doc(x);
      d.extra = "added";
      return d;
    };
    await expect(jit(f, { strict: true })("p")).rejects.toThrow(/mutating a traced value \(setting extra\)/);
    const warnings = fallbackWarnings();
    try {
      expect(await jit(f)("p")).toEqual({ text: "p", extra: "added" });
      expect(await warnings.settle()).toHaveLength(1);
    } finally {
      warnings.stop();
    }
  });

  it("iterating a traced array the staging cannot rewrite is detected; map() or a collecting for...of stages it", async () => {
    const loop = async (x: string) => {
      const out: string[] = [];
      for (const w of await words(x)) out.push(await shout(w));
      return out;
    };
    // A for...of that collects with push is a staged map; one that iterates by hand is not.
    expect(await jit(loop, { strict: true })("a b")).toEqual(await loop("a b"));
    const byHand = async (x: string) => {
      const ws = await words(x);
      const first = Array.from(ws);
      return first;
    };
    await expect(jit(byHand, { strict: true })("a b")).rejects.toThrow(/iterating a traced value of unknown length/);
    const staged = jit(async (x: string) => map(await words(x), (w) => shout(w)), { strict: true });
    expect(await staged("a b c")).toEqual(await loop("a b c"));
    expect(await staged("d")).toEqual(["D!"]);
  });

  it("a traced value that escapes its trace is detected when a later trace uses it", async () => {
    let leaked: unknown;
    const first = jit(async (x: string) => {
      leaked = await shout(x); // stored outside: holds a tracer, not a value
      return leaked;
    });
    expect(await first("p")).toBe("P!");
    const second = jit(async (y: string) => stamp(leaked as string, y), { strict: true });
    await expect(second("q")).rejects.toThrow(/a traced value escaped its jitted function/);
    // Outside any trace it is no value at all: converting it throws.
    expect(() => String(leaked)).toThrow(TraceError);
  });
});

describe("the plan cache", () => {
  it("retraces when the structure of an argument changes, and explain() says why", async () => {
    let traces = 0;
    const jf = jit(async (q: { text: string; tags: string[] }) => {
      traces++;
      return stamp(q.text, q.tags[0]!);
    });
    expect(jf.explain({ text: "a", tags: ["x"] })).toMatch(/^miss: nothing is cached yet/);
    await jf({ text: "a", tags: ["x"] });
    await jf({ text: "b", tags: ["y"] });
    expect(traces).toBe(1); // same structure: the cached plan, new values
    expect(jf.explain({ text: "c", tags: ["z"] })).toMatch(/^hit/);
    expect(jf.explain({ text: "c", tags: ["z", "w"] })).toContain("argument 0.tags: cached 1 items, got 2");
    await jf({ text: "c", tags: ["z", "w"] });
    expect(traces).toBe(2);
    expect(jf.explain({ text: "c", tags: ["z", "w", "v"] })).toContain("argument 0.tags: cached 2 items, got 3");
  });

  it("static arguments key the cache by value: glue may branch on them", async () => {
    let traces = 0;
    const jf = jit(
      async (x: string, mode: string) => {
        traces++;
        return mode === "loud" ? shout(x) : stamp(x, mode);
      },
      { static: [1] },
    );
    expect(await jf("p", "loud")).toBe("P!");
    expect(await jf("q", "quiet")).toBe("q@quiet");
    expect(await jf("r", "loud")).toBe("R!");
    expect(traces).toBe(2);
    expect(jf.explain("s", "loud")).toMatch(/^hit/);
    expect(jf.explain("s", "whisper")).toContain('argument 1: cached static "loud", got static "whisper"');
  });
});
