import { describe, expect, it } from "vitest";
import { check } from "../../compiler/check.js";
import { GraphBuilder, type Graph } from "../../compiler/ir.js";
import { dce } from "../../compiler/passes/dce.js";
import { fold, type Evaluate } from "../../compiler/passes/fold.js";
import { printText } from "../../compiler/print.js";
import { desc } from "./fixtures.js";

const fetchText = desc("fetchText", "io");
const tokenize = desc("tokenize", "cpu");
const upper = desc("upper", "pure");
const two = (a: number, c: number) => ({ kind: "array" as const, items: [{ kind: "hole" as const, index: a }, { kind: "hole" as const, index: c }] });

function folded(g: Graph, evaluate?: Evaluate): string {
  const out = dce(fold(g, evaluate === undefined ? {} : { evaluate }));
  expect(check(out)).toEqual([]);
  return printText(out);
}

describe("fold", () => {
  it("returns the same graph when nothing is known at compile time", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const g = b.output(b.op(upper, [b.get(q, "text")]));
    expect(fold(g, { evaluate: () => ({ value: "never" }) })).toBe(g);
  });

  it("reads data properties and string indices of consts, but never runs a getter", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const cfg = b.constant({
      model: "m",
      get secret(): string {
        throw new Error("getter ran at compile time");
      },
    });
    const word = b.constant("abc");
    const parts = [b.get(cfg, "model"), b.get(cfg, "secret"), b.get(word, "length"), b.get(word, 1), b.get(word, 9)];
    const g = b.output(b.op(tokenize, [q, ...parts]));
    const text = folded(g);
    expect(text).toContain('%3 = const "m"');
    expect(text).toContain("%4 = get %1.secret");
    expect(text).toContain("%5 = const 3");
    expect(text).toContain('%6 = const "b"');
    expect(text).toContain("%7 = get %2[9]");
    expect(text).toContain('%1 = const {model: "m", secret: <getter>}');
  });

  it("forwards a property read of a pack to the packed node or literal", () => {
    const b = new GraphBuilder();
    const q = b.input(); // 0
    const page = b.op(fetchText, [q]); // 1
    const obj = b.pack({ kind: "object", entries: [["page", { kind: "hole", index: 0 }], ["lang", { kind: "lit", value: "en" }], ["nested", { kind: "array", items: [] }]] }, [page]); // 2
    const g = b.output(b.op(tokenize, [b.get(obj, "page"), b.get(obj, "lang"), b.get(obj, "nested")])); // 3 4 5 6 7
    expect(folded(g)).toBe(
      [
        "graph(%0) {",
        "  %1 = op fetchText(%0)  # io",
        '  %2 = pack {page: %1, lang: "en", nested: []}',
        '  %4 = const "en"',
        "  %5 = get %2.nested",
        "  %6 = op tokenize(%1, %4, %5)  # cpu",
        "  return %6",
        "}",
      ].join("\n"),
    );
  });

  it("turns const inputs of a pack into literals", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const g = b.output(b.pack(two(0, 1), [b.constant("en"), q]));
    expect(folded(g)).toBe(["graph(%0) {", '  %2 = pack ["en", %0]', "  return %2", "}"].join("\n"));
  });

  it("inlines the taken branch of a cond on a constant, keeping its op calls", () => {
    const build = (pred: boolean) => {
      const b = new GraphBuilder();
      const q = b.input(); // 0
      const p = b.constant(pred); // 1
      const then = b.subgraph(1, (s, [x]) => s.op(fetchText, [x!])); // 2 3 4
      const otherwise = b.subgraph(1, (s, [y]) => s.get(y!, "length")); // 5 6 7
      return b.output(b.cond(p, [q], then, otherwise)); // 8 9
    };
    expect(folded(build(true))).toBe(["graph(%0) {", "  %3 = op fetchText(%0)  # io", "  return %3", "}"].join("\n"));
    expect(folded(build(false))).toBe(["graph(%0) {", "  %6 = get %0.length", "  return %6", "}"].join("\n"));
  });

  it("inlines a branch that returns its capture", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const same = () => b.subgraph(1, (_, [x]) => x!);
    const g = b.output(b.op(tokenize, [b.cond(b.constant(0), [q], same(), same())]));
    expect(folded(g)).toBe(["graph(%0) {", "  %7 = op tokenize(%0)  # cpu", "  return %7", "}"].join("\n"));
  });

  it("folds a pure op on constants through the injected evaluator", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const shout = b.op(upper, [b.constant("hi")]);
    const g = b.output(b.op(tokenize, [q, shout, b.op(fetchText, [b.constant("url")])]));
    const evaluate: Evaluate = (node, args) => (node.desc.id === upper.id ? { value: String(args[0]).toUpperCase() } : undefined);
    expect(folded(g, evaluate)).toBe(
      ["graph(%0) {", '  %2 = const "HI"', '  %3 = const "url"', "  %4 = op fetchText(%3)  # io", "  %5 = op tokenize(%0, %2, %4)  # cpu", "  return %5", "}"].join("\n"),
    );
  });

  it("leaves pure ops alone without an evaluator, when it declines, and when it throws", () => {
    const b = new GraphBuilder();
    const g = b.output(b.op(upper, [b.constant("hi")]));
    expect(fold(g)).toBe(g);
    expect(fold(g, { evaluate: () => undefined })).toBe(g);
    expect(
      fold(g, {
        evaluate: () => {
          throw new Error("bad input");
        },
      }),
    ).toBe(g);
  });

  it("passes `this` apart from the arguments when folding a method op", () => {
    const b = new GraphBuilder();
    const judge = b.constant({ scale: 10 });
    const g = b.output(b.op(desc("scale", "pure"), [b.constant(2)], { self: judge }));
    const seen: unknown[] = [];
    const out = fold(g, { evaluate: (_node, args, self) => (seen.push(self, args), { value: 20 }) });
    expect(seen).toEqual([{ scale: 10 }, [2]]);
    expect(out.nodes.at(-2)).toMatchObject({ kind: "const", value: 20 });
  });

  it("folds inside subgraphs", () => {
    const b = new GraphBuilder();
    const xs = b.input();
    const m = b.map(xs, [], b.subgraph(2, (body, [item]) => body.op(tokenize, [item!, body.get(body.constant("ab"), "length")])));
    const out = dce(fold(b.output(m)));
    expect(printText(out)).toBe(
      ["graph(%0) {", "  %7 = map %0  # cpu", "    body(%1, %2) {", "      %4 = const 2", "      %5 = op tokenize(%1, %4)  # cpu", "      return %5", "    }", "  return %7", "}"].join("\n"),
    );
  });
});
