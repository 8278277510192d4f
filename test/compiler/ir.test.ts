import { describe, expect, it } from "vitest";
import { distinct, fillTemplate, graphEffect, GraphBuilder, IdMap, joinEffect, make, mapHoles, maxId, templateHoles, templateOf, update, type Template } from "../../compiler/ir.js";
import { desc } from "./fixtures.js";

const fetchText = desc("fetchText", "io");
const tokenize = desc("tokenize", "cpu");

describe("IR nodes", () => {
  it("returns the same node when an update changes nothing", () => {
    const n = make.op(3, tokenize, [1, 2]);
    expect(update(n, { inputs: [1, 2] })).toBe(n);
    expect(update(n, { placement: undefined })).toBe(n);
    const moved = update(n, { inputs: [1, 5] });
    expect(moved).not.toBe(n);
    expect(moved).toEqual({ ...n, inputs: [1, 5] });
    expect(n.inputs).toEqual([1, 2]);
  });

  it("recomputes a nested node's effect when its subgraph changes", () => {
    const pureBody = new GraphBuilder({ next: 10 });
    const x = pureBody.input();
    pureBody.input();
    const m = make.map(1, 0, [], pureBody.output(x));
    expect(m.effect).toBe("pure");
    const ioBody = new GraphBuilder({ next: 20 });
    const y = ioBody.input();
    ioBody.input();
    expect(update(m, { body: ioBody.output(ioBody.op(fetchText, [y])) }).effect).toBe("io");
  });

  it("joins effects io > cpu > pure", () => {
    expect(joinEffect("pure", "cpu")).toBe("cpu");
    expect(joinEffect("io", "cpu")).toBe("io");
    expect(joinEffect("pure", "pure")).toBe("pure");
  });
});

describe("GraphBuilder", () => {
  it("numbers nodes in order and shares ids with subgraph builders", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const sub = b.sub();
    const item = sub.input();
    sub.input();
    const body = sub.output(sub.op(tokenize, [item]));
    const m = b.map(q, [], body, { concurrency: 4 });
    const g = b.output(m);
    expect(g.nodes.map((n) => `${n.id}:${n.kind}`)).toEqual(["0:input", "5:map", "6:output"]);
    expect(body.nodes.map((n) => `${n.id}:${n.kind}`)).toEqual(["1:input", "2:input", "3:op", "4:output"]);
    expect(g.output).toBe(6);
    expect(g.arity).toBe(1);
    expect(maxId(g)).toBe(6);
    expect(graphEffect(g)).toBe("cpu");
  });

  it("refuses nodes once the graph is finished", () => {
    const b = new GraphBuilder();
    const g = b.output(b.input());
    expect(() => b.constant(1)).toThrow("GraphBuilder: the graph is finished; start a new builder");
    expect(g.nodes).toHaveLength(2);
  });

  it("builds a closed subgraph from its inputs", () => {
    const b = new GraphBuilder();
    b.input();
    const body = b.subgraph(2, (s, [item, index]) => s.op(tokenize, [item!, index!]));
    expect(body.arity).toBe(2);
    expect(body.nodes.map((n) => `${n.id}:${n.kind}`)).toEqual(["1:input", "2:input", "3:op", "4:output"]);
  });

  it("puts `this` first for a method op", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const judge = b.constant({ model: "m" });
    const s = b.op(desc("score", "io"), [q], { self: judge });
    const n = b.output(s).nodes[2];
    expect(n).toMatchObject({ kind: "op", self: true, inputs: [judge, q] });
  });
});

describe("templates", () => {
  it("packs traced values found inside plain objects and arrays as holes", () => {
    const a = { traced: 1 };
    const b = { traced: 2 };
    const ids = new Map<unknown, number>([
      [a, 7],
      [b, 9],
    ]);
    const judge = new (class Judge {})();
    const { template, inputs } = templateOf({ text: a, tags: ["x", b, a], judge }, (v) => ids.get(v));
    expect(inputs).toEqual([7, 9]);
    expect(templateHoles(template)).toEqual([0, 1, 0]);
    expect(template).toEqual({
      kind: "object",
      entries: [
        ["text", { kind: "hole", index: 0 }],
        ["tags", { kind: "array", items: [{ kind: "lit", value: "x" }, { kind: "hole", index: 1 }, { kind: "hole", index: 0 }] }],
        ["judge", { kind: "lit", value: judge }],
      ],
    });
  });

  it("rebuilds a fresh value on every fill, keeping literals by reference", () => {
    const shared = { deep: true };
    const t: Template = { kind: "object", entries: [["a", { kind: "hole", index: 0 }], ["b", { kind: "array", items: [{ kind: "lit", value: shared }] }]] };
    const one = fillTemplate(t, ["x"]) as { a: string; b: unknown[] };
    const two = fillTemplate(t, ["y"]) as { a: string; b: unknown[] };
    expect(one).toEqual({ a: "x", b: [shared] });
    expect(two.a).toBe("y");
    expect(one.b).not.toBe(two.b);
    expect(one.b[0]).toBe(two.b[0]);
  });

  it("keeps an own __proto__ key a plain property", () => {
    const t: Template = { kind: "object", entries: [["__proto__", { kind: "lit", value: 1 }]] };
    const v = fillTemplate(t, []) as object;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(["__proto__"]);
  });

  it("refuses to pack a cyclic value", () => {
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    expect(() => templateOf(cyclic, () => undefined)).toThrow("templateOf: cannot pack a cyclic value");
  });

  it("maps holes, returning the same template when nothing changes", () => {
    const t: Template = { kind: "array", items: [{ kind: "hole", index: 0 }, { kind: "object", entries: [["k", { kind: "hole", index: 1 }]] }] };
    expect(mapHoles(t, (i) => ({ kind: "hole", index: i }))).toBe(t);
    expect(mapHoles(t, (i) => (i === 0 ? { kind: "lit", value: "c" } : { kind: "hole", index: 0 }))).toEqual({
      kind: "array",
      items: [{ kind: "lit", value: "c" }, { kind: "object", entries: [["k", { kind: "hole", index: 0 }]] }],
    });
  });
});

describe("IdMap", () => {
  it("maps ids in any order, near or far, like a Map", () => {
    const ids = [7, 3, 8, 0, 100_000, 9, 5_000, 2 ** 40, 4, 6_000];
    const m = new IdMap<string>();
    const reference = new Map<number, string>();
    for (const id of ids) {
      m.set(id, `v${id}`);
      reference.set(id, `v${id}`);
    }
    for (let id = 0; id <= 6_000; id++) {
      m.set(id, `w${id}`);
      reference.set(id, `w${id}`);
    }
    for (const id of [...reference.keys(), 1, 6_001, -1, 2.5]) expect(m.get(id), `id ${id}`).toBe(reference.get(id));
    expect(m.size).toBe(reference.size);
    expect(m.has(100_000)).toBe(true);
    expect(m.has(100_001)).toBe(false);
  });
});

describe("distinct", () => {
  it("drops repeats in first-seen order, returning the input when there are none, short or long", () => {
    const short = [3, 4, 5];
    expect(distinct(short)).toBe(short);
    expect(distinct([3, 4, 3, 5, 4])).toEqual([3, 4, 5]);
    const long = Array.from({ length: 10_000 }, (_, i) => i);
    expect(distinct(long)).toBe(long);
    expect(distinct([...long, ...long])).toEqual(long);
  });
});
