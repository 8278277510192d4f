/**
 * The pull protocol every stream stage speaks, and the state one run of a stream shares.
 *
 *   sink ──pull()──> stage ──pull()──> stage ──pull()──> source
 *        <─chunk───        <─chunk───        <─chunk───
 *
 * A pull returns a chunk (many items), `null` at the end, or a promise of either: a stage
 * whose work is synchronous answers synchronously, so a pipeline of sync stages costs one
 * promise per chunk, not per item. Nothing moves unless pulled; every queue a stage keeps
 * has a bound (a chunk, a concurrency window, a named buffer).
 *
 * Items carry their lineage (the source offsets they came from) beside them, and items that
 * failed travel beside the values (`failures`), so every pulled item ends as a value, a
 * failure or a counted drop.
 */
import type { Frame, RunScope } from "../context.js";

/** The source offsets an item came from: one offset, or several (a batch). */
export type Lineage = number | readonly number[];

/** An item that failed in a stage (or at its source): what it was and why. */
export interface Failure {
  readonly lineage: Lineage;
  readonly error: unknown;
  /** The item as the failing stage received it (a malformed line's text, a map input). */
  readonly input: unknown;
  /** The stage that failed it (`map#2`, `jsonl`, `through(score)`). */
  readonly stage: string;
}

/** What a pull hands back: values with their lineage (same length), and failures. */
export interface Chunk<T> {
  readonly values: T[];
  readonly lineage: Lineage[];
  readonly failures: Failure[] | undefined;
}

/** A chunk, the end (`null`), or a promise of either. */
export type Pulled<T> = Chunk<T> | null | Promise<Chunk<T> | null>;

/** One stage (or source) of a running stream. */
export interface Puller<T> {
  pull(): Pulled<T>;
  /** Stops the stage and everything above it: sources closed, timers cleared, buffers freed. Idempotent. */
  close(): void | Promise<void>;
}

/** Counts one run of a stream keeps; `onProgress` receives a copy. */
export interface Counters {
  /** Items the source produced (skipped ones not included). */
  pulled: number;
  /** Values that reached the sink. */
  emitted: number;
  /** Items that failed (dead-lettered, or yielded as failed results). */
  failed: number;
  /** Items a stage let go on purpose: filtered out, beyond `take`, dropped by a buffer. */
  dropped: number;
  /** Source items not read again because a durable run had committed them. */
  skipped: number;
}

/** What every stage of one run shares. */
export interface Exec {
  /** The stream's frame: its signal stops the run; stage functions run in it. */
  readonly frame: Frame;
  readonly signal: AbortSignal;
  readonly counters: Counters;
  /** The durable run this stream belongs to, if any. */
  readonly run: RunScope | undefined;
  /** Source offset to resume from: items before it were committed by an earlier process. */
  readonly resumeAt: number;
  /** Items per source chunk. */
  readonly chunk: number;
  /** A stage number for stage names (`map#3`), unique in this run. */
  nextStage(): number;
}

/** Builds the pullers of one run: a stream is a recipe, run afresh by every sink. */
export type Build<T> = (exec: Exec) => Puller<T>;

export function chunkOf<T>(values: T[], lineage: Lineage[], failures?: Failure[]): Chunk<T> {
  return { values, lineage, failures: failures !== undefined && failures.length > 0 ? failures : undefined };
}

export const EMPTY_CHUNK: Chunk<never> = Object.freeze({ values: [], lineage: [], failures: undefined }) as Chunk<never>;

/** The first source offset of a lineage (a dead letter's index). */
export function firstOffset(lineage: Lineage): number {
  return typeof lineage === "number" ? lineage : (lineage[0] ?? -1);
}

/** The lowest source offset of a lineage. */
export function minOffset(lineage: Lineage): number {
  if (typeof lineage === "number") return lineage;
  let min = Infinity;
  for (const o of lineage) if (o < min) min = o;
  return min;
}

/** Every source offset of a lineage, as an array. */
export function offsetsOf(lineage: Lineage): readonly number[] {
  return typeof lineage === "number" ? [lineage] : lineage;
}

/** One lineage for items made of several (a batch): their offsets, flattened. */
export function joinLineage(parts: readonly Lineage[]): number[] {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else for (const o of p) out.push(o);
  }
  return out;
}

/** Appends `more` to `into` (failures lists are rare and short). */
export function addFailures(into: Failure[] | undefined, more: readonly Failure[] | undefined): Failure[] | undefined {
  if (more === undefined || more.length === 0) return into;
  if (into === undefined) return [...more];
  for (const f of more) into.push(f);
  return into;
}
