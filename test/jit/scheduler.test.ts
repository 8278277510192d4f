/**
 * The plan executor, observed structurally: ops are gates the test opens by hand, so
 * parallelism, start order, limits and cancellation are asserted as facts (which ops are
 * running, which started, which saw their signal abort), never inferred from timings.
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { recordSpans } from "../support/spans.js";
import { op, jit, getContext, withContext, Cancelled, DeadlineExceeded, OpError } from "weft";
import { flush, gates, mark, marks } from "./harness.js";
import { useFakeClock } from "../support/clock.js";

let g = gates();
beforeEach(() => {
  g = gates();
});

/** A gated io op: its body waits for `g.open(name)`, or rejects when its signal aborts. */
function gated(name: string, options: { concurrency?: number } = {}) {
  return op({ name, kind: "io", ...options }, async (x: string) => {
    await g.enter(name, getContext().signal);
    return `${name}(${x})`;
  });
}

const A = gated("A");
const B = gated("B");
const C = gated("C");
const D = gated("D");
const join = op({ kind: "io" }, async (...parts: string[]) => parts.join("+"));

describe("start-when-ready scheduling", () => {
  it("starts every independent op before any finishes: the peak equals the graph's width", async () => {
    const f = async (x: string) => join(await A(x), await B(x), await C(x), await D(x));
    const run = jit(f, { strict: true })("q");
    await flush();
    expect(g.started).toEqual(["A", "B", "C", "D"]);
    expect(g.running).toBe(4);
    expect(g.finished).toEqual([]);
    for (const name of ["C", "A", "D", "B"]) g.open(name);
    expect(await run).toBe("A(q)+B(q)+C(q)+D(q)");
    expect(g.peak).toBe(4);

    // The same function run eagerly awaits one op at a time.
    g = gates();
    const eager = f("q");
    for (const name of ["A", "B", "C", "D"]) {
      await flush();
      expect(g.running).toBe(1);
      g.open(name);
    }
    expect(await eager).toBe("A(q)+B(q)+C(q)+D(q)");
    expect(g.peak).toBe(1);
  });

  it("starts a node as soon as its own inputs are ready, not when its level is (no waves)", async () => {
    // Short branch A -> B; long branch C -> D -> A. A wave scheduler would hold B until C finished.
    const f = async (x: string) => {
      const short = await B(await A(x));
      const long = await A(await D(await C(x)));
      return join(short, long);
    };
    const run = jit(f, { strict: true })("q");
    await flush();
    expect(g.waiting).toEqual(["A", "C"]);
    g.open("A"); // the short branch's first op; C (same level) still running
    await flush();
    expect(g.waiting).toEqual(["B", "C"]);
    g.open("B"); // the short branch is done; the join waits only for the long one
    await flush();
    expect(g.waiting).toEqual(["C"]);
    g.open("C");
    await flush();
    expect(g.waiting).toEqual(["D"]);
    g.open("D");
    await flush();
    g.open("A");
    expect(await run).toBe("B(A(q))+A(D(C(q)))");
    expect(g.started).toEqual(["A", "C", "B", "D", "A"]);
  });

  it("the concurrency option caps ops in flight, starting the next as one finishes", async () => {
    const f = async (x: string) => join(await A(x), await B(x), await C(x), await D(x), await A("second"));
    const run = jit(f, { concurrency: 2, strict: true })("q");
    await flush();
    expect(g.running).toBe(2);
    expect(g.started).toEqual(["A", "B"]);
    for (const [opened, next] of [["B", "C"], ["A", "D"], ["C", "A"]] as const) {
      g.open(opened);
      await flush();
      expect(g.running).toBe(2);
      expect(g.started.at(-1)).toBe(next);
    }
    g.open("D");
    g.open("A");
    expect(await run).toBe("A(q)+B(q)+C(q)+D(q)+A(second)");
    expect(g.peak).toBe(2);
  });

  it("an op's own concurrency policy holds inside a plan while other ops run freely", async () => {
    const one = gated("one", { concurrency: 1 });
    const f = async (x: string) => join(await one(x), await one(x), await one(x), await A(x), await B(x));
    const run = jit(f, { strict: true })("q");
    await flush();
    expect(g.waiting).toEqual(["A", "B", "one"]);
    for (let i = 0; i < 2; i++) {
      g.open("one");
      await flush();
      expect(g.waiting.filter((n) => n === "one")).toHaveLength(1);
    }
    g.open("one");
    g.open("A");
    g.open("B");
    expect(await run).toBe("one(q)+one(q)+one(q)+A(q)+B(q)");
  });
});

describe("primitive values inside fresh arrays order nothing (the io DAG benchmark's shape)", () => {
  /** A gated io op taking a fresh array of earlier answers, as benchmarks/jit.bench.ts's DAG does. */
  const visit = op({ name: "visit", kind: "io" }, async (name: string, inputs: string[]): Promise<string> => {
    await g.enter(name, getContext().signal);
    return `${name}<${inputs.join(",")}>`;
  });
  const reply = op({ name: "reply", kind: "io" }, async (x: string): Promise<{ text: string; tags: string[] }> => {
    await g.enter("reply", getContext().signal);
    return { text: `r(${x})`, tags: [x] };
  });

  it("ops handed the same input string, or the same string answer, in new arrays start together", async () => {
    const f = async (x: string) => {
      const a = await visit("a", [x]);
      const b = await visit("b", [x]);
      const c = await visit("c", [a]);
      const d = await visit("d", [a, b]);
      const e = await visit("e", [a]);
      return [c, d, e];
    };
    const run = jit(f, { strict: true })("q");
    await flush();
    // A string cannot be changed by the op it was handed to: a and b overlap.
    expect(g.waiting).toEqual(["a", "b"]);
    g.open("a");
    await flush();
    // c and e need only a; neither waits for the other, nor for b.
    expect(g.waiting).toEqual(["b", "c", "e"]);
    g.open("b");
    await flush();
    expect(g.waiting).toEqual(["c", "d", "e"]);
    expect(g.finished).toEqual(["a", "b"]);
    for (const name of ["e", "d", "c"]) g.open(name);
    const jitted = await run;
    g = gates();
    const eager = f("q");
    for (const name of ["a", "b", "c", "d", "e"]) {
      await flush();
      g.open(name);
    }
    expect(jitted).toEqual(await eager);
  });

  it("string fields of a typed object answer overlap too; the object itself stays ordered", async () => {
    const f = async (x: string) => {
      const r = await reply(x);
      const a = await visit("a", [r.text]);
      const b = await visit("b", [r.text]);
      // The answer's array field may be changed by the op it is handed to: the next one waits.
      const c = await visit("c", r.tags);
      const d = await visit("d", r.tags);
      return [a, b, c, d];
    };
    const run = jit(f, { strict: true })("q");
    await flush();
    g.open("reply");
    await flush();
    expect(g.waiting).toEqual(["a", "b", "c"]);
    g.open("c");
    await flush();
    expect(g.waiting).toEqual(["a", "b", "d"]);
    for (const name of ["d", "b", "a"]) g.open(name);
    const jitted = await run;
    g = gates();
    const eager = f("q");
    for (const name of ["reply", "a", "b", "c", "d"]) {
      await flush();
      g.open(name);
    }
    expect(jitted).toEqual(await eager);
  });
});

describe("failures", () => {
  const broken = new Error("upstream is down");

  it("fail-fast: the first failure cancels in-flight siblings through their signal and starts nothing new", async () => {
    const aborted: string[] = [];
    const watch = op({ kind: "io" }, async (x: string) => {
      const { signal } = getContext();
      signal.addEventListener("abort", () => aborted.push(`watch(${x}):${(signal.reason as Error).constructor.name}`));
      await g.enter("watch", signal);
      return x;
    });
    const f = async (x: string) => {
      const [a, w] = await Promise.all([A(x), watch(x)]);
      const queued = await C(x); // waits for a place under concurrency 2
      return join(await D(a), w, queued);
    };
    const run = jit(f, { concurrency: 2, strict: true })("q");
    const settled = run.catch((e: unknown) => e);
    await flush();
    expect(g.waiting).toEqual(["A", "watch"]);
    g.fail("A", broken);
    const error = await settled;
    await flush();
    expect(error).toBeInstanceOf(OpError);
    expect((error as OpError).cause).toBe(broken);
    expect(aborted).toEqual(["watch(q):Cancelled"]);
    expect(g.started).toEqual(["A", "watch"]); // C never got its place, D never became ready
    expect(g.running).toBe(0);
  });

  it("settle: in-flight ops finish before the run rejects with the first failure; nothing new starts", async () => {
    const f = async (x: string) => {
      const [a, b] = await Promise.all([A(x), B(x)]);
      const queued = await C(x);
      return join(await D(a), await D(b), queued);
    };
    let rejected = false;
    const run = jit(f, { concurrency: 2, onError: "settle", strict: true })("q").catch((e: unknown) => ((rejected = true), e));
    await flush();
    expect(g.waiting).toEqual(["A", "B"]);
    g.fail("A", broken);
    await flush();
    expect(rejected).toBe(false); // B is still in flight
    expect(g.waiting).toEqual(["B"]);
    g.open("B");
    await flush();
    expect(g.started).toEqual(["A", "B"]); // neither C (queued) nor D (ready only after B) started
    expect(rejected).toBe(true);
    expect(((await run) as OpError).cause).toBe(broken);
    expect(g.finished).toEqual(["B"]);
  });

  it("errors name the op, the IR node and the line of the call in the jitted function", async () => {
    const flaky = op({ kind: "io" }, async (x: string): Promise<string> => {
      throw new Error(`cannot take ${x}`);
    });
    const f = async (x: string) => {
      const first = await A(x);
      return (mark("flaky call"), flaky(first));
    };
    const jf = jit(f, { strict: true });
    const run = jf("q").catch((e: unknown) => e);
    await flush();
    g.open("A");
    const error = (await run) as OpError;
    expect(error).toBeInstanceOf(OpError);
    expect(error.op).toBe("flaky");
    const node = (await jf.inspect("q")).graph!.nodes.find((n) => n.kind === "op" && n.desc.name === "flaky")!;
    expect(error.node).toBe(String(node.id));
    expect(error.source).toMatchObject({ file: "test/jit/scheduler.test.ts", line: marks.get("flaky call") });
    expect(error.message).toContain(`[node ${node.id}]`);
    expect(error.message).toContain("cannot take A(q)");
  });
});

describe("context inside a plan", () => {
  it("a withContext deadline reaches every op of the plan", async () => {
    const seen = op({ kind: "io" }, async (x: string) => {
      const { deadline, signal } = getContext();
      return { x, deadline, aborted: signal.aborted };
    });
    const jf = jit(async (x: string) => [await seen(x), await seen("other")], { strict: true });
    await withContext({ timeout: 60_000 }, async () => {
      const block = getContext().deadline!;
      expect(await jf("q")).toEqual([
        { x: "q", deadline: block, aborted: false },
        { x: "other", deadline: block, aborted: false },
      ]);
    });
  });

  describe("on a fake clock", () => {
    const clock = useFakeClock();

    it("a withContext deadline that passes cancels the ops in flight with DeadlineExceeded", async () => {
      const jf = jit(async (x: string) => join(await A(x), await B(x)), { strict: true });
      const run = withContext({ timeout: 20 }, () => jf("q")).catch((e: unknown) => e);
      await flush();
      expect(g.started).toEqual(["A", "B"]); // both in flight when the deadline passes
      await clock.advance(20);
      expect(await run).toBeInstanceOf(DeadlineExceeded);
      await flush();
      expect(g.running).toBe(0); // both bodies saw the signal and stopped
      expect(g.started).toEqual(["A", "B"]);
    });
  });

  it("a withContext signal cancels a run: in-flight ops see it, and the run rejects with Cancelled", async () => {
    const controller = new AbortController();
    const jf = jit(async (x: string) => join(await A(x), await B(await C(x))), { strict: true });
    const run = withContext({ signal: controller.signal }, () => jf("q")).catch((e: unknown) => e);
    await flush();
    g.open("C");
    await flush();
    expect(g.waiting).toEqual(["A", "B"]);
    controller.abort("user pressed stop");
    expect(await run).toBeInstanceOf(Cancelled);
    await flush();
    expect(g.running).toBe(0);
  });

  it("a chain (no two ops ever in flight at once) runs its ops under the caller's signal, as eager code does; an abort still cancels the op in flight", async () => {
    const seen: AbortSignal[] = [];
    const step = (name: string) =>
      op({ name, kind: "io" }, async (x: string) => {
        seen.push(getContext().signal);
        await g.enter(name, getContext().signal);
        return `${name}(${x})`;
      });
    const [P, Q, R] = [step("P"), step("Q"), step("R")];
    const f = async (x: string) => R(await Q(await P(x)));
    const jf = jit(f, { strict: true });
    const controller = new AbortController();
    let caller: AbortSignal | undefined;
    const run = withContext({ signal: controller.signal }, () => {
      caller = getContext().signal;
      return jf("q");
    }).catch((e: unknown) => e);
    await flush();
    expect(g.waiting).toEqual(["P"]);
    g.open("P");
    await flush();
    expect(g.waiting).toEqual(["Q"]);
    controller.abort("user pressed stop");
    expect(await run).toBeInstanceOf(Cancelled);
    await flush();
    expect(g.started).toEqual(["P", "Q"]); // R never started
    expect(g.running).toBe(0);
    expect(seen).toEqual([caller, caller]);

    // Eagerly: the same calls, under the same signal.
    g = gates();
    seen.length = 0;
    const again = new AbortController();
    const eager = withContext({ signal: again.signal }, () => {
      caller = getContext().signal;
      return f("q");
    }).catch((e: unknown) => e);
    await flush();
    g.open("P");
    await flush();
    again.abort("user pressed stop");
    expect(await eager).toBeInstanceOf(Cancelled);
    expect(g.started).toEqual(["P", "Q"]);
    expect(seen).toEqual([caller, caller]);
  });
});

describe("spans", () => {
  const exporter = recordSpans();

  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

  it("opens one span per plan run, named jit(name), with a child span per op node", async () => {
    exporter.reset();
    const left = op({ kind: "io" }, async (x: string) => `l(${x})`);
    const right = op({ kind: "io" }, async (x: string) => `r(${x})`);
    const both = op({ kind: "io" }, async (x: string, y: string) => `${x}${y}`);
    const pipeline = jit(async (x: string) => both(await left(x), await right(x)), { strict: true });
    await pipeline("p");
    await pipeline("q");
    const spans = exporter.getFinishedSpans();
    const runs = spans.filter((s) => s.name === "jit(pipeline)");
    expect(runs).toHaveLength(2);
    for (const run of runs) {
      const children = spans.filter((s) => parentOf(s) === run.spanContext().spanId);
      expect(children.map((s) => s.name).sort()).toEqual(["both", "left", "right"]);
      expect(new Set(children.map((s) => s.spanContext().traceId))).toEqual(new Set([run.spanContext().traceId]));
      expect(run.attributes["weft.kind"]).toBe("jit");
    }
    expect(spans).toHaveLength(8);
  });
});
