/**
 * The Executor seam is what production calls take: a registered executor receives the
 * single calls, fused chains and vmap chunks that placement sends it (per op, per call with
 * `.with()`, per block with `withContext`), with the frame the kernel opened, and the kernel
 * keeps validation, retries, deadlines and error surfacing on the caller's side.
 *
 * The executor here records what it is handed and runs it on this thread through the
 * built-in inline executor, the way a remote engine's worker would run it on its own.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Cancelled, DeadlineExceeded, OpError, inlineExecutor, jit, op, registerExecutor, subscribe, vmap, withContext, type Executor, type ExecutorWork, type RuntimeEvent } from "weft";
import { currentFrame } from "../../runtime/context.js";
import type { Frame } from "../../runtime/context.js";

export const double = op({ kind: "cpu" }, (n: number): number => n * 2);
export const inc = op({ kind: "cpu" }, (n: number): number => n + 1);
export const shout = op({ placement: "remote:rec" }, (s: string): string => s.toUpperCase());
export const stayHere = op({ placement: "inline" }, (n: number): number => n - 1);
export const oddFails = op({ placement: "remote:rec" }, (n: number): number => {
  if (n % 2 === 1) throw new RangeError(`odd: ${n}`);
  return n;
});
let flakyCalls = 0;
export const flaky = op({ placement: "remote:rec", retry: { times: 2, backoff: { initial: 0, jitter: 0 } } }, (n: number): number => {
  flakyCalls++;
  if (flakyCalls === 1) throw Object.assign(new Error("connection reset"), { code: "ECONNRESET" });
  return n;
});
export const hangs = op({ placement: "remote:never" }, (n: number): number => n);
export const pipeline = jit(async (n: number) => inc(await double(n)));
export const viaRemote = jit(async (n: number) => inc(await oddFails(await double(n))));

interface Seen {
  readonly kind: "call" | "chain" | "chunk";
  readonly what: string;
  readonly frame: Frame;
  readonly items?: number;
}

function recorder(): { executor: Executor; seen: Seen[] } {
  const seen: Seen[] = [];
  const executor: Executor = {
    name: "rec",
    run(work: ExecutorWork, frame) {
      seen.push({ kind: work.kind, what: work.kind === "call" ? work.entry.desc.name : work.chain.map((s) => s.opId.split("#").at(-1)).join(">"), frame });
      return inlineExecutor.run(work, frame);
    },
    runChunk(target, items, frame) {
      seen.push({ kind: "chunk", what: typeof target === "string" ? target.split("#").at(-1)! : "chain", frame, items: items.length });
      return inlineExecutor.runChunk(target, items, frame);
    },
    close: async () => {},
  };
  return { executor, seen };
}

let rec: ReturnType<typeof recorder>;
let unregister: () => void;
beforeEach(() => {
  rec = recorder();
  unregister = registerExecutor("rec", rec.executor);
  flakyCalls = 0;
});
afterEach(() => unregister());

describe("an op pinned with placement: remote:NAME", () => {
  it("runs its body on that executor, in the child frame the kernel opened", async () => {
    const out = await withContext({ tenant: "acme", user: "ada", config: { model: "small" }, values: { requestId: "r-1" }, timeout: "1h" }, () => shout("hi"));
    expect(out).toBe("HI");
    expect(rec.seen.map((s) => [s.kind, s.what])).toEqual([["call", "shout"]]);
    const frame = rec.seen[0]!.frame;
    expect(frame).toMatchObject({ op: "shout", tenant: "acme", user: "ada", attempt: 1, config: { model: "small" }, values: { requestId: "r-1" }, deadlineOwner: "withContext" });
    expect(frame.stepId).toMatch(/^shout#\d+$/);
    expect(frame.deadline).toBeGreaterThan(Date.now());
  });

  it("surfaces the body's error as an OpError naming the op, with the cause's class", async () => {
    const error = await oddFails(3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpError);
    expect(error).toMatchObject({ op: "oddFails", attempts: 1 });
    expect((error as Error).cause).toBeInstanceOf(RangeError);
  });

  it("is retried by the kernel: each attempt reaches the executor with its attempt number", async () => {
    await expect(flaky(7)).resolves.toBe(7);
    expect(rec.seen.map((s) => s.frame.attempt)).toEqual([1, 2]);
  });

  it("settles at the caller's deadline even when the executor never answers", async () => {
    vi.useFakeTimers();
    const never: Executor = { name: "never", run: () => new Promise(() => {}), runChunk: () => new Promise(() => {}), close: async () => {} };
    const off = registerExecutor("never", never);
    try {
      const running = withContext({ timeout: 30 }, () => hangs(1)).catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(29);
      let settled = false;
      void running.then(() => (settled = true));
      await Promise.resolve();
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(await running).toBeInstanceOf(DeadlineExceeded);
    } finally {
      off();
      vi.useRealTimers();
    }
  });

  it("fails the call with a TypeError naming the op and the executor when none is registered under that name", async () => {
    unregister();
    const error = await shout("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpError);
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain('shout: placement "remote:rec" names no registered executor (registered: none)');
    unregister = registerExecutor("rec", rec.executor);
  });

  it("refuses a malformed placement at definition", () => {
    expect(() => op({ placement: "gpu" as never }, (n: number) => n)).toThrow(/placement must be "auto", "inline", "worker" or "remote:NAME", received "gpu"/);
  });
});

describe("per call and per block", () => {
  it(".with({ placement }) sends that call, and only that call, to the executor", async () => {
    await expect(double.with({ placement: "remote:rec" })(4)).resolves.toBe(8);
    await expect(double(5)).resolves.toBe(10);
    expect(rec.seen.map((s) => s.what)).toEqual(["double"]);
  });

  it("withContext({ placement }) sends every call in the block; an op's own pin and a call's .with() win", async () => {
    const out = await withContext({ placement: "remote:rec" }, async () => [await double(1), await stayHere(1), await inc.with({ placement: "inline" })(1), await inc(2)]);
    expect(out).toEqual([2, 0, 2, 3]);
    expect(rec.seen.map((s) => s.what)).toEqual(["double", "inc"]);
  });

  it("a nested call inside a body the executor runs is not sent again by the block's placement from the executor's side", async () => {
    // The frame an executor receives carries the block's placement, so it can see it; the
    // inline executor runs the body here, whose nested calls take the block's placement too.
    const outer = op({ kind: "cpu" }, async (n: number) => (await double(n)) + 1);
    await expect(withContext({ placement: "remote:rec" }, () => outer(2))).resolves.toBe(5);
    expect(rec.seen.map((s) => s.what)).toEqual(["outer", "double"]);
  });

  it("refuses a malformed placement in withContext and .with()", () => {
    expect(() => withContext({ placement: "remote:" as never }, () => 1)).toThrow(/withContext: placement must be/);
    expect(() => double.with({ placement: "elsewhere" as never })).toThrow(/double.with\(\): placement must be/);
  });
});

describe("vmap chunks and fused chains", () => {
  it("a vmap over a pinned op goes to the executor in chunks, keeping every item in order", async () => {
    const results = await vmap(oddFails, { onError: "collect", chunkSize: 4 })([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(results.map((r) => r.ok)).toEqual([true, false, true, false, true, false, true, false, true, false]);
    const failed = results[1];
    expect(failed && !failed.ok && failed.error).toBeInstanceOf(OpError);
    const chunks = rec.seen.filter((s) => s.kind === "chunk");
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.every((c) => c.what === "oddFails")).toBe(true);
  });

  it("a jitted function's fused chain runs as one unit on the block's executor, with the eager result", async () => {
    const eager = await inc(await double(5));
    rec.seen.length = 0;
    await expect(withContext({ placement: "remote:rec" }, () => pipeline(5))).resolves.toBe(eager);
    expect(rec.seen.map((s) => [s.kind, s.what])).toEqual([["chain", "double>inc"]]);
  });
});

describe("inspect", () => {
  it("prints the registered executor an op is pinned to, and keeps it out of fused groups", async () => {
    const shown = await viaRemote.inspect(2);
    expect(shown.text).toMatch(/oddFails\(%\d+\)\s+# cpu remote:rec/);
    expect(shown.text).not.toMatch(/fused/);
    rec.seen.length = 0;
    await expect(viaRemote(2)).resolves.toBe(5);
    expect(rec.seen.map((s) => [s.kind, s.what])).toEqual([["call", "oddFails"]]);
  });
});

describe("registerExecutor", () => {
  it("refuses built-in names, taken names and malformed executors; unregistering frees the name", () => {
    expect(() => registerExecutor("worker", rec.executor)).toThrow(/"worker" is a built-in executor/);
    expect(() => registerExecutor("rec", rec.executor)).toThrow(/an executor named "rec" is registered already/);
    expect(() => registerExecutor("bad name", rec.executor)).toThrow(/a name is letters, digits/);
    expect(() => registerExecutor("half", { name: "half", run: async () => 1 } as never)).toThrow(/has run, runChunk and close methods/);
    unregister();
    unregister = registerExecutor("rec", rec.executor);
  });

  it("a cancelled block reaches no executor", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(withContext({ signal: ac.signal }, () => shout("x"))).rejects.toBeInstanceOf(Cancelled);
    expect(rec.seen).toEqual([]);
  });
});

describe("chain steps and chunk items are calls through the kernel", () => {
  it("each step of a fused chain and each item of a chunk opens its own call: events, step id, surfaced errors", async () => {
    const events: RuntimeEvent[] = [];
    const stop = subscribe((e) => events.push(e));
    try {
      const chain = [double, inc].map((f) => ({ opId: f.descriptor.id }));
      await expect(inlineExecutor.run({ kind: "chain", chain, args: [3] }, currentFrame())).resolves.toBe(7);
      const results = await inlineExecutor.runChunk(oddFails.descriptor.id, [[2], [3]], currentFrame());
      expect(results[0]).toEqual({ ok: true, value: 2 });
      expect(results[1]).toMatchObject({ ok: false, error: { op: "oddFails", attempts: 1 } });
    } finally {
      stop();
    }
    const ends = events.filter((e): e is Extract<RuntimeEvent, { type: "op:end" }> => e.type === "op:end");
    expect(ends.map((e) => [e.op, e.error === undefined])).toEqual([
      ["double", true],
      ["inc", true],
      ["oddFails", true],
      ["oddFails", false],
    ]);
    expect(ends.every((e) => /^\w+#\d+$/.test(e.stepId))).toBe(true);
  });
});
