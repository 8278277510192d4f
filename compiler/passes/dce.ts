/**
 * Dead-code elimination.
 *
 * weft promises that a jitted function makes the same op calls as the eager one and
 * fails where it fails, so DCE drops only nodes that can neither have an effect nor throw:
 * unused `const` and `pack` nodes (and, once those are gone, nothing else depends on them).
 * Everything else stays even when its result is unused:
 * - `io` and `cpu` ops, and `cond`/`map`/`fused` nodes holding them: eager code made those calls;
 * - `pure` ops: the descriptor contract lets CSE merge and fold evaluate them, which keeps
 *   their outcome, but dropping one would hide the error eager code throws on a bad input;
 * - `get` and `call`: reading a property of `undefined` throws in eager code, so it must here;
 * - `input` nodes, which fix the arity, and the output.
 * In practice DCE removes what the other passes leave behind: consts a fold made unused,
 * the predicate of an inlined `cond`, packs whose reader was forwarded.
 */
import { IdMap, mapSubgraphs, type Graph, type Node, type NodeKind } from "../ir.js";

/**
 * Kinds that cannot fail or have an effect: the only ones DCE may drop.
 *
 * @example
 * ```ts
 * Droppable.has("get"); // false: reading a property of undefined throws
 * ```
 */
export const Droppable: ReadonlySet<NodeKind> = new Set<NodeKind>(["const", "pack"]);

/**
 * Drops unused `const` and `pack` nodes from `g` and its subgraphs. One backward sweep:
 * linear. Returns `g` itself when nothing was dead.
 *
 * @example
 * ```ts
 * dce(g) === g; // when nothing was dead
 * ```
 */
export function dce(g: Graph): Graph {
  const live = new IdMap<true>();
  const kept: Node[] = [];
  let changed = false;
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (Droppable.has(n.kind) && !live.has(n.id)) {
      changed = true;
      continue;
    }
    for (const x of n.inputs) live.set(x, true);
    const m = mapSubgraphs(n, dce);
    if (m !== n) changed = true;
    kept.push(m);
  }
  return changed ? { nodes: kept.reverse(), output: g.output, arity: g.arity } : g;
}
