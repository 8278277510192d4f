/**
 * The stages of a stream, each a puller over the one above it. Sync work runs through a
 * whole chunk without a promise; async work (an op call, an async function) is kept within
 * a bounded window. A function that throws or rejects fails its item only: the failure
 * travels beside the values to the sink, which dead-letters it (or stops the stream under
 * `onError: "fail"`).
 */
import { isThenable, store } from "../context.js";
import { addFailures, chunkOf, joinLineage, type Chunk, type Exec, type Failure, type Lineage, type Puller, type Pulled } from "./core.js";
import { buildOf, type Source } from "./sources.js";

/** Calls `fn(value)`, in a frame named by the item's offset inside a durable run (stable journal keys). */
function callIn<A, R>(exec: Exec, stage: string, fn: (value: A, lineage?: Lineage) => R, value: A, lineage: Lineage, lineageArg = false): R {
  if (exec.run === undefined) return lineageArg ? fn(value, lineage) : fn(value);
  const offset = typeof lineage === "number" ? lineage : lineage[0];
  const frame = exec.frame.derive({ stepId: `${exec.frame.stepId}/${stage}@${offset}` });
  return lineageArg ? store.run(frame, fn, value, lineage) : store.run(frame, fn, value);
}

/** A stage that reads its upstream in the background while it works (`map`, `vmap`'s batches). */
export interface UpReader<A> {
  /** True while a pull of the upstream is under way. */
  upPending: boolean;
  /** The upstream's failure, thrown at the next pull. */
  upError: { error: unknown } | undefined;
  /** Takes an upstream chunk (`null`: the end). */
  setInput(chunk: Chunk<A> | null): void;
  /** Wakes the stage's waiting pull. */
  signal(): void;
}

/** Pulls `up` once for `stage`: true when it answered at once (already given to `setInput`), false when its answer comes later. */
export function pullUp<A>(up: Puller<A>, stage: UpReader<A>): boolean {
  const got = up.pull();
  if (!isThenable(got)) {
    stage.setInput(got);
    return true;
  }
  stage.upPending = true;
  got.then(
    (c) => {
      stage.upPending = false;
      stage.setInput(c);
      stage.signal();
    },
    (error: unknown) => {
      stage.upPending = false;
      stage.upError = { error };
      stage.signal();
    },
  );
  return false;
}

// ---- filter ---------------------------------------------------------------------------------

/** A sync step that produced nothing to hand on. */
const NOTHING: unique symbol = Symbol("nothing");

/** Keeps the values `keep` says yes to; `keep` may be async (then items are tested one at a time). */
export class FilterStage<T> implements Puller<T> {
  readonly name: string;
  constructor(
    private readonly up: Puller<T>,
    private readonly keep: (value: T) => boolean | PromiseLike<boolean>,
    private readonly exec: Exec,
  ) {
    this.name = `filter#${exec.nextStage()}`;
  }
  pull(): Pulled<T> {
    // A chunk filtered down to nothing is no answer: read on (in a loop, not by recursion).
    for (;;) {
      const got = this.up.pull();
      if (isThenable(got)) {
        return got.then((c) => {
          const out = this.apply(c);
          return out === NOTHING ? this.pull() : out;
        });
      }
      const out = this.apply(got);
      if (out !== NOTHING) return out;
    }
  }
  private apply(chunk: Chunk<T> | null): Pulled<T> | typeof NOTHING {
    if (chunk === null) return null;
    const { values, lineage } = chunk;
    const outV: T[] = [];
    const outL: Lineage[] = [];
    let failures = chunk.failures;
    const direct = this.exec.run === undefined;
    const test = this.keep;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      let keep: boolean | PromiseLike<boolean>;
      try {
        keep = direct ? test(v) : callIn(this.exec, this.name, test, v, lineage[i]!);
      } catch (error) {
        failures = addFailures(failures, [{ lineage: lineage[i]!, error, input: v, stage: this.name }]);
        continue;
      }
      if (isThenable(keep)) return this.applyAsync(chunk, i, keep, outV, outL, failures);
      if (keep) {
        outV.push(v);
        outL.push(lineage[i]!);
      }
    }
    this.exec.counters.dropped += values.length - outV.length - ((failures?.length ?? 0) - (chunk.failures?.length ?? 0));
    return outV.length === 0 && failures === undefined ? NOTHING : chunkOf(outV, outL, failures);
  }
  private async applyAsync(chunk: Chunk<T>, from: number, first: PromiseLike<boolean>, outV: T[], outL: Lineage[], failures: Failure[] | undefined): Promise<Chunk<T> | null> {
    const { values, lineage } = chunk;
    const before = chunk.failures?.length ?? 0;
    for (let i = from; i < values.length; i++) {
      const v = values[i]!;
      try {
        const keep = i === from ? await first : await callIn(this.exec, this.name, this.keep, v, lineage[i]!);
        if (keep) {
          outV.push(v);
          outL.push(lineage[i]!);
        }
      } catch (error) {
        failures = addFailures(failures, [{ lineage: lineage[i]!, error, input: v, stage: this.name }]);
      }
    }
    this.exec.counters.dropped += values.length - outV.length - ((failures?.length ?? 0) - before);
    if (outV.length === 0 && failures === undefined) return this.pull();
    return chunkOf(outV, outL, failures);
  }
  close(): void | Promise<void> {
    return this.up.close();
  }
}

// ---- map ------------------------------------------------------------------------------------

/** `map` options. */
export interface MapOptions {
  /** Items in flight at once. Default 1. */
  readonly concurrency?: number;
  /** Keep source order (default true); `false` yields each result as it finishes. */
  readonly ordered?: boolean;
}

interface Slot<B> {
  readonly ok: boolean;
  readonly value: B | unknown;
  readonly lineage: Lineage;
  readonly input: unknown;
}

/**
 * The output side of a stage with work in flight (a map's window, a vmap's batches): the
 * values, lineage and failures gathered for the next pull, and the waiting pull a finished
 * item wakes.
 */
export abstract class Gathering<B> {
  protected outV: B[] = [];
  protected outL: Lineage[] = [];
  protected failures: Failure[] | undefined;
  protected wake: (() => void) | undefined;

  protected hasOutput(): boolean {
    return this.outV.length > 0 || this.failures !== undefined;
  }

  protected take(): Chunk<B> {
    const c = chunkOf(this.outV, this.outL, this.failures);
    this.outV = [];
    this.outL = [];
    this.failures = undefined;
    return c;
  }

  /** Resolves at the next `signal()`. */
  protected sleep(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  signal(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

/**
 * Maps each value, with up to `concurrency` items in flight. Ordered, the window counts
 * items started but not yet handed on (a slow item holds back at most `concurrency - 1`
 * finished ones); unordered, it counts items running. Sync results of an ordered map go
 * straight out: no slot, no promise.
 */
export class MapStage<A, B> extends Gathering<B> implements Puller<B> {
  readonly name: string;
  private input: Chunk<A> | null = null;
  private pos = 0;
  private upDone = false;
  upPending = false;
  upError: { error: unknown } | undefined;
  private started = 0;
  private emittedSeq = 0;
  private running = 0;
  private readonly slots = new Map<number, Slot<B>>();
  private closed = false;
  private readonly concurrency: number;
  private readonly ordered: boolean;

  constructor(
    private readonly up: Puller<A>,
    private readonly fn: (value: A, lineage?: Lineage) => B | PromiseLike<B>,
    options: MapOptions,
    private readonly exec: Exec,
    label = "map",
    /** Pass each item's lineage as a second argument (internal stages only: a user's function gets one argument). */
    private readonly lineageArg = false,
  ) {
    super();
    this.name = `${label}#${exec.nextStage()}`;
    const c = options.concurrency ?? 1;
    if (!(Number.isInteger(c) && c >= 1)) throw new RangeError(`stream ${this.name}: concurrency must be a whole number >= 1, received ${String(c)}`);
    this.concurrency = c;
    // Resuming needs a settled prefix of the source: a durable stream keeps order.
    this.ordered = options.ordered !== false || exec.run !== undefined;
  }

  pull(): Pulled<B> {
    for (;;) {
      this.fill();
      if (this.hasOutput()) return this.take();
      if (this.upError) {
        const { error } = this.upError;
        this.upError = undefined;
        throw error;
      }
      if (this.upDone && this.inFlight() === 0 && !this.hasInput()) return null;
      if (this.closed) return null;
      return this.sleep().then(() => this.pull());
    }
  }

  private inFlight(): number {
    return this.ordered ? this.started - this.emittedSeq : this.running;
  }

  private hasInput(): boolean {
    return this.input !== null && this.pos < this.input.values.length;
  }

  private fill(): void {
    while (!this.closed && this.inFlight() < this.concurrency) {
      if (!this.hasInput()) {
        if (this.upDone || this.upPending || this.upError) return;
        // Hand on what is ready before reading further: the producer advances only when pulled.
        if (this.hasOutput()) return;
        if (!pullUp(this.up, this)) return;
        continue;
      }
      if (this.inFlight() === 0 && this.runSync()) continue;
      const chunk = this.input!;
      const i = this.pos++;
      this.start(chunk.values[i]!, chunk.lineage[i]!);
    }
  }

  /**
   * With nothing in flight, runs the rest of the input chunk in one loop while `fn` answers
   * synchronously: no slot, no per-item bookkeeping. Stops at the first promise (that item
   * goes on as an async one). Returns false when it made no progress.
   */
  private runSync(): boolean {
    const chunk = this.input!;
    const values = chunk.values;
    const lineage = chunk.lineage;
    const n = values.length;
    const from = this.pos;
    const fn = this.fn;
    const direct = this.exec.run === undefined;
    if (from === 0 && direct && this.outV.length === 0 && this.failures === undefined && n > 0) {
      this.mapWhole(values, lineage);
      return true;
    }
    const outV = this.outV;
    const outL = this.outL;
    for (let i = from; i < n; i++) {
      let out: B | PromiseLike<B>;
      try {
        out = direct && !this.lineageArg ? fn(values[i]!) : callIn(this.exec, this.name, fn, values[i]!, lineage[i]!, this.lineageArg);
      } catch (error) {
        (this.failures ??= []).push({ lineage: lineage[i]!, error, input: values[i], stage: this.name });
        continue;
      }
      if (isThenable(out)) {
        // Items before it were handed on in order: the window starts at this one.
        this.pos = i + 1;
        this.started += i - from;
        this.emittedSeq = this.started;
        this.startAsync(this.started, out, values[i]!, lineage[i]!);
        return true;
      }
      outV.push(out);
      outL.push(lineage[i]!);
    }
    this.pos = n;
    this.started += n - from;
    this.emittedSeq = this.started;
    return n > from;
  }

  /**
   * The commonest case, a whole chunk of sync results: values into an array of the right
   * size, the input's lineage array handed on as it is. At an item that throws or answers
   * with a promise, the items before it go on and that item is settled or started as usual;
   * no item is ever called twice.
   */
  private mapWhole(values: readonly A[], lineage: Lineage[]): void {
    const n = values.length;
    const fn = this.fn;
    const out = new Array<B>(n);
    let i = 0;
    let pending: PromiseLike<B> | undefined;
    let threw = false;
    let error: unknown;
    for (; i < n; i++) {
      let r: B | PromiseLike<B>;
      try {
        r = this.lineageArg ? fn(values[i]!, lineage[i]!) : fn(values[i]!);
      } catch (e) {
        threw = true;
        error = e;
        break;
      }
      if (isThenable(r)) {
        pending = r;
        break;
      }
      out[i] = r;
    }
    if (i === n) {
      this.outV = out;
      this.outL = lineage;
      this.pos = n;
      this.started += n;
      this.emittedSeq = this.started;
      return;
    }
    out.length = i;
    this.outV = out;
    this.outL = lineage.slice(0, i);
    this.pos = i + 1;
    this.started += i;
    this.emittedSeq = this.started;
    if (threw) {
      (this.failures ??= []).push({ lineage: lineage[i]!, error, input: values[i], stage: this.name });
      this.started++;
      this.emittedSeq++;
    } else this.startAsync(this.started, pending!, values[i]!, lineage[i]!);
  }

  setInput(chunk: Chunk<A> | null): void {
    if (chunk === null) {
      this.upDone = true;
      this.input = null;
      return;
    }
    if (chunk.failures !== undefined) this.failures = addFailures(this.failures, chunk.failures);
    this.input = chunk;
    this.pos = 0;
  }

  private start(value: A, lineage: Lineage): void {
    const seq = this.started++;
    let out: B | PromiseLike<B>;
    try {
      out = callIn(this.exec, this.name, this.fn, value, lineage, this.lineageArg);
    } catch (error) {
      this.complete(seq, false, error, lineage, value);
      return;
    }
    if (!isThenable(out)) {
      this.complete(seq, true, out, lineage, value);
      return;
    }
    this.startAsync(seq, out, value, lineage);
  }

  private startAsync(seq: number, out: PromiseLike<B>, value: A, lineage: Lineage): void {
    if (seq >= this.started) this.started = seq + 1;
    this.running++;
    out.then(
      (v) => {
        this.running--;
        this.complete(seq, true, v, lineage, value);
        this.signal();
      },
      (error: unknown) => {
        this.running--;
        this.complete(seq, false, error, lineage, value);
        this.signal();
      },
    );
  }

  private complete(seq: number, ok: boolean, value: unknown, lineage: Lineage, input: unknown): void {
    if (this.closed) return;
    if (!this.ordered || seq === this.emittedSeq) {
      this.emit(ok, value, lineage, input);
      if (this.ordered) {
        this.emittedSeq++;
        // Later items that finished first follow in order.
        for (let s = this.slots.get(this.emittedSeq); s !== undefined; s = this.slots.get(this.emittedSeq)) {
          this.slots.delete(this.emittedSeq);
          this.emit(s.ok, s.value, s.lineage, s.input);
          this.emittedSeq++;
        }
      }
      return;
    }
    this.slots.set(seq, { ok, value, lineage, input });
  }

  private emit(ok: boolean, value: unknown, lineage: Lineage, input: unknown): void {
    if (ok) {
      this.outV.push(value as B);
      this.outL.push(lineage);
    } else {
      (this.failures ??= []).push({ lineage, error: value, input, stage: this.name });
    }
  }

  close(): void | Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.slots.clear();
    this.input = null;
    this.signal();
    return this.up.close();
  }
}

// ---- flatMap --------------------------------------------------------------------------------

/** What `flatMap`'s function may return for one value. */
export type Many<B> = readonly B[] | Iterable<B> | AsyncIterable<B> | ReadableStream<B> | Source<B>;

/**
 * Replaces each value with the items of what `fn` returns (an array, an iterable, an async
 * iterable such as a token stream, a loader, a stream). Outputs keep their input's lineage;
 * an inner source's failures (a malformed line) keep the outer item's lineage too.
 */
export class FlatMapStage<A, B> implements Puller<B> {
  readonly name: string;
  private inner: { puller: Puller<B>; lineage: Lineage } | undefined;
  private input: Chunk<A> | null = null;
  private pos = 0;
  private done = false;
  private closed = false;

  constructor(
    private readonly up: Puller<A>,
    private readonly fn: (value: A) => Many<B> | PromiseLike<Many<B>>,
    private readonly exec: Exec,
  ) {
    this.name = `flatMap#${exec.nextStage()}`;
  }

  pull(): Pulled<B> {
    const outV: B[] = [];
    const outL: Lineage[] = [];
    let failures: Failure[] | undefined;
    for (;;) {
      if (this.closed) return null;
      if (this.inner !== undefined) {
        // Hand on what the sync part of this chunk made before waiting on an inner source.
        if (outV.length > 0 || failures !== undefined) return chunkOf(outV, outL, failures);
        return this.pullInner();
      }
      if (this.input === null || this.pos >= this.input.values.length) {
        if (outV.length > 0 || failures !== undefined) return chunkOf(outV, outL, failures);
        if (this.done) return null;
        const got = this.up.pull();
        if (isThenable(got)) return got.then((c) => this.accept(c) ?? this.pull());
        const passed = this.accept(got);
        if (passed !== undefined) return passed;
        continue;
      }
      const chunk = this.input;
      const i = this.pos++;
      const v = chunk.values[i]!;
      const lineage = chunk.lineage[i]!;
      let many: Many<B> | PromiseLike<Many<B>>;
      try {
        many = callIn(this.exec, this.name, this.fn, v, lineage);
      } catch (error) {
        (failures ??= []).push({ lineage, error, input: v, stage: this.name });
        continue;
      }
      if (Array.isArray(many)) {
        for (const b of many as readonly B[]) {
          outV.push(b);
          outL.push(lineage);
        }
        if (many.length === 0) this.exec.counters.dropped++;
        continue;
      }
      if (isThenable(many)) {
        this.inner = { puller: new AwaitedInner(many, this.exec, this.name, v), lineage };
        continue;
      }
      try {
        this.inner = { puller: innerPuller(many, this.exec, this.name), lineage };
      } catch (error) {
        (failures ??= []).push({ lineage, error, input: v, stage: this.name });
      }
    }
  }

  /** Takes a chunk from above; its failures go on at once (returned), before any of its values. */
  private accept(chunk: Chunk<A> | null): Chunk<B> | undefined {
    if (chunk === null) {
      this.done = true;
      this.input = null;
      return undefined;
    }
    this.input = chunk;
    this.pos = 0;
    if (chunk.failures === undefined) return undefined;
    this.input = { ...chunk, failures: undefined };
    return { values: [], lineage: [], failures: chunk.failures };
  }

  private pullInner(): Pulled<B> {
    const { puller, lineage } = this.inner!;
    const relabel = (c: Chunk<B> | null): Pulled<B> => {
      if (c === null) {
        this.inner = undefined;
        return this.pull();
      }
      const ls: Lineage[] = new Array(c.values.length).fill(lineage);
      const fs = c.failures?.map((f) => ({ ...f, lineage }));
      if (c.values.length === 0 && fs === undefined) return this.pull();
      return chunkOf(c.values, ls, fs);
    };
    let got: Pulled<B>;
    try {
      got = puller.pull();
    } catch (error) {
      this.inner = undefined;
      return chunkOf<B>([], [], [{ lineage, error, input: undefined, stage: this.name }]);
    }
    const fail = (error: unknown): Chunk<B> => {
      this.inner = undefined;
      return chunkOf<B>([], [], [{ lineage, error, input: undefined, stage: this.name }]);
    };
    return isThenable(got) ? got.then(relabel, fail) : relabel(got);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const inner = this.inner;
    this.inner = undefined;
    await Promise.all([inner?.puller.close(), this.up.close()]);
  }
}

/** An inner source read from offset 0 (its own offsets are not source offsets: lineage is the outer item's). */
function innerPuller<B>(many: Many<B>, exec: Exec, where: string): Puller<B> {
  const build = buildOf(many as Source<B>, `stream ${where}`);
  return build({ ...exec, resumeAt: 0, counters: { pulled: 0, emitted: 0, failed: 0, dropped: 0, skipped: 0 }, nextStage: exec.nextStage });
}

/** The inner source of a `flatMap` whose function was async. */
class AwaitedInner<B> implements Puller<B> {
  private puller: Puller<B> | undefined;
  private closed = false;
  constructor(
    private readonly pending: PromiseLike<Many<B>>,
    private readonly exec: Exec,
    private readonly where: string,
    private readonly input: unknown,
  ) {}
  pull(): Pulled<B> {
    if (this.puller) return this.puller.pull();
    return Promise.resolve(this.pending).then((many) => {
      if (this.closed) return null;
      this.puller = Array.isArray(many) ? innerPuller(many, this.exec, this.where) : innerPuller(many, this.exec, this.where);
      return this.puller.pull();
    });
  }
  close(): void | Promise<void> {
    this.closed = true;
    return this.puller?.close();
  }
}

// ---- batch ----------------------------------------------------------------------------------

/** `batch` options. */
export interface BatchStageOptions {
  /** Hand on a partial batch once its first item has waited this long for the rest. */
  readonly maxWaitMs?: number;
}

/** Groups values into arrays of `size` (the last one may be shorter). A batch's lineage is its items'. */
export class BatchStage<T> implements Puller<T[]> {
  readonly name: string;
  private cur: T[] = [];
  private curL: Lineage[] = [];
  private done = false;
  private pending: Promise<Chunk<T> | null> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private firstAt = 0;

  constructor(
    private readonly up: Puller<T>,
    private readonly size: number,
    private readonly options: BatchStageOptions,
    private readonly exec: Exec,
  ) {
    this.name = `batch#${exec.nextStage()}`;
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`stream ${this.name}: batch size must be a whole number >= 1, received ${String(size)}`);
    const w = options.maxWaitMs;
    if (w !== undefined && !(typeof w === "number" && w >= 0 && Number.isFinite(w))) throw new RangeError(`stream ${this.name}: maxWaitMs must be a number of milliseconds >= 0, received ${String(w)}`);
  }

  pull(): Pulled<T[]> {
    const outV: T[][] = [];
    const outL: Lineage[] = [];
    let failures: Failure[] | undefined;
    for (;;) {
      if (outV.length > 0 || failures !== undefined) return chunkOf(outV, outL, failures);
      if (this.done) {
        if (this.cur.length === 0) return null;
        this.flush(outV, outL);
        continue;
      }
      const got = this.pending ?? this.up.pull();
      this.pending = undefined;
      if (isThenable(got)) return this.waitFor(got as Promise<Chunk<T> | null>);
      failures = this.add(got, outV, outL, failures);
    }
  }

  private add(chunk: Chunk<T> | null, outV: T[][], outL: Lineage[], failures: Failure[] | undefined): Failure[] | undefined {
    if (chunk === null) {
      this.done = true;
      return failures;
    }
    const { values, lineage } = chunk;
    const size = this.size;
    const n = values.length;
    let i = 0;
    while (i < n) {
      if (this.cur.length === 0 && n - i >= size) {
        // A whole batch inside the chunk: two slices, no per-item pushes.
        outV.push(values.slice(i, i + size));
        outL.push(flatOffsets(lineage, i, i + size));
        i += size;
        continue;
      }
      if (this.cur.length === 0) this.firstAt = Date.now();
      this.cur.push(values[i]!);
      this.curL.push(lineage[i]!);
      i++;
      if (this.cur.length === size) this.flush(outV, outL);
    }
    return addFailures(failures, chunk.failures);
  }

  private flush(outV: T[][], outL: Lineage[]): void {
    outV.push(this.cur);
    outL.push(joinLineage(this.curL));
    this.cur = [];
    this.curL = [];
  }

  /** Waits for the pull above, or for `maxWaitMs` to pass with a partial batch in hand: then that batch goes. */
  private waitFor(got: Promise<Chunk<T> | null>): Promise<Chunk<T[]> | null> {
    const onChunk = (c: Chunk<T> | null): Pulled<T[]> => {
      const outV: T[][] = [];
      const outL: Lineage[] = [];
      const failures = this.add(c, outV, outL, undefined);
      return outV.length > 0 || failures !== undefined ? chunkOf(outV, outL, failures) : this.pull();
    };
    const wait = this.options.maxWaitMs;
    if (wait === undefined || this.cur.length === 0) return got.then(onChunk);
    return new Promise<Chunk<T[]> | null>((resolve, reject) => {
      let settled = false;
      this.timer = setTimeout(
        () => {
          this.timer = undefined;
          if (settled) return;
          settled = true;
          // The pull above goes on; the next pull takes its chunk.
          this.pending = got;
          const outV: T[][] = [];
          const outL: Lineage[] = [];
          this.flush(outV, outL);
          resolve(chunkOf(outV, outL));
        },
        Math.max(0, this.firstAt + wait - Date.now()),
      );
      got.then(
        (c) => {
          if (settled) return;
          settled = true;
          this.clearTimer();
          try {
            resolve(onChunk(c));
          } catch (error) {
            reject(error);
          }
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          this.clearTimer();
          reject(error);
        },
      );
    });
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  close(): void | Promise<void> {
    this.clearTimer();
    this.cur = [];
    this.curL = [];
    this.done = true;
    return this.up.close();
  }
}

/** The offsets of `lineage[from..to)` as one array: a slice when each is a single offset. */
function flatOffsets(lineage: readonly Lineage[], from: number, to: number): number[] {
  for (let i = from; i < to; i++) if (typeof lineage[i] !== "number") return joinLineage(lineage.slice(from, to));
  return lineage.slice(from, to) as number[];
}

// ---- take -----------------------------------------------------------------------------------

/** The first `n` values, then the end: the source above is closed at once. */
export class TakeStage<T> implements Puller<T> {
  private left: number;
  constructor(
    private readonly up: Puller<T>,
    n: number,
    private readonly exec: Exec,
  ) {
    if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`stream take: n must be a whole number >= 0, received ${String(n)}`);
    this.left = n;
  }
  pull(): Pulled<T> {
    if (this.left <= 0) return this.finish();
    const got = this.up.pull();
    return isThenable(got) ? got.then((c) => this.cut(c)) : this.cut(got);
  }
  private cut(chunk: Chunk<T> | null): Pulled<T> {
    if (chunk === null) return null;
    if (chunk.values.length <= this.left) {
      this.left -= chunk.values.length;
      return chunk;
    }
    const n = this.left;
    this.left = 0;
    this.exec.counters.dropped += chunk.values.length - n;
    return chunkOf(chunk.values.slice(0, n), chunk.lineage.slice(0, n), chunk.failures);
  }
  private finish(): Pulled<T> {
    const closing = this.up.close();
    return isThenable(closing) ? Promise.resolve(closing).then(() => null) : null;
  }
  close(): void | Promise<void> {
    return this.up.close();
  }
}

// ---- buffer ---------------------------------------------------------------------------------

/**
 * What a full buffer does with the next item: `suspend` stops reading above until there is
 * room (nothing lost), `dropping` lets the new item go, `sliding` lets the oldest go.
 */
export type BufferStrategy = "suspend" | "dropping" | "sliding";

/** `buffer` options. */
export interface BufferOptions {
  /** Default `"suspend"`. */
  readonly strategy?: BufferStrategy;
}

/**
 * Reads ahead of the consumer, up to `size` items, so a slow consumer and a slow producer
 * overlap. Read-ahead starts on the first pull. Items a dropping or sliding buffer lets go
 * are counted as dropped.
 */
export class BufferStage<T> implements Puller<T> {
  readonly name: string;
  private values: T[] = [];
  private lineage: Lineage[] = [];
  private failures: Failure[] | undefined;
  private done = false;
  private error: { error: unknown } | undefined;
  private pumping = false;
  private closed = false;
  private wakeConsumer: (() => void) | undefined;
  private wakePump: (() => void) | undefined;
  private readonly strategy: BufferStrategy;

  constructor(
    private readonly up: Puller<T>,
    private readonly size: number,
    options: BufferOptions,
    private readonly exec: Exec,
  ) {
    this.name = `buffer#${exec.nextStage()}`;
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`stream ${this.name}: size must be a whole number >= 1, received ${String(size)}`);
    const s = options.strategy ?? "suspend";
    if (s !== "suspend" && s !== "dropping" && s !== "sliding") throw new TypeError(`stream ${this.name}: strategy must be "suspend", "dropping" or "sliding", received ${JSON.stringify(s)}`);
    this.strategy = s;
  }

  pull(): Pulled<T> {
    if (!this.pumping && !this.done && !this.closed) void this.pump();
    if (this.values.length > 0 || this.failures !== undefined) {
      const c = chunkOf(this.values, this.lineage, this.failures);
      this.values = [];
      this.lineage = [];
      this.failures = undefined;
      const w = this.wakePump;
      this.wakePump = undefined;
      w?.();
      return c;
    }
    if (this.error) throw this.error.error;
    if (this.done || this.closed) return null;
    return new Promise<void>((resolve) => (this.wakeConsumer = resolve)).then(() => this.pull());
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (!this.closed && !this.done) {
        if (this.strategy === "suspend" && this.values.length >= this.size) {
          await new Promise<void>((resolve) => (this.wakePump = resolve));
          continue;
        }
        const got = this.up.pull();
        const chunk = isThenable(got) ? await got : got;
        if (this.closed) return;
        if (chunk === null) this.done = true;
        else this.accept(chunk);
        const w = this.wakeConsumer;
        this.wakeConsumer = undefined;
        w?.();
        // Let the consumer run between sync chunks.
        if (!isThenable(got)) await Promise.resolve();
      }
    } catch (error) {
      this.error = { error };
      const w = this.wakeConsumer;
      this.wakeConsumer = undefined;
      w?.();
    } finally {
      this.pumping = false;
    }
  }

  private accept(chunk: Chunk<T>): void {
    this.failures = addFailures(this.failures, chunk.failures);
    const { values, lineage } = chunk;
    for (let i = 0; i < values.length; i++) {
      if (this.values.length >= this.size) {
        if (this.strategy === "dropping") {
          this.exec.counters.dropped += values.length - i;
          return;
        }
        if (this.strategy === "sliding") {
          this.values.shift();
          this.lineage.shift();
          this.exec.counters.dropped++;
        }
      }
      this.values.push(values[i]!);
      this.lineage.push(lineage[i]!);
    }
  }

  close(): void | Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.values = [];
    this.lineage = [];
    const w = this.wakePump;
    this.wakePump = undefined;
    w?.();
    const c = this.wakeConsumer;
    this.wakeConsumer = undefined;
    c?.();
    return this.up.close();
  }
}

// ---- adapters -------------------------------------------------------------------------------

/** A sync one-to-one rewrite of whole chunks (results, lineage): values and failures in, values out. */
export class ChunkStage<A, B> implements Puller<B> {
  constructor(
    private readonly up: Puller<A>,
    private readonly rewrite: (chunk: Chunk<A>) => Chunk<B>,
  ) {}
  pull(): Pulled<B> {
    const got = this.up.pull();
    if (isThenable(got)) return got.then((c) => (c === null ? null : this.rewrite(c)));
    return got === null ? null : this.rewrite(got);
  }
  close(): void | Promise<void> {
    return this.up.close();
  }
}
