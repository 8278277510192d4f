/**
 * `vmap`: maps an op, Module method or jitted function over a batch. The mapping itself
 * lives in runtime/batch; this module only builds the batched function.
 */
import { isInjectedMeta, type BatchPolicy, type InjectedMeta } from "./descriptor.js";
import { ENTRY, OVERRIDES, isLegacyTarget, isTc39Context, type Op } from "./op.js";
import { callForm, checkOptions } from "./options.js";
import type { WeftError } from "../runtime/errors.js";
import type { BatchProgress, BatchTarget, ItemResult } from "../runtime/batch.js";
import type * as BatchEngine from "../runtime/batch.js";
import type { OpEntry } from "../runtime/invoke.js";
import { currentFrame } from "../runtime/context.js";
import type { Jit } from "../runtime/jit.js";
import { JIT, jitDriver as driver } from "./jit.js";
import { BATCHED, type BatchedInfo } from "../runtime/stream/batched.js";
import type * as StreamVmap from "../runtime/stream/vmap.js";
import { lazyModule } from "../runtime/lazy.js";
import type { Source } from "../runtime/stream/sources.js";
import type { Stream, StreamOptions } from "../runtime/stream/stream.js";

// The batch engine and streams load at a vmap's first call (the jit driver is loaded when tracing).
const engine = lazyModule<typeof BatchEngine>("../runtime/batch.js", import.meta.url, () => import("../runtime/batch.js"));
const streams = lazyModule<typeof StreamVmap>("../runtime/stream/vmap.js", import.meta.url, () => import("../runtime/stream/vmap.js"));

// biome-ignore lint: any is needed for function-type variance
type AnyFn = (...args: any[]) => any;

/** `vmap` options: the batching policy plus a progress callback. */
export interface VmapOptions extends BatchPolicy {
  /** Called after every item settles: `{ done, failed, total }`. */
  readonly onProgress?: (progress: BatchProgress) => void;
}

type Axes = readonly (0 | null)[];

/** The batched form of a parameter list: mapped parameters become arrays, `null` axes stay as they are. */
export type Batched<P extends readonly unknown[], A extends Axes | undefined = undefined> = {
  [K in keyof P]: A extends Axes ? (K extends keyof A ? (A[K] extends null ? P[K] : readonly P[K][]) : readonly P[K][]) : readonly P[K][];
};

/** What a batched function resolves to: values, or per-item results (failing with `Err`) under `"collect"`. */
export type VmapResult<R, E extends "throw" | "collect", Err = unknown> = E extends "collect" ? ItemResult<Awaited<R>, Err>[] : Awaited<R>[];

/** What a failed item of a vmap over `F` holds: an op settles every failure as a `WeftError`. */
export type ItemError<F> = F extends Op<AnyFn> ? WeftError : unknown;

/**
 * A function mapped over a batch. `.stream(items)` maps it over a source instead (an
 * array, an iterable, an async iterable, a loader, a stream: each item is `F`'s first
 * argument) and yields each item's result as it finishes, with its index.
 */
export type VmappedFn<F extends AnyFn, A extends Axes | undefined = undefined, E extends "throw" | "collect" = "throw"> = ((...args: Batched<Parameters<F>, A>) => Promise<VmapResult<ReturnType<F>, E, ItemError<F>>>) & {
  stream(items: Source<Parameters<F>[0]>, options?: StreamOptions): Stream<ItemResult<Awaited<ReturnType<F>>, ItemError<F>>>;
};

function targetOf(f: AnyFn, meta: InjectedMeta | undefined): BatchTarget {
  const entry = (f as { [ENTRY]?: OpEntry })[ENTRY];
  const compiler = (f as { [JIT]?: Jit })[JIT];
  const name = entry?.desc.name ?? meta?.name ?? (f.name || "anonymous");
  const params = entry?.desc.params.map((p) => p.name) ?? meta?.params?.map((p) => p.name) ?? [];
  return {
    name,
    entry,
    params,
    configured: (f as { [OVERRIDES]?: unknown })[OVERRIDES] !== undefined,
    call: (args) => Promise.resolve(f(...args)),
    ...(compiler && { jit: { signatureKey: (args: readonly unknown[]) => compiler.signatureKey(args), chainFor: (args: readonly unknown[]) => compiler.chainFor(undefined, args) } }),
  };
}

function batched(f: AnyFn, options: VmapOptions, meta: InjectedMeta | undefined, thisArg?: unknown): AnyFn {
  const target = thisArg === undefined ? targetOf(f, meta) : { ...targetOf(f, meta), call: (args: readonly unknown[]) => Promise.resolve(f.apply(thisArg, args as unknown[])) };
  const unwrap = options.onError !== "collect";
  const run = async (...args: unknown[]) => {
    // Inside a jitted function's trace a vmap is staged (a map node, or its calls recorded
    // one by one over a constant array): running it would make real calls while tracing.
    if (currentFrame().trace !== undefined) return driver().stageVmap(target.name, f, thisArg, args, options);
    const { runBatch, itemsOf } = engine();
    const results = await runBatch(target, itemsOf(target, args, options.inAxes), options);
    // Under "throw" every item succeeded (runBatch rejected otherwise).
    return unwrap ? results.map((r) => (r as { value: unknown }).value) : results;
  };
  Object.defineProperty(run, "name", { value: `vmap(${target.name})` });
  // A stream's `.through(vmap(f))` runs its batches on the batch engine itself (per-item results).
  const info: BatchedInfo = { target, options };
  Object.defineProperty(run, BATCHED, { value: info });
  Object.defineProperty(run, "stream", { value: (items: Source<unknown>, streamOptions?: StreamOptions) => streams().streamBatched(target, options, items, streamOptions) });
  return run;
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
export function vmap<F extends AnyFn, const A extends Axes | undefined = undefined, E extends "throw" | "collect" = "throw">(
  f: F,
  options?: VmapOptions & { readonly inAxes?: A; readonly onError?: E },
): VmappedFn<F, A, E>;
export function vmap(options?: VmapOptions): <This, Args extends unknown[], R>(value: (this: This, ...args: Args) => R, context: ClassMethodDecoratorContext) => (this: This, ...args: Args) => R;
export function vmap(...input: unknown[]): unknown {
  const args = [...input];
  const meta = isInjectedMeta(args[args.length - 1]) ? (args.pop() as InjectedMeta) : undefined;
  const form = isTc39Context(args[1]) ? undefined : callForm("vmap", args.length, (i) => typeof args[i] === "function");
  if (form !== undefined) {
    const f = args[form.fn] as AnyFn;
    const options = ((form.options === undefined ? undefined : args[form.options]) as VmapOptions | undefined) ?? {};
    checkOptions(`vmap(${meta?.name ?? (f.name || "anonymous")})`, "vmap", options);
    return batched(f, options, meta);
  }
  const decorate = (options: VmapOptions) =>
    function (...d: unknown[]): unknown {
      if (isTc39Context(d[1])) {
        const method = d[0] as AnyFn;
        return function (this: unknown, ...callArgs: unknown[]) {
          return batched(method, options, meta, this)(...callArgs);
        };
      }
      const [target, key, descriptor] = d as [object, string | symbol, PropertyDescriptor];
      // An @op method below comes as an accessor that binds it per instance; its plain form is what the prototype reads.
      const method = (descriptor?.value ?? descriptor?.get?.call(target)) as unknown;
      if (typeof method !== "function") throw new TypeError(`@vmap decorates methods, not ${String(key)}`);
      const value = function (this: unknown, ...callArgs: unknown[]) {
        return batched(method as AnyFn, options, meta, this)(...callArgs);
      };
      return { configurable: true, enumerable: descriptor.enumerable ?? false, writable: true, value };
    };
  if (typeof args[0] === "function" && isTc39Context(args[1])) return decorate({})(...args);
  if (isLegacyTarget(args)) return decorate({})(...args);
  const options = (args[0] as VmapOptions | undefined) ?? {};
  checkOptions(`@vmap(${meta?.name ?? ""})`, "vmap", options);
  return decorate(options);
}
