/**
 * The IR checker. `optimize` runs it on the input graph and after every pass, so a pass
 * that breaks an invariant is named at once instead of surfacing as a wrong result later.
 *
 * Messages name the node as `%id kind [op name]`; issues inside a subgraph are prefixed by
 * the path to it (`%7 cond [then] > %9 get: ...`).
 */
import type { OpDescriptor } from "../decorators/descriptor.js";
import { isExprOp } from "./expr.js";
import { graphEffect, IdMap, namedSubgraphs, joinEffect, Nested, NodeKinds, templateHoles, unreachable, type EffectTag, type Graph, type Node, type NodeId, type NodePlacement, type OpNode } from "./ir.js";

/**
 * Every problem found in `g` (and its subgraphs), in graph order; empty when well formed.
 *
 * @example
 * ```ts
 * check(g); // ["%3 get: input %9 is not in this graph"]
 * ```
 */
export function check(g: Graph): readonly string[] {
  const issues: string[] = [];
  checkGraph(g, [], new IdMap(), issues);
  return issues;
}

/**
 * Thrown by `verify`: the graph broke an IR invariant.
 *
 * @example
 * ```ts
 * try { verify(g, "cse"); } catch (e) { if (e instanceof IRError) console.log(e.issues); }
 * ```
 */
export class IRError extends Error {
  override readonly name = "IRError";
  constructor(
    readonly issues: readonly string[],
    /** The pass that produced the graph, when known. */
    readonly after?: string,
  ) {
    super(`IR check failed${after === undefined ? "" : ` after ${after}`}:\n${issues.map((i) => `  ${i}`).join("\n")}`);
  }
}

/**
 * Returns `g` when it is well formed; throws an `IRError` listing every issue otherwise.
 *
 * @example
 * ```ts
 * const checked = verify(cse(g), "cse");
 * ```
 */
export function verify(g: Graph, after?: string): Graph {
  const issues = check(g);
  if (issues.length > 0) throw new IRError(issues, after);
  return g;
}

function checkGraph(g: Graph, path: readonly string[], seen: IdMap<Graph>, out: string[]): void {
  const graphSays = (msg: string) => out.push(`${path.length === 0 ? "graph" : path.join(" > ")}: ${msg}`);
  // One reporter per graph: messages are rare, so the label is only built when one is said.
  let current: Node | undefined;
  const say = (msg: string) => out.push(`${[...path, current === undefined ? "?" : labelOf(current)].join(" > ")}: ${msg}`);
  // Ids seen anywhere map to the graph that defined them: "defined earlier here" is one lookup.
  // A duplicate still counts as defined here, so it is reported once, not at every use.
  let duplicates: Set<NodeId> | undefined;
  const inputOwner = new Map<number, NodeId>();
  const outputs: NodeId[] = [];
  const arityOk = Number.isSafeInteger(g.arity) && g.arity >= 0;
  if (!arityOk) graphSays(`arity must be a non-negative integer, got ${String(g.arity)}`);

  g.nodes.forEach((n, i) => {
    if (!Number.isSafeInteger(n.id) || n.id < 0) {
      graphSays(`node at position ${i}: id must be a non-negative integer, got ${String(n.id)}`);
      return;
    }
    current = n;
    for (const x of n.inputs) {
      if (seen.get(x) !== g && duplicates?.has(x) !== true) say(g.nodes.some((m) => m.id === x) ? `input %${x} is used before it is defined` : `input %${x} is not in this graph`);
    }
    // Recorded after the inputs are checked, so a node reading itself is "used before defined".
    if (!seen.has(n.id)) seen.set(n.id, g);
    else {
      say("duplicate id");
      (duplicates ??= new Set()).add(n.id);
    }
    if (!NodeKinds.has(n.kind)) {
      say(`unknown kind "${String(n.kind)}"`);
      return;
    }
    if (n.kind === "input" && arityOk) {
      const owner = inputOwner.get(n.index);
      if (!Number.isSafeInteger(n.index) || n.index < 0 || n.index >= g.arity) say(`index ${String(n.index)} is out of range (arity ${g.arity})`);
      else if (owner !== undefined) say(`index ${n.index} is already taken by %${owner}`);
      else inputOwner.set(n.index, n.id);
    }
    if (n.kind === "output") {
      outputs.push(n.id);
      if (i !== g.nodes.length - 1) say("not the last node");
    }
    checkNode(n, say);
    if (Nested.has(n.kind)) checkSubgraphs(n, [...path, labelOf(n)], seen, out);
  });

  if (arityOk) for (let i = 0; i < g.arity; i++) if (!inputOwner.has(i)) graphSays(`no input node for index ${i}`);
  if (outputs.length === 0) graphSays("no output node");
  else if (outputs.length > 1) graphSays(`${outputs.length} output nodes (${outputs.map((id) => `%${id}`).join(", ")})`);
  else if (g.output !== outputs[0]) graphSays(`output is %${g.output} but the output node is %${outputs[0]}`);
}

function expectInputs(n: Node, count: number, say: (msg: string) => void): void {
  if (n.inputs.length !== count) say(`expected ${plural(count, "input")}, got ${n.inputs.length}`);
}

function checkNode(n: Node, say: (msg: string) => void): void {
  const expected = expectedEffect(n);
  if (n.effect !== expected) say(`effect "${n.effect}", expected "${expected}"`);
  switch (n.kind) {
    case "input":
    case "const":
      expectInputs(n, 0, say);
      return;
    case "output":
      expectInputs(n, 1, say);
      return;
    case "get":
      expectInputs(n, 1, say);
      if (typeof n.key !== "string" && typeof n.key !== "number") say(`key must be a string or a number, got ${typeof n.key}`);
      return;
    case "call":
      if (n.inputs.length === 0) say("expected a receiver input");
      if (typeof n.method !== "string" || n.method === "") say("method must be a non-empty string");
      return;
    case "expr":
      if (!isExprOp(n.op)) say(`unknown expr op ${JSON.stringify(n.op)}`);
      else if (n.op === "template" && (!Array.isArray(n.arg) || n.arg.length !== n.inputs.length + 1)) say(`a template of ${plural(n.inputs.length, "substitution")} needs ${n.inputs.length + 1} strings`);
      else if ((n.op === "seq" || n.op === "chain" || n.op === "nullish") && n.inputs.length === 0) say(`expected an input`);
      return;
    case "pack": {
      const used = new Set<number>();
      for (const hole of templateHoles(n.template)) {
        if (hole >= n.inputs.length || hole < 0) say(`template hole ${hole} is out of range (${plural(n.inputs.length, "input")})`);
        used.add(hole);
      }
      n.inputs.forEach((x, i) => used.has(i) || say(`input ${i} (%${x}) is not used by the template`));
      return;
    }
    case "op":
      checkOp(n, say);
      return;
    case "cond": {
      if (n.inputs.length === 0) say("expected a predicate input");
      if (n.branches.length !== 2) say(`expected 2 branches, got ${n.branches.length}`);
      const captures = Math.max(0, n.inputs.length - 1);
      n.branches.forEach((b, i) => b.arity !== captures && say(`${i === 0 ? "then" : "else"} branch takes ${plural(b.arity, "input")}, the cond passes ${captures}`));
      return;
    }
    case "map": {
      if (n.inputs.length === 0) say("expected an array input");
      const passes = n.inputs.length + 1;
      if (n.body.arity !== passes) say(`body takes ${plural(n.body.arity, "input")}, the map passes ${passes} (item, index, ${n.inputs.length - 1} captures)`);
      if (n.concurrency !== undefined && !(Number.isSafeInteger(n.concurrency) && n.concurrency > 0)) say(`concurrency must be a positive integer, got ${String(n.concurrency)}`);
      return;
    }
    case "try":
      if (n.branches.length !== 2) say(`expected a body and a handler, got ${plural(n.branches.length, "subgraph")}`);
      if (n.branches[0].arity !== n.inputs.length) say(`body takes ${plural(n.branches[0].arity, "input")}, the try passes ${n.inputs.length}`);
      if (n.branches[1].arity !== n.inputs.length + 1) say(`handler takes ${plural(n.branches[1].arity, "input")}, the try passes ${n.inputs.length + 1} (the error, ${n.inputs.length} captures)`);
      return;
    case "fused":
      if (n.body.arity !== n.inputs.length) say(`body takes ${plural(n.body.arity, "input")}, the node passes ${n.inputs.length}`);
      if (n.placement === "async") say(`placement "async", expected "inline" or "worker"`);
      for (const m of n.body.nodes) {
        const why = unfusable(m);
        if (why !== undefined) say(`member ${labelOf(m)} cannot be fused (${why})`);
      }
      return;
    default:
      unreachable(n, "node kind");
  }
}

function checkOp(n: OpNode, say: (msg: string) => void): void {
  const { desc } = n;
  if (n.self && n.inputs.length === 0) return say("self is set but there is no input for this");
  // Arity is only known for typed descriptors: untyped ones may have no parameter list.
  if (desc.typed) {
    const argc = n.inputs.length - (n.self ? 1 : 0);
    const rest = desc.params.at(-1)?.rest === true;
    const required = desc.params.filter((p) => p.optional !== true && p.rest !== true).length;
    const max = rest ? Infinity : desc.params.length;
    if (argc < required || argc > max) {
      const range = max === required ? `${required}` : max === Infinity ? `at least ${required}` : `${required} to ${max}`;
      say(`called with ${plural(argc, "argument")}, expected ${range}`);
    }
  }
  // A remote engine runs any op (what cannot travel is refused when the call is made).
  if (n.placement === undefined || n.placement.startsWith("remote:")) return;
  const allowed = allowedPlacements(n);
  if (!allowed.values.includes(n.placement)) {
    say(`placement "${n.placement}", expected ${allowed.values.map((p) => `"${p}"`).join(" or ")} (${allowed.why})`);
  }
}

/**
 * Placements an op node may have, and why: the place pass picks among these and the
 * checker holds it to them.
 *
 * @example
 * ```ts
 * allowedPlacements(fetchNode); // { values: ["async"], why: "io op" }
 * ```
 */
export function allowedPlacements(n: OpNode): Allowed {
  const { desc } = n;
  // Pinned to the workers, an io op or async body goes there too (the runtime sends it).
  if (desc.policy.placement === "worker") return PINNED_WORKER;
  // Pinned to a registered executor (a remote engine), whatever its kind.
  const pinned = desc.policy.placement;
  if (pinned !== undefined && pinned.startsWith("remote:")) return { values: [pinned as `remote:${string}`], why: "the op's policy" };
  if (desc.kind === "io") return IO_OP;
  if (desc.async) return ASYNC_BODY;
  if (desc.policy.placement === "inline") return PINNED_INLINE;
  return SYNC_OP;
}

/**
 * The placements a node may have, and the reason in words.
 *
 * @example
 * ```ts
 * const { values, why } = allowedPlacements(node); // ["inline", "worker"], "sync op"
 * ```
 */
export interface Allowed {
  readonly values: readonly NodePlacement[];
  readonly why: string;
}
const IO_OP: Allowed = { values: ["async"], why: "io op" };
const ASYNC_BODY: Allowed = { values: ["async"], why: "async body" };
const PINNED_INLINE: Allowed = { values: ["inline"], why: "the op's policy" };
const PINNED_WORKER: Allowed = { values: ["worker"], why: "the op's policy" };
const SYNC_OP: Allowed = { values: ["inline", "worker"], why: "sync op" };

/**
 * Why a node may not be a member of a fused group, or `undefined` when it may: sync
 * cpu/pure ops not pinned inline, the pure glue between them, and the body's inputs and output.
 *
 * @example
 * ```ts
 * unfusable(fetchNode); // "io op"
 * ```
 */
export function unfusable(n: Node): string | undefined {
  switch (n.kind) {
    case "input":
    case "output":
    case "get":
    case "call":
    case "pack":
      return n.kind === "call" && n.awaited ? "awaited call" : undefined;
    case "op":
      if (n.desc.kind === "io") return "io op";
      if (n.desc.async) return "async body";
      if (n.desc.policy.placement === "inline" || n.desc.policy.placement?.startsWith("remote:")) return `policy placement "${n.desc.policy.placement}"`;
      return policyRefusal(n.desc);
    case "const":
    case "expr":
    case "cond":
    case "try":
    case "map":
    case "fused":
      return `${n.kind} node`;
    default:
      return unreachable(n, "node kind");
  }
}

/**
 * Why an op's policy keeps it out of a fused chain or a chunk of items, or `undefined`:
 * a chain step or chunk item runs as a plain call of its op (checks, child frame, body),
 * with no attempt loop, per-step deadline or shared limit around it, so an op that asks
 * for a retry, a timeout or a concurrency limit is never a member: it runs as its own call.
 *
 * @example
 * ```ts
 * policyRefusal(flakyNode.desc); // "it has a retry policy"
 * ```
 */
export function policyRefusal(desc: OpDescriptor): string | undefined {
  const { policy } = desc;
  if (policy.retry !== undefined) return "it has a retry policy";
  if (policy.timeout !== undefined) return "it has a timeout";
  if (policy.concurrency !== undefined) return "it has a concurrency limit";
  return undefined;
}

function checkSubgraphs(n: Node, path: readonly string[], seen: IdMap<Graph>, out: string[]): void {
  for (const [role, s] of namedSubgraphs(n)) checkGraph(s, [...path.slice(0, -1), `${path.at(-1) ?? ""} [${role}]`], seen, out);
}

/**
 * The effect a node must carry: `pure` for structural nodes, the op's kind for ops, and
 * the join of the subgraphs for `cond`, `map` and `fused`.
 *
 * @example
 * ```ts
 * expectedEffect(make.get(3, 2, "text")); // "pure"
 * ```
 */
export function expectedEffect(n: Node): EffectTag {
  switch (n.kind) {
    case "op":
      return n.desc.kind;
    case "cond":
    case "try":
      return n.branches.reduce((e: EffectTag, b) => joinEffect(e, graphEffect(b)), "pure");
    case "map":
    case "fused":
      return graphEffect(n.body);
    case "input":
    case "const":
    case "get":
    case "call":
    case "pack":
    case "expr":
    case "output":
      return "pure";
    default:
      return unreachable(n, "node kind");
  }
}

/**
 * How messages name a node: `%3 op tokenize`, `%4 get`.
 *
 * @example
 * ```ts
 * labelOf(node); // "%3 op tokenize"
 * ```
 */
export function labelOf(n: Node): string {
  return n.kind === "op" ? `%${n.id} op ${n.desc.name}` : `%${n.id} ${String(n.kind)}`;
}

const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? "" : "s"}`;
