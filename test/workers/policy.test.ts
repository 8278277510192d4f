/**
 * Fused chains and worker chunks keep every member op's policy: an op with a retry policy,
 * a timeout or a concurrency limit is never a chain step or a chunk item (which run as
 * plain calls), so it runs as its own call, on a worker when placement says so, with its
 * policy honoured. Real worker threads, compiled weft.
 */
import { describe, expect, it } from "vitest";
import { pretendMeasured, useWeft } from "./weft.js";

const w = useWeft();

/** Op starts and attempts per op name while `run` runs. */
async function counting<T>(run: () => Promise<T>): Promise<{ value: T; starts: Record<string, number>; attempts: Record<string, number> }> {
  const starts: Record<string, number> = {};
  const attempts: Record<string, number> = {};
  const stop = w.weft.subscribe((e) => {
    if (e.type === "op:start") starts[e.op] = (starts[e.op] ?? 0) + 1;
    if (e.type === "op:attempt") attempts[e.op] = (attempts[e.op] ?? 0) + 1;
  });
  try {
    return { value: await run(), starts, attempts };
  } finally {
    stop();
  }
}

describe("a jitted chain with a retrying member", () => {
  it("retries it as eager code does, instead of failing after one attempt in a worker chain", async () => {
    const { jit } = w.weft;
    const { flakyInc, inc } = w.ops;
    const f = async (x: number) => inc(await flakyInc(x));
    const eager = await counting(() => f(23));
    expect(eager.value).toBe(25);
    const jf = jit(f);
    expect(await jf(1)).toBe(3);
    // Measured as heavy: a fusable chain of these would move to a worker as one task.
    pretendMeasured(w, [flakyInc, inc], 1);
    const jitted = await counting(() => jf(23));
    expect(jitted.value).toBe(25);
    expect(jitted.starts).toEqual(eager.starts);
    expect(jitted.attempts).toEqual(eager.attempts);
    expect(jitted.attempts.flakyInc).toBe(2);
  });

  it("shows in the plan which op stayed out of fusion, and why", async () => {
    const { jit } = w.weft;
    const { flakyInc, inc, double } = w.ops;
    const jf = jit(async (x: number) => inc(await double(await flakyInc(x))));
    const shown = await jf.inspect(3);
    // double -> inc still fuse; flakyInc runs as its own call.
    expect(shown.plan!.steps.flatMap((s) => (s.chain ? [s.chain.chain.map((c) => c.opId)] : []))).toEqual([[double.descriptor.id, inc.descriptor.id]]);
    expect(shown.text).toMatch(/flakyInc.*unfused: it has a retry policy/);
  });
});

describe("vmap over an op with a policy, measured as worth the workers", () => {
  it("retries every item as eager calls would (nothing lost to a chunk without retries)", async () => {
    const { vmap } = w.weft;
    const { flakyInc } = w.ops;
    pretendMeasured(w, [flakyInc], 2);
    const items = Array.from({ length: 32 }, (_, i) => i);
    const results = await vmap(flakyInc, { onError: "collect" })(items);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results.map((r) => (r as { value: number }).value)).toEqual(items.map((x) => x + 1));
  });

  it("keeps a .with() retry: a configured op is never chunked (a chunk would drop the override)", async () => {
    const { vmap } = w.weft;
    const { flakyBare } = w.ops;
    pretendMeasured(w, [flakyBare], 2);
    const items = Array.from({ length: 32 }, (_, i) => i);
    const retrying = flakyBare.with({ retry: { times: 2, backoff: { initial: 1, jitter: 0 } } });
    const results = await vmap(retrying, { onError: "collect" })(items);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results.map((r) => (r as { value: number }).value)).toEqual(items.map((x) => x + 1));
  });

  it("holds each item to the op's timeout", { timeout: 30_000 }, async () => {
    const { vmap } = w.weft;
    const { spinsPastTimeout } = w.ops;
    pretendMeasured(w, [spinsPastTimeout], 2);
    // Each item would spin for 2 s; its 50 ms timeout ends it long before (wide margin).
    const results = await vmap(spinsPastTimeout, { onError: "collect" })([2000, 2000, 2000, 2000]);
    for (const r of results) {
      expect(r.ok).toBe(false);
      expect((r as { error: unknown }).error).toBeInstanceOf(w.errors.DeadlineExceeded);
    }
  });
});
