import { afterEach, describe, expect, it } from "vitest";
import { op, jit, cond, TraceError } from "weft";

const classify = op({ name: "classify", kind: "io" }, async (q: string) => ({ isMath: /\d/.test(q) }));
const solve = op({ name: "solve", kind: "io" }, async (q: string) => `solved ${q}`);
const chat = op({ name: "chat", kind: "io" }, async (q: string) => `chatted ${q}`);

const warnings: string[] = [];
// Only weft's own warnings: Node's (an ExperimentalWarning on Node 22, say) are not this test's subject.
const onWarning = (w: Error & { code?: string }) => void (w.code?.startsWith("WEFT_") && warnings.push(w.message));
process.on("warning", onWarning);
afterEach(() => void (warnings.length = 0));

describe("branches a Proxy cannot see are caught at build time", () => {
  it("stages an `if` on a result as a cond: no warning, and each input takes its own branch", async () => {
    const answer = jit(async (q: string) => {
      const kind = await classify(q);
      if (kind.isMath) return solve(q);
      return chat(q);
    });
    expect(await answer("hello")).toBe("chatted hello");
    expect(await answer("2 + 2")).toBe("solved 2 + 2");
    await new Promise((r) => setImmediate(r));
    expect(warnings).toEqual([]);
    expect(answer.explain("x")).not.toMatch(/^eager/);
  });

  it("runs a function whose `if` cannot be staged (it writes an outer object two levels deep) eagerly, so both branches stay correct", async () => {
    const answer = jit(async (q: string) => {
      const kind = await classify(q);
      const out = { inner: { text: "" } };
      if (kind.isMath) out.inner.text = await solve(q);
      else out.inner.text = await chat(q);
      return out.inner.text;
    });
    // A tracer is always truthy: without the build-time check, the plan would freeze the math branch.
    expect(await answer("hello")).toBe("chatted hello");
    expect(await answer("2 + 2")).toBe("solved 2 + 2");
    await new Promise((r) => setImmediate(r));
    expect(warnings.filter((w) => w.includes("branches on a traced value (if)"))).toHaveLength(1);
    expect(warnings[0]).toMatch(/test\/jit\/build-check\.test\.ts:\d+:\d+/);
  });

  it("throws a TraceError naming the line in strict mode", async () => {
    const answer = jit(
      async (q: string) => {
        const kind = await classify(q);
        if (kind.isMath === true) return solve(q);
        // A case that falls through into the next: the one switch shape staging leaves alone.
        switch (kind.isMath) {
          // @ts-expect-error: TS7029, the fall-through is the point
          case false:
            q = `${q}?`;
          case undefined:
            return chat(q);
        }
        return chat(q);
      },
      { strict: true },
    );
    const error = await answer("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TraceError);
    expect((error as TraceError).message).toMatch(/branches on a traced value \(switch\).*build-check\.test\.ts:\d+:\d+/);
  });

  it("stages a ?: and === on a traced value: a plan that runs only the taken branch's ops", async () => {
    const calls: string[] = [];
    const logSolve = op({ name: "logSolve", kind: "io" }, async (q: string) => (calls.push(`solve ${q}`), `solved ${q}`));
    const logChat = op({ name: "logChat", kind: "io" }, async (q: string) => (calls.push(`chat ${q}`), `chatted ${q}`));
    const answer = jit(
      async (q: string) => {
        const kind = await classify(q);
        return kind.isMath === true ? logSolve(q) : logChat(q);
      },
      { strict: true },
    );
    expect(await answer("hello")).toBe("chatted hello");
    expect(await answer("2 + 2")).toBe("solved 2 + 2");
    expect(calls).toEqual(["chat hello", "solve 2 + 2"]);
    expect((await answer.inspect("x")).text).toMatch(/cond/);
  });

  it("leaves the same logic staged with cond() in the graph", async () => {
    const answer = jit(
      async (q: string) => {
        const kind = await classify(q);
        return cond(kind.isMath, () => solve(q), () => chat(q));
      },
      { strict: true },
    );
    expect(await answer("hello")).toBe("chatted hello");
    expect(await answer("2 + 2")).toBe("solved 2 + 2");
    expect((await answer.inspect("x")).text).toContain("cond");
  });
});
