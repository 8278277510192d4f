import { describe, expect, it } from "vitest";
import { check } from "../../compiler/check.js";
import { GraphBuilder } from "../../compiler/ir.js";
import { dce } from "../../compiler/passes/dce.js";
import { desc } from "./fixtures.js";

const fetchText = desc("fetchText", "io");
const tokenize = desc("tokenize", "cpu");
const upper = desc("upper", "pure");
const ids = (g: { nodes: readonly { id: number }[] }) => g.nodes.map((n) => n.id);

describe("dce", () => {
  it("returns the same graph when nothing is dead", () => {
    const b = new GraphBuilder();
    const g = b.output(b.op(tokenize, [b.input()]));
    expect(dce(g)).toBe(g);
  });

  it("drops unused consts and packs, and packs that only fed them", () => {
    const b = new GraphBuilder();
    const q = b.input(); // 0
    b.constant("unused"); // 1
    const inner = b.pack({ kind: "array", items: [{ kind: "hole", index: 0 }] }, [q]); // 2
    b.pack({ kind: "array", items: [{ kind: "hole", index: 0 }] }, [inner]); // 3
    const g = b.output(b.op(tokenize, [q])); // 4, 5
    const out = dce(g);
    expect(ids(out)).toEqual([0, 4, 5]);
    expect(check(out)).toEqual([]);
  });

  it("keeps io and cpu ops whose results are unused: eager code made those calls", () => {
    const b = new GraphBuilder();
    const q = b.input();
    b.op(fetchText, [q]);
    b.op(tokenize, [b.constant("x")]);
    const g = b.output(q);
    expect(dce(g)).toBe(g);
  });

  it("keeps unused pure ops and property reads: eager code would throw where they throw", () => {
    const b = new GraphBuilder();
    const q = b.input();
    b.op(upper, [q]);
    b.get(q, "missing");
    b.call(q, "trim");
    const g = b.output(q);
    expect(dce(g)).toBe(g);
  });

  it("keeps the inputs of a subgraph and cleans inside it", () => {
    const b = new GraphBuilder();
    const xs = b.input(); // 0
    // 1 item, 2 index (unused but part of the body's arity), 3 dead const, 4 op, 5 output; 6 map
    const m = b.map(
      xs,
      [],
      b.subgraph(2, (body, [item]) => {
        body.constant("dead");
        return body.op(tokenize, [item!]);
      }),
    );
    const g = b.output(m);
    const out = dce(g);
    const bodyOut = out.nodes.find((n) => n.kind === "map");
    expect(bodyOut?.kind === "map" && ids(bodyOut.body)).toEqual([1, 2, 4, 5]);
    expect(check(out)).toEqual([]);
    expect(dce(out)).toBe(out);
  });
});
