/**
 * Sources: what `data.stream(source)` accepts, each turned into a puller that reads only
 * when pulled and numbers its items (their source offsets, the base of lineage and of
 * durable resume). Arrays and sync iterables are read a chunk at a time with no promise at
 * all; a Node `Readable` hands over everything it has buffered in one chunk; async
 * iterables and web streams give one item per read (their own promise per item).
 */
import type { Readable } from "node:stream";
import type { Build, Chunk, Exec, Lineage, Puller, Pulled } from "./core.js";

/** A Node `Readable`, without loading node:stream for programs that never stream (it is loaded once one is seen). */
function isReadable(source: object): boolean {
  const stream = process.getBuiltinModule("node:stream") as typeof import("node:stream");
  return source instanceof stream.Readable;
}

/** Something that can open itself as a stream source: a `Stream`, a loader. */
export interface Openable<T> {
  /** Opens a fresh puller for one run. Internal. */
  readonly [OPEN]: Build<T>;
}

/** The key under which streams and loaders keep their builder. Internal. */
export const OPEN: unique symbol = Symbol("weft.stream.open");

/** Anything `data.stream()` reads from. */
export type Source<T> = readonly T[] | Iterable<T> | AsyncIterable<T> | ReadableStream<T> | Readable | Openable<T>;

/** The builder of a source, or a `TypeError` naming what was given. */
export function buildOf<T>(source: Source<T>, where: string): Build<T> {
  if (source === null || source === undefined) throw new TypeError(`${where}: expected a source (an array, an iterable, an async iterable, a ReadableStream, a Node Readable, a loader or a stream), received ${String(source)}`);
  const s = source as unknown as Record<PropertyKey, unknown>;
  if (typeof s[OPEN] === "function") return s[OPEN] as Build<T>;
  if (Array.isArray(source)) return (exec) => new ArraySource(source as readonly T[], exec);
  if (isReadable(source) || (typeof s.read === "function" && typeof s.on === "function" && typeof s.destroy === "function")) return (exec) => new ReadableSource<T>(source as Readable, exec);
  if (typeof s.getReader === "function") return (exec) => new WebSource<T>(source as ReadableStream<T>, exec);
  if (typeof s[Symbol.iterator] === "function" && typeof source !== "string") return (exec) => new IterableSource((source as Iterable<T>)[Symbol.iterator](), exec);
  if (typeof s[Symbol.asyncIterator] === "function") return (exec) => new AsyncIterableSource((source as AsyncIterable<T>)[Symbol.asyncIterator](), exec);
  throw new TypeError(`${where}: cannot read from ${typeof source === "string" ? `the string "${(source as string).slice(0, 40)}" (a loader name? register it with data.register and use data.load)` : `a ${typeof source}`}; expected an array, an iterable, an async iterable, a ReadableStream, a Node Readable, a loader or a stream`);
}

/** A single-shot source (an iterator, a Readable) refuses a second run rather than yielding nothing. */
function once(used: { used?: boolean }, where: string): void {
  if (used.used) throw new TypeError(`${where}: this source was already read by an earlier run (iterators, async iterables and Readables can be read once); pass an array or a loader to run a stream twice`);
  used.used = true;
}

function offsets(start: number, n: number): Lineage[] {
  const out: Lineage[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = start + i;
  return out;
}

class ArraySource<T> implements Puller<T> {
  private next: number;
  constructor(
    private readonly items: readonly T[],
    private readonly exec: Exec,
  ) {
    this.next = Math.min(exec.resumeAt, items.length);
    exec.counters.skipped += this.next;
  }
  pull(): Chunk<T> | null {
    const start = this.next;
    if (start >= this.items.length || this.exec.signal.aborted) return null;
    const end = Math.min(this.items.length, start + this.exec.chunk);
    this.next = end;
    this.exec.counters.pulled += end - start;
    return { values: this.items.slice(start, end), lineage: offsets(start, end - start), failures: undefined };
  }
  close(): void {
    this.next = this.items.length;
  }
}

const usedIterators = new WeakMap<object, { used?: boolean }>();
function markUsed(it: object, where: string): void {
  let u = usedIterators.get(it);
  if (!u) usedIterators.set(it, (u = {}));
  once(u, where);
}

class IterableSource<T> implements Puller<T> {
  private offset = 0;
  private done = false;
  constructor(
    private readonly it: Iterator<T>,
    private readonly exec: Exec,
  ) {
    markUsed(it, "data.stream");
    // Resuming: items before the committed offset are read past, not yielded.
    while (this.offset < exec.resumeAt) {
      if (this.it.next().done) {
        this.done = true;
        break;
      }
      this.offset++;
      exec.counters.skipped++;
    }
  }
  pull(): Chunk<T> | null {
    if (this.done || this.exec.signal.aborted) return null;
    const values: T[] = [];
    const lineage: Lineage[] = [];
    const n = this.exec.chunk;
    while (values.length < n) {
      const r = this.it.next();
      if (r.done) {
        this.done = true;
        break;
      }
      values.push(r.value);
      lineage.push(this.offset++);
    }
    this.exec.counters.pulled += values.length;
    return values.length === 0 ? null : { values, lineage, failures: undefined };
  }
  close(): void {
    if (this.done) return;
    this.done = true;
    this.it.return?.();
  }
}

class AsyncIterableSource<T> implements Puller<T> {
  private offset = 0;
  private done = false;
  constructor(
    private readonly it: AsyncIterator<T>,
    private readonly exec: Exec,
  ) {
    markUsed(it, "data.stream");
  }
  async pull(): Promise<Chunk<T> | null> {
    while (!this.done && this.offset < this.exec.resumeAt) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else {
        this.offset++;
        this.exec.counters.skipped++;
      }
    }
    if (this.done || this.exec.signal.aborted) return null;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return null;
    }
    this.exec.counters.pulled++;
    return { values: [r.value], lineage: [this.offset++], failures: undefined };
  }
  close(): void {
    if (this.done) return;
    this.done = true;
    // A generator suspended at a yield runs its finally blocks now; one busy in an await does
    // so once that await settles: not awaited, so a source stuck in a read cannot hold the close.
    const closing = this.it.return?.();
    if (closing !== undefined) Promise.resolve(closing).catch(() => undefined);
  }
}

class WebSource<T> implements Puller<T> {
  private offset = 0;
  private done = false;
  private readonly reader: ReadableStreamDefaultReader<T>;
  constructor(
    stream: ReadableStream<T>,
    private readonly exec: Exec,
  ) {
    this.reader = stream.getReader();
  }
  async pull(): Promise<Chunk<T> | null> {
    for (;;) {
      if (this.done || this.exec.signal.aborted) return null;
      const r = await this.reader.read();
      if (r.done) {
        this.done = true;
        this.reader.releaseLock();
        return null;
      }
      if (this.offset < this.exec.resumeAt) {
        this.offset++;
        this.exec.counters.skipped++;
        continue;
      }
      this.exec.counters.pulled++;
      return { values: [r.value], lineage: [this.offset++], failures: undefined };
    }
  }
  async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.reader.cancel().catch(() => undefined);
  }
}

/** A Node Readable: everything it has buffered moves as one chunk; otherwise wait for `readable`. */
class ReadableSource<T> implements Puller<T> {
  private offset = 0;
  private done = false;
  constructor(
    private readonly readable: Readable,
    private readonly exec: Exec,
  ) {
    const u = usedIterators.get(readable) ?? {};
    usedIterators.set(readable, u);
    once(u, "data.stream");
  }
  pull(): Pulled<T> {
    if (this.done || this.exec.signal.aborted) return null;
    const r = this.readable;
    const values: T[] = [];
    const lineage: Lineage[] = [];
    const n = this.exec.chunk;
    let x: unknown;
    while (values.length < n && (x = r.read()) !== null) {
      if (this.offset < this.exec.resumeAt) {
        this.offset++;
        this.exec.counters.skipped++;
        continue;
      }
      values.push(x as T);
      lineage.push(this.offset++);
    }
    if (values.length > 0) {
      this.exec.counters.pulled += values.length;
      return { values, lineage, failures: undefined };
    }
    if (r.readableEnded || (r as { destroyed?: boolean }).destroyed) {
      this.done = true;
      const error = (r as { errored?: unknown }).errored;
      if (error) throw error;
      return null;
    }
    return new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        r.off("readable", onReadable);
        r.off("end", onReadable);
        r.off("close", onReadable);
        r.off("error", onError);
      };
      const onReadable = () => {
        cleanup();
        resolve();
      };
      const onError = (error: unknown) => {
        cleanup();
        reject(error);
      };
      r.once("readable", onReadable);
      r.once("end", onReadable);
      r.once("close", onReadable);
      r.once("error", onError);
    }).then(() => this.pull());
  }
  close(): void {
    if (this.done) return;
    this.done = true;
    this.readable.destroy();
  }
}
