/**
 * Fused groups on worker threads: a plan's `fused` node whose body is a chain of function
 * ops (with property reads and constants between them) runs as ONE worker task, instead of
 * one round trip per op. Whether it moves is decided when it runs, from the live cost model,
 * so a plan compiled before anything was measured still moves once the work proves heavy.
 */
import type { OpDescriptor } from "../decorators/descriptor.js";
import { unfusable } from "../compiler/check.js";
import type { Graph, NodeId } from "../compiler/ir.js";
import type { Step } from "../compiler/plan.js";
import type { Frame } from "./context.js";
import { costOf, currentRoundTripMs, executorFor, REMOTE, workerExecutor, type ArgSource, type FusedChain } from "./executors.js";
import { fusedPlacement } from "../compiler/passes/place.js";
import type { OpEntry } from "./invoke.js";
import { whyNotWorker } from "./workers/capability.js";

/** A fused body as a worker chain, with the entries of its members. */
export interface ChainPlan {
  readonly chain: FusedChain;
  readonly entries: readonly OpEntry[];
}

const chains = new WeakMap<Step, ChainPlan | null>();

/**
 * Runs a fused step as one unit on an executor: the one a `withContext({ placement })`
 * block names (`"remote:NAME"`, `"worker"`), else the worker pool when it pays;
 * `undefined` means "run it inline" (each member through the kernel, in the plan runner).
 * `bind` resolves a member's descriptor to its entry and call overrides.
 */
export function runFusedOnWorker(
  step: Step,
  args: readonly unknown[],
  frame: Frame,
  bind: Bind,
): Promise<unknown> | undefined {
  let plan = chains.get(step);
  if (plan === undefined) {
    plan = step.node.kind === "fused" ? (chainOf(step.node.body, bind) ?? null) : null;
    chains.set(step, plan);
  }
  if (plan === null) return undefined;
  const placement = frame.placement;
  if (placement === "inline") return undefined;
  // A remote executor decides for itself what it can run (it names ops by id and locator);
  // the worker-thread checks are the pool's.
  if (placement !== undefined && placement.startsWith(REMOTE)) {
    try {
      return executorFor(placement, plan.entries[0]!.desc.name)!.run({ kind: "chain", chain: plan.chain, args }, frame);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  if (plan.entries.some((entry, i) => whyNotWorker(entry, undefined, i === 0 ? args : undefined) !== undefined)) return undefined;
  // Decided now, from the live cost model, by the same rule the place pass used.
  if (placement !== "worker" && !chainWorthMoving(plan)) return undefined;
  return workerExecutor.run({ kind: "chain", chain: plan.chain, args }, frame);
}

type Bind = (desc: OpDescriptor) => { readonly entry: OpEntry; readonly overrides: unknown };

/**
 * The body as a chain: op steps whose arguments come from the group's inputs, earlier
 * steps (optionally a property path into them) or constants. Anything else (a method op,
 * a configured call, an object literal, a method call on a value) keeps the group inline.
 */
export function chainOf(body: Graph, bind: Bind): ChainPlan | undefined {
  const chain: { opId: string; argsFrom: ArgSource[] }[] = [];
  const entries: OpEntry[] = [];
  const inputs = Array.from({ length: body.arity }, (_, index): ArgSource => ({ from: "input", index }));
  const output = flatten(body, inputs, bind, chain, entries);
  // The task returns its last step's value: the body must end in it.
  if (chain.length === 0 || !output || output.from !== "step" || output.index !== chain.length - 1 || output.path) return undefined;
  return { chain, entries };
}

/** Appends `g`'s ops to `chain` (fused groups inlined); returns where `g`'s output comes from. */
function flatten(g: Graph, inputs: readonly ArgSource[], bind: Bind, chain: { opId: string; argsFrom: ArgSource[] }[], entries: OpEntry[]): ArgSource | undefined {
  const sources = new Map<NodeId, ArgSource>();
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
        const { entry, overrides } = bind(node.desc);
        if (overrides !== undefined || entry.desc.id !== node.desc.id) return undefined;
        // An op pinned to an executor runs there, as its own call.
        if (entry.pinned !== undefined && entry.pinned !== "worker") return undefined;
        const argsFrom: ArgSource[] = [];
        for (const input of node.inputs) {
          const source = sources.get(input);
          if (!source) return undefined;
          argsFrom.push(source);
        }
        sources.set(node.id, { from: "step", index: chain.length });
        chain.push({ opId: node.desc.id, argsFrom });
        entries.push(entry);
        break;
      }
      case "fused": {
        const inner: ArgSource[] = [];
        for (const input of node.inputs) {
          const source = sources.get(input);
          if (!source) return undefined;
          inner.push(source);
        }
        const out = flatten(node.body, inner, bind, chain, entries);
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

/** A member pinned to the workers, or every member measured and together worth a round trip per `items`. */
export function chainWorthMoving(plan: ChainPlan, items = 1): boolean {
  return fusedPlacement(plan.entries.map((e) => e.desc), costOf, currentRoundTripMs(), items) === "worker";
}
