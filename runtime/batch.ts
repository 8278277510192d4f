/**
 * The batch engine behind `vmap`: maps one callable over a batch with bounded concurrency,
 * keeps input order, and accounts for every item (a value, or a typed error with its index).
 *
 * Strategies, chosen per call: a native batch implementation in chunks; a chunk runner
 * (worker threads) for CPU ops; otherwise one call per item on the event loop.
 */
import type { BatchPolicy } from "../decorators/descriptor.js";
import { abortReason, allowManyListeners, childStepId, currentFrame, linkSignals, raceAbort, store, type Frame, type RunScope } from "./context.js";
import { BatchItemError, Cancelled, OpError, ValidationError } from "./errors.js";
import { emit, observed } from "./events.js";
import { invoke, validateInput, validateOutput, type OpEntry } from "./invoke.js";
import { endSpan, startSpan } from "./telemetry.js";
import { currentRoundTripMs, defaultPool, executorFor, meanMs, REMOTE, workerExecutor, type Executor, type FusedChain } from "./executors.js";
import { whyNotWorker, workersUnavailable } from "./workers/capability.js";
import type { ChainPlan } from "./fused.js";
import { policyRefusal } from "../compiler/check.js";

/**
 * The outcome of one item under `onError: "collect"`. `E` is what a failed item holds: a
 * `WeftError` for a vmap over an op (its body's errors arrive wrapped in `OpError`), and
 * `unknown` where a plain function may throw anything.
 */
export type ItemResult<R, E = unknown> = { readonly ok: true; readonly index: number; readonly value: R } | { readonly ok: false; readonly index: number; readonly error: E };

/** Progress of a batch, for progress bars. */
export interface BatchProgress {
  readonly done: number;
  readonly failed: number;
  readonly total: number;
}

/** What the batch engine maps over. Internal. */
export interface BatchTarget {
  readonly name: string;
  /** Calls the target for one item. */
  readonly call: (args: readonly unknown[]) => Promise<unknown>;
  /** The op behind the target, when it is one: enables native batches and chunk runners. */
  readonly entry: OpEntry | undefined;
  /** Parameter names, for error messages. */
  readonly params: readonly string[];
  /** The jitted function behind the target, when it is one: enables chunked worker runs of its plan. */
  /** True for an op configured with `.with()`: its calls carry overrides a worker chunk would drop. */
  readonly configured?: boolean;
  readonly jit?: { signatureKey(args: readonly unknown[]): string; chainFor(args: readonly unknown[]): Promise<ChainPlan | undefined> };
}

/** Options of one batch run: the policy plus a progress callback. */
export interface BatchOptions extends BatchPolicy {
  readonly onProgress?: (progress: BatchProgress) => void;
}

const DEFAULT_CONCURRENCY = 16;

/**
 * Splits call arguments into one argument list per item, following `inAxes`.
 * Mapped arguments must be arrays of one common length.
 */
export function itemsOf(target: BatchTarget, args: readonly unknown[], inAxes: readonly (0 | null)[] | undefined): unknown[][] {
  let length: number | undefined;
  let first = -1;
  for (let i = 0; i < args.length; i++) {
    if (!isMapped(inAxes, i)) continue;
    const arg = args[i];
    const name = target.params[i] ?? `argument ${i}`;
    if (!Array.isArray(arg)) {
      throw new ValidationError(`vmap(${target.name})`, [
        { direction: "input", parameter: name, path: "$", expected: "an array (inAxes 0: one element per item)", received: describeKind(arg), keyword: "inAxes" },
      ]);
    }
    if (length === undefined) {
      length = arg.length;
      first = i;
    } else if (arg.length !== length) {
      throw new ValidationError(`vmap(${target.name})`, [
        {
          direction: "input",
          parameter: name,
          path: "$",
          expected: `${length} items, like ${target.params[first] ?? `argument ${first}`}`,
          received: `${arg.length} items`,
          keyword: "inAxes",
        },
      ]);
    }
  }
  if (length === undefined) throw new TypeError(`vmap(${target.name}): no argument is mapped (every inAxes entry is null)`);
  const items: unknown[][] = new Array(length);
  for (let n = 0; n < length; n++) {
    const item = new Array(args.length);
    for (let i = 0; i < args.length; i++) item[i] = isMapped(inAxes, i) ? (args[i] as unknown[])[n] : args[i];
    items[n] = item;
  }
  return items;
}

/**
 * Maps `target` over `items`. Under `"collect"` every item settles; under `"throw"` the
 * first failure aborts the rest (none starts after it) and rejects with its index.
 * `onItem` receives each item's result as it settles (a stream hands it on at once); items
 * the batch's stop cuts short are only in the answer.
 */
export async function runBatch(target: BatchTarget, items: readonly (readonly unknown[])[], options: BatchOptions, onItem?: (result: ItemResult<unknown>) => void): Promise<ItemResult<unknown>[]> {
  const parent = currentFrame();
  const total = items.length;
  const collect = options.onError === "collect";
  const stepId = childStepId(parent, `vmap(${target.name})`);
  const span = startSpan({ name: `vmap(${target.name})`, kind: "vmap", stepId, parent: parent.span, attributes: { "weft.batch.size": total } });
  // One signal for the whole batch: it fires when the caller's does, or on the first
  // failure under "throw", so in-flight items stop and no new item starts.
  const name = `vmap(${target.name})`;
  const controller = new AbortController();
  const unlink = linkSignals(controller, [parent.signal], name);
  // Every item listens to this one signal (and may pass it to timers and fetches).
  allowManyListeners(controller.signal);
  const frame = parent.derive({ signal: controller.signal, stepId, ...(span && { span }) });

  const results: ItemResult<unknown>[] = new Array(total);
  let done = 0;
  let failed = 0;
  let firstFailure: BatchItemError | undefined;
  const report = () => {
    const progress = { done, failed, total };
    options.onProgress?.(progress);
    if (observed) emit({ type: "vmap:progress", op: target.name, ...progress });
  };
  // In a durable run each item is a node keyed by its index: journaled ones are not run
  // again, finished ones are journaled, and items that fail for good become dead letters.
  const run = parent.run;
  const settle = (index: number, ok: boolean, valueOrError: unknown) => {
    if (results[index] !== undefined) return;
    if (run !== undefined && !ok && !isOwnAbort(valueOrError, controller.signal) && !parent.signal.aborted) run.deadLetter(stepId, index, items[index]!, valueOrError);
    if (ok) {
      results[index] = { ok: true, index, value: valueOrError };
    } else {
      failed++;
      results[index] = { ok: false, index, error: valueOrError };
      if (!collect && !firstFailure && !isOwnAbort(valueOrError, controller.signal)) {
        firstFailure = new BatchItemError(target.name, index, valueOrError);
        controller.abort(new Cancelled(`vmap(${target.name})`, `item ${index} failed`));
      }
    }
    done++;
    report();
    onItem?.(results[index]!);
  };

  try {
    const work =
      run === undefined
        ? store.run(frame, () => dispatch(target, items, options, frame, settle))
        : store.run(frame, () =>
            dispatchDurable(run, stepId, target, items, options, frame, settle, results, (index) => {
              done++;
              onItem?.(results[index]!);
            }),
          );
    // The batch ends when its signal fires, even while items still run (they are abandoned,
    // their signal fired); whatever they settle with later is ignored.
    work.catch(() => undefined);
    await raceAbort(work, controller.signal, name).catch((error: unknown) => {
      if (!controller.signal.aborted) throw error;
    });
    if (parent.signal.aborted) {
      const reason = abortReason(parent.signal, name);
      if (!collect) throw reason;
      // "collect" never loses an item: finished ones keep their value, the rest get the
      // deadline or cancellation that ended the batch.
      for (let i = 0; i < total; i++) if (results[i] === undefined) results[i] = { ok: false, index: i, error: reason };
    }
    if (firstFailure) throw firstFailure;
    for (let i = 0; i < total; i++) {
      // Items never started (a failure under "throw" stopped the batch) are accounted for too.
      if (results[i] === undefined) results[i] = { ok: false, index: i, error: new Cancelled(`vmap(${target.name})`, "not started") };
    }
    if (span) endSpan(span, 1);
    return results;
  } catch (error) {
    if (span) endSpan(span, 1, error);
    throw error;
  } finally {
    unlink();
  }
}

/**
 * `dispatch` for a batch in a durable run: journaled items settle from the journal; the rest
 * run by the usual strategies, each item called in a frame named by its index (so the ops
 * it calls get journal keys that do not depend on which item started first).
 */
function dispatchDurable(
  run: RunScope,
  stepId: string,
  target: BatchTarget,
  items: readonly (readonly unknown[])[],
  options: BatchOptions,
  frame: Frame,
  settle: (index: number, ok: boolean, valueOrError: unknown) => void,
  results: ItemResult<unknown>[],
  countDone: (index: number) => void,
): Promise<void> {
  const pending: number[] = [];
  for (let i = 0; i < items.length; i++) {
    // An item journaled by its own op call is found when that call runs (without its body).
    const hit = run.lookup(`${stepId}[${i}]`, items[i]!);
    if (hit === undefined) pending.push(i);
    else {
      results[i] = { ok: true, index: i, value: hit.value };
      countDone(i);
    }
  }
  if (pending.length === 0) return Promise.resolve();
  const rest = pending.map((i) => items[i]!);
  const indexOf = new Map<readonly unknown[], number>();
  for (let j = 0; j < rest.length; j++) indexOf.set(rest[j]!, pending[j]!);
  const call = target.call;
  // An item that is one op call, made through `call`, is journaled by that call (under
  // `<item>/<op>#0`): a second record for the item would double the writes.
  const byCall = target.entry !== undefined ? new Set<number>() : undefined;
  const named: BatchTarget = {
    ...target,
    call: (args) => {
      const index = indexOf.get(args)!;
      byCall?.add(index);
      return store.run(currentFrame().derive({ stepId: `${stepId}[${index}]` }), call, args);
    },
  };
  // Items journaled here settle once their append is stored; the batch waits for them.
  const appends: Promise<void>[] = [];
  const work = dispatch(named, rest, options, frame, (j, ok, valueOrError) => {
    const index = pending[j]!;
    if (!ok) return settle(index, false, valueOrError);
    let appended: Promise<void> | undefined;
    try {
      if (!byCall?.has(index)) appended = run.record(`${stepId}[${index}]`, items[index]!, valueOrError);
    } catch (error) {
      return settle(index, false, error);
    }
    const done = () => {
      run.itemDone(stepId, index);
      settle(index, true, valueOrError);
    };
    if (appended === undefined) return done();
    appends.push(appended.then(done, (error: unknown) => settle(index, false, error)));
  });
  return work.then(async () => {
    for (let i = 0; i < appends.length; i++) await appends[i];
  });
}

/** True for the cancellation this batch itself caused, which is not a failure of its own. */
function isOwnAbort(error: unknown, signal: AbortSignal): boolean {
  return signal.aborted && error instanceof Cancelled;
}

async function dispatch(
  target: BatchTarget,
  items: readonly (readonly unknown[])[],
  options: BatchOptions,
  frame: Frame,
  settle: (index: number, ok: boolean, valueOrError: unknown) => void,
): Promise<void> {
  const entry = target.entry;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!(concurrency >= 1)) throw new RangeError(`vmap(${target.name}): concurrency must be >= 1, received ${concurrency}`);

  if (entry?.batchEntry) {
    const max = entry.batchMax ?? items.length;
    const size = Math.max(1, Math.min(options.chunkSize ?? max, max));
    await inChunks(items.length, size, concurrency, frame, async (start, end) => {
      // Each item is checked against the op's input schema, as a single call would be; an
      // invalid item fails alone and the rest of its chunk still runs.
      const chunk: (readonly unknown[])[] = [];
      const indices: number[] = [];
      for (let i = start; i < end; i++) {
        try {
          validateInput(entry, items[i]!);
          chunk.push(items[i]!);
          indices.push(i);
        } catch (error) {
          settle(i, false, error);
        }
      }
      if (chunk.length === 0) return;
      try {
        const out = (await invoke(entry.batchEntry!, undefined, [chunk])) as unknown;
        if (!Array.isArray(out) || out.length !== chunk.length) {
          const got = Array.isArray(out) ? `${out.length} results` : describeKind(out);
          throw new OpError(entry.batchEntry!.desc.name, 1, new TypeError(`a native batch must return one result per item: sent ${chunk.length} items, received ${got}`));
        }
        for (let i = 0; i < out.length; i++) {
          try {
            validateOutput(entry, out[i]);
            settle(indices[i]!, true, out[i]);
          } catch (error) {
            settle(indices[i]!, false, error);
          }
        }
      } catch (error) {
        for (const i of indices) settle(i, false, error);
      }
    });
    return;
  }

  const onWorkers = await workerPlan(target, items, frame, concurrency);
  if (onWorkers) {
    // Measure before deciding: a few items inline feed the cost model (and catch a body that
    // fails at once); the rest go to the workers in chunks when the batch is worth it.
    let start = 0;
    while (start < Math.min(WARMUP_ITEMS, items.length) && perItemMs(onWorkers.entries) === undefined && !frame.signal.aborted) {
      try {
        settle(start, true, await target.call(items[start]!));
      } catch (error) {
        settle(start, false, error);
      }
      start++;
    }
    const size = options.chunkSize ?? autoChunkSize(perItemMs(onWorkers.entries), items.length - start, onWorkers.forced, onWorkers.width);
    if (size !== undefined && start < items.length) {
      const rest = items.slice(start);
      await inChunks(rest.length, size, Math.max(concurrency, onWorkers.width * 2), frame, async (from, to) => {
        try {
          const out = await onWorkers.executor.runChunk(onWorkers.target, rest.slice(from, to), frame);
          for (let i = 0; i < out.length; i++) {
            const r = out[i]!;
            settle(start + from + i, r.ok, r.ok ? r.value : r.error);
          }
        } catch (error) {
          for (let i = from; i < to; i++) settle(start + i, false, error);
        }
      });
      return;
    }
    const offset = start;
    await inChunks(items.length - offset, 1, concurrency, frame, async (index) => {
      try {
        settle(offset + index, true, await target.call(items[offset + index]!));
      } catch (error) {
        settle(offset + index, false, error);
      }
    });
    return;
  }

  await inChunks(items.length, 1, concurrency, frame, async (index) => {
    try {
      settle(index, true, await target.call(items[index]!));
    } catch (error) {
      settle(index, false, error);
    }
  });
}

/**
 * Runs `work` over `[0, total)` in chunks of `size`, at most `concurrency` at once, each
 * starting as soon as a slot frees (no waves). Stops starting new chunks once the signal fires.
 */
async function inChunks(total: number, size: number, concurrency: number, frame: Frame, work: (start: number, end: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < total && !frame.signal.aborted) {
      const start = next;
      next = Math.min(total, next + size);
      await work(start, next);
    }
  };
  const lanes = Math.min(concurrency, Math.ceil(total / size));
  await Promise.all(Array.from({ length: lanes }, lane));
}

const WARMUP_ITEMS = 4;

/** What a batch can send to an executor in chunks: an op, or a jitted function's plan as one chain. */
interface WorkerPlan {
  readonly target: string | FusedChain;
  readonly entries: readonly OpEntry[];
  /** `placement: "worker"` or a remote executor: chunk without waiting for measurements. */
  readonly forced: boolean;
  /** Where the chunks go: the worker pool, or the executor a `remote:` placement names. */
  readonly executor: Executor;
  /** How many chunks it runs at once: the pool's threads, or the batch's concurrency for a remote one. */
  readonly width: number;
}

/**
 * A sync CPU op called with cloneable arguments, or a jitted function whose plan for the
 * batch's one signature is a chain of such ops: `undefined` for anything else. An op pinned
 * to a remote executor, or any op or plan in a `withContext({ placement: "remote:NAME" })`
 * block, goes to that executor in chunks.
 */
async function workerPlan(target: BatchTarget, items: readonly (readonly unknown[])[], frame: Frame, concurrency: number): Promise<WorkerPlan | undefined> {
  const first = items[0];
  if (!first) return undefined;
  const entry = target.entry;
  // The op's own pin wins over the block's placement, as for single calls.
  const placement = entry?.pinned ?? frame.placement;
  if (placement === "inline") return undefined;
  const remote = placement?.startsWith(REMOTE) ? executorFor(placement, target.name) : undefined;
  if (!remote && workersUnavailable()) return undefined;
  const via = remote ? { executor: remote, width: concurrency, forced: true } : { executor: workerExecutor, width: defaultPool().size, forced: placement === "worker" };
  if (entry) {
    const { kind, async } = entry.desc;
    if (entry.batchEntry) return undefined;
    if (!via.forced && (kind === "io" || async)) return undefined;
    // A chunk runs each item as a plain call: an op with retries, a timeout or a limit
    // runs item by item through its own calls, which honour them.
    if (policyRefusal(entry.desc) !== undefined || target.configured) return undefined;
    if (!remote && whyNotWorker(entry, undefined, first) !== undefined) return undefined;
    return { target: entry.desc.id, entries: [entry], ...via };
  }
  const jit = target.jit;
  if (!jit || items.length < 2) return undefined;
  const key = jit.signatureKey(first);
  // One plan serves the batch only when every item has its signature.
  for (const item of items) if (jit.signatureKey(item) !== key) return undefined;
  const plan = await jit.chainFor(first);
  if (!plan || (!remote && plan.entries.some((e) => whyNotWorker(e, undefined, undefined) !== undefined))) return undefined;
  if (!remote && !isCloneable(first)) return undefined;
  return { target: plan.chain, entries: plan.entries, ...via, forced: remote !== undefined };
}

/** Mean time of one item: the sum of its ops' measured means, once all are measured. */
function perItemMs(entries: readonly OpEntry[]): number | undefined {
  let total = 0;
  for (const entry of entries) {
    const mean = meanMs(entry.desc.id);
    if (mean === undefined) return undefined;
    total += mean;
  }
  return total;
}

function isCloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Items per worker task. `undefined` when the whole batch is too little work to pay for one
 * round trip per worker (it then runs here, item by item).
 */
function autoChunkSize(mean: number | undefined, remaining: number, forced: boolean, workers: number): number | undefined {
  if (remaining === 0) return undefined;
  const roundTrip = currentRoundTripMs();
  if (!forced && (mean === undefined || mean * remaining < 2 * roundTrip * workers)) return undefined;
  // About four chunks per worker balances uneven items; a light item needs bigger chunks to
  // amortise the round trip, but never so big that a worker is left without one.
  const balanced = Math.ceil(remaining / (workers * 4));
  const amortising = mean === undefined || mean === 0 ? 1 : Math.ceil((5 * roundTrip) / mean);
  return Math.max(1, balanced, Math.min(amortising, Math.ceil(remaining / workers)));
}

/** An argument is mapped unless its `inAxes` entry is `null` (a missing entry means mapped). */
function isMapped(inAxes: readonly (0 | null)[] | undefined, i: number): boolean {
  return inAxes === undefined || inAxes[i] !== null;
}

function describeKind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `array of ${value.length}`;
  return typeof value;
}
