import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir.js";
import { fuse } from "../../compiler/passes/fuse.js";
import { place } from "../../compiler/passes/place.js";
import { evalStructural, interpret, plan } from "../../compiler/plan.js";
import { desc, opTable } from "./fixtures.js";

const draft = desc("draft", "io", { policy: { concurrency: 2 } });
const draft2 = desc("draft2", "io");
const merge = desc("merge", "cpu");
const score = desc("score", "io", { policy: { concurrency: 4 } });

/** The DESIGN example: two independent drafts, merged, then scored by a Module method. */
function pipeline() {
  const b = new GraphBuilder();
  const q = b.input(); // 0
  const judge = b.constant({ model: "m" }); // 1
  const a = b.op(draft, [q]); // 2
  const c = b.op(draft2, [q]); // 3
  const m = b.op(merge, [a, c]); // 4
  return b.output(b.op(score, [m], { self: judge })); // 5 6
}

describe("plan", () => {
  it("lists each step's dependencies and dependents, so a step starts when its inputs are ready", () => {
    const p = plan(pipeline(), { concurrency: 8 });
    expect(p.steps.map((s) => ({ id: s.node.id, deps: s.deps, dependents: s.dependents, args: s.args }))).toEqual([
      { id: 0, deps: [], dependents: [2, 3], args: [] },
      { id: 1, deps: [], dependents: [5], args: [] },
      { id: 2, deps: [0], dependents: [4], args: [0] },
      { id: 3, deps: [0], dependents: [4], args: [0] },
      { id: 4, deps: [2, 3], dependents: [5], args: [2, 3] },
      { id: 5, deps: [1, 4], dependents: [6], args: [1, 4] },
      { id: 6, deps: [5], dependents: [], args: [5] },
    ]);
    expect(p.ready).toEqual([0, 1]);
    expect(p.inputs).toEqual([0]);
    expect(p.output).toBe(6);
  });

  it("carries the global concurrency limit and nothing an executor would not read (per-op limits are the kernel's)", () => {
    const p = plan(pipeline(), { concurrency: 8 });
    expect(p.concurrency).toEqual({ global: 8 });
    expect(plan(pipeline()).concurrency.global).toBeUndefined();
    expect(Object.keys(p).sort()).toEqual(["concurrency", "graph", "inputs", "output", "ready", "steps"]);
    expect(Object.keys(p.steps[0]!).sort()).toEqual(["args", "chain", "dependents", "deps", "node", "plans", "slot"]);
  });

  it("dedupes a dependency read twice but keeps both arguments", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const p = plan(b.output(b.op(merge, [q, q])));
    expect(p.steps[1]).toMatchObject({ deps: [0], args: [0, 0] });
    expect(p.steps[0]!.dependents).toEqual([1]);
  });

  it("puts zero-argument ops in the ready set", () => {
    const b = new GraphBuilder();
    const p = plan(b.output(b.op(desc("now", "io"), [])));
    expect(p.ready).toEqual([0]);
  });

  it("plans subgraphs and lowers fused groups to chains: op ids, static argument wiring, descriptors", () => {
    const b = new GraphBuilder();
    const xs = b.input();
    const tokenize = desc("tokenize", "cpu");
    // A limited op is never fused (a chain step has no place under a limit): it runs as its own step.
    const limited = desc("limited", "cpu", { policy: { concurrency: 1 } });
    const m = b.map(xs, [], b.subgraph(2, (body, [item]) => body.op(limited, [body.op(merge, [body.op(tokenize, [item!])])])));
    const g = place(fuse(b.output(m)), { cost: () => ({ meanMs: 1 }) });
    const p = plan(g);
    const mapStep = p.steps[1]!;
    expect(mapStep.plans).toHaveLength(1);
    const fusedStep = mapStep.plans[0]!.steps[2]!;
    expect(fusedStep.node.kind).toBe("fused");
    expect(fusedStep.chain).toEqual({
      chain: [
        { opId: tokenize.id, argsFrom: [{ from: "input", index: 0 }] },
        { opId: merge.id, argsFrom: [{ from: "step", index: 0 }] },
      ],
      ops: [tokenize, merge],
    });
    const limitedStep = mapStep.plans[0]!.steps.find((s) => s.node.kind === "op" && s.node.desc.id === limited.id)!;
    expect(limitedStep.chain).toBeUndefined();
    expect(mapStep.plans[0]!.concurrency).toBe(p.concurrency);
  });
});

describe("interpret", () => {
  it("evaluates a graph in order, passing `this` to method ops", async () => {
    const judge = { model: "m" };
    const b = new GraphBuilder();
    const q = b.input();
    const j = b.constant(judge);
    const a = b.op(draft, [q]);
    const s = b.op(score, [b.get(a, "text")], { self: j });
    const g = b.output(b.pack({ kind: "object", entries: [["score", { kind: "hole", index: 0 }], ["upper", { kind: "hole", index: 1 }]] }, [s, b.call(q, "toUpperCase")]));
    const ops = opTable({
      [draft.id]: (x: string) => ({ text: `draft of ${x}` }),
      [score.id]: function (this: { model: string }, text: string) {
        return `${this.model}:${text.length}`;
      },
    });
    expect(await interpret(g, ["q"], ops.callOp)).toEqual({ score: "m:10", upper: "Q" });
    expect(await interpret(plan(g), ["qq"], ops.callOp)).toEqual({ score: "m:11", upper: "QQ" });
    expect(ops.calls).toEqual(new Map([[draft.id, 2], [score.id, 2]]));
  });

  it("runs only the taken branch of a cond", async () => {
    const b = new GraphBuilder();
    const flag = b.input();
    const q = b.input();
    const then = b.subgraph(1, (s, [x]) => s.op(draft, [x!]));
    const otherwise = b.subgraph(1, (s, [x]) => s.op(draft2, [x!]));
    const g = b.output(b.cond(flag, [q], then, otherwise));
    const ops = opTable({ [draft.id]: (x: string) => `a:${x}`, [draft2.id]: (x: string) => `b:${x}` });
    expect(await interpret(g, [true, "x"], ops.callOp)).toBe("a:x");
    expect(await interpret(g, [0, "y"], ops.callOp)).toBe("b:y");
    expect(ops.calls).toEqual(new Map([[draft.id, 1], [draft2.id, 1]]));
  });

  it("maps a body over items with their index and captures, in order", async () => {
    const b = new GraphBuilder();
    const xs = b.input();
    const sep = b.input();
    const m = b.map(xs, [sep], b.subgraph(3, (body, [item, index, s]) => body.op(merge, [item!, index!, s!])));
    const ops = opTable({ [merge.id]: (x: string, i: number, s2: string) => `${i}${s2}${x}` });
    expect(await interpret(b.output(m), [["a", "b", "c"], ":"], ops.callOp)).toEqual(["0:a", "1:b", "2:c"]);
  });

  it("surfaces an op's error, and a property read of undefined, as eager code would", async () => {
    const b = new GraphBuilder();
    const q = b.input();
    const g = b.output(b.get(b.get(q, "missing"), "deeper"));
    await expect(interpret(g, [{}], opTable({}).callOp)).rejects.toThrow(TypeError);
    const b2 = new GraphBuilder();
    const g2 = b2.output(b2.op(draft, [b2.input()]));
    const failing = opTable({
      [draft.id]: () => {
        throw new Error("upstream 503");
      },
    });
    await expect(interpret(g2, ["x"], failing.callOp)).rejects.toThrow("upstream 503");
  });

  it("shares the meaning of structural nodes with executors", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const g = b.output(b.call(q, "slice", [b.constant(1)]));
    const [, one, call] = g.nodes;
    expect(one?.kind === "const" && evalStructural(one, [])).toBe(1);
    expect(call?.kind === "call" && evalStructural(call, ["abc", 1])).toBe("bc");
  });
});
