/**
 * The layer rule of the design (shared DESIGN.md, "Layers"), enforced on every source file's
 * imports: a file imports only from its own layer or below, there is no import cycle, and
 * `transformers/` (the build-time world) imports only layer-1 data formats while nothing else
 * imports it.
 *
 *   1  plain data formats: types and pure helpers, no behaviour (the descriptor, durations)
 *   2  compiler/ (pure) and the runtime core: context, errors, the op-call kernel,
 *      validation, the registry table, telemetry, settings
 *   3  executors: inline, async, the worker pool, remote engines
 *   4  drivers: the jit driver, the plan runner, batching, streams, durable runs, models
 *   5  decorators/ front doors: parse arguments, register, wrap
 *   6  index.ts (re-exports only), the CLI, thread entry points
 *
 * Placing a new file: most files need nothing, because LAYERS below matches folders and
 * patterns (a new `runtime/foo.ts` is runtime core, layer 2; anything under `runtime/models/`
 * or `runtime/durable/` is a driver, layer 4; under `runtime/workers/` an executor, layer 3;
 * under `decorators/` a front door, layer 5). A file that belongs elsewhere (a pure data
 * format, say) gets an exact line above the folder pattern it would otherwise fall under;
 * the first matching line wins. A file no line matches fails the test, naming itself.
 *
 * There is no allowlist: any violation fails the test, naming the import and both files'
 * layers. Type-only imports count, as they are what a reader follows.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "..");

type Layer = 1 | 2 | 3 | 4 | 5 | 6 | "transformers";

/** First match wins. A pattern ending in `/` matches everything under that folder. */
const LAYERS: readonly (readonly [pattern: string, layer: Layer, why: string])[] = [
  ["index.ts", 6, "the public entry: re-exports only"],
  ["testing/", 6, "weft/testing: a public entry of test tools (the mock OpenAI server)"],
  ["cli/", 6, "the weft command line: verbs over the public runtime, and the door to build-time tools (weft gen)"],
  ["transformers/", "transformers", "build time: imports only layer-1 data formats, never the runtime"],
  ["decorators/descriptor.ts", 1, "the op descriptor: types and pure helpers"],
  ["decorators/options.ts", 1, "the one option parser: call forms and option keys, pure data the transformer shares"],
  ["decorators/formats.ts", 1, "the vetted format table and the pure helpers generated checks call"],
  ["decorators/manifest-format.ts", 1, "the weft gen manifest format: types the generator writes and the runtime's loader reads"],
  ["decorators/stack.ts", 1, "the one stack walker: frames as source positions, weft's own files, source maps; shared by the tracer and the manifest loader"],
  ["runtime/duration.ts", 1, "the pure duration parser, shareable with the transformer"],
  ["decorators/", 5, "front doors: parse arguments, register, wrap"],
  ["runtime/deferred.ts", 5, "public values whose modules load at first use: fronts over drivers and executors, for index.ts"],
  ["compiler/", 2, "pure: graph in, graph or plan out"],
  ["runtime/workers/worker.ts", 6, "the worker thread's entry point: it loads user modules, like the CLI"],
  ["runtime/workers/", 3, "the worker pool executor"],
  ["runtime/remote/", 3, "the remote executor (BullMQ) and the worker process runtime that serves it"],
  ["runtime/executors.ts", 3, "the Executor interface and the inline and async executors"],
  ["runtime/runtime.ts", 3, "the Runtime object: owns settings, the op table, the cost model, the executor table, the pool and listeners"],
  ["runtime/define.ts", 3, "registers an op, then the placement authority places it on an executor"],
  ["runtime/fused.ts", 3, "runs a fused chain on an executor"],
  ["runtime/jit.ts", 4, "the jit driver"],
  ["runtime/stage.ts", 4, "the jit's staging helpers, which code rewritten at build time calls"],
  ["runtime/run-plan.ts", 4, "the plan runner"],
  ["runtime/batch.ts", 4, "batching (vmap)"],
  ["runtime/stream", 4, "streams"],
  ["runtime/models/", 4, "model calls"],
  ["runtime/durable/", 4, "durable runs"],
  ["runtime/health.ts", 4, "health(): checks the durable store and the model providers"],
  ["runtime/config/", 2, "layered config and credentials: runtime core, read by every layer above"],
  ["runtime/", 2, "runtime core"],
];

/**
 * Folder rules from the design's "must not" column, beyond layer order: the front doors do
 * not stage anything (no compiler), the compiler knows no executors (no runtime).
 */
const FORBIDDEN: readonly (readonly [from: string, to: string, why: string])[] = [
  ["decorators/", "compiler/", "front doors do not run, stage or place anything"],
  ["compiler/", "runtime/", "the compiler is pure and knows no executors"],
];

const ROOTS = ["index.ts", "decorators", "compiler", "runtime", "transformers", "testing", "cli"];

/**
 * The one folder outside transformers/ that may import it: the command line runs the
 * build-time tools (`weft gen` loads transformers/gen.ts when that verb runs). The rule that
 * matters holds either way: transformers/ never imports the runtime.
 */
const BUILD_TOOL_DOORS = ["cli/"];

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = path.join(root, rel);
    if (rel.endsWith(".ts")) {
      if (!/\.test(-d)?\.ts$/.test(rel) && !rel.endsWith(".d.ts")) out.push(rel);
      return;
    }
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      if (entry.isDirectory() || entry.name.endsWith(".ts")) walk(path.posix.join(rel, entry.name));
    }
  };
  for (const r of ROOTS) walk(r);
  return out.sort();
}

function layerOf(file: string): { layer: Layer; pattern: string } | undefined {
  for (const [pattern, layer] of LAYERS) {
    if (pattern.endsWith("/") ? file.startsWith(pattern) : file === pattern || (!pattern.endsWith(".ts") && file.startsWith(pattern))) {
      return { layer, pattern };
    }
  }
  return undefined;
}

/** Relative module specifiers a file imports (static, re-exports, dynamic with a literal, `import type`). */
function importsOf(source: string, fileName = "x.ts"): string[] {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const specs: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      specs.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) specs.push(arg.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      specs.push(node.argument.literal.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      specs.push(node.moduleReference.expression.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return specs.filter((s) => s.startsWith("."));
}

function resolve(from: string, spec: string, known: ReadonlySet<string>): string {
  const joined = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  const candidates = [joined.replace(/\.js$/, ".ts"), joined, `${joined}.ts`, `${joined}/index.ts`];
  const hit = candidates.find((c) => known.has(c));
  if (!hit) throw new Error(`${from} imports "${spec}", which resolves to no source file (tried ${candidates.join(", ")})`);
  return hit;
}

/** Tarjan's strongly connected components, with more than one file. */
function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.has(v)) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) strong(v);
  return out;
}

const rank = (l: Layer) => (l === "transformers" ? 0 : l);

function violations(): { found: string[]; unplaced: string[] } {
  const files = sourceFiles();
  const known = new Set(files);
  const graph = new Map<string, Set<string>>();
  for (const f of files) {
    const targets = new Set(importsOf(readFileSync(path.join(root, f), "utf8"), f).map((s) => resolve(f, s, known)));
    graph.set(f, targets);
  }
  const unplaced = files.filter((f) => !layerOf(f));
  const found = new Set<string>();
  for (const [from, targets] of graph) {
    const a = layerOf(from);
    if (!a) continue;
    for (const to of targets) {
      const b = layerOf(to)!;
      if (!b) continue;
      if (a.layer === "transformers" || b.layer === "transformers") {
        const door = b.layer === "transformers" && BUILD_TOOL_DOORS.some((d) => from.startsWith(d));
        if (a.layer === "transformers" ? b.layer !== "transformers" && b.layer !== 1 : !door) found.add(`transformers ${from} -> ${to}`);
      } else if (rank(b.layer) > rank(a.layer)) found.add(`up ${from} -> ${to}`);
      for (const [f, t] of FORBIDDEN) if (from.startsWith(f) && to.startsWith(t)) found.add(`forbidden ${from} -> ${to}`);
    }
  }
  for (const scc of cycles(graph)) found.add(`cycle ${scc.join(" ")}`);
  return { found: [...found].sort(), unplaced };
}

describe("layers (DESIGN.md): imports point down, never in a circle", () => {
  const { found, unplaced } = violations();

  it("places every source file in a layer", () => {
    expect(unplaced, "add a line to LAYERS in test/layers.test.ts for these files").toEqual([]);
  });

  it("has no violation", () => {
    const explain = (v: string) => {
      const m = /^(up|forbidden|transformers) (\S+) -> (\S+)$/.exec(v);
      if (!m) return v;
      const [, , from, to] = m;
      const la = layerOf(from!)!;
      const lb = layerOf(to!)!;
      return `${v}   (${from} is layer ${la.layer} by "${la.pattern}", ${to} is layer ${lb.layer} by "${lb.pattern}")`;
    };
    expect(found.map(explain), "new layer violations: import downwards, or move the code to the layer it belongs to").toEqual([]);
  });

  it("reads imports of every form", () => {
    const src = `import a from "./a.js"; import type { B } from "../b.js"; export * from "./c.js";
      export { d } from "./d.js"; const e = await import("./e.js"); type F = import("./f.js").F;
      import g = require("./g.js"); import "node:fs"; import x from "effect";`;
    expect(importsOf(src)).toEqual(["./a.js", "../b.js", "./c.js", "./d.js", "./e.js", "./f.js", "./g.js"]);
  });

  it("finds a cycle and leaves an acyclic graph alone", () => {
    const g = new Map([
      ["a", new Set(["b"])],
      ["b", new Set(["c"])],
      ["c", new Set(["a", "d"])],
      ["d", new Set<string>()],
    ]);
    expect(cycles(g)).toEqual([["a", "b", "c"]]);
    g.get("c")!.delete("a");
    expect(cycles(g)).toEqual([]);
  });
});
