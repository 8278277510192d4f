/**
 * The JIT, by phase:
 *
 *   (a) run, I/O-bound: a 50-node random DAG of io ops, each sleeping 5-20 ms (setTimeout),
 *       seeded. The jitted function is the eager one (which awaits its ops in program
 *       order); its plan starts each op when its inputs are ready. Reported: jitted wall
 *       time ÷ the critical path (the largest sum of latencies along a dependency path,
 *       the physical limit) and the speedup over eager. setTimeout fires late by up to a
 *       millisecond or so, and the critical path pays that once per op on it; the same
 *       ratio against the critical path of the sleeps as they actually lasted in the run
 *       (each op records its own start and end) shows what the scheduler itself adds.
 *   (b) run, CPU-bound: per-node overhead of a compiled plan of 1,000 trivial sync cpu ops
 *       (a wide graph: every op reads the input; and a chain) against plain calls of the
 *       same function in the same pattern: (jitted − plain) ÷ 1,000.
 *   (c) trace + compile: first-call cost for programs of 100 and 1,000 op nodes, measured
 *       with `.inspect()` on a fresh jitted function (trace, optimise and plan, nothing
 *       run), minus the printers `.inspect()` also runs; linear means the 1,000-node figure
 *       is near ten times the 100-node one.
 *   (d) plan share: of the differential generator's random programs (test/jit/fuzz-gen.ts,
 *       fixed seed), compiled by the real weft transformer (templates, `?.`, `??`, `?:`,
 *       `if` and `try` staged where it can), the share that runs as a plan rather than
 *       falling back to eager (`inspect()` on the first input: traced, nothing run).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { jit, op } from "weft";
import { generate, inputs } from "../test/jit/fuzz-gen.js";
// The generated programs' ops: imported here so the build compiles them beside this suite.
import "../test/jit/fuzz-ops.js";
import { printDot, printJSON, printMermaid, printText } from "../compiler/print.js";
import type { Graph } from "../compiler/ir.js";
import { prng } from "../test/compiler/random-graph.js";
import { measure, round, type Metric, type Suite } from "./harness.js";

// ---- (a) the I/O DAG

const DAG_NODES = 50;
const DAG_SEED = 42;

interface DagNode {
  readonly ms: number;
  /** Indices of earlier nodes this one reads (none: it reads the input). */
  readonly deps: readonly number[];
}

/** 50 nodes; each reads 0-3 random earlier nodes (mostly recent ones, so paths are long). */
function randomDag(n: number, seed: number): DagNode[] {
  const rand = prng(seed);
  const nodes: DagNode[] = [];
  for (let i = 0; i < n; i++) {
    const ms = 5 + Math.floor(rand() * 16);
    const k = i === 0 ? 0 : Math.floor(rand() * 4);
    const deps = new Set<number>();
    for (let j = 0; j < k; j++) deps.add(Math.max(0, i - 1 - Math.floor(rand() * Math.min(i, 8))));
    nodes.push({ ms, deps: [...deps].sort((x, y) => x - y) });
  }
  return nodes;
}

/** The longest sum of `cost(i)` along a dependency path. */
function criticalPath(dag: readonly DagNode[], cost: (i: number) => number): number {
  const finish: number[] = [];
  dag.forEach((node, i) => (finish[i] = cost(i) + Math.max(0, ...node.deps.map((d) => finish[d]!))));
  return Math.max(...finish);
}

const spans = new Map<number, { start: number; end: number }>();

/** One io op of the DAG: sleeps `ms`, records when it actually ran, returns a digest of its inputs. */
const visit = op({ kind: "io" }, async (id: number, ms: number, inputs: string[]): Promise<string> => {
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  spans.set(id, { start, end: performance.now() });
  return `${id}<${inputs.length}`;
});

function dagProgram(dag: readonly DagNode[]) {
  const sinks = dag.map((_, i) => i).filter((i) => !dag.some((m) => m.deps.includes(i)));
  // Written as eager code: one await after another, in program order.
  return async (input: string) => {
    const out: string[] = [];
    for (const [i, node] of dag.entries()) out.push(await visit(i, node.ms, node.deps.length === 0 ? [input] : node.deps.map((d) => out[d]!)));
    return sinks.map((i) => out[i]!);
  };
}

async function ioDag(quick: boolean): Promise<Metric[]> {
  const dag = randomDag(DAG_NODES, DAG_SEED);
  const eager = dagProgram(dag);
  const jitted = jit(dagProgram(dag), { strict: true });
  await jitted("warm"); // trace and compile outside the timing
  const limit = criticalPath(dag, (i) => dag[i]!.ms);
  const runs = quick ? 1 : 5;
  let wall = 0;
  let measuredLimit = 0;
  for (let r = 0; r < runs; r++) {
    spans.clear();
    const t0 = performance.now();
    await jitted(`run${r}`);
    wall += performance.now() - t0;
    measuredLimit += criticalPath(dag, (i) => spans.get(i)!.end - spans.get(i)!.start);
  }
  wall /= runs;
  measuredLimit /= runs;
  const t0 = performance.now();
  for (let r = 0; r < (quick ? 1 : 2); r++) await eager(`eager${r}`);
  const eagerWall = (performance.now() - t0) / (quick ? 1 : 2);
  return [
    { name: "io_dag_wall_over_critical_path", value: round(wall / limit), unit: "×", baseline: `critical path ${limit} ms (nominal sleeps), jitted ${round(wall)} ms` },
    { name: "io_dag_wall_over_measured_critical_path", value: round(wall / measuredLimit), unit: "×", baseline: `critical path of the sleeps as they lasted, ${round(measuredLimit)} ms` },
    { name: "io_dag_speedup_vs_eager", value: round(eagerWall / wall), unit: "×", baseline: `eager ${round(eagerWall)} ms (ops awaited in program order)`, ratio: round(eagerWall / wall) },
  ];
}

// ---- (b) per-node overhead of a compiled plan

const PLAN_NODES = 1000;

function bump(x: number): number {
  return x + 1;
}
const bumpOp = op({ kind: "cpu" }, bump);

const wide = jit(
  async (x: number) => {
    const out: number[] = [];
    for (let i = 0; i < PLAN_NODES; i++) out.push(await bumpOp(x));
    return out;
  },
  { strict: true },
);
function widePlain(x: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < PLAN_NODES; i++) out.push(bump(x));
  return out;
}

const chain = jit(
  async (x: number) => {
    let v = x;
    for (let i = 0; i < PLAN_NODES; i++) v = await bumpOp(v);
    return v;
  },
  { strict: true },
);
function chainPlain(x: number): number {
  let v = x;
  for (let i = 0; i < PLAN_NODES; i++) v = bump(v);
  return v;
}

async function planOverhead(quick: boolean): Promise<Metric[]> {
  await wide(0);
  await chain(0);
  let sink = 0;
  const t = await measure(
    {
      wide: async () => {
        sink += (await wide(1)).length;
      },
      widePlain: () => {
        sink += widePlain(1).length;
      },
      chain: async () => {
        sink += await chain(1);
      },
      chainPlain: () => {
        sink += chainPlain(1);
      },
    },
    { time: quick ? 100 : 1000 },
  );
  if (sink === -1) console.log(sink);
  const perNode = (jitted: number, plain: number) => round((jitted - plain) / PLAN_NODES);
  return [
    { name: "plan_node_overhead_us", value: perNode(t.wide!, t.widePlain!), unit: "µs/node", baseline: `plain calls: ${round(t.widePlain!)} µs per 1,000; plan: ${round(t.wide!)} µs (wide: every op reads the input)` },
    { name: "plan_node_overhead_chain_us", value: perNode(t.chain!, t.chainPlain!), unit: "µs/node", baseline: `plain calls: ${round(t.chainPlain!)} µs per 1,000; plan: ${round(t.chain!)} µs (a chain, fused into one group)` },
  ];
}

// ---- (c) trace + compile

const step = op({ kind: "io" }, async (a: string, b: string): Promise<{ text: string; score: number }> => ({ text: a + b, score: a.length }));
const tidy = op({ kind: "pure" }, (s: string): string => s.trim());

/** The wiring of a program of `n` op nodes over a seeded random DAG: each `step` reads two earlier results, every fourth result is tidied. */
function wiring(n: number): readonly (readonly [a: number, b: number, tidied: boolean])[] {
  const rand = prng(7);
  const out: [number, number, boolean][] = [];
  let ops = 0;
  for (let made = 1; ops < n; made++) {
    const a = Math.floor(rand() * made);
    const b = Math.max(0, made - 1 - Math.floor(rand() * 4));
    ops++;
    const tidied = ops < n && ops % 4 === 0;
    if (tidied) ops++;
    out.push([a, b, tidied]);
  }
  return out;
}

const WIRINGS: Record<number, ReturnType<typeof wiring>> = { 100: wiring(100), 1000: wiring(1000) };

/**
 * A program of `n` op nodes (`n` static), as a user writes one: a function the transformer
 * sees and stages, so each op call's TypeScript position is marked at build time. Each
 * `step` reads two earlier results (one through a property read).
 */
const program = async (input: string, n: number) => {
  const texts: string[] = [input];
  for (const [a, b, tidied] of WIRINGS[n]!) {
    const r = await step(texts[a]!, texts[b]!);
    texts.push(tidied ? await tidy(r.text) : r.text);
  }
  return texts.slice(-4);
};

/** The same program made by a factory, so the transformer cannot see the function: each op call's position is read from the stack. */
function unstaged(n: number) {
  return async (input: string) => {
    const texts: string[] = [input];
    for (const [a, b, tidied] of WIRINGS[n]!) {
      const r = await step(texts[a]!, texts[b]!);
      texts.push(tidied ? await tidy(r.text) : r.text);
    }
    return texts.slice(-4);
  };
}

function printAll(g: Graph): number {
  return printText(g).length + printMermaid(g).length + printDot(g).length + printJSON(g).length;
}

async function traceCompile(quick: boolean): Promise<Metric[]> {
  const fresh = () => jit(program, { strict: true, static: [1] });
  const u1000 = unstaged(1000);
  const g100 = (await fresh().inspect("q", 100)).graph!;
  const g1000 = (await fresh().inspect("q", 1000)).graph!;
  const gu1000 = (await jit(u1000, { strict: true }).inspect("q")).graph!;
  const opCount = (g: Graph) => g.nodes.filter((n) => n.kind === "op").length;
  if (opCount(g100) !== 100 || opCount(g1000) !== 1000 || opCount(gu1000) !== 1000) throw new Error(`trace bench: expected 100 and 1,000 op nodes, got ${opCount(g100)}, ${opCount(g1000)} and ${opCount(gu1000)}`);
  let sink = 0;
  const t = await measure(
    {
      inspect100: async () => {
        sink += (await fresh().inspect("q", 100)).plan!.steps.length;
      },
      inspect1000: async () => {
        sink += (await fresh().inspect("q", 1000)).plan!.steps.length;
      },
      inspectUnstaged1000: async () => {
        sink += (await jit(u1000, { strict: true }).inspect("q")).plan!.steps.length;
      },
      print100: () => {
        sink += printAll(g100);
      },
      print1000: () => {
        sink += printAll(g1000);
      },
    },
    { time: quick ? 100 : 1500 },
  );
  if (sink === -1) console.log(sink);
  const ms100 = (t.inspect100! - t.print100!) / 1000;
  const ms1000 = (t.inspect1000! - t.print1000!) / 1000;
  return [
    { name: "trace_compile_ms_100", value: round(ms100), unit: "ms", baseline: `inspect() ${round(t.inspect100! / 1000)} ms minus its printers ${round(t.print100! / 1000)} ms` },
    {
      name: "trace_compile_ms_1000",
      value: round(ms1000),
      unit: "ms",
      baseline: `10 × trace_compile_ms_100 (linear); inspect() ${round(t.inspect1000! / 1000)} ms minus printers ${round(t.print1000! / 1000)} ms`,
      ratio: round(ms1000 / (10 * ms100)),
    },
    {
      name: "trace_compile_ms_1000_unstaged",
      value: round((t.inspectUnstaged1000! - t.print1000!) / 1000),
      unit: "ms",
      baseline: `the same program where the transformer cannot see it (op call positions read from the stack); inspect() ${round(t.inspectUnstaged1000! / 1000)} ms minus printers`,
    },
  ];
}

// ---- (d) the share of generated programs that run as plans

const SHARE_SEED = 20261201;

async function planShare(quick: boolean): Promise<Metric[]> {
  const count = quick ? 100 : 1000;
  const here = import.meta.dirname;
  // Run from sources (vitest: vite compiles through the weft plugin) or from .build (node).
  const built = path.basename(path.dirname(here)) === ".build";
  const root = path.resolve(here, built ? "../.." : "..");
  const name = `share-${SHARE_SEED}-${count}`;
  const source = generate(SHARE_SEED, count, "../fuzz-ops.js");
  let file: string;
  if (built) {
    // The same transform a user's build runs (the published one: weft's own sources, which
    // the jit check must recognise as weft's, are found from its location), on a module
    // beside the built ops.
    const { weft: weftVite } = (await import("weft/vite" as string)) as typeof import("../transformers/vite.js");
    const compiled = weftVite().transform(source, path.join(root, "test/jit/.fuzz", `${name}.ts`));
    if (!compiled) throw new Error("plan share bench: the weft transform skipped the generated module");
    file = path.join(root, ".build/test/jit/.fuzz", `${name}.js`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, compiled.code);
  } else {
    file = path.join(root, "test/jit/.fuzz", `${name}.ts`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, source);
  }
  const { programs } = (await import(pathToFileURL(file).href)) as { programs: [unknown, { inspect(x: unknown): Promise<{ fallback?: string }> }][] };
  const first = inputs()[0]!;
  let planned = 0;
  for (const [, jf] of programs) if ((await jf.inspect(structuredClone(first))).fallback === undefined) planned++;
  return [{ name: "jit_plan_share", value: round((100 * planned) / programs.length), unit: "%", baseline: `${planned} of ${programs.length} generated programs (seed ${SHARE_SEED}) run as plans` }];
}

export const run: Suite = async ({ quick }) => [...(await ioDag(quick)), ...(await planOverhead(quick)), ...(await traceCompile(quick)), ...(await planShare(quick))];
