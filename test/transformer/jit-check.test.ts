import { describe, expect, it } from "vitest";
import * as ts from "typescript";
import { untraceableUses } from "../../transformers/jit-check.js";

/** The uses flagged in the first function of `source`, by the check alone (where build-time staging does not run). */
function check(source: string, staticParams: number[] = [], staged = false) {
  const file = ts.createSourceFile("f.ts", source, ts.ScriptTarget.ES2022, true);
  let fn: ts.FunctionLikeDeclaration | undefined;
  const find = (n: ts.Node): void => {
    if (!fn && (ts.isArrowFunction(n) || ts.isFunctionDeclaration(n) || ts.isFunctionExpression(n))) fn = n;
    ts.forEachChild(n, find);
  };
  find(file);
  return untraceableUses(ts, fn!, staticParams, undefined, undefined, staged).map((u) => `${u.line}:${u.column} ${u.reason}`);
}

describe("the jit check finds what a tracer cannot see", () => {
  it("accepts straight-line glue: op calls, property reads, destructuring, object building", () => {
    expect(
      check(`async (q: string) => {
        const a = await draft(q);
        const { text } = await critique(a.text, q);
        return { answer: await merge(a, text), question: q };
      }`),
    ).toEqual([]);
  });

  it("flags if, ?:, switch and loops on a parameter or an awaited value", () => {
    expect(
      check(`async (q: string) => {
        const r = await classify(q);
        if (r.isMath) return solve(q);
        const x = r.score ? 1 : 2;
        switch (r.kind) { case "a": break; }
        while (r.more) {}
        return x;
      }`),
    ).toEqual([
      "3:13 branches on a traced value (if)",
      "4:19 branches on a traced value (?:)",
      "5:17 branches on a traced value (switch)",
      "6:16 branches on a traced value (loop condition)",
    ]);
  });

  it("flags truthiness, short circuits, equality and typeof", () => {
    expect(
      check(`async (q) => {
        const r = await classify(q);
        const a = !r;
        const b = r.x && other();
        const c = r.y ?? "default";
        const d = r.kind === "math";
        const e = typeof r;
        return [a, b, c, d, e];
      }`),
    ).toEqual([
      "3:19 tests the truthiness of a traced value (!)",
      "4:19 branches on a traced value (&&)",
      "5:19 branches on a traced value (??)",
      "6:19 compares a traced value (===)",
      "7:19 tests the type of a traced value (typeof)",
    ]);
  });

  it("with staging, flags nothing it rewrites: ?:, !, ===, ?., ??, templates, if, try/catch", () => {
    expect(
      check(
        `async (q) => {
        const r = await classify(q);
        const a = !r || r.kind === "math" ? \`\${r?.label ?? "none"}\` : typeof r;
        if (r.ok) return a;
        try { await fetchIt(q); } catch {}
        return a;
      }`,
        [],
        true,
      ),
    ).toEqual([]);
  });

  it("with staging, refuses an if whose branches would run differently when both are traced", () => {
    expect(
      check(
        `async (q) => {
        const r = await classify(q);
        const out = { y: {} };
        let n = 0;
        const read = () => n;
        if (r.a) out.y.x = 1;
        if (r.b) n = 2;
        for (const k of q.list) { if (r.c) break; }
        if (r.d) throw new Error("no");
        if (r.e) { var v = 1; }
        let fine = "";
        if (r.f) { fine = await fetchIt(q); } else if (r.g) { return fine; }
        return [out, read(), fine];
      }`,
        [],
        true,
      ),
    ).toEqual([
      "6:13 branches on a traced value (if)",
      "7:13 branches on a traced value (if)",
      "8:39 branches on a traced value (if)",
      "9:13 branches on a traced value (if)",
      "10:13 branches on a traced value (if)",
    ]);
  });

  it("with staging, refuses a try with finally, an unawaited return or outer mutation", () => {
    expect(
      check(
        `async (q) => {
        const out = {};
        try { await fetchIt(q); } finally { await done(q); }
        try { return fetchIt(q); } catch { return 1; }
        try { out.a = await fetchIt(q); } catch {}
        try { const x = await fetchIt(q); if (x) return x; return "no"; } catch (e) { return e.message; }
        return out;
      }`,
        [],
        true,
      ),
    ).toEqual(["3:9 handles failures of op calls with try/catch", "4:9 handles failures of op calls with try/catch", "5:9 handles failures of op calls with try/catch"]);
  });

  it("follows taint through assignments and destructuring, but not into unrelated locals", () => {
    expect(
      check(`async (q) => {
        const limit = 3;
        if (limit > 2) log("static branch is fine");
        let v;
        v = await fetchIt(q);
        const [first] = [v];
        if (first) return 1;
        return 0;
      }`),
    ).toEqual(["7:13 branches on a traced value (if)"]);
  });

  it("does not flag branches on static parameters", () => {
    expect(check(`async (q, mode) => { if (mode === "fast") return fast(q); return slow(q); }`, [1])).toEqual([]);
    expect(check(`async (q, mode) => { if (mode === "fast") return fast(q); return slow(q); }`)).toEqual(["1:26 branches on a traced value (if)", "1:26 compares a traced value (===)"]);
  });

  it("treats map() callback parameters as traced", () => {
    expect(check(`async (q) => map(await list(q), (item) => (item.ok ? a(item) : b(item)))`)).toEqual(["1:44 branches on a traced value (?:)"]);
  });

  it("does not mistake a property named like a traced variable for the variable", () => {
    expect(check(`async (q) => { const o = { q: 1 }; if (o.q) return 1; return 2; }`)).toEqual([]);
  });
});
