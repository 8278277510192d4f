/**
 * The planner and the reference interpreter.
 *
 * A `Plan` is plain data for an executor: one step per node, numbered by slot (its
 * position), with the slots it waits for and the slots that wait for it. An executor keeps
 * a pending-dependency count per step and starts a step the moment it reaches zero: no
 * waves, no barriers. The global concurrency limit rides along, and each fused group is
 * lowered to a fused chain (plain step data with static argument wiring) that an executor
 * runs as one unit. Per-op concurrency limits are not plan data: the kernel enforces them
 * on every call of the op, wherever it is made.
 */
import type { OpDescriptor } from "../decorators/descriptor.js";
import type { ArgSource, ChainStep, FusedChain } from "./chain.js";
import { unfusable } from "./check.js";
import { distinct, fillTemplate, IdMap, subgraphs, unreachable, type CallNode, type ConstNode, type ExprNode, type GetNode, type Graph, type Node, type NodeId, type OpNode, type OutputNode, type PackNode } from "./ir.js";
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
  /** Plans of the node's subgraphs: `[then, else]` for cond, `[body]` for map and fused. */
  readonly plans: readonly Plan[];
  /**
   * A fused node lowered to a chain an executor runs as one unit (one worker task, one
   * job), when its body is a chain of function ops wired by inputs, earlier steps (with
   * property paths) and constants; `undefined` otherwise (it then runs step by step, `plans[0]`).
   */
  readonly chain: LoweredChain | undefined;
}

/**
 * A fused group as plain step data: the chain, and the descriptors of its ops in order.
 *
 * @example
 * ```ts
 * const fused = plan.steps.find((s) => s.chain)!.chain!;
 * fused.ops.map((d) => d.name); // ["tokenize", "count"]
 * ```
 */
export interface LoweredChain {
  readonly chain: FusedChain;
  readonly ops: readonly OpDescriptor[];
}

/**
 * How many op calls of a plan may run at once.
 *
 * @example
 * ```ts
 * const limit = plan.concurrency.global ?? Infinity;
 * ```
 */
export interface Concurrency {
  /** At most this many op calls in flight across the plan; `undefined` for no global limit. */
  readonly global: number | undefined;
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
  return planGraph(g, { global: options.concurrency });
}

function planGraph(g: Graph, concurrency: Concurrency): Plan {
  const slotOf = new IdMap<number>();
  g.nodes.forEach((n, i) => slotOf.set(n.id, i));
  const dependents: number[][] = g.nodes.map(() => []);
  const inputs: number[] = [];
  const ready: number[] = [];
  const steps = g.nodes.map((node, slot): Step => {
    const args = node.inputs.map((x) => slotOf.get(x)!);
    const deps = distinct(args);
    for (const d of deps) dependents[d]!.push(slot);
    if (deps.length === 0) ready.push(slot);
    if (node.kind === "input") inputs[node.index] = slot;
    const subs = subgraphs(node);
    const plans = subs.length === 0 ? NO_PLANS : subs.map((s) => planGraph(s, concurrency));
    const chain = node.kind === "fused" ? lowerChain(node.body) : undefined;
    return { slot, node, args, deps, dependents: dependents[slot]!, plans, chain };
  });
  return { graph: g, steps, inputs, ready, output: slotOf.get(g.output)!, concurrency };
}

const NO_PLANS: readonly Plan[] = Object.freeze([]);

/**
 * A graph (a fused body, or a whole jitted function) as one chain: op steps whose
 * arguments come from the graph's inputs, earlier steps (optionally a property path into
 * them) or constants, ending in the last step's value. `undefined` when it is not one (a
 * method op, an op fusion refuses, an object literal, a method call on a value, ...).
 *
 * @example
 * ```ts
 * lowerChain(fusedNode.body)?.chain; // [{ opId: tokenize, argsFrom: [input 0] }, { opId: count, argsFrom: [step 0] }]
 * ```
 */
export function lowerChain(body: Graph): LoweredChain | undefined {
  const chain: ChainStep[] = [];
  const ops: OpDescriptor[] = [];
  const inputs = Array.from({ length: body.arity }, (_, index): ArgSource => ({ from: "input", index }));
  const output = flatten(body, inputs, chain, ops);
  // The unit returns its last step's value: the body must end in it.
  if (chain.length === 0 || !output || output.from !== "step" || output.index !== chain.length - 1 || output.path) return undefined;
  return { chain, ops };
}

/** Appends `g`'s ops to `chain` (fused groups inlined); returns where `g`'s output comes from. */
function flatten(g: Graph, inputs: readonly ArgSource[], chain: ChainStep[], ops: OpDescriptor[]): ArgSource | undefined {
  const sources = new IdMap<ArgSource>();
  for (const node of g.nodes) {
    switch (node.kind) {
      case "input": {
        const source = inputs[node.index];
        if (!source) return undefined;
        sources.set(node.id, source);
        break;
      }
      case "const":
        sources.set(node.id, { from: "const", value: node.value });
        break;
      case "get": {
        const of = sources.get(node.inputs[0]!);
        if (!of || of.from === "const") return undefined;
        sources.set(node.id, { ...of, path: [...(of.path ?? []), node.key] });
        break;
      }
      case "op": {
        // Same refusals as the fuse pass: a step runs as a plain call of its op.
        if (node.self || unfusable(node) !== undefined) return undefined;
        const argsFrom: ArgSource[] = [];
        for (const input of node.inputs) {
          const source = sources.get(input);
          if (!source) return undefined;
          argsFrom.push(source);
        }
        sources.set(node.id, { from: "step", index: chain.length });
        chain.push({ opId: node.desc.id, argsFrom });
        ops.push(node.desc);
        break;
      }
      case "fused": {
        const inner: ArgSource[] = [];
        for (const input of node.inputs) {
          const source = sources.get(input);
          if (!source) return undefined;
          inner.push(source);
        }
        const out = flatten(node.body, inner, chain, ops);
        if (!out) return undefined;
        sources.set(node.id, out);
        break;
      }
      case "output":
        return sources.get(node.inputs[0]!);
      default:
        return undefined;
    }
  }
  return undefined;
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
