import { describe, expect, it } from "vitest";
import { check } from "../../compiler/check.js";
import { GraphBuilder, make, type Graph } from "../../compiler/ir.js";
import { fuse } from "../../compiler/passes/fuse.js";
import { interpret } from "../../compiler/plan.js";
import { printText } from "../../compiler/print.js";
import { desc, opTable } from "./fixtures.js";

const fetchText = desc("fetchText", "io");
const tokenize = desc("tokenize", "cpu");
const count = desc("count", "cpu");
const normalise = desc("normalise", "pure");
const pinned = desc("render", "cpu", { policy: { placement: "inline" } });
const asyncCpu = desc("hashAsync", "cpu", { async: true });

function fused(g: Graph): string {
  const out = fuse(g);
  expect(check(out)).toEqual([]);
  expect(fuse(out)).toBe(out);
  return printText(out);
}

describe("fuse", () => {
  it("fuses a chain of cpu and pure ops with the property reads between them", () => {
    const b = new GraphBuilder();
    const q = b.input(); // 0
    const page = b.op(fetchText, [q]); // 1
    const toks = b.op(tokenize, [b.get(page, "text")]); // 2 3
    const n = b.op(count, [toks]); // 4
    const g = b.output(b.op(fetchText, [b.op(normalise, [n, q])])); // 5 6 7
    expect(fused(g)).toBe(
      [
        "graph(%0) {",
        "  %1 = op fetchText(%0)  # io",
        "  %2 = get %1.text",
        "  %11 = fused(%2, %0)  # cpu",
        "    body(%8, %9) {",
        "      %3 = op tokenize(%8)  # cpu",
        "      %4 = op count(%3)  # cpu",
        "      %5 = op normalise(%4, %9)  # pure",
        "      return %5",
        "    }",
        "  %6 = op fetchText(%11)  # io",
        "  return %6",
        "}",
      ].join("\n"),
    );
  });

  it("keeps glue that reads outside values out of the task, and glue over members in it", () => {
    const b = new GraphBuilder();
    const q = b.input(); // 0
    const a = b.op(tokenize, [q]); // 1
    const c = b.op(count, [q]); // 2
    const both = b.pack({ kind: "array", items: [{ kind: "hole", index: 0 }, { kind: "hole", index: 1 }] }, [a, c]); // 3
    const g = b.output(b.pack({ kind: "array", items: [{ kind: "hole", index: 0 }, { kind: "hole", index: 1 }] }, [both, q])); // 4 5
    expect(fused(g)).toBe(
      ["graph(%0) {", "  %8 = fused(%0)  # cpu", "    body(%6) {", "      %1 = op tokenize(%6)  # cpu", "      %2 = op count(%6)  # cpu", "      %3 = pack [%1, %2]", "      return %3", "    }", "  %4 = pack [%8, %0]", "  return %4", "}"].join("\n"),
    );
  });

  it("stops a chain at a node read from two places", () => {
    const b = new GraphBuilder();
    const q = b.input(); // 0
    const toks = b.op(tokenize, [q]); // 1, read by 2 and by the output pack
    const n = b.op(count, [toks]); // 2
    const m = b.op(normalise, [n]); // 3
    const g = b.output(b.pack({ kind: "array", items: [{ kind: "hole", index: 0 }, { kind: "hole", index: 1 }] }, [toks, m])); // 4 5
    const text = fused(g);
    expect(text).toContain("%1 = op tokenize(%0)  # cpu");
    expect(text).toContain("%8 = fused(%1)  # cpu");
    expect(text).toContain("%4 = pack [%1, %8]");
  });

  it("fuses a tree of producers feeding one consumer", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const a = b.op(tokenize, [q]);
    const c = b.op(count, [q]);
    const g = b.output(b.op(normalise, [a, c]));
    const out = fuse(g);
    expect(check(out)).toEqual([]);
    expect(out.nodes.map((n) => n.kind)).toEqual(["input", "fused", "output"]);
    const body = out.nodes[1]!.kind === "fused" ? out.nodes[1]!.body : undefined;
    expect(body?.nodes.map((n) => n.id)).toEqual([5, 1, 2, 3, 6]);
    expect(out.nodes[1]!.inputs).toEqual([0]);
  });

  it("leaves alone single ops, io ops, async bodies and ops pinned inline", () => {
    for (const middle of [fetchText, pinned, asyncCpu]) {
      const b = new GraphBuilder();
      const q = b.input();
      const g = b.output(b.op(tokenize, [b.op(middle, [b.op(count, [q])])]));
      expect(fuse(g)).toBe(g);
    }
    const b = new GraphBuilder();
    const g = b.output(b.op(tokenize, [b.get(b.input(), "text")]));
    expect(fuse(g)).toBe(g);
  });

  it("renames the inputs of an existing fused node that reads a new group", () => {
    const b = new GraphBuilder();
    const q = b.input(); // 0
    const chain = b.op(count, [b.op(tokenize, [q])]); // 1 2
    const body = b.subgraph(1, (s, [x]) => s.op(count, [s.op(tokenize, [x!])])); // 3..6
    const g0 = b.output(chain); // 7
    const existing = make.fused(8, [chain], body);
    const g = { ...g0, nodes: [...g0.nodes.slice(0, -1), existing, make.output(7, 8)] };
    expect(check(g)).toEqual([]);
    const out = fuse(g);
    expect(check(out)).toEqual([]);
    expect(out.nodes.map((n) => `${n.id}:${n.kind}(${n.inputs.join(",")})`)).toEqual(["0:input()", "11:fused(0)", "8:fused(11)", "7:output(8)"]);
  });

  it("fuses inside a map body", () => {
    const b = new GraphBuilder();
    const xs = b.input();
    const m = b.map(xs, [], b.subgraph(2, (body, [item]) => body.op(count, [body.op(tokenize, [item!])])));
    const out = fuse(b.output(m));
    expect(check(out)).toEqual([]);
    const map = out.nodes[1];
    expect(map?.kind === "map" && map.body.nodes.map((n) => n.kind)).toEqual(["input", "input", "fused", "output"]);
  });

  it("computes what the unfused graph computes, with the same op calls", async () => {
    const b = new GraphBuilder();
    const q = b.input();
    const a = b.op(tokenize, [q]);
    const c = b.op(count, [b.get(a, "length")]);
    const g = b.output(b.pack({ kind: "object", entries: [["n", { kind: "hole", index: 0 }]] }, [b.op(normalise, [c, q])]));
    const run = async (graph: Graph) => {
      const ops = opTable({
        [tokenize.id]: (s: string) => s.split(" "),
        [count.id]: (n: number) => n * 10,
        [normalise.id]: (n: number, s: string) => `${s}:${n}`,
      });
      return { value: await interpret(graph, ["a b c"], ops.callOp), calls: Object.fromEntries(ops.calls) };
    };
    const eager = await run(g);
    expect(eager.value).toEqual({ n: "a b c:30" });
    expect(await run(fuse(g))).toEqual(eager);
  });
});
