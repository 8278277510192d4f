/**
 * `Module`: pymai's single abstraction. A class whose `@op` methods are ops, configured
 * per instance with `.with()`; and `Sequential`, which pipes one step's output to the next.
 */
import type { Effect } from "effect";
import type { InjectedMeta, OpOptions } from "./descriptor.js";
import { ENTRY, OVERRIDES, effectOf, op, toOverrides, type Op, type OpFailure, type WithOptions } from "./op.js";
import { invoke, type CallOverrides, type OpEntry } from "../runtime/invoke.js";

type Handle = { readonly target: Module; readonly overrides: CallOverrides };
const handles = new WeakMap<object, Handle>();

// biome-ignore lint: any is needed for function-type variance
type AnyFn = (...args: any[]) => any;

/** The op-method names of a Module subclass. */
export type OpMethods<M> = {
  [K in Exclude<keyof M, keyof Module>]: M[K] extends (...args: never[]) => PromiseLike<unknown> ? K : never;
}[Exclude<keyof M, keyof Module>] &
  string;

/**
 * Base class for a group of ops that share state (a model name, a client, a template).
 * Methods decorated with `@op` are ops; `.with()` returns a configured handle.
 *
 * @example
 * ```ts
 * class Judge extends Module {
 *   constructor(readonly model: string) { super(); }
 *   @op({ retry: { times: 3 }, timeout: "20s" })
 *   async score(answer: string): Promise<number> {
 *     const { config } = getContext();
 *     return answer.length * (config.weight as number ?? 1);
 *   }
 * }
 * const strict = new Judge("small").with({ config: { weight: 2 }, timeout: "5s" });
 * await strict.score("an answer");
 * ```
 */
export abstract class Module {
  /**
   * A handle on this instance whose op methods run with these config and policy overrides.
   * The instance itself is unchanged; private fields keep working through the handle.
   */
  with(options: WithOptions): this {
    const known = handles.get(this);
    const target = known?.target ?? this;
    const overrides = toOverrides(options, known?.overrides, target.constructor.name);
    const bound = new Map<PropertyKey, unknown>();
    const handle: Handle = { target, overrides };
    const proxy = new Proxy(target, {
      get(t, key) {
        if (key === OVERRIDES) return overrides;
        const value: unknown = Reflect.get(t, key, t);
        if (typeof value !== "function") return value;
        let fn = bound.get(key);
        if (fn === undefined) {
          const entry = (value as { [ENTRY]?: OpEntry })[ENTRY];
          // Op methods get this handle's overrides; every body runs on the real instance,
          // where `#private` fields live.
          fn =
            key === "with" || key === "effect"
              ? (value as AnyFn).bind(proxy)
              : entry
                ? (...args: unknown[]) => invoke(entry, t, args, overrides)
                : (value as AnyFn).bind(t);
          bound.set(key, fn);
        }
        return fn;
      },
    });
    handles.set(proxy, handle);
    return proxy as this;
  }

  /**
   * An Effect that calls the op method `name`, for code composed in Effect.
   *
   * @example
   * ```ts
   * const program = judge.effect("score", "an answer").pipe(Effect.retry({ times: 1 }));
   * ```
   */
  effect<K extends OpMethods<this>>(
    name: K,
    ...args: this[K] extends (...a: infer A) => unknown ? A : never
  ): Effect.Effect<this[K] extends (...a: never[]) => PromiseLike<infer R> ? R : never, OpFailure> {
    const handle = handles.get(this);
    const target = handle?.target ?? this;
    const method = (target as unknown as Record<string, unknown>)[name] as { [ENTRY]?: OpEntry } | undefined;
    const entry = method?.[ENTRY];
    if (!entry) throw new TypeError(`${target.constructor.name}.${name} is not an @op method`);
    return effectOf(entry, target, args, handle?.overrides) as never;
  }
}

/** One step of a `Sequential`: an op or function, or a Module with an async `forward`. */
export type Step<I, O> = ((input: I) => O | PromiseLike<O>) | { forward(input: I): PromiseLike<O> };

type StepOut<S> = S extends { forward(input: never): PromiseLike<infer O> } ? O : S extends (input: never) => infer O ? Awaited<O> : never;

/**
 * Composes steps into one op: the first receives the call's arguments, each next one the
 * previous output. The composite is itself an op, so `.with()` config reaches every step.
 *
 * @example
 * ```ts
 * const pipeline = Sequential(tokenize, vectorize, similarity).with({ config: { threshold: 0.8 }, timeout: "1s" });
 * const result = await pipeline("hello world");
 * ```
 */
export function Sequential<A extends unknown[], B>(s1: (...args: A) => B | PromiseLike<B>): Op<(...args: A) => Promise<B>>;
export function Sequential<A extends unknown[], B, S2 extends Step<B, unknown>>(
  s1: ((...args: A) => B | PromiseLike<B>) | { forward(...args: A): PromiseLike<B> },
  s2: S2,
): Op<(...args: A) => Promise<StepOut<S2>>>;
export function Sequential<A extends unknown[], B, C, S3 extends Step<C, unknown>>(
  s1: ((...args: A) => B | PromiseLike<B>) | { forward(...args: A): PromiseLike<B> },
  s2: Step<B, C>,
  s3: S3,
): Op<(...args: A) => Promise<StepOut<S3>>>;
export function Sequential<A extends unknown[], B, C, D, S4 extends Step<D, unknown>>(
  s1: ((...args: A) => B | PromiseLike<B>) | { forward(...args: A): PromiseLike<B> },
  s2: Step<B, C>,
  s3: Step<C, D>,
  s4: S4,
): Op<(...args: A) => Promise<StepOut<S4>>>;
export function Sequential<A extends unknown[], B, C, D, E, S5 extends Step<E, unknown>>(
  s1: ((...args: A) => B | PromiseLike<B>) | { forward(...args: A): PromiseLike<B> },
  s2: Step<B, C>,
  s3: Step<C, D>,
  s4: Step<D, E>,
  s5: S5,
): Op<(...args: A) => Promise<StepOut<S5>>>;
export function Sequential(...steps: Array<Step<unknown, unknown>>): Op<(...args: unknown[]) => Promise<unknown>>;
export function Sequential(...steps: Array<Step<unknown, unknown> | { forward(...args: unknown[]): PromiseLike<unknown> }>): Op<AnyFn> {
  if (steps.length === 0) throw new TypeError("Sequential needs at least one step");
  const calls = steps.map((step, i): AnyFn => {
    if (typeof step === "function") return step as AnyFn;
    if (step && typeof (step as { forward?: unknown }).forward === "function") return (...args: unknown[]) => (step as { forward: AnyFn }).forward(...args);
    throw new TypeError(`Sequential: step ${i} is neither a function nor a Module with forward()`);
  });
  const names = steps.map((s) => (typeof s === "function" ? s.name : s.constructor.name) || "step");
  const composite = async (...args: unknown[]) => {
    let value = await calls[0]!(...args);
    for (let i = 1; i < calls.length; i++) value = await calls[i]!(value);
    return value;
  };
  // Described by construction: each step is an op that checks its own inputs and outputs.
  const meta: InjectedMeta = { __weft: 1, params: [{ name: "args", rest: true }] };
  return (op as (options: OpOptions, fn: AnyFn, meta: InjectedMeta) => Op<AnyFn>)({ name: `Sequential(${names.join(", ")})`, kind: "io" }, composite, meta);
}
