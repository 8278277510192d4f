import { describe, expect, it } from "vitest";
import { diffSignatures, PlanCache, signatureOf } from "../../compiler/cache.js";

const key = (...args: unknown[]) => signatureOf(args).key;

describe("signatureOf", () => {
  it("describes structure and types, not values", () => {
    expect(key("q", { b: ["x", "y"], a: 1 })).toBe("[string, {a: number, b: [string, string]}]");
    expect(key("other", { a: 2, b: ["z", "w"] })).toBe(key("q", { b: ["x", "y"], a: 1 }));
    expect(key(null, undefined, true, 1n, Symbol("s"))).toBe("[null, undefined, boolean, bigint, symbol]");
  });

  it("tells apart array lengths, and prints long uniform arrays compactly", () => {
    expect(key(["a", "b"])).not.toBe(key(["a", "b", "c"]));
    expect(key(["a", "b", "c", "d", "e"])).toBe("[string[5]]");
    expect(key([1, "a", 2, 3, 4])).toBe("[[number, string, number, number, number]]");
    expect(key([[1, 2], [3, 4], [5, 6], [7, 8], [9, 0]])).toBe("[[number, number][5]]");
  });

  it("keys typed arrays by constructor and length, class instances by class identity", () => {
    expect(key(new Float64Array(3), new Uint8Array(2))).toBe("[Float64Array(3), Uint8Array(2)]");
    class Judge {}
    const Other = (() => class Judge {})();
    const a = key(new Judge());
    expect(a).toBe(key(new Judge()));
    expect(key(new Other())).not.toBe(a);
    expect(key(new Map())).toBe("[<Map>]");
  });

  it("keys functions by identity: tracing may have called them", () => {
    const f = () => 1;
    const g = () => 1;
    expect(key(f)).toBe(key(f));
    expect(key(f)).not.toBe(key(g));
  });

  it("detects cycles", () => {
    const node: { name: string; next?: unknown } = { name: "a" };
    node.next = node;
    expect(key(node)).toBe("[{name: string, next: ^1}]");
    const list: unknown[] = [1];
    list.push({ back: list });
    expect(key(list)).toBe("[[number, {back: ^2}]]");
  });

  it("keys static arguments by value, and non-data statics by identity", () => {
    expect(signatureOf(["q", "gpt-4"], [1]).key).toBe('[string, static "gpt-4"]');
    expect(signatureOf(["q", { b: 1, a: [true] }], [1]).key).toBe('[string, static {"a":[true],"b":1}]');
    expect(signatureOf(["q", { a: 1, b: 2 }], [1]).key).toBe(signatureOf(["q", { b: 2, a: 1 }], [1]).key);
    expect(signatureOf([-0], [0]).key).toBe("[static -0]");
    const judge = new (class Judge {})();
    expect(signatureOf([judge], [0]).key).toBe(signatureOf([judge], [0]).key);
    expect(signatureOf([judge], [0]).key).not.toBe(signatureOf([new (class Judge {})()], [0]).key);
  });
});

describe("diffSignatures", () => {
  it("names each differing path", () => {
    const cached = signatureOf(["q", { a: "x", b: [1, 2], c: 1 }]);
    const got = signatureOf([1, { a: 1, b: [1, 2, 3], d: 1 }, "extra"]);
    expect(diffSignatures(cached, got)).toEqual([
      "arguments: cached 2, got 3",
      "argument 0: cached string, got number",
      "argument 1.a: cached string, got number",
      "argument 1.b: cached 2 items, got 3",
      "argument 1.c: cached number, got nothing",
      "argument 1.d: cached nothing, got number",
    ]);
    expect(diffSignatures(cached, cached)).toEqual([]);
  });
});

describe("PlanCache", () => {
  it("hits on an equal signature and counts hits and misses", () => {
    const cache = new PlanCache<string>();
    const sig = signatureOf(["q"]);
    expect(cache.get(sig)).toBeUndefined();
    cache.set(sig, "plan");
    expect(cache.get(signatureOf(["other"]))).toBe("plan");
    expect(cache.stats).toEqual({ hits: 1, misses: 1, evictions: 0 });
    expect(cache.explain(sig)).toBe("hit: a plan is cached for [string]");
  });

  it("evicts the least recently used entry and says so", () => {
    const cache = new PlanCache<number>({ max: 2 });
    const a = signatureOf(["a"]);
    const b = signatureOf([1]);
    const c = signatureOf([true]);
    cache.set(a, 1);
    cache.set(b, 2);
    cache.get(a);
    cache.set(c, 3);
    expect(cache.has(a)).toBe(true);
    expect(cache.has(b)).toBe(false);
    expect(cache.size).toBe(2);
    expect(cache.stats.evictions).toBe(1);
    expect(cache.explain(b)).toBe("miss: the plan for [number] was evicted (least recently used; the cache holds 2)");
    cache.set(b, 2);
    expect(cache.explain(b)).toBe("hit: a plan is cached for [number]");
  });

  it("explains a miss against the nearest cached signature", () => {
    const cache = new PlanCache<number>();
    expect(cache.explain(signatureOf(["q"]))).toBe("miss: nothing is cached yet; first call for [string]");
    cache.set(signatureOf(["q", { a: 1, b: ["x", "y"] }]), 1);
    cache.set(signatureOf([1, 2, 3]), 2);
    expect(cache.explain(signatureOf(["q", { a: 1, b: ["x", 2] }]))).toBe(
      "miss: no plan for [string, {a: number, b: [string, number]}]; nearest cached [string, {a: number, b: [string, string]}] differs at argument 1.b[1]: cached string, got number",
    );
    expect(cache.explain(signatureOf([{ w: 1, x: 1, y: 1, z: 1 }, 2, 3]))).toBe(
      "miss: no plan for [{w: number, x: number, y: number, z: number}, number, number]; nearest cached [number, number, number] differs at argument 0: cached number, got {w: number, x: number, y: number, z: number}",
    );
    expect(cache.explain(signatureOf([{}, "", "", ""]))).toBe(
      "miss: no plan for [{}, string, string, string]; nearest cached [string, {a: number, b: [string, string]}] differs at arguments: cached 2, got 4; argument 0: cached string, got {}; argument 1: cached {a: number, b: [string, string]}, got string",
    );
    const one = new PlanCache<number>();
    one.set(signatureOf([1, 2, 3]), 1);
    expect(one.explain(signatureOf([{}, "", "", ""]))).toBe(
      "miss: no plan for [{}, string, string, string]; nearest cached [number, number, number] differs at arguments: cached 3, got 4; argument 0: cached number, got {}; argument 1: cached number, got string; and 1 more",
    );
  });

  it("rejects a size that is not a positive integer, and clears", () => {
    expect(() => new PlanCache({ max: 0 })).toThrow("PlanCache: max must be a positive integer, got 0");
    const cache = new PlanCache<number>();
    cache.set(signatureOf([1]), 1);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.stats).toEqual({ hits: 0, misses: 0, evictions: 0 });
  });
});
