/**
 * `jit`: compiles a function of ops into a parallel plan on its first call per input
 * signature. The compiler lives in compiler/ and the driver in runtime/jit; this module
 * only builds the jitted function.
 */
import { isInjectedMeta, type InjectedMeta } from "./descriptor.js";
import type { Jit, JitInspection, JitOptions } from "../runtime/jit.js";
import type * as JitDriver from "../runtime/jit.js";
import type * as Staging from "../runtime/stage.js";
import { withContext, type ContextOptions } from "../runtime/context.js";
import { lazyModule } from "../runtime/lazy.js";
import type { DurationInput } from "./descriptor.js";
import { isLegacyTarget, isTc39Context } from "./op.js";
import { callForm, checkOptions } from "./options.js";

// biome-ignore lint: any is needed for function-type variance
type AnyFn = (...args: any[]) => any;

/** A jitted function: call it like the original; `explain` and `inspect` show its plans. */
export interface Jitted<F extends AnyFn> {
  (...args: Parameters<F>): Promise<Awaited<ReturnType<F>>>;
  /** Whether a call with these arguments reuses a cached plan, and if not, why. */
  explain(...args: Parameters<F>): string;
  /** Compiles for these arguments without running, and returns the graph (text, Mermaid, DOT, JSON) and plan. */
  inspect(...args: Parameters<F>): Promise<JitInspection>;
  /**
   * The same function with config (seen by every op beneath it, as `withContext` gives it)
   * and a timeout for each whole call; it shares this function's plans.
   */
  with(options: JitWithOptions): Jitted<F>;
}

/** What a jitted function's `.with()` accepts. */
export interface JitWithOptions {
  /** Config for every op the function calls; wins over op defaults and their `.with()`. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** A budget for each whole call. */
  readonly timeout?: DurationInput;
}

const WITH_KEYS = new Set(["config", "timeout"]);

// The jit driver and the compiler load at the first `jit(...)`, not with weft.
/** The jit driver, loaded on first use. Internal. */
export const jitDriver = lazyModule<typeof JitDriver>("../runtime/jit.js", import.meta.url, () => import("../runtime/jit.js"));
const staging = lazyModule<typeof Staging>("../runtime/stage.js", import.meta.url, () => import("../runtime/stage.js"));

// Staged code (transformers/jit-stage.ts) reaches the helpers as `globalThis.__weft$`, and a
// staged function may run before any `jit(...)` has (called eagerly first, or at import): an
// accessor defined when weft loads brings the helpers in on that first use.
if (Object.getOwnPropertyDescriptor(globalThis, "__weft$") === undefined) {
  Object.defineProperty(globalThis, "__weft$", {
    configurable: true,
    enumerable: false,
    get() {
      staging().installStage();
      return (globalThis as { __weft$?: unknown }).__weft$;
    },
  });
}

/** The compiler behind a jitted function. Internal. */
export const JIT = Symbol.for("weft.jit");

function jitted<F extends AnyFn>(compiler: Jit, scope?: ContextOptions): Jitted<F> {
  const call = scope
    ? function (this: unknown, ...args: unknown[]) {
        return withContext(scope, () => compiler.call(this, args));
      }
    : function (this: unknown, ...args: unknown[]) {
        return compiler.call(this, args);
      };
  Object.defineProperty(call, "name", { value: compiler.name });
  Object.defineProperty(call, JIT, { value: compiler });
  return Object.assign(call, {
    explain: (...args: unknown[]) => compiler.explain(undefined, args),
    inspect: (...args: unknown[]) => compiler.inspect(undefined, args),
    with: (options: JitWithOptions) => jitted<F>(compiler, mergeScope(compiler.name, scope, options)),
  }) as unknown as Jitted<F>;
}

function mergeScope(name: string, scope: ContextOptions | undefined, options: JitWithOptions): ContextOptions {
  if (typeof options !== "object" || options === null) throw new TypeError(`jit(${name}).with: expected an options object, received ${options === null ? "null" : typeof options}`);
  const unknown = Object.keys(options).filter((k) => !WITH_KEYS.has(k));
  if (unknown.length > 0) throw new TypeError(`jit(${name}).with: unknown option${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => JSON.stringify(k)).join(", ")} (expected config, timeout)`);
  return {
    ...scope,
    ...(options.config !== undefined && { config: { ...scope?.config, ...options.config } }),
    ...(options.timeout !== undefined && { timeout: options.timeout }),
  };
}

function decorator(options: JitOptions, meta: InjectedMeta | undefined) {
  return function (...d: unknown[]): unknown {
    if (isTc39Context(d[1])) {
      const compiler = new (jitDriver().Jit)(d[0] as AnyFn, { name: meta?.name ?? String(d[1].name), ...options }, meta);
      return function (this: unknown, ...args: unknown[]) {
        return compiler.call(this, args);
      };
    }
    const [target, key, descriptor] = d as [object, string | symbol, PropertyDescriptor];
    if (typeof descriptor?.value !== "function") throw new TypeError(`@jit decorates methods, not ${String(key)}`);
    const owner = typeof target === "function" ? target.name : target.constructor.name;
    const compiler = new (jitDriver().Jit)(descriptor.value as AnyFn, { name: meta?.name ?? `${owner}.${String(key)}`, ...options }, meta);
    descriptor.value = function (this: unknown, ...args: unknown[]) {
      return compiler.call(this, args);
    };
    return descriptor;
  };
}

/** A method decorator usable in both decorator modes. */
export interface JitMethodDecorator {
  <This, Args extends unknown[], R extends PromiseLike<unknown>>(value: (this: This, ...args: Args) => R, context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => R>): (this: This, ...args: Args) => R;
  <T extends (...args: any[]) => PromiseLike<unknown>>(target: object, key: string | symbol, descriptor: TypedPropertyDescriptor<T>): void;
}

/**
 * Jit-compiles a function (or, as `@jit`, a method) of ops. The first call per input
 * signature traces it into a graph, optimises it (dead and duplicate work removed, CPU
 * chains fused) and plans it so independent ops run in parallel; later calls run the
 * cached plan. It returns exactly what the function returns, with the same op calls;
 * what cannot be traced runs eagerly with a one-time warning (or throws, with `strict`).
 *
 * @weftJit
 * @example
 * ```ts
 * const pipeline = jit(async (question: string) => {
 *   const a = await draft(question);     // draft and critique run in parallel:
 *   const b = await critique(question);  // the trace shows they are independent
 *   return judge.score(await merge(a, b));
 * });
 * await pipeline("why is the sky blue?");
 * console.log((await pipeline.inspect("q")).mermaid);
 * ```
 */
export function jit<F extends AnyFn>(fn: F, options?: JitOptions): Jitted<F>;
export function jit<F extends AnyFn>(options: JitOptions, fn: F): Jitted<F>;
export function jit(options?: JitOptions): JitMethodDecorator;
export function jit<This, Args extends unknown[], R extends PromiseLike<unknown>>(
  value: (this: This, ...args: Args) => R,
  context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => R>,
): (this: This, ...args: Args) => R;
export function jit(...input: unknown[]): unknown {
  // Staged bodies (transformers/jit-stage.ts) call the helpers through a global.
  staging().installStage();
  const args = [...input];
  const meta = isInjectedMeta(args[args.length - 1]) ? (args.pop() as InjectedMeta) : undefined;
  if (typeof args[0] === "function" && isTc39Context(args[1])) return decorator({}, meta)(...args);
  if (isLegacyTarget(args)) return decorator({}, meta)(...args);
  // Function forms: jit(fn), jit(fn, options), jit(options, fn) (the shapes the transformer reads too).
  const form = callForm("jit", args.length, (i) => typeof args[i] === "function");
  if (form !== undefined) {
    const fn = args[form.fn] as AnyFn;
    const options = ((form.options === undefined ? undefined : args[form.options]) as JitOptions | undefined) ?? {};
    checkOptions(`jit(${options.name ?? meta?.name ?? (fn.name || "anonymous")})`, "jit", options);
    return jitted(new (jitDriver().Jit)(fn, { name: options.name ?? meta?.name ?? fn.name, ...options }, meta));
  }
  const options = (args[0] as JitOptions | undefined) ?? {};
  checkOptions(`@jit(${options.name ?? meta?.name ?? ""})`, "jit", options);
  return decorator(options, meta);
}

/**
 * Staged conditional: inside a jitted function, keeps a data-dependent branch in the
 * graph (both branches are traced; the plan runs the one the value picks). Outside a
 * trace, or on a plain value, it simply calls the chosen branch.
 *
 * @example
 * ```ts
 * const answer = jit(async (q: string) => {
 *   const verdict = await classify(q);
 *   return cond(verdict.isMath, () => solve(q), () => chat(q));
 * });
 * ```
 */
export function cond<T, E>(pred: unknown, then: () => T | PromiseLike<T>, otherwise: () => E | PromiseLike<E>): Promise<Awaited<T> | Awaited<E>> {
  return jitDriver().cond(pred, then, otherwise);
}

/**
 * Staged map: inside a jitted function, maps `fn` over a traced array as one graph node
 * (items run concurrently, results in order). Outside a trace it is `Promise.all(items.map(fn))`.
 *
 * @example
 * ```ts
 * const judgeAll = jit(async (q: string) => {
 *   const drafts = await draftMany(q);
 *   return map(drafts, (d) => judge.score(d));
 * });
 * ```
 */
export function map<T, R>(items: readonly T[], fn: (item: T, index: number) => R | PromiseLike<R>, options: { readonly concurrency?: number } = {}): Promise<Awaited<R>[]> {
  return jitDriver().map(items, fn, options);
}
