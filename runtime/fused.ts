/**
 * Fused groups on executors: a plan step whose fused node the planner lowered to a chain
 * (`Step.chain`: function ops with property reads and constants between them) runs as ONE
 * worker task or remote job, instead of one round trip per op. Whether it moves is decided when it runs, from the live cost model,
 * so a plan compiled before anything was measured still moves once the work proves heavy.
 */
import type { OpDescriptor } from "../decorators/descriptor.js";
import type { Graph } from "../compiler/ir.js";
import { lowerChain, type LoweredChain, type Step } from "../compiler/plan.js";
import type { Frame } from "./context.js";
import { costOf, currentRoundTripMs, executorFor, REMOTE, workerExecutor, type FusedChain } from "./executors.js";
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
    plan = bindChain(step.chain, bind) ?? null;
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
 * A lowered chain (plan data, see `lowerChain` in compiler/plan.ts) bound to the runtime:
 * each member's entry, as long as every member is called as the op itself (no `.with()`
 * overrides, the registered op with that id) and none is pinned to an executor of its own.
 */
export function bindChain(lowered: LoweredChain | undefined, bind: Bind): ChainPlan | undefined {
  if (lowered === undefined) return undefined;
  const entries: OpEntry[] = [];
  for (const desc of lowered.ops) {
    const { entry, overrides } = bind(desc);
    if (overrides !== undefined || entry.desc.id !== desc.id) return undefined;
    // An op pinned to an executor runs there, as its own call.
    if (entry.pinned !== undefined && entry.pinned !== "worker") return undefined;
    entries.push(entry);
  }
  return { chain: lowered.chain, entries };
}

/** A graph as a chain bound to the runtime (a jitted function's whole plan, for vmap chunks). */
export function chainOf(body: Graph, bind: Bind): ChainPlan | undefined {
  return bindChain(lowerChain(body), bind);
}

/** A member pinned to the workers, or every member measured and together worth a round trip per `items`. */
export function chainWorthMoving(plan: ChainPlan, items = 1): boolean {
  return fusedPlacement(plan.entries.map((e) => e.desc), costOf, currentRoundTripMs(), items) === "worker";
}
