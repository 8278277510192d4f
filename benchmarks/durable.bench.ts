/**
 * Durable runs:
 *
 *   (a) `durable_node_overhead_us`: what journaling one more node costs inside a run. Jitted
 *       chains of 100 and of 200 trivial io ops, each run under `durable()` with the default
 *       SQLite store (WAL, synchronous=NORMAL, a temporary file) and without it; each durable
 *       iteration is a new run id, so its nodes are journaled, never skipped. Every task is
 *       measured side by side by `interleaved` (CPU time, rounds rotated); the marginal cost
 *       of a node is ((on₂₀₀ − off₂₀₀) − (on₁₀₀ − off₁₀₀)) ÷ 100 within each round, and the
 *       figure is its median over rounds (wall-clock means under a shared host's load made
 *       this difference of differences swing below zero).
 *       `durable_run_overhead_us` is what a short run costs, measured directly: a jitted call
 *       of one op under `durable()` against the same call without it, end to end (lease,
 *       version records, the node's append, result, settling), CPU paired by round, wall time
 *       beside it. (It used to be derived as the 100-node run's cost minus 100 marginal
 *       nodes, a difference of noisy differences, and came out negative.) Beside them: the
 *       same per node of a 100-node run with its run costs spread over it, a bare SQLite
 *       append (one autocommit INSERT of a 60-byte key and a small blob, same pragmas) and
 *       the same runs in a MemoryStore (the durable layer without the disk).
 *   (c) `durable_dbos_step_us` (full runs only): what one more step costs in a DBOS workflow
 *       on PostgreSQL (see dbos.ts), workflows of 10 and of 30 steps, wall time, beside
 *       weft's marginal node in wall time from (a). Not measured, with the reason printed,
 *       where PostgreSQL is not installed or DBOS cannot start.
 *   (b) `resume_skipped_nodes`: the 100-node chain whose 71st op fails on the first start;
 *       the resume runs the rest. Reported: how many of the 70 finished nodes the resume
 *       skipped (each op counts its own runs), and what a skipped node costs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { durable, jit, op, MemoryStore, SqliteStore } from "weft";
import { launchDbos, startCluster } from "./dbos.js";
import { interleaved, measure, median, pairedCpuOverUs, round, type Metric, type Suite } from "./harness.js";

const NODES = 100;
const FAIL_AT = 71;

let runs = 0;
let failAt = -1;

const step = op(async (x: number): Promise<number> => {
  runs++;
  if (runs === failAt) throw new Error("crash");
  return x + 1;
});

const chain = jit(async (x: number) => {
  let y = x;
  for (let i = 0; i < NODES; i++) y = await step(y);
  return y;
});

const single = jit(async (x: number) => step(x));

const chain2 = jit(async (x: number) => {
  let y = x;
  for (let i = 0; i < 2 * NODES; i++) y = await step(y);
  return y;
});

export const run: Suite = async ({ quick }) => {
  const dir = mkdtempSync(path.join(tmpdir(), "weft-durable-bench-"));
  const store = new SqliteStore(path.join(dir, "bench.db"));
  try {
    await chain(0); // trace and compile outside the measurement
    await chain2(0);
    await single(0);
    const bare = new DatabaseSync(path.join(dir, "bare.db"));
    bare.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE nodes (run TEXT, key TEXT, h TEXT, v BLOB, PRIMARY KEY (run, key)) STRICT, WITHOUT ROWID;");
    const insert = bare.prepare("INSERT OR REPLACE INTO nodes VALUES (?, ?, ?, ?)");
    const blob = new Uint8Array([255, 15, 73, 2]);
    const memory = new MemoryStore();
    let id = 0;
    let row = 0;
    // Every task side by side, CPU time per round (the host's load moves between rounds, so
    // each difference is taken within one round, then the median over rounds).
    const cost = await interleaved(
      {
        off: () => chain(0),
        on: () => durable({ run: `bench-${id++}`, store }, () => chain(0)),
        off2: () => chain2(0),
        on2: () => durable({ run: `bench-${id++}`, store }, () => chain2(0)),
        memory: () => durable({ run: `bench-${id++}`, store: memory }, () => chain(0)),
        memory2: () => durable({ run: `bench-${id++}`, store: memory }, () => chain2(0)),
        append: async () => {
          for (let i = 0; i < NODES; i++) insert.run("bench", `run(bench)/jit(chain)#0/n${row++}/step#0`, "0123456789abcdefghijkl", blob);
        },
        // A run of one node, end to end, journal on and off.
        single: () => single(0),
        short: () => durable({ run: `short-${id++}`, store }, () => single(0)),
      },
      { rounds: quick ? 3 : 21, sampleMs: quick ? 5 : 60 },
    );
    bare.close();
    const cpu = (name: string, round: number) => cost[name]!.cpuSamples[round]!;
    const byRound = (f: (round: number) => number) => median(cost.off!.cpuSamples.map((_, round) => f(round)));
    /** What one more node costs in a run journaled by `on`/`on2` (paired within each round). */
    const marginal = (on: string, on2: string) => byRound((r) => (cpu(on2, r) - cpu("off2", r) - (cpu(on, r) - cpu("off", r))) / NODES);
    const overhead = marginal("on", "on2");
    const memoryOverhead = marginal("memory", "memory2");
    const run100 = byRound((r) => cpu("on", r) - cpu("off", r));
    const runOverhead = pairedCpuOverUs(cost.short!, cost.single!);
    const runWall = cost.short!.wallUs - cost.single!.wallUs;
    const times = { off: cost.off!.cpuUs, append: cost.append!.cpuUs };
    const wallNode = (cost.on2!.wallUs - cost.off2!.wallUs - (cost.on!.wallUs - cost.off!.wallUs)) / NODES;
    const peer = quick ? [] : await dbosStep(wallNode, path.join(dir, "full.db"));

    // (b) a run that fails part way, then its resume.
    runs = 0;
    failAt = FAIL_AT;
    await durable({ run: "resume", store }, () => chain(0)).catch(() => undefined);
    const before = runs;
    failAt = -1;
    const result = await durable({ run: "resume", store }, () => chain(0));
    if (result !== NODES) throw new Error(`durable bench: resumed chain returned ${result}, expected ${NODES}`);
    const ranOnResume = runs - before;
    const skipped = NODES - ranOnResume;

    // What a skipped node costs: resuming a run whose every node is journaled but which
    // did not complete (its result is not stored), against running the chain without journal.
    runs = 0;
    failAt = NODES + 1; // never
    await durable({ run: "skip-all", store }, async () => {
      await chain(0);
      throw new Error("stop before completing");
    }).catch(() => undefined);
    const skipTimes = await measure(
      {
        off: () => chain(0),
        resume: () => durable({ run: "skip-all", store }, () => chain(0)).then(() => store.reopen("skip-all", Date.now())),
      },
      { time: quick ? 100 : 1000 },
    );
    return [
      {
        name: "durable_node_overhead_us",
        value: round(overhead),
        unit: "µs/node",
        baseline: `CPU, paired by round; in a run of ${NODES} nodes, run costs included: ${round(run100 / NODES)} µs/node; a bare SQLite append: ${round(times.append / NODES)} µs; the chain without durable: ${round(times.off / NODES)} µs/node`,
        ratio: round(overhead / (times.append / NODES)),
      },
      {
        name: "durable_run_overhead_us",
        value: round(runOverhead),
        unit: "µs/run",
        baseline: `a run of one node, end to end, durable minus not (CPU, paired by round; wall: ${round(runWall)} µs): lease, version records, the node's append, result, settling`,
      },
      {
        name: "durable_node_overhead_memory_us",
        value: round(memoryOverhead),
        unit: "µs/node",
        baseline: "the same, journaled in a MemoryStore: the durable layer without the disk",
      },
      ...peer,
      { name: "resume_skipped_nodes", value: skipped, unit: "nodes", baseline: `${FAIL_AT - 1} finished before the failure; ${ranOnResume} ran on resume` },
      { name: "resume_skipped_node_us", value: round(skipTimes.resume! / NODES), unit: "µs/node", baseline: `running it: ${round(skipTimes.off! / NODES)} µs/node` },
    ] satisfies Metric[];
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
};

/** (c): DBOS's marginal step on a throwaway PostgreSQL cluster, or nothing (the reason printed). */
async function dbosStep(weftWallNode: number, fullFile: string): Promise<Metric[]> {
  const notMeasured = (why: string): Metric[] => {
    process.stderr.write(`bench: durable_dbos_step_us not measured: ${why}\n`);
    return [];
  };
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  try {
    cluster = await startCluster();
  } catch (error) {
    return notMeasured(String((error as Error).message));
  }
  if ("missing" in cluster) return notMeasured(cluster.missing);
  try {
    const dbos = await launchDbos(cluster.url);
    try {
      if ((await dbos.workflow(3)) !== 3) throw new Error("a DBOS workflow of 3 steps did not return 3");
      // weft with an fsync per append too (synchronous=FULL), for the same durability.
      const full = new SqliteStore(fullFile, { synchronous: "FULL" });
      let id = 0;
      const cost = await interleaved(
        {
          short: () => dbos.workflow(10),
          long: () => dbos.workflow(30),
          off: () => chain(0),
          off2: () => chain2(0),
          full: () => durable({ run: `full-${id++}`, store: full }, () => chain(0)),
          full2: () => durable({ run: `full-${id++}`, store: full }, () => chain2(0)),
        },
        { rounds: 7, sampleMs: 20 },
      ).finally(() => full.close());
      const step = (cost.long!.wallUs - cost.short!.wallUs) / 20;
      const fullNode = (cost.full2!.wallUs - cost.off2!.wallUs - (cost.full!.wallUs - cost.off!.wallUs)) / NODES;
      return [
        {
          name: "durable_dbos_step_us",
          value: round(step),
          unit: "µs/step",
          baseline: `DBOS 5.3.0 on PostgreSQL (its defaults: an fsync per commit), wall; weft's node in the same run, wall: ${round(fullNode)} µs with an fsync per append (synchronous=FULL), ${round(weftWallNode)} µs by default (NORMAL)`,
          ratio: round(step / fullNode),
        },
      ];
    } finally {
      await dbos.shutdown();
    }
  } catch (error) {
    return notMeasured(String((error as Error).message).split("\n")[0]!);
  } finally {
    await cluster.stop();
  }
}
