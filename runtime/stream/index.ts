/**
 * `data`: streaming pipelines. `data.stream(source)` opens a pull-based, chunked, bounded
 * stream over arrays, iterables, async iterables, web and Node streams and loaders;
 * `data.jsonl`, `data.csv`, `data.lines` and `data.files` read files; `data.register` and
 * `data.load` name user loaders; `data.progressBar` draws a stream's progress.
 */
import { csv, files, jsonl, lines, load, register } from "./loaders.js";
import { progressBar } from "./progress.js";
import type { Source } from "./sources.js";
import { streamOf, type Stream, type StreamOptions } from "./stream.js";

/** The `data` namespace: what `import { data } from "weft"` gives. */
export interface Data {
  /**
   * Opens a stream over `source`: an array, an iterable, an async iterable, a web
   * `ReadableStream`, a Node `Readable`, a loader (`data.jsonl(path)`) or another stream.
   */
  stream<T>(source: Source<T>, options?: StreamOptions): Stream<T>;
  readonly jsonl: typeof jsonl;
  readonly csv: typeof csv;
  readonly lines: typeof lines;
  readonly files: typeof files;
  readonly register: typeof register;
  readonly load: typeof load;
  readonly progressBar: typeof progressBar;
}

/**
 * Streaming pipelines with bounded buffers, backpressure, loaders, dead letters and lineage.
 *
 * @example
 * ```ts
 * import { data, op, vmap } from "weft";
 * const score = op(async (text: string): Promise<number> => text.length);
 * const summary = await data
 *   .stream(data.jsonl<{ text: string }>("answers.jsonl"))
 *   .map((row) => row.text)
 *   .batch(32)
 *   .through(vmap(score, { concurrency: 8 }))
 *   .run((n) => console.log(n));
 * console.log(summary.emitted, summary.deadLetters.length);
 * ```
 */
export const data: Data = Object.freeze({
  stream: <T>(source: Source<T>, options?: StreamOptions): Stream<T> => streamOf(source, options),
  jsonl,
  csv,
  lines,
  files,
  register,
  load,
  progressBar,
});

export { Stream, type StreamOptions, type StreamProgress, type StreamSummary, type StreamDeadLetter, type Traced, type Sink } from "./stream.js";
export { Loader, type CsvOptions, type FilesOptions, type FileEntry } from "./loaders.js";
export type { Source } from "./sources.js";
export type { MapOptions, BatchStageOptions, BufferOptions, BufferStrategy, Many } from "./stages.js";
export type { ThroughOptions } from "./through.js";
export type { ProgressBarOptions, ProgressOutput } from "./progress.js";
export { MalformedRecord, StreamItemError } from "./errors.js";
