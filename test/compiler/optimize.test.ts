import { describe, expect, it } from "vitest";
import { check, IRError } from "../../compiler/check.js";
import { GraphBuilder, type Graph } from "../../compiler/ir.js";
import { DEFAULT_PIPELINE, optimize, type PassName } from "../../compiler/optimize.js";
import { interpret, plan } from "../../compiler/plan.js";
import { desc, opTable } from "./fixtures.js";
import { BODIES, prng, randomGraph } from "./random-graph.js";

const evaluate = (node: { desc: { id: string } }, args: readonly unknown[]) => ({ value: (BODIES[node.desc.id] as (...a: unknown[]) => unknown)(...args) });

async function run(g: Graph, args: readonly unknown[]) {
  const ops = opTable(BODIES);
  const value = await interpret(plan(g), args, ops.callOp);
  const calls = (kind: string) => [...ops.calls].filter(([id]) => id.startsWith(`test#${kind}`)).sort();
  return { value, io: calls("io"), cpu: calls("cpu"), pure: [...ops.calls].filter(([id]) => id.startsWith("test#pure")).reduce((n, [, c]) => n + c, 0) };
}

describe("optimize", () => {
  it("runs the default pipeline in order, reporting each pass", () => {
    const seen: [PassName, boolean][] = [];
    optimize(randomGraph(1, 30), { onPass: (name, before, after) => seen.push([name, before === after]) });
    expect(seen.map(([name]) => name)).toEqual([...DEFAULT_PIPELINE]);
  });

  it("returns the same graph when no pass changes anything", () => {
    const b = new GraphBuilder();
    const g = b.output(b.op(desc("fetchText", "io"), [b.input()]));
    expect(optimize(g, { passes: ["fold", "cse", "dce", "fuse"] })).toBe(g);
  });

  it("checks the input graph and names the stage that broke an invariant", () => {
    const b = new GraphBuilder();
    const g = b.output(b.input());
    const bad = { ...g, output: 7 };
    expect(() => optimize(bad)).toThrowError(new IRError(["graph: output is %7 but the output node is %1"]));
    expect(() => optimize(bad, { check: false, passes: [] })).not.toThrow();
  });

  it("returns what the unoptimised program returns, with the same io and cpu calls, on random programs", async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const g = randomGraph(seed, 40);
      expect(check(g)).toEqual([]);
      const o = optimize(g, { evaluate, cost: () => ({ meanMs: 0.2 }) });
      for (const args of [["alpha", true], ["beta", false]] as const) {
        const eager = await run(g, args);
        const jitted = await run(o, args);
        expect(jitted.value, `seed ${seed}`).toEqual(eager.value);
        expect(jitted.io, `seed ${seed}`).toEqual(eager.io);
        expect(jitted.cpu, `seed ${seed}`).toEqual(eager.cpu);
        expect(jitted.pure, `seed ${seed}`).toBeLessThanOrEqual(eager.pure);
      }
    }
  });

  it("keeps the graph well formed and the results equal under any order of passes", async () => {
    const names: PassName[] = ["fold", "cse", "dce", "fuse", "place"];
    for (let seed = 1; seed <= 30; seed++) {
      const rand = prng(seed);
      const passes = Array.from({ length: 10 }, () => names[Math.floor(rand() * names.length)]!);
      const g = randomGraph(seed + 100, 30);
      const o = optimize(g, { evaluate, passes, cost: () => ({ meanMs: rand() }) });
      const args = ["gamma", seed % 2 === 0] as const;
      const [eager, jitted] = [await run(g, args), await run(o, args)];
      expect(jitted.value, `seed ${seed}: ${passes.join(" ")}`).toEqual(eager.value);
      expect([jitted.io, jitted.cpu], `seed ${seed}: ${passes.join(" ")}`).toEqual([eager.io, eager.cpu]);
    }
  });

  it("is idempotent: optimising an optimised graph changes nothing", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const o = optimize(randomGraph(seed, 60), { evaluate });
      expect(optimize(o, { evaluate }), `seed ${seed}`).toBe(o);
    }
  });
});
