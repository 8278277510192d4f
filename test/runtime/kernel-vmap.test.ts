/**
 * vmap keeps every item: under "collect", an enclosing deadline or abort ends the batch with
 * each finished item's value and a typed error for each unfinished one, in input order.
 */
import { getMaxListeners } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { Cancelled, DeadlineExceeded, getContext, op, vmap, withContext } from "weft";
import { useFakeClock } from "../support/clock.js";

const clock = useFakeClock();

const never = () => new Promise<never>(() => {});

/** Finishes after `x` ms of fake time, or never when `x` is negative. */
const work = op({ name: "work" }, async (x: number) => {
  if (x < 0) return never();
  await new Promise((r) => setTimeout(r, x));
  return x * 10;
});

describe("vmap under collect, ended by its caller", () => {
  it("keeps finished values and gives each unfinished item DeadlineExceeded, in input order", async () => {
    const batch = withContext({ timeout: 20 }, () => vmap(work, { onError: "collect" })([5, -1, 10, -1]));
    await clock.advance(20);
    const results = await batch;
    expect(results.map((r) => (r.ok ? r.value : (r.error as { _tag: string })._tag))).toEqual([50, "DeadlineExceeded", 100, "DeadlineExceeded"]);
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3]);
    const late = results[1] as unknown as { error: DeadlineExceeded };
    expect(late.error).toBeInstanceOf(DeadlineExceeded);
    expect(late.error).toMatchObject({ op: "withContext", budgetMs: 20 });
  });

  it("keeps finished values and gives each unfinished item Cancelled when the caller aborts", async () => {
    const ac = new AbortController();
    const batch = withContext({ signal: ac.signal }, () => vmap(work, { onError: "collect", concurrency: 2 })([1, -1, 2, 3]));
    await clock.advance(1);
    ac.abort("stop");
    const results = await batch;
    expect(results[0]).toEqual({ ok: true, index: 0, value: 10 });
    for (const r of results.slice(1)) {
      expect(r.ok).toBe(false);
      expect((r as { error: unknown }).error).toBeInstanceOf(Cancelled);
    }
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3]);
  });

  it("also ends a batch of plain async functions that ignore the signal", async () => {
    const plain = async (x: number) => (x < 0 ? never() : x);
    const batch = withContext({ timeout: 5 }, () => vmap(plain, { onError: "collect" })([1, -1]));
    await clock.advance(5);
    const results = await batch;
    expect(results[0]).toEqual({ ok: true, index: 0, value: 1 });
    expect((results[1] as { error: unknown }).error).toBeInstanceOf(DeadlineExceeded);
  });

  it("under throw, rejects with the deadline at once", async () => {
    const batch = withContext({ timeout: 5 }, () => vmap(work)([1, -1])).catch((e: unknown) => e);
    await clock.advance(5);
    expect(await batch).toBeInstanceOf(DeadlineExceeded);
  });

  it("settles items whose deadline comes from withContext inside the mapped function", async () => {
    const hang = op({ name: "hangItem" }, async (_: number) => never());
    const batch = vmap((x: number) => withContext({ timeout: 10 }, () => hang(x)), { onError: "collect" })([1, 2, 3]);
    await clock.advance(10);
    const results = await batch;
    expect(results.map((r) => !r.ok && (r.error as { _tag: string })._tag)).toEqual(["DeadlineExceeded", "DeadlineExceeded", "DeadlineExceeded"]);
  });
});

describe("large batches sharing a signal", () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  afterEach(() => {
    process.off("warning", onWarning);
  });

  it("raise no MaxListenersExceededWarning when every item listens to its signal", async () => {
    process.on("warning", onWarning);
    const limits = new Set<number>();
    const listens = op({ name: "listens" }, async (x: number) => {
      const { signal } = getContext();
      // Node 22 warns past 10 listeners on one signal (Node 24 no longer does): weft lifts the limit.
      limits.add(getMaxListeners(signal));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1);
        signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
      });
      return x;
    });
    const batch = withContext({ timeout: "1m" }, () => vmap(listens, { concurrency: 64 })(Array.from({ length: 64 }, (_, i) => i)));
    await clock.advance(1);
    expect(await batch).toHaveLength(64);
    await new Promise((r) => setImmediate(r));
    expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    expect([...limits]).toEqual([0]);
  });
});
