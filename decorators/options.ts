/**
 * The one option parser: which call forms `op`, `jit` and `vmap` accept (where the function
 * and the options sit), and which keys every options object may hold. Pure data and pure
 * functions, so the runtime's front doors and the transformer's site finder
 * (transformers/sites.ts) read the same shapes and never disagree about a call.
 *
 * An unknown key is a `TypeError` naming it and the nearest valid key, thrown where the
 * options are given (at definition time for `op`, `jit`, `vmap` and `.with()`).
 */

/** The front doors whose calls take a function and, optionally, options. */
export type CallKind = "op" | "jit" | "vmap";

/** One accepted call form: its number of arguments, where the function is and where the options are. */
export interface CallForm {
  readonly arity: number;
  readonly fn: number;
  readonly options?: number;
}

/**
 * Every function-call form, in the order they are tried: `op(fn)`, `op(options, fn)`;
 * `jit(fn)`, `jit(fn, options)`, `jit(options, fn)`; `vmap(f)`, `vmap(f, options)`.
 */
export const CALL_FORMS: Readonly<Record<CallKind, readonly CallForm[]>> = {
  op: [
    { arity: 1, fn: 0 },
    { arity: 2, fn: 1, options: 0 },
  ],
  jit: [
    { arity: 1, fn: 0 },
    { arity: 2, fn: 0, options: 1 },
    { arity: 2, fn: 1, options: 0 },
  ],
  vmap: [
    { arity: 1, fn: 0 },
    { arity: 2, fn: 0, options: 1 },
  ],
};

/**
 * The form a call of `kind` with `arity` arguments takes, given which arguments are
 * functions; `undefined` when it is none of them (a decorator factory, or a mistake).
 *
 * @example
 * ```ts
 * callForm("jit", 2, (i) => i === 1); // { arity: 2, fn: 1, options: 0 }
 * callForm("op", 2, (i) => i === 0); // undefined: op takes its options first
 * ```
 */
export function callForm(kind: CallKind, arity: number, isFunction: (index: number) => boolean): CallForm | undefined {
  for (const form of CALL_FORMS[kind]) {
    if (form.arity !== arity || !isFunction(form.fn)) continue;
    if (form.options !== undefined && isFunction(form.options)) continue;
    return form;
  }
  return undefined;
}

/** The name of an options shape. */
export type ShapeName =
  | "op"
  | "retry"
  | "backoff"
  | "batch"
  | "cache"
  | "with"
  | "jit"
  | "vmap"
  | "configure"
  | "withContext"
  | "stream"
  | "streamMap"
  | "streamBatch"
  | "streamBuffer"
  | "streamThrough"
  | "csv"
  | "files"
  | "register"
  | "progressBar";

/** An options object's keys; a key naming a shape holds a nested options object of that shape. */
type Shape = Readonly<Record<string, ShapeName | null>>;

/** The options objects weft takes, each with its keys (a key naming a shape is checked inside too). */
export const OPTION_SHAPES = {
  op: { name: null, kind: null, config: null, retry: "retry", timeout: null, concurrency: null, validate: null, placement: null, batch: "batch", cache: "cache", risk: null },
  retry: { times: null, backoff: "backoff", retryOn: null },
  backoff: { initial: null, factor: null, max: null, jitter: null },
  batch: { run: null, maxBatch: null },
  cache: { ttl: null, configKeys: null },
  with: { config: null, timeout: null, retry: "retry", placement: null },
  jit: { name: null, strict: null, static: null, cacheSize: null, concurrency: null, onError: null },
  vmap: { inAxes: null, concurrency: null, chunkSize: null, onError: null, onProgress: null },
  configure: { concurrency: null, validate: null, random: null },
  withContext: { config: null, timeout: null, signal: null, tenant: null, user: null, values: null, placement: null, run: null },
  stream: { chunk: null, onError: null, onDeadLetter: null, onProgress: null, signal: null, name: null },
  streamMap: { concurrency: null, ordered: null },
  streamBatch: { maxWaitMs: null },
  streamBuffer: { strategy: null },
  streamThrough: { concurrency: null },
  csv: { header: null, delimiter: null },
  files: { match: null, recursive: null },
  register: { replace: null },
  progressBar: { label: null, output: null, everyMs: null, redrawMs: null, now: null },
} as const satisfies Record<ShapeName, Shape>;

/**
 * Throws a `TypeError` when `value` (an options object of shape `shape`, given to `where`)
 * holds a key the shape does not know, naming the key and the nearest valid one. Nested
 * shapes (`retry`, `retry.backoff`, `batch`, `cache`) are checked too.
 *
 * @example
 * ```ts
 * checkOptions("op(flaky)", "op", { timeuot: "1s" }); // TypeError: op(flaky): unknown option "timeuot"; did you mean "timeout"? ...
 * ```
 */
export function checkOptions(where: string, shape: ShapeName, value: unknown, path = ""): void {
  if (value === undefined || value === null) return;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`${where}: ${path === "" ? "options" : path} must be an object, received ${Array.isArray(value) ? "an array" : typeof value}`);
  }
  const known = OPTION_SHAPES[shape] as Shape;
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(known, key)) throw new TypeError(unknownKey(where, shape, path, key, Object.keys(known)));
    const inner = known[key];
    if (inner !== null && inner !== undefined && (shape !== "cache" || key !== "ttl")) {
      const nested = (value as Record<string, unknown>)[key];
      // `cache: false` and other non-object policy values are checked by their own owners.
      if (typeof nested === "object" && nested !== null && !Array.isArray(nested)) checkOptions(where, inner, nested, path === "" ? key : `${path}.${key}`);
    }
  }
}

/** Keys someone meant when they wrote another: checked before spelling distance. */
const ALIASES: Readonly<Record<string, string>> = { retries: "retry", attempts: "times", timeoutMs: "timeout", deadline: "timeout", onErrors: "onError", maxConcurrency: "concurrency" };

function unknownKey(where: string, shape: ShapeName, path: string, key: string, valid: readonly string[]): string {
  const at = path === "" ? "" : ` in ${path}`;
  const nearest = valid.includes(ALIASES[key] ?? "") ? ALIASES[key] : nearestKey(key, valid);
  const hint =
    nearest !== undefined
      ? `; did you mean "${nearest}"?`
      : shape === "with" || shape === "withContext"
        ? `; config values go under config: { ${key}: ... }`
        : "";
  return `${where}: unknown option "${key}"${at}${hint} (valid: ${valid.join(", ")})`;
}

/** The valid key closest in spelling to `key`, when it is close enough to be a typo. */
export function nearestKey(key: string, valid: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of valid) {
    const d = distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

/** Edit distance with adjacent transpositions (`timeuot` is one edit from `timeout`). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The prefix of a placement that names a registered executor (`registerExecutor`). */
export const REMOTE = "remote:";

/**
 * Checks a placement given to `where` (an op, `.with()`, `withContext`): `"auto"`,
 * `"inline"`, `"worker"` or `"remote:NAME"`. The name itself is looked up when a call
 * runs, so an executor may be registered after the ops that use it are defined.
 *
 * @example
 * ```ts
 * checkPlacement("op(score)", "remote:queue"); // ok
 * checkPlacement("op(score)", "gpu");          // TypeError: ... must be "auto", "inline", "worker" or "remote:NAME"
 * ```
 */
export function checkPlacement(where: string, placement: unknown): void {
  if (placement === undefined || placement === "auto" || placement === "inline" || placement === "worker") return;
  if (typeof placement === "string" && placement.startsWith(REMOTE) && /^[A-Za-z0-9._-]+$/.test(placement.slice(REMOTE.length))) return;
  throw new TypeError(`${where}: placement must be "auto", "inline", "worker" or "remote:NAME", received ${JSON.stringify(placement)}`);
}
