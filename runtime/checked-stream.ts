/**
 * What an op that returns a stream (`AsyncIterable<T>`, declared so; the transformer marks
 * its descriptor `stream` and describes `T`) hands its caller: the same items, each checked
 * against the item schema as it is yielded, with the body's generator run in the op's own
 * frame (its `getContext()`), and ended when the call's signal fires.
 *
 * The kernel wraps the value at the point it would check an ordinary result; the call
 * itself has settled by then (its span ends when the stream is handed over).
 */
import { abortReason, raceAbort, store, type Frame } from "./context.js";
import { ValidationError } from "./errors.js";

/** Wraps an op's returned stream; a value that is no async iterable is the op's output `ValidationError`. */
export function checkedStream(op: string, value: unknown, frame: Frame, check: ((item: unknown) => void) | undefined): AsyncIterable<unknown> {
  const source = value as AsyncIterable<unknown> | null | undefined;
  if (source === null || source === undefined || typeof (source as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== "function") {
    throw new ValidationError(op, [{ direction: "output", parameter: "return", path: "$", expected: "an async iterable (the op is declared to return a stream)", received: source === null ? "null" : typeof source, keyword: "type" }]);
  }
  return {
    [Symbol.asyncIterator](): AsyncIterator<unknown> {
      const it = store.run(frame, () => source[Symbol.asyncIterator]());
      const signal = frame.signal;
      let index = 0;
      let done = false;
      const stop = (): void => {
        if (done) return;
        done = true;
        // Not awaited: a generator busy in an await returns once it settles.
        if (it.return) Promise.resolve(store.run(frame, () => it.return!())).catch(() => undefined);
      };
      return {
        next: async (): Promise<IteratorResult<unknown>> => {
          if (done) return { done: true, value: undefined };
          if (signal.aborted) {
            stop();
            throw abortReason(signal, op);
          }
          let r: IteratorResult<unknown>;
          try {
            r = await raceAbort(Promise.resolve(store.run(frame, () => it.next())), signal, op);
          } catch (error) {
            stop();
            throw error;
          }
          if (r.done) {
            done = true;
            return r;
          }
          if (check !== undefined) {
            try {
              check(r.value);
            } catch (error) {
              stop();
              throw error instanceof ValidationError ? itemError(op, error, index) : error;
            }
          }
          index++;
          return r;
        },
        return: async (): Promise<IteratorResult<unknown>> => {
          stop();
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/** The check's error, with the item's position in its path: `return at $[3].text`. */
function itemError(op: string, error: ValidationError, index: number): ValidationError {
  return new ValidationError(
    op,
    error.issues.map((i) => ({ ...i, path: `$[${index}]${i.path.startsWith("$") ? i.path.slice(1) : i.path}` })),
  );
}
