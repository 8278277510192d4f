/**
 * THE op-call kernel: one call of one op, from arguments to a settled outcome. Every path
 * that runs an op body goes through `callOp`: the op's own callable (via `invoke`), the
 * plan runner, fused chains, vmap chunks, the worker entry and, later, remote executors.
 *
 *   check inputs ─> child frame ─> body (attempts, retries, deadline, cancellation) ─> check output ─> surface errors
 *
 * Two paths share every step: a plain-JS fast path for ops with no policy (the common case)
 * and a policy path for retries, timeouts and concurrency limits. Both settle at the
 * caller's deadline or abort with `DeadlineExceeded` / `Cancelled` even when the body
 * ignores its signal (the body is abandoned; its signal has fired). On the policy path the
 * first attempt runs in plain JS (an AbortController, and a deadline timer armed at the end
 * of the event loop's turn for a call still running then); a failure worth retrying
 * and any concurrency limit hand over to Effect, whose interruption stops a backoff sleep
 * or a permit wait the moment the call's signal fires and leaves nothing running.
 */
import type * as Cause from "effect/Cause";
import type * as Effect from "effect/Effect";
import type * as Semaphore from "effect/Semaphore";
import type { Span } from "@opentelemetry/api";
import type { OpDescriptor, RetryPolicy } from "../decorators/descriptor.js";
import { EMPTY_CONFIG, Frame, NEVER_SIGNAL, abortReason, callFrame, childStepId, currentFrame, isThenable, nextStepId, raceAbort, raceAbortThen, runIn, stepIdOf, unwatchAbort, watchAbort } from "./context.js";
import { OpEntry } from "./entry.js";
import { executorFor } from "./executor.js";
import { Cancelled, DeadlineExceeded, OpError, ValidationError, WeftError, WorkerCrashed } from "./errors.js";
import { emit, observed } from "./events.js";
import { redactError } from "./redact.js";
import { backoffOf, isTransient, neverRetried, retryAfterOf, retryDelay } from "./retry.js";
import { settings, settingsVersion } from "./settings.js";
import { effectApi } from "./effect.js";
import { attemptFailed, endSpan, startSpan, tracingRegistered, withActiveSpan } from "./telemetry.js";
import { validatorsFor, type Validators } from "./validate.js";
import { checkedStream } from "./checked-stream.js";
import { log } from "./log.js";

type Config = Readonly<Record<string, unknown>>;

export { OpEntry };

/** Per-call policy overrides, from `.with()` on an op or Module. */
export interface CallOverrides {
  readonly config?: Config;
  readonly timeout?: number;
  readonly retry?: RetryPolicy;
  /** Where this call's body runs: `"inline"`, `"worker"` or `"remote:NAME"` (see runtime/executor.ts). */
  readonly placement?: string;
}

/**
 * How a caller other than the op's own callable enters the kernel. Internal.
 *
 * @example
 * ```ts
 * // A fused chain step or a worker chunk item, already on the thread it chose:
 * const out = callOp(entry, frame, undefined, args, undefined, HERE);
 * ```
 */
export interface CallSite {
  /**
   * Run the body on this thread whatever the op's placement (`OpEntry.runBody` is not
   * consulted): the caller (a fused chain, a worker chunk, the worker entry) already chose it.
   */
  readonly here?: boolean;
  /** Check inputs and output; default the runtime's `validate` setting. A worker passes the main thread's. */
  readonly validate?: boolean;
  /** Receives the duration of each synchronous body run, for the cost model. */
  readonly timing?: (entry: OpEntry, ms: number) => void;
  /** Where the body runs (a call's `.with({ placement })`): wins over the op's and the block's. */
  readonly placement?: string;
}

/** A call site that runs the body here (chains, chunks, the worker entry). Internal. */
export const HERE: CallSite = Object.freeze({ here: true });

let globalLimit: { version: number; semaphore: Semaphore.Semaphore } | undefined;

function globalSemaphore(): Semaphore.Semaphore {
  if (!globalLimit || globalLimit.version !== settingsVersion) {
    globalLimit = { version: settingsVersion, semaphore: effectApi().Semaphore.makeUnsafe(settings.concurrency) };
  }
  return globalLimit.semaphore;
}

/**
 * Stands between a call and its dispatch for calls in a durable run and for ops with a
 * cache or risk policy (journal lookup, cache lookup, approval before the body; journal
 * append after success). Installed by runtime/durable; it calls `dispatch` to run the op.
 */
export type Interceptor = (entry: OpEntry, parent: Frame, thisArg: unknown, args: readonly unknown[], overrides: CallOverrides | undefined) => Promise<unknown>;

let interceptor: Interceptor | undefined;

/** Installs the durable interceptor. Internal. */
export function setInterceptor(next: Interceptor | undefined): void {
  interceptor = next;
}

/**
 * Calls an op from the current context: the durable interceptor when it applies, else
 * `dispatch`. Always returns a promise; never throws synchronously.
 */
export function invoke(entry: OpEntry, thisArg: unknown, args: readonly unknown[], overrides?: CallOverrides): Promise<unknown> {
  const parent = currentFrame();
  // While a jitted function is traced, calls are recorded as graph nodes, not run.
  // The tracer's promise is returned as it is: it notes when the traced code awaits it.
  if (parent.trace !== undefined) {
    const recorded = parent.trace.record(entry, thisArg, args, overrides);
    return recorded instanceof Promise ? recorded : Promise.resolve(recorded);
  }
  if (interceptor !== undefined && (parent.run !== undefined || entry.intercepted)) return interceptor(entry, parent, thisArg, args, overrides);
  return dispatch(entry, parent, thisArg, args, overrides);
}

/**
 * `invoke` for a caller that settles synchronous outcomes itself (the plan runner): the
 * value itself when the call completed synchronously (a sync op with no policy: no promise
 * and no microtask per step), else a promise. A synchronous failure is thrown. Internal.
 */
export function invokeValue(entry: OpEntry, thisArg: unknown, args: readonly unknown[], overrides?: CallOverrides): unknown {
  const parent = currentFrame();
  if (parent.trace !== undefined || (interceptor !== undefined && (parent.run !== undefined || entry.intercepted))) return invoke(entry, thisArg, args, overrides);
  return callOp(entry, parent, thisArg, args, overrides, undefined);
}

/** One call of an op in `parent` through the kernel (`callOp`), as a promise. Internal. */
export function dispatch(entry: OpEntry, parent: Frame, thisArg: unknown, args: readonly unknown[], overrides?: CallOverrides): Promise<unknown> {
  let out: unknown;
  try {
    out = callOp(entry, parent, thisArg, args, overrides, undefined);
  } catch (error) {
    return Promise.reject(error);
  }
  return out instanceof Promise ? out : Promise.resolve(out);
}

/**
 * THE op-call kernel routine: one call of `entry` made from `parent`. Checks the inputs,
 * opens a child frame (and span), runs the body with the op's policy (retries, timeout,
 * concurrency limits, the caller's deadline and signal), checks the output, and surfaces
 * errors typed: `ValidationError`, `DeadlineExceeded`, `Cancelled`, or an `OpError` naming
 * the op with the body's error as `cause`. Runtime events and the span see the same outcome.
 *
 * How each path calls it:
 * - the op's callable: `invoke`, which passes the current frame and wraps the outcome in a promise;
 * - a fused chain step or a worker-chunk item: `callOp(entry, chainFrame, undefined, args, undefined, HERE)`
 *   per member, in the frame of the chain or chunk (so members run under their own policy
 *   and a member with no policy stays synchronous: no promise hop per step);
 * - the worker entry: the same, in the frame rebuilt from the task, with
 *   `{ here: true, validate: task.validate }`;
 * - a remote executor: the same as the worker entry, on the remote side.
 *
 * Returns the value itself when the op has no policy and its body returned synchronously
 * (so sync chains stay sync), otherwise a promise; a failure is thrown (sync) or rejected
 * (async), already surfaced. While a jitted function is traced, the call is recorded
 * instead and the trace's placeholder is returned.
 */
export function callOp(entry: OpEntry, parent: Frame, thisArg: unknown, args: readonly unknown[], overrides: CallOverrides | undefined, site: CallSite | undefined): unknown {
  // While a jitted function is traced, calls are recorded as graph nodes, not run.
  if (parent.trace !== undefined) return parent.trace.record(entry, thisArg, args, overrides);
  if (overrides !== undefined && overrides.placement !== undefined && site === undefined) site = { placement: overrides.placement };
  const needsLimit = settings.concurrency !== Infinity && !parent.permitted;
  if (entry.hasPolicy || needsLimit || (overrides !== undefined && (overrides.timeout !== undefined || overrides.retry !== undefined))) {
    return callWithPolicy(entry, parent, thisArg, args, overrides, site, needsLimit);
  }
  return callFast(entry, parent, thisArg, args, overrides?.config, site);
}

/** The fast path: no policy of its own, but the caller's deadline and signal still end it. */
function callFast(entry: OpEntry, parent: Frame, thisArg: unknown, args: readonly unknown[], withConfig: Config | undefined, site: CallSite | undefined): unknown {
  const desc = entry.desc;
  const signal = parent.signal;
  if (signal.aborted) throw abortReason(signal, desc.name);
  const validators = validatorsOf(entry, site);
  const index = parent.children++;
  const span = tracingRegistered() ? startSpan({ name: desc.name, kind: desc.kind, stepId: stepIdOf(parent.stepId, desc.name, index), parent: parent.span }) : undefined;
  const frame = callFrame(parent, desc.name, mergeConfig(entry, parent, withConfig), index, span, undefined);
  if (observed) emit({ type: "op:start", op: desc.name, stepId: frame.stepId });
  if (validators.input !== undefined) checkInput(entry, validators, args, frame, span, signal);
  if (observed) emit({ type: "op:attempt", op: desc.name, stepId: frame.stepId, attempt: 1 });
  let out: unknown;
  try {
    out = runBody(entry, frame, thisArg, args, span, site);
  } catch (error) {
    throw settleError(entry, frame, span, 1, error, signal);
  }
  if (!isThenable(out)) return settleValue(entry, validators, span, 1, out, signal, frame);
  // A body that ignores its signal is abandoned when the caller's fires: the call settles then.
  return raceAbortThen(
    out,
    signal,
    desc.name,
    (value) => settleValue(entry, validators, span, 1, value, signal, frame),
    (error: unknown) => {
      throw settleError(entry, frame, span, 1, error, signal);
    },
  );
}

/** The policy path: see the module comment. */
function callWithPolicy(
  entry: OpEntry,
  parent: Frame,
  thisArg: unknown,
  args: readonly unknown[],
  overrides: CallOverrides | undefined,
  site: CallSite | undefined,
  needsLimit: boolean,
): Promise<unknown> {
  const desc = entry.desc;
  if (parent.signal.aborted) return Promise.reject(abortReason(parent.signal, desc.name));
  const validators = validatorsOf(entry, site);
  const index = parent.children++;
  const span = tracingRegistered() ? startSpan({ name: desc.name, kind: desc.kind, stepId: stepIdOf(parent.stepId, desc.name, index), parent: parent.span }) : undefined;
  const call = new PolicyCall(entry, parent, thisArg, args, overrides, site, validators, index, span, needsLimit);
  if (observed) emit({ type: "op:start", op: desc.name, stepId: call.frame.stepId });
  if (validators.input !== undefined) {
    try {
      checkInput(entry, validators, args, call.frame, span, parent.signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return call.run();
}

/** One call on the policy path: its deadline timer, its signal, its attempts. */
class PolicyCall {
  attempts = 0;
  /** The call's signal: its own when it has an earlier deadline than its caller, else the caller's. */
  readonly signal: AbortSignal;
  readonly frame: Frame;
  private readonly retry: RetryPolicy | undefined;
  /** The output is checked inside each attempt, so `retryOn` can retry an invalid one. */
  private readonly checksEachAttempt: boolean;
  /** The call's own deadline timer: see `awaitArming`. */
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerState = TIMER_NONE;
  private readonly timeoutMs: number | undefined;
  /**
   * The call's own signal's controller, when its deadline is earlier than its caller's.
   * Only this call aborts it (`abort`), so it races its attempts itself (`race`), with no
   * listener on a signal made for one call.
   */
  private controller: AbortController | undefined;
  /** Rejects the attempt in flight when the call's own signal fires. */
  private racer: ((reason: unknown) => void) | undefined;
  /** The caller's signal and this call's watcher of it, while the call has a signal of its own. */
  private outer: AbortSignal | undefined;
  private onOuterAbort: (() => void) | undefined;

  constructor(
    readonly entry: OpEntry,
    parent: Frame,
    readonly thisArg: unknown,
    readonly args: readonly unknown[],
    overrides: CallOverrides | undefined,
    readonly site: CallSite | undefined,
    readonly validators: Validators,
    index: number,
    readonly span: Span | undefined,
    readonly needsLimit: boolean,
  ) {
    const desc = entry.desc;
    const timeoutMs = overrides?.timeout ?? entry.timeoutMs;
    this.retry = overrides?.retry ?? desc.policy.retry;
    // A stream's items are checked as they are yielded, never its value in an attempt.
    this.checksEachAttempt = this.retry?.retryOn !== undefined && validators.output !== undefined && desc.stream !== true;
    const own = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    // A nested op's deadline is the earlier of its own and its caller's; only an earlier one
    // needs a timer and a signal of its own, since the caller's signal already fires at the caller's.
    const ownIsEarlier = own !== undefined && (parent.deadline === undefined || own < parent.deadline);
    let signal = parent.signal;
    if (ownIsEarlier) {
      const controller = new AbortController();
      this.controller = controller;
      signal = controller.signal;
      const outer = parent.signal;
      if (outer !== NEVER_SIGNAL) this.outer = outer;
    }
    this.timeoutMs = timeoutMs;
    this.signal = signal;
    this.frame = callFrame(
      parent,
      desc.name,
      mergeConfig(entry, parent, overrides?.config),
      index,
      this.span,
      ownIsEarlier || needsLimit
        ? {
            deadline: ownIsEarlier ? own : parent.deadline,
            signal,
            deadlineOwner: ownIsEarlier ? desc.name : parent.deadlineOwner,
            deadlineBudgetMs: ownIsEarlier ? timeoutMs : parent.deadlineBudgetMs,
            permitted: parent.permitted || needsLimit,
          }
        : undefined,
    );
  }

  /** Runs the call (its inputs are valid): its own deadline and its caller's signal end it from now on. */
  run(): Promise<unknown> {
    if (this.controller !== undefined) {
      const outer = this.outer;
      if (outer !== undefined) {
        const onOuterAbort = () => this.abort(abortReason(outer, this.entry.desc.name));
        this.onOuterAbort = onOuterAbort;
        watchAbort(outer, onOuterAbort);
      }
      this.timerState = TIMER_WAITING;
      awaitArming(this);
    }
    if (this.entry.limit === undefined && !this.needsLimit) {
      // Plain JS for the first attempt: most calls succeed and never touch Effect.
      return this.attempt().then(
        (value) => this.succeed(value),
        (error: unknown) => {
          if (this.signal.aborted || this.retry === undefined) throw this.fail(error);
          return this.onEffect(this.retriesAfter(error));
        },
      );
    }
    // Permits are waited for on Effect, so the wait ends with the call's deadline or signal.
    const { Effect } = effectApi();
    let program: Effect.Effect<unknown, unknown> = Effect.catch(this.attemptEffect(), (error: unknown) => this.retriesAfter(error));
    const permits = this.entry.semaphore;
    if (permits) program = permits.withPermits(1)(program);
    if (this.needsLimit) program = globalSemaphore().withPermits(1)(program);
    return this.onEffect(program);
  }

  /** One attempt: settles when the body does, or at once when the call's signal fires. */
  private attempt(): Promise<unknown> {
    const n = ++this.attempts;
    const desc = this.entry.desc;
    if (observed) emit({ type: "op:attempt", op: desc.name, stepId: this.frame.stepId, attempt: n });
    const frame = n === 1 ? this.frame : this.frame.derive({ attempt: n });
    let out: unknown;
    try {
      out = runBody(this.entry, frame, this.thisArg, this.args, this.span, this.site);
    } catch (error) {
      return Promise.reject(error);
    }
    const settled = Promise.resolve(out);
    const raced = this.controller !== undefined ? this.race(settled) : this.signal === NEVER_SIGNAL ? settled : raceAbort(settled, this.signal, desc.name);
    if (!this.checksEachAttempt) return raced;
    const output = this.validators.output!;
    return raced.then((value) => {
      output(value);
      return value;
    });
  }

  /** Arms the call's deadline timer for what is left of its budget (`awaitArming`): fires now when nothing is. */
  arm(): void {
    if (this.timerState !== TIMER_WAITING) return;
    this.timerState = TIMER_ARMED;
    const expired = () => this.abort(new DeadlineExceeded(this.entry.desc.name, this.timeoutMs!));
    const left = this.frame.deadline! - Date.now();
    if (left <= 0) expired();
    else this.timer = setTimeout(expired, left);
  }

  /** `settled`, unless the call's own signal fires first (`abort`): `raceAbort` for a signal only this call fires. */
  private race(settled: Promise<unknown>): Promise<unknown> {
    if (this.signal.aborted) return Promise.reject(abortReason(this.signal, this.entry.desc.name));
    return new Promise((resolve, reject) => {
      this.racer = reject;
      settled.then(
        (value) => {
          this.racer = undefined;
          resolve(value);
        },
        (error: unknown) => {
          this.racer = undefined;
          reject(error);
        },
      );
    });
  }

  /** The call's own deadline passed or its caller's signal fired: its signal fires, its attempt in flight settles now. */
  private abort(reason: Cancelled | DeadlineExceeded): void {
    this.controller!.abort(reason);
    const racer = this.racer;
    this.racer = undefined;
    racer?.(reason);
  }

  private attemptEffect(): Effect.Effect<unknown, unknown> {
    return effectApi().Effect.tryPromise({ try: () => this.attempt(), catch: (error) => error });
  }

  private retryable(error: unknown): boolean {
    const retry = this.retry;
    if (retry === undefined || this.attempts > retry.times || neverRetried(error)) return false;
    return retry.retryOn !== undefined ? retry.retryOn(error, this.attempts) : isTransient(error);
  }

  /** After attempt `attempts` failed with `error`: wait, then try again, as long as the policy says. */
  private retriesAfter(error: unknown): Effect.Effect<unknown, unknown> {
    const { Effect } = effectApi();
    if (this.signal.aborted) return Effect.fail(error);
    const n = this.attempts;
    if (!this.retryable(error)) {
      if (this.span) attemptFailed(this.span, n, error, undefined);
      return Effect.fail(error);
    }
    const desc = this.entry.desc;
    const delayMs = retryDelay(backoffOf(this.retry!, desc.name), n, settings.random(), error);
    // A wait the error asked for that outlasts the deadline cannot end in a success: fail now.
    const deadline = this.frame.deadline;
    if (deadline !== undefined && Date.now() + delayMs >= deadline && retryAfterOf(error) !== undefined) {
      if (this.span) attemptFailed(this.span, n, error, undefined);
      return Effect.fail(error);
    }
    if (this.span) attemptFailed(this.span, n, error, delayMs);
    if (observed) emit({ type: "op:retry", op: desc.name, stepId: this.frame.stepId, attempt: n, delayMs, error: redactError(error) });
    return Effect.andThen(
      Effect.sleep(delayMs),
      Effect.catch(
        Effect.suspend(() => this.attemptEffect()),
        (next: unknown) => this.retriesAfter(next),
      ),
    );
  }

  private onEffect(program: Effect.Effect<unknown, unknown>): Promise<unknown> {
    const options = this.signal === NEVER_SIGNAL ? undefined : { signal: this.signal };
    const { Effect, Exit } = effectApi();
    return Effect.runPromiseExit(program, options).then((exit) => {
      if (Exit.isSuccess(exit)) return this.succeed(exit.value);
      throw this.fail(this.failureOf(exit.cause));
    });
  }

  /** The error a failed Effect run stands for. */
  private failureOf(cause: Cause.Cause<unknown>): unknown {
    const { Cause } = effectApi();
    // The call's signal fired (deadline, caller cancellation): that is the outcome.
    if (this.signal.aborted) return abortReason(this.signal, this.entry.desc.name);
    const failure = cause.reasons.find(Cause.isFailReason);
    if (failure) return failure.error;
    const defect = cause.reasons.find(Cause.isDieReason);
    if (defect) return defect.defect;
    return new Cancelled(this.entry.desc.name, "interrupted");
  }

  private succeed(value: unknown): unknown {
    // A stream's call lasts as long as its stream: its deadline and its caller's signal too.
    if (this.entry.desc.stream === true) return settleValue(this.entry, this.validators, this.span, this.attempts, value, this.signal, this.frame, () => this.release());
    this.release();
    return settleValue(this.entry, this.checksEachAttempt ? NO_VALIDATORS : this.validators, this.span, this.attempts, value, this.signal, this.frame);
  }

  private fail(error: unknown): unknown {
    this.release();
    return settleError(this.entry, this.frame, this.span, Math.max(this.attempts, 1), error, this.signal);
  }

  private release(): void {
    if (this.timerState === TIMER_WAITING) armingDone();
    else if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerState = TIMER_NONE;
    if (this.outer !== undefined) unwatchAbort(this.outer, this.onOuterAbort!);
  }
}

const TIMER_NONE = 0;
const TIMER_WAITING = 1;
const TIMER_ARMED = 2;

/**
 * Calls with a deadline of their own whose timer is not armed yet. Most timed calls settle
 * within the turn of the event loop they started in (a cache hit, a fast body): a Node timer
 * set and cleared per call cost more than the rest of the policy path together. So a call
 * waits here, and one `setImmediate` arms, at the end of the turn, a timer for what is left of
 * the budget of each call still running (or fires its deadline now when nothing is left); the
 * immediate is cleared when the last waiting call settles, so nothing outlives the calls.
 * A deadline fires no later than a timer armed at the call's start would let it: timers cannot
 * fire before the turn ends.
 */
let unarmed: PolicyCall[] = [];
/** Calls in `unarmed` that have not settled. */
let waiting = 0;
let armer: ReturnType<typeof setImmediate> | undefined;

function awaitArming(call: PolicyCall): void {
  if (waiting === 0 && unarmed.length > 0) unarmed = [];
  unarmed.push(call);
  waiting++;
  armer ??= setImmediate(armWaiting);
}

/** A waiting call settled before its timer was armed. */
function armingDone(): void {
  if (--waiting > 0) return;
  if (armer !== undefined) clearImmediate(armer);
  armer = undefined;
  unarmed = [];
}

function armWaiting(): void {
  const calls = unarmed;
  unarmed = [];
  waiting = 0;
  armer = undefined;
  for (const call of calls) call.arm();
}

/** Checks one call's arguments against the op's input schema, as a call would. Internal. */
export function validateInput(entry: OpEntry, args: readonly unknown[]): void {
  checkedValidators(entry).input?.(args);
}

/** Checks one result against the op's return schema, as a call would. Internal. */
export function validateOutput(entry: OpEntry, value: unknown): void {
  checkedValidators(entry).output?.(value);
}

function validatorsOf(entry: OpEntry, site: CallSite | undefined): Validators {
  if (site?.validate !== undefined) return site.validate ? ensureValidators(entry) : NO_VALIDATORS;
  return checkedValidators(entry);
}

function checkedValidators(entry: OpEntry): Validators {
  if (!settings.validate) return NO_VALIDATORS;
  return ensureValidators(entry);
}

function ensureValidators(entry: OpEntry): Validators {
  if (entry.validators === undefined) {
    if (!entry.desc.typed && entry.desc.policy.validate !== false) warnUntyped(entry.desc);
    entry.validators = validatorsFor(entry.desc);
  }
  return entry.validators;
}

/** Once per op: it has no build-time types, so nothing checks its inputs and outputs. */
function warnUntyped(desc: OpDescriptor): void {
  log.warn(
    `weft: op "${desc.name}" has no build-time types, so its inputs and outputs are not validated. ` +
      `Build with tspc and the weft transformer ("plugins": [{ "transform": "weft/transformer" }]), ` +
      "or run `weft gen` for builds that run no transformer (esbuild, tsx, TypeScript 7).",
    { code: "WEFT_UNTYPED_OP" },
  );
}

const NO_VALIDATORS: Validators = {};

/** Nothing runs on bad input: the call ends here, with its span and `op:end` carrying the error. */
function checkInput(entry: OpEntry, validators: Validators, args: readonly unknown[], frame: Frame, span: Span | undefined, signal: AbortSignal): void {
  try {
    validators.input!(args);
  } catch (error) {
    throw settleError(entry, frame, span, 0, error, signal);
  }
}

/**
 * Runs the body where placement says: here (the inline executor, synchronously), or on the
 * executor chosen by the call's `.with({ placement })`, else the op's own pinned placement,
 * else the block's `withContext({ placement })`, else the cost model's choice (`runBody`).
 */
function runBody(entry: OpEntry, frame: Frame, thisArg: unknown, args: readonly unknown[], span: Span | undefined, site: CallSite | undefined): unknown {
  if (site === undefined || site.here !== true) {
    const placement = site?.placement ?? entry.pinned ?? frame.placement;
    if (placement !== undefined) {
      // Executors enter the frame themselves (on this thread, in a worker, on another machine).
      const executor = executorFor(placement, entry.desc.name);
      if (executor !== undefined) return executor.run({ kind: "call", entry, thisArg, args }, frame);
    } else if (entry.runBody !== undefined) return entry.runBody(entry, frame, thisArg, args);
  }
  const timing = site?.timing;
  const start = timing === undefined ? 0 : performance.now();
  const out = span ? withActiveSpan(span, () => runIn(frame, entry.impl, thisArg, args)) : runIn(frame, entry.impl, thisArg, args);
  if (timing !== undefined && !isThenable(out)) timing(entry, performance.now() - start);
  return out;
}

function settleValue(entry: OpEntry, validators: Validators, span: Span | undefined, attempts: number, value: unknown, signal: AbortSignal, frame: Frame, release?: () => void): unknown {
  // A call whose signal fired is cancelled, even if its body ignored the signal and finished.
  if (signal.aborted) {
    release?.();
    throw settleError(entry, frame, span, attempts, abortReason(signal, entry.desc.name), signal);
  }
  if (entry.desc.stream === true) return settleStream(entry, validators, span, attempts, value, frame, release);
  release?.();
  if (validators.output) {
    try {
      validators.output(value);
    } catch (error) {
      throw settleError(entry, frame, span, attempts, error, signal);
    }
  }
  if (span) endSpan(span, attempts);
  if (observed) emit({ type: "op:end", op: entry.desc.name, stepId: frame.stepId, attempts });
  return value;
}

/**
 * A stream's call settles when its stream does: its items are checked as they are yielded,
 * in the op's frame; the span, `op:end` and the call's deadline timer (`release`) last until
 * the stream ends, fails, is closed by its consumer or its signal fires, or the caller drops
 * it unfinished (seen when it is garbage-collected).
 */
function settleStream(entry: OpEntry, validators: Validators, span: Span | undefined, attempts: number, value: unknown, frame: Frame, release: (() => void) | undefined): unknown {
  const name = entry.desc.name;
  const end = (error: unknown, items: number, closed: boolean, abandoned?: true): void => {
    release?.();
    if (span) {
      span.setAttribute("weft.stream.items", items);
      if (closed) span.setAttribute("weft.stream.closed", true);
      if (abandoned) span.setAttribute("weft.stream.abandoned", true);
      endSpan(span, attempts, error);
    }
    if (observed) emit(error === undefined ? { type: "op:end", op: name, stepId: frame.stepId, attempts } : { type: "op:end", op: name, stepId: frame.stepId, attempts, error });
  };
  try {
    return checkedStream(name, value, frame, validators.output, (error) => surfaceError(entry, attempts, error), end);
  } catch (error) {
    // Not a stream at all: the call fails here, as an invalid output would.
    release?.();
    throw settleError(entry, frame, span, attempts, error, frame.signal);
  }
}

/**
 * What a call of `entry` surfaces for `error` after `attempts` attempts: deadlines,
 * cancellations, a worker thread dying (`WorkerCrashed`) and this op's own validation
 * errors as they are; anything else the body
 * threw as an `OpError` naming this op, keeping the cause. Internal.
 */
export function surfaceError(entry: OpEntry, attempts: number, error: unknown): unknown {
  const desc = entry.desc;
  return error instanceof DeadlineExceeded || error instanceof Cancelled || error instanceof WorkerCrashed || (error instanceof ValidationError && error.op === desc.name)
    ? error
    : new OpError(desc.name, attempts, error, desc.source);
}

function settleError(entry: OpEntry, frame: Frame, span: Span | undefined, attempts: number, error: unknown, signal: AbortSignal): unknown {
  // A body that failed because the call's signal fired (`fetch` rejecting with an
  // AbortError) failed of that deadline or cancellation, not of its own.
  const surfaced = signal.aborted && !(error instanceof DeadlineExceeded || error instanceof Cancelled) ? abortReason(signal, entry.desc.name) : surfaceError(entry, attempts, error);
  if (span) endSpan(span, attempts, surfaced);
  if (observed) emit({ type: "op:end", op: entry.desc.name, stepId: frame.stepId, attempts, error: surfaced });
  return surfaced;
}

/** An op's config in a call: its defaults < inherited < `.with()` < `withContext`. Internal. */
export function mergeConfig(entry: OpEntry, parent: Frame, withConfig: Config | undefined): Config {
  // Most calls add nothing: share the caller's object rather than copying it.
  if (!entry.hasConfig && withConfig === undefined) return parent.config;
  const merged = { ...entry.desc.config, ...parent.config, ...withConfig };
  return parent.overrides === EMPTY_CONFIG ? merged : { ...merged, ...parent.overrides };
}

export { WeftError, childStepId, nextStepId };
