/**
 * Placement: tags each op and fused node with where it runs.
 *
 * - `io` ops and async bodies: `async` (awaited on the event loop, concurrently);
 * - a policy `placement: "worker" | "inline"` wins over the cost model;
 * - otherwise a sync op (or fused group) goes to a worker only when its mean duration is at
 *   least `WORKER_FACTOR` round trips: an op whose cost is unknown or near the round trip
 *   stays inline, because moving it would add more latency than it frees.
 * A fused group costs the sum of its members' means, and stays inline while one is unmeasured.
 * Structural, `cond` and `map` nodes run inline; their subgraphs are placed node by node.
 */
import type { OpDescriptor } from "../../decorators/descriptor.js";
import { allowedPlacements } from "../check.js";
import { mapSubgraphs, update, type FusedNode, type Graph, type Node, type NodePlacement, type OpNode } from "../ir.js";
import { ROUND_TRIP_MS, WORKER_FACTOR, type CostModel } from "../costs.js";

export { ROUND_TRIP_MS, WORKER_FACTOR, type CostModel } from "../costs.js";

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
  /**
   * The runtime's own decision for a lone sync op whose policy leaves it free ("auto"),
   * so the plan shows where the runtime will run it. Without it, the cost decides.
   */
  readonly placeOp?: (desc: OpDescriptor) => NodePlacement;
  /**
   * The remote executor a call of this op is sent to (its own `placement: "remote:NAME"`,
   * or the enclosing `withContext` block's), which then wins: the plan shows the step remote.
   */
  readonly remote?: (desc: OpDescriptor) => `remote:${string}` | undefined;
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
  const far = options.remote?.(n.desc);
  if (far !== undefined) return far;
  const allowed = allowedPlacements(n).values;
  if (allowed.length === 1) return allowed[0]!;
  if (options.placeOp) return options.placeOp(n.desc);
  return worthAWorker(options.cost?.(n.desc).meanMs ?? 0, options.roundTripMs) ? "worker" : "inline";
}

function placeFused(n: FusedNode, options: PlaceOptions): NodePlacement {
  const members: OpDescriptor[] = [];
  const collect = (g: Graph): void => {
    for (const m of g.nodes) {
      if (m.kind === "op") members.push(m.desc);
      else if (m.kind === "fused") collect(m.body);
    }
  };
  collect(n.body);
  // A chain goes where its block's placement sends it, as one job.
  const far = members[0] === undefined ? undefined : options.remote?.(members[0]);
  if (far !== undefined) return far;
  return fusedPlacement(members, options.cost, options.roundTripMs);
}

/**
 * Where a fused group of these member ops runs: on a worker when a member is pinned there,
 * or when every member is measured and together they cost at least `WORKER_FACTOR` round
 * trips per run (times `items`, for a chunk of items); otherwise inline. The one rule for
 * the place pass, the plan runner's fused steps and vmap's chunks.
 *
 * @example
 * ```ts
 * fusedPlacement([tokenize.desc, count.desc], (d) => ({ meanMs: 1 })); // "worker"
 * ```
 */
export function fusedPlacement(members: readonly OpDescriptor[], cost: CostModel | undefined, roundTripMs?: number, items = 1): NodePlacement {
  let total = 0;
  for (const desc of members) if (desc.policy.placement === "worker") return "worker";
  for (const desc of members) {
    const mean = cost?.(desc).meanMs;
    // An unmeasured member could be anything: the group stays inline until it is measured.
    if (mean === undefined) return "inline";
    total += mean;
  }
  return worthAWorker(total * items, roundTripMs) ? "worker" : "inline";
}

/**
 * Whether work of this mean duration is worth a worker round trip.
 *
 * @example
 * ```ts
 * worthAWorker(0.5); // true: above WORKER_FACTOR * ROUND_TRIP_MS
 * ```
 */
export function worthAWorker(meanMs: number, roundTripMs = ROUND_TRIP_MS): boolean {
  return meanMs >= WORKER_FACTOR * roundTripMs;
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
  // One decision per node, in place: placement changes no id and no input, so this is a map
  // over the nodes, not a rewrite (which would price each tagged node a second time).
  let nodes: Node[] | undefined;
  for (let i = 0; i < g.nodes.length; i++) {
    const n = g.nodes[i]!;
    let next: Node = n;
    if (n.kind === "op" || n.kind === "fused") {
      const placement = placementFor(n, options);
      if (n.placement !== placement) next = update<OpNode | FusedNode>(n, { placement });
    }
    // Members of a fused body run in its task, wherever the fused node goes.
    else if (n.kind === "cond" || n.kind === "try" || n.kind === "map") next = mapSubgraphs(n, (s) => place(s, options));
    if (next !== n) (nodes ??= g.nodes.slice())[i] = next;
  }
  return nodes === undefined ? g : { nodes, output: g.output, arity: g.arity };
}
