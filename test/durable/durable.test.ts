/**
 * Durable runs in one process, on both stores: resume without repeats, completion, the
 * context's run id and idempotency key, the version guard, values that cannot be stored,
 * the result cache, dead letters and their replay, and approvals decided by the policy.
 * Cross-process behaviour (crashes, leases, approvals from another process) is in
 * crash.test.ts and processes.test.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, test } from "vitest";
import {
  ApprovalDenied,
  ApprovalRequired,
  approvals,
  cacheStats,
  clearCache,
  configureDurable,
  deadLetters,
  durable,
  getContext,
  jit,
  listRuns,
  MemoryStore,
  op,
  replayDeadLetters,
  RunLocked,
  RunVersionMismatch,
  SqliteStore,
  UnstorableValue,
  vmap,
  withContext,
  type DurableStore,
} from "weft";
import { resetCacheStats } from "../../runtime/durable/gate.js";
import { answeringLater } from "./store-conformance.js";

const dir = mkdtempSync(path.join(tmpdir(), "weft-durable-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
const stores: Array<[string, () => DurableStore]> = [
  ["memory", () => new MemoryStore()],
  ["sqlite", () => new SqliteStore(path.join(dir, `t${counter++}.db`))],
  // As a store on a server answers: every call a promise, settled on a later turn.
  ["asynchronous", () => answeringLater(new MemoryStore())],
];

describe.each(stores)("durable runs on the %s store", (_name, makeStore) => {
  let store: DurableStore;
  beforeEach(() => {
    store = makeStore();
  });
  afterEach(() => store.close());

  test("a resumed run returns journaled values without running their bodies, and runs the rest", async () => {
    const ran: string[] = [];
    let failOn: string | undefined = "c";
    const step = op({ name: "step" }, async (label: string, x: number) => {
      ran.push(label);
      if (label === failOn) throw new Error(`crash at ${label}`);
      return x + 1;
    });
    const pipeline = jit(async (x: number) => {
      const a = await step("a", x);
      const b = await step("b", a);
      const c = await step("c", b);
      return step("d", c);
    });
    await expect(durable({ run: "r1", store }, () => pipeline(0))).rejects.toThrow(/crash at c/);
    expect(ran).toEqual(["a", "b", "c"]);
    failOn = undefined;
    ran.length = 0;
    expect(await durable({ run: "r1", store }, () => pipeline(0))).toBe(4);
    expect(ran).toEqual(["c", "d"]);
    // Completed: the stored result, nothing runs.
    ran.length = 0;
    expect(await durable({ run: "r1", store }, () => pipeline(0))).toBe(4);
    expect(ran).toEqual([]);
    // The jitted function matches its eager version, op calls included.
    ran.length = 0;
    const eager = async (x: number) => step("d", await step("c", await step("b", await step("a", x))));
    expect(await durable({ run: "r1-eager", store }, () => eager(0))).toBe(4);
    expect(ran).toEqual(["a", "b", "c", "d"]);
  });

  test("eager calls are keyed by call path and ordinal; ops see the run id and a stable idempotency key", async () => {
    const keys: Array<[string | undefined, string | undefined, number]> = [];
    let fail = true;
    const charge = op({ name: "charge", retry: { times: 1, backoff: { initial: 0 } } }, async (amount: number) => {
      const { runId, idempotencyKey, attempt } = getContext();
      keys.push([runId, idempotencyKey, attempt]);
      if (fail && attempt === 1) throw Object.assign(new Error("flaky"), { status: 503 });
      return amount;
    });
    const outer = op({ name: "outer" }, async () => [await charge(1), await charge(2)]);
    expect(await durable({ run: "k", store }, () => outer())).toEqual([1, 2]);
    expect(keys).toEqual([
      ["k", "k:run(k)/outer#0/charge#0", 1],
      ["k", "k:run(k)/outer#0/charge#0", 2],
      ["k", "k:run(k)/outer#0/charge#1", 1],
      ["k", "k:run(k)/outer#0/charge#1", 2],
    ]);
    fail = false;
    keys.length = 0;
    await charge(3);
    expect(keys).toEqual([[undefined, undefined, 1]]);
  });

  test("a node journaled with other inputs runs again rather than returning a stale value", async () => {
    let calls = 0;
    const double = op({ name: "double" }, async (x: number) => {
      calls++;
      return x * 2;
    });
    await expect(
      durable({ run: "inputs", store }, async () => {
        await double(1);
        throw new Error("stop");
      }),
    ).rejects.toThrow("stop");
    expect(await durable({ run: "inputs", store }, () => double(5))).toBe(10);
    expect(calls).toBe(2);
  });

  test("values round-trip faithfully: Dates, typed arrays, Map, Set, bigint, undefined", async () => {
    const value = { at: new Date(Date.UTC(2026, 0, 2)), v: new Float32Array([1.5, 2]), m: new Map([["a", 1n]]), s: new Set([1, 2]), u: undefined, n: NaN };
    let calls = 0;
    // Map and Set are not JSON Schema types: the op returns `unknown`, and the journal keeps them anyway.
    const make = op({ name: "make" }, async (): Promise<unknown> => {
      calls++;
      return value;
    });
    await expect(
      durable({ run: "values", store }, async () => {
        await make();
        throw new Error("stop");
      }),
    ).rejects.toThrow();
    const back = (await durable({ run: "values", store }, () => make())) as typeof value;
    expect(calls).toBe(1);
    expect(back).toEqual(value);
    expect(back.v).toBeInstanceOf(Float32Array);
    expect("u" in back).toBe(true);
    // And the run's own result, after completion.
    expect(await durable({ run: "values", store }, () => make())).toEqual(value);
  });

  test("a value that cannot be stored fails at journal time with a typed error naming the path", async () => {
    const handler = op({ name: "handler" }, async (): Promise<unknown> => ({ name: "h", run: () => 1 }));
    const error = await durable({ run: "bad", store }, () => handler()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnstorableValue);
    expect((error as UnstorableValue).path).toBe("$.run");
    expect((error as Error).message).toMatch(/node run\(bad\)\/handler#0 of run "bad": cannot store the value: a function \(run\) at \$\.run/);
    // The run's own result is checked the same way.
    const result = await durable({ run: "bad-result", store }, async () => Symbol("s")).catch((e: unknown) => e);
    expect(result).toBeInstanceOf(UnstorableValue);
    expect((await store.getRun("bad-result"))?.status).toBe("failed");
  });

  test("the version guard refuses a resume over a changed op, naming what changed, unless forced", async () => {
    const v1 = op({ name: "versioned" }, async (x: number) => x + 1);
    await expect(
      durable({ run: "ver", store }, async () => {
        await v1(1);
        throw new Error("stop");
      }),
    ).rejects.toThrow("stop");
    // "The same op" after a code change: same name, another body and policy.
    const v2 = op({ name: "versioned", retry: { times: 2 } }, async (x: number) => x + 100);
    const error = await durable({ run: "ver", store }, () => v2(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunVersionMismatch);
    expect((error as RunVersionMismatch).changes).toEqual(["op versioned changed: body, policy"]);
    // Forced: journaled values are re-checked against the current schemas (here: none), then used.
    expect(await durable({ run: "ver", store, force: true }, () => v2(1))).toBe(2);
  });

  test("forced over a changed schema, a journaled value the new schema refuses is computed again", async () => {
    let runs = 0;
    const v1 = op({ name: "shape" }, async (x: number): Promise<number> => {
      runs++;
      return x;
    });
    await expect(
      durable({ run: "schema", store }, async () => {
        await v1(1);
        throw new Error("stop");
      }),
    ).rejects.toThrow("stop");
    // The new version returns a string: the journaled number no longer fits.
    const v2 = op({ name: "shape" }, async (x: number): Promise<string> => {
      runs++;
      return `#${x}`;
    });
    const refused = await durable({ run: "schema", store }, () => v2(1)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RunVersionMismatch);
    expect((refused as RunVersionMismatch).changes).toEqual(["op shape changed: body, schema"]);
    expect(await durable({ run: "schema", store, force: true }, () => v2(1))).toBe("#1");
    expect(runs).toBe(2);
  });

  test("a resume over a changed op with a build-time locator is refused before anything runs", async () => {
    // What the transformer injects at an op site: the same module and export in both versions.
    const site = { __weft: 1, locator: { module: `file:///app/ops-${counter++}.js`, export: "rank" } } as const;
    let before = 0;
    const first = op({ name: "first" }, async () => ++before);
    const rank1 = (op as (...a: unknown[]) => typeof first)({ name: "rank" }, async () => 1, site);
    await expect(
      durable({ run: "located", store }, async () => {
        await rank1();
        throw new Error("stop");
      }),
    ).rejects.toThrow("stop");
    // The module is loaded again with another body: the registry now holds the new version.
    const rank2 = (op as (...a: unknown[]) => typeof first)({ name: "rank", timeout: "1s" }, async () => 2, site);
    const error = await durable({ run: "located", store }, async () => [await first(), await rank2()]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunVersionMismatch);
    expect((error as RunVersionMismatch).changes).toEqual(["op rank changed: body, policy"]);
    expect(before).toBe(0);
    expect((await store.getRun("located"))?.owner).toBeUndefined();
  });

  test("a resume is refused when the code no longer defines an op the run used, naming it", async () => {
    const module = `file:///app/removed-${counter++}.js`;
    let kept = 0;
    const keep = (op as (...a: unknown[]) => () => Promise<number>)({ name: "keep" }, async () => ++kept, { __weft: 1, locator: { module, export: "keep" } });
    await expect(
      durable({ run: "removed", store }, async () => {
        await keep();
        throw new Error("stop");
      }),
    ).rejects.toThrow("stop");
    // What a process running the old code (which defined `legacy` beside `keep`) recorded when it called it.
    await store.recordVersion("removed", `op ${module}#legacy`, JSON.stringify({ body: "b", schema: "s", policy: "p", config: "c" }));
    const error = await durable({ run: "removed", store }, () => keep()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunVersionMismatch);
    expect((error as RunVersionMismatch).changes).toEqual([`op legacy removed (the run used ${module}#legacy; this code does not define it)`]);
    expect(kept).toBe(1);
    expect((await store.getRun("removed"))?.status).toBe("failed");
    // Forced, it resumes (the journaled call is not repeated).
    expect(await durable({ run: "removed", store, force: true }, () => keep())).toBe(1);
    expect(kept).toBe(1);
  });

  test("a recorded op whose module is not loaded at the resume is looked for at the run's end", async () => {
    const module = `file:///app/lazy-${counter++}.js`;
    const site = (name: string) => ({ __weft: 1, locator: { module, export: name } });
    const first = op({ name: "early" }, async () => 1);
    await expect(
      durable({ run: "lazy", store }, async () => {
        await first();
        throw new Error("stop");
      }),
    ).rejects.toThrow("stop");
    await store.recordVersion("lazy", `op ${module}#later`, JSON.stringify({ body: "b", schema: "s", policy: "p", config: "c" }));
    // The module never loads: at the end the op is still missing, and the run does not complete.
    const error = await durable({ run: "lazy", store }, () => first()).catch((e: unknown) => e);
    expect((error as RunVersionMismatch).changes).toEqual([`op later removed (the run used ${module}#later; this code does not define it)`]);
    expect((await store.getRun("lazy"))?.status).toBe("failed");
    // The run loads the module itself (a dynamic import): the op is there, the run completes.
    const result = await durable({ run: "lazy", store }, async () => {
      (op as (...a: unknown[]) => unknown)({ name: "later" }, async () => 2, site("later"));
      return first();
    });
    expect(result).toBe(1);
    expect((await store.getRun("lazy"))?.status).toBe("completed");
  });

  test("withContext({ run }) drives the block as a durable run, with the rest of its context inside", async () => {
    configureDurable({ store });
    try {
      const seen: Array<[string | undefined, string | undefined, string | undefined, unknown]> = [];
      let failAt: string | undefined = "b";
      const step = op({ name: "wstep" }, async (label: string) => {
        const { runId, idempotencyKey, tenant, config } = getContext();
        seen.push([runId, idempotencyKey, tenant, config.model]);
        if (label === failAt) throw new Error(`crash at ${label}`);
        return label.toUpperCase();
      });
      const block = () => withContext({ run: "wc", tenant: "acme", config: { model: "small" } }, async () => [await step("a"), await step("b")]);
      await expect(block()).rejects.toThrow("crash at b");
      expect(seen).toEqual([
        ["wc", "wc:run(wc)/wstep#0", "acme", "small"],
        ["wc", "wc:run(wc)/wstep#1", "acme", "small"],
      ]);
      failAt = undefined;
      seen.length = 0;
      expect(await block()).toEqual(["A", "B"]);
      // Resumed: the journaled first step did not run again.
      expect(seen.map((s) => s[1])).toEqual(["wc:run(wc)/wstep#1"]);
      seen.length = 0;
      expect(await block()).toEqual(["A", "B"]);
      expect(seen).toEqual([]);
      // The same run as durable({ run }) drives: it is completed there too.
      expect(await durable({ run: "wc", store }, async () => "not run")).toEqual(["A", "B"]);
      await expect(withContext({ run: "" }, () => 1)).rejects.toThrow(/withContext: run must be a non-empty string/);
      expect(() => withContext({ runId: "x" } as never, () => 1)).toThrow(/unknown option "runId"/);
    } finally {
      configureDurable({ path: path.join(dir, "default.db") });
    }
  });

  test("the version guard refuses a resume over a changed plan", async () => {
    const a = op({ name: "pa" }, async (x: number) => x + 1);
    let stop = true;
    const f1 = jit(async (x: number) => {
      const y = await a(x);
      return a(y);
    }, { name: "planned" });
    await expect(
      durable({ run: "plan", store }, async () => {
        const y = await f1(1);
        if (stop) throw new Error("stop");
        return y;
      }),
    ).rejects.toThrow("stop");
    stop = false;
    const f2 = jit(async (x: number) => a(x), { name: "planned" });
    const error = await durable({ run: "plan", store }, () => f2(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunVersionMismatch);
    expect((error as Error).message).toMatch(/plan of run\(plan\)\/jit\(planned\)#0 changed: graph/);
  });

  test("the same run cannot be driven twice at once", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = durable({ run: "busy", store }, () => gate);
    const error = await durable({ run: "busy", store }, async () => 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunLocked);
    release();
    await first;
    expect((await store.getRun("busy"))?.status).toBe("completed");
  });

  test("a batch item that fails after its retries becomes a dead letter, and a replay runs only the failed items", async () => {
    let broken = new Set([3, 7]);
    const runs: number[] = [];
    const score = op({ name: "score", retry: { times: 1, backoff: { initial: 0 } } }, async (x: number) => {
      runs.push(x);
      if (broken.has(x)) throw Object.assign(new Error(`bad item ${x} with key sk-abcdefghijklmnop`), { status: 503 });
      return x * 10;
    });
    const all = Array.from({ length: 10 }, (_, i) => i);
    const first = await durable({ run: "dlq", store }, () => vmap(score, { onError: "collect" })(all));
    expect(first.filter((r) => !r.ok).map((r) => r.index)).toEqual([3, 7]);
    const letters = await deadLetters({ store, run: "dlq" });
    expect(letters.map((d) => [d.index, d.input, d.attempts, d.errorType, d.status])).toEqual([
      [3, [3], 2, "OpError", "open"],
      [7, [7], 2, "OpError", "open"],
    ]);
    expect(letters[0]!.node).toBe("run(dlq)/vmap(score)#0");
    expect(letters[0]!.error).toMatch(/bad item 3 with key \[redacted\]/);
    expect((await listRuns({ store })).find((r) => r.id === "dlq")).toMatchObject({ status: "completed", deadLetters: 2 });

    broken = new Set();
    runs.length = 0;
    const replayed = await replayDeadLetters({ run: "dlq", store }, () => vmap(score, { onError: "collect" })(all));
    expect(runs.sort()).toEqual([3, 7]);
    expect(replayed.every((r) => r.ok)).toBe(true);
    expect((await deadLetters({ store, run: "dlq" })).map((d) => d.status)).toEqual(["replayed", "replayed"]);
  });

  test("approvals: the policy allows or denies before the body, and every decision is recorded", async () => {
    const bodies: number[] = [];
    const wire = op({ name: "wire", risk: "high" }, async (amount: number) => {
      bodies.push(amount);
      return `sent ${amount}`;
    });
    const policy = (_op: unknown, args: readonly unknown[]) => ((args[0] as number) > 100 ? "deny" : "allow") as "allow" | "deny";
    expect(await durable({ run: "ok", store, approvals: policy }, () => wire(5))).toBe("sent 5");
    const denied = await durable({ run: "no", store, approvals: policy }, () => wire(500)).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(ApprovalDenied);
    expect(bodies).toEqual([5]);
    // Both requests may fall in the same millisecond, where the store orders by key: compare as a set.
    const log = (await approvals({ store, all: true })).map((a) => [a.run, a.key, a.status, a.by]);
    expect(log).toHaveLength(2);
    expect(log).toEqual(
      expect.arrayContaining([
        ["ok", "run(ok)/wire#0", "allowed", "policy"],
        ["no", "run(no)/wire#0", "denied", "policy"],
      ]),
    );
  });
});

describe("outside a durable run", () => {
  const store = new MemoryStore();
  const now = { t: 1_000_000 };
  beforeEach(() => {
    configureDurable({ store, clock: { now: () => now.t } });
    resetCacheStats();
  });
  afterAll(() => configureDurable({ path: path.join(dir, "default.db") }));

  test("an op with cache { ttl } serves hits without its body until the TTL passes; clearing empties it", async () => {
    let calls = 0;
    const embed = op({ name: "embed", cache: { ttl: "1m" } }, async (text: string) => {
      calls++;
      return [text.length, calls];
    });
    expect(await embed("hello")).toEqual([5, 1]);
    expect(await embed("hello")).toEqual([5, 1]);
    expect(await embed("other")).toEqual([5, 2]);
    expect(calls).toBe(2);
    expect(cacheStats()).toMatchObject({ hits: 1, misses: 2 });
    now.t += 61_000;
    expect(await embed("hello")).toEqual([5, 3]);
    expect(await clearCache(embed)).toBe(2);
    expect(await embed("hello")).toEqual([5, 4]);
  });

  test("the cache key includes the config that changes results (model, temperature, seed) but not other config", async () => {
    let calls = 0;
    const ask = op({ name: "ask", cache: { ttl: 60_000 }, config: { model: "small" } }, async (q: string) => {
      calls++;
      return `${getContext().config.model as string}: ${q}`;
    });
    await ask("q");
    await ask.with({ config: { model: "large" } })("q");
    await ask.with({ config: { model: "small", logLevel: "debug" } })("q");
    expect(calls).toBe(2);
  });

  test("only ops that opt in are cached; pure ops when pure caching is on, unless cache: false", async () => {
    let calls = 0;
    const plain = op({ name: "plain" }, async (x: number) => ++calls + x);
    const pure = op({ name: "purely", kind: "pure" }, (x: number) => ++calls + x);
    const never = op({ name: "never", kind: "pure", cache: false }, (x: number) => ++calls + x);
    await plain(1);
    await plain(1);
    await pure(1);
    await pure(1);
    expect(calls).toBe(4);
    configureDurable({ cachePure: true });
    try {
      calls = 0;
      await pure(2);
      await pure(2);
      await never(2);
      await never(2);
      expect(calls).toBe(3);
    } finally {
      configureDurable({ cachePure: false });
    }
  });

  test("a cached value that cannot be stored fails with a typed error", async () => {
    const bad = op({ name: "bad-cache", cache: { ttl: 1000 } }, async (): Promise<unknown> => () => 1);
    await expect(bad()).rejects.toBeInstanceOf(UnstorableValue);
  });

  test("a risky op whose policy asks for approval needs a durable run to wait in", async () => {
    const wire = op({ name: "wire2", risk: "high" }, async (amount: number) => amount);
    const error = await wire(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApprovalRequired);
  });

  test("unknown options are errors", async () => {
    await expect(durable({ run: "x", nope: 1 } as never, () => 1)).rejects.toThrow(/unknown option "nope"/);
    expect(() => configureDurable({ nope: 1 } as never)).toThrow(/unknown option "nope"/);
    // Caught where the op is defined, by the one option parser.
    expect(() => op({ name: "bad-ttl", cache: { ttl: 10, size: 3 } as never }, async () => 1)).toThrow(/unknown option "size" in cache/);
  });
});
