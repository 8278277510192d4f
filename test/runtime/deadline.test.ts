import { describe, expect, it } from "vitest";
import { op, getContext, withContext, DeadlineExceeded, Cancelled, OpError } from "weft";

/** Resolves when the context's signal fires; the only way these ops ever finish. */
function untilAborted(): Promise<never> {
  const { signal } = getContext();
  return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));
}

const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
const settle = () => new Promise((r) => setImmediate(r));

describe("deadlines", () => {
  it("reach three levels deep: the inner ops see the outer deadline and are aborted by it", async () => {
    const seen: Array<{ op: string | undefined; deadline: number | undefined; aborted: boolean }> = [];
    const leaf = op({ name: "leaf" }, async () => {
      const ctx = getContext();
      seen.push({ op: ctx.op, deadline: ctx.deadline, aborted: false });
      try {
        await untilAborted();
      } finally {
        seen.push({ op: ctx.op, deadline: ctx.deadline, aborted: ctx.signal.aborted });
      }
    });
    const middle = op({ name: "middle" }, async () => {
      seen.push({ op: "middle", deadline: getContext().deadline, aborted: false });
      return leaf();
    });
    const outer = op({ name: "outer", timeout: "30ms" }, async () => {
      seen.push({ op: "outer", deadline: getContext().deadline, aborted: false });
      return middle();
    });
    const before = Date.now();
    const error = await outer().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineExceeded);
    expect(error).toMatchObject({ op: "outer", budgetMs: 30, message: "outer: deadline exceeded after 30ms" });
    const deadline = seen[0]!.deadline!;
    expect(deadline).toBeGreaterThanOrEqual(before + 30);
    // Every level shares the one deadline, and the leaf's signal fired.
    expect(seen.map((s) => s.deadline)).toEqual([deadline, deadline, deadline, deadline]);
    expect(seen.at(-1)).toEqual({ op: "leaf", deadline, aborted: true });
  });

  it("uses a nested op's own timeout when it is earlier, and names that op", async () => {
    const inner = op({ name: "inner", timeout: "10ms" }, async () => untilAborted());
    const outer = op({ name: "outer", timeout: "10s" }, async () => {
      const own = getContext().deadline!;
      const innerError = await inner().catch((e: unknown) => e);
      return { own, innerError };
    });
    const { innerError } = await outer();
    expect(innerError).toBeInstanceOf(DeadlineExceeded);
    expect(innerError).toMatchObject({ op: "inner", budgetMs: 10 });
  });

  it("keeps the caller's deadline when a nested timeout is later", async () => {
    let innerDeadline: number | undefined;
    let outerDeadline: number | undefined;
    const inner = op({ name: "inner", timeout: "60s" }, async () => {
      innerDeadline = getContext().deadline;
      return untilAborted();
    });
    const outer = op({ name: "outer", timeout: "20ms" }, async () => {
      outerDeadline = getContext().deadline;
      return inner();
    });
    await expect(outer()).rejects.toMatchObject({ _tag: "DeadlineExceeded", op: "outer" });
    expect(innerDeadline).toBe(outerDeadline);
  });

  it("applies a per-call timeout from .with()", async () => {
    const slow = op({ name: "slow" }, async () => untilAborted());
    await expect(slow.with({ timeout: "5ms" })()).rejects.toMatchObject({ _tag: "DeadlineExceeded", op: "slow", budgetMs: 5 });
  });

  it("applies a withContext budget to every op inside it", async () => {
    const slow = op({ name: "slow" }, async () => untilAborted());
    const error = await withContext({ timeout: "5ms" }, () => slow()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineExceeded);
    expect(error).toMatchObject({ op: "withContext", budgetMs: 5 });
  });

  it("fails at once, without running the body, when the deadline has already passed", async () => {
    let ran = false;
    const late = op({ name: "late" }, () => {
      ran = true;
    });
    const outer = op({ name: "outer", timeout: "5ms" }, async () => {
      await new Promise((r) => setTimeout(r, 20));
      return late();
    });
    await expect(outer()).rejects.toBeInstanceOf(DeadlineExceeded);
    await new Promise((r) => setTimeout(r, 30));
    expect(ran).toBe(false);
  });

  it("leaves no timer behind, whether the op finishes in time or not", async () => {
    const before = activeTimers();
    const quick = op({ name: "quick", timeout: "10s", retry: { times: 2 } }, async () => 1);
    const slow = op({ name: "slow", timeout: "5ms" }, async () => untilAborted());
    await quick();
    await slow().catch(() => undefined);
    await withContext({ timeout: "10s" }, () => quick());
    await settle();
    expect(activeTimers()).toBe(before);
  });
});

describe("cancellation", () => {
  it("cancels an op and everything under it: no child keeps running, no retry is scheduled", async () => {
    const ac = new AbortController();
    let running = 0;
    let started = 0;
    const child = op({ name: "child", retry: { times: 5, backoff: { initial: 1 } } }, async () => {
      running++;
      started++;
      try {
        await untilAborted();
      } finally {
        running--;
      }
    });
    const parent = op({ name: "parent" }, async () => Promise.all([child(), child(), child()]));
    const before = activeTimers();
    const pending = withContext({ signal: ac.signal }, () => parent());
    while (started < 3) await settle();
    expect(running).toBe(3);
    ac.abort("user pressed stop");
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Cancelled);
    expect((error as Cancelled).reason).toBe("user pressed stop");
    await settle();
    expect(running).toBe(0);
    expect(started).toBe(3);
    expect(activeTimers()).toBe(before);
  });

  it("rejects with Cancelled at once when the signal already fired", async () => {
    let ran = false;
    const never = op({ name: "never" }, () => {
      ran = true;
    });
    const ac = new AbortController();
    ac.abort();
    await expect(withContext({ signal: ac.signal }, () => never())).rejects.toBeInstanceOf(Cancelled);
    expect(ran).toBe(false);
  });

  it.each([
    ["with a policy", { timeout: "10s" as const }],
    ["without a policy", {}],
  ])("lets a body that ignores the abort still fail the call as cancelled (%s)", async (_, policy) => {
    const ac = new AbortController();
    const stubborn = op({ name: "stubborn", ...policy }, async () => {
      await untilAborted().catch(() => undefined);
      return "ignored the abort";
    });
    const pending = withContext({ signal: ac.signal }, () => stubborn());
    await settle();
    ac.abort();
    await expect(pending).rejects.toBeInstanceOf(Cancelled);
  });

  it("is visible to the Effect entry: interrupting the Effect aborts the op's signal", async () => {
    const { Effect, Fiber } = await import("effect");
    let aborted = false;
    const waits = op({ name: "waits" }, async () => {
      await untilAborted().catch(() => (aborted = true));
    });
    const fiber = Effect.runFork(waits.effect());
    await settle();
    await Effect.runPromise(Fiber.interrupt(fiber));
    await settle();
    expect(aborted).toBe(true);
  });

  it("surfaces a body's own failure as OpError, not as a cancellation", async () => {
    const breaks = op({ name: "breaks", timeout: "1s" }, async () => {
      throw new Error("broken");
    });
    await expect(breaks()).rejects.toBeInstanceOf(OpError);
  });
});
