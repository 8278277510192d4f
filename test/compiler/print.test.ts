import { describe, expect, it } from "vitest";
import { GraphBuilder, type Graph } from "../../compiler/ir.js";
import { place } from "../../compiler/passes/place.js";
import { printDot, printJSON, printMermaid, printText, showValue, toJSON } from "../../compiler/print.js";
import { desc } from "./fixtures.js";

const translate = desc("translate", "io");
const score = desc("score", "pure");
const shout = desc("shout", "cpu");

/** translate(q, "en") -> .text -> judge.score(text) -> cond(score, shout(text), text) -> {text, score, out} */
function small(): Graph {
  const b = new GraphBuilder();
  const q = b.input(); // 0
  const lang = b.constant("en"); // 1
  const judge = b.constant(new (class Judge {})()); // 2
  const page = b.op(translate, [q, lang], { loc: { file: "app.ts", line: 3, column: 13 } }); // 3
  const text = b.get(page, "text"); // 4
  const s = b.op(score, [text], { self: judge }); // 5
  const then = b.subgraph(1, (sub, [t]) => sub.op(shout, [t!])); // 6 7 8
  const otherwise = b.subgraph(1, (_, [t]) => t!); // 9 10
  const c = b.cond(s, [text], then, otherwise); // 11
  const out = b.pack({ kind: "object", entries: [["text", { kind: "hole", index: 0 }], ["score", { kind: "hole", index: 1 }], ["out", { kind: "array", items: [{ kind: "hole", index: 2 }, { kind: "lit", value: 1 }] }]] }, [text, s, c]); // 12
  return place(b.output(out)); // 13
}

describe("printers", () => {
  it("prints text, one line per node with effect, placement and source", () => {
    expect(printText(small())).toBe(
      [
        "graph(%0) {",
        '  %1 = const "en"',
        "  %2 = const <Judge>",
        "  %3 = op translate(%0, %1)  # io async @ app.ts:3:13",
        "  %4 = get %3.text",
        "  %5 = op score(%4) this=%2  # pure inline",
        "  %11 = cond %5 with (%4)  # cpu",
        "    then(%6) {",
        "      %7 = op shout(%6)  # cpu inline",
        "      return %7",
        "    }",
        "    else(%9) {",
        "      return %9",
        "    }",
        "  %12 = pack {text: %4, score: %5, out: [%11, 1]}",
        "  return %12",
        "}",
      ].join("\n"),
    );
  });

  it("prints stable JSON", () => {
    const json = toJSON(small());
    expect(json.nodes[3]).toEqual({ id: 3, kind: "op", inputs: [0, 1], effect: "io", op: { id: "test#translate", name: "translate", kind: "io" }, self: false, placement: "async", loc: "app.ts:3:13" });
    expect(json.nodes[2]).toEqual({ id: 2, kind: "const", inputs: [], effect: "pure", repr: "<Judge>" });
    expect(printJSON(small())).toBe(printJSON(small()));
    expect(JSON.parse(printJSON(small()))).toEqual(json);
    expect(printJSON(small()).split("\n").slice(0, 12).join("\n")).toBe(
      ["{", '  "arity": 1,', '  "output": 13,', '  "nodes": [', "    {", '      "id": 0,', '      "kind": "input",', '      "inputs": [],', '      "effect": "pure",', '      "index": 0', "    },", "    {"].join("\n"),
    );
  });

  it("prints a Mermaid flowchart", () => {
    expect(printMermaid(small())).toBe(
      [
        "flowchart TD",
        '  n0(["%0 input 0"])',
        '  n1("%1 const #quot;en#quot;")',
        '  n2("%2 const #lt;Judge#gt;")',
        '  n3["%3 translate"]',
        '  n4("%4 .text")',
        '  n5["%5 score"]',
        '  n11{"%11 cond"}',
        '  n12("%12 pack")',
        '  n13(["%13 output"])',
        "  n0 --> n3",
        "  n1 --> n3",
        "  n3 --> n4",
        "  n2 --> n5",
        "  n4 --> n5",
        "  n5 --> n11",
        "  n4 --> n11",
        "  n4 --> n12",
        "  n5 --> n12",
        "  n11 --> n12",
        "  n12 --> n13",
        '  subgraph s11_then ["%11 then"]',
        '    n6(["%6 input 0"])',
        '    n7["%7 shout"]',
        '    n8(["%8 output"])',
        "    n6 --> n7",
        "    n7 --> n8",
        "  end",
        "  n11 -.-> s11_then",
        '  subgraph s11_else ["%11 else"]',
        '    n9(["%9 input 0"])',
        '    n10(["%10 output"])',
        "    n9 --> n10",
        "  end",
        "  n11 -.-> s11_else",
        "  classDef io fill:#fde2e2,stroke:#c0392b",
        "  classDef cpu fill:#e2ecfd,stroke:#2c6fbb",
        "  class n3 io",
        "  class n11 cpu",
        "  class n7 cpu",
      ].join("\n"),
    );
  });

  it("prints Graphviz DOT", () => {
    expect(printDot(small())).toBe(
      [
        "digraph weft {",
        "  compound=true;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  n0 [label="%0 input 0", shape=oval];',
        '  n1 [label="%1 const \\"en\\"", shape=plaintext];',
        '  n2 [label="%2 const <Judge>", shape=plaintext];',
        '  n3 [label="%3 translate", shape=box, style=filled, fillcolor="#fde2e2"];',
        '  n4 [label="%4 .text", shape=ellipse];',
        '  n5 [label="%5 score", shape=box];',
        '  n11 [label="%11 cond", shape=diamond, style=filled, fillcolor="#e2ecfd"];',
        '  n12 [label="%12 pack", shape=ellipse];',
        '  n13 [label="%13 output", shape=oval];',
        "  n0 -> n3;",
        "  n1 -> n3;",
        "  n3 -> n4;",
        "  n2 -> n5;",
        "  n4 -> n5;",
        "  n5 -> n11;",
        "  n4 -> n11;",
        "  n4 -> n12;",
        "  n5 -> n12;",
        "  n11 -> n12;",
        "  n12 -> n13;",
        "  subgraph cluster_11_then {",
        '    label="%11 then";',
        '    n6 [label="%6 input 0", shape=oval];',
        '    n7 [label="%7 shout", shape=box, style=filled, fillcolor="#e2ecfd"];',
        '    n8 [label="%8 output", shape=oval];',
        "    n6 -> n7;",
        "    n7 -> n8;",
        "  }",
        "  n11 -> n8 [style=dashed, lhead=cluster_11_then];",
        "  subgraph cluster_11_else {",
        '    label="%11 else";',
        '    n9 [label="%9 input 0", shape=oval];',
        '    n10 [label="%10 output", shape=oval];',
        "    n9 -> n10;",
        "  }",
        "  n11 -> n10 [style=dashed, lhead=cluster_11_else];",
        "}",
      ].join("\n"),
    );
  });

  it("shows values briefly and without running getters", () => {
    expect(showValue({ a: [1, "x", { deep: { deeper: 1 } }], "b-c": -0, n: 10n })).toBe('{a: [1, "x", {…}], "b-c": -0, n: 10n}');
    expect(showValue("x".repeat(50))).toBe(`"${"x".repeat(39)}…"`);
    expect(showValue(new Float64Array(3))).toBe("Float64Array(3)");
    expect(showValue([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toBe("[1, 2, 3, 4, 5, 6, 7, 8, …]");
    expect(showValue(function named() {})).toBe("<function named>");
    expect(showValue(Object.create(null))).toBe("{}");
  });
});
