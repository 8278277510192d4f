import { describe, expect, it } from "vitest";
import { op, configure, subscribe, OpError, Cancelled, ValidationError, withContext, type RuntimeEvent } from "weft";
import { useFakeClock } from "../support/clock.js";
import { freshRuntimeEach } from "../support/runtime.js";

// Backoff waits on a fake clock: `clock.run` moves time from timer to timer, so no test
// sleeps, and the delays are checked on the clock itself.
const clock = useFakeClock();
const turn = () => new Promise((r) => setImmediate(r));
async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ready(); i++) await turn();
  if (!ready()) throw new Error("never became ready");
}

function record() {
  const events: RuntimeEvent[] = [];
  const stop = subscribe((e) => events.push(e));
  return { events, stop };
}

// Each test runs in a fresh runtime: what one configures never reaches the next.
freshRuntimeEach();

describe("retries", () => {
  it("retries a failed op three times, then surfaces the last error with the attempt count", async () => {
    let calls = 0;
    const flaky = op({ name: "flaky", retry: { times: 3, backoff: { initial: 1, jitter: 0 } } }, () => {
      calls++;
      // A 503: transient, so the default policy retries it.
      throw Object.assign(new Error(`failure ${calls}`), { status: 503 });
    });
    const error = await clock.run(flaky()).catch((e: unknown) => e);
    expect(calls).toBe(4);
    expect(error).toBeInstanceOf(OpError);
    expect(error).toMatchObject({ op: "flaky", attempts: 4 });
    expect((error as OpError).cause).toMatchObject({ message: "failure 4" });
    expect((error as OpError).message).toMatch(/^flaky failed after 4 attempts: failure 4 \(test\/runtime\/retry\.test\.ts:\d+\)$/);
  });

  it("returns the first success and reports the attempt number to the body", async () => {
    const attempts: number[] = [];
    const { getContext } = await import("weft");
    const recovers = op({ retry: { times: 5, backoff: { initial: 1, jitter: 0 } } }, async () => {
      attempts.push(getContext().attempt);
      if (attempts.length < 3) throw Object.assign(new Error("not yet"), { status: 503 });
      return "ok";
    });
    expect(await clock.run(recovers())).toBe("ok");
    expect(attempts).toEqual([1, 2, 3]);
  });

  it("schedules exponential backoff capped at max, and waits exactly that long before each attempt", async () => {
    const { events, stop } = record();
    const startedAt: number[] = [];
    const fails = op({ name: "backoff", retry: { times: 5, backoff: { initial: 2, factor: 3, max: 40, jitter: 0 } } }, () => {
      startedAt.push(clock.now());
      throw Object.assign(new Error("x"), { status: 503 });
    });
    const call = fails().catch((e: unknown) => e);
    await until(() => startedAt.length === 1);
    for (const delay of [2, 6, 18, 40, 40]) {
      const n = startedAt.length;
      // The failed attempt has scheduled its backoff timer.
      await until(() => events.filter((e) => e.type === "op:retry").length === n && clock.pending() === 1);
      await clock.advance(delay - 1);
      await turn();
      expect(startedAt).toHaveLength(n); // not a millisecond early
      await clock.advance(1);
      await until(() => startedAt.length === n + 1);
    }
    expect(await call).toBeInstanceOf(OpError);
    stop();
    const delays = events.flatMap((e) => (e.type === "op:retry" && e.op === "backoff" ? [e.delayMs] : []));
    expect(delays).toEqual([2, 6, 18, 40, 40]);
    const t0 = startedAt[0]!;
    expect(startedAt.map((t) => t - t0)).toEqual([0, 2, 8, 26, 66, 106]);
  });

  it("applies jitter as a fraction of each delay, from the configured random source", async () => {
    configure({ random: () => 0.5 });
    const { events, stop } = record();
    const fails = op({ name: "jitter", retry: { times: 3, backoff: { initial: 4, factor: 2, jitter: 0.5 } } }, () => {
      throw Object.assign(new Error("x"), { status: 503 });
    });
    await clock.run(fails()).catch(() => undefined);
    stop();
    const delays = events.flatMap((e) => (e.type === "op:retry" ? [e.delayMs] : []));
    // d * (1 - 0.5 * 0.5) for d = 4, 8, 16
    expect(delays).toEqual([3, 6, 12]);
  });

  it("never retries what retryOn rejects, and passes it the error and attempt", async () => {
    const seen: Array<[string, number]> = [];
    let calls = 0;
    const picky = op(
      {
        retry: {
          times: 5,
          backoff: { initial: 1, jitter: 0 },
          retryOn: (error, attempt) => {
            seen.push([(error as Error).message, attempt]);
            return (error as Error).message === "transient";
          },
        },
      },
      () => {
        calls++;
        throw new Error(calls < 2 ? "transient" : "fatal");
      },
    );
    await expect(clock.run(picky())).rejects.toMatchObject({ attempts: 2 });
    expect(seen).toEqual([
      ["transient", 1],
      ["fatal", 2],
    ]);
  });

  it("never retries a validation error raised inside the body", async () => {
    let calls = 0;
    const strict = op({ name: "strict", retry: { times: 3, backoff: { initial: 1 } } }, () => {
      calls++;
      throw new ValidationError("inner", [{ direction: "input", parameter: "x", path: "$", expected: "number", received: '"a"', keyword: "type" }]);
    });
    const error = await clock.run(strict()).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(error).toBeInstanceOf(OpError);
    expect((error as OpError).cause).toBeInstanceOf(ValidationError);
  });

  it("retries an invalid output when retryOn asks for it (checked inside each attempt), never an invalid input", async () => {
    let calls = 0;
    const retryOn = (error: unknown) => error instanceof ValidationError;
    // A nondeterministic body (a model's reply, say): invalid once, then valid.
    const sample = op({ name: "sample", retry: { times: 2, backoff: { initial: 1, jitter: 0 }, retryOn } }, (n: number): number => (++calls === 1 ? ("oops" as unknown as number) : n));
    const { events, stop } = record();
    expect(await clock.run(sample(7))).toBe(7);
    stop();
    expect(calls).toBe(2);
    const retries = events.filter((e) => e.type === "op:retry");
    expect(retries).toHaveLength(1);
    expect((retries[0] as { error: unknown }).error).toBeInstanceOf(ValidationError);
    expect(events.find((e) => e.type === "op:end")).toMatchObject({ attempts: 2 });
    expect(events.find((e) => e.type === "op:end")).not.toHaveProperty("error");

    // Without retryOn (the default: transient failures only) an invalid output is final.
    calls = 0;
    const plain = op({ name: "plain", retry: { times: 2, backoff: { initial: 1, jitter: 0 } } }, (n: number): number => (++calls === 1 ? ("oops" as unknown as number) : n));
    const error = await clock.run(plain(7)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]).toMatchObject({ direction: "output", parameter: "return" });
    expect(calls).toBe(1);

    // An invalid input fails the same way every time: never retried, whatever retryOn says.
    calls = 0;
    const always = op({ name: "always", retry: { times: 2, backoff: { initial: 1, jitter: 0 }, retryOn: () => true } }, (n: number): number => ++calls + n);
    await expect(clock.run(always("x" as unknown as number))).rejects.toBeInstanceOf(ValidationError);
    expect(calls).toBe(0);

    // Always invalid: the last attempt's ValidationError, after 1 + times attempts.
    calls = 0;
    const broken = op({ name: "broken", retry: { times: 2, backoff: { initial: 1, jitter: 0 }, retryOn } }, (): number => (++calls, "never" as unknown as number));
    await expect(clock.run(broken())).rejects.toMatchObject({ _tag: "ValidationError", op: "broken" });
    expect(calls).toBe(3);
  });

  it("never retries a cancellation, and a cancelled backoff leaves no timer", async () => {
    const ac = new AbortController();
    let calls = 0;
    const slowRetry = op({ name: "slowRetry", retry: { times: 3, backoff: { initial: 60_000, jitter: 0 } } }, () => {
      calls++;
      queueMicrotask(() => ac.abort("user"));
      throw new Error("first");
    });
    const error = await withContext({ signal: ac.signal }, () => slowRetry()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Cancelled);
    expect(calls).toBe(1);
    await turn();
    // The 60 s backoff timer was cleared, not left to fire.
    expect(clock.pending()).toBe(0);
  });
});
