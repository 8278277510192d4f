/**
 * The IR: a small immutable graph. Nodes are readonly plain objects discriminated by
 * `kind`; a `Graph` lists them in topological order and ends with its one `output` node.
 * `cond`, `map` and `fused` nodes hold closed subgraphs (they see only their own inputs).
 *
 * Invariants (enforced by `check`): node ids are unique across a graph *and all its nested
 * subgraphs*, so an id names one node in error messages and passes can inline a subgraph
 * without renaming; every input id refers to an earlier node of the same graph.
 */
import type { OpDescriptor, OpKind, SourceLocation } from "../decorators/descriptor.js";
import type { ExprOp } from "./expr.js";

/**
 * A node's name: a non-negative integer, unique across a graph and its subgraphs.
 *
 * @example
 * ```ts
 * const id: NodeId = b.op(tokenize, [q]);
 * ```
 */
export type NodeId = number;

/**
 * What a node computes. The only list of node kinds: every `switch` over `kind` is
 * exhaustive against it.
 *
 * @example
 * ```ts
 * const kinds = g.nodes.map((n): NodeKind => n.kind);
 * ```
 */
export type NodeKind =
  /** Argument `index` of the traced function (or of a subgraph: captures, map item). */
  | "input"
  /** A value fixed at trace time: a literal, a captured variable, a folded result. */
  | "const"
  /** A call of a registered op; when `self` is set, `inputs[0]` is the Module instance (`this`). */
  | "op"
  /** A property read, index or destructuring step with a static key. */
  | "get"
  /** A method call on a traced value (`inputs[0]`), such as `text.trim()`; recorded as pure. */
  | "call"
  /** An object or array literal assembled from nodes; rebuilt fresh from its template on every run. */
  | "pack"
  /** A staged operator, template, optional chain or builtin on traced values (`op`, see compiler/expr.ts); pure. */
  | "expr"
  /** Staged `cond(pred, then, else)`: `inputs` are `[pred, ...captures]`; the taken branch gets the captures. */
  | "cond"
  /** Staged map: `inputs` are `[array, ...captures]`; the body gets `(item, index, ...captures)`. */
  | "map"
  /** Staged `try`/`catch`: `inputs` are the captures; the body gets them, and if it fails the handler gets `(error, ...captures)`. */
  | "try"
  /** A chain of cpu/pure nodes the fuse pass grouped to run as one task; the body gets `inputs`. */
  | "fused"
  /** The graph's result (`inputs[0]`): exactly one per graph, always last. */
  | "output";

/**
 * What running a node may do to the world, which decides what the optimiser may drop,
 * merge or move. The same three tags as `OpKind`.
 *
 * @example
 * ```ts
 * const effect: EffectTag = graphEffect(g); // "io" | "cpu" | "pure"
 * ```
 */
export type EffectTag = OpKind;

/**
 * Where the executor runs a node: on the calling thread, on a worker thread, awaited on
 * the event loop, or on the executor registered under NAME (`remote:NAME`).
 *
 * @example
 * ```ts
 * const where: NodePlacement = placementOf(node);
 * ```
 */
export type NodePlacement = "inline" | "worker" | "async" | `remote:${string}`;

/**
 * Every node kind, for checking data that did not come through the types (a `Record` so a new kind must be listed).
 *
 * @example
 * ```ts
 * NodeKinds.has("op"); // true
 * NodeKinds.has("peek"); // false
 * ```
 */
export const NodeKinds: ReadonlySet<NodeKind> = new Set(
  Object.keys({ input: 1, const: 1, op: 1, get: 1, call: 1, pack: 1, expr: 1, cond: 1, map: 1, try: 1, fused: 1, output: 1 } satisfies Record<NodeKind, 1>) as NodeKind[],
);
/**
 * Kinds that hold subgraphs; their effect is the join of their subgraphs' effects.
 *
 * @example
 * ```ts
 * if (Nested.has(n.kind)) for (const s of subgraphs(n)) visit(s);
 * ```
 */
export const Nested: ReadonlySet<NodeKind> = new Set<NodeKind>(["cond", "map", "try", "fused"]);

interface Base<K extends NodeKind> {
  readonly kind: K;
  readonly id: NodeId;
  /** Ids of the nodes this one reads, in argument order. */
  readonly inputs: readonly NodeId[];
  readonly effect: EffectTag;
  /** Where the user's code made this node, when the tracer knew. */
  readonly loc: SourceLocation | undefined;
}

/**
 * Argument `index` of the enclosing graph.
 *
 * @example
 * ```ts
 * make.input(0, 0); // { kind: "input", id: 0, index: 0, ... }
 * ```
 */
export interface InputNode extends Base<"input"> {
  readonly index: number;
}
/**
 * A value fixed at trace time.
 *
 * @example
 * ```ts
 * make.const(1, "en");
 * ```
 */
export interface ConstNode extends Base<"const"> {
  readonly value: unknown;
}
/**
 * A call of a registered op; the executor finds its body by `desc.id`.
 *
 * @example
 * ```ts
 * make.op(2, score.desc, [judgeId, textId], { self: true });
 * ```
 */
export interface OpNode extends Base<"op"> {
  readonly desc: OpDescriptor;
  /** True when `inputs[0]` is the `this` of a Module method and the arguments follow. */
  readonly self: boolean;
  /** Set by the place pass; `undefined` before it runs. */
  readonly placement: NodePlacement | undefined;
}
/**
 * `inputs[0][key]`.
 *
 * @example
 * ```ts
 * make.get(3, pageId, "text"); // page.text
 * ```
 */
export interface GetNode extends Base<"get"> {
  readonly key: string | number;
}
/**
 * `inputs[0][method](...inputs.slice(1))`.
 *
 * @example
 * ```ts
 * make.call(4, textId, "trim", []); // text.trim()
 * ```
 */
export interface CallNode extends Base<"call"> {
  readonly method: string;
  /** True when the traced code awaited the call's result: a thenable it returns is awaited. */
  readonly awaited?: boolean;
}
/**
 * `evalExpr(op, inputs, arg)`: an operator, template literal, optional chain or builtin
 * staged by the build-time transform (compiler/expr.ts says what each `op` does).
 *
 * @example
 * ```ts
 * make.expr(5, "template", [nameId], ["Hello, ", "!"]); // `Hello, ${name}!`
 * ```
 */
export interface ExprNode extends Base<"expr"> {
  readonly op: ExprOp;
  /** Static data of the operation: a template's strings, a chain's links. */
  readonly arg: unknown;
}
/**
 * A fresh object or array built from `template`, whose holes index into `inputs`.
 *
 * @example
 * ```ts
 * make.pack(5, { kind: "array", items: [{ kind: "hole", index: 0 }] }, [textId]); // [text]
 * ```
 */
export interface PackNode extends Base<"pack"> {
  readonly template: Template;
}
/**
 * Runs `branches[0]` (then) when `inputs[0]` is truthy, else `branches[1]`, on `inputs.slice(1)`.
 *
 * @example
 * ```ts
 * make.cond(6, predId, [textId], thenGraph, elseGraph);
 * ```
 */
export interface CondNode extends Base<"cond"> {
  readonly branches: readonly [then: Graph, otherwise: Graph];
}
/**
 * Runs `branches[0]` (the body) on `inputs`; if it fails, `branches[1]` (the handler) on
 * `(error, ...inputs)`, and the node's value is the handler's: a staged `try`/`catch`.
 *
 * @example
 * ```ts
 * make.try(9, [textId], bodyGraph, handlerGraph);
 * ```
 */
export interface TryNode extends Base<"try"> {
  /** `[body, handler]`: the body takes the captures; the handler takes the error, then the captures. */
  readonly branches: readonly [body: Graph, handler: Graph];
}
/**
 * Runs `body(item, index, ...inputs.slice(1))` for each item of `inputs[0]`, results in order.
 *
 * @example
 * ```ts
 * make.map(7, itemsId, [], bodyGraph, { concurrency: 8 });
 * ```
 */
export interface MapNode extends Base<"map"> {
  readonly body: Graph;
  /** Most items in flight at once; `undefined` leaves it to the executor. */
  readonly concurrency: number | undefined;
}
/**
 * Runs `body(...inputs)` as one task: the members are the body's nodes.
 *
 * @example
 * ```ts
 * make.fused(8, [textId], bodyGraph); // made by the fuse pass
 * ```
 */
export interface FusedNode extends Base<"fused"> {
  readonly body: Graph;
  readonly placement: NodePlacement | undefined;
}
/**
 * The graph's result.
 *
 * @example
 * ```ts
 * make.output(9, resultId);
 * ```
 */
export type OutputNode = Base<"output">;

/**
 * One IR node.
 *
 * @example
 * ```ts
 * function describe(n: Node): string {
 *   return n.kind === "op" ? n.desc.name : n.kind;
 * }
 * ```
 */
export type Node = InputNode | ConstNode | OpNode | GetNode | CallNode | PackNode | ExprNode | CondNode | TryNode | MapNode | FusedNode | OutputNode;

/**
 * The node type of one kind: `NodeOf<"op">` is `OpNode`.
 *
 * @example
 * ```ts
 * const ops = g.nodes.filter((n): n is NodeOf<"op"> => n.kind === "op");
 * ```
 */
export type NodeOf<K extends NodeKind> = Extract<Node, { readonly kind: K }>;

/**
 * A program: nodes in topological order, the last one the output.
 *
 * @example
 * ```ts
 * const g: Graph = graphOf([make.input(0, 0), make.output(1, 0)], 1); // the identity
 * ```
 */
export interface Graph {
  readonly nodes: readonly Node[];
  /** Id of the output node. */
  readonly output: NodeId;
  /** How many arguments the graph takes: one `input` node per index. */
  readonly arity: number;
}

/**
 * The static shape of a `pack` node's value. `hole` leaves take node values, `lit` leaves
 * are used as they are, arrays and objects are built fresh on every run.
 *
 * @example
 * ```ts
 * const t: Template = { kind: "object", entries: [["text", { kind: "hole", index: 0 }], ["lang", { kind: "lit", value: "en" }]] };
 * fillTemplate(t, ["hi"]); // { text: "hi", lang: "en" }
 * ```
 */
export type Template =
  /** The value of the pack node's `inputs[index]`. */
  | { readonly kind: "hole"; readonly index: number }
  /** A static value, used by reference. */
  | { readonly kind: "lit"; readonly value: unknown }
  /** An array literal. */
  | { readonly kind: "array"; readonly items: readonly Template[] }
  /** An object literal; entries keep their source order. */
  | { readonly kind: "object"; readonly entries: readonly (readonly [key: string, value: Template])[] };

const NONE: readonly NodeId[] = Object.freeze([]);
const EFFECT_RANK: Readonly<Record<EffectTag, number>> = { pure: 0, cpu: 1, io: 2 };

/**
 * The stronger of two effects (`io` > `cpu` > `pure`).
 *
 * @example
 * ```ts
 * joinEffect("pure", "cpu"); // "cpu"
 * ```
 */
export function joinEffect(a: EffectTag, b: EffectTag): EffectTag {
  return EFFECT_RANK[a] >= EFFECT_RANK[b] ? a : b;
}

/**
 * The join of every node's effect: what running the whole graph may do.
 *
 * @example
 * ```ts
 * graphEffect(g); // "io" when any node, however nested, calls an io op
 * ```
 */
export function graphEffect(g: Graph): EffectTag {
  let effect: EffectTag = "pure";
  for (const n of g.nodes) effect = joinEffect(effect, n.effect);
  return effect;
}

/**
 * What a subgraph is to its node: a cond's `then`/`else` branch, or a map's or fused node's `body`.
 *
 * @example
 * ```ts
 * for (const [role, s] of namedSubgraphs(n)) console.log(`${role}: ${s.nodes.length} nodes`);
 * ```
 */
export type SubgraphRole = "then" | "else" | "body" | "catch";

/**
 * The subgraphs a node holds, with their roles: the one place that says which kinds nest.
 *
 * @example
 * ```ts
 * namedSubgraphs(condNode).map(([role]) => role); // ["then", "else"]
 * ```
 */
export function namedSubgraphs(n: Node): readonly (readonly [role: SubgraphRole, g: Graph])[] {
  switch (n.kind) {
    case "cond":
      return [
        ["then", n.branches[0]],
        ["else", n.branches[1]],
      ];
    case "try":
      return [
        ["body", n.branches[0]],
        ["catch", n.branches[1]],
      ];
    case "map":
    case "fused":
      return [["body", n.body]];
    case "input":
    case "const":
    case "op":
    case "get":
    case "call":
    case "pack":
    case "expr":
    case "output":
      return [];
    default:
      return unreachable(n, "node kind");
  }
}

/**
 * The subgraphs a node holds: both branches of a `cond`, the body of a `map` or `fused`.
 *
 * @example
 * ```ts
 * subgraphs(condNode).length; // 2
 * ```
 */
export function subgraphs(n: Node): readonly Graph[] {
  // Most nodes hold none: answer those without allocating.
  return Nested.has(n.kind) ? namedSubgraphs(n).map(([, g]) => g) : NO_GRAPHS;
}

const NO_GRAPHS: readonly Graph[] = Object.freeze([]);

/**
 * Applies `f` to each subgraph of `n`; returns `n` itself when `f` changed none of them.
 *
 * @example
 * ```ts
 * const optimised = mapSubgraphs(node, dce); // node === optimised when nothing was dead
 * ```
 */
export function mapSubgraphs(n: Node, f: (g: Graph) => Graph): Node {
  if (n.kind === "cond" || n.kind === "try") return update<CondNode | TryNode>(n, { branches: [f(n.branches[0]), f(n.branches[1])] });
  if (n.kind === "map" || n.kind === "fused") return update<MapNode | FusedNode>(n, { body: f(n.body) });
  return n;
}

/**
 * The fields of a node a pass may change; `effect` follows from them.
 *
 * @example
 * ```ts
 * const patch: Patch<OpNode> = { placement: "worker" };
 * update(node, patch);
 * ```
 */
export type Patch<N extends Node> = Partial<Omit<N, "kind" | "id" | "effect">>;

/**
 * A copy of `node` with `patch` applied, or `node` itself when the patch changes nothing
 * (arrays are compared item by item). A new subgraph recomputes the node's effect.
 *
 * @example
 * ```ts
 * update(n, { inputs: [...n.inputs] }) === n; // true: same items
 * update(n, { inputs: [7] }).inputs;          // [7]
 * ```
 */
export function update<N extends Node>(node: N, patch: Patch<N>): N {
  const before = node as unknown as Record<string, unknown>;
  const after = patch as Record<string, unknown>;
  let changed = false;
  for (const key of Object.keys(after)) {
    const a = before[key];
    const b = after[key];
    if (Array.isArray(a) && Array.isArray(b) ? !sameItems(a, b) : !Object.is(a, b)) changed = true;
  }
  if (!changed) return node;
  const next = { ...before, ...after } as unknown as N;
  if (!Nested.has(next.kind)) return next;
  return { ...next, effect: subgraphs(next).reduce((e: EffectTag, g) => joinEffect(e, graphEffect(g)), "pure") };
}

function sameItems(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/**
 * Node constructors. Each computes the node's effect, so a node made here is consistent.
 *
 * @example
 * ```ts
 * const x = make.input(0, 0);
 * const y = make.op(1, tokenize.desc, [x.id]);
 * const out = make.output(2, y.id);
 * const g = graphOf([x, y, out], 1);
 * ```
 */
export const make = {
  /** Argument `index` of the enclosing graph. */
  input(id: NodeId, index: number, loc?: SourceLocation): InputNode {
    return { kind: "input", id, inputs: NONE, effect: "pure", loc, index };
  },
  /** A value fixed at trace time. */
  const(id: NodeId, value: unknown, loc?: SourceLocation): ConstNode {
    return { kind: "const", id, inputs: NONE, effect: "pure", loc, value };
  },
  /** A call of `desc`; with `self`, `inputs[0]` is `this`. */
  op(id: NodeId, desc: OpDescriptor, inputs: readonly NodeId[], options: { self?: boolean; loc?: SourceLocation | undefined } = {}): OpNode {
    return { kind: "op", id, inputs, effect: desc.kind, loc: options.loc, desc, self: options.self ?? false, placement: undefined };
  },
  /** `of[key]`. */
  get(id: NodeId, of: NodeId, key: string | number, loc?: SourceLocation): GetNode {
    return { kind: "get", id, inputs: [of], effect: "pure", loc, key };
  },
  /** `on[method](...args)`. */
  call(id: NodeId, on: NodeId, method: string, args: readonly NodeId[], loc?: SourceLocation): CallNode {
    return { kind: "call", id, inputs: [on, ...args], effect: "pure", loc, method };
  },
  /** A literal built from `template` over `inputs`. */
  pack(id: NodeId, template: Template, inputs: readonly NodeId[], loc?: SourceLocation): PackNode {
    return { kind: "pack", id, inputs, effect: "pure", loc, template };
  },
  /** `evalExpr(op, inputs, arg)`. */
  expr(id: NodeId, op: ExprOp, inputs: readonly NodeId[], arg?: unknown, loc?: SourceLocation): ExprNode {
    return { kind: "expr", id, inputs, effect: "pure", loc, op, arg };
  },
  /** `pred ? then(...captures) : otherwise(...captures)`. */
  cond(id: NodeId, pred: NodeId, captures: readonly NodeId[], then: Graph, otherwise: Graph, loc?: SourceLocation): CondNode {
    const effect = joinEffect(graphEffect(then), graphEffect(otherwise));
    return { kind: "cond", id, inputs: [pred, ...captures], effect, loc, branches: [then, otherwise] };
  },
  /** `try { body(...captures) } catch (e) { handler(e, ...captures) }`. */
  try(id: NodeId, captures: readonly NodeId[], body: Graph, handler: Graph, loc?: SourceLocation): TryNode {
    return { kind: "try", id, inputs: captures, effect: joinEffect(graphEffect(body), graphEffect(handler)), loc, branches: [body, handler] };
  },
  /** `array.map((item, index) => body(item, index, ...captures))`. */
  map(id: NodeId, array: NodeId, captures: readonly NodeId[], body: Graph, options: { concurrency?: number; loc?: SourceLocation } = {}): MapNode {
    return { kind: "map", id, inputs: [array, ...captures], effect: graphEffect(body), loc: options.loc, body, concurrency: options.concurrency };
  },
  /** `body(...inputs)` as one task. */
  fused(id: NodeId, inputs: readonly NodeId[], body: Graph, loc?: SourceLocation): FusedNode {
    return { kind: "fused", id, inputs, effect: graphEffect(body), loc, body, placement: undefined };
  },
  /** The graph's result. */
  output(id: NodeId, of: NodeId, loc?: SourceLocation): OutputNode {
    return { kind: "output", id, inputs: [of], effect: "pure", loc };
  },
} as const;

/**
 * A graph from nodes already in topological order; `output` is the last output node's id
 * (or -1 when there is none, which `check` reports).
 *
 * @example
 * ```ts
 * const g = graphOf([make.input(0, 0), make.output(1, 0)], 1);
 * g.output; // 1
 * ```
 */
export function graphOf(nodes: readonly Node[], arity: number): Graph {
  let output = -1;
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (n?.kind === "output") {
      output = n.id;
      break;
    }
  }
  return { nodes, output, arity };
}

/**
 * The items of `xs` without repeats, in first-seen order; `xs` itself when it has none.
 * Linear for any length (a node may read thousands of values through one pack).
 *
 * @example
 * ```ts
 * distinct([3, 4, 3]); // [3, 4]
 * ```
 */
export function distinct<T>(xs: readonly T[]): readonly T[] {
  // Small lists (almost every node) are cheaper to scan than to hash.
  if (xs.length < 16) return xs.every((x, i) => xs.indexOf(x) === i) ? xs : xs.filter((x, i) => xs.indexOf(x) === i);
  const set = new Set(xs);
  return set.size === xs.length ? xs : [...set];
}

/**
 * The largest id in `g` and its subgraphs (-1 for an empty graph): passes that add nodes
 * number them from `maxId(g) + 1` to keep ids unique.
 *
 * @example
 * ```ts
 * let next = maxId(g) + 1;
 * ```
 */
export function maxId(g: Graph): NodeId {
  let max = -1;
  for (const n of g.nodes) {
    if (n.id > max) max = n.id;
    for (const s of subgraphs(n)) max = Math.max(max, maxId(s));
  }
  return max;
}

/**
 * A map keyed by node id, backed by an array: ids are small non-negative integers, and
 * passes look ids up several times per node, where a `Map` costs several times more.
 *
 * @example
 * ```ts
 * const slot = new IdMap<number>();
 * g.nodes.forEach((n, i) => slot.set(n.id, i));
 * slot.get(3); // 2
 * ```
 */
export class IdMap<V> {
  // A dense window of ids starting at the first id set (a subgraph's ids start high), grown
  // with explicit undefineds: a sparse write would turn the array into a slow dictionary.
  // Ids far outside the window (fresh ids of fused nodes, hand-made graphs) go to a Map.
  #values: (V | undefined)[] = [];
  #base = 0;
  #overflow: Map<NodeId, V> | undefined;
  #size = 0;

  /** The value for `id`, or `undefined`. */
  get(id: NodeId): V | undefined {
    const i = id - this.#base;
    const v = i >= 0 && i < this.#values.length ? this.#values[i] : undefined;
    return v !== undefined || this.#overflow === undefined ? v : this.#overflow.get(id);
  }
  /** True when `id` has a value. */
  has(id: NodeId): boolean {
    return this.get(id) !== undefined;
  }
  /** Sets the value for `id`; `value` must not be `undefined`. */
  set(id: NodeId, value: V): this {
    if (this.get(id) === undefined) this.#size++;
    if (this.#values.length === 0) this.#base = id;
    const i = id - this.#base;
    // Growing past twice the window would spend more on padding than the entries are worth.
    if (i < 0 || i > 2 * this.#values.length + 64) (this.#overflow ??= new Map()).set(id, value);
    else {
      this.#overflow?.delete(id);
      while (this.#values.length <= i) this.#values.push(undefined);
      this.#values[i] = value;
    }
    return this;
  }
  /** How many ids have a value. */
  get size(): number {
    return this.#size;
  }
}

/**
 * Builds graphs one node at a time, in the order the tracer records them. Subgraph
 * builders from `sub()` share the id counter, so ids stay unique across nesting.
 *
 * @example
 * ```ts
 * const b = new GraphBuilder();
 * const q = b.input();
 * const a = b.op(draft, [q]);
 * const s = b.op(score, [b.get(a, "text")]);
 * const scored = b.map(b.get(a, "parts"), [], b.subgraph(2, (body, [part]) => body.op(score, [part!])));
 * const g = b.output(b.pack({ kind: "array", items: [{ kind: "hole", index: 0 }, { kind: "hole", index: 1 }] }, [s, scored]));
 * ```
 */
export class GraphBuilder {
  readonly #nodes: Node[] = [];
  readonly #ids: { next: NodeId };
  #arity = 0;
  #done = false;

  constructor(ids: { next: NodeId } = { next: 0 }) {
    this.#ids = ids;
  }

  /** A builder for a subgraph (cond branch, map body) sharing this builder's ids. */
  sub(): GraphBuilder {
    return new GraphBuilder(this.#ids);
  }

  /**
   * A closed subgraph (cond branch, map body) of `arity` inputs, sharing this builder's
   * ids; `build` gets the input ids and returns the result's id.
   */
  subgraph(arity: number, build: (sub: GraphBuilder, inputs: readonly NodeId[]) => NodeId): Graph {
    const sub = this.sub();
    const inputs = Array.from({ length: arity }, () => sub.input());
    return sub.output(build(sub, inputs));
  }

  /** The next argument of the graph. */
  input(loc?: SourceLocation): NodeId {
    return this.#add(make.input(this.#ids.next, this.#arity++, loc));
  }
  /** A value fixed at trace time. */
  constant(value: unknown, loc?: SourceLocation): NodeId {
    return this.#add(make.const(this.#ids.next, value, loc));
  }
  /** A call of `desc` on `args`; `self` is the node of `this` for a Module method. */
  op(desc: OpDescriptor, args: readonly NodeId[], options: { self?: NodeId; loc?: SourceLocation } = {}): NodeId {
    const inputs = options.self === undefined ? args : [options.self, ...args];
    return this.#add(make.op(this.#ids.next, desc, inputs, { self: options.self !== undefined, loc: options.loc }));
  }
  /** `of[key]`. */
  get(of: NodeId, key: string | number, loc?: SourceLocation): NodeId {
    return this.#add(make.get(this.#ids.next, of, key, loc));
  }
  /** `on[method](...args)`. */
  call(on: NodeId, method: string, args: readonly NodeId[] = [], loc?: SourceLocation): NodeId {
    return this.#add(make.call(this.#ids.next, on, method, args, loc));
  }
  /** A literal from `template` over `inputs` (see `templateOf`). */
  pack(template: Template, inputs: readonly NodeId[], loc?: SourceLocation): NodeId {
    return this.#add(make.pack(this.#ids.next, template, inputs, loc));
  }
  /** A staged operator on `inputs` (see compiler/expr.ts). */
  expr(op: ExprOp, inputs: readonly NodeId[], arg?: unknown, loc?: SourceLocation): NodeId {
    return this.#add(make.expr(this.#ids.next, op, inputs, arg, loc));
  }
  /** The nodes added so far, in order. */
  recorded(): readonly Node[] {
    return this.#nodes;
  }
  /** Marks call node `id` as awaited by the traced code (its thenable result is awaited). */
  markAwaited(id: NodeId): void {
    const i = this.#nodes.findLastIndex((n) => n.id === id);
    const n = this.#nodes[i];
    if (n?.kind === "call" && !n.awaited) this.#nodes[i] = { ...n, awaited: true };
  }
  /** Staged `cond`; both branches take `captures.length` inputs. */
  cond(pred: NodeId, captures: readonly NodeId[], then: Graph, otherwise: Graph, loc?: SourceLocation): NodeId {
    return this.#add(make.cond(this.#ids.next, pred, captures, then, otherwise, loc));
  }
  /** Staged try/catch; the body takes the captures, the handler `(error, ...captures)`. */
  try(captures: readonly NodeId[], body: Graph, handler: Graph, loc?: SourceLocation): NodeId {
    return this.#add(make.try(this.#ids.next, captures, body, handler, loc));
  }
  /** Staged map; the body takes `(item, index, ...captures)`. */
  map(array: NodeId, captures: readonly NodeId[], body: Graph, options: { concurrency?: number; loc?: SourceLocation } = {}): NodeId {
    return this.#add(make.map(this.#ids.next, array, captures, body, options));
  }
  /** Finishes the graph with `of` as its result; the builder refuses nodes afterwards. */
  output(of: NodeId, loc?: SourceLocation): Graph {
    this.#add(make.output(this.#ids.next, of, loc));
    this.#done = true;
    return graphOf(this.#nodes, this.#arity);
  }

  #add(n: Node): NodeId {
    // The graph handed out shares this array: a later node would change an immutable graph.
    if (this.#done) throw new Error("GraphBuilder: the graph is finished; start a new builder");
    this.#nodes.push(n);
    this.#ids.next = n.id + 1;
    return n.id;
  }
}

/**
 * The template and hole inputs for a JS value that may hold traced values anywhere inside
 * plain arrays and objects. `refOf` returns the node id of a traced value (else `undefined`);
 * other leaves, class instances included, become literals.
 *
 * @example
 * ```ts
 * const { template, inputs } = templateOf({ text: t, tags: ["a", t] }, (v) => ids.get(v));
 * b.pack(template, inputs);
 * ```
 */
export function templateOf(value: unknown, refOf: (v: unknown) => NodeId | undefined): { template: Template; inputs: NodeId[] } {
  const inputs: NodeId[] = [];
  const holes = new Map<NodeId, number>();
  const open = new Set<object>();
  const walk = (v: unknown): Template => {
    const ref = refOf(v);
    if (ref !== undefined) {
      let index = holes.get(ref);
      if (index === undefined) holes.set(ref, (index = inputs.push(ref) - 1));
      return { kind: "hole", index };
    }
    if (typeof v !== "object" || v === null || !(Array.isArray(v) || isPlainObject(v))) return { kind: "lit", value: v };
    // A cycle cannot be rebuilt as a literal, and eager code never writes one.
    if (open.has(v)) throw new TypeError("templateOf: cannot pack a cyclic value");
    open.add(v);
    const t: Template = Array.isArray(v)
      ? { kind: "array", items: v.map(walk) }
      : { kind: "object", entries: Object.keys(v).map((k) => [k, walk((v as Record<string, unknown>)[k])] as const) };
    open.delete(v);
    return t;
  };
  return { template: walk(value), inputs };
}

/**
 * Builds a pack node's value: fresh arrays and objects, holes filled from `values`.
 *
 * @example
 * ```ts
 * fillTemplate({ kind: "array", items: [{ kind: "hole", index: 0 }, { kind: "lit", value: 1 }] }, ["a"]); // ["a", 1]
 * ```
 */
export function fillTemplate(t: Template, values: readonly unknown[]): unknown {
  switch (t.kind) {
    case "hole":
      return values[t.index];
    case "lit":
      return t.value;
    case "array":
      return t.items.map((item) => fillTemplate(item, values));
    case "object": {
      const out: Record<string, unknown> = {};
      // defineProperty keeps an own "__proto__" key a plain property, as a literal would.
      for (const [k, v] of t.entries) Object.defineProperty(out, k, { value: fillTemplate(v, values), writable: true, enumerable: true, configurable: true });
      return out;
    }
    default:
      return unreachable(t, "template kind");
  }
}

/**
 * Every hole index a template reads, in template order (with repeats).
 *
 * @example
 * ```ts
 * templateHoles(pack.template); // [0, 1, 0]
 * ```
 */
export function templateHoles(t: Template, out: number[] = []): number[] {
  switch (t.kind) {
    case "hole":
      out.push(t.index);
      break;
    case "lit":
      break;
    case "array":
      for (const item of t.items) templateHoles(item, out);
      break;
    case "object":
      for (const [, v] of t.entries) templateHoles(v, out);
      break;
    default:
      return unreachable(t, "template kind");
  }
  return out;
}

/**
 * The template with each hole replaced by `f(index)`; the same object when `f` changed none.
 *
 * @example
 * ```ts
 * mapHoles(t, (i) => (i === 0 ? { kind: "lit", value: "en" } : { kind: "hole", index: i - 1 }));
 * ```
 */
export function mapHoles(t: Template, f: (index: number) => Template): Template {
  switch (t.kind) {
    case "hole": {
      const next = f(t.index);
      return next.kind === "hole" && next.index === t.index ? t : next;
    }
    case "lit":
      return t;
    case "array": {
      const items = t.items.map((item) => mapHoles(item, f));
      return sameItems(items, t.items) ? t : { kind: "array", items };
    }
    case "object": {
      const values = t.entries.map(([, v]) => mapHoles(v, f));
      return sameItems(values, t.entries.map(([, v]) => v)) ? t : { kind: "object", entries: t.entries.map(([k], i) => [k, values[i]!] as const) };
    }
    default:
      return unreachable(t, "template kind");
  }
}

/**
 * True for `{...}` literals and `Object.create(null)`: the objects a `pack` may rebuild.
 *
 * @example
 * ```ts
 * isPlainObject({ a: 1 }); // true
 * isPlainObject(new Map()); // false
 * ```
 */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * `file:line:col`, the form editors and terminals link.
 *
 * @example
 * ```ts
 * formatLoc({ file: "app.ts", line: 3, column: 13 }); // "app.ts:3:13"
 * ```
 */
export function formatLoc(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}:${loc.column}`;
}

/**
 * The `default` branch of an exhaustive switch: a compile error when a case is missing,
 * a loud runtime error when a value arrives that the types ruled out.
 *
 * @example
 * ```ts
 * default: return unreachable(node, "node kind");
 * ```
 */
export function unreachable(value: never, what: string): never {
  const kind = (value as { kind?: unknown } | null)?.kind;
  throw new TypeError(`unknown ${what}: ${JSON.stringify(kind ?? value)}`);
}
