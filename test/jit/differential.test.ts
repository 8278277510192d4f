/**
 * The differential catalogue: every program here runs jitted and eagerly on several inputs,
 * and must return the same value (or fail the same way) with the same op calls. What "the
 * same op calls" means, including the latitude CSE has with pure ops, is written at the
 * top of ./harness.ts. The jitted function runs first on every input, so a plan that
 * replayed an earlier input's results (Ember's failure) cannot pass.
 *
 * Programs marked `fallback` cannot be traced: they must still match eager (they run
 * eagerly), warn once per signature, and throw a `TraceError` naming the reason and the
 * line in strict mode. A fallback program calls `mark(label)` on the line of the construct
 * that cannot be traced; the error must name that line. (Marks read the same stack the
 * tracer reads, so the check holds whether or not stacks are source-mapped.)
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { op, jit, cond, map, vmap, Module, Sequential, TraceError, getContext, type JitOptions } from "weft";
import { expectLikeEager, fallbackWarnings, logged, mark, marks, note } from "./harness.js";

// ---- ops: each body logs its call, so counts and arguments are compared, not just results.

const a = op({ kind: "io" }, async (x: string) => (note("a", "io", x), `a(${x})`));
const b = op({ kind: "io" }, async (x: string) => (note("b", "io", x), `b(${x})`));
const c = op({ kind: "io" }, async (x: string, y: string) => (note("c", "io", x, y), `c(${x},${y})`));
const upper = op({ kind: "pure" }, (x: string) => (note("upper", "pure", x), x.toUpperCase()));
const concat = op({ kind: "pure" }, (x: string, y: string) => (note("concat", "pure", x, y), x + y));
const words = op({ kind: "pure" }, (x: string) => (note("words", "pure", x), x.split(" ")));
const isLong = op({ kind: "pure" }, (x: string) => (note("isLong", "pure", x), x.length > 5));
const count = op({ kind: "cpu" }, (xs: string[]) => (note("count", "cpu", xs), xs.length));
const tokenize = op({ kind: "cpu" }, (x: string) => (note("tokenize", "cpu", x), x.toLowerCase().split(/\s+/)));
const repeat = op({ kind: "io" }, async (x: string, n: number) => (note("repeat", "io", x, n), x.repeat(n)));
const tag = op({ kind: "io" }, async (x: string, i: number) => (note("tag", "io", x, i), `${i}:${x}`));
const joinAll = op({ kind: "io" }, async (xs: string[]) => (note("joinAll", "io", xs), xs.join("+")));
const join = op({ kind: "io" }, async (parts: { first: string; second: string }) => (note("join", "io", parts), `${parts.first}&${parts.second}`));
const collect = op({ kind: "io" }, async (into: string[], x: string) => (note("collect", "io", into, x), into.push(x)));

interface Doc {
  text: string;
  tags: string[];
  meta: { len: number; lang: string };
}
const doc = op({ kind: "io" }, async (x: string): Promise<Doc> => {
  note("doc", "io", x);
  return { text: `  ${x} body  `, tags: [x, "news", x.length > 3 ? "long" : "short"], meta: { len: x.length, lang: "en" } };
});
const pair = op({ kind: "io" }, async (x: string): Promise<[string, string]> => (note("pair", "io", x), [`${x}-L`, `${x}-R`]));
const flaky = op({ kind: "io" }, async (x: string) => {
  note("flaky", "io", x);
  if (x.includes("!")) throw new Error(`flaky cannot take ${x}`);
  return `ok(${x})`;
});

class Writer extends Module {
  constructor(readonly style: string) {
    super();
  }
  @op({ kind: "io" })
  async write(topic: string): Promise<string> {
    const tone = String(getContext().config.tone ?? "plain");
    note("Writer.write", "io", this.style, topic, tone);
    return `${this.style}/${tone}:${topic}`;
  }
  @op({ kind: "pure" })
  async polish(text: string): Promise<string> {
    note("Writer.polish", "pure", this.style, text);
    return `*${text}*`;
  }
  @jit()
  async draft(topic: string): Promise<string> {
    return this.polish(await this.write(topic));
  }
}

/** A class instance is kept by reference in a plan: a traced value inside one cannot be rebuilt. */
class Tagged {
  constructor(readonly value: unknown) {}
}

const inner = jit(async (x: string) => b(await a(x)));
const twice = Sequential(a, b);

// ---- the catalogue

interface Program {
  readonly name: string;
  // biome-ignore lint: any is needed for function-type variance
  readonly f: (...args: any[]) => Promise<unknown>;
  readonly inputs: readonly unknown[][];
  /** `plan`: traces into a plan; `fallback`: cannot be traced and runs eagerly. */
  readonly mode: "plan" | "fallback";
  readonly options?: JitOptions;
  /** For fallbacks: words of the reason, and the `mark` label of the line the error must name ("definition": the `jit(...)` line). */
  readonly reason?: string;
  readonly at?: string;
}

const strings = [["alpha"], ["be ta"], ["a much longer gamma input"]];

const programs: Program[] = [
  // chains, diamonds, fan-out and fan-in
  { name: "a chain of io ops", mode: "plan", inputs: strings, f: async (x: string) => c(await b(await a(x)), x) },
  { name: "a long chain mixing io, pure and cpu ops", mode: "plan", inputs: strings, f: async (x: string) => repeat(await upper(await b(await a(x))), await count(await tokenize(x))) },
  { name: "a diamond", mode: "plan", inputs: strings, f: async (x: string) => c(await a(x), await b(x)) },
  {
    name: "fan-out to four ops and fan-in through an array literal",
    mode: "plan",
    inputs: strings,
    f: async (x: string) => joinAll([await a(x), await b(x), await upper(x), await c(x, x)]),
  },
  { name: "fan-out with Promise.all", mode: "plan", inputs: strings, f: async (x: string) => Promise.all([a(x), b(x), c(x, "k")]) },
  {
    name: "two diamonds sharing a middle node",
    mode: "plan",
    inputs: strings,
    f: async (x: string) => {
      const m = await a(x);
      const [l, r] = await Promise.all([b(m), upper(m)]);
      return c(await c(l, r), await b(r));
    },
  },
  // string-valued dependencies
  { name: "string results flowing through a pure concat op", mode: "plan", inputs: strings, f: async (x: string) => c(await concat(await a(x), await b(x)), x) },
  { name: "the Ember failure: c(a + b) with string ops", mode: "fallback", inputs: [["p"], ["q"], ["p"]], f: async (x: string) => (mark("ember"), c((await a(x)) + (await b(x)), x)), reason: "converted to a", at: "ember" },
  // object plumbing
  { name: "returning an object of results", mode: "plan", inputs: strings, f: async (x: string) => ({ first: await a(x), rest: { second: await b(x), input: x }, n: 1 }) },
  { name: "returning nested arrays of results", mode: "plan", inputs: strings, f: async (x: string) => [[await a(x)], [await b(x), x, [null, 2]]] },
  { name: "passing an object of traced values into an op", mode: "plan", inputs: strings, f: async (x: string) => join({ first: await a(x), second: await b(x) }) },
  { name: "passing an array of traced values and arguments into an op", mode: "plan", inputs: strings, f: async (x: string) => joinAll([await a(x), x, "lit", await b(x)]) },
  {
    name: "reading fields of an object argument",
    mode: "plan",
    inputs: [[{ text: "p", n: 2 }], [{ text: "q", n: 3 }]],
    f: async (q: { text: string; n: number }) => repeat(await a(q.text), q.n),
  },
  {
    name: "indexing an array argument (its length is part of the signature)",
    mode: "plan",
    inputs: [[["p", "q"]], [["r", "s"]], [["t", "u", "v"]]],
    f: async (xs: string[]) => c(await a(xs[0]!), await b(xs[1]!)),
  },
  // destructuring, property reads, method calls
  {
    name: "object destructuring of a result, nested",
    mode: "plan",
    inputs: strings,
    f: async (x: string) => {
      const {
        text,
        meta: { lang },
      } = await doc(x);
      return c(text, lang);
    },
  },
  {
    name: "array destructuring of a result",
    mode: "plan",
    inputs: strings,
    f: async (x: string) => {
      const [left, right] = await pair(x);
      return c(right, left);
    },
  },
  { name: "property reads and indexing on results", mode: "plan", inputs: strings, f: async (x: string) => ({ len: (await doc(x)).meta.len, first: (await doc(x)).tags[0], third: (await doc(x)).tags[2] }) },
  {
    name: "method calls on results: r.text.trim() and friends",
    mode: "plan",
    inputs: strings,
    f: async (x: string) => {
      const r = await doc(x);
      return { trimmed: r.text.trim(), shout: r.text.trim().toUpperCase(), tags: r.tags.join("-"), tail: r.tags.slice(1), has: r.tags.includes(x) };
    },
  },
  { name: "a method call with a traced argument", mode: "plan", inputs: strings, f: async (x: string) => (await a(x)).replace(x, await b(x)) },
  // nested jit
  { name: "a jitted function called inside another", mode: "plan", inputs: strings, f: async (x: string) => upper(await inner(x)) },
  { name: "a nested jitted function called twice on different values", mode: "plan", inputs: strings, f: async (x: string) => c(await inner(x), await inner(await upper(x))) },
  // Modules
  {
    name: "@op methods on a Module instance and a .with() handle",
    mode: "plan",
    inputs: strings,
    f: async (x: string) => {
      const w = new Writer("terse");
      return [await w.write(x), await w.with({ config: { tone: "warm" } }).write(x), await w.polish(x)];
    },
  },
  { name: "a @jit method on a Module, per instance", mode: "plan", inputs: strings, f: async (x: string) => [await new Writer("terse").draft(x), await new Writer("ornate").draft(x)] },
  { name: "a Sequential op inside a jitted function", mode: "plan", inputs: strings, f: async (x: string) => c(await twice(x), x) },
  // staged control flow
  { name: "cond on a traced predicate picks a branch per input", mode: "plan", inputs: strings, f: async (x: string) => cond(await isLong(x), () => a(x), () => b(x)) },
  {
    name: "cond whose branches capture earlier results",
    mode: "plan",
    inputs: strings,
    f: async (x: string) => {
      const m = await a(x);
      const r = await cond(await isLong(x), async () => c(m, await b(m)), () => upper(m));
      return c(r, m);
    },
  },
  { name: "map over a traced array", mode: "plan", inputs: strings, f: async (x: string) => map(await words(x), (w) => a(w)) },
  { name: "map with the index and a captured value", mode: "plan", inputs: strings, f: async (x: string) => map(await words(x), async (w, i) => c(await tag(w, i), x)) },
  { name: "vmap inside a jitted function", mode: "plan", inputs: strings, f: async (x: string) => vmap(a)(await words(x)) },
  { name: "vmap with a broadcast argument inside a jitted function", mode: "plan", inputs: strings, f: async (x: string) => vmap(c, { inAxes: [0, null] })(await tokenize(x), x) },
  // effects that must happen even when nothing reads them
  {
    name: "unused io results are still called",
    mode: "plan",
    inputs: strings,
    f: async (x: string) => {
      await a(x);
      await repeat(x, 2);
      return b(x);
    },
  },
  {
    // Fire-and-forget: eager code ignores the call's failure (an unhandled rejection), which a plan cannot do.
    name: "an io call that is never awaited falls back",
    mode: "fallback",
    inputs: strings,
    f: async (x: string) => {
      void (mark("void"), a(x));
      return b(x);
    },
    reason: "called without await",
    at: "void",
  },
  { name: "duplicate io calls are both made", mode: "plan", inputs: strings, f: async (x: string) => [await a(x), await a(x)] },
  { name: "duplicate pure calls may merge; distinct arguments never do", mode: "plan", inputs: strings, f: async (x: string) => [await upper(x), await upper(x), await upper(await a(x))] },
  { name: "an op called with constants only", mode: "plan", inputs: strings, f: async (x: string) => c(await a("fixed"), x) },
  { name: "an io op's failure surfaces for the inputs that fail", mode: "plan", inputs: [["fine"], ["bad!"], ["fine too"]], f: async (x: string) => c(await flaky(x), x) },
  // On a failing input the jitted run also starts `a`, which eager code never reaches: it runs in parallel with `flaky`.
  { name: "a failing op's independent sibling may have started", mode: "plan", inputs: [["fine"], ["bad!"]], f: async (x: string) => c(await flaky(x), await a(x)) },
  { name: "static arguments choose the glue path", mode: "plan", inputs: [["p", "short"], ["q", "long"], ["r", "short"]], options: { static: [1] }, f: async (x: string, mode: string) => (mode === "short" ? a(x) : c(await a(x), await b(x))) },
  // literals are fresh on every call, as in eager code
  { name: "an op mutating a literal argument sees a fresh literal every call", mode: "plan", inputs: [["p"], ["q"], ["r"]], f: async (x: string) => collect([], x) },
  { name: "a class instance holding a traced value falls back", mode: "fallback", inputs: strings, f: async (x: string) => new Tagged(await a(x)), reason: "inside a Tagged instance", at: "definition" },
  // programs that must fall back
  { name: "arithmetic on a result", mode: "fallback", inputs: strings, f: async (x: string) => (mark("plus"), (await count(await tokenize(x))) + 1), reason: "converted to a", at: "plus" },
  { name: "comparison of a result", mode: "fallback", inputs: strings, f: async (x: string) => (mark("gt"), (await count(await tokenize(x))) > 2 ? a(x) : b(x)), reason: "converted to a number", at: "gt" },
  { name: "a template string of a result", mode: "fallback", inputs: strings, f: async (x: string) => (mark("template"), c(`${await a(x)}!`, x)), reason: "converted to a string", at: "template" },
  { name: "JSON.stringify of a result", mode: "fallback", inputs: strings, f: async (x: string) => (mark("json"), a(JSON.stringify(await doc(x)))), reason: "JSON.stringify", at: "json" },
  { name: "Object.keys of a result", mode: "fallback", inputs: strings, f: async (x: string) => (mark("keys"), Object.keys(await doc(x))), reason: "listing the keys", at: "keys" },
  { name: "spreading a result into an object", mode: "fallback", inputs: strings, f: async (x: string) => (mark("spread"), { ...(await doc(x)), extra: x }), reason: "listing the keys", at: "spread" },
  { name: "`in` on a result", mode: "fallback", inputs: strings, f: async (x: string) => (mark("in"), "text" in (await doc(x)) ? a(x) : b(x)), reason: "in ...", at: "in" },
  { name: "instanceof on a result", mode: "fallback", inputs: strings, f: async (x: string) => (mark("instanceof"), (await pair(x)) instanceof Array ? a(x) : b(x)), reason: "instanceof", at: "instanceof" },
  {
    name: "for...of over a result of unknown length",
    mode: "fallback",
    inputs: strings,
    f: async (x: string) => {
      const out: string[] = [];
      for (const w of (mark("for"), await words(x))) out.push(await a(w));
      return out;
    },
    reason: "iterating a traced value",
    at: "for",
  },
  {
    name: "awaiting a timer",
    mode: "fallback",
    inputs: strings,
    f: async (x: string) => {
      await new Promise((r) => setTimeout(r, 5));
      return a(x);
    },
    reason: "awaited a promise that is not an op call",
    at: "definition",
  },
];

describe("jit equals eager, with the same op calls", () => {
  it("has a catalogue of at least 30 traceable programs and 10 that must fall back", () => {
    expect(programs.filter((p) => p.mode === "plan").length).toBeGreaterThanOrEqual(30);
    expect(programs.filter((p) => p.mode === "fallback").length).toBeGreaterThanOrEqual(10);
  });

  for (const p of programs) {
    it(`${p.name} (${p.mode})`, async () => {
      const warnings = fallbackWarnings();
      try {
        const jf = await expectLikeEager(p.f, p.inputs, p.options);
        const view = await jf.inspect(...p.inputs[0]!);
        if (p.mode === "plan") expect(view.fallback, "traces into a plan").toBeUndefined();
        else expect(view.fallback).toContain(p.reason);
      } finally {
        warnings.stop();
      }
    });
  }
});

const source = readFileSync(new URL(import.meta.url), "utf8").split("\n");

describe("programs that cannot be traced", () => {
  const fallbacks = programs.filter((p) => p.mode === "fallback");

  for (const p of fallbacks) {
    it(`${p.name}: warns once per signature, naming the reason and the line`, async () => {
      const warnings = fallbackWarnings();
      try {
        const jf = jit(p.f);
        for (const args of [...p.inputs, ...p.inputs]) await jf(...args);
        const messages = await warnings.settle();
        expect(messages).toHaveLength(1);
        expect(messages[0]).toContain(p.reason);
        expect(messages[0]).toMatch(/\(test\/jit\/differential\.test\.ts:\d+:\d+\)/);
      } finally {
        warnings.stop();
      }
    });

    it(`${p.name}: throws a TraceError in strict mode, naming the reason and the line`, async () => {
      const { outcome, calls } = await logged(() => jit(p.f, { strict: true })(...p.inputs[0]!));
      expect(outcome.ok).toBe(false);
      const error = (outcome as { error: unknown }).error;
      expect(error).toBeInstanceOf(TraceError);
      const { message, loc } = error as TraceError;
      expect(message).toContain(p.reason);
      expect(message).toMatch(/\(test\/jit\/differential\.test\.ts:\d+:\d+\)$/);
      if (p.at === "definition") expect(source[loc!.line - 1]).toContain("jit(p.f, { strict: true })");
      else if (p.at !== undefined) expect(loc!.line).toBe(marks.get(p.at));
      // Tracing is abstract: a signature that fails to trace has called no op.
      expect(calls).toEqual([]);
    });
  }

  it("warns again for a second signature that fails for another reason", async () => {
    const warnings = fallbackWarnings();
    try {
      const f = async (x: string, how: "keys" | "json") => (how === "keys" ? Reflect.ownKeys(await doc(x)) : JSON.stringify(await doc(x)));
      const jf = jit(f, { static: [1] });
      for (const x of ["p", "q"]) {
        expect(await jf(x, "keys")).toEqual(await f(x, "keys"));
        expect(await jf(x, "json")).toBe(await f(x, "json"));
      }
      const messages = await warnings.settle();
      expect(messages).toHaveLength(2);
      expect(messages.join("\n")).toMatch(/listing the keys[^]*JSON\.stringify/);
    } finally {
      warnings.stop();
    }
  });
});

describe("fallback warnings are per reason and line", () => {
  // A decision, not an accident: the warning names a reason and a line, not a signature, so
  // a second signature failing the same way (arrays of another length, say) adds nothing new.
  it("does not warn again for another signature that fails for the same reason on the same line", async () => {
    const warnings = fallbackWarnings();
    try {
      const f = async (xs: string[]) => (mark("same reason"), JSON.stringify(await a(xs[0]!)));
      const jf = jit(f);
      expect(await jf(["p"])).toBe(await f(["p"]));
      expect(await jf(["p", "q"])).toBe(await f(["p", "q"]));
      expect(jf.explain(["r", "s"])).toMatch(/^eager: .*runs eagerly \(no plan\)/); // two signatures, both cached as eager
      const messages = await warnings.settle();
      expect(messages).toHaveLength(1);
      expect(messages[0]).toContain(`differential.test.ts:${marks.get("same reason")}:`);
    } finally {
      warnings.stop();
    }
  });
});

describe("results are fresh, never shared between calls", () => {
  it("returns a new literal object on every call, as eager code does", async () => {
    const f = async (x: string) => {
      await a(x);
      return { seen: [] as string[], nested: { list: [1] } };
    };
    const jf = jit(f);
    const first = await jf("p");
    first.seen.push("mutated by the caller");
    first.nested.list.push(2);
    const second = await jf("q");
    expect(second).toEqual({ seen: [], nested: { list: [1] } });
    expect(second).not.toBe(first);
  });

  it("returns what each input computes, for many inputs through one cached plan", async () => {
    const f = async (x: string) => c(await concat(await a(x), await b(x)), await upper(x));
    const jf = jit(f);
    const inputs = Array.from({ length: 20 }, (_, i) => `input-${i}`);
    const got = await Promise.all(inputs.map((x) => jf(x)));
    expect(got).toEqual(await Promise.all(inputs.map((x) => f(x))));
    expect(jf.explain("another")).toMatch(/^hit/);
  });
});

describe("@jit methods", () => {
  it("a @jit method on a Module returns what its body returns eagerly, per instance, with the same calls", async () => {
    for (const style of ["terse", "ornate"]) {
      const w = new Writer(style);
      for (const topic of ["tides", "moths", "tides"]) {
        const jitted = await logged(() => w.draft(topic));
        const eager = await logged(async () => w.polish(await w.write(topic)));
        expect(jitted.outcome).toEqual(eager.outcome);
        expect(jitted.calls).toEqual(eager.calls);
      }
    }
  });
});
