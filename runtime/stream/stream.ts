/**
 * `Stream`: a recipe of stages over a source, run afresh by each sink (`for await`,
 * `collect`, `run`, `toReadableStream`, `toEffect`). One run is an `Execution`: it owns the
 * stream's frame (step id, span, a signal linked to the caller's deadline and cancellation),
 * pulls chunks on the sink's demand, settles failed items (dead letter, or stop under
 * `onError: "fail"`), reports progress and, inside a durable run, commits the source offset
 * everything before which is settled, so a resumed run reads on from there.
 */
import type * as Effect from "effect/Effect";
import type { Span } from "@opentelemetry/api";
import { abortReason, allowManyListeners, childStepId, currentFrame, isThenable, linkSignals, raceAbort, store, type Frame, type RunScope } from "../context.js";
import { Cancelled } from "../errors.js";
import { effectApi } from "../effect.js";
import { checkOptions } from "../../decorators/options.js";
import { endSpan, startSpan } from "../telemetry.js";
import type { ItemResult } from "../batch.js";
import { minOffset, offsetsOf, firstOffset, type Build, type Chunk, type Counters, type Exec, type Lineage, type Puller } from "./core.js";
import { StreamItemError } from "./errors.js";
import { OPEN, buildOf, type Openable, type Source } from "./sources.js";
import type { BatchStageOptions, BufferOptions, MapOptions, Many } from "./stages.js";
import type * as Stages from "./stages.js";
import type { ThroughOptions } from "./through.js";
import type * as Through from "./through.js";
import { lazyModule } from "../lazy.js";

// Stages load when a stream first opens, and `through` with its first use: defining no stream costs nothing.
const stages = lazyModule<typeof Stages>("./stages.js", import.meta.url, () => import("./stages.js"));
const batches = lazyModule<typeof Through>("./through.js", import.meta.url, () => import("./through.js"));

/** Options of `data.stream`. */
export interface StreamOptions {
  /** Items per source chunk (how much moves per pull). Default 1024. */
  readonly chunk?: number;
  /**
   * What a failed item does: `"deadLetter"` (default) records it (in the durable run's store
   * inside `durable()`, else in the run's summary or `onDeadLetter`) and the stream goes on;
   * `"fail"` stops the stream with a `StreamItemError`.
   */
  readonly onError?: "deadLetter" | "fail";
  /** Receives each dead letter instead of the in-memory list (outside a durable run). */
  readonly onDeadLetter?: (letter: StreamDeadLetter) => void;
  /** Called after every chunk reaches the sink, and once at the end (`done: true`). */
  readonly onProgress?: (progress: StreamProgress) => void;
  /** Stops the stream when it fires (beside the caller's context signal and deadline). */
  readonly signal?: AbortSignal;
  /** Names the stream in step ids, spans and dead letters. Default `"stream"`. */
  readonly name?: string;
}

/** An item that failed for good, with where it came from. */
export interface StreamDeadLetter {
  /** The stage that failed it (`map#1`, `jsonl`, `through(score)#3`). */
  readonly stage: string;
  /** Its first source offset (for line loaders, its 0-based line). */
  readonly offset: number;
  /** Every source offset it came from (a batch has several). */
  readonly sources: readonly number[];
  /** The item as the failing stage received it. */
  readonly input: unknown;
  readonly error: unknown;
}

/** Counts of a running stream, for progress bars. */
export interface StreamProgress {
  /** Items read from the source in this run. */
  readonly pulled: number;
  /** Values that reached the sink. */
  readonly emitted: number;
  /** Items that failed (dead-lettered or yielded as failed results). */
  readonly failed: number;
  /** Items let go on purpose: filtered out, beyond `take`, dropped by a buffer. */
  readonly dropped: number;
  /** Source items a resumed durable run did not read again. */
  readonly skipped: number;
  /** Source items in all, when the source knows (an array). */
  readonly total: number | undefined;
  readonly elapsedMs: number;
  /** True on the last report. */
  readonly done: boolean;
}

/** What `run()` resolves to: the final counts and the dead letters kept in memory. */
export interface StreamSummary extends StreamProgress {
  /** Dead letters of this run, unless they went to a durable store or `onDeadLetter`. */
  readonly deadLetters: readonly StreamDeadLetter[];
}

/** An output with the source items it came from (`stream.lineage()`). */
export interface Traced<T> {
  readonly value: T;
  /** Source offsets of the items that made it (one for a mapped item, several for a batch). */
  readonly sources: readonly number[];
  /** The durable run and the stream's node in it, inside `durable()`. */
  readonly run?: string;
  readonly node?: string;
}

/** Where `run(sink)` sends items: a function, or an object with `write` (and `close`). */
export type Sink<T> = ((value: T) => unknown) | { write(value: T): unknown; close?(): unknown };

const DEFAULT_CHUNK = 1024;

/**
 * A pull-based stream: nothing is read until a sink pulls, every buffer is bounded, work
 * moves in chunks, and every item ends as a value, a dead letter or a counted drop.
 * Stages return new streams; a stream can be run more than once when its source can.
 *
 * @example
 * ```ts
 * import { data } from "weft";
 * const squares = await data.stream([1, 2, 3, 4]).filter((n) => n % 2 === 0).map((n) => n * n).collect();
 * console.log(squares); // [4, 16]
 * ```
 */
export class Stream<T> implements AsyncIterable<T>, Openable<T> {
  /** @internal */
  constructor(
    private readonly build: Build<T>,
    private readonly options: StreamOptions,
    private readonly total: number | undefined,
  ) {}

  /** @internal */
  get [OPEN](): Build<T> {
    return this.build;
  }

  private next<R>(stage: (up: Puller<T>, exec: Exec) => Puller<R>): Stream<R> {
    const build = this.build;
    // `total` counts source items, whatever the stages do with them.
    return new Stream<R>((exec) => stage(build(exec), exec), this.options, this.total);
  }

  /** Keeps the values `keep` accepts (`keep` may be async, or an op). */
  filter<S extends T>(keep: (value: T) => value is S): Stream<S>;
  filter(keep: (value: T) => boolean | PromiseLike<boolean>): Stream<T>;
  filter(keep: (value: T) => boolean | PromiseLike<boolean>): Stream<T> {
    fnArg("filter", keep);
    return this.next((up, exec) => new (stages().FilterStage)(up, keep, exec));
  }

  /**
   * Maps each value through `fn` (sync, async, or an op: op calls run through the kernel
   * with their policy, in the stream's context). Up to `concurrency` items in flight;
   * `ordered: false` hands results on as they finish.
   */
  map<R>(fn: (value: T) => R | PromiseLike<R>, options: MapOptions = {}): Stream<Awaited<R>> {
    fnArg("map", fn);
    checkOptions("stream map", "streamMap", options);
    return this.next((up, exec) => new (stages().MapStage)(up, fn as (value: T) => Awaited<R>, options, exec));
  }

  /** Replaces each value with the items of what `fn` returns: an array, an iterable, an async iterable (a token stream), a loader or a stream. */
  flatMap<R>(fn: (value: T) => Many<R> | PromiseLike<Many<R>>): Stream<R> {
    fnArg("flatMap", fn);
    return this.next((up, exec) => new (stages().FlatMapStage)(up, fn, exec));
  }

  /** Groups values into arrays of `size`; with `maxWaitMs`, a partial batch goes once its first item waited that long. */
  batch(size: number, options: BatchStageOptions = {}): Stream<T[]> {
    checkOptions("stream batch", "streamBatch", options);
    return this.next((up, exec) => new (stages().BatchStage)(up, size, options, exec));
  }

  /**
   * Runs each batch through `f` (a `vmap` of an op: a batch in, one result per item out).
   * A vmapped `f` runs with `onError: "collect"`, so an item that fails is dead-lettered
   * alone while the rest of its batch goes on.
   */
  through<I, R, E>(this: Stream<readonly I[]>, f: (batch: readonly I[]) => Promise<readonly ItemResult<R, E>[]>, options?: ThroughOptions): Stream<R>;
  through<I, R>(this: Stream<readonly I[]>, f: (batch: readonly I[]) => Promise<readonly R[]>, options?: ThroughOptions): Stream<R>;
  through<I, R>(this: Stream<readonly I[]>, f: (batch: readonly I[]) => Promise<readonly unknown[]>, options: ThroughOptions = {}): Stream<R> {
    fnArg("through", f);
    checkOptions("stream through", "streamThrough", options);
    const { call, name } = batches().throughFn(f);
    return this.next((up, exec) => {
      const mapped = new (stages().MapStage)(up, (batch: readonly I[], lineage?: Lineage) => call(batch, lineage!), { concurrency: options.concurrency ?? 1 }, exec, `through(${name})`, true);
      return new (stages().ChunkStage)<readonly ItemResult<unknown, unknown>[], R>(mapped, (c) => spread(c, mapped.name));
    }) as unknown as Stream<R>;
  }

  /** Reads ahead up to `size` items; a full buffer suspends the source (default), drops new items (`dropping`) or the oldest (`sliding`). */
  buffer(size: number, options: BufferOptions = {}): Stream<T> {
    checkOptions("stream buffer", "streamBuffer", options);
    return this.next((up, exec) => new (stages().BufferStage)(up, size, options, exec));
  }

  /** The first `n` values; the source is closed as soon as they are read. */
  take(n: number): Stream<T> {
    return this.next((up, exec) => new (stages().TakeStage)(up, n, exec));
  }

  /** Calls `fn` on each value (awaiting it when async) and passes the value on. */
  tap(fn: (value: T) => unknown): Stream<T> {
    fnArg("tap", fn);
    const through = (value: T): T | PromiseLike<T> => {
      const r = fn(value);
      return isThenable(r) ? Promise.resolve(r).then(() => value) : value;
    };
    return this.next((up, exec) => new (stages().MapStage)(up, through, {}, exec, "tap"));
  }

  /**
   * Every item as a per-item result, like vmap's `collect`: `{ ok: true, index, value }` or
   * `{ ok: false, index, error }`, where `index` is the source offset. Failed items are
   * yielded here, not dead-lettered.
   */
  results(): Stream<ItemResult<T, unknown>> {
    return this.next(
      (up, exec) =>
        new (stages().ChunkStage)<T, ItemResult<T, unknown>>(up, (c) => {
          if (c.failures !== undefined) exec.counters.failed += c.failures.length;
          return asResults(c);
        }),
    );
  }

  /** Each value with the source offsets it came from (and the durable run and node, inside one). */
  lineage(): Stream<Traced<T>> {
    return this.next(
      (up, exec) =>
        new (stages().ChunkStage)<T, Traced<T>>(up, (c) => {
          const run = exec.run?.id;
          const node = exec.frame.stepId;
          const values = c.values.map((value, i): Traced<T> => (run === undefined ? { value, sources: offsetsOf(c.lineage[i]!) } : { value, sources: offsetsOf(c.lineage[i]!), run, node }));
          return { values, lineage: c.lineage, failures: c.failures };
        }),
    );
  }

  /** Iterates the values; leaving the loop early (`break`, `return`, a throw) stops the stream and closes its source. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    const ex = new Execution(this.build, this.options, this.total);
    let chunk: Chunk<T> | null | undefined;
    let i = 0;
    const finished: IteratorReturnResult<undefined> = { done: true, value: undefined };
    return {
      next: async (): Promise<IteratorResult<T>> => {
        for (;;) {
          if (chunk && i < chunk.values.length) return { done: false, value: chunk.values[i++]! };
          if (chunk === null) return finished;
          chunk = await ex.next();
          i = 0;
        }
      },
      return: async (): Promise<IteratorResult<T>> => {
        chunk = null;
        await ex.close(new Cancelled(ex.name, "the consumer stopped"));
        return finished;
      },
      throw: async (error: unknown): Promise<IteratorResult<T>> => {
        chunk = null;
        await ex.close(new Cancelled(ex.name, error));
        throw error;
      },
    };
  }

  /** Runs the stream to the end and resolves to its values. */
  async collect(): Promise<T[]> {
    const ex = new Execution(this.build, this.options, this.total);
    const out: T[] = [];
    for (let c = await ex.next(); c !== null; c = await ex.next()) for (const v of c.values) out.push(v);
    return out;
  }

  /**
   * Runs the stream to the end, handing each value to `sink` (awaited when it returns a
   * promise: a slow sink slows the source, nothing piles up), and resolves to the summary.
   */
  async run(sink?: Sink<T>): Promise<StreamSummary> {
    const ex = new Execution(this.build, this.options, this.total);
    const write = sink === undefined ? undefined : typeof sink === "function" ? sink : sink.write.bind(sink);
    if (sink !== undefined && write === undefined) throw new TypeError("stream run: sink must be a function or an object with write()");
    try {
      for (let c = await ex.next(); c !== null; c = await ex.next()) {
        if (write === undefined) continue;
        const values = c.values;
        for (let i = 0; i < values.length; i++) {
          const r = write(values[i]!);
          if (r !== undefined && isThenable(r)) await r;
        }
      }
    } catch (error) {
      await ex.close(new Cancelled(ex.name, error));
      throw error;
    }
    if (sink !== undefined && typeof sink !== "function" && sink.close) await sink.close();
    return ex.summary();
  }

  /** A web `ReadableStream` of the values, pulled on demand (`cancel()` stops the stream). */
  toReadableStream(): ReadableStream<T> {
    const ex = new Execution(this.build, this.options, this.total);
    return new ReadableStream<T>(
      {
        async pull(controller) {
          const c = await ex.next();
          if (c === null) controller.close();
          else for (const v of c.values) controller.enqueue(v);
        },
        async cancel(reason) {
          await ex.close(new Cancelled(ex.name, reason));
        },
      },
      { highWaterMark: 0 },
    );
  }

  /** An Effect that runs the stream and succeeds with its values; interrupting it stops the stream. */
  toEffect(): Effect.Effect<T[], unknown> {
    return effectApi().Effect.tryPromise({
      try: (signal) => {
        const frame = currentFrame();
        const next = new Stream(this.build, { ...this.options, signal: this.options.signal ? AbortSignal.any([this.options.signal, signal]) : signal }, this.total);
        return store.run(frame, () => next.collect());
      },
      catch: (error) => error,
    });
  }
}

function fnArg(stage: string, fn: unknown): void {
  if (typeof fn !== "function") throw new TypeError(`stream ${stage}: expected a function, received ${fn === null ? "null" : typeof fn}`);
}

/** A through batch's per-item results, spread into values and failures with each item's lineage. */
function spread<R>(c: Chunk<readonly ItemResult<unknown, unknown>[]>, stage: string): Chunk<R> {
  const values: R[] = [];
  const lineage: Lineage[] = [];
  let failures = c.failures === undefined ? undefined : [...c.failures];
  for (let b = 0; b < c.values.length; b++) {
    const results = c.values[b]!;
    const lin = c.lineage[b]!;
    const per = typeof lin !== "number" && lin.length === results.length;
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      const l = per ? (lin as readonly number[])[i]! : lin;
      if (r.ok) {
        values.push(r.value as R);
        lineage.push(l);
      } else (failures ??= []).push({ lineage: l, error: r.error, input: undefined, stage });
    }
  }
  return { values, lineage, failures };
}

function asResults<T>(c: Chunk<T>): Chunk<ItemResult<T, unknown>> {
  const values: ItemResult<T, unknown>[] = new Array(c.values.length);
  for (let i = 0; i < c.values.length; i++) values[i] = { ok: true, index: firstOffset(c.lineage[i]!), value: c.values[i]! };
  const lineage = c.lineage.slice();
  if (c.failures !== undefined) {
    for (const f of c.failures) {
      values.push({ ok: false, index: firstOffset(f.lineage), error: f.error });
      lineage.push(f.lineage);
    }
  }
  return { values, lineage, failures: undefined };
}

/** Opens `source` as a stream. */
export function streamOf<T>(source: Source<T>, options: StreamOptions = {}): Stream<T> {
  checkOptions("data.stream", "stream", options);
  const chunk = options.chunk ?? DEFAULT_CHUNK;
  if (!(Number.isInteger(chunk) && chunk >= 1)) throw new RangeError(`data.stream: chunk must be a whole number >= 1, received ${String(chunk)}`);
  if (options.onError !== undefined && options.onError !== "deadLetter" && options.onError !== "fail") throw new TypeError(`data.stream: onError must be "deadLetter" or "fail", received ${JSON.stringify(options.onError)}`);
  const build = buildOf(source, "data.stream");
  return new Stream(build, options, Array.isArray(source) ? source.length : undefined);
}

/**
 * `source` opened as a stream whose first stage `stage` builds (per run, over the source's
 * puller). Internal: for stages other modules make (`vmap(f).stream`).
 */
export function streamThrough<T, R>(source: Source<T>, options: StreamOptions, stage: (up: Puller<T>, exec: Exec) => Puller<R>): Stream<R> {
  const opened = streamOf(source, options);
  const build = opened[OPEN];
  return new Stream<R>((exec) => stage(build(exec), exec), options, Array.isArray(source) ? source.length : undefined);
}

/** What a durable stream journals: the source offset before which every item is settled. */
interface Committed {
  readonly next: number;
}

/** One run of a stream. */
class Execution<T> implements Exec {
  readonly name: string;
  readonly frame: Frame;
  readonly signal: AbortSignal;
  readonly counters: Counters = { pulled: 0, emitted: 0, failed: 0, dropped: 0, skipped: 0 };
  readonly run: RunScope | undefined;
  readonly resumeAt: number;
  readonly chunk: number;
  readonly deadLetters: StreamDeadLetter[] = [];
  private stages = 0;
  private readonly controller = new AbortController();
  private readonly unlink: () => void;
  private readonly span: Span | undefined;
  private readonly puller: Puller<T>;
  private readonly started = Date.now();
  private readonly commitKey: string | undefined;
  private committed = 0;
  private closed = false;
  private ended = false;

  constructor(
    build: Build<T>,
    private readonly options: StreamOptions,
    private readonly total: number | undefined,
  ) {
    const parent = currentFrame();
    this.name = options.name ?? "stream";
    this.chunk = options.chunk ?? DEFAULT_CHUNK;
    const stepId = childStepId(parent, this.name);
    this.unlink = linkSignals(this.controller, options.signal ? [parent.signal, options.signal] : [parent.signal], this.name);
    allowManyListeners(this.controller.signal);
    this.signal = this.controller.signal;
    this.span = startSpan({ name: this.name, kind: "stream", stepId, parent: parent.span });
    this.frame = parent.derive({ signal: this.signal, stepId, ...(this.span && { span: this.span }) });
    this.run = parent.run;
    let resumeAt = 0;
    if (this.run !== undefined) {
      this.commitKey = `${stepId}/committed`;
      const hit = this.run.lookup(this.commitKey, []);
      resumeAt = (hit?.value as Committed | undefined)?.next ?? 0;
      this.committed = resumeAt;
    }
    this.resumeAt = resumeAt;
    try {
      this.puller = store.run(this.frame, build, this);
    } catch (error) {
      this.release(error);
      throw error;
    }
  }

  nextStage(): number {
    return this.stages++;
  }

  /** The next chunk for the sink, `null` at the end. Everything handed out before was consumed. */
  async next(): Promise<Chunk<T> | null> {
    if (this.closed) return null;
    let chunk: Chunk<T> | null;
    try {
      const got = store.run(this.frame, () => this.puller.pull());
      chunk = isThenable(got) ? await raceAbort(Promise.resolve(got), this.signal, this.name) : got;
      if (this.closed) return null;
      if (chunk === null) {
        if (this.signal.aborted) throw abortReason(this.signal, this.name);
        await this.finish();
        return null;
      }
      if (chunk.failures !== undefined) this.settleFailures(chunk);
    } catch (error) {
      const surfaced = this.signal.aborted && !(error instanceof StreamItemError) ? abortReason(this.signal, this.name) : error;
      await this.close(surfaced);
      throw surfaced;
    }
    this.counters.emitted += chunk.values.length;
    if (this.commitKey !== undefined && chunk.values.length > 0) {
      // Order is kept in a durable stream: every item before this chunk's first is settled.
      let min = Infinity;
      for (const l of chunk.lineage) {
        const m = minOffset(l);
        if (m < min) min = m;
      }
      this.commit(min);
    }
    this.report(false);
    return chunk;
  }

  private settleFailures(chunk: Chunk<T>): void {
    for (const f of chunk.failures!) {
      // Items cut short by this stream's own stop are not failures of their own.
      if (this.signal.aborted) return;
      this.counters.failed++;
      const offset = firstOffset(f.lineage);
      if (this.options.onError === "fail") throw new StreamItemError(f.stage, offset, f.error);
      const letter: StreamDeadLetter = { stage: f.stage, offset, sources: offsetsOf(f.lineage), input: f.input, error: f.error };
      if (this.options.onDeadLetter) this.options.onDeadLetter(letter);
      else if (this.run !== undefined) this.run.deadLetter(`${this.frame.stepId}/${f.stage}`, offset, [f.input], f.error);
      else this.deadLetters.push(letter);
    }
  }

  private commit(next: number): void {
    if (next <= this.committed) return;
    this.committed = next;
    this.run!.record(this.commitKey!, [], { next } satisfies Committed);
  }

  private async finish(): Promise<void> {
    if (this.commitKey !== undefined) this.commit(Number.MAX_SAFE_INTEGER);
    this.ended = true;
    this.closed = true;
    await store.run(this.frame, () => this.puller.close());
    this.report(true);
    this.release();
  }

  private report(done: boolean): void {
    this.options.onProgress?.(this.progress(done));
  }

  private progress(done: boolean): StreamProgress {
    const c = this.counters;
    return { pulled: c.pulled, emitted: c.emitted, failed: c.failed, dropped: c.dropped, skipped: c.skipped, total: this.total, elapsedMs: Date.now() - this.started, done };
  }

  summary(): StreamSummary {
    return { ...this.progress(true), deadLetters: this.deadLetters };
  }

  /** Stops the run: in-flight op calls see the signal fire, stages and the source close. */
  async close(reason: unknown): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.signal.aborted) this.controller.abort(reason instanceof Cancelled ? reason : new Cancelled(this.name, reason));
    try {
      await store.run(this.frame, () => this.puller.close());
    } finally {
      this.release(this.ended ? undefined : reason);
    }
  }

  private release(error?: unknown): void {
    this.unlink();
    if (this.span) endSpan(this.span, 1, error);
  }
}
