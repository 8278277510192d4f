/**
 * Op dispatch: one call of one op, from arguments to a settled promise.
 *
 *   call ─> context frame ─> validate inputs ─> body (attempts, retries, deadline) ─> validate output
 *
 * Two paths share every step: a plain-JS fast path for ops with no policy (the common case,
 * kept within about a microsecond of a direct call) and an Effect path for retries, timeouts
 * and concurrency limits, where Effect's interruption gives cancellation that leaves nothing
 * running. Which path runs is decided per call; the observable behaviour is the same.
 */
import { Effect, Exit, Cause, Semaphore } from "effect";
import type { Span } from "@opentelemetry/api";
import type { OpDescriptor, RetryPolicy } from "../decorators/descriptor.js";
import { EMPTY_CONFIG, Frame, NEVER_SIGNAL, abortReason, allowManyListeners, currentFrame, isThenable, store } from "./context.js";
import { toMillis } from "./duration.js";
import { Cancelled, DeadlineExceeded, OpError, ValidationError, WeftError } from "./errors.js";
import { emit, observed } from "./events.js";
import { settings, settingsVersion } from "./settings.js";
import { endSpan, startSpan, withActiveSpan } from "./telemetry.js";
import { validatorsFor, type Validators } from "./validate.js";

type Config = Readonly<Record<string, unknown>>;
type Body = (...args: never[]) => unknown;

/** Per-call policy overrides, from `.with()` on an op or Module. */
export interface CallOverrides {
  readonly config?: Config;
  readonly timeout?: number;
  readonly retry?: RetryPolicy;
}

/** An op as the runtime runs it: its descriptor, its body and per-op state. Internal. */
export class OpEntry {
  readonly timeoutMs: number | undefined;
  /** True when some policy needs the Effect path on every call. */
  readonly hasPolicy: boolean;
  /** Per-op concurrency limit, shared by every caller. */
  readonly semaphore: Semaphore.Semaphore | undefined;
  readonly hasConfig: boolean;
  /** True when calls go through the durable interceptor even outside a run (cache, risk, pure). */
  readonly intercepted: boolean;
  validators: Validators | undefined;
  /**
   * Replaces where the body runs (for example a worker pool for `cpu` ops). It receives the
   * frame the body must run in, and enters it itself. Set by the executors; inline when undefined.
   */
  runBody: ((entry: OpEntry, frame: Frame, thisArg: unknown, args: readonly unknown[]) => unknown) | undefined;
  /** The op's native batch implementation, run as an op of its own (`name[batch]`) so policy applies. */
  batchEntry: OpEntry | undefined;
  /** Largest chunk the native batch accepts. */
  batchMax: number | undefined;
  /** Inline runs so far, for sampling the placement timer. */
  calls = 0;

  constructor(
    readonly desc: OpDescriptor,
    readonly impl: Body,
  ) {
    this.timeoutMs = desc.policy.timeout === undefined ? undefined : toMillis(desc.policy.timeout, `${desc.name}: timeout`);
    const limit = desc.policy.concurrency;
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) {
      throw new RangeError(`${desc.name}: concurrency must be a whole number >= 1, received ${limit}`);
    }
    this.semaphore = limit === undefined ? undefined : Semaphore.makeUnsafe(limit);
    this.hasPolicy = this.timeoutMs !== undefined || desc.policy.retry !== undefined || this.semaphore !== undefined;
    this.hasConfig = Object.keys(desc.config).length > 0;
    const cache = desc.policy.cache;
    this.intercepted = (cache !== undefined && cache !== false) || desc.policy.risk === "high" || (desc.kind === "pure" && cache === undefined);
  }
}

let globalLimit: { version: number; semaphore: Semaphore.Semaphore } | undefined;

function globalSemaphore(): Semaphore.Semaphore {
  if (!globalLimit || globalLimit.version !== settingsVersion) {
    globalLimit = { version: settingsVersion, semaphore: Semaphore.makeUnsafe(settings.concurrency) };
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
 * Calls an op. Always returns a promise; never throws synchronously.
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

/** Runs one call of an op in `parent`: the fast path or the policy path. Internal. */
export function dispatch(entry: OpEntry, parent: Frame, thisArg: unknown, args: readonly unknown[], overrides?: CallOverrides): Promise<unknown> {
  const needsLimit = settings.concurrency !== Infinity && !parent.permitted;
  if (entry.hasPolicy || needsLimit || (overrides !== undefined && (overrides.timeout !== undefined || overrides.retry !== undefined))) {
    return invokeWithPolicy(entry, parent, thisArg, args, overrides, needsLimit);
  }
  return invokeFast(entry, parent, thisArg, args, overrides?.config);
}

function invokeFast(entry: OpEntry, parent: Frame, thisArg: unknown, args: readonly unknown[], withConfig: Config | undefined): Promise<unknown> {
  const desc = entry.desc;
  if (parent.signal.aborted) return Promise.reject(abortReason(parent.signal, desc.name));
  const validators = checkedValidators(entry);
  const invalid = validators.input && rejectInvalid(validators.input, args);
  if (invalid) return invalid;
  const stepId = childStepId(parent, desc.name);
  const span = startSpan({ name: desc.name, kind: desc.kind, stepId, parent: parent.span });
  // The constructor, not derive(): this is the hot path, and every field is known here.
  const frame = new Frame(
    desc.name,
    mergeConfig(entry, parent, withConfig),
    parent.overrides,
    parent.deadline,
    parent.signal,
    1,
    stepId,
    parent.tenant,
    parent.user,
    parent.values,
    span ?? parent.span,
    parent.deadlineOwner,
    parent.permitted,
    undefined,
    parent.run,
  );
  if (observed) {
    emit({ type: "op:start", op: desc.name, stepId });
    emit({ type: "op:attempt", op: desc.name, stepId, attempt: 1 });
  }
  let out: unknown;
  try {
    out = runBody(entry, frame, thisArg, args, span);
  } catch (error) {
    return Promise.reject(settleError(entry, stepId, span, 1, error));
  }
  if (isThenable(out)) {
    return Promise.resolve(out).then(
      (value) => {
        // Same outcome as the Effect path: a call whose signal fired is cancelled, even if
        // its body ignored the signal and finished anyway.
        if (parent.signal.aborted) throw settleError(entry, stepId, span, 1, abortReason(parent.signal, desc.name));
        return settleValue(entry, validators, stepId, span, 1, value);
      },
      (error: unknown) => {
        throw settleError(entry, stepId, span, 1, error);
      },
    );
  }
  try {
    return Promise.resolve(settleValue(entry, validators, stepId, span, 1, out));
  } catch (error) {
    return Promise.reject(error);
  }
}

function invokeWithPolicy(
  entry: OpEntry,
  parent: Frame,
  thisArg: unknown,
  args: readonly unknown[],
  overrides: CallOverrides | undefined,
  needsLimit: boolean,
): Promise<unknown> {
  const desc = entry.desc;
  if (parent.signal.aborted) return Promise.reject(abortReason(parent.signal, desc.name));
  const validators = checkedValidators(entry);
  const invalid = validators.input && rejectInvalid(validators.input, args);
  if (invalid) return invalid;
  const timeoutMs = overrides?.timeout ?? entry.timeoutMs;
  const retry = overrides?.retry ?? desc.policy.retry;
  const own = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  // A nested op's deadline is the earlier of its own and its caller's; only an earlier one
  // needs a timer of its own, since the caller's signal already fires at the caller's.
  const ownIsEarlier = own !== undefined && (parent.deadline === undefined || own < parent.deadline);
  const stepId = childStepId(parent, desc.name);
  const span = startSpan({ name: desc.name, kind: desc.kind, stepId, parent: parent.span });
  const base = parent.derive({
    op: desc.name,
    config: mergeConfig(entry, parent, overrides?.config),
    deadline: ownIsEarlier ? own : parent.deadline,
    attempt: 1,
    stepId,
    ...(span && { span }),
    deadlineOwner: ownIsEarlier ? desc.name : parent.deadlineOwner,
    permitted: parent.permitted || needsLimit,
  });

  if (observed) emit({ type: "op:start", op: desc.name, stepId });

  let attempts = 0;
  // One attempt: the body runs with a signal that aborts when this fiber is interrupted
  // (deadline, caller cancellation), so `fetch(url, { signal })` stops with it.
  const attempt = Effect.tryPromise({
    try: (signal) => {
      attempts++;
      if (observed) emit({ type: "op:attempt", op: desc.name, stepId, attempt: attempts });
      return Promise.resolve(runBody(entry, base.forAttempt(attempts, signal), thisArg, args, span));
    },
    catch: (error) => error,
  });

  let program: Effect.Effect<unknown, unknown> = retry ? withRetries(attempt, retry, desc.name, stepId, () => attempts) : attempt;
  if (ownIsEarlier) {
    program = Effect.timeoutOrElse(program, {
      duration: timeoutMs!,
      orElse: () => Effect.fail(new DeadlineExceeded(desc.name, timeoutMs!)),
    });
  }
  if (entry.semaphore) program = entry.semaphore.withPermits(1)(program);
  if (needsLimit) program = globalSemaphore().withPermits(1)(program);

  let runOptions: { signal: AbortSignal } | undefined;
  if (parent.signal !== NEVER_SIGNAL) {
    allowManyListeners(parent.signal);
    runOptions = { signal: parent.signal };
  }
  return Effect.runPromiseExit(program, runOptions).then((exit) => {
    if (Exit.isSuccess(exit)) return settleValue(entry, validators, stepId, span, attempts, exit.value);
    throw settleError(entry, stepId, span, Math.max(attempts, 1), failureOf(exit.cause, parent, desc.name));
  });
}

function withRetries(
  attempt: Effect.Effect<unknown, unknown>,
  retry: RetryPolicy,
  op: string,
  stepId: string,
  attempts: () => number,
): Effect.Effect<unknown, unknown> {
  const backoff = retry.backoff ?? {};
  const initial = toMillis(backoff.initial ?? 100, `${op}: retry.backoff.initial`);
  const factor = backoff.factor ?? 2;
  const max = toMillis(backoff.max ?? 30_000, `${op}: retry.backoff.max`);
  const jitter = Math.min(1, Math.max(0, backoff.jitter ?? 0.5));
  const loop: Effect.Effect<unknown, unknown> = Effect.catch(attempt, (error: unknown) => {
    const n = attempts();
    if (n > retry.times || !isRetryable(error) || (retry.retryOn !== undefined && !retry.retryOn(error, n))) return Effect.fail(error);
    const base = Math.min(max, initial * factor ** (n - 1));
    const delayMs = base * (1 - jitter * settings.random());
    if (observed) emit({ type: "op:retry", op, stepId, attempt: n, delayMs, error });
    return Effect.andThen(Effect.sleep(delayMs), Effect.suspend(() => loop));
  });
  return loop;
}

/** Validation errors and cancellations fail the same way every time: never retried. */
function isRetryable(error: unknown): boolean {
  return !(error instanceof ValidationError || error instanceof Cancelled);
}

/** The error a failed Effect run stands for. */
function failureOf(cause: Cause.Cause<unknown>, parent: Frame, op: string): unknown {
  // A caller's signal that fired interrupts the fiber: report it as the caller's reason.
  if (parent.signal.aborted) return abortReason(parent.signal, op);
  const failure = cause.reasons.find(Cause.isFailReason);
  if (failure) return failure.error;
  const defect = cause.reasons.find(Cause.isDieReason);
  if (defect) return defect.defect;
  return new Cancelled(op, "interrupted");
}

/** A rejected promise when `args` fail the input check: nothing runs on bad input. */
function rejectInvalid(check: (args: readonly unknown[]) => void, args: readonly unknown[]): Promise<never> | undefined {
  try {
    check(args);
    return undefined;
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Checks one call's arguments against the op's input schema, as a call would. Internal. */
export function validateInput(entry: OpEntry, args: readonly unknown[]): void {
  checkedValidators(entry).input?.(args);
}

/** Checks one result against the op's return schema, as a call would. Internal. */
export function validateOutput(entry: OpEntry, value: unknown): void {
  checkedValidators(entry).output?.(value);
}

function checkedValidators(entry: OpEntry): Validators {
  if (!settings.validate) return NO_VALIDATORS;
  if (entry.validators === undefined) {
    if (!entry.desc.typed && entry.desc.policy.validate !== false) warnUntyped(entry.desc);
    entry.validators = validatorsFor(entry.desc);
  }
  return entry.validators;
}

/** Once per op: it has no build-time types, so nothing checks its inputs and outputs. */
function warnUntyped(desc: OpDescriptor): void {
  process.emitWarning(
    `weft: op "${desc.name}" has no build-time types, so its inputs and outputs are not validated. ` +
      `Build with tspc and the weft transformer ("plugins": [{ "transform": "weft/transformer" }]), ` +
      "or run `weft gen` for builds that run no transformer (esbuild, tsx, TypeScript 7).",
    { code: "WEFT_UNTYPED_OP" },
  );
}

const NO_VALIDATORS: Validators = {};

function runBody(entry: OpEntry, frame: Frame, thisArg: unknown, args: readonly unknown[], span: Span | undefined): unknown {
  // Executors enter the frame themselves (on this thread or rebuilt in a worker).
  if (entry.runBody) return entry.runBody(entry, frame, thisArg, args);
  if (span) return withActiveSpan(span, () => store.run(frame, Reflect.apply, entry.impl, thisArg, args));
  return store.run(frame, Reflect.apply, entry.impl, thisArg, args);
}

function settleValue(entry: OpEntry, validators: Validators, stepId: string, span: Span | undefined, attempts: number, value: unknown): unknown {
  if (validators.output) {
    try {
      validators.output(value);
    } catch (error) {
      throw settleError(entry, stepId, span, attempts, error);
    }
  }
  if (span) endSpan(span, attempts);
  if (observed) emit({ type: "op:end", op: entry.desc.name, stepId, attempts });
  return value;
}

/**
 * Deadlines, cancellations and this op's own validation errors pass through as they are;
 * anything else the body threw becomes an `OpError` naming this op, keeping the cause.
 */
function settleError(entry: OpEntry, stepId: string, span: Span | undefined, attempts: number, error: unknown): unknown {
  const desc = entry.desc;
  const surfaced =
    error instanceof DeadlineExceeded || error instanceof Cancelled || (error instanceof ValidationError && error.op === desc.name)
      ? error
      : new OpError(desc.name, attempts, error, desc.source);
  if (span) endSpan(span, attempts, surfaced);
  if (observed) emit({ type: "op:end", op: desc.name, stepId, attempts, error: surfaced });
  return surfaced;
}

/** An op's config in a call: its defaults < inherited < `.with()` < `withContext`. Internal. */
export function mergeConfig(entry: OpEntry, parent: Frame, withConfig: Config | undefined): Config {
  // Most calls add nothing: share the caller's object rather than copying it.
  if (!entry.hasConfig && withConfig === undefined) return parent.config;
  const merged = { ...entry.desc.config, ...parent.config, ...withConfig };
  return parent.overrides === EMPTY_CONFIG ? merged : { ...merged, ...parent.overrides };
}

/** The next step id under `parent`, e.g. `pipeline#0/score#1`. Internal. */
export function childStepId(parent: Frame, name: string): string {
  const id = nextStepId(parent, name);
  parent.children++;
  return id;
}

/** The step id the next child of `parent` will get, without taking it. Internal. */
export function nextStepId(parent: Frame, name: string): string {
  const index = parent.children;
  return parent.stepId === "" ? `${name}#${index}` : `${parent.stepId}/${name}#${index}`;
}

export { WeftError };
