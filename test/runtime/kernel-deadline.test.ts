/**
 * Deadlines and cancellation on every op, with or without policy: the call settles at its
 * caller's deadline or abort, typed, even when the body ignores its signal.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Cancelled, DeadlineExceeded, getContext, op, withContext } from "weft";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A promise that never settles: the body ignores its signal entirely. */
const never = () => new Promise<never>(() => {});

describe("a policy-free op under its caller's deadline", () => {
  it("settles with DeadlineExceeded at the deadline although its body never settles, its signal aborted", async () => {
    let seen: AbortSignal | undefined;
    const hang = op({ name: "hang" }, async () => {
      seen = getContext().signal;
      return never();
    });
    const outcome = withContext({ timeout: 20 }, () => hang()).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(19);
    expect(seen?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const error = await outcome;
    expect(error).toBeInstanceOf(DeadlineExceeded);
    expect(error).toMatchObject({ op: "withContext", budgetMs: 20 });
    expect(seen?.aborted).toBe(true);
  });

  it("names the op whose budget ran out when an enclosing op's timeout passes", async () => {
    const inner = op({ name: "inner" }, async () => never());
    const outer = op({ name: "outer", timeout: 50 }, async () => inner());
    const outcome = outer().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(50);
    expect(await outcome).toMatchObject({ _tag: "DeadlineExceeded", op: "outer", budgetMs: 50 });
  });

  it("settles with Cancelled when the caller aborts, although the body ignores the signal", async () => {
    const hang = op({ name: "hang" }, async () => never());
    const ac = new AbortController();
    const outcome = withContext({ signal: ac.signal }, () => hang()).catch((e: unknown) => e);
    ac.abort("user pressed stop");
    const error = await outcome;
    expect(error).toBeInstanceOf(Cancelled);
    expect(error).toMatchObject({ reason: "user pressed stop" });
  });

  it("surfaces a body that rejects because its signal fired (fetch's AbortError) as the typed error, not OpError", async () => {
    const honours = op({ name: "honours" }, async () => {
      const { signal } = getContext();
      return new Promise((_, reject) => signal.addEventListener("abort", () => reject(new DOMException("This operation was aborted", "AbortError"))));
    });
    const outcome = withContext({ timeout: 10 }, () => honours()).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    expect(await outcome).toMatchObject({ _tag: "DeadlineExceeded", op: "withContext" });
  });

  it("does the same for an op with retry and timeout configured", async () => {
    const hang = op({ name: "hangPolicy", retry: { times: 2 }, timeout: "1s" }, async () => never());
    const outcome = withContext({ timeout: 30 }, () => hang()).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(30);
    expect(await outcome).toMatchObject({ _tag: "DeadlineExceeded", op: "withContext" });
  });

  it("applies its own timeout to a body that ignores its signal", async () => {
    let seen: AbortSignal | undefined;
    const slow = op({ name: "slow", timeout: "40ms" }, async () => {
      seen = getContext().signal;
      return never();
    });
    const outcome = slow().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(40);
    expect(await outcome).toMatchObject({ _tag: "DeadlineExceeded", op: "slow", budgetMs: 40 });
    expect(seen?.aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("leaves no timer behind when a timed call succeeds", async () => {
    const quick = op({ name: "quick", timeout: "1s" }, async (x: number) => x + 1);
    expect(await quick(1)).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("timed calls started in one turn", () => {
  it("each fail at their own budget, in budget order, not a millisecond early, leaving no timer", async () => {
    const failedAt: Array<[string, number]> = [];
    const start = Date.now();
    const make = (name: string, timeout: number) => op({ name, timeout }, async () => never());
    const calls = [make("slow30", 30), make("slow10", 10), make("slow20", 20)].map((f) =>
      f().catch((e: unknown) => {
        failedAt.push([(e as DeadlineExceeded).op, Date.now() - start]);
      }),
    );
    await vi.advanceTimersByTimeAsync(9);
    expect(failedAt).toEqual([]);
    await vi.advanceTimersByTimeAsync(21);
    await Promise.all(calls);
    expect(failedAt).toEqual([
      ["slow10", 10],
      ["slow20", 20],
      ["slow30", 30],
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("clear their timers when they settle after the turn they started in", async () => {
    const later = op({ name: "later", timeout: "1s" }, async (ms: number) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return ms;
    });
    const outcome = later(5);
    await vi.advanceTimersByTimeAsync(5);
    expect(await outcome).toBe(5);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("end at their caller's abort, however many share the caller's signal", async () => {
    const controller = new AbortController();
    const timed = op({ name: "timed", timeout: "1s" }, async () => never());
    const outcome = withContext({ signal: controller.signal }, () => Promise.all(Array.from({ length: 50 }, () => timed().catch((e: unknown) => e))));
    await vi.advanceTimersByTimeAsync(1);
    controller.abort("stop");
    const errors = await outcome;
    expect(errors.every((e) => e instanceof Cancelled)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});
