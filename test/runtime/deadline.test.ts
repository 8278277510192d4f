import { describe, expect, it, vi } from "vitest";
import { op, getContext, withContext, DeadlineExceeded, Cancelled, OpError } from "weft";
import { useFakeClock } from "../support/clock.js";

/** Resolves when the context's signal fires; the only way these ops ever finish. */
function untilAborted(): Promise<never> {
  const { signal } = getContext();
  return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));
}

const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
const settle = () => new Promise((r) => setImmediate(r));
/** Lets fibers and bodies run (on real setImmediate) until `ready()` holds. */
async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ready(); i++) await settle();
  if (!ready()) throw new Error("never became ready");
}

/** Watches a promise, so a test can advance the clock and look whether it settled yet. */
function watch<T>(promise: Promise<T>) {
  const state: { settled: boolean; error?: unknown; value?: T; done: Promise<unknown> } = {
    settled: false,
    done: promise.then(
      (value) => Object.assign(state, { settled: true, value }),
      (error: unknown) => Object.assign(state, { settled: true, error }),
    ),
  };
  return state;
}

// Time here is a fake clock: it moves only by `clock.advance`, so a deadline fires at its
// budget exactly, never early and never late, however loaded the machine is.
const clock = useFakeClock();

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
    const before = clock.now();
    const call = watch(outer());
    await until(() => seen.length === 3);
    await clock.advance(29);
    await settle();
    expect(call.settled).toBe(false);
    expect(seen.map((s) => s.op)).toEqual(["outer", "middle", "leaf"]);
    await clock.advance(1);
    await call.done;
    expect(call.error).toBeInstanceOf(DeadlineExceeded);
    expect(call.error).toMatchObject({ op: "outer", budgetMs: 30, message: "outer: deadline exceeded after 30ms" });
    const deadline = seen[0]!.deadline!;
    expect(deadline).toBe(before + 30);
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
    const call = watch(outer());
    await clock.advance(10);
    await call.done;
    const { own, innerError } = call.value!;
    expect(own).toBe(clock.now() - 10 + 10_000);
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
    const call = watch(outer());
    await clock.advance(20);
    await call.done;
    expect(call.error).toMatchObject({ _tag: "DeadlineExceeded", op: "outer" });
    expect(innerDeadline).toBe(outerDeadline);
  });

  it("applies a per-call timeout from .with()", async () => {
    const slow = op({ name: "slow" }, async () => untilAborted());
    const call = watch(slow.with({ timeout: "5ms" })());
    await clock.advance(4);
    await settle();
    expect(call.settled).toBe(false);
    await clock.advance(1);
    await call.done;
    expect(call.error).toMatchObject({ _tag: "DeadlineExceeded", op: "slow", budgetMs: 5 });
  });

  it("applies a withContext budget to every op inside it", async () => {
    const slow = op({ name: "slow" }, async () => untilAborted());
    const call = watch(withContext({ timeout: "5ms" }, () => slow()));
    await clock.advance(5);
    await call.done;
    expect(call.error).toBeInstanceOf(DeadlineExceeded);
    expect(call.error).toMatchObject({ op: "withContext", budgetMs: 5 });
  });

  it("fails at once, without running the body, when the deadline has already passed", async () => {
    let ran = false;
    const late = op({ name: "late" }, () => {
      ran = true;
    });
    let waited = false;
    const outer = op({ name: "outer", timeout: "5ms" }, async () => {
      await new Promise((r) => setTimeout(r, 20));
      waited = true;
      return late();
    });
    const call = watch(outer());
    await clock.advance(5);
    await call.done;
    expect(call.error).toBeInstanceOf(DeadlineExceeded);
    // The abandoned body wakes up after the deadline and calls `late`, which must not run.
    await clock.advance(15);
    await until(() => waited);
    await settle();
    expect(ran).toBe(false);
  });

  it("leaves no timer behind, whether the op finishes in time or not", async () => {
    const quick = op({ name: "quick", timeout: "10s", retry: { times: 2 } }, async () => 1);
    const slow = op({ name: "slow", timeout: "5ms" }, async () => untilAborted());
    await quick();
    const call = watch(slow());
    await clock.advance(5);
    await call.done;
    expect(call.error).toBeInstanceOf(DeadlineExceeded);
    await withContext({ timeout: "10s" }, () => quick());
    await settle();
    expect(clock.pending()).toBe(0);
  });
});

describe("deadlines on real timers (integration)", () => {
  // The one place a real timer fires: asserts what happened (who was aborted, what is left),
  // never how long it took.
  it("a real 20ms deadline aborts a nested body and leaves no timer", async () => {
    vi.useRealTimers();
    const before = activeTimers();
    let aborted = false;
    const leaf = op({ name: "leaf" }, async () => {
      await untilAborted().catch((e: unknown) => {
        aborted = true;
        throw e;
      });
    });
    const outer = op({ name: "outer", timeout: "20ms" }, async () => leaf());
    await expect(outer()).rejects.toMatchObject({ _tag: "DeadlineExceeded", op: "outer", budgetMs: 20 });
    await settle();
    expect(aborted).toBe(true);
    // A timer left behind shows as more than before; one of the runner's that fired meanwhile
    // (seen under load) may leave fewer.
    expect(activeTimers()).toBeLessThanOrEqual(before);
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
    expect(clock.pending()).toBe(0);
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
