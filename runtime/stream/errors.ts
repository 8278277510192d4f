/**
 * The typed errors of streams.
 */
import { WeftError } from "../errors.js";
import { boundedText, messageOf } from "../redact.js";

/**
 * A record of a file that cannot be read as its format says (a JSONL line that is not JSON,
 * a CSV row with an open quote or the wrong number of fields). The stream goes on without
 * it; the record is dead-lettered with this error (or stops the stream under `onError: "fail"`).
 *
 * @example
 * ```ts
 * import { data, MalformedRecord } from "weft";
 * const s = await data.stream(data.jsonl("questions.jsonl")).run();
 * for (const d of s.deadLetters) if (d.error instanceof MalformedRecord) console.log(d.error.file, d.error.line);
 * ```
 */
export class MalformedRecord extends WeftError {
  readonly _tag = "MalformedRecord";
  constructor(
    /** The file, as given to the loader. */
    readonly file: string,
    /** 1-based line where the record starts. */
    readonly line: number,
    /** `jsonl`, `csv`. */
    readonly format: string,
    /** What is wrong. */
    readonly reason: string,
  ) {
    super(boundedText(`${file}:${line}: malformed ${format} record: ${reason}`));
  }
}

/**
 * An item failed and the stream ran with `onError: "fail"`: the stream stops with this.
 * `offset` is the item's source offset (for a line loader, its 0-based line).
 *
 * @example
 * ```ts
 * import { data, StreamItemError } from "weft";
 * await data.stream([1, 2, 3], { onError: "fail" }).map((n) => { if (n === 2) throw new Error("no"); return n; }).collect()
 *   .catch((e) => e instanceof StreamItemError && e.offset); // 1
 * ```
 */
export class StreamItemError extends WeftError {
  readonly _tag = "StreamItemError";
  constructor(
    /** The stage that failed the item (`map#1`, `jsonl`). */
    readonly stage: string,
    readonly offset: number,
    cause: unknown,
  ) {
    super(boundedText(`stream ${stage}: item at offset ${offset} failed: ${messageOf(cause)}`), { cause });
  }
}
