/**
 * Common-subexpression elimination: a node that computes exactly what an earlier node
 * computes is replaced by it. Merged kinds:
 * - `const`: primitives by value (`-0` apart from `0`), objects and symbols by identity;
 * - `get`: same input, same key (eager code reads the same property of the same value);
 * - `op` whose kind is `pure` (`Cacheable`): same op, same `this`, same inputs. Constant
 *   arguments are const inputs, so "same static arguments" is "same const node" after the
 *   consts are merged, in the same sweep.
 * Never merged: `io`/`cpu` ops (eager calls each), `pack`, `call` and the `expr` operations
 * that make objects (`FRESH`: eager code gets a fresh object from each literal, each
 * `split()` and each `concat()`; sharing one would alias them), and `cond`/`map`/`fused`.
 */
import { Cacheable } from "../../decorators/descriptor.js";
import { FRESH } from "../expr.js";
import { unreachable, type Graph, type Node, type NodeId } from "../ir.js";
import { nested, rewrite, type Rule } from "./rewrite.js";

/**
 * The identity of what `n` computes, or `undefined` when `n` must not be merged.
 * `refs` numbers objects seen in consts, so identity fits in a string key.
 *
 * @example
 * ```ts
 * valueKey(make.get(4, 3, "text"), new Map()); // 'g|3|"text"'
 * ```
 */
export function valueKey(n: Node, refs: Map<unknown, number>): string | undefined {
  switch (n.kind) {
    case "const": {
      const v = n.value;
      if (typeof v === "object" && v !== null) return `c|ref|${refId(v, refs)}`;
      if (typeof v === "function" || typeof v === "symbol") return `c|ref|${refId(v, refs)}`;
      if (typeof v === "string") return `c|string|${JSON.stringify(v)}`;
      return `c|${typeof v}|${Object.is(v, -0) ? "-0" : String(v)}`;
    }
    case "get":
      return `g|${n.inputs.join(",")}|${JSON.stringify(n.key)}`;
    case "expr":
      // A fresh object per evaluation (concat, Object.keys, a literal with spreads): eager code makes one per call.
      if (FRESH.has(n.op)) return undefined;
      return `e|${n.op}|${n.arg === undefined ? "" : JSON.stringify(n.arg)}|${n.inputs.join(",")}`;
    case "op":
      return Cacheable.has(n.desc.kind) ? `o|${JSON.stringify(n.desc.id)}|${n.self ? 1 : 0}|${n.inputs.join(",")}` : undefined;
    case "input":
    case "call":
    case "pack":
    case "cond":
    case "try":
    case "map":
    case "fused":
    case "output":
      return undefined;
    default:
      return unreachable(n, "node kind");
  }
}

function refId(v: unknown, refs: Map<unknown, number>): number {
  let id = refs.get(v);
  if (id === undefined) refs.set(v, (id = refs.size));
  return id;
}

/**
 * A rule that aliases each node to the first earlier node with the same `valueKey`.
 * Stateful: make one per graph.
 *
 * @example
 * ```ts
 * rewrite(g, [mergeDuplicates()]);
 * ```
 */
export function mergeDuplicates(): Rule {
  const first = new Map<string, NodeId>();
  const refs = new Map<unknown, number>();
  return (n) => {
    const key = valueKey(n, refs);
    if (key === undefined) return undefined;
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, n.id);
    return earlier === undefined || earlier === n.id ? undefined : { alias: earlier };
  };
}

/**
 * Merges duplicate pure computations in `g` and its subgraphs (each subgraph separately:
 * they are closed). Linear: one sweep with a hash map. Returns `g` when nothing merged.
 *
 * @example
 * ```ts
 * cse(g).nodes.length; // fewer when two nodes read the same property twice
 * ```
 */
export function cse(g: Graph): Graph {
  return rewrite(g, [nested(cse), mergeDuplicates()]);
}
