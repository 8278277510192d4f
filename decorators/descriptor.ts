/**
 * The data every stage agrees on: what an op is (`OpDescriptor`), its policy, and the
 * metadata the build-time transformer injects into each `op()` / `@op` site.
 *
 * This module is types plus two tiny guards: the transformer imports it for types only,
 * so it must never import the runtime.
 */

/** A JSON Schema (draft 2020-12) as plain data. */
export type JsonSchema = { readonly [key: string]: unknown } | boolean;

/**
 * What kind of work an op does. It decides where the op may run and what the optimiser may
 * do with it.
 */
export type OpKind =
  /** Async work that waits on the outside world (network, disk, a model). Runs concurrently on the event loop. */
  | "io"
  /** Synchronous compute. May move to a worker thread when it is worth the round trip. */
  | "cpu"
  /** Deterministic and side-effect free: may be deduplicated, folded and cached. */
  | "pure";

/** Kinds whose calls may be deduplicated (CSE) or folded at compile time. */
export const Cacheable: ReadonlySet<OpKind> = new Set<OpKind>(["pure"]);
/** Kinds whose chains may be fused into one worker task. */
export const Fusable: ReadonlySet<OpKind> = new Set<OpKind>(["cpu", "pure"]);

/** A duration: milliseconds, or a string such as `"250ms"`, `"20s"`, `"2m"`. */
export type DurationInput = number | `${number}${"ms" | "s" | "m" | "h"}`;

/** Exponential backoff between retry attempts. */
export interface BackoffPolicy {
  /** Delay before the first retry. Default 100 ms. */
  readonly initial?: DurationInput;
  /** Multiplier applied per attempt. Default 2. */
  readonly factor?: number;
  /** Upper bound on a single delay. Default 30 s. */
  readonly max?: DurationInput;
  /**
   * Fraction of the delay randomised, 0 to 1: a delay `d` becomes a uniform value in
   * `[d * (1 - jitter), d]` ("equal jitter" when 0.5). Default 0.5.
   */
  readonly jitter?: number;
}

/** When and how often a failed op call runs again. */
export interface RetryPolicy {
  /** Retries after the first attempt (so `times: 3` means up to 4 attempts). */
  readonly times: number;
  readonly backoff?: BackoffPolicy;
  /**
   * Which errors are worth retrying. Cancellations and invalid inputs are never retried,
   * whatever this returns (the same input fails the same way). An invalid output (the op's
   * own return value failing its type: a model's malformed reply, say) is retried when this
   * returns true for its `ValidationError`; the output is then checked inside each attempt.
   * Default: transient failures only (network errors, an attempt's
   * own timeout, `WorkerCrashed`, HTTP 408/409/425/429/5xx); never `TypeError`,
   * `RangeError`, `ReferenceError`, `SyntaxError` or another 4xx. An error carrying
   * `retryAfterMs` or a `Retry-After` header delays the next attempt at least that long.
   */
  readonly retryOn?: (error: unknown, attempt: number) => boolean;
}

/**
 * Where an op's body runs: decided by the cost model (`"auto"`, the default) unless forced
 * to the calling thread, the worker pool, or an executor registered with
 * `registerExecutor(NAME, executor)` (`"remote:NAME"`, e.g. a job queue on other machines).
 */
export type Placement = "auto" | "worker" | "inline" | `remote:${string}`;

/** Result caching of one op (see runtime/durable). */
export interface CachePolicy {
  /** How long a cached result is served. */
  readonly ttl: DurationInput;
  /**
   * Config keys whose values change the result and so key the cache beside the arguments.
   * Default `["model", "temperature", "seed"]`.
   */
  readonly configKeys?: readonly string[];
}

/**
 * How risky an op's side effects are. `"high"` ops are put to the approval policy before
 * their body runs (see `durable`'s `approvals`).
 */
export type Risk = "low" | "high";

/** Policy attached to an op: everything besides the body that shapes a call. */
export interface OpPolicy {
  readonly retry?: RetryPolicy;
  /** Budget for one call including retries; the caller's deadline still applies when earlier. */
  readonly timeout?: DurationInput;
  /** Maximum concurrent calls of this op (per op, or per Module instance method). */
  readonly concurrency?: number;
  /** Turn input and output validation off for this op. Default true when schemas exist. */
  readonly validate?: boolean;
  readonly placement?: Placement;
  /**
   * Cache results, keyed by op, op version, canonical arguments and the config keys that
   * change results. `false` keeps a `pure` op uncached even when pure caching is on.
   */
  readonly cache?: CachePolicy | false;
  readonly risk?: Risk;
}

/**
 * A native batch implementation: one call that handles many items (an embeddings endpoint
 * that takes many inputs, say). `vmap` calls it in chunks of at most `maxBatch` items and
 * expects exactly one result per item, in order.
 */
export interface NativeBatch<Args extends readonly unknown[] = readonly unknown[], R = unknown> {
  readonly run: (items: readonly Args[]) => readonly R[] | PromiseLike<readonly R[]>;
  /** Largest chunk the implementation accepts. Default: the whole batch. */
  readonly maxBatch?: number;
}

/** How `vmap` maps an op or function over a batch. */
export interface BatchPolicy {
  /**
   * Per parameter: `0` maps over that argument (an array, one element per item), `null`
   * passes the same value to every item. Default: every argument is mapped.
   */
  readonly inAxes?: readonly (0 | null)[];
  /** Most items in flight at once. Default 16 for async work. */
  readonly concurrency?: number;
  /** Items per worker task (or per native batch call). Default: measured, or the whole batch. */
  readonly chunkSize?: number;
  /**
   * `"throw"` (default): the first failure cancels the rest and rejects with a
   * `BatchItemError` naming its index. `"collect"`: every item settles and returns a
   * value or a typed error with its index.
   */
  readonly onError?: "throw" | "collect";
}

/** The options a user may pass to `op(...)` / `@op(...)`. */
export interface OpOptions extends OpPolicy {
  /** A native batch implementation `vmap` uses instead of calling the op per item. */
  readonly batch?: NativeBatch<never, unknown>;
  /** Display name; defaults to the function or method name. */
  readonly name?: string;
  /** Default `"io"` for async bodies and `"cpu"` for sync ones when not given. */
  readonly kind?: OpKind;
  /** Default config values this op sees through `getContext().config`. */
  readonly config?: Readonly<Record<string, unknown>>;
}

/** Where an op can be imported from: what a worker thread needs to run it. */
export interface OpLocator {
  /** The emitted module's URL (`file://...`). */
  readonly module: string;
  /** The export that holds the op (a function op) or its class (a method op). */
  readonly export: string;
  /** For a method op, the method name on the class prototype. */
  readonly member?: string;
}

/** One parameter as the transformer saw it. */
export interface ParamInfo {
  readonly name: string;
  readonly schema?: JsonSchema;
  readonly optional?: boolean;
  readonly rest?: boolean;
}

/** Where in the source an op was declared. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/**
 * What the transformer injects at each `op()` / `@op` / `jit()` / `@jit` / `vmap()` site.
 * Recognised by the `__weft` brand; never written by hand.
 */
export interface InjectedMeta {
  readonly __weft: 1;
  readonly name?: string;
  readonly params?: readonly ParamInfo[];
  readonly returns?: JsonSchema;
  /** The op returns an `AsyncIterable` (a token stream): `returns` describes each item it yields. */
  readonly stream?: true;
  /** Shared definitions referenced by `$ref: "#/$defs/Name"` from params and returns. */
  readonly defs?: Readonly<Record<string, JsonSchema>>;
  /** The checks generated from these schemas at build time (transformers/checks.ts). */
  readonly checks?: InjectedChecks;
  readonly doc?: string;
  readonly locator?: OpLocator;
  /** Content hash of the schemas, to detect stale manifests. */
  readonly hash?: string;
  readonly source?: SourceLocation;
  /**
   * For a jit site: branches and equality tests on traced values that a runtime tracer
   * cannot see (see transformers/jit-check.ts). Any entry makes the function run eagerly.
   */
  readonly untraceable?: readonly { readonly reason: string; readonly line: number; readonly column: number }[];
}

/**
 * Where `weft gen` writes the generated checks of a manifest's ops: beside it, as a
 * CommonJS module (`weft.manifest.json` -> `weft.manifest.checks.cjs`) exporting one
 * `InjectedChecks` per entry's schema hash. The runtime `require`s it: no eval.
 *
 * @example
 * ```ts
 * manifestChecksFile("dist/weft.manifest.json"); // "dist/weft.manifest.checks.cjs"
 * ```
 */
export function manifestChecksFile(manifest: string): string {
  return `${manifest.replace(/\.json$/, "")}.checks.cjs`;
}

/** True for transformer-injected metadata. */
export function isInjectedMeta(value: unknown): value is InjectedMeta {
  return typeof value === "object" && value !== null && (value as { __weft?: unknown }).__weft === 1;
}

/** Everything the runtime, the JIT and the workers know about one op. */
export interface OpDescriptor {
  /** Unique in the registry: the locator when known, otherwise name plus a counter. */
  readonly id: string;
  readonly name: string;
  readonly kind: OpKind;
  /** True when the body was declared `async` (or returns a promise, once observed). */
  readonly async: boolean;
  readonly params: readonly ParamInfo[];
  readonly returns?: JsonSchema;
  /** The op returns an `AsyncIterable`: `returns` describes each item, checked as it is yielded. */
  readonly stream?: true;
  readonly defs?: Readonly<Record<string, JsonSchema>>;
  /** Generated checks of `params` and `returns`, when the build (or `weft gen`) wrote them. */
  readonly checks?: InjectedChecks;
  readonly doc?: string;
  readonly locator?: OpLocator;
  readonly hash?: string;
  readonly source?: SourceLocation;
  readonly policy: OpPolicy;
  readonly config: Readonly<Record<string, unknown>>;
  /** True when the transformer (or a manifest) supplied schemas. */
  readonly typed: boolean;
}

/** What the runtime passes to generated checks: the vetted formats and helpers of decorators/formats.ts. */
export interface CheckLib {
  readonly formats: Readonly<Record<string, (text: string) => boolean>>;
  readonly codePoints: (text: string) => number;
  readonly isPlainObject: (value: object) => boolean;
}

/** A generated check: true when `value` matches. */
export type Check = (value: unknown) => boolean;

/** The checks of one site, as generated: one per parameter (null where nothing is checked) and one for the result. */
export interface SiteChecks {
  readonly params: readonly (Check | null)[];
  readonly returns?: Check | null;
}

/**
 * What the transformer injects as `META.checks`: a function of the `CheckLib` that builds
 * the site's checks (plain JavaScript written at build time; nothing is compiled at run time).
 */
export type InjectedChecks = (lib: CheckLib) => SiteChecks;
