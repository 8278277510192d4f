/**
 * The invisible request context: every op body can call `getContext()` and see the config,
 * deadline, abort signal, attempt, step id, tenant and span of the call it runs in.
 *
 * It lives in one AsyncLocalStorage, so it flows across `await`, into nested ops and into
 * parallel branches, and concurrent calls never see each other's values.
 */
import { AsyncLocalStorage, AsyncResource } from "node:async_hooks";
import { setMaxListeners } from "node:events";
import type { Span } from "@opentelemetry/api";
import type { DurationInput, Placement } from "../decorators/descriptor.js";
import { checkOptions, checkPlacement } from "../decorators/options.js";
import { toMillis } from "./duration.js";
import { Cancelled, DeadlineExceeded } from "./errors.js";

type Config = Readonly<Record<string, unknown>>;

const EMPTY: Config = Object.freeze({});
// A signal that never fires: the root has no deadline and no canceller.
const NEVER: AbortSignal = new AbortController().signal;

/**
 * What an op body can read about the call it runs in.
 *
 * @example
 * ```ts
 * const fetchPage = op(async (url: string) => {
 *   const { signal, config, remainingMs } = getContext();
 *   return (await fetch(url, { signal })).text();
 * });
 * ```
 */
export interface OpContext {
  /** The op running (`undefined` outside any op). */
  readonly op: string | undefined;
  /** Merged config: op defaults < inherited from callers < `.with()` < `withContext`. */
  readonly config: Config;
  /** Absolute deadline (epoch ms, `Date.now()` clock), or `undefined` when there is none. */
  readonly deadline: number | undefined;
  /** Milliseconds left before the deadline (`Infinity` when there is none). */
  readonly remainingMs: number;
  /** Fires on deadline or cancellation; pass it to `fetch` and friends. */
  readonly signal: AbortSignal;
  /** 1 for the first attempt, 2 for the first retry, ... (0 outside any op). */
  readonly attempt: number;
  /** A stable id of this call within its call tree, e.g. `pipeline#0/score#1`. */
  readonly stepId: string;
  readonly tenant: string | undefined;
  readonly user: string | undefined;
  /** Any other request-scoped values set with `withContext({ values })`. */
  readonly values: Config;
  /** The active OpenTelemetry span of this op call, when a tracer provider is registered. */
  readonly span: Span | undefined;
  /** The durable run this call belongs to (`durable({ run })`), or `undefined` outside one. */
  readonly runId: string | undefined;
  /**
   * Inside a durable run: a key naming this node of the run, the same in every attempt and
   * in every process that resumes the run. Pass it to external APIs as their idempotency key.
   */
  readonly idempotencyKey: string | undefined;
}

/**
 * The durable run a frame belongs to: what the plan runner and the batch engine ask before
 * and after a node. Implemented by runtime/durable. Internal.
 */
export interface RunScope {
  readonly id: string;
  /** The journaled value of node `key`, when it finished with these inputs. */
  lookup(key: string, inputs: readonly unknown[]): { readonly value: unknown } | undefined;
  /**
   * Journals a finished node; throws `UnstorableValue` when the value cannot be stored. The
   * node is finished when the promise resolves (the append is stored): hand its value on
   * only then.
   */
  record(key: string, inputs: readonly unknown[], value: unknown): Promise<void>;
  /** A batch (or stream) item that failed for good: kept as a dead letter. */
  deadLetter(node: string, index: number, inputs: readonly unknown[], error: unknown): void;
  /** The offset committed for one of the run's streams when the run started (see `commitOffset`). */
  offset(stream: string): number | undefined;
  /** Every item of `stream` before `offset` is finished (journaled or dead-lettered): a resume may start reading there. */
  commitOffset(stream: string, offset: number): void;
  /** A batch item that succeeded (a replayed dead letter is resolved). */
  itemDone(node: string, index: number): void;
  /** The version guard of a jitted function's plan: throws when it changed since the run began. */
  usePlan(key: string, plan: object): void;
}

/** Receives op calls made while a jitted function is traced. Internal. */
export interface TraceHook {
  record(entry: unknown, thisArg: unknown, args: readonly unknown[], overrides: unknown): unknown;
}

/**
 * Every field of a frame, by name: what `new Frame` takes and `derive` may replace. The
 * fields are declared once, on `Frame`; `trace`, `run` and `placement` may be left out.
 */
export type FrameFields = Omit<Pick<Frame, FrameField>, OptionalField> & Partial<Pick<Frame, OptionalField>>;
type FrameField = Exclude<keyof Frame, "children" | "remainingMs" | "runId" | "idempotencyKey" | "derive">;

/** `FrameFields` of a call's frame, whose step id `callFrame` has made from its caller's at first read. */
type CallFrameFields = Omit<FrameFields, "stepId">;
type OptionalField = "trace" | "run" | "placement";

/** Fields `Frame.derive` may replace. */
export type FramePatch = Partial<FrameFields>;

/** One frame of the context stack. Internal: user code sees it through `OpContext`. */
export class Frame implements OpContext {
  /** Children started so far, for step ids (see `childStepId`). */
  children = 0;
  readonly op: string | undefined;
  readonly config: Config;
  /** `withContext` config: it wins over everything and flows to every nested op. */
  readonly overrides: Config;
  readonly deadline: number | undefined;
  readonly signal: AbortSignal;
  readonly attempt: number;
  readonly tenant: string | undefined;
  readonly user: string | undefined;
  readonly values: Config;
  readonly span: Span | undefined;
  /** The op (or `withContext`) whose deadline is `deadline`, for the error when it passes. */
  readonly deadlineOwner: string | undefined;
  /**
   * The owner's whole budget (ms) that ends at `deadline`, for the error when it passes:
   * travels with the deadline, so a far side reports the owner's budget, not what was left.
   */
  readonly deadlineBudgetMs: number | undefined;
  /** True when this frame (or an ancestor) holds a permit of the global concurrency limit. */
  readonly permitted: boolean;
  /** Set while a jitted function is being traced: op calls are recorded, not run. */
  readonly trace: TraceHook | undefined;
  /** The durable run, inside `durable({ run })`. */
  readonly run: RunScope | undefined;
  /**
   * `withContext({ placement })`: where op bodies in the block run unless their op pins a
   * placement (runtime/executor.ts). Not sent with a task: on a worker or remote machine
   * nested calls run there.
   */
  readonly placement: string | undefined;

  /** The step id, once known (see `stepId`). */
  private step: string | undefined;
  /** For a call's frame until its step id is read: the caller's frame and the call's index among its children. */
  private stepParent: Frame | undefined;
  private readonly stepIndex: number;

  constructor(f: FrameFields);
  /** A call's frame (`callFrame`): its step id is made from `stepParent`'s, its op and `stepIndex` when first read. */
  constructor(f: CallFrameFields, stepParent: Frame, stepIndex: number);
  constructor(f: FrameFields | CallFrameFields, stepParent?: Frame, stepIndex = 0) {
    this.step = stepParent === undefined ? (f as FrameFields).stepId : undefined;
    this.stepParent = stepParent;
    this.stepIndex = stepIndex;
    this.op = f.op;
    this.config = f.config;
    this.overrides = f.overrides;
    this.deadline = f.deadline;
    this.signal = f.signal;
    this.attempt = f.attempt;
    this.tenant = f.tenant;
    this.user = f.user;
    this.values = f.values;
    this.span = f.span;
    this.deadlineOwner = f.deadlineOwner;
    this.deadlineBudgetMs = f.deadlineBudgetMs;
    this.permitted = f.permitted;
    this.trace = f.trace;
    this.run = f.run;
    this.placement = f.placement;
  }

  /**
   * A stable id of this call within its call tree, e.g. `pipeline#0/score#1` (`stepIdOf`).
   * A call's frame makes it at first read: most calls are never asked (no span, no event
   * listener, no nested call), and building it cost more than the rest of the frame.
   */
  get stepId(): string {
    if (this.step === undefined) {
      this.step = stepIdOf(this.stepParent!.stepId, this.op!, this.stepIndex);
      this.stepParent = undefined;
    }
    return this.step;
  }

  get remainingMs(): number {
    return this.deadline === undefined ? Infinity : Math.max(0, this.deadline - Date.now());
  }

  get runId(): string | undefined {
    return this.run?.id;
  }

  get idempotencyKey(): string | undefined {
    return this.run && `${this.run.id}:${this.stepId}`;
  }

  /**
   * A copy with some fields replaced. The trace hook is not inherited unless given: a
   * derived frame runs real work unless it says it traces.
   */
  derive(patch: FramePatch): Frame {
    return new Frame({
      op: patch.op ?? this.op,
      config: patch.config ?? this.config,
      overrides: patch.overrides ?? this.overrides,
      deadline: "deadline" in patch ? patch.deadline : this.deadline,
      signal: patch.signal ?? this.signal,
      attempt: patch.attempt ?? this.attempt,
      stepId: patch.stepId ?? this.stepId,
      tenant: patch.tenant ?? this.tenant,
      user: patch.user ?? this.user,
      values: patch.values ?? this.values,
      span: patch.span ?? this.span,
      deadlineOwner: "deadlineOwner" in patch ? patch.deadlineOwner : this.deadlineOwner,
      deadlineBudgetMs: "deadlineBudgetMs" in patch ? patch.deadlineBudgetMs : this.deadlineBudgetMs,
      permitted: patch.permitted ?? this.permitted,
      trace: patch.trace,
      run: "run" in patch ? patch.run : this.run,
      placement: "placement" in patch ? patch.placement : this.placement,
    });
  }
}

/** What a call with a deadline of its own (an earlier timeout) changes in its frame. */
export interface CallBudget {
  readonly deadline: number | undefined;
  readonly signal: AbortSignal;
  readonly deadlineOwner: string | undefined;
  readonly deadlineBudgetMs: number | undefined;
  readonly permitted: boolean;
}

/**
 * The frame of one call of `op` made in `parent`: THE child-frame factory of the kernel
 * (its fast and policy paths, and through them chain steps, chunk items and the plan's op
 * steps). A call sets its op, config, first attempt, step id and span; `budget` is an
 * earlier deadline the call brings (its own timeout) with the signal that fires at it, and
 * whether it holds a global permit. Everything else is inherited. The call is `parent`'s
 * child number `index` (`parent.children++`): its step id is made from them when first read.
 * Positional, so the fast path allocates the frame and nothing else. Internal.
 *
 * @example
 * ```ts
 * const frame = callFrame(parent, "score", mergeConfig(entry, parent, undefined), parent.children++, span, undefined);
 * frame.stepId; // "pipeline#0/score#1"
 * ```
 */
export function callFrame(parent: Frame, op: string, config: Config, index: number, span: Span | undefined, budget: CallBudget | undefined): Frame {
  return new Frame(
    {
      op,
      config,
      overrides: parent.overrides,
      deadline: budget === undefined ? parent.deadline : budget.deadline,
      signal: budget === undefined ? parent.signal : budget.signal,
      attempt: 1,
      tenant: parent.tenant,
      user: parent.user,
      values: parent.values,
      span: span ?? parent.span,
      deadlineOwner: budget === undefined ? parent.deadlineOwner : budget.deadlineOwner,
      deadlineBudgetMs: budget === undefined ? parent.deadlineBudgetMs : budget.deadlineBudgetMs,
      permitted: budget === undefined ? parent.permitted : budget.permitted,
      run: parent.run,
      placement: parent.placement,
    },
    parent,
    index,
  );
}

/**
 * The step id of the next child of `parent` named `name`, e.g. `pipeline#0/score#1`: the
 * one recipe for op calls, jit runs and vmap batches. Internal.
 */
export function childStepId(parent: Frame, name: string): string {
  const id = nextStepId(parent, name);
  parent.children++;
  return id;
}

/** The step id the next child of `parent` named `name` will get, without taking it. Internal. */
export function nextStepId(parent: Frame, name: string): string {
  return stepIdOf(parent.stepId, name, parent.children);
}

/** THE step id recipe: child number `index` named `name` of the step `parentStepId` (`""` at the root). Internal. */
export function stepIdOf(parentStepId: string, name: string, index: number): string {
  return parentStepId === "" ? `${name}#${index}` : `${parentStepId}/${name}#${index}`;
}

/** The frame seen outside any op or `withContext` block. */
export const ROOT = new Frame({
  op: undefined,
  config: EMPTY,
  overrides: EMPTY,
  deadline: undefined,
  signal: NEVER,
  attempt: 0,
  stepId: "",
  tenant: undefined,
  user: undefined,
  values: EMPTY,
  span: undefined,
  deadlineOwner: undefined,
  deadlineBudgetMs: undefined,
  permitted: false,
});

/** The one store behind `getContext()`. Internal. */
export const store = new AsyncLocalStorage<Frame>();

/**
 * `fn.apply(thisArg, args)` with `frame` as the current context, as
 * `store.run(frame, Reflect.apply, fn, thisArg, args)` would, for about a quarter less: on
 * Node 24 `store.run` copies the context map twice (entering, then again to restore the
 * caller's), while an `AsyncResource` scope puts the caller's back as it was, so only
 * entering copies.
 * What `fn` starts (promises, timers) sees `frame`, as under `store.run`. The op-call
 * kernel and the executors run every op body through it. Internal.
 *
 * @example
 * ```ts
 * const out = runIn(frame, entry.impl, thisArg, args);
 * ```
 */
export function runIn(frame: Frame, fn: (...args: never[]) => unknown, thisArg: unknown, args: readonly unknown[]): unknown {
  return new AsyncResource("weft.op").runInAsyncScope(enterAndApply, undefined, frame, fn, thisArg, args);
}

function enterAndApply(frame: Frame, fn: (...args: never[]) => unknown, thisArg: unknown, args: readonly unknown[]): unknown {
  store.enterWith(frame);
  return Reflect.apply(fn, thisArg, args);
}

/** The current frame (the root outside any op). Internal fast accessor. */
export function currentFrame(): Frame {
  return store.getStore() ?? ROOT;
}

/**
 * The context of the op call this code runs in. Outside any op it returns a root context
 * with no deadline and a signal that never fires.
 *
 * @example
 * ```ts
 * const summarize = op(async (text: string) => {
 *   const { config, signal } = getContext();
 *   return callModel(config.model as string, text, { signal });
 * });
 * ```
 */
export function getContext(): OpContext {
  return store.getStore() ?? ROOT;
}

/** What `withContext` can set for a block. */
export interface ContextOptions {
  /** Config for every op called in the block; wins over op defaults and `.with()`. */
  readonly config?: Config;
  /** A budget for the whole block; nested deadlines are the earlier of theirs and this. */
  readonly timeout?: DurationInput;
  /** Cancels every op in the block when it fires. */
  readonly signal?: AbortSignal;
  readonly tenant?: string;
  readonly user?: string;
  /** Other request-scoped values, merged over the caller's. */
  readonly values?: Config;
  /**
   * Where op bodies in the block run: `"inline"`, `"worker"` or `"remote:NAME"` (an
   * executor registered with `registerExecutor`). Ops that pin a placement keep theirs.
   */
  readonly placement?: Placement;
  /**
   * Runs the block as the durable run of this id, as `durable({ run }, fn)` does with the
   * configured store: journaled nodes are skipped on a resume, and a completed run returns its
   * stored result. `withContext` then returns a promise. The other options apply inside the run.
   */
  readonly run?: string;
}

/** Drives a block as a durable run (installed by runtime/durable). Internal. */
export type RunDriver = (run: string, where: string, fn: () => unknown) => Promise<unknown>;

let runDriver: RunDriver | undefined;

/** Installs what `withContext({ run })` drives a run with. Internal. */
export function setRunDriver(driver: RunDriver): void {
  runDriver = driver;
}

/**
 * Runs `fn` with extra context: config, a deadline, a cancelling signal, tenant and user
 * values. Everything called inside (ops, nested ops, parallel branches) sees them.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * const answer = await withContext(
 *   { config: { model: "small" }, timeout: "5s", signal: ac.signal, tenant: "acme" },
 *   () => pipeline(question),
 * );
 * const resumable = await withContext({ run: "nightly-2026-12-01", tenant: "acme" }, () => pipeline(question));
 * ```
 */
export function withContext<T>(options: ContextOptions & { readonly run: string }, fn: () => T): Promise<Awaited<T>>;
export function withContext<T>(options: ContextOptions, fn: () => T): T;
export function withContext<T>(options: ContextOptions, fn: () => T): T | Promise<Awaited<T>> {
  checkOptions("withContext", "withContext", options);
  if (options.run !== undefined) {
    const { run, ...rest } = options;
    if (runDriver === undefined) throw new TypeError("withContext: run needs weft's durable runtime, which is not loaded (import from \"weft\")");
    return runDriver(run, "withContext", () => withContext(rest, fn)) as Promise<Awaited<T>>;
  }
  checkPlacement("withContext", options.placement);
  const parent = currentFrame();
  const overrides = options.config ? { ...parent.overrides, ...options.config } : parent.overrides;
  const config = options.config ? { ...parent.config, ...options.config } : parent.config;
  let deadline = parent.deadline;
  let deadlineOwner = parent.deadlineOwner;
  let deadlineBudgetMs = parent.deadlineBudgetMs;
  let signal = parent.signal;
  let timer: NodeJS.Timeout | undefined;
  let cleanup: (() => void) | undefined;
  if (options.timeout !== undefined || options.signal !== undefined) {
    const budget = options.timeout === undefined ? undefined : toMillis(options.timeout, "withContext timeout");
    const own = budget === undefined ? undefined : Date.now() + budget;
    const controller = new AbortController();
    const sources = options.signal ? [parent.signal, options.signal] : [parent.signal];
    cleanup = linkSignals(controller, sources, "withContext");
    // Every op and timer in the block may listen to this one signal.
    allowManyListeners(controller.signal);
    if (own !== undefined && (deadline === undefined || own < deadline)) {
      deadline = own;
      deadlineOwner = "withContext";
      deadlineBudgetMs = budget;
      // unref: a pending block deadline must never keep the process alive on its own.
      timer = setTimeout(() => controller.abort(new DeadlineExceeded("withContext", budget!)), budget).unref();
    }
    signal = controller.signal;
  }
  const frame = parent.derive({
    config,
    overrides,
    deadline,
    signal,
    ...(options.tenant !== undefined && { tenant: options.tenant }),
    ...(options.user !== undefined && { user: options.user }),
    ...(options.values !== undefined && { values: { ...parent.values, ...options.values } }),
    ...(options.placement !== undefined && { placement: options.placement === "auto" ? undefined : options.placement }),
    deadlineOwner,
    deadlineBudgetMs,
    trace: parent.trace,
  });
  if (!cleanup) return store.run(frame, fn);
  const done = () => {
    if (timer) clearTimeout(timer);
    cleanup!();
  };
  let result: T;
  try {
    result = store.run(frame, fn);
  } catch (error) {
    done();
    throw error;
  }
  if (isThenable(result)) return Promise.resolve(result).finally(done) as T;
  done();
  return result;
}

/**
 * Makes `controller` abort when any of `sources` aborts (with that source's reason), and
 * returns a function that removes the listeners, so nothing outlives the call.
 */
export function linkSignals(controller: AbortController, sources: readonly AbortSignal[], op: string): () => void {
  const listeners: Array<[AbortSignal, () => void]> = [];
  for (const source of sources) {
    if (source === NEVER) continue;
    if (source.aborted) {
      controller.abort(abortReason(source, op));
      break;
    }
    allowManyListeners(source);
    const onAbort = () => controller.abort(abortReason(source, op));
    source.addEventListener("abort", onAbort, { once: true });
    listeners.push([source, onAbort]);
  }
  return () => {
    for (const [source, onAbort] of listeners) source.removeEventListener("abort", onAbort);
  };
}

const unlimited = new WeakSet<AbortSignal>();

/**
 * Many concurrent calls (a vmap of 64, a wide plan) each listen to their caller's signal
 * and always remove their listener when they settle; Node's default limit of 10 would
 * report a leak that is not there.
 */
export function allowManyListeners(signal: AbortSignal): void {
  if (unlimited.has(signal)) return;
  unlimited.add(signal);
  setMaxListeners(0, signal);
}

/**
 * Per signal, the calls racing it: one listener on the signal rejects them all when it
 * fires. Node's `addEventListener`/`removeEventListener` cost more than the trivial op call
 * they guard (every step of a plan races the run's signal); a `Set` entry costs next to nothing.
 */
const racing = new WeakMap<AbortSignal, Set<() => void>>();

function racersOf(signal: AbortSignal): Set<() => void> {
  let racers = racing.get(signal);
  if (racers === undefined) {
    const mine = new Set<() => void>();
    racers = mine;
    racing.set(signal, mine);
    signal.addEventListener(
      "abort",
      () => {
        for (const reject of mine) reject();
        mine.clear();
      },
      { once: true },
    );
  }
  return racers;
}

/**
 * Calls `listener` (once) when `signal` fires, through the signal's shared listener, until
 * `unwatchAbort` removes it: a long-lived signal watched by many short calls (a block's, a
 * run's) gets one EventTarget listener, not one per call. Internal.
 */
export function watchAbort(signal: AbortSignal, listener: () => void): void {
  racersOf(signal).add(listener);
}

/** Stops `watchAbort`'s `listener` being called. Internal. */
export function unwatchAbort(signal: AbortSignal, listener: () => void): void {
  racing.get(signal)?.delete(listener);
}

/**
 * `promise`, unless `signal` fires first: then a rejection with the abort reason (as seen
 * by `op`), at once, whatever the promise is still doing. The call leaves the signal's
 * racers when either happens, so nothing outlives the call. Internal.
 *
 * @example
 * ```ts
 * return raceAbort(Promise.resolve(body()), frame.signal, "fetchPage");
 * ```
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, op: string): Promise<T> {
  if (signal === NEVER) return promise;
  if (signal.aborted) return Promise.reject(abortReason(signal, op));
  const racers = racersOf(signal);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal, op));
    racers.add(onAbort);
    promise.then(
      (value) => {
        racers.delete(onAbort);
        resolve(value);
      },
      (error: unknown) => {
        racers.delete(onAbort);
        reject(error);
      },
    );
  });
}

/**
 * `promise.then(onValue, onError)`, unless `signal` fires first: then `onError` gets the
 * abort reason (as seen by `op`), a microtask later, whatever the promise is still doing.
 * What `raceAbort(promise, signal, op).then(onValue, onError)` does, with one promise and
 * one hop fewer: every call made under a signal (a block's, a batch's, a run's) settles
 * through it. Internal.
 *
 * @example
 * ```ts
 * return raceAbortThen(body(), frame.signal, "fetchPage", (value) => check(value), (error) => { throw surface(error); });
 * ```
 */
export function raceAbortThen<T, U>(promise: PromiseLike<T>, signal: AbortSignal, op: string, onValue: (value: T) => U, onError: (error: unknown) => U): Promise<U> {
  if (signal === NEVER) return Promise.resolve(promise).then(onValue, onError);
  if (signal.aborted) return Promise.reject(abortReason(signal, op)).then(undefined, onError);
  const racers = racersOf(signal);
  return new Promise<U>((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      const reason = abortReason(signal, op);
      queueMicrotask(() => {
        try {
          resolve(onError(reason));
        } catch (error) {
          reject(error);
        }
      });
    };
    racers.add(onAbort);
    Promise.resolve(promise).then(
      (value) => {
        if (settled) return;
        settled = true;
        racers.delete(onAbort);
        try {
          resolve(onValue(value));
        } catch (error) {
          reject(error);
        }
      },
      (error: unknown) => {
        if (settled) return;
        settled = true;
        racers.delete(onAbort);
        try {
          resolve(onError(error));
        } catch (thrown) {
          reject(thrown);
        }
      },
    );
  });
}

/** The weft error a fired signal stands for, as seen by `op`. */
export function abortReason(signal: AbortSignal, op: string): Cancelled | DeadlineExceeded {
  const reason: unknown = signal.reason;
  if (reason instanceof DeadlineExceeded || reason instanceof Cancelled) return reason;
  return new Cancelled(op, reason);
}

/** True for promises and other thenables. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as { then?: unknown }).then === "function";
}

export { NEVER as NEVER_SIGNAL, EMPTY as EMPTY_CONFIG };
