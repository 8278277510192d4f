/**
 * The plan executor: runs a compiled plan on the runtime. Each step keeps a count of
 * unfinished dependencies and starts the moment it reaches zero (no waves, no barriers).
 * Op steps are ordinary op calls (context, validation, retries, spans all apply), in a
 * frame whose signal aborts in-flight siblings when a step fails (fail-fast), unless the
 * plan runs in settle-all mode.
 *
 * It knows nothing of how the plan was made: only the plan's data.
 */
import type { OpDescriptor } from "../decorators/descriptor.js";
import type { OpNode } from "../compiler/ir.js";
import { evalStructural, type Plan, type Step } from "../compiler/plan.js";
import { abortReason, linkSignals, store, withContext, type ContextOptions, type Frame } from "./context.js";
import { Cancelled, OpError } from "./errors.js";
import { invokeValue, type CallOverrides, type OpEntry } from "./invoke.js";
import { runFusedOnWorker } from "./fused.js";

/** How an op node's descriptor maps back to the runtime: its entry and call overrides. */
export interface Binding {
  readonly entry: OpEntry;
  readonly overrides: CallOverrides | undefined;
  /** Context a `withContext` inside the jitted function gave this call (config, tenant, user, values). */
  readonly scope?: ContextOptions;
}

/** Options of one plan run. */
export interface RunOptions {
  /** `"fail-fast"` (default) cancels in-flight steps on the first failure; `"settle"` lets them finish. */
  readonly onError?: "fail-fast" | "settle";
  /** Called as each op step starts and ends: a deterministic window for tests and tools. */
  readonly onStep?: (event: { readonly type: "start" | "end"; readonly node: OpNode }) => void;
}

/** Runs a plan with `args` in `frame`. `bindings` resolves op descriptors to runtime entries. */
export function runPlan(plan: Plan, args: readonly unknown[], frame: Frame, bindings: (desc: OpDescriptor) => Binding, options: RunOptions = {}): Promise<unknown> {
  if (frame.run !== undefined) {
    // A durable run resumes only on the plan it started with (the version guard).
    try {
      frame.run.usePlan(frame.stepId, plan);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  const limit = plan.concurrency.global ?? Infinity;
  // A serial plan has no sibling in flight for a failure to cancel: its steps see the
  // caller's signal, as eager code's calls do, and the run needs no signal of its own.
  if (serial(plan)) {
    const run = new PlanRun(plan, args, frame, undefined, bindings, options, limit);
    // Started inside the run's frame, every step (and every promise callback) runs in it.
    return store.getStore() === frame ? run.start() : store.run(frame, () => run.start());
  }
  const controller = new AbortController();
  const unlink = linkSignals(controller, [frame.signal], frame.op ?? "jit");
  const runFrame = frame.derive({ signal: controller.signal });
  const run = new PlanRun(plan, args, runFrame, controller, bindings, options, limit);
  return store.run(runFrame, () => run.start()).finally(unlink);
}

/** True for a step that may still be running after it starts: an op, a staged branch, try or map, a fused group, an awaited method call. */
function mayWait(step: Step): boolean {
  const n = step.node;
  return n.kind === "op" || n.kind === "cond" || n.kind === "try" || n.kind === "map" || n.kind === "fused" || (n.kind === "call" && n.awaited === true);
}

const serialPlans = new WeakMap<Plan, boolean>();

/**
 * True when no two steps of `plan` can ever be in flight at once: every step that may wait
 * depends (directly or through glue) on the one before it, and its own subplans are serial
 * too (a map's items run one at a time). Such a plan is a chain: when a step fails, nothing
 * else is running to be cancelled. Computed once per plan, in one pass over the steps.
 */
function serial(plan: Plan): boolean {
  let known = serialPlans.get(plan);
  if (known === undefined) serialPlans.set(plan, (known = isSerial(plan)));
  return known;
}

function isSerial(plan: Plan): boolean {
  const steps = plan.steps;
  // Per slot: the latest step that may wait among it and what it depends on (-1: none).
  const latest = new Int32Array(steps.length);
  let previous = -1;
  for (const step of steps) {
    let before = -1;
    for (const d of step.deps) before = Math.max(before, latest[d]!);
    if (!mayWait(step)) {
      latest[step.slot] = before;
      continue;
    }
    if (before !== previous) return false;
    if (step.node.kind === "map" && (step.node.concurrency ?? Infinity) > 1) return false;
    if (!step.plans.every(serial)) return false;
    latest[step.slot] = previous = step.slot;
  }
  return true;
}

/**
 * `Promise.all` of `run(i)` for `i` in `[0, count)` with at most `limit` in flight, results
 * in order. On a failure nothing more starts; it rejects with the first failure at once,
 * or, with `settle`, once the items in flight have settled.
 */
export function boundedAll<T>(count: number, limit: number, run: (i: number) => Promise<T>, settle = false): Promise<T[]> {
  if (!(limit >= 1)) return Promise.reject(new RangeError(`map: concurrency must be >= 1, received ${limit}`));
  return new Promise((resolve, reject) => {
    const out = new Array<T>(count);
    let next = 0;
    let active = 0;
    let failure: { error: unknown } | undefined;
    const settled = (): void => {
      active--;
      if (failure) {
        if (settle && active === 0) reject(failure.error);
      } else if (next < count) launch();
      else if (active === 0) resolve(out);
    };
    const launch = (): void => {
      const i = next++;
      active++;
      run(i).then(
        (value) => {
          out[i] = value;
          settled();
        },
        (error: unknown) => {
          failure ??= { error };
          if (!settle) reject(error);
          settled();
        },
      );
    };
    if (count === 0) return resolve(out);
    while (next < Math.min(limit, count)) launch();
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null && typeof (value as { then?: unknown }).then === "function";
}

/** The op error a named one was made from: what a staged catch hands its handler, as eager code's catch sees it. */
const unnamed = new WeakMap<object, unknown>();

/** An op's failure inside a plan names the node and the line of the call in the jitted function. */
function named(error: unknown, node: OpNode): unknown {
  if (!(error instanceof OpError) || error.node !== undefined) return error;
  const out = new OpError(error.op, error.attempts, error.cause, node.loc ?? error.source, String(node.id));
  unnamed.set(out, error);
  return out;
}

const depCounts = new WeakMap<Plan, Int32Array>();

/** Each step's count of unfinished dependencies at the start of a run (computed once per plan, copied per run). */
function initialPending(plan: Plan): Int32Array {
  let counts = depCounts.get(plan);
  if (counts === undefined) depCounts.set(plan, (counts = Int32Array.from(plan.steps, (s) => s.deps.length)));
  return counts.slice();
}

/** Shared by a plan run and its subplan runs (cond branches, map bodies, fused groups). */
class Limiter {
  private running = 0;
  private readonly queue: Array<() => void> = [];
  constructor(readonly limit: number) {}
  acquire(): Promise<void> | undefined {
    if (this.running < this.limit) {
      this.running++;
      return undefined;
    }
    return new Promise((resolve) => this.queue.push(resolve));
  }
  release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.running--;
  }
}

/** One limiter for every run without a global limit: no step ever waits on it, so runs need not have their own. */
const UNLIMITED = new Limiter(Infinity);

class PlanRun {
  private readonly values: unknown[];
  private readonly pending: Int32Array;
  private remaining: number;
  private failure: { slot: number; error: unknown } | undefined;
  /** Steps before the failing one that have not settled yet. */
  private earlier = 0;
  private reported = false;
  private readonly done: Uint8Array;
  private inFlight = 0;
  private resolve!: (value: unknown) => void;
  private reject!: (error: unknown) => void;
  private readonly limiter: Limiter;
  /**
   * Steps whose dependencies are all done, to begin in turn: a step that settles at once
   * (glue, a sync op) queues its dependents here instead of beginning them inside its own
   * frame, so a long chain of them runs in a loop, not a recursion as deep as the chain.
   */
  private readonly queue: number[] = [];
  private head = 0;
  private draining = false;

  constructor(
    private readonly plan: Plan,
    private readonly args: readonly unknown[],
    private readonly frame: Frame,
    /** Aborts the run's own signal on a failure; `undefined` for a serial plan (see `serial`). */
    private readonly controller: AbortController | undefined,
    private readonly bindings: (desc: OpDescriptor) => Binding,
    private readonly options: RunOptions,
    limit: number | Limiter,
    private readonly root = true,
  ) {
    this.values = new Array(plan.steps.length);
    this.pending = initialPending(plan);
    this.remaining = plan.steps.length;
    this.done = new Uint8Array(plan.steps.length);
    this.limiter = typeof limit !== "number" ? limit : limit === Infinity ? UNLIMITED : new Limiter(limit);
  }

  start(): Promise<unknown> {
    const done = new Promise<unknown>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (this.frame.signal.aborted) {
      this.reject(abortReason(this.frame.signal, this.frame.op ?? "jit"));
      return done;
    }
    for (const slot of this.plan.ready) this.queue.push(slot);
    this.drain();
    return done;
  }

  /** Step `slot` can begin: now, or after the steps queued before it when a drain is under way. */
  private ready(slot: number): void {
    this.queue.push(slot);
    if (!this.draining) this.drain();
  }

  private drain(): void {
    this.draining = true;
    const queue = this.queue;
    while (this.head < queue.length) this.begin(queue[this.head++]!);
    queue.length = 0;
    this.head = 0;
    this.draining = false;
  }

  private begin(slot: number): void {
    if (this.failure && slot > this.failure.slot) return this.skip(slot);
    const step = this.plan.steps[slot]!;
    const node = step.node;
    switch (node.kind) {
      case "input":
        return this.finish(slot, this.args[node.index]);
      case "const":
      case "get":
      case "call":
      case "pack":
      case "expr":
      case "output": {
        let value: unknown;
        try {
          value = evalStructural(node, this.inputsOf(step));
        } catch (error) {
          return this.fail(slot, error);
        }
        // An awaited method call (an async method of a class instance) settles first.
        if (node.kind === "call" && node.awaited && isThenable(value)) return this.track(slot, Promise.resolve(value));
        return this.finish(slot, value);
      }
      case "op": {
        // The op's place under the limit is freed once its outcome is recorded (see track).
        const wait = this.limiter.acquire();
        if (wait !== undefined) return this.track(slot, wait.then(() => this.startOp(step, node)), this.limiter, node);
        let out: unknown;
        try {
          out = this.startOp(step, node);
        } catch (error) {
          this.fail(slot, named(error, node));
          return this.limiter.release();
        }
        if (isThenable(out)) return this.track(slot, out as Promise<unknown>, this.limiter, node);
        // A sync op with no policy settled in the call: no promise, no microtask.
        this.finish(slot, out);
        return this.limiter.release();
      }
      case "cond": {
        const xs = this.inputsOf(step);
        return this.track(slot, this.sub(step.plans[xs[0] ? 0 : 1]!, xs.slice(1), this.nodeFrame(node.id)));
      }
      case "try": {
        // A staged try/catch: the handler runs on the body's failure, as eager code's catch
        // (not once the run itself was cancelled: its frame's signal has aborted by then).
        const xs = this.inputsOf(step);
        const frame = this.nodeFrame(node.id);
        return this.track(slot, this.sub(step.plans[0]!, xs, frame).catch((error: unknown) => (this.frame.signal.aborted ? Promise.reject(error) : this.sub(step.plans[1]!, [unnamed.get(error as object) ?? error, ...xs], frame))));
      }
      case "map": {
        const xs = this.inputsOf(step);
        const items = Array.from(xs[0] as Iterable<unknown>);
        const body = step.plans[0]!;
        const captures = xs.slice(1);
        const settle = this.options.onError === "settle";
        return this.track(slot, boundedAll(items.length, node.concurrency ?? Infinity, (i) => this.sub(body, [items[i], i, ...captures], this.nodeFrame(node.id, i)), settle));
      }
      case "fused": {
        const xs = this.inputsOf(step);
        // One worker task for the whole group when it pays; else its ops run here, one by one.
        // In a durable run each member is a node of its own (fusion follows measured costs,
        // which differ between the process that crashed and the one resuming).
        const moved = this.frame.run === undefined ? runFusedOnWorker(step, xs, this.frame, this.bindings) : undefined;
        return this.track(slot, moved ?? this.sub(step.plans[0]!, xs));
      }
      default: {
        const never: never = node;
        throw new Error(`unknown node ${String(never)}`);
      }
    }
  }

  private inputsOf(step: Step): unknown[] {
    const out = new Array(step.args.length);
    for (let i = 0; i < step.args.length; i++) out[i] = this.values[step.args[i]!];
    return out;
  }

  /**
   * The op call of a step that holds its place: its value when the call completed
   * synchronously (a sync op with no policy), else a promise; a synchronous failure throws.
   * No async function and no await of its own: on a plan of trivial ops, each promise per
   * step is a measurable share of the run.
   */
  private startOp(step: Step, node: OpNode): unknown {
    // A step that waited for its place starts nothing once a sibling has failed (either mode).
    if (this.failure && step.slot > this.failure.slot) throw new Cancelled(node.desc.name, "a sibling step failed");
    if (this.frame.signal.aborted) throw abortReason(this.frame.signal, node.desc.name);
    const xs = this.inputsOf(step);
    const binding = this.bindings(node.desc);
    const onStep = this.options.onStep;
    onStep?.({ type: "start", node });
    const self = node.self ? xs.shift() : undefined;
    // The run's frame is current already (runPlan starts the run in it), unless a caller
    // drives the executor from elsewhere. In a durable run each op step gets a frame named by
    // its node id, so its journal key does not depend on the order steps happened to start in.
    // A call made inside a withContext of the jitted function gets that context again.
    let call: unknown;
    try {
      call =
        binding.scope !== undefined
          ? store.run(this.nodeFrame(node.id), () => withContext(binding.scope!, () => invokeValue(binding.entry, self, xs, binding.overrides)))
          : this.frame.run !== undefined
            ? store.run(this.nodeFrame(node.id), invokeValue, binding.entry, self, xs, binding.overrides)
            : store.getStore() === this.frame
              ? invokeValue(binding.entry, self, xs, binding.overrides)
              : store.run(this.frame, invokeValue, binding.entry, self, xs, binding.overrides);
    } catch (error) {
      onStep?.({ type: "end", node });
      throw error;
    }
    if (onStep === undefined) return call;
    if (isThenable(call)) return Promise.resolve(call).finally(() => onStep({ type: "end", node }));
    onStep({ type: "end", node });
    return call;
  }

  private sub(plan: Plan, args: readonly unknown[], frame = this.frame): Promise<unknown> {
    return new PlanRun(plan, args, frame, this.controller, this.bindings, this.options, this.limiter, false).start();
  }

  /** In a durable run, a frame whose step id names node `id` (and item `index` of a map). */
  private nodeFrame(id: number, index?: number): Frame {
    if (this.frame.run === undefined) return this.frame;
    return this.frame.derive({ stepId: `${this.frame.stepId}/n${id}${index === undefined ? "" : `[${index}]`}` });
  }

  /**
   * Records the outcome of `work`, then frees the place it `held` under the limit: in that
   * order, so a step waiting for the place sees a failure before it could start.
   */
  private track(slot: number, work: Promise<unknown>, held?: Limiter, op?: OpNode): void {
    this.inFlight++;
    work.then(
      (value) => {
        this.inFlight--;
        this.finish(slot, value);
        held?.release();
      },
      (error: unknown) => {
        this.inFlight--;
        this.fail(slot, op ? named(error, op) : error);
        held?.release();
      },
    );
  }

  private finish(slot: number, value: unknown): void {
    this.values[slot] = value;
    this.settle(slot);
    for (const next of this.plan.steps[slot]!.dependents) {
      if (--this.pending[next]! === 0) this.ready(next);
    }
    // Resolve when every step is done, not when the output is: an op whose result is unused
    // (kept because eager code would have called it) must finish, and may still fail.
    if (this.remaining === 0 && !this.failure) return this.resolve(this.values[this.plan.output]);
    this.reportIfDone();
  }

  /** A step that cannot run because something it needs failed, or that comes after the failure. */
  private skip(slot: number): void {
    this.settle(slot);
    for (const next of this.plan.steps[slot]!.dependents) {
      if (--this.pending[next]! === 0) this.ready(next);
    }
    this.reportIfDone();
  }

  private settle(slot: number): void {
    this.remaining--;
    this.done[slot] = 1;
    if (this.failure && slot < this.failure.slot) this.earlier--;
  }

  /**
   * A failure is reported as eager code would meet it: the failing step first in program
   * order (slot order is trace order) wins, and it is reported only once every step before
   * it has settled, so a failure never cancels work that eager code completes before
   * reaching the failing call. Steps after it start no more, and in-flight ones are
   * cancelled when it is reported (fail-fast) or awaited first (settle).
   */
  private fail(slot: number, error: unknown): void {
    if (this.reported) return;
    if (!this.failure || slot < this.failure.slot) {
      this.failure = { slot, error };
      let earlier = 0;
      for (let i = 0; i < slot; i++) if (this.done[i] === 0) earlier++;
      this.earlier = earlier;
    }
    this.skip(slot);
  }

  private reportIfDone(): void {
    if (!this.failure || this.reported || this.earlier > 0) return;
    if (this.options.onError === "settle" && this.inFlight > 0) return;
    this.reported = true;
    // Only the outermost run cancels: a subplan's failure is its parent step's failure,
    // which the parent orders against its own earlier steps first.
    if (this.root && this.options.onError !== "settle") this.controller?.abort(new Cancelled(this.frame.op ?? "jit", "a sibling step failed"));
    this.reject(this.failure.error);
  }
}
