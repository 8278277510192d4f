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

/** The middle value of `values` (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** What `interleaved` measured for one task: medians over the rounds, per call. */
export interface CallCost {
  /** Median wall time per call, µs. */
  readonly wallUs: number;
  /** Median CPU time (user + system, the whole process) per call, µs. */
  readonly cpuUs: number;
  /** Calls per sample (calibrated in warm-up so a sample lasts about `sampleMs`). */
  readonly calls: number;
  /** Samples taken (one per round). */
  readonly rounds: number;
  /** CPU µs per call of each round's sample, in round order (for differences paired by round). */
  readonly cpuSamples: readonly number[];
}

/**
 * The median over rounds of `a`'s CPU cost minus `b`'s in the same round: a framework's
 * overhead over its baseline, each difference taken between samples seconds apart, so a
 * change in the host's load between rounds does not land on one side only.
 *
 * @example
 * ```ts
 * const cost = await interleaved({ plain, framework }, { rounds: 15, sampleMs: 40 });
 * pairedCpuOverUs(cost.framework!, cost.plain!); // µs per call
 * ```
 */
export function pairedCpuOverUs(a: CallCost, b: CallCost): number {
  return median(a.cpuSamples.map((x, i) => x - b.cpuSamples[i]!));
}

/** Options of `interleaved`. */
export interface InterleaveOptions {
  /** Rounds; each round takes one sample of every task. */
  readonly rounds: number;
  /** Target length of one sample; a task slower than this takes one call per sample. */
  readonly sampleMs: number;
  /**
   * Splits each sample into this many runs, visited in turn with the other tasks' runs
   * (default 1: one run per sample). A round then alternates the tasks every
   * `sampleMs / slices`, so a change in the host's load within the round lands on every task
   * alike. With slices the heap is collected once per round only, not before each run: a
   * task's garbage is collected during whichever run fills the young generation, so each
   * task pays for collections in proportion to what it allocates, inside its own samples.
   */
  readonly slices?: number;
  /**
   * What a sample's length is measured in when `calls` is calibrated: `"wall"` (default) or
   * `"cpu"`. CPU time suits tasks that wait on another process: on a busy host their wall
   * time grows with the host's load, so a wall-calibrated sample would hold only a few calls.
   */
  readonly calibrate?: "wall" | "cpu";
}

const gc = (globalThis as { gc?: (options?: { type: "minor" | "major" }) => void }).gc;

/**
 * Measures async tasks side by side, in one process: each round takes one sample of every
 * task (in an order rotated each round, so no task always follows the same neighbour), and
 * a sample awaits the task `calls` times in a row, reading the wall clock and
 * `process.cpuUsage()` around them. When `gc` is exposed, the young generation is collected
 * before each sample and the whole heap before each round, so one task's garbage is not
 * collected on another's time (a full collection per sample would cost more than the
 * samples: a few hundred ms each with every framework loaded, on a busy host); with
 * `slices`, see there. Warm-up runs each task for two sample lengths (which also calibrates
 * `calls`). Returns each task's median cost per call.
 *
 * CPU time is the figure to compare on a shared machine: wall time also counts the time
 * the host gave other processes, CPU time only this process's work.
 *
 * @example
 * ```ts
 * const cost = await interleaved({ plain: (i) => f(i), framework: (i) => g(i) }, { rounds: 15, sampleMs: 40 });
 * cost.framework!.cpuUs - cost.plain!.cpuUs; // the framework's CPU overhead per call, µs
 * ```
 */
export async function interleaved(tasks: Readonly<Record<string, (i: number) => Promise<unknown>>>, options: InterleaveOptions): Promise<Record<string, CallCost>> {
  const names = Object.keys(tasks);
  const calls: Record<string, number> = {};
  const slices = Math.max(1, Math.floor(options.slices ?? 1));
  const cpuMs = () => {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1000;
  };
  const clock = options.calibrate === "cpu" ? cpuMs : () => performance.now();
  for (const name of names) {
    const task = tasks[name]!;
    let perCallMs = 0;
    for (let pass = 0; pass < 2; pass++) {
      let n = 0;
      const start = clock();
      do await task(n++);
      while (clock() - start < options.sampleMs);
      perCallMs = (clock() - start) / n;
    }
    calls[name] = Math.max(1, Math.min(100_000, Math.round(options.sampleMs / slices / perCallMs)));
  }
  const wall: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < options.rounds; round++) {
    gc?.();
    const wallSum: Record<string, number> = {};
    const cpuSum: Record<string, number> = {};
    for (const name of names) wallSum[name] = cpuSum[name] = 0;
    for (let slice = 0; slice < slices; slice++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(round + slice + k) % names.length]!;
        const task = tasks[name]!;
        const n = calls[name]!;
        if (slices === 1) gc?.({ type: "minor" });
        const cpu0 = process.cpuUsage();
        const wall0 = performance.now();
        for (let i = 0; i < n; i++) await task(i);
        wallSum[name]! += (performance.now() - wall0) * 1000;
        const used = process.cpuUsage(cpu0);
        cpuSum[name]! += used.user + used.system;
      }
    }
    for (const name of names) {
      wall[name]!.push(wallSum[name]! / (calls[name]! * slices));
      cpu[name]!.push(cpuSum[name]! / (calls[name]! * slices));
    }
  }
  return Object.fromEntries(names.map((n) => [n, { wallUs: median(wall[n]!), cpuUs: median(cpu[n]!), calls: calls[n]! * slices, rounds: options.rounds, cpuSamples: cpu[n]! }]));
}
