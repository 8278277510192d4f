import { describe, expect, it } from "vitest";
import { check, IRError, verify } from "../../compiler/check.js";
import { GraphBuilder, graphOf, make, type Graph, type Node } from "../../compiler/ir.js";
import { desc } from "./fixtures.js";

const fetchText = desc("fetchText", "io");
const tokenize = desc("tokenize", "cpu");
const upper = desc("upper", "pure");

/** A well-formed graph: input, const, io op, get, cpu op, pack, output. */
function good(): Graph {
  const b = new GraphBuilder();
  const q = b.input();
  const lang = b.constant("en");
  const page = b.op(fetchText, [q, lang]);
  const text = b.get(page, "text");
  const toks = b.op(tokenize, [text]);
  return b.output(b.pack({ kind: "array", items: [{ kind: "hole", index: 0 }, { kind: "hole", index: 1 }] }, [toks, page]));
}

/** `good()` with each node replaced by what `patch` returns for it (itself when `undefined`). */
function broken(patch: (n: Node) => Node | Node[] | undefined, g: Graph = good()): Graph {
  return { ...g, nodes: g.nodes.flatMap((n) => patch(n) ?? n) };
}

describe("IR checker", () => {
  it("accepts a well-formed graph, including nested subgraphs", () => {
    expect(check(good())).toEqual([]);
    const b = new GraphBuilder();
    const xs = b.input();
    const m = b.map(xs, [], b.subgraph(2, (body, [item]) => body.op(upper, [item!])));
    expect(check(b.output(m))).toEqual([]);
  });

  it("reports an input that refers to a node not in the graph", () => {
    const g = broken((n) => (n.id === 3 ? make.get(3, 42, "text") : undefined));
    expect(check(g)).toEqual(["%3 get: input %42 is not in this graph"]);
  });

  it("reports an input defined later (the nodes are not in topological order)", () => {
    const g = good();
    const [a, b, c, d, ...rest] = g.nodes;
    expect(check({ ...g, nodes: [a!, b!, d!, c!, ...rest] })).toEqual(["%3 get: input %2 is used before it is defined"]);
  });

  it("reports a node reading itself", () => {
    expect(check(broken((n) => (n.id === 3 ? make.get(3, 3, "text") : undefined)))).toEqual(["%3 get: input %3 is used before it is defined"]);
  });

  it("reports duplicate ids", () => {
    const g = broken((n) => (n.id === 3 ? [n, make.get(3, 2, "status")] : undefined));
    expect(check(g)).toContain("%3 get: duplicate id");
  });

  it("reports duplicate ids across a graph and its subgraphs", () => {
    const body = graphOf([make.input(0, 0), make.input(9, 1), make.output(10, 0)], 2);
    const g = graphOf([make.input(0, 0), make.map(1, 0, [], body), make.output(2, 1)], 1);
    expect(check(g)).toEqual(["%1 map [body] > %0 input: duplicate id"]);
  });

  it("reports ids that are not non-negative integers", () => {
    expect(check(broken((n) => (n.id === 3 ? { ...n, id: -1 } : undefined)))).toEqual([
      "graph: node at position 3: id must be a non-negative integer, got -1",
      "%4 op tokenize: input %3 is not in this graph",
    ]);
  });

  it("reports a graph without an output node", () => {
    const g = good();
    expect(check({ ...g, nodes: g.nodes.slice(0, -1) })).toEqual(["graph: no output node"]);
  });

  it("reports two output nodes, and one that is not last", () => {
    const g = good();
    const extra = make.output(99, 4);
    expect(check({ ...g, nodes: [...g.nodes.slice(0, -1), extra, g.nodes.at(-1)!] })).toEqual(["%99 output: not the last node", "graph: 2 output nodes (%99, %6)"]);
  });

  it("reports graph.output naming the wrong node", () => {
    expect(check({ ...good(), output: 4 })).toEqual(["graph: output is %4 but the output node is %6"]);
  });

  it("reports input indices that are missing, duplicated or out of range", () => {
    const g = graphOf([make.input(0, 0), make.input(1, 0), make.input(2, 5), make.output(3, 0)], 2);
    expect(check(g)).toEqual(["%1 input: index 0 is already taken by %0", "%2 input: index 5 is out of range (arity 2)", "graph: no input node for index 1"]);
  });

  it("reports a negative arity", () => {
    expect(check({ ...good(), arity: -1 })).toEqual(["graph: arity must be a non-negative integer, got -1"]);
  });

  it("reports structural arity errors", () => {
    const g = broken((n) => {
      if (n.id === 1) return { ...n, inputs: [0] };
      if (n.id === 3) return { ...n, inputs: [2, 1] };
      if (n.id === 6) return { ...n, inputs: [] };
      return undefined;
    });
    expect(check(g)).toEqual(["%1 const: expected 0 inputs, got 1", "%3 get: expected 1 input, got 2", "%6 output: expected 1 input, got 0"]);
  });

  it("reports an op effect that does not match the op's kind", () => {
    expect(check(broken((n) => (n.id === 2 ? { ...n, effect: "pure" } : undefined)))).toEqual(['%2 op fetchText: effect "pure", expected "io"']);
  });

  it("reports a structural node tagged with an effect", () => {
    expect(check(broken((n) => (n.id === 3 ? { ...n, effect: "cpu" } : undefined)))).toEqual(['%3 get: effect "cpu", expected "pure"']);
  });

  it("reports a nested node whose effect hides an io op in its body", () => {
    const body = graphOf([make.input(10, 0), make.input(11, 1), make.op(12, fetchText, [10]), make.output(13, 12)], 2);
    const m = { ...make.map(1, 0, [], body), effect: "pure" as const };
    expect(check(graphOf([make.input(0, 0), m, make.output(2, 1)], 1))).toEqual(['%1 map: effect "pure", expected "io"']);
  });

  it("reports unknown node kinds", () => {
    const g = broken((n) => (n.id === 3 ? ({ ...n, kind: "peek" } as unknown as Node) : undefined));
    expect(check(g)).toEqual(['%3 peek: unknown kind "peek"']);
  });

  it("reports a pack template that reads a missing input or ignores one", () => {
    const g = broken((n) => (n.id === 5 ? make.pack(5, { kind: "array", items: [{ kind: "hole", index: 0 }, { kind: "hole", index: 2 }] }, [4, 2]) : undefined));
    expect(check(g)).toEqual(["%5 pack: template hole 2 is out of range (2 inputs)", "%5 pack: input 1 (%2) is not used by the template"]);
  });

  it("reports a call without a receiver and a get with a bad key", () => {
    const g = broken((n) => {
      if (n.id === 3) return { ...make.get(3, 2, "text"), key: true } as unknown as Node;
      return undefined;
    });
    expect(check(g)).toEqual(["%3 get: key must be a string or a number, got boolean"]);
    const call = { ...make.call(3, 2, "trim", []), inputs: [] };
    expect(check(broken((n) => (n.id === 3 ? call : n.id === 4 ? make.op(4, tokenize, [2]) : undefined)))).toEqual(["%3 call: expected a receiver input"]);
  });

  it("checks op arity against typed descriptors only", () => {
    const typed = desc("score", "pure", { typed: true, params: [{ name: "answer" }, { name: "rubric", optional: true }] });
    const rest = desc("concat", "pure", { typed: true, params: [{ name: "first" }, { name: "more", rest: true }] });
    const g = graphOf(
      [make.input(0, 0), make.op(1, typed, []), make.op(2, typed, [0, 0, 0]), make.op(3, typed, [0, 0]), make.op(4, rest, []), make.op(5, rest, [0, 0, 0]), make.op(6, upper, [0, 0, 0]), make.output(7, 1)],
      1,
    );
    expect(check(g)).toEqual(["%1 op score: called with 0 arguments, expected 1 to 2", "%2 op score: called with 3 arguments, expected 1 to 2", "%4 op concat: called with 0 arguments, expected at least 1"]);
  });

  it("counts `this` apart from the arguments of a method op", () => {
    const method = desc("score", "io", { typed: true, params: [{ name: "answer" }] });
    const g = graphOf([make.input(0, 0), make.const(1, {}), make.op(2, method, [1, 0], { self: true }), make.op(3, method, [], { self: true }), make.output(4, 2)], 1);
    expect(check(g)).toEqual(["%3 op score: self is set but there is no input for this"]);
  });

  it("reports placements an op may not have", () => {
    const pinned = desc("parse", "cpu", { policy: { placement: "inline" } });
    const g = graphOf(
      [
        make.input(0, 0),
        { ...make.op(1, fetchText, [0]), placement: "worker" },
        { ...make.op(2, pinned, [0]), placement: "worker" },
        { ...make.op(3, tokenize, [0]), placement: "async" },
        { ...make.op(4, tokenize, [0]), placement: "worker" },
        make.output(5, 4),
      ],
      1,
    );
    expect(check(g)).toEqual([
      '%1 op fetchText: placement "worker", expected "async" (io op)',
      '%2 op parse: placement "worker", expected "inline" (the op\'s policy)',
      '%3 op tokenize: placement "async", expected "inline" or "worker" (sync op)',
    ]);
  });

  it("checks cond branches against the captures, with the path to a nested issue", () => {
    const then = graphOf([make.input(10, 0), make.get(11, 99, "x"), make.output(12, 10)], 1);
    const otherwise = graphOf([make.input(20, 0), make.input(21, 1), make.output(22, 20)], 2);
    const g = graphOf([make.input(0, 0), make.input(1, 1), make.cond(2, 0, [1], then, otherwise), make.output(3, 2)], 2);
    expect(check(g)).toEqual(["%2 cond: else branch takes 2 inputs, the cond passes 1", "%2 cond [then] > %11 get: input %99 is not in this graph"]);
  });

  it("checks a map body's arity and concurrency", () => {
    const body = graphOf([make.input(10, 0), make.output(11, 10)], 1);
    const g = graphOf([make.input(0, 0), make.map(1, 0, [], body, { concurrency: 0 }), make.output(2, 1)], 1);
    expect(check(g)).toEqual(["%1 map: body takes 1 input, the map passes 2 (item, index, 0 captures)", "%1 map: concurrency must be a positive integer, got 0"]);
  });

  it("reports members a fused body may not hold", () => {
    const body = graphOf([make.input(10, 0), make.op(11, fetchText, [10]), make.op(12, tokenize, [11]), make.output(13, 12)], 1);
    const g = graphOf([make.input(0, 0), make.fused(1, [0], body), make.output(2, 1)], 1);
    expect(check(g)).toEqual(["%1 fused: member %11 op fetchText cannot be fused (io op)"]);
  });

  it("lists every issue in graph order, and verify throws them with the pass name", () => {
    const g = broken((n) => (n.id === 3 ? make.get(3, 42, "text") : n.id === 4 ? { ...n, effect: "io" } : undefined));
    expect(() => verify(g, "cse")).toThrowError(
      new IRError(["%3 get: input %42 is not in this graph", '%4 op tokenize: effect "io", expected "cpu"'], "cse"),
    );
    expect(() => verify(g, "cse")).toThrow('IR check failed after cse:\n  %3 get: input %42 is not in this graph\n  %4 op tokenize: effect "io", expected "cpu"');
    const fine = good();
    expect(verify(fine)).toBe(fine);
  });
});
