/**
 * The benchmark harness: every suite returns `Metric`s; `run.ts` prints them as a markdown
 * table and writes `benchmarks/results.json`. Speed is always reported as a ratio against
 * a baseline measured in the same run, so numbers from different machines stay comparable.
 */
import { Bench, type Task } from "tinybench";

/** One measured figure. `ratio` compares `value` with `baseline` (what "1.0" would mean). */
export interface Metric {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: string;
  readonly ratio?: number;
}

/** A suite: runs its benchmarks and returns its figures. */
export type Suite = (options: { readonly quick: boolean }) => Promise<Metric[]>;

/** Mean time per iteration of a task, in microseconds. */
export function meanUs(task: Task | undefined): number {
  const result = task?.result;
  if (!result || result.state !== "completed") throw new Error(`benchmark ${task?.name ?? "?"} did not complete`);
  return result.latency.mean * 1000;
}

/** Runs tasks interleaved in one bench, returning each task's mean µs per iteration. */
export async function measure(tasks: Record<string, () => unknown>, options: { time?: number; iterations?: number; warmup?: boolean } = {}): Promise<Record<string, number>> {
  const bench = new Bench({ time: options.time ?? 300, iterations: options.iterations ?? 10, warmupTime: 100, warmup: options.warmup ?? true, throws: true });
  for (const [name, fn] of Object.entries(tasks)) bench.add(name, fn as () => void);
  await bench.run();
  return Object.fromEntries(bench.tasks.map((t) => [t.name, meanUs(t)]));
}

/** Rounds to a few significant digits for display and results.json. */
export function round(value: number, digits = 3): number {
  if (value === 0 || !Number.isFinite(value)) return value;
  const scale = 10 ** (digits - Math.ceil(Math.log10(Math.abs(value))));
  return Math.round(value * scale) / scale;
}
