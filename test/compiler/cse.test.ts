import { describe, expect, it } from "vitest";
import { check } from "../../compiler/check.js";
import { GraphBuilder, type Graph } from "../../compiler/ir.js";
import { cse } from "../../compiler/passes/cse.js";
import { printText } from "../../compiler/print.js";
import { desc } from "./fixtures.js";

const fetchText = desc("fetchText", "io");
const tokenize = desc("tokenize", "cpu");
const upper = desc("upper", "pure");
const score = desc("score", "pure");

function optimised(g: Graph): string {
  const out = cse(g);
  expect(check(out)).toEqual([]);
  return printText(out);
}

describe("cse", () => {
  it("returns the same graph when nothing repeats", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const g = b.output(b.op(upper, [b.get(q, "text")]));
    expect(cse(g)).toBe(g);
  });

  it("merges repeated property reads and the pure calls on them", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const a = b.op(upper, [b.get(q, "text")]);
    const c = b.op(upper, [b.get(q, "text")]);
    const g = b.output(b.pack({ kind: "array", items: [{ kind: "hole", index: 0 }, { kind: "hole", index: 1 }] }, [a, c]));
    expect(optimised(g)).toBe(["graph(%0) {", "  %1 = get %0.text", "  %2 = op upper(%1)  # pure", "  %5 = pack [%2, %2]", "  return %5", "}"].join("\n"));
  });

  it("merges consts by value for primitives (keeping -0 apart) and by identity for objects", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const shared = { model: "m" };
    const consts = ["en", "en", 1, "1", 0, -0, shared, shared, { model: "m" }].map((v) => b.constant(v));
    const calls = consts.map((c) => b.op(score, [q, c]));
    const g = b.output(b.pack({ kind: "array", items: calls.map((_, index) => ({ kind: "hole" as const, index })) }, calls));
    const out = cse(g);
    expect(check(out)).toEqual([]);
    const kept = out.nodes.filter((n) => n.kind === "const").map((n) => (n.kind === "const" ? n.value : undefined));
    expect(kept).toEqual(["en", 1, "1", 0, -0, shared, { model: "m" }]);
    expect(out.nodes.filter((n) => n.kind === "op")).toHaveLength(7);
  });

  it("never merges io or cpu calls: eager code makes each one", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const a = b.op(fetchText, [q]);
    const c = b.op(fetchText, [q]);
    const t1 = b.op(tokenize, [q]);
    const t2 = b.op(tokenize, [q]);
    const g = b.output(b.pack({ kind: "array", items: [0, 1, 2, 3].map((index) => ({ kind: "hole" as const, index })) }, [a, c, t1, t2]));
    expect(cse(g)).toBe(g);
  });

  it("never merges packs or method calls: each literal or split() is a fresh object", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const t = { kind: "array", items: [{ kind: "hole", index: 0 }] } as const;
    const p1 = b.pack(t, [q]);
    const p2 = b.pack(t, [q]);
    const s1 = b.call(q, "split");
    const s2 = b.call(q, "split");
    const g = b.output(b.pack({ kind: "array", items: [0, 1, 2, 3].map((index) => ({ kind: "hole" as const, index })) }, [p1, p2, s1, s2]));
    expect(cse(g)).toBe(g);
  });

  it("merges pure method calls only on the same `this`", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const j1 = b.constant({ name: "judge1" });
    const j2 = b.constant({ name: "judge2" });
    const calls = [b.op(score, [q], { self: j1 }), b.op(score, [q], { self: j1 }), b.op(score, [q], { self: j2 })];
    const g = b.output(b.pack({ kind: "array", items: [0, 1, 2].map((index) => ({ kind: "hole" as const, index })) }, calls));
    expect(cse(g).nodes.filter((n) => n.kind === "op").map((n) => n.inputs)).toEqual([
      [1, 0],
      [2, 0],
    ]);
  });

  it("merges inside a map body on its own, not with the enclosing graph", () => {
    const b = new GraphBuilder();
    const xs = b.input();
    const outer = b.get(xs, "length");
    const m = b.map(
      xs,
      [],
      b.subgraph(2, (body, [item]) => body.pack({ kind: "array", items: [{ kind: "hole", index: 0 }, { kind: "hole", index: 1 }] }, [body.get(item!, "length"), body.get(item!, "length")])),
    );
    const g = b.output(b.pack({ kind: "array", items: [{ kind: "hole", index: 0 }, { kind: "hole", index: 1 }] }, [outer, m]));
    expect(optimised(g)).toBe(
      [
        "graph(%0) {",
        "  %1 = get %0.length",
        "  %8 = map %0",
        "    body(%2, %3) {",
        "      %4 = get %2.length",
        "      %6 = pack [%4, %4]",
        "      return %6",
        "    }",
        "  %9 = pack [%1, %8]",
        "  return %9",
        "}",
      ].join("\n"),
    );
  });
});
