/**
 * The JIT driver, in three named phases:
 *
 *   trace    run the function once on tracer values; op calls become graph nodes
 *   compile  optimise the graph (fold, CSE, DCE, fuse, place) and plan it
 *   run      execute the cached plan on the runtime, as ordinary op calls
 *
 * Plans are cached per input signature (and per `this` for methods). A signature that
 * cannot be traced runs eagerly, with one warning naming the reason and the source line
 * (or a `TraceError` in strict mode), so a jitted function always returns what the eager
 * function returns, with the same op calls.
 */
import type { InjectedMeta, OpDescriptor, SourceLocation } from "../decorators/descriptor.js";
import { graphOf, make, update, type Graph, type Node, type NodeId } from "../compiler/ir.js";
import { optimize } from "../compiler/optimize.js";
import { place, placementOf, type PlaceOptions } from "../compiler/passes/place.js";
import { costOf, currentRoundTripMs } from "./workers/cost.js";
import { placementNow } from "./workers/placement.js";
import { plan as makePlan, type Plan } from "../compiler/plan.js";
import { PlanCache, signatureOf, type Signature } from "../compiler/cache.js";
import { printDot, printJSON, printMermaid, printText } from "../compiler/print.js";
import { TraceError, TraceSession, awaitedTracer, callerLocation, containsTracer, isTracer, locationIn, setActiveSessionResolver } from "../compiler/trace.js";
import { callerNotes, takeCaller } from "../decorators/stack.js";
import { childStepId, currentFrame, store, type ContextOptions, type Frame, type TraceHook } from "./context.js";
import { invoke, type CallOverrides, type OpEntry } from "./invoke.js";
import { boundedAll, runPlan, type Binding, type RunOptions } from "./run-plan.js";
import { chainOf, type ChainPlan } from "./fused.js";
import { endSpan, startSpan, tracingRegistered } from "./telemetry.js";
import { log } from "./log.js";

/** Options of `jit`. */
export interface JitOptions {
  /** Name for spans, warnings and graphs; defaults to the function's name. */
  readonly name?: string;
  /** Throw a `TraceError` instead of running eagerly when a signature cannot be traced. */
  readonly strict?: boolean;
  /** Indices of arguments whose values (not just types) key the cache; they are constants in the plan. */
  readonly static?: readonly number[];
  /** Most plans cached per function (least recently used evicted). Default 64. */
  readonly cacheSize?: number;
  /** Most op calls in flight within one run. Default: unlimited (per-op limits still apply). */
  readonly concurrency?: number;
  /** `"fail-fast"` (default): the first failing step cancels the rest. `"settle"`: in-flight steps finish first. */
  readonly onError?: "fail-fast" | "settle";
}

/** A compiled signature: a plan, or the reason it runs eagerly. */
type Compiled = { readonly kind: "plan"; readonly traced: Graph; readonly graph: Graph; readonly plan: Plan } | { readonly kind: "eager"; readonly reason: TraceError };

/** What `inspect` shows of a jitted function for one input signature. */
export interface JitInspection {
  readonly signature: string;
  /** Why this signature runs eagerly, when it does. */
  readonly fallback?: string;
  readonly traced?: Graph;
  readonly graph?: Graph;
  readonly plan?: Plan;
  /** The optimised graph as text, Mermaid, DOT and JSON. */
  readonly text?: string;
  readonly mermaid?: string;
  readonly dot?: string;
  readonly json?: string;
}

// biome-ignore lint: any is needed for function-type variance
type AnyFn = (...args: any[]) => any;

const SESSION = Symbol("weft.session");
type Bind = (entry: OpEntry, overrides: CallOverrides | undefined, scope: ContextOptions | undefined) => OpDescriptor;
type SessionHook = TraceHook & { readonly [SESSION]: TraceSession; readonly bind: Bind; readonly root: { frame?: Frame } };

/** The hook that records op calls into `session`, with descriptors bound by `bind`. */
function hookFor(session: TraceSession, bind: Bind, root: { frame?: Frame }): SessionHook {
  return {
    [SESSION]: session,
    bind,
    root,
    // The op's callable noted its caller (decorators/stack.ts `noteCaller`); else (a call
    // through some other weft function) the user's line is read above `invoke`, or anywhere.
    record: (entry, self, args, overrides) => {
      const note = takeCaller(args);
      const loc = (note === undefined ? undefined : locationIn(note)) ?? callerLocation(invoke);
      return session.recordOp({ desc: bind(entry as OpEntry, overrides as CallOverrides | undefined, scopeOf(root.frame)), self, args, loc });
    },
  };
}

/**
 * What `withContext` blocks inside the traced function add to an op call's context, as
 * options to re-apply around that call in the plan: config, tenant, user and values are
 * staged; a timeout or signal (a deadline for a whole block) cannot be, and stops the trace.
 */
function scopeOf(root: Frame | undefined): ContextOptions | undefined {
  const now = currentFrame();
  if (root === undefined || now === root) return undefined;
  if (now.deadline !== root.deadline || now.signal !== root.signal) {
    throw new TraceError("withContext with a timeout or signal inside a jitted function: a block deadline is not staged; put the withContext around the jitted call, or give the ops a timeout", callerLocation());
  }
  let values: Record<string, unknown> | undefined;
  if (now.values !== root.values) for (const [k, v] of Object.entries(now.values)) if (root.values[k] !== v) (values ??= {})[k] = v;
  const scope: ContextOptions = {
    ...(now.overrides !== root.overrides && Object.keys(now.overrides).length > 0 && { config: now.overrides }),
    ...(now.tenant !== root.tenant && now.tenant !== undefined && { tenant: now.tenant }),
    ...(now.user !== root.user && now.user !== undefined && { user: now.user }),
    ...(values && { values }),
  };
  return Object.keys(scope).length === 0 ? undefined : scope;
}

/** The trace session active in the current context, when a jitted function is being traced. Internal. */
export function activeSession(): TraceSession | undefined {
  return (currentFrame().trace as SessionHook | undefined)?.[SESSION];
}

setActiveSessionResolver(activeSession);

/** A jitted function's compiler and caches. Internal: users see the function `jit` returns. */
export class Jit {
  readonly name: string;
  private readonly caches = new WeakMap<object, PlanCache<Compiled>>();
  private readonly shared: PlanCache<Compiled>;
  private readonly compiling = new WeakMap<PlanCache<Compiled>, Map<string, Promise<Compiled>>>();
  private readonly bindings = new WeakMap<OpDescriptor, Binding>();
  private readonly warned = new Set<string>();
  private readonly chains = new WeakMap<Compiled, ChainPlan | null>();

  /** Set when the build found logic a tracer cannot follow: every signature runs eagerly. */
  private readonly buildTimeReason: TraceError | undefined;
  /** Where `jit` was applied: the line a `TraceError` names when the failure has no line of its own. */
  private readonly defined: SourceLocation | undefined;

  constructor(
    readonly fn: AnyFn,
    readonly options: JitOptions,
    meta?: InjectedMeta,
  ) {
    this.name = options.name ?? (fn.name || "anonymous");
    this.runName = `jit(${this.name})`;
    this.runOptions = options.onError ? { onError: options.onError } : {};
    this.shared = new PlanCache({ max: options.cacheSize ?? 64 });
    this.defined = meta?.source ?? callerLocation();
    const first = meta?.untraceable?.[0];
    if (first) {
      const more = meta!.untraceable!.length - 1;
      const loc = meta!.source ? { file: meta!.source.file, line: first.line, column: first.column } : undefined;
      this.buildTimeReason = new TraceError(
        `jit(${this.name}) ${first.reason}${more > 0 ? ` (and ${more} more)` : ""}, which a tracer cannot see: stage it with cond() or move it into an op`,
        loc,
      );
    }
  }

  /** Calls the jitted function. */
  call(thisArg: unknown, args: readonly unknown[]): Promise<unknown> {
    // Inside another function's trace a jitted function inlines: its ops record there. One
    // that runs eagerly by its own build-time decision must not be traced by the caller:
    // the caller falls back too (a tracer would take one branch of its logic for all inputs).
    const parent = currentFrame();
    if (parent.trace !== undefined) {
      if (this.buildTimeReason) throw new TraceError(`calls jit(${this.name}), which runs eagerly: ${this.buildTimeReason.message}`, callerLocation());
      return Promise.resolve(this.fn.apply(thisArg, args as unknown[]));
    }
    const sig = signatureOf(args, this.options.static ?? []);
    const cache = this.cacheFor(thisArg);
    const compiled = cache.get(sig);
    if (compiled) return this.execute(compiled, thisArg, args, parent);
    return this.compile(thisArg, args, sig, cache).then((c) => this.execute(c, thisArg, args, parent));
  }

  /** The input signature key of a call, as the plan cache sees it. */
  signatureKey(args: readonly unknown[]): string {
    return signatureOf(args, this.options.static ?? []).key;
  }

  /**
   * For these arguments' signature, the whole plan as one chain of CPU ops (for vmap to run
   * items through workers in chunks), or `undefined` when the plan is anything else.
   */
  async chainFor(thisArg: unknown, args: readonly unknown[]): Promise<ChainPlan | undefined> {
    const sig = signatureOf(args, this.options.static ?? []);
    const cache = this.cacheFor(thisArg);
    const compiled = cache.get(sig) ?? (await this.compile(thisArg, args, sig, cache));
    if (compiled.kind !== "plan") return undefined;
    let known = this.chains.get(compiled);
    if (known === undefined) {
      known = chainOf(compiled.graph, (desc) => this.bindings.get(desc) ?? { entry: undefined as never, overrides: "unbound" }) ?? null;
      this.chains.set(compiled, known);
    }
    return known ?? undefined;
  }

  /** Why a call with these arguments would (not) reuse a cached plan. */
  explain(thisArg: unknown, args: readonly unknown[]): string {
    const sig = signatureOf(args, this.options.static ?? []);
    const cache = this.cacheFor(thisArg);
    const known = cache.peek(sig);
    if (known?.kind === "eager") return `eager: ${sig.key} runs eagerly (no plan): ${known.reason.message}`;
    if (known === undefined && this.buildTimeReason) return `eager: every signature runs eagerly (no plan): ${this.buildTimeReason.message}`;
    return cache.explain(sig);
  }

  /** Compiles for these arguments (without running) and shows the result. */
  async inspect(thisArg: unknown, args: readonly unknown[]): Promise<JitInspection> {
    const sig = signatureOf(args, this.options.static ?? []);
    const cache = this.cacheFor(thisArg);
    const compiled = cache.get(sig) ?? (await this.compile(thisArg, args, sig, cache));
    if (compiled.kind === "eager") return { signature: sig.key, fallback: compiled.reason.message };
    // Placed again with what is measured now: placement is decided per call, so this shows
    // where the next run's steps will go, not where they would have gone at compile time.
    const g = place(compiled.graph, this.placeOptions());
    const p = g === compiled.graph ? compiled.plan : makePlan(g, this.options.concurrency === undefined ? {} : { concurrency: this.options.concurrency });
    return { signature: sig.key, traced: compiled.traced, graph: g, plan: p, text: printText(g), mermaid: printMermaid(g), dot: printDot(g), json: printJSON(g) };
  }

  /** The runtime's placement authority and cost model, in the place pass's terms. */
  private placeOptions(): PlaceOptions {
    return {
      cost: costOf,
      roundTripMs: currentRoundTripMs(),
      placeOp: (desc) => {
        const binding = this.bindings.get(desc);
        const call = binding?.overrides?.placement;
        if (call === "worker" || call === "inline") return call;
        return binding ? placementNow(binding.entry) : placementOf(make.op(0, desc, []));
      },
      // As the runtime decides (runtime/invoke.ts): the call's `.with({ placement })`, the
      // op's own pin, a withContext inside the function, the block around this call (or
      // around inspect()).
      remote: (desc) => {
        const binding = this.bindings.get(desc);
        const pin = binding?.entry.pinned ?? desc.policy.placement;
        const call = binding?.overrides?.placement;
        const placement = call ?? (pin !== undefined && pin !== "auto" ? pin : (binding?.scope?.placement ?? currentFrame().placement));
        return placement?.startsWith("remote:") ? (placement as `remote:${string}`) : undefined;
      },
    };
  }

  private cacheFor(thisArg: unknown): PlanCache<Compiled> {
    // A method's plan calls ops on `this`, which is a constant in the graph: one cache per instance.
    if (thisArg === null || (typeof thisArg !== "object" && typeof thisArg !== "function")) return this.shared;
    let cache = this.caches.get(thisArg);
    if (!cache) this.caches.set(thisArg, (cache = new PlanCache({ max: this.options.cacheSize ?? 64 })));
    return cache;
  }

  private compile(thisArg: unknown, args: readonly unknown[], sig: Signature, cache: PlanCache<Compiled>): Promise<Compiled> {
    // In-flight compiles are per cache: two instances of a class with the same signature
    // must not share a plan, whose graph holds its own `this`.
    let inFlight = this.compiling.get(cache);
    if (!inFlight) this.compiling.set(cache, (inFlight = new Map()));
    let pending = inFlight.get(sig.key);
    if (!pending) {
      const done = inFlight;
      pending = this.trace(thisArg, args, sig)
        .then((result) => cache.set(sig, result))
        // A failed compile (strict mode, say) is not remembered: the next call tries again.
        .finally(() => done.delete(sig.key));
      inFlight.set(sig.key, pending);
    }
    return pending;
  }

  /** Phase 1 and 2: trace, then optimise and plan. */
  private async trace(thisArg: unknown, args: readonly unknown[], sig: Signature): Promise<Compiled> {
    if (this.buildTimeReason) {
      if (this.options.strict) throw this.buildTimeReason;
      return { kind: "eager", reason: this.buildTimeReason };
    }
    const session = new TraceSession(args.length);
    const inputs = session.inputs(sig.args);
    for (const i of this.options.static ?? []) inputs[i] = args[i];
    let closed = false;
    const root: { frame?: Frame } = {};
    const hook = hookFor(
      session,
      (entry, overrides, scope) => {
        if (closed) throw new TraceError(`jit(${this.name}): an op was called after tracing ended (the function awaited something that is not an op)`, undefined);
        return this.bind(entry, overrides, scope);
      },
      root,
    );
    const parent = currentFrame();
    // Fresh overrides: what a withContext inside the function adds shows as a difference.
    const frame = parent.derive({ trace: hook, overrides: {} });
    root.frame = frame;
    let outcome: Outcome;
    callerNotes.tracing++;
    try {
      outcome = await withinMicrotasks(store.run(frame, () => Promise.resolve().then(() => this.fn.apply(thisArg, inputs))));
    } finally {
      callerNotes.tracing--;
    }
    closed = true;
    try {
      if (outcome.kind === "late") {
        throw new TraceError(`jit(${this.name}) awaited a promise that is not an op call (a timer, fetch, or another library) while tracing: move that work into an op`, undefined);
      }
      if (outcome.kind === "error") throw outcome.error instanceof TraceError ? outcome.error : new TraceError(`jit(${this.name}) threw while tracing: ${describe(outcome.error)}`, undefined);
      const traced = session.finish(outcome.value);
      const graph = optimize(traced, { check: CHECK_IR, ...this.placeOptions() });
      return { kind: "plan", traced, graph, plan: makePlan(graph, this.options.concurrency === undefined ? {} : { concurrency: this.options.concurrency }) };
    } catch (caught) {
      // A failure found after the function returned (a foreign await, a result that cannot be
      // rebuilt) has no line of its own: name the jitted function's.
      const error = caught instanceof TraceError && caught.loc === undefined && this.defined ? new TraceError(caught.reason, this.defined) : caught;
      if (!(error instanceof TraceError) || this.options.strict) throw error;
      return { kind: "eager", reason: error };
    }
  }

  /** What runs and spans of this function are named. */
  private readonly runName: string;
  private readonly runOptions: RunOptions;

  /** How a plan of this function finds an op descriptor's runtime entry. */
  private readonly binding = (desc: OpDescriptor): Binding => {
    const found = this.bindings.get(desc);
    if (!found) throw new Error(`jit(${this.name}): no runtime entry for op ${desc.name} (${desc.id})`);
    return found;
  };

  /** The descriptor recorded for a call, and how the plan finds its entry again. */
  private bind(entry: OpEntry, overrides: CallOverrides | undefined, scope?: ContextOptions): OpDescriptor {
    if (overrides === undefined && scope === undefined) {
      if (!this.bindings.has(entry.desc)) this.bindings.set(entry.desc, { entry, overrides });
      return entry.desc;
    }
    // A configured call (`.with()`, or inside a withContext) gets its own descriptor, so CSE
    // never merges it with a differently configured call of the same op.
    const desc = Object.freeze({ ...entry.desc, id: `${entry.desc.id}#with${++withCounter}` });
    this.bindings.set(desc, { entry, overrides, ...(scope && { scope }) });
    return desc;
  }

  /** Phase 3: run the plan (or the function, for an eager signature). */
  private execute(compiled: Compiled, thisArg: unknown, args: readonly unknown[], parent: Frame): Promise<unknown> {
    if (compiled.kind === "eager") {
      if (!this.warned.has(compiled.reason.message)) {
        this.warned.add(compiled.reason.message);
        log.warn(`jit(${this.name}) runs eagerly for this input signature: ${compiled.reason.message}`, { code: "WEFT_JIT_FALLBACK" });
      }
      return Promise.resolve(this.fn.apply(thisArg, args as unknown[]));
    }
    // The one step-id recipe, as for op calls and vmap batches.
    const stepId = childStepId(parent, this.runName);
    const span = tracingRegistered() ? startSpan({ name: this.runName, kind: "jit", stepId, parent: parent.span, attributes: { "weft.plan.steps": compiled.plan.steps.length } }) : undefined;
    const frame = parent.derive(span ? { stepId, span } : { stepId });
    const run = runPlan(compiled.plan, args, frame, this.binding, this.runOptions);
    if (!span) return run;
    return run.then(
      (value) => (endSpan(span, 1), value),
      (error: unknown) => {
        endSpan(span, 1, error);
        throw error;
      },
    );
  }
}

let withCounter = 0;

/**
 * Check the IR after every pass under a test runner or with WEFT_CHECK_IR=1; in production
 * the passes are trusted (the checker is about half of compile time).
 */
const CHECK_IR = process.env.WEFT_CHECK_IR === "1" || process.env.NODE_ENV === "test" || process.env.VITEST !== undefined;

type Outcome = { kind: "value"; value: unknown } | { kind: "error"; error: unknown } | { kind: "late" };

/**
 * Settles with the promise if it settles before the next macrotask. Tracing only ever waits
 * on microtasks (op calls return already-resolved tracers), so anything later means the
 * function awaited something foreign.
 */
function withinMicrotasks(promise: Promise<unknown>): Promise<Outcome> {
  return new Promise((resolve) => {
    const timer = setImmediate(() => resolve({ kind: "late" }));
    promise.then(
      (value) => {
        clearImmediate(timer);
        resolve({ kind: "value", value });
      },
      (error: unknown) => {
        clearImmediate(timer);
        resolve({ kind: "error", error });
      },
    );
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs `body` as a sub-trace of `session`; returns its graph and the outer nodes it captured. */
async function subTrace(session: TraceSession, declared: number, body: (...inputs: unknown[]) => unknown, ordered = session.ordered): Promise<{ graph: Graph; sub: TraceSession }> {
  const sub = new TraceSession(declared, session, session.builder.sub());
  sub.ordered = ordered;
  const inputs = sub.inputs();
  const parent = currentFrame();
  const hook = parent.trace as SessionHook;
  const frame = parent.derive({ trace: hookFor(sub, hook.bind, hook.root) });
  const result = await store.run(frame, () => Promise.resolve().then(() => body(...inputs)));
  return { graph: sub.finish(result), sub };
}

/**
 * Renumbers a branch graph's inputs onto a shared capture list, adding unused inputs so
 * every branch takes the same arguments.
 */
function alignInputs(graph: Graph, own: readonly number[], shared: readonly number[], declared: number, fresh: () => NodeId): Graph {
  const position = new Map(shared.map((id, i) => [id, declared + i]));
  const present = new Set<number>();
  const nodes: Node[] = graph.nodes.map((n) => {
    if (n.kind !== "input" || n.index < declared) {
      if (n.kind === "input") present.add(n.index);
      return n;
    }
    const index = position.get(own[n.index - declared]!)!;
    present.add(index);
    return update(n, { index });
  });
  // Ids are unique across a graph and all its subgraphs, so new inputs take ids from the
  // trace's shared counter (this branch's largest id + 1 may belong to the other branch).
  const missing: Node[] = [];
  for (let i = 0; i < declared + shared.length; i++) {
    if (!present.has(i)) missing.push({ kind: "input", id: fresh(), inputs: [], effect: "pure", loc: undefined, index: i } as Node);
  }
  return graphOf([...missing, ...nodes], declared + shared.length);
}

/** Runs `body` synchronously as a sub-trace of `session` (a branch of a staged `?:`, `??`, `&&`, `||`). */
function subTraceSync(session: TraceSession, body: () => unknown): { graph: Graph; sub: TraceSession } {
  const sub = new TraceSession(0, session, session.builder.sub());
  sub.ordered = session.ordered;
  const parent = currentFrame();
  const hook = parent.trace as SessionHook;
  const frame = parent.derive({ trace: hookFor(sub, hook.bind, hook.root) });
  const result = store.run(frame, body);
  return { graph: sub.finish(awaitedTracer(result)), sub };
}

/**
 * A staged conditional over synchronous branches: `pred ? then() : otherwise()` as a cond
 * node, each branch traced on its own so only the taken one runs in the plan. Internal: the
 * build-time staging transform emits calls of it (through runtime/stage.ts).
 */
export function condSync(session: TraceSession, pred: unknown, then: () => unknown, otherwise: () => unknown): unknown {
  const a = subTraceSync(session, then);
  const b = subTraceSync(session, otherwise);
  const shared = [...new Set([...a.sub.captures, ...b.sub.captures])];
  const fresh = () => session.builder.sub().input();
  const branches: [Graph, Graph] = [alignInputs(a.graph, a.sub.captures, shared, 0, fresh), alignInputs(b.graph, b.sub.captures, shared, 0, fresh)];
  return session.tracer(session.builder.cond(session.gate(session.nodeOf(pred)), shared, branches[0], branches[1], callerLocation()));
}

/** `cond` (decorators/jit.ts, which documents it): staged inside a trace, else the chosen branch. */
export async function cond<T, E>(pred: unknown, then: () => T | PromiseLike<T>, otherwise: () => E | PromiseLike<E>): Promise<Awaited<T> | Awaited<E>> {
  const session = activeSession();
  if (!session || !isTracer(pred)) return (pred ? await then() : await otherwise()) as Awaited<T> | Awaited<E>;
  const a = await subTrace(session, 0, then);
  const b = await subTrace(session, 0, otherwise);
  const shared = [...new Set([...a.sub.captures, ...b.sub.captures])];
  // Reserves an id on the trace's counter (the throwaway builder shares it).
  const fresh = () => session.builder.sub().input();
  const branches: [Graph, Graph] = [alignInputs(a.graph, a.sub.captures, shared, 0, fresh), alignInputs(b.graph, b.sub.captures, shared, 0, fresh)];
  const id = session.builder.cond(session.gate(session.nodeOf(pred)), shared, branches[0], branches[1]);
  return session.tracer(id) as Awaited<T> | Awaited<E>;
}

/**
 * A staged `try { body() } catch (e) { handler(e) }`: the body is traced as an ordered
 * subgraph (each op call after what eager code finished before it, so a caught failure
 * leaves eager's calls), the handler as a subgraph of the error and the captures; the plan
 * runs the handler only when the body fails. Internal: the build-time staging transform
 * emits calls of it (through runtime/stage.ts).
 */
export async function tryStaged(session: TraceSession, body: () => unknown, handler: (error: unknown) => unknown): Promise<unknown> {
  const loc = callerLocation();
  let a: Awaited<ReturnType<typeof subTrace>>;
  try {
    a = await subTrace(session, 0, body, true);
  } catch (error) {
    // Eager code would catch this too, but only a failure of the plan's own run is staged.
    if (error instanceof TraceError) throw error;
    throw new TraceError(`the body of a staged try threw while tracing (${describe(error)}): move that work into an op`, loc);
  }
  const b = await subTrace(session, 1, (error) => handler(error));
  const shared = [...new Set([...a.sub.captures, ...b.sub.captures])];
  const fresh = () => session.builder.sub().input();
  const graphs: [Graph, Graph] = [alignInputs(a.graph, a.sub.captures, shared, 0, fresh), alignInputs(b.graph, b.sub.captures, shared, 1, fresh)];
  // In an enclosing try body, this one waits for what came before it, through its first capture.
  if (session.ordered && shared.length > 0) shared[0] = session.gate(shared[0]!);
  return session.tracer(session.builder.try(shared, graphs[0], graphs[1], loc));
}

/**
 * A staged `for...of` over traced `items`: a map node run one item at a time, as eager code
 * runs the loop (an item's ops start once the previous item's are done, and a failure stops
 * the loop there). Internal: the staging transform emits it (through runtime/stage.ts).
 */
export async function forOfStaged(session: TraceSession, items: unknown, body: (item: unknown) => unknown): Promise<unknown> {
  const traced = await subTrace(session, 2, (item) => body(item));
  return session.tracer(session.builder.map(session.gate(session.nodeOf(items)), traced.sub.captures, traced.graph, { concurrency: 1, loc: callerLocation() }));
}

/** `map` (decorators/jit.ts, which documents it): one map node inside a trace, else bounded `Promise.all`. */
export async function map<T, R>(items: readonly T[], fn: (item: T, index: number) => R | PromiseLike<R>, options: { readonly concurrency?: number } = {}): Promise<Awaited<R>[]> {
  const session = activeSession();
  if (!session || !containsTracer(items)) return boundedAll(items.length, options.concurrency ?? Infinity, async (i) => fn(items[i]!, i)) as Promise<Awaited<R>[]>;
  // Items run at once, as eager map() starts them: no order among them, even in a try body.
  const body = await subTrace(session, 2, (item, index) => fn(item as T, index as number), false);
  const id = session.builder.map(session.gate(session.nodeOf(items)), body.sub.captures, body.graph, options.concurrency === undefined ? {} : { concurrency: options.concurrency });
  return session.tracer(id) as Awaited<R>[];
}

/** `BatchPolicy.concurrency`'s documented default, which eager vmap applies: a staged vmap keeps it. */
const STAGED_CONCURRENCY = 16;

/**
 * A vmap met inside a jitted function's trace: staged as a map node (or its calls recorded
 * one by one over a constant array), since running it would make real calls while tracing.
 * The vmap front door calls this; staging is the jit driver's business, not the front door's.
 */
export function stageVmap(name: string, f: (...args: never[]) => unknown, thisArg: unknown, args: readonly unknown[], options: { readonly onError?: "throw" | "collect"; readonly inAxes?: readonly (0 | null)[]; readonly concurrency?: number }): Promise<unknown> {
  if (options.onError === "collect") throw new TraceError(`vmap(${name}) with onError "collect" cannot be staged inside a jitted function`, callerLocation());
  const mapped = args.flatMap((_, i) => (options.inAxes === undefined || options.inAxes[i] !== null ? [i] : []));
  const lead = mapped[0];
  if (lead === undefined) throw new TypeError(`vmap(${name}): no argument is mapped (every inAxes entry is null)`);
  return map(
    args[lead] as readonly unknown[],
    (item, index) => (f as (...a: unknown[]) => unknown).apply(thisArg, args.map((a, i) => (i === lead ? item : mapped.includes(i) ? (a as { at(i: unknown): unknown }).at(index) : a))),
    { concurrency: options.concurrency ?? STAGED_CONCURRENCY },
  );
}
