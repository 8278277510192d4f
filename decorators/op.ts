/**
 * `op`: turns a function or method into an op. Decorators only register and wrap: the
 * behaviour of a call lives in runtime/invoke.
 */
import type { Effect } from "effect";
import { isInjectedMeta, type DurationInput, type InjectedMeta, type OpDescriptor, type OpOptions, type Placement, type RetryPolicy } from "./descriptor.js";
import { buildDescriptor } from "./describe.js";
import { callForm, checkOptions, checkPlacement } from "./options.js";
import { attach } from "../runtime/registry.js";
import { defineOp } from "../runtime/define.js";
import { invoke, type CallOverrides, type OpEntry } from "../runtime/invoke.js";
import { toMillis } from "../runtime/duration.js";
import { withContext } from "../runtime/context.js";
import { effectApi } from "../runtime/effect.js";
import type { Cancelled, DeadlineExceeded, OpError, ValidationError, WorkerCrashed } from "../runtime/errors.js";
import { lookupManifest } from "../runtime/manifest.js";
import { callerNotes, noteCaller } from "./stack.js";

// biome-ignore lint: any is needed for function-type variance in generic bounds
type AnyFn = (...args: any[]) => any;

/** Every error an op call can fail with. */
export type OpFailure = OpError | ValidationError | DeadlineExceeded | Cancelled | WorkerCrashed;

/** What `.with()` accepts: per-op or per-instance config and policy. */
export interface WithOptions {
  /** Config values the op (and every op it calls) sees through `getContext().config`. */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly timeout?: DurationInput;
  readonly retry?: RetryPolicy;
  /**
   * Where this call's body runs: `"inline"`, `"worker"` or `"remote:NAME"` (an executor
   * registered with `registerExecutor`); wins over the op's own placement and the block's.
   */
  readonly placement?: Placement;
}

/**
 * A function op: call it like the function (it returns a promise), configure it with
 * `.with()`, compose it in Effect with `.effect()`.
 */
export interface Op<F extends AnyFn> {
  (...args: Parameters<F>): Promise<Awaited<ReturnType<F>>>;
  /** What weft knows about this op. */
  readonly descriptor: OpDescriptor;
  /** The same op with config or policy overrides; the original is unchanged. */
  with(options: WithOptions): Op<F>;
  /** An Effect that calls the op; interrupting it cancels the call. */
  effect(...args: Parameters<F>): Effect.Effect<Awaited<ReturnType<F>>, OpFailure>;
}

/** The runtime entry behind an op callable or wrapped method. Internal. */
export const ENTRY = Symbol.for("weft.entry");

/** Overrides from `.with()`, in the runtime's units. Internal. */
export function toOverrides(options: WithOptions, base?: CallOverrides, name = "op"): CallOverrides {
  checkOptions(`${name}.with()`, "with", options);
  checkPlacement(`${name}.with()`, options.placement);
  return {
    ...base,
    ...(options.config !== undefined && { config: { ...base?.config, ...options.config } }),
    ...(options.timeout !== undefined && { timeout: toMillis(options.timeout, `${name}: timeout`) }),
    ...(options.retry !== undefined && { retry: options.retry }),
    ...(options.placement !== undefined && { placement: options.placement }),
  };
}

/** An Effect that calls `entry`; its interruption aborts the call's signal. Internal. */
export function effectOf(entry: OpEntry, thisArg: unknown, args: readonly unknown[], overrides?: CallOverrides): Effect.Effect<never, OpFailure> {
  return effectApi().Effect.tryPromise({
    try: (signal) => withContext({ signal }, () => invoke(entry, thisArg, args, overrides)),
    catch: (error) => error as OpFailure,
  }) as Effect.Effect<never, OpFailure>;
}

function makeOp<F extends AnyFn>(entry: OpEntry, overrides: CallOverrides | undefined): Op<F> {
  // While a jitted function is traced, each callable notes its caller's line for the tracer
  // (decorators/stack.ts `noteCaller`): read here, the stack read is cheapest.
  const call = overrides
    ? function configured(this: unknown, ...args: unknown[]) {
        if (callerNotes.tracing > 0) noteCaller(configured, args);
        return invoke(entry, this, args, overrides);
      }
    : function plain(this: unknown, ...args: unknown[]) {
        if (callerNotes.tracing > 0) noteCaller(plain, args);
        return invoke(entry, this, args);
      };
  Object.defineProperty(call, "name", { value: entry.desc.name });
  Object.defineProperty(call, ENTRY, { value: entry });
  // So vmap knows this callable is a configured call, which a worker chunk cannot honour.
  if (overrides) Object.defineProperty(call, OVERRIDES, { value: overrides });
  const op = Object.assign(call, {
    descriptor: entry.desc,
    with: (options: WithOptions) => makeOp<F>(entry, toOverrides(options, overrides, entry.desc.name)),
    effect: (...args: unknown[]) => effectOf(entry, undefined, args, overrides),
  });
  attach(op, entry.desc);
  return op as unknown as Op<F>;
}

/** The key under which a Module instance keeps its `.with()` overrides. Internal. */
export const OVERRIDES = Symbol.for("weft.overrides");

function wrapMethod(method: AnyFn, fallbackName: string, options: OpOptions, meta: InjectedMeta | undefined): AnyFn {
  const desc = buildDescriptor(method, fallbackName, options, meta ?? lookupManifest({ name: fallbackName }));
  const entry = defineOp(desc, method, options.batch);
  const wrapper = function (this: { [OVERRIDES]?: CallOverrides } | undefined, ...args: unknown[]) {
    if (callerNotes.tracing > 0) noteCaller(wrapper, args);
    return invoke(entry, this, args, this?.[OVERRIDES]);
  };
  Object.defineProperty(wrapper, "name", { value: method.name });
  Object.defineProperty(wrapper, ENTRY, { value: entry });
  attach(wrapper, desc);
  return wrapper;
}


/**
 * An op method bound to its instance, so `vmap(judge.score)` or `const f = judge.score` keep
 * `this`. It is the same op (same entry and descriptor) as the method on the prototype.
 */
function boundTo(wrapper: AnyFn, instance: unknown): AnyFn {
  const entry = (wrapper as unknown as { [ENTRY]: OpEntry })[ENTRY];
  const bound = function (...args: unknown[]) {
    if (callerNotes.tracing > 0) noteCaller(bound, args);
    return invoke(entry, instance, args, (instance as { [OVERRIDES]?: CallOverrides } | undefined)?.[OVERRIDES]);
  };
  Object.defineProperty(bound, "name", { value: wrapper.name });
  Object.defineProperty(bound, ENTRY, { value: entry });
  attach(bound, entry.desc);
  return bound;
}

/** True for a TC39 decorator context (the second argument a standard decorator receives). Internal. */
export function isTc39Context(value: unknown): value is ClassMethodDecoratorContext {
  return typeof value === "object" && value !== null && "kind" in value && "name" in value && "addInitializer" in value;
}

/** True for legacy (`experimentalDecorators`) method decorator arguments. Internal. */
export function isLegacyTarget(args: readonly unknown[]): boolean {
  return (
    args.length === 3 &&
    (typeof args[0] === "object" || typeof args[0] === "function") &&
    (typeof args[1] === "string" || typeof args[1] === "symbol") &&
    typeof args[2] === "object" &&
    args[2] !== null
  );
}

/** A decorator that works in both TC39 and legacy (`experimentalDecorators`) modes. */
function methodDecorator(options: OpOptions, meta: InjectedMeta | undefined) {
  checkOptions(`@op(${options.name ?? meta?.name ?? ""})`, "op", options);
  checkPlacement(`@op(${options.name ?? meta?.name ?? ""})`, options.placement);
  return function decorate(...args: unknown[]): unknown {
    if (isTc39Context(args[1])) {
      const context = args[1];
      if (context.kind !== "method") throw new TypeError(`@op decorates methods, not a ${context.kind} (${String(context.name)})`);
      const wrapper = wrapMethod(args[0] as AnyFn, String(context.name), options, meta);
      if (!context.static) {
        const key = context.name;
        context.addInitializer(function (this: unknown) {
          // Only while the method is still this op (a decorator above, such as @vmap, may have replaced it).
          if ((this as Record<PropertyKey, unknown>)[key] !== wrapper) return;
          Object.defineProperty(this, key, { value: boundTo(wrapper, this), writable: true, configurable: true, enumerable: false });
        });
      }
      return wrapper;
    }
    if (isLegacyTarget(args)) {
      const [target, key, descriptor] = args as [object, string | symbol, PropertyDescriptor];
      if (typeof descriptor.value !== "function") throw new TypeError(`@op decorates methods, not ${String(key)}`);
      const owner = typeof target === "function" ? target.name : target.constructor.name;
      const name = options.name ?? meta?.name ?? `${owner}.${String(key)}`;
      const wrapper = wrapMethod(descriptor.value as AnyFn, String(key), { ...options, name }, meta);
      if (typeof target === "function") {
        descriptor.value = wrapper;
        return descriptor;
      }
      // Bound on first read from an instance (the prototype itself keeps the plain wrapper).
      return {
        configurable: true,
        enumerable: descriptor.enumerable ?? false,
        get(this: object) {
          if (this === target || !(this instanceof (target.constructor as new () => object))) return wrapper;
          const bound = boundTo(wrapper, this);
          Object.defineProperty(this, key, { value: bound, writable: true, configurable: true, enumerable: false });
          return bound;
        },
        set(this: object, value: unknown) {
          Object.defineProperty(this, key, { value, writable: true, configurable: true, enumerable: false });
        },
      };
    }
    throw new TypeError("@op must decorate a class method");
  };
}

/** A method decorator usable in both decorator modes. */
export interface OpMethodDecorator {
  <This, Args extends unknown[], R extends PromiseLike<unknown>>(
    value: (this: This, ...args: Args) => R,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => R>,
  ): (this: This, ...args: Args) => R;
  <T extends (...args: any[]) => PromiseLike<unknown>>(target: object, key: string | symbol, descriptor: TypedPropertyDescriptor<T>): void;
}

/**
 * Declares an op. As a function, wraps `fn` (sync or async); as a decorator, wraps a
 * method (which must return a promise: declare it `async`). With the weft transformer in
 * the build, the op's parameter and return types are validated on every call.
 *
 * @weftOp
 * @example
 * ```ts
 * export const tokenize = op({ kind: "cpu" }, (text: string): string[] => text.split(/\W+/));
 *
 * class Judge extends Module {
 *   @op({ retry: { times: 3 }, timeout: "20s" })
 *   async score(answer: string): Promise<number> { return answer.length; }
 * }
 * ```
 */
export function op<F extends AnyFn>(fn: F): Op<F>;
export function op<F extends AnyFn>(options: OpOptions, fn: F): Op<F>;
export function op(options?: OpOptions): OpMethodDecorator;
export function op<This, Args extends unknown[], R extends PromiseLike<unknown>>(
  value: (this: This, ...args: Args) => R,
  context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => R>,
): (this: This, ...args: Args) => R;
export function op<T extends (...args: any[]) => PromiseLike<unknown>>(target: object, key: string | symbol, descriptor: TypedPropertyDescriptor<T>): void;
export function op(...input: unknown[]): unknown {
  const args = [...input];
  const meta = isInjectedMeta(args[args.length - 1]) ? (args.pop() as InjectedMeta) : undefined;
  // Bare decorator (no transformer ran): `@op` in either mode.
  if (typeof args[0] === "function" && isTc39Context(args[1])) return methodDecorator({}, meta)(...args);
  if (isLegacyTarget(args)) return methodDecorator({}, meta)(...args);
  // Function forms: op(fn) and op(options, fn) (the shapes the transformer's site finder reads too).
  const form = callForm("op", args.length, (i) => typeof args[i] === "function");
  if (form !== undefined) {
    const options = form.options === undefined ? {} : args[form.options];
    if (!isOptions(options)) throw new TypeError("op: expected op(fn), op(options, fn), @op or @op(options)");
    return functionOp(args[form.fn] as AnyFn, options, meta);
  }
  // Decorator factory: @op() / @op({...}) (and bare @op after the transformer added its meta).
  if (args.length === 0 || (args.length === 1 && (args[0] === undefined || isOptions(args[0])))) {
    return methodDecorator((args[0] as OpOptions | undefined) ?? {}, meta);
  }
  throw new TypeError("op: expected op(fn), op(options, fn), @op or @op(options)");
}

function isOptions(value: unknown): value is OpOptions {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function functionOp<F extends AnyFn>(fn: F, options: OpOptions, meta: InjectedMeta | undefined): Op<F> {
  checkOptions(`op(${options.name ?? meta?.name ?? (fn.name || "anonymous")})`, "op", options);
  checkPlacement(`op(${options.name ?? meta?.name ?? (fn.name || "anonymous")})`, options.placement);
  const desc = buildDescriptor(fn, fn.name, options, meta ?? lookupManifest({ name: options.name ?? fn.name }));
  return makeOp<F>(defineOp(desc, fn, options.batch), undefined);
}
