/**
 * Retry defaults: transient failures only, `retryOn` overrides, and `Retry-After` honoured
 * within the deadline. Timing on a fake clock.
 */
import { describe, expect, it } from "vitest";
import { OpError, WorkerCrashed, op, subscribe, type RuntimeEvent } from "weft";
import { useFakeClock } from "../support/clock.js";

const clock = useFakeClock();

const withStatus = (status: number, extra: Record<string, unknown> = {}) => Object.assign(new Error(`HTTP ${status}`), { status, ...extra });

/** An op that fails with `error()` on every attempt, counting them. */
function failing(name: string, error: () => unknown, retry: Record<string, unknown> = {}) {
  let calls = 0;
  const fn = op({ name, retry: { times: 3, backoff: { initial: 10, jitter: 0 }, ...retry } }, async () => {
    calls++;
    throw error();
  });
  return { fn, calls: () => calls };
}

describe("what a retry policy retries by default", () => {
  it.each([
    ["TypeError", () => new TypeError("x.map is not a function")],
    ["RangeError", () => new RangeError("bad length")],
    ["ReferenceError", () => new ReferenceError("y is not defined")],
    ["SyntaxError", () => new SyntaxError("Unexpected token")],
    ["HTTP 400", () => withStatus(400)],
    ["HTTP 401", () => withStatus(401)],
    ["HTTP 404", () => withStatus(404)],
    ["HTTP 422 (statusCode)", () => Object.assign(new Error("unprocessable"), { statusCode: 422 })],
    ["an unclassified Error", () => new Error("something odd")],
  ])("never retries %s: one attempt, then OpError", async (_, error) => {
    const { fn, calls } = failing("permanent", error);
    const outcome = await clock.run(fn()).catch((e: unknown) => e);
    expect(outcome).toBeInstanceOf(OpError);
    expect(outcome).toMatchObject({ attempts: 1 });
    expect(calls()).toBe(1);
  });

  it.each([
    ["HTTP 408", () => withStatus(408)],
    ["HTTP 409", () => withStatus(409)],
    ["HTTP 425", () => withStatus(425)],
    ["HTTP 429", () => withStatus(429)],
    ["HTTP 500", () => withStatus(500)],
    ["HTTP 503 on response.status", () => Object.assign(new Error("unavailable"), { response: { status: 503 } })],
    ["ECONNRESET", () => Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })],
    ["fetch failed (TypeError caused by a socket error)", () => new TypeError("fetch failed", { cause: Object.assign(new Error("connect"), { code: "ECONNREFUSED" }) })],
    ["WorkerCrashed", () => new WorkerCrashed("heavy", 1)],
    ["a nested op's timeout", () => new DOMException("The operation timed out", "TimeoutError")],
  ])("retries %s", async (_, error) => {
    const { fn, calls } = failing("transient", error);
    const outcome = await clock.run(fn()).catch((e: unknown) => e);
    // A worker thread dying surfaces as itself (README, Errors); everything else as OpError.
    if (outcome instanceof WorkerCrashed) expect(outcome).toMatchObject({ _tag: "WorkerCrashed", op: "heavy" });
    else expect(outcome).toMatchObject({ _tag: "OpError", attempts: 4 });
    expect(calls()).toBe(4);
  });

  it("retryOn overrides the defaults both ways", async () => {
    const everything = failing("everything", () => new TypeError("retry me anyway"), { retryOn: () => true });
    await clock.run(everything.fn()).catch(() => undefined);
    expect(everything.calls()).toBe(4);
    const nothing = failing("nothing", () => withStatus(503), { retryOn: () => false });
    await clock.run(nothing.fn()).catch(() => undefined);
    expect(nothing.calls()).toBe(1);
  });
});

describe("Retry-After", () => {
  function record() {
    const events: RuntimeEvent[] = [];
    const stop = subscribe((e) => events.push(e));
    return { events, stop };
  }

  it("waits at least what a Retry-After header asks before the next attempt", async () => {
    const startedAt: number[] = [];
    let calls = 0;
    const limited = op({ name: "limited", retry: { times: 2, backoff: { initial: 10, jitter: 0 } } }, async () => {
      startedAt.push(clock.now());
      if (++calls === 1) throw withStatus(429, { headers: { "Retry-After": "2" } });
      return "ok";
    });
    const { events, stop } = record();
    expect(await clock.run(limited())).toBe("ok");
    stop();
    expect(startedAt[1]! - startedAt[0]!).toBe(2000);
    expect(events.filter((e) => e.type === "op:retry").map((e) => (e as { delayMs: number }).delayMs)).toEqual([2000]);
  });

  it("reads retryAfterMs and a Headers object too, and never waits less than the backoff", async () => {
    const startedAt: number[] = [];
    let calls = 0;
    const limited = op({ name: "limited2", retry: { times: 3, backoff: { initial: 500, factor: 1, jitter: 0 } } }, async () => {
      startedAt.push(clock.now());
      calls++;
      if (calls === 1) throw withStatus(503, { retryAfterMs: 1500 });
      if (calls === 2) throw withStatus(503, { response: { headers: new Headers({ "retry-after": "0" }) } });
      return "ok";
    });
    expect(await clock.run(limited())).toBe("ok");
    expect([startedAt[1]! - startedAt[0]!, startedAt[2]! - startedAt[1]!]).toEqual([1500, 500]);
  });

  it("fails at once, with the error, when the wait asked for outlasts the deadline", async () => {
    let calls = 0;
    const limited = op({ name: "limited3", timeout: "1s", retry: { times: 3, backoff: { initial: 10, jitter: 0 } } }, async () => {
      calls++;
      throw withStatus(429, { retryAfterMs: 5000 });
    });
    const start = clock.now();
    const outcome = await clock.run(limited()).catch((e: unknown) => e);
    expect(outcome).toMatchObject({ _tag: "OpError", attempts: 1, cause: { status: 429 } });
    expect(calls).toBe(1);
    expect(clock.now() - start).toBe(0);
    expect(clock.pending()).toBe(0);
  });
});
