/**
 * What an op that returns a stream (`AsyncIterable<T>`, `ReadableStream<T>`, an async
 * generator; the transformer marks its descriptor `stream` and describes `T`) hands its
 * caller: the same items, each checked against the item schema as it is yielded, with the
 * body's iterator run in the op's own frame (its `getContext()`), and ended when the call's
 * signal fires.
 *
 * The call lasts as long as its stream: the kernel wraps the value at the point it would
 * check an ordinary result and hands `end` the rest of the call (ending its span, emitting
 * `op:end`, clearing its deadline timer), which runs once, when the stream finishes, fails,
 * is closed by its consumer (`return()`, leaving a `for await`) or its signal fires; a
 * stream its caller drops without finishing (never iterated, or left mid-way without
 * `return()`) ends its call as closed when it is garbage-collected.
 *
 * In a durable run, `journaledStream` records the items of a stream that finished, so a
 * resumed run replays them (`replayedStream`) instead of running the body again.
 */
import { NEVER_SIGNAL, abortReason, allowManyListeners, raceAbort, store, type Frame } from "./context.js";
import { ValidationError } from "./errors.js";

/**
 * How a stream's call ended: `error` when it failed (a body error, an item that broke the
 * declared type, the call's deadline or cancellation), `items` yielded, `closed` when its
 * consumer stopped before the end, `abandoned` when it did so by dropping the stream (found
 * when the stream was garbage-collected).
 */
export type StreamEnd = (error: unknown, items: number, closed: boolean, abandoned?: true) => void;

/**
 * Ends the call of a stream that was garbage-collected before it ended: what it holds is the
 * call's `finish`, never the stream itself.
 */
const abandoned = new FinalizationRegistry<(error: unknown, closed: boolean, dropped?: true) => void>((finish) => finish(undefined, true, true));

/**
 * Wraps an op's returned stream; a value that is no async iterable (nor web `ReadableStream`)
 * is the op's output `ValidationError`, thrown here. `surface` turns a body's error into what
 * the call surfaces (an `OpError` naming the op).
 */
export function checkedStream(
  op: string,
  value: unknown,
  frame: Frame,
  check: ((item: unknown) => void) | undefined,
  surface: (error: unknown) => unknown,
  end: StreamEnd,
): AsyncIterable<unknown> {
  const source = value as AsyncIterable<unknown> | null | undefined;
  if (source === null || source === undefined || typeof (source as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== "function") {
    throw new ValidationError(op, [{ direction: "output", parameter: "return", path: "$", expected: "an async iterable (the op is declared to return a stream)", received: source === null ? "null" : typeof source, keyword: "type" }]);
  }
  const signal = frame.signal;
  let it: AsyncIterator<unknown> | undefined;
  let index = 0;
  let finished = false;
  // Once: the first of the end, a failure, the consumer closing and the signal firing.
  const finish = (error: unknown, closed: boolean, dropped?: true): void => {
    if (finished) return;
    finished = true;
    if (signal !== NEVER_SIGNAL) signal.removeEventListener("abort", onAbort);
    if (error !== undefined || closed) {
      // Not awaited: a generator busy in an await returns once it settles.
      const open = it;
      if (open?.return) Promise.resolve(store.run(frame, () => open.return!())).catch(() => undefined);
    }
    if (dropped) end(error, index, closed, dropped);
    else end(error, index, closed);
  };
  const onAbort = (): void => finish(abortReason(signal, op), false);
  if (signal !== NEVER_SIGNAL) {
    if (signal.aborted) {
      // Too late to start: the call fails as a call whose signal fired would.
      finish(abortReason(signal, op), false);
    } else {
      allowManyListeners(signal);
      signal.addEventListener("abort", onAbort, { once: true });
    }
  }
  const iterator: AsyncIterator<unknown> = {
    next: async (): Promise<IteratorResult<unknown>> => {
      if (finished) {
        if (signal.aborted) throw abortReason(signal, op);
        return { done: true, value: undefined };
      }
      it ??= store.run(frame, () => source[Symbol.asyncIterator]());
      const open = it;
      let r: IteratorResult<unknown>;
      try {
        r = await raceAbort(Promise.resolve(store.run(frame, () => open.next())), signal, op);
      } catch (error) {
        const surfaced = signal.aborted ? abortReason(signal, op) : surface(error);
        finish(surfaced, false);
        throw surfaced;
      }
      if (finished) {
        // The signal fired (or the consumer closed) while the item was on its way.
        if (signal.aborted) throw abortReason(signal, op);
        return { done: true, value: undefined };
      }
      if (r.done) {
        finish(undefined, false);
        return { done: true, value: undefined };
      }
      if (check !== undefined) {
        try {
          check(r.value);
        } catch (error) {
          const surfaced = error instanceof ValidationError ? itemError(op, error, index) : surface(error);
          finish(surfaced, false);
          throw surfaced;
        }
      }
      index++;
      return r;
    },
    return: async (): Promise<IteratorResult<unknown>> => {
      finish(undefined, true);
      return { done: true, value: undefined };
    },
  };
  // Whatever reads the stream holds `iterator` (the iterable, a web stream's pull, a caller's
  // own reference to it): once nothing does, the call is over.
  if (!finished) abandoned.register(iterator, finish);
  // One call, one stream: iterating it again continues where it is (as a generator does).
  return sameKind(source, iterator);
}

/** What a durable run journals for a stream that ended: its items, and whether it was a web stream. */
export interface JournaledStream {
  readonly items: readonly unknown[];
  readonly web?: true;
}

/** The items of a journaled stream record, or `undefined` when `value` is none (a record of an older version). */
export function journaledItems(value: unknown): readonly unknown[] | undefined {
  const items = (value as JournaledStream | null | undefined)?.items;
  return typeof value === "object" && value !== null && Array.isArray(items) ? items : undefined;
}

/**
 * `stream` as it is consumed, and once it has ended (not failed, not closed early) its items
 * handed to `record`, whose promise the last read waits for: the call is finished in the
 * run's journal before its consumer sees the end. The same kind of stream as `stream`.
 */
export function journaledStream(stream: AsyncIterable<unknown>, record: (value: JournaledStream) => Promise<void>): AsyncIterable<unknown> {
  const inner = stream[Symbol.asyncIterator]();
  const web = stream instanceof ReadableStream;
  let items: unknown[] = [];
  let recorded = false;
  const iterator: AsyncIterator<unknown> = {
    next: async (): Promise<IteratorResult<unknown>> => {
      const r = await inner.next();
      if (!r.done) {
        items.push(r.value);
        return r;
      }
      if (!recorded) {
        recorded = true;
        const value: JournaledStream = web ? { items, web } : { items };
        items = [];
        await record(value);
      }
      return r;
    },
    return: async (): Promise<IteratorResult<unknown>> => {
      items = [];
      return inner.return ? inner.return() : { done: true, value: undefined };
    },
  };
  return web ? webStream(iterator) : { [Symbol.asyncIterator]: () => iterator };
}

/** A journaled stream's items, yielded again without running the op's body; `undefined` for a value that is no `JournaledStream`. */
export function replayedStream(value: unknown): AsyncIterable<unknown> | undefined {
  const items = journaledItems(value);
  if (items === undefined) return undefined;
  let i = 0;
  const iterator: AsyncIterator<unknown> = {
    next: () => Promise.resolve(i < items.length ? { done: false, value: items[i++] } : { done: true, value: undefined }),
    return: () => {
      i = items.length;
      return Promise.resolve({ done: true, value: undefined });
    },
  };
  return (value as JournaledStream).web === true ? webStream(iterator) : { [Symbol.asyncIterator]: () => iterator };
}

/** `iterator` as the kind of stream `source` is: a web `ReadableStream` for one, else an async iterable. */
function sameKind(source: unknown, iterator: AsyncIterator<unknown>): AsyncIterable<unknown> {
  return source instanceof ReadableStream ? webStream(iterator) : { [Symbol.asyncIterator]: () => iterator };
}

/**
 * `iterator` as a web `ReadableStream` that reads nothing ahead (high-water mark 0: one pull
 * per read); cancelling it closes the iterator.
 */
function webStream(iterator: AsyncIterator<unknown>): ReadableStream<unknown> {
  return new ReadableStream<unknown>(
    {
      pull: async (controller) => {
        const r = await iterator.next();
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      },
      cancel: async () => {
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

/** The check's error, with the item's position in its path: `return at $[3].text`. */
function itemError(op: string, error: ValidationError, index: number): ValidationError {
  return new ValidationError(
    op,
    error.issues.map((i) => ({ ...i, path: `$[${index}]${i.path.startsWith("$") ? i.path.slice(1) : i.path}` })),
  );
}
