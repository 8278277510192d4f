/**
 * CPU work on worker threads, in one run, each figure against a baseline measured beside it:
 *
 * (a) 200 items of ~5 ms of real CPU work: the pool (every worker, in chunks) against a
 *     single-threaded loop calling the same function. The ceiling is the core count.
 * (b) the same with ~50 µs items, where only chunking (one round trip per chunk, not per
 *     item) leaves anything to gain.
 * (c) an 8-op CPU pipeline over a batch: fused (one task per item runs all 8 ops) against
 *     unfused (one task per op per item), in wall time and in round trips counted.
 * Plus the bare round trip the cost model weighs against (`ROUND_TRIP_MS`), and the
 * parallelism the machine itself gave during the run (`cpu_parallel_ceiling`): on a shared
 * host it moves between 1× and the core count, and (a) can never beat it.
 *
 * The chunk helper and fused-chain task are driven directly, as vmap and the JIT will.
 * Run compiled (`npm run bench`): worker threads import the ops from .build/, by the
 * locators the weft transformer injected. Imported from sources (test/bench.test.ts, quick
 * mode) no worker can start, the pool runs everything inline, and the figures mean nothing.
 */
import os from "node:os";
import { Worker } from "node:worker_threads";
import { round, type Metric, type Suite } from "./harness.js";
import { nothing, spin, spinOp, stages, type Rec } from "./workers.ops.js";

/** The pool's surface this suite uses (the pool is internal: see `internals`). */
interface Pool {
  readonly size: number;
  readonly tasks: number;
  call(entry: unknown, thisArg: unknown, args: readonly unknown[], frame: unknown): Promise<unknown>;
  chain(chain: ReadonlyArray<{ readonly opId: string }>, args: readonly unknown[], frame: unknown): Promise<unknown>;
  chunk(target: string, items: readonly (readonly unknown[])[], frame: unknown): Promise<ReadonlyArray<{ readonly ok: boolean; readonly value?: unknown; readonly error?: unknown }>>;
}

interface Internals {
  readonly defaultPool: () => Pool;
  readonly closeWorkers: () => Promise<void>;
  readonly lookup: (id: string) => unknown;
  readonly ROOT: unknown;
}

/**
 * The pool, registry and root frame, from the same copy of weft that `import "weft"`
 * resolved to: dist/ when compiled (the package self-reference), the sources under vitest.
 * Two copies would mean two registries, and no op found by id.
 */
async function internals(): Promise<Internals> {
  const compiled = import.meta.url.endsWith(".js");
  const root = compiled ? new URL("../../dist/", import.meta.url) : new URL("../", import.meta.url);
  const load = (path: string) => import(new URL(`${path}${compiled ? ".js" : ".ts"}`, root).href) as Promise<Record<string, unknown>>;
  const [pool, registry, context] = await Promise.all([load("runtime/workers/pool"), load("runtime/registry"), load("runtime/context")]);
  return {
    defaultPool: pool.defaultPool as Internals["defaultPool"],
    closeWorkers: pool.closeWorkers as Internals["closeWorkers"],
    lookup: registry.lookup as Internals["lookup"],
    ROOT: context.ROOT,
  };
}

/** What the machine allowed while a figure was taken, shown beside it. */
function context(ceiling: number): string {
  return ` (machine ceiling ${round(ceiling)}× with plain threads; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.availableParallelism()} cores)`;
}

/** Rounds of `spin` that take about `targetMs` here: the median of a few timed runs. */
function calibrate(targetMs: number): number {
  const probe = 200_000;
  spin(1, probe);
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const start = performance.now();
    spin(i + 1, probe);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return Math.max(1, Math.round((probe * targetMs) / times[3]!));
}

/**
 * Times `a` and `b` in alternating pairs and returns their medians and the median of the
 * per-pair ratios a ÷ b. Alternating matters on a shared machine: both sides of a pair see
 * the same background load, where timing all of `a` and then all of `b` would not. Each
 * pair also samples the machine's parallel ceiling (see `Ceiling`), reported beside it.
 */
async function pairs(a: () => unknown, b: () => unknown, count: number, ceiling: Ceiling): Promise<{ aMs: number; bMs: number; ratio: number; ceiling: number }> {
  const as: number[] = [];
  const bs: number[] = [];
  const ratios: number[] = [];
  const ceilings: number[] = [];
  for (let i = 0; i < count; i++) {
    let start = performance.now();
    await a();
    const aMs = performance.now() - start;
    start = performance.now();
    await b();
    const bMs = performance.now() - start;
    as.push(aMs);
    bs.push(bMs);
    ratios.push(aMs / bMs);
    ceilings.push(await ceiling.sample());
  }
  return { aMs: median(as), bMs: median(bs), ratio: median(ratios), ceiling: median(ceilings) };
}

/**
 * What parallelism the machine gives right now: the speedup of two plain worker threads
 * (no weft, no piscina) over one, on the same `spin` work. On a shared host it moves
 * between 1× and the core count from minute to minute, so every figure that depends on it
 * is reported beside a sample taken in the same pair.
 */
class Ceiling {
  readonly samples: number[] = [];
  private readonly threads: Worker[];
  private readonly rounds: number;

  constructor(rounds: number) {
    const code = `const { parentPort } = require("node:worker_threads"); const spin = ${spin.toString()}; parentPort.on("message", ([s, n]) => parentPort.postMessage(spin(s, n)));`;
    this.threads = [new Worker(code, { eval: true }), new Worker(code, { eval: true })];
    this.rounds = rounds;
  }

  private run(thread: Worker, rounds: number): Promise<unknown> {
    return new Promise((resolve) => {
      thread.once("message", resolve);
      thread.postMessage([7, rounds]);
    });
  }

  async sample(): Promise<number> {
    const [first, second] = this.threads as [Worker, Worker];
    let start = performance.now();
    await this.run(first, this.rounds);
    const one = performance.now() - start;
    start = performance.now();
    await Promise.all([this.run(first, this.rounds / 2), this.run(second, this.rounds / 2)]);
    const ratio = one / (performance.now() - start);
    this.samples.push(ratio);
    return ratio;
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.terminate()));
  }
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `items` split into `count` contiguous chunks of near-equal size. */
function chunks<T>(items: readonly T[], count: number): T[][] {
  const size = Math.ceil(items.length / count);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** One vmap-style pass: chunks to every worker at once, results back in input order. */
async function pooled(pool: Pool, id: string, items: readonly (readonly unknown[])[], count: number, frame: unknown): Promise<number> {
  const parts = await Promise.all(chunks(items, count).map((part) => pool.chunk(id, part, frame)));
  let check = 0;
  for (const part of parts) {
    for (const r of part) {
      if (!r.ok) throw r.error;
      check ^= r.value as number;
    }
  }
  return check;
}

export const run: Suite = async ({ quick }) => {
  const { defaultPool, closeWorkers, lookup, ROOT } = await internals();
  const pool = defaultPool();
  const frame = ROOT;
  const metrics: Metric[] = [];
  let sink = 0;
  // About 50 ms of work per sample here.
  const ceiling = new Ceiling(quick ? calibrate(2) : calibrate(50));

  try {
    await ceiling.sample();
    ceiling.samples.length = 0;
    // ── the bare round trip ─────────────────────────────────────────────
    const nothingEntry = lookup(nothing.descriptor.id);
    for (let i = 0; i < 200; i++) await pool.call(nothingEntry, undefined, [i], frame); // start threads, warm paths
    const trips = quick ? 50 : 2000;
    const tripStart = performance.now();
    for (let i = 0; i < trips; i++) await pool.call(nothingEntry, undefined, [i], frame);
    const roundTripUs = ((performance.now() - tripStart) / trips) * 1000;
    metrics.push({ name: "worker_round_trip_us", value: round(roundTripUs), unit: "µs", baseline: "one no-op task, sequential" });

    // ── (a) and (b): a CPU-bound map, pool in chunks vs one thread ───────────
    const cases = [
      // Many chunks per worker: a worker slowed by other load on the machine takes fewer.
      { name: "cpu_vmap_speedup_5ms", itemMs: 5, chunksPerWorker: 10, pairs: 5 },
      // ~50 µs items: one chunk per worker, since every extra chunk costs a round trip.
      { name: "cpu_vmap_speedup_50us", itemMs: 0.05, chunksPerWorker: 1, pairs: 21 },
    ] as const;
    for (const c of cases) {
      const count = quick ? 20 : 200;
      const itemMs = quick ? Math.min(c.itemMs, 0.5) : c.itemMs;
      const rounds = calibrate(itemMs);
      const items = Array.from({ length: count }, (_, i) => [i + 1, rounds] as const);
      const loop = () => {
        let check = 0;
        for (const [seed, r] of items) check ^= spin(seed, r);
        return check;
      };
      const onPool = () => pooled(pool, spinOp.descriptor.id, items, pool.size * c.chunksPerWorker, frame);
      // Both must compute the same thing.
      if ((await onPool()) !== loop()) throw new Error(`${c.name}: the pool and the loop disagree`);
      // Warm both sides' JIT (the chunk path in the workers included) with about a second
      // of each before timing: a cold chunk path costs the 50 µs case a quarter of its time.
      for (let spent = 0, start = performance.now(); !quick && spent < 1000; spent = performance.now() - start) {
        sink ^= loop();
        sink ^= await onPool();
      }
      const t = await pairs(() => (sink ^= loop()), async () => (sink ^= await onPool()), quick ? 1 : c.pairs, ceiling);
      metrics.push({
        name: c.name,
        value: round(t.ratio),
        unit: "×",
        baseline: `${count} items of ${itemMs} ms: single-threaded loop ${round(t.aMs)} ms | pool of ${pool.size} ${round(t.bMs)} ms${context(t.ceiling)}`,
        ratio: round(t.ratio),
      });
    }

    // ── (c): an 8-op CPU pipeline, fused vs unfused ─────────────────────────
    const batch = quick ? 8 : 64;
    const stageRounds = calibrate(0.01);
    const records: Rec[] = Array.from({ length: batch }, (_, i) => ({ v: i + 1, rounds: stageRounds, trail: 0 }));
    const chain = stages.map((s) => ({ opId: s.descriptor.id }));
    const entries = stages.map((s) => lookup(s.descriptor.id));
    const fused = () => Promise.all(records.map((r) => pool.chain(chain, [r], frame) as Promise<Rec>));
    const unfused = () =>
      Promise.all(
        records.map(async (r) => {
          let at: Rec = r;
          for (const entry of entries) at = (await pool.call(entry, undefined, [at], frame)) as Rec;
          return at;
        }),
      );
    const [a, b] = [await fused(), await unfused()];
    if (JSON.stringify(a) !== JSON.stringify(b) || a[0]!.trail !== 12345678) throw new Error("fusion: fused and unfused pipelines disagree");
    for (let i = 0; !quick && i < 10; i++) await Promise.all([fused(), unfused()]);
    const tasksBefore = pool.tasks;
    await fused();
    const fusedTasks = pool.tasks - tasksBefore;
    await unfused();
    const unfusedTasks = pool.tasks - tasksBefore - fusedTasks;
    const t = await pairs(unfused, fused, quick ? 1 : 21, ceiling);
    metrics.push({
      name: "fusion_wall_speedup",
      value: round(t.ratio),
      unit: "×",
      baseline: `${batch} items × 8 ops of ~10 µs: unfused ${round(t.aMs)} ms | fused ${round(t.bMs)} ms${context(t.ceiling)}`,
      ratio: round(t.ratio),
    });
    // From sources no task reaches a worker (0 ÷ 0): say so rather than report a ratio.
    const fewer = fusedTasks > 0 ? unfusedTasks / fusedTasks : 1;
    metrics.push({
      name: "fusion_roundtrip_ratio",
      value: round(fewer),
      unit: "× fewer round trips",
      baseline: fusedTasks > 0 ? `unfused ${unfusedTasks} tasks | fused ${fusedTasks} tasks` : "no worker threads (weft loaded from sources): all inline",
      ratio: round(fewer),
    });
    metrics.push({
      name: "cpu_parallel_ceiling",
      value: round(median(ceiling.samples)),
      unit: "×",
      baseline: `2 plain worker threads vs 1 on the same work, no weft (${ceiling.samples.length} samples, min ${round(Math.min(...ceiling.samples))}, max ${round(Math.max(...ceiling.samples))})`,
    });
  } finally {
    await Promise.all([closeWorkers(), ceiling.close()]);
  }
  if (sink === -1) console.log(sink);
  return metrics;
};
