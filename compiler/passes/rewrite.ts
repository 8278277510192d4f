/**
 * The engine most passes are built on: one walk in topological order that applies small
 * rules to each node (tinygrad's `graph_rewrite`). A rule sees a node whose inputs are
 * already rewritten and may keep it, replace it, alias it to an earlier node, or splice
 * nodes in before it. Linear in the number of nodes times the rules tried per node.
 */
import { IdMap, mapSubgraphs, update, type Graph, type Node, type NodeId } from "../ir.js";

/**
 * Replace every use of the rewritten node by `alias`, an earlier node (or a spliced one).
 *
 * @example
 * ```ts
 * // inline a branch: its nodes go in before the cond, and the cond's readers read its result
 * const inline: Rule = (n) => (n.kind === "cond" && known(n) ? { alias: resultOf(n), splice: nodesOf(n) } : undefined);
 * ```
 */
export interface Alias {
  readonly alias: NodeId;
  /** Nodes to insert before the rewritten node's position (rewritten themselves); their ids must be unused. */
  readonly splice?: readonly Node[];
}

/**
 * What a rule returns: a replacement node (same id), an alias, or `undefined` for "no change".
 *
 * @example
 * ```ts
 * const rule = (n: Node): Rewritten => (n.kind === "const" ? make.const(n.id, String(n.value)) : undefined);
 * ```
 */
export type Rewritten = Node | Alias | undefined;

/**
 * What a rule may look at besides the node.
 *
 * @example
 * ```ts
 * const rule: Rule = (n, cx) => (n.kind === "get" && cx.node(n.inputs[0]!).kind === "const" ? foldIt(n) : undefined);
 * ```
 */
export interface RuleContext {
  /** The current (rewritten) node with this id; defined for every input of the node being rewritten. */
  readonly node: (id: NodeId) => Node;
}

/**
 * One rewrite rule. Returning the node itself also means "no change".
 *
 * @example
 * ```ts
 * const dropIdentity: Rule = (n) => (n.kind === "op" && n.desc.name === "identity" ? { alias: n.inputs[0]! } : undefined);
 * ```
 */
export type Rule = (n: Node, cx: RuleContext) => Rewritten;

// A rule set that keeps replacing a node with new ones is a bug in the rules, not a long graph.
const MAX_REWRITES_PER_NODE = 64;

/**
 * Rewrites `g` with `rules` (the first rule that changes a node wins, then all are tried
 * again on the result). Returns `g` itself when no rule changed anything.
 *
 * @example
 * ```ts
 * const dropGets: Rule = (n) => (n.kind === "get" && n.key === "self" ? { alias: n.inputs[0]! } : undefined);
 * rewrite(g, [dropGets]);
 * ```
 */
export function rewrite(g: Graph, rules: readonly Rule[]): Graph {
  const subst = new IdMap<NodeId>();
  const byId = new IdMap<Node>();
  const out: Node[] = [];
  let changed = false;
  const cx: RuleContext = {
    node: (id) => {
      const n = byId.get(id);
      if (n === undefined) throw new Error(`rewrite: node %${id} is not defined yet`);
      return n;
    },
  };

  const visit = (original: Node): void => {
    let n = renameInputs(original, subst);
    for (let step = 0; ; step++) {
      if (step === MAX_REWRITES_PER_NODE) throw new Error(`rewrite: rules did not settle on %${n.id} after ${step} rewrites`);
      const r = applyFirst(rules, n, cx);
      if (r === undefined) break;
      if ("alias" in r) {
        for (const s of r.splice ?? []) visit(s);
        subst.set(n.id, subst.get(r.alias) ?? r.alias);
        changed = true;
        return;
      }
      n = r;
    }
    if (n !== original) changed = true;
    out.push(n);
    byId.set(n.id, n);
  };

  for (const n of g.nodes) visit(n);
  if (!changed) return g;
  return { nodes: out, output: g.output, arity: g.arity };
}

function applyFirst(rules: readonly Rule[], n: Node, cx: RuleContext): Node | Alias | undefined {
  for (const rule of rules) {
    const r = rule(n, cx);
    if (r !== undefined && r !== n) return r;
  }
  return undefined;
}

/**
 * Old id to new id: a `Map` or an `IdMap`.
 *
 * @example
 * ```ts
 * renameInputs(n, new Map([[3, 1]]));
 * ```
 */
export interface Renaming {
  get(id: NodeId): NodeId | undefined;
  readonly size: number;
}

/**
 * `n` with its inputs renamed through `subst`; `n` itself when none is renamed.
 *
 * @example
 * ```ts
 * renameInputs(n, new Map([[3, 1]])); // inputs [3, 4] become [1, 4]
 * ```
 */
export function renameInputs(n: Node, subst: Renaming): Node {
  if (subst.size === 0) return n;
  let inputs: NodeId[] | undefined;
  n.inputs.forEach((x, i) => {
    const y = subst.get(x);
    if (y === undefined) return;
    inputs ??= [...n.inputs];
    inputs[i] = y;
  });
  return inputs === undefined ? n : update(n, { inputs });
}

/**
 * A rule that applies `pass` to the subgraphs of `cond`, `map` and `fused` nodes, so a
 * pass reaches nested graphs. Subgraphs are closed, so each is rewritten on its own.
 *
 * @example
 * ```ts
 * export const cse = (g: Graph): Graph => rewrite(g, [nested(cse), mergeDuplicates()]);
 * ```
 */
export function nested(pass: (g: Graph) => Graph): Rule {
  return (n) => mapSubgraphs(n, pass);
}
