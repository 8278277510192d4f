import { describe, expect, it } from "vitest";
import { check } from "../../compiler/check.js";
import { GraphBuilder, make } from "../../compiler/ir.js";
import { rewrite, type Rule } from "../../compiler/passes/rewrite.js";
import { printText } from "../../compiler/print.js";
import { desc } from "./fixtures.js";

const identity = desc("identity", "pure");
const tokenize = desc("tokenize", "cpu");

describe("rewrite", () => {
  it("returns the same graph when no rule fires", () => {
    const b = new GraphBuilder();
    const g = b.output(b.op(tokenize, [b.input()]));
    expect(rewrite(g, [() => undefined, (n) => n])).toBe(g);
  });

  it("renames every later use of an aliased node, including the output's", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const a = b.op(identity, [q]);
    const g = b.output(b.op(tokenize, [b.op(identity, [a]), a]));
    const dropIdentity: Rule = (n) => (n.kind === "op" && n.desc.name === "identity" ? { alias: n.inputs[0]! } : undefined);
    const out = rewrite(g, [dropIdentity]);
    expect(check(out)).toEqual([]);
    expect(printText(out)).toBe(["graph(%0) {", "  %3 = op tokenize(%0, %0)  # cpu", "  return %3", "}"].join("\n"));
  });

  it("rewrites spliced nodes too, and resolves an alias to a spliced node that was itself aliased", () => {
    const b = new GraphBuilder();
    const q = b.input(); // 0
    const g = b.output(b.op(tokenize, [b.op(identity, [q])])); // 1 2 3
    const expand: Rule = (n) => (n.kind === "op" && n.id === 1 ? { alias: 11, splice: [make.op(10, identity, [0]), make.op(11, identity, [10])] } : undefined);
    const dropIdentity: Rule = (n) => (n.kind === "op" && n.desc.name === "identity" && n.id !== 1 ? { alias: n.inputs[0]! } : undefined);
    const out = rewrite(g, [expand, dropIdentity]);
    expect(check(out)).toEqual([]);
    expect(printText(out)).toBe(["graph(%0) {", "  %2 = op tokenize(%0)  # cpu", "  return %2", "}"].join("\n"));
  });

  it("reapplies the rules to a replaced node, and stops a rule set that never settles", () => {
    const b = new GraphBuilder();
    const g = b.output(b.constant(0));
    const count: Rule = (n) => (n.kind === "const" && typeof n.value === "number" && n.value < 3 ? make.const(n.id, n.value + 1) : undefined);
    expect(rewrite(g, [count]).nodes[0]).toMatchObject({ kind: "const", value: 3 });
    const forever: Rule = (n) => (n.kind === "const" ? make.const(n.id, Number(n.value) + 1) : undefined);
    expect(() => rewrite(g, [forever])).toThrow("rewrite: rules did not settle on %0 after 64 rewrites");
  });
});
