/**
 * The planner and the reference interpreter.
 *
 * A `Plan` is plain data for an executor: one step per node, numbered by slot (its
 * position), with the slots it waits for and the slots that wait for it. An executor keeps
 * a pending-dependency count per step and starts a step the moment it reaches zero: no
 * waves, no barriers. Concurrency limits, placements and fused groups ride along.
 */
import { distinct, fillTemplate, IdMap, subgraphs, unreachable, type CallNode, type ConstNode, type ExprNode, type GetNode, type Graph, type Node, type NodeId, type NodePlacement, type OpNode, type OutputNode, type PackNode } from "./ir.js";
import { placementOf } from "./passes/place.js";
import { evalExpr } from "./expr.js";

/**
 * One node of a plan.
 *
 * @example
 * ```ts
 * for (const s of plan.steps[slot]!.dependents) if (--pending[s] === 0) start(s);
 * ```
 */
export interface Step {
  /** This step's index in `Plan.steps`. */
  readonly slot: number;
  /** The IR node: its kind says what to run (for an op, `node.desc.id` names the body). */
  readonly node: Node;
  /** The slot of each of `node.inputs`, in argument order (repeats kept). */
  readonly args: readonly number[];
  /** Distinct slots this step waits for. */
  readonly deps: readonly number[];
  /** Distinct slots waiting for this step, in slot order. */
  readonly dependents: readonly number[];
  readonly placement: NodePlacement;
  /** Op ids (keys of `Concurrency.perOp`) whose limits this step holds a place in while running. */
  readonly limits: readonly string[];
  /** Plans of the node's subgraphs: `[then, else]` for cond, `[body]` for map and fused. */
  readonly plans: readonly Plan[];
}

/**
 * A fused group as the executor sees it: one task running these members.
 *
 * @example
 * ```ts
 * for (const group of plan.groups) console.log(`%${group.id}: ${group.ops.join(" -> ")} on ${group.placement}`);
 * ```
 */
export interface FusedGroup {
  /** The fused node's id. */
  readonly id: NodeId;
  /** Member node ids, in run order. */
  readonly members: readonly NodeId[];
  /** Descriptor ids of the member ops, in run order. */
  readonly ops: readonly string[];
  readonly placement: NodePlacement;
}

/**
 * How many ops may run at once: overall, and per op id.
 *
 * @example
 * ```ts
 * const limit = plan.concurrency.perOp[step.node.kind === "op" ? step.node.desc.id : ""];
 * ```
 */
export interface Concurrency {
  /** At most this many op calls in flight across the plan; `undefined` for no global limit. */
  readonly global: number | undefined;
  /** At most this many calls of each op id in flight (from `policy.concurrency`). */
  readonly perOp: Readonly<Record<string, number>>;
}

/**
 * What an executor runs.
 *
 * @example
 * ```ts
 * const p: Plan = plan(optimize(traced));
 * const pending = p.steps.map((s) => s.deps.length);
 * ```
 */
export interface Plan {
  readonly graph: Graph;
  readonly steps: readonly Step[];
  /** The slot of input `i` for each argument `i`. */
  readonly inputs: readonly number[];
  /** Slots with no dependencies (inputs, consts, zero-argument ops): where a run starts. */
  readonly ready: readonly number[];
  /** The output step's slot; the run's result is that step's value. */
  readonly output: number;
  /** Shared by a plan and all its subplans. */
  readonly concurrency: Concurrency;
  /** Fused groups in this plan and its subplans. */
  readonly groups: readonly FusedGroup[];
}

/**
 * Options of `plan`.
 *
 * @example
 * ```ts
 * plan(g, { concurrency: 16 });
 * ```
 */
export interface PlanOptions {
  /** Global limit on op calls in flight. Default: none. */
  readonly concurrency?: number;
}

/**
 * Plans an optimised graph. Linear in the number of nodes and edges.
 *
 * @example
 * ```ts
 * const p = plan(optimize(g), { concurrency: 16 });
 * p.ready;              // slots to start with
 * p.steps[3]!.dependents; // slots that may become ready when slot 3 finishes
 * ```
 */
export function plan(g: Graph, options: PlanOptions = {}): Plan {
  // No prototype: op ids are user text, and "constructor" must not look like a limit.
  const perOp = Object.create(null) as Record<string, number>;
  collectLimits(g, perOp);
  return planGraph(g, { global: options.concurrency, perOp });
}

function planGraph(g: Graph, concurrency: Concurrency): Plan {
  const slotOf = new IdMap<number>();
  g.nodes.forEach((n, i) => slotOf.set(n.id, i));
  const dependents: number[][] = g.nodes.map(() => []);
  const inputs: number[] = [];
  const ready: number[] = [];
  const groups: FusedGroup[] = [];
  const steps = g.nodes.map((node, slot): Step => {
    const args = node.inputs.map((x) => slotOf.get(x)!);
    const deps = distinct(args);
    for (const d of deps) dependents[d]!.push(slot);
    if (deps.length === 0) ready.push(slot);
    if (node.kind === "input") inputs[node.index] = slot;
    const subs = subgraphs(node);
    const plans = subs.length === 0 ? NO_PLANS : subs.map((s) => planGraph(s, concurrency));
    for (const p of plans) groups.push(...p.groups);
    const placement = placementOf(node);
    if (node.kind === "fused") groups.push(fusedGroup(node.id, node.body, placement));
    return { slot, node, args, deps, dependents: dependents[slot]!, placement, limits: limitsOf(node, concurrency.perOp), plans };
  });
  return { graph: g, steps, inputs, ready, output: slotOf.get(g.output)!, concurrency, groups };
}

const NO_PLANS: readonly Plan[] = Object.freeze([]);
const NO_LIMITS: readonly string[] = Object.freeze([]);

function collectLimits(g: Graph, perOp: Record<string, number>): void {
  for (const n of g.nodes) {
    const limit = n.kind === "op" ? n.desc.policy.concurrency : undefined;
    // Two descriptors sharing an id cannot both be honoured: the tighter limit wins.
    if (n.kind === "op" && limit !== undefined) perOp[n.desc.id] = Math.min(limit, perOp[n.desc.id] ?? Infinity);
    for (const s of subgraphs(n)) collectLimits(s, perOp);
  }
}

function limitsOf(n: Node, perOp: Readonly<Record<string, number>>): readonly string[] {
  if (n.kind === "op") return n.desc.id in perOp ? [n.desc.id] : NO_LIMITS;
  // A fused task holds a place under each member's limit for its whole run.
  if (n.kind === "fused") return [...new Set(n.body.nodes.flatMap((m) => (m.kind === "op" && m.desc.id in perOp ? [m.desc.id] : [])))];
  return NO_LIMITS;
}

function fusedGroup(id: NodeId, body: Graph, placement: NodePlacement): FusedGroup {
  const members = body.nodes.filter((m) => m.kind !== "input" && m.kind !== "output");
  return { id, members: members.map((m) => m.id), ops: members.flatMap((m) => (m.kind === "op" ? [m.desc.id] : [])), placement };
}

/**
 * Calls one op: `args` exclude `this`, which is `self` (`undefined` for function ops).
 * The interpreter awaits whatever it returns.
 *
 * @example
 * ```ts
 * const callOp: CallOp = (node, args, self) => registry.body(node.desc.id).apply(self, args);
 * ```
 */
export type CallOp = (node: OpNode, args: readonly unknown[], self: unknown) => unknown;

/**
 * The value of a node that needs no op call, from its input values: the one definition of
 * what `const`, `get`, `call`, `pack` and `output` mean, shared by every executor.
 *
 * @example
 * ```ts
 * evalStructural(make.get(4, 3, "text"), [{ text: "hi" }]); // "hi"
 * ```
 */
export function evalStructural(n: ConstNode | GetNode | CallNode | PackNode | ExprNode | OutputNode, values: readonly unknown[]): unknown {
  switch (n.kind) {
    case "const":
      return n.value;
    case "get":
      return (values[0] as Record<string | number, unknown>)[n.key];
    case "call": {
      const receiver = values[0] as Record<string, unknown>;
      return Reflect.apply(receiver[n.method] as (...args: unknown[]) => unknown, receiver, values.slice(1));
    }
    case "pack":
      return fillTemplate(n.template, values);
    case "expr":
      return evalExpr(n.op, values, n.arg);
    case "output":
      return values[0];
    default:
      return unreachable(n, "node kind");
  }
}

/**
 * The reference interpreter (like JAX's `eval_jaxpr`): runs a graph or plan one node at a
 * time in topological order. The oracle for executor tests and the simplest executor.
 *
 * @example
 * ```ts
 * const out = await interpret(g, ["question"], (node, args, self) => registry.body(node.desc.id).apply(self, args));
 * ```
 */
export async function interpret(program: Graph | Plan, args: readonly unknown[], callOp: CallOp): Promise<unknown> {
  const g = "steps" in program ? program.graph : program;
  const env = new Map<NodeId, unknown>();
  for (const n of g.nodes) {
    const xs = n.inputs.map((x) => env.get(x));
    switch (n.kind) {
      case "input":
        env.set(n.id, args[n.index]);
        break;
      case "op":
        env.set(n.id, await (n.self ? callOp(n, xs.slice(1), xs[0]) : callOp(n, xs, undefined)));
        break;
      case "cond":
        env.set(n.id, await interpret(n.branches[xs[0] ? 0 : 1], xs.slice(1), callOp));
        break;
      case "try": {
        let value: unknown;
        try {
          value = await interpret(n.branches[0], xs, callOp);
        } catch (error) {
          value = await interpret(n.branches[1], [error, ...xs], callOp);
        }
        env.set(n.id, value);
        break;
      }
      case "map": {
        const items = Array.from(xs[0] as Iterable<unknown>);
        const out: unknown[] = [];
        for (const [i, item] of items.entries()) out.push(await interpret(n.body, [item, i, ...xs.slice(1)], callOp));
        env.set(n.id, out);
        break;
      }
      case "fused":
        env.set(n.id, await interpret(n.body, xs, callOp));
        break;
      case "call":
        env.set(n.id, n.awaited ? await evalStructural(n, xs) : evalStructural(n, xs));
        break;
      default:
        env.set(n.id, evalStructural(n, xs));
    }
  }
  return env.get(g.output);
}
