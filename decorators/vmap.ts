/**
 * `vmap`: maps an op, Module method or jitted function over a batch. The mapping itself
 * lives in runtime/batch; this module only builds the batched function.
 */
import { isInjectedMeta, type BatchPolicy, type InjectedMeta } from "./descriptor.js";
import { ENTRY } from "./op.js";
import { itemsOf, runBatch, type BatchProgress, type BatchTarget, type ItemResult } from "../runtime/batch.js";
import type { OpEntry } from "../runtime/invoke.js";

// biome-ignore lint: any is needed for function-type variance
type AnyFn = (...args: any[]) => any;

/** `vmap` options: the batching policy plus a progress callback. */
export interface VmapOptions extends BatchPolicy {
  /** Called after every item settles: `{ done, failed, total }`. */
  readonly onProgress?: (progress: BatchProgress) => void;
}

type Axes = readonly (0 | null)[];

/** The batched form of a parameter list: mapped parameters become arrays. */
export type Batched<P extends readonly unknown[], A = undefined> = {
  [K in keyof P]: A extends Axes ? (K extends keyof A ? (A[K] extends null ? P[K] : readonly P[K][]) : readonly P[K][]) : readonly P[K][];
};

/** What a batched function resolves to: values, or per-item results under `"collect"`. */
export type VmapResult<R, O> = O extends { readonly onError: "collect" } ? ItemResult<Awaited<R>>[] : Awaited<R>[];

/** A function mapped over a batch. */
export type VmappedFn<F extends AnyFn, O> = (...args: Batched<Parameters<F>, O extends { readonly inAxes: infer A } ? A : undefined>) => Promise<VmapResult<ReturnType<F>, O>>;

function targetOf(f: AnyFn, meta: InjectedMeta | undefined): BatchTarget {
  const entry = (f as { [ENTRY]?: OpEntry })[ENTRY];
  const name = entry?.desc.name ?? meta?.name ?? (f.name || "anonymous");
  const params = entry?.desc.params.map((p) => p.name) ?? meta?.params?.map((p) => p.name) ?? [];
  return { name, entry, params, call: (args) => Promise.resolve(f(...args)) };
}

function batched(f: AnyFn, options: VmapOptions, meta: InjectedMeta | undefined, thisArg?: unknown): AnyFn {
  const target = thisArg === undefined ? targetOf(f, meta) : { ...targetOf(f, meta), call: (args: readonly unknown[]) => Promise.resolve(f.apply(thisArg, args as unknown[])) };
  const unwrap = options.onError !== "collect";
  const run = async (...args: unknown[]) => {
    const results = await runBatch(target, itemsOf(target, args, options.inAxes), options);
    // Under "throw" every item succeeded (runBatch rejected otherwise).
    return unwrap ? results.map((r) => (r as { value: unknown }).value) : results;
  };
  Object.defineProperty(run, "name", { value: `vmap(${target.name})` });
  return run;
}

function isTc39Context(value: unknown): value is ClassMethodDecoratorContext {
  return typeof value === "object" && value !== null && "kind" in value && "addInitializer" in value;
}

/**
 * Maps `f` (an op, a Module method, a jitted function or any async function) over a batch.
 * Mapped arguments are arrays with one element per item (`inAxes` chooses which). Results
 * keep input order. I/O runs concurrently up to `concurrency`; CPU ops run in chunks on
 * worker threads; an op's native batch implementation is used when it has one.
 *
 * As a method decorator, `@vmap(options)` makes the method batched with that policy.
 *
 * @weftVmap
 * @example
 * ```ts
 * const scores = await vmap(score, { concurrency: 8 })(answers);
 * const results = await vmap(score, { onError: "collect" })(answers);
 * for (const r of results) if (!r.ok) console.log(`item ${r.index} failed`, r.error);
 * const judged = await vmap(judgeOne, { inAxes: [0, null] })(answers, rubric); // rubric shared
 * ```
 */
export function vmap<F extends AnyFn, const O extends VmapOptions = {}>(f: F, options?: O): VmappedFn<F, O>;
export function vmap(options?: VmapOptions): <This, Args extends unknown[], R>(value: (this: This, ...args: Args) => R, context: ClassMethodDecoratorContext) => (this: This, ...args: Args) => R;
export function vmap(...input: unknown[]): unknown {
  const args = [...input];
  const meta = isInjectedMeta(args[args.length - 1]) ? (args.pop() as InjectedMeta) : undefined;
  if (typeof args[0] === "function" && !isTc39Context(args[1]) && args.length <= 2) {
    return batched(args[0] as AnyFn, (args[1] as VmapOptions | undefined) ?? {}, meta);
  }
  const decorate = (options: VmapOptions) =>
    function (...d: unknown[]): unknown {
      if (isTc39Context(d[1])) {
        const method = d[0] as AnyFn;
        return function (this: unknown, ...callArgs: unknown[]) {
          return batched(method, options, meta, this)(...callArgs);
        };
      }
      const [, key, descriptor] = d as [object, string | symbol, PropertyDescriptor];
      if (typeof descriptor?.value !== "function") throw new TypeError(`@vmap decorates methods, not ${String(key)}`);
      const method = descriptor.value as AnyFn;
      descriptor.value = function (this: unknown, ...callArgs: unknown[]) {
        return batched(method, options, meta, this)(...callArgs);
      };
      return descriptor;
    };
  if (typeof args[0] === "function" && isTc39Context(args[1])) return decorate({})(...args);
  if (args.length === 3 && typeof args[1] !== "undefined" && typeof args[2] === "object") return decorate({})(...args);
  return decorate((args[0] as VmapOptions | undefined) ?? {});
}
