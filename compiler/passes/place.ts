/**
 * Placement: tags each op and fused node with where it runs.
 *
 * - `io` ops and async bodies: `async` (awaited on the event loop, concurrently);
 * - a policy `placement: "worker" | "inline"` wins over the cost model;
 * - otherwise a sync op (or fused group) goes to a worker only when its mean duration is at
 *   least `WORKER_FACTOR` round trips: an op whose cost is unknown or near the round trip
 *   stays inline, because moving it would add more latency than it frees.
 * A fused group costs the sum of its members' means (unknown means count as zero).
 * Structural, `cond` and `map` nodes run inline; their subgraphs are placed node by node.
 */
import type { OpDescriptor } from "../../decorators/descriptor.js";
import { allowedPlacements } from "../check.js";
import { mapSubgraphs, update, type FusedNode, type Graph, type Node, type NodePlacement, type OpNode } from "../ir.js";
import { rewrite, type Rule } from "./rewrite.js";

/**
 * What the runtime measured about an op: its mean duration, when it has run.
 *
 * @example
 * ```ts
 * const cost: CostModel = (desc) => ({ meanMs: durations.get(desc.id)?.mean });
 * ```
 */
export type CostModel = (desc: OpDescriptor) => { readonly meanMs?: number | undefined };

/**
 * A worker round trip (post, clone, wake, reply) measured on this machine, in ms.
 *
 * @example
 * ```ts
 * place(g, { roundTripMs: ROUND_TRIP_MS * 2 }); // a slower machine
 * ```
 */
export const ROUND_TRIP_MS = 0.15;
// Moving work pays off once the thread it frees clearly outweighs the latency it adds.
const WORKER_FACTOR = 2;

/**
 * Options of the place pass.
 *
 * @example
 * ```ts
 * place(g, { cost, roundTripMs: 0.2 });
 * ```
 */
export interface PlaceOptions {
  /** Mean durations per op; without it every sync op without a policy stays inline. */
  readonly cost?: CostModel;
  /** The worker round trip to weigh against, in ms. Default `ROUND_TRIP_MS`. */
  readonly roundTripMs?: number;
}

/**
 * Where an op or fused node runs under `options`; other nodes run inline.
 *
 * @example
 * ```ts
 * placementFor(tokenizeNode, { cost: () => ({ meanMs: 4 }) }); // "worker"
 * placementFor(tokenizeNode, {});                               // "inline": cost unknown
 * ```
 */
export function placementFor(n: Node, options: PlaceOptions = {}): NodePlacement {
  if (n.kind === "op") return placeOp(n, options);
  if (n.kind === "fused") return placeFused(n, options);
  return "inline";
}

/**
 * The placement the executor uses for `n`: its tag when the place pass ran, else the
 * only allowed one (`async` for io ops), else inline.
 *
 * @example
 * ```ts
 * placementOf(fetchNode); // "async", placed or not
 * ```
 */
export function placementOf(n: Node): NodePlacement {
  if (n.kind === "op") return n.placement ?? allowedPlacements(n).values[0] ?? "inline";
  if (n.kind === "fused") return n.placement ?? "inline";
  return "inline";
}

function placeOp(n: OpNode, options: PlaceOptions): NodePlacement {
  const allowed = allowedPlacements(n).values;
  if (allowed.length === 1) return allowed[0]!;
  return worthAWorker(options.cost?.(n.desc).meanMs ?? 0, options) ? "worker" : "inline";
}

function placeFused(n: FusedNode, options: PlaceOptions): NodePlacement {
  let total = 0;
  for (const m of n.body.nodes) {
    if (m.kind !== "op") continue;
    if (m.desc.policy.placement === "worker") return "worker";
    total += options.cost?.(m.desc).meanMs ?? 0;
  }
  return worthAWorker(total, options) ? "worker" : "inline";
}

function worthAWorker(meanMs: number, options: PlaceOptions): boolean {
  return meanMs >= WORKER_FACTOR * (options.roundTripMs ?? ROUND_TRIP_MS);
}

/**
 * Tags every op and fused node in `g` (and in `cond`/`map` subgraphs) with its placement.
 * Returns `g` when every tag was already right.
 *
 * @example
 * ```ts
 * place(fuse(g), { cost: (desc) => ({ meanMs: stats.get(desc.id)?.mean }) });
 * ```
 */
export function place(g: Graph, options: PlaceOptions = {}): Graph {
  const tag: Rule = (n) => {
    if (n.kind === "op" || n.kind === "fused") {
      const placement = placementFor(n, options);
      return n.placement === placement ? n : update<OpNode | FusedNode>(n, { placement });
    }
    // Members of a fused body run in its task, wherever the fused node goes.
    if (n.kind === "cond" || n.kind === "map") return mapSubgraphs(n, (s) => place(s, options));
    return undefined;
  };
  return rewrite(g, [tag]);
}
