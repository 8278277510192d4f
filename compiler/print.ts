/**
 * Printers for graphs: text (one line per node, like a JAX jaxpr), JSON (stable key order),
 * Mermaid (`flowchart TD`, renders on GitHub) and DOT. All deterministic: the same graph
 * always prints the same string.
 */
import { formatLoc, isPlainObject, namedSubgraphs, unreachable, type Graph, type Node, type NodePlacement, type Template } from "./ir.js";
import type { ChainLink } from "./expr.js";
import { policyRefusal } from "./check.js";

const INDENT = "  ";
const MAX_STRING = 40;
const MAX_ITEMS = 8;
const MAX_DEPTH = 2;

/**
 * A short, deterministic rendering of a JS value: strings quoted and truncated, class
 * instances as `<Name>`, nesting cut at depth 2.
 *
 * @example
 * ```ts
 * showValue({ model: "gpt", n: 2 }); // '{model: "gpt", n: 2}'
 * ```
 */
export function showValue(v: unknown, depth = 0): string {
  switch (typeof v) {
    case "string":
      return JSON.stringify(v.length > MAX_STRING ? `${v.slice(0, MAX_STRING - 1)}…` : v);
    case "number":
      return Object.is(v, -0) ? "-0" : String(v);
    case "bigint":
      return `${v}n`;
    case "boolean":
    case "undefined":
      return String(v);
    case "symbol":
      return v.toString();
    case "function":
      return `<function ${v.name || "anonymous"}>`;
    case "object":
      return v === null ? "null" : showObject(v, depth);
  }
}

function showObject(v: object, depth: number): string {
  if (ArrayBuffer.isView(v)) return `${ctorName(v)}(${"length" in v ? String(v.length) : v.byteLength})`;
  const array = Array.isArray(v);
  if (!array && !isPlainObject(v)) return `<${ctorName(v)}>`;
  if (depth >= MAX_DEPTH) return array ? "[…]" : "{…}";
  const parts = array ? v.map((x: unknown) => showValue(x, depth + 1)) : Object.keys(v).map((k) => `${showKey(k)}: ${showData(v, k, depth + 1)}`);
  const shown = parts.length > MAX_ITEMS ? [...parts.slice(0, MAX_ITEMS), "…"] : parts;
  return array ? `[${shown.join(", ")}]` : `{${shown.join(", ")}}`;
}

// Printing must not run user code: an accessor shows as `<getter>`, never its value.
function showData(o: object, key: string, depth: number): string {
  const d = Object.getOwnPropertyDescriptor(o, key);
  return d !== undefined && "value" in d ? showValue(d.value, depth) : "<getter>";
}

const ctorName = (v: object): string => (v.constructor as { name?: string } | undefined)?.name || "Object";
const showKey = (k: string): string => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k));
const ref = (id: number) => `%${id}`;
const refs = (ids: readonly number[]) => ids.map(ref).join(", ");

function showTemplate(t: Template, inputs: readonly number[]): string {
  switch (t.kind) {
    case "hole":
      return ref(inputs[t.index] ?? -1);
    case "lit":
      return showValue(t.value);
    case "array":
      return `[${t.items.map((item) => showTemplate(item, inputs)).join(", ")}]`;
    case "object":
      return `{${t.entries.map(([k, v]) => `${showKey(k)}: ${showTemplate(v, inputs)}`).join(", ")}}`;
    default:
      return unreachable(t, "template kind");
  }
}

const showAccess = (key: string | number): string => (typeof key === "number" ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);

/** `%3 = op translate(%0, %2)`: the node without its annotations. */
function showNode(n: Node): string {
  switch (n.kind) {
    case "input":
      return `${ref(n.id)} = input ${n.index}`;
    case "const":
      return `${ref(n.id)} = const ${showValue(n.value)}`;
    case "op": {
      const args = n.self ? n.inputs.slice(1) : n.inputs;
      return `${ref(n.id)} = op ${n.desc.name}(${refs(args)})${n.self ? ` this=${ref(n.inputs[0] ?? -1)}` : ""}`;
    }
    case "get":
      return `${ref(n.id)} = get ${refs(n.inputs)}${showAccess(n.key)}`;
    case "call":
      return `${ref(n.id)} = ${n.awaited ? "await " : ""}call ${ref(n.inputs[0] ?? -1)}.${n.method}(${refs(n.inputs.slice(1))})`;
    case "expr":
      return `${ref(n.id)} = ${n.op}(${refs(n.inputs)})${n.op === "template" ? ` ${JSON.stringify(n.arg)}` : n.op === "chain" ? ` ${showChain(n.arg)}` : ""}`;
    case "pack":
      return `${ref(n.id)} = pack ${showTemplate(n.template, n.inputs)}`;
    case "cond":
      return `${ref(n.id)} = cond ${ref(n.inputs[0] ?? -1)}${captures(n.inputs)}`;
    case "try":
      return `${ref(n.id)} = try${n.inputs.length > 0 ? ` with (${refs(n.inputs)})` : ""}`;
    case "map":
      return `${ref(n.id)} = map ${ref(n.inputs[0] ?? -1)}${captures(n.inputs)}${n.concurrency === undefined ? "" : ` concurrency=${n.concurrency}`}`;
    case "fused":
      return `${ref(n.id)} = fused(${refs(n.inputs)})`;
    case "output":
      return `return ${refs(n.inputs)}`;
    default:
      return unreachable(n, "node kind");
  }
}

const showChain = (links: unknown): string => (links as readonly ChainLink[]).map((l) => `${l.optional ? "?." : "."}${l.key === undefined ? "[*]" : String(l.key)}`).join("");

const captures = (inputs: readonly number[]) => (inputs.length > 1 ? ` with (${refs(inputs.slice(1))})` : "");

/** `# io async @ app.ts:3:13`: effect for calls and nested nodes, placement, source. */
function annotations(n: Node): string {
  const parts: string[] = [];
  if (n.kind === "op" || ((n.kind === "cond" || n.kind === "try" || n.kind === "map" || n.kind === "fused") && n.effect !== "pure")) parts.push(n.effect);
  if ((n.kind === "op" || n.kind === "fused") && n.placement !== undefined) parts.push(n.placement);
  // Why a sync CPU op stayed out of any fused chain: its policy needs a call of its own.
  const refused = n.kind === "op" && n.desc.kind !== "io" && !n.desc.async ? policyRefusal(n.desc) : undefined;
  if (refused !== undefined) parts.push(`unfused: ${refused}`);
  if (n.loc !== undefined) parts.push(`@ ${formatLoc(n.loc)}`);
  return parts.length === 0 ? "" : `  # ${parts.join(" ")}`;
}


const inputIds = (g: Graph) => g.nodes.flatMap((n) => (n.kind === "input" ? [n.id] : []));

function textLines(g: Graph, indent: string, out: string[]): void {
  for (const n of g.nodes) {
    if (n.kind === "input") continue;
    out.push(`${indent}${showNode(n)}${annotations(n)}`);
    for (const [name, s] of namedSubgraphs(n)) {
      out.push(`${indent}${INDENT}${name}(${refs(inputIds(s))}) {`);
      textLines(s, indent + INDENT + INDENT, out);
      out.push(`${indent}${INDENT}}`);
    }
  }
}

/**
 * The graph as text, one line per node (inputs are named in the header).
 *
 * @example
 * ```ts
 * console.log(printText(g));
 * // graph(%0) {
 * //   %1 = op tokenize(%0)  # cpu inline @ app.ts:4:9
 * //   return %1
 * // }
 * ```
 */
export function printText(g: Graph): string {
  const out = [`graph(${refs(inputIds(g))}) {`];
  textLines(g, INDENT, out);
  out.push("}");
  return out.join("\n");
}

/**
 * JSON data.
 *
 * @example
 * ```ts
 * const data: JsonValue = toJSON(g).nodes[0]!;
 * ```
 */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * The graph as JSON-safe data with a fixed key order per node kind. Op nodes carry the
 * descriptor's id, name and kind (not the whole descriptor); a const whose value is not
 * exactly JSON carries `repr` (its `showValue`) instead of `value`.
 *
 * @example
 * ```ts
 * toJSON(g).nodes[1]; // { id: 1, kind: "op", inputs: [0], effect: "cpu", op: { id: "tok", name: "tokenize", kind: "cpu" }, self: false }
 * ```
 */
export function toJSON(g: Graph): { readonly arity: number; readonly output: number; readonly nodes: readonly JsonValue[] } {
  return { arity: g.arity, output: g.output, nodes: g.nodes.map(nodeJSON) };
}

function nodeJSON(n: Node): JsonValue {
  const out: Record<string, JsonValue> = { id: n.id, kind: n.kind, inputs: n.inputs, effect: n.effect };
  switch (n.kind) {
    case "input":
      out.index = n.index;
      break;
    case "const":
      Object.assign(out, valueJSON("value", n.value));
      break;
    case "op":
      out.op = { id: n.desc.id, name: n.desc.name, kind: n.desc.kind };
      out.self = n.self;
      if (n.placement !== undefined) out.placement = n.placement;
      break;
    case "get":
      out.key = n.key;
      break;
    case "call":
      out.method = n.method;
      if (n.awaited) out.awaited = true;
      break;
    case "expr":
      out.op = n.op;
      if (n.arg !== undefined) out.arg = n.arg as JsonValue;
      break;
    case "pack":
      out.template = templateJSON(n.template);
      break;
    case "cond":
    case "try":
      out.branches = n.branches.map(toJSON);
      break;
    case "map":
      out.body = toJSON(n.body);
      if (n.concurrency !== undefined) out.concurrency = n.concurrency;
      break;
    case "fused":
      out.body = toJSON(n.body);
      if (n.placement !== undefined) out.placement = n.placement;
      break;
    case "output":
      break;
    default:
      return unreachable(n, "node kind");
  }
  if (n.loc !== undefined) out.loc = formatLoc(n.loc);
  return out;
}

function templateJSON(t: Template): JsonValue {
  switch (t.kind) {
    case "hole":
      return { kind: "hole", index: t.index };
    case "lit":
      return { kind: "lit", ...valueJSON("value", t.value) };
    case "array":
      return { kind: "array", items: t.items.map(templateJSON) };
    case "object":
      return { kind: "object", entries: t.entries.map(([k, v]) => [k, templateJSON(v)]) };
    default:
      return unreachable(t, "template kind");
  }
}

function valueJSON(field: string, v: unknown): { readonly [key: string]: JsonValue } {
  return isExactJSON(v, 0) ? { [field]: v as JsonValue } : { repr: showValue(v) };
}

// Depth-bounded, so a cyclic value is reported by `repr` rather than looping.
function isExactJSON(v: unknown, depth: number): boolean {
  if (v === null || typeof v === "string" || typeof v === "boolean") return true;
  if (typeof v === "number") return Number.isFinite(v) && !Object.is(v, -0);
  if (depth > 16 || typeof v !== "object") return false;
  if (Array.isArray(v)) return v.every((x) => isExactJSON(x, depth + 1));
  return isPlainObject(v) && Object.values(Object.getOwnPropertyDescriptors(v)).every((d) => d.enumerable !== true || ("value" in d && isExactJSON(d.value, depth + 1)));
}

/**
 * The graph as JSON text (2-space indent), stable across runs.
 *
 * @example
 * ```ts
 * writeFileSync("plan.json", printJSON(g));
 * ```
 */
export function printJSON(g: Graph): string {
  return JSON.stringify(toJSON(g), null, 2);
}

/** A node's label in diagrams: `%3 translate`, `%4 .text`, `%0 input 0`. */
function label(n: Node): string {
  const id = ref(n.id);
  switch (n.kind) {
    case "input":
      return `${id} input ${n.index}`;
    case "const":
      return `${id} const ${showValue(n.value)}`;
    case "op":
      return `${id} ${n.desc.name}${placedAway(n.placement)}`;
    case "get":
      return `${id} ${showAccess(n.key)}`;
    case "call":
      return `${id} .${n.method}()`;
    case "expr":
      return `${id} ${n.op}`;
    case "fused":
      return `${id} fused${placedAway(n.placement)}`;
    case "pack":
    case "cond":
    case "try":
    case "map":
    case "output":
      return `${id} ${n.kind}`;
    default:
      return unreachable(n, "node kind");
  }
}

const FILL: Readonly<Record<"io" | "cpu", string>> = { io: "#fde2e2", cpu: "#e2ecfd" };

/**
 * The graph as a Mermaid flowchart; subgraphs become Mermaid subgraphs linked from their
 * node by a dotted arrow; io and cpu nodes are coloured.
 *
 * @example
 * ```ts
 * const md = "```mermaid\n" + printMermaid(g) + "\n```";
 * ```
 */
export function printMermaid(g: Graph): string {
  const out = ["flowchart TD"];
  const classes: string[] = [];
  mermaidGraph(g, INDENT, out, classes);
  if (classes.length > 0) {
    out.push(`${INDENT}classDef io fill:${FILL.io},stroke:#c0392b`, `${INDENT}classDef cpu fill:${FILL.cpu},stroke:#2c6fbb`, ...classes);
  }
  return out.join("\n");
}

function mermaidGraph(g: Graph, indent: string, out: string[], classes: string[]): void {
  const q = (text: string) => `"${text.replaceAll("&", "#amp;").replaceAll('"', "#quot;").replaceAll("<", "#lt;").replaceAll(">", "#gt;")}"`;
  for (const n of g.nodes) {
    const [open, close] = mermaidShape(n);
    out.push(`${indent}n${n.id}${open}${q(label(n))}${close}`);
    if (n.effect !== "pure") classes.push(`${INDENT}class n${n.id} ${n.effect}`);
  }
  for (const n of g.nodes) for (const x of new Set(n.inputs)) out.push(`${indent}n${x} --> n${n.id}`);
  for (const n of g.nodes) {
    for (const [name, s] of namedSubgraphs(n)) {
      const sid = `s${n.id}_${name}`;
      out.push(`${indent}subgraph ${sid} [${q(`${ref(n.id)} ${name}`)}]`);
      mermaidGraph(s, indent + INDENT, out, classes);
      out.push(`${indent}end`, `${indent}n${n.id} -.-> ${sid}`);
    }
  }
}

function mermaidShape(n: Node): readonly [string, string] {
  switch (n.kind) {
    case "input":
    case "output":
      return ["([", "])"];
    case "op":
      return ["[", "]"];
    case "cond":
      return ["{", "}"];
    case "try":
      return ["{{", "}}"];
    case "map":
    case "fused":
      return ["[[", "]]"];
    case "const":
    case "get":
    case "call":
    case "pack":
    case "expr":
      return ["(", ")"];
    default:
      return unreachable(n, "node kind");
  }
}

/**
 * The graph in Graphviz DOT; subgraphs become clusters linked from their node by a dashed
 * edge; io and cpu nodes are filled.
 *
 * @example
 * ```ts
 * writeFileSync("plan.dot", printDot(g)); // dot -Tsvg plan.dot > plan.svg
 * ```
 */
export function printDot(g: Graph): string {
  const out = ["digraph weft {", `${INDENT}compound=true;`, `${INDENT}node [fontname="Helvetica", fontsize=11];`];
  dotGraph(g, INDENT, out);
  out.push("}");
  return out.join("\n");
}

function dotGraph(g: Graph, indent: string, out: string[]): void {
  const q = (text: string) => `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  for (const n of g.nodes) {
    const fill = n.effect === "pure" ? "" : `, style=filled, fillcolor=${q(FILL[n.effect])}`;
    out.push(`${indent}n${n.id} [label=${q(label(n))}, shape=${dotShape(n)}${fill}];`);
  }
  for (const n of g.nodes) for (const x of new Set(n.inputs)) out.push(`${indent}n${x} -> n${n.id};`);
  for (const n of g.nodes) {
    for (const [name, s] of namedSubgraphs(n)) {
      const cluster = `cluster_${n.id}_${name}`;
      out.push(`${indent}subgraph ${cluster} {`, `${indent}${INDENT}label=${q(`${ref(n.id)} ${name}`)};`);
      dotGraph(s, indent + INDENT, out);
      out.push(`${indent}}`, `${indent}n${n.id} -> n${s.output} [style=dashed, lhead=${cluster}];`);
    }
  }
}

function dotShape(n: Node): string {
  switch (n.kind) {
    case "input":
    case "output":
      return "oval";
    case "op":
      return "box";
    case "cond":
      return "diamond";
    case "try":
      return "hexagon";
    case "map":
      return "box3d";
    case "fused":
      return "box, peripheries=2";
    case "const":
      return "plaintext";
    case "get":
    case "call":
    case "pack":
    case "expr":
      return "ellipse";
    default:
      return unreachable(n, "node kind");
  }
}

/** ` @worker` or ` @remote:NAME` for a node that leaves this thread to run, else nothing. */
function placedAway(placement: NodePlacement | undefined): string {
  return placement === "worker" || placement?.startsWith("remote:") ? ` @${placement}` : "";
}
