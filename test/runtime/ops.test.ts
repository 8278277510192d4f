import { describe, expect, it } from "vitest";
import { op, OpError, describeOp, getContext, Sequential, Module } from "weft";

describe("function ops", () => {
  it("runs a sync body and returns a promise of its value", async () => {
    const double = op((x: number) => x * 2);
    const result = double(21);
    expect(result).toBeInstanceOf(Promise);
    expect(await result).toBe(42);
  });

  it("runs an async body and awaits it", async () => {
    const later = op(async (x: string) => {
      await new Promise((r) => setImmediate(r));
      return x.toUpperCase();
    });
    expect(await later("hi")).toBe("HI");
  });

  it("detects the kind from the body: async is io, sync is cpu, unless declared", () => {
    expect(op(async () => 1).descriptor.kind).toBe("io");
    expect(op(() => 1).descriptor.kind).toBe("cpu");
    expect(op({ kind: "pure" }, () => 1).descriptor.kind).toBe("pure");
    expect(op(async () => 1).descriptor.async).toBe(true);
  });

  it("names the op after the function, or the name option", () => {
    function embed(t: string) {
      return t.length;
    }
    expect(op(embed).name).toBe("embed");
    expect(op({ name: "custom" }, embed).descriptor.name).toBe("custom");
  });

  it("wraps a thrown error in OpError naming the op and keeping the cause", async () => {
    const boom = new Error("boom");
    const fails = op(function explode() {
      throw boom;
    });
    const error = await fails().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpError);
    // The transformer names the op after its binding, which wins over the function's name.
    expect((error as OpError).op).toBe("fails");
    expect((error as OpError).attempts).toBe(1);
    expect((error as OpError).cause).toBe(boom);
    expect((error as OpError).message).toMatch(/^fails failed after 1 attempt: boom \(test\/runtime\/ops\.test\.ts:\d+\)$/);
  });

  it("wraps a rejected promise the same way", async () => {
    const fails = op({ name: "rejecting" }, async () => {
      throw new TypeError("bad");
    });
    await expect(fails()).rejects.toMatchObject({ _tag: "OpError", op: "rejecting", cause: expect.any(TypeError) });
  });

  it("stores its descriptor as metadata on the callable", () => {
    const f = op({ retry: { times: 2 } }, (x: number) => x);
    expect(describeOp(f)).toBe(f.descriptor);
    expect(describeOp(f)?.policy.retry?.times).toBe(2);
    expect(describeOp(() => 1)).toBeUndefined();
  });

  it("rejects a malformed timeout at declaration time", () => {
    expect(() => op({ timeout: "soon" as never }, () => 1)).toThrow('expected a duration such as "250ms", "20s" or "2m", received "soon"');
  });
});

describe("Sequential", () => {
  class Shout extends Module {
    @op
    async forward(text: string): Promise<string> {
      return `${text}!`;
    }
  }

  it("pipes each step's output into the next, through ops, functions and Modules", async () => {
    const calls: string[] = [];
    const trim = op((t: string) => {
      calls.push("trim");
      return t.trim();
    });
    const upper = op(async (t: string) => {
      calls.push("upper");
      return t.toUpperCase();
    });
    const pipeline = Sequential(trim, upper, new Shout(), (t: string) => t.length);
    expect(await pipeline("  hey ")).toBe(4);
    expect(calls).toEqual(["trim", "upper"]);
  });

  it("is itself an op whose .with() config reaches every step", async () => {
    const read = op({ name: "read" }, () => getContext().config.threshold);
    const pipeline = Sequential((x: number) => x, read).with({ config: { threshold: 0.8 } });
    expect(await pipeline(1)).toBe(0.8);
    expect(pipeline.descriptor.name).toBe("Sequential(step, read)");
  });
});

describe("an op with no build-time types", () => {
  it("runs unvalidated and warns once, naming the op and how to fix the build", async () => {
    // Reached through a cast, `op` is no site the transformer can resolve: no types are injected,
    // as in a build without the transformer.
    const untypedOp = op as unknown as (options: { name: string }, fn: (x: number) => number) => (x: number) => Promise<number>;
    const raw = untypedOp({ name: "raw" }, (x) => x * 2);
    const warnings: Array<{ message: string; code?: string }> = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push({ message: w.message, code: w.code });
    process.on("warning", onWarning);
    try {
      expect(await raw("not a number" as never)).toBeNaN();
      expect(await raw(2)).toBe(4);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("warning", onWarning);
    }
    const mine = warnings.filter((w) => w.code === "WEFT_UNTYPED_OP");
    expect(mine).toHaveLength(1);
    expect(mine[0]!.message).toContain('op "raw" has no build-time types');
    expect(mine[0]!.message).toContain("weft gen");
  });

  it("does not warn for ops the transformer described", async () => {
    const typed = op({ name: "typed" }, (x: number) => x + 1);
    expect(typed.descriptor.typed).toBe(true);
    await expect(typed("x" as never)).rejects.toMatchObject({ _tag: "ValidationError" });
  });
});
