/**
 * The cost model behind placement: a measured mean duration per op id, and the rule that
 * moves a sync op to a worker once its mean is clearly above a worker round trip.
 *
 * Means are exponentially weighted (recent runs count most, so an op whose inputs grow is
 * noticed) and fed from both sides: inline runs on the main thread, and body time measured
 * inside the worker once an op has moved, so a moved op can move back.
 */
import type { OpDescriptor } from "../../decorators/descriptor.js";
import { ROUND_TRIP_MS, WORKER_FACTOR } from "../../compiler/costs.js";

// The thresholds are the compiler's place pass's: one rule for every placement decision.
export { ROUND_TRIP_MS, WORKER_FACTOR } from "../../compiler/costs.js";

// Weight of the newest run: about the last ten runs matter.
const ALPHA = 0.2;
// Runs needed before deciding, after the first (cold: JIT compilation, first-touch caches)
// which is discarded: one slow first call must not move a 10 µs op.
const MIN_SAMPLES = 3;

/** What the model keeps per op. */
export interface Stats {
  mean: number;
  samples: number;
  onWorker: boolean;
}

/** The cost model's state: per-op measurements and the round trip they are weighed against. Owned by a `Runtime`. */
export interface CostModel {
  readonly stats: Map<string, Stats>;
  roundTripMs: number;
}

/** A cost model with nothing measured yet. Internal. */
export function newCostModel(): CostModel {
  return { stats: new Map(), roundTripMs: ROUND_TRIP_MS };
}

let model: CostModel = newCostModel();
let stats = model.stats;

/** Makes `next` the cost model in force; returns the previous one. Internal: `Runtime` swaps it. */
export function installCostModel(next: CostModel): CostModel {
  const previous = model;
  model = next;
  stats = next.stats;
  return previous;
}

/**
 * Records `runs` runs of op `opId` taking `totalMs` in all.
 *
 * @example
 * ```ts
 * recordDuration(desc.id, 4.2);        // one inline run
 * recordDuration(desc.id, 120, 25);    // a chunk of 25 runs in a worker
 * ```
 */
export function recordDuration(opId: string, totalMs: number, runs = 1): void {
  if (!(runs >= 1) || !(totalMs >= 0)) return;
  let s = stats.get(opId);
  if (!s) {
    s = { mean: 0, samples: 0, onWorker: false };
    stats.set(opId, s);
    // Discard the cold run: of a chunk, only its share of the total.
    if (runs === 1) return;
    totalMs -= totalMs / runs;
    runs -= 1;
  }
  const each = totalMs / runs;
  if (s.samples === 0) {
    s.mean = each;
    s.samples = runs;
    return;
  }
  // `runs` equal samples at once: the weight they would have had one by one.
  const weight = 1 - (1 - ALPHA) ** runs;
  s.mean += weight * (each - s.mean);
  s.samples += runs;
}

/**
 * The measured mean duration of op `opId` in ms, or `undefined` before it has warm runs.
 * Feeds the JIT's place pass.
 *
 * @example
 * ```ts
 * place(graph, { cost: (desc) => ({ meanMs: meanMs(desc.id) }) });
 * ```
 */
export function meanMs(opId: string): number | undefined {
  const s = stats.get(opId);
  return s && s.samples > 0 ? s.mean : undefined;
}

/**
 * The cost model in the shape the compiler's place pass takes.
 *
 * @example
 * ```ts
 * place(graph, { cost: costOf, roundTripMs: currentRoundTripMs() });
 * ```
 */
export function costOf(desc: OpDescriptor): { readonly meanMs: number | undefined } {
  return { meanMs: meanMs(desc.id) };
}

/**
 * Whether op `opId` should run on a worker: after `MIN_SAMPLES` warm runs, once its mean
 * reaches `WORKER_FACTOR` round trips; it moves back only when the mean falls below one
 * round trip, so an op near the threshold does not flip on every call.
 *
 * @example
 * ```ts
 * if (prefersWorker(entry.desc.id)) return pool.call(entry, thisArg, args, frame);
 * ```
 */
export function prefersWorker(opId: string): boolean {
  const s = stats.get(opId);
  if (!s || s.samples < MIN_SAMPLES) return false;
  s.onWorker = s.onWorker ? s.mean >= model.roundTripMs : s.mean >= WORKER_FACTOR * model.roundTripMs;
  return s.onWorker;
}

/**
 * The round trip the model weighs against, in ms.
 *
 * @example
 * ```ts
 * currentRoundTripMs(); // 0.15 unless configured
 * ```
 */
export function currentRoundTripMs(): number {
  return model.roundTripMs;
}

/**
 * Sets the round trip the model weighs against (for example one measured at startup).
 *
 * @example
 * ```ts
 * setRoundTripMs(await measureRoundTrip());
 * ```
 */
export function setRoundTripMs(ms: number): void {
  if (!(ms > 0) || !Number.isFinite(ms)) throw new RangeError(`weft workers: roundTripMs must be a positive number, received ${ms}`);
  model.roundTripMs = ms;
}
