/**
 * weft side by side with the frameworks a user would weigh against it, on the same work in
 * the same process (the workloads and floors are in peers/work.ts, each framework's build of
 * them in peers/<name>.ts, with the API it uses):
 *
 *   chain    10-step sequential chain   plain awaits (floor), weft eager, weft jit, Effect,
 *   fan-out  5-way fan-out + join       LCEL, LangGraph.js, Mastra
 *   batch    1,000 I/O items, 16 in     a hand-written pool (floor), weft vmap, Effect
 *            flight                     forEach, LCEL batch, LangGraph Send, Mastra foreach
 *
 * Every side runs interleaved with the others (`interleaved`: rounds of one sample per side,
 * warm, medians), with CPU time (`process.cpuUsage`) beside wall time. For the chain and the
 * fan-out the figure is the overhead per step: (side − floor) ÷ steps, in CPU µs, so the
 * bodies' own cost cancels out; a framework's fixed cost per invocation is spread over its
 * steps. For the batch it is the wall time of the whole batch. Ratios are peer ÷ weft
 * (eager for the chain and fan-out, vmap for the batch): above 1 means weft does less.
 *
 * A framework that cannot be loaded or run here is skipped with the reason printed, and its
 * metrics are absent (the README lists them as not measured). One that runs but returns
 * different results fails the suite: a ratio over different work means nothing.
 */
import { interleaved, round, type CallCost, type Metric, type Suite } from "./harness.js";
import type { Peer } from "./peers/peer.js";
import { weftBatch, weftChain, weftFanOut, weftJitChain, weftJitFanOut } from "./peers/weft.js";
import { BATCH_CONCURRENCY, BATCH_SIZE, CHAIN_STEPS, FANOUT_BRANCHES, batchItems, plainBatch, plainChain, plainFanOut } from "./peers/work.js";

/** The frameworks, in the order tables and the chart show them. Each loads lazily, so one that fails to load is skipped alone. */
export const PEERS: readonly PeerLoader[] = [
  { id: "effect", load: async () => (await import("./peers/effect.js")).load() },
  { id: "lcel", load: async () => (await import("./peers/lcel.js")).load() },
  { id: "langgraph", load: async () => (await import("./peers/langgraph.js")).load() },
  { id: "mastra", load: async () => (await import("./peers/mastra.js")).load() },
];

/** Inputs the sides must agree on before anything is measured. */
const CHECK_INPUTS = [0, 7, 123];

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!.slice(0, 300);
}

/** Loads every peer and checks it computes what the floor computes; a peer that throws is skipped with its reason. */
async function loadPeers(items: readonly number[], loaders: readonly PeerLoader[], log: (line: string) => void): Promise<Peer[]> {
  const want = {
    chain: await Promise.all(CHECK_INPUTS.map(plainChain)),
    fanout: await Promise.all(CHECK_INPUTS.map(plainFanOut)),
    batch: await plainBatch(items),
  };
  const same = (side: string, what: string, got: unknown, expected: unknown) => {
    if (JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(`peers bench: ${side} ${what} results differ from the floor's (got ${JSON.stringify(got).slice(0, 200)}, want ${JSON.stringify(expected).slice(0, 200)})`);
  };
  same("weft", "chain", await Promise.all(CHECK_INPUTS.map(weftChain)), want.chain);
  same("weft jit", "chain", await Promise.all(CHECK_INPUTS.map((x) => weftJitChain(x))), want.chain);
  same("weft", "fan-out", await Promise.all(CHECK_INPUTS.map(weftFanOut)), want.fanout);
  same("weft jit", "fan-out", await Promise.all(CHECK_INPUTS.map((x) => weftJitFanOut(x))), want.fanout);
  same("weft", "batch", await weftBatch(items), want.batch);

  const peers: Peer[] = [];
  for (const { id, load } of loaders) {
    let peer: Peer;
    let results: { chain: number[]; fanout: number[]; batch?: number[] };
    try {
      peer = await load();
      results = { chain: [], fanout: [] };
      for (const x of CHECK_INPUTS) results.chain.push(await peer.chain(x));
      for (const x of CHECK_INPUTS) results.fanout.push(await peer.fanout(x));
      if (peer.batch) results.batch = await peer.batch(items);
    } catch (error) {
      log(`peers: ${id} skipped: ${message(error)}`);
      continue;
    }
    same(peer.label, "chain", results.chain, want.chain);
    same(peer.label, "fan-out", results.fanout, want.fanout);
    if (results.batch) same(peer.label, "batch", results.batch, want.batch);
    log(`peers: ${peer.version}: chain ${peer.api.chain}; fan-out ${peer.api.fanout}; batch ${peer.api.batch ?? "none (no fitting construct)"}`);
    peers.push(peer);
  }
  return peers;
}

/** A figure with a few digits and its unit, for `baseline` text. */
function show(value: number, unit: string): string {
  return `${round(value)} ${unit}`;
}

/**
 * Runs the side-by-side. Returns, per workload and side, its absolute figures
 * (`peer_<workload>_<side>_cpu_us` and `_wall_us` per step over the floor for the chain and
 * fan-out, `peer_batch_<side>_wall_ms` and `_cpu_ms` for the batch, the floors'
 * own figures under the side `plain`), and per peer the ratios over weft:
 * `<peer>_step_overhead_ratio`, `<peer>_fanout_overhead_ratio`, `<peer>_batch_wall_ratio`;
 * plus `weft_batch_wall_over_pool` (vmap ÷ the hand-written pool).
 *
 * @example
 * ```ts
 * const metrics = await run({ quick: true });
 * metrics.find((m) => m.name === "langgraph_step_overhead_ratio");
 * // { name: "langgraph_step_overhead_ratio", value: 512, unit: "× (LangGraph.js ÷ weft, CPU per step)", baseline: "10-step chain, overhead per step over plain awaits: LangGraph.js 770 µs CPU (812 µs wall), weft 1.5 µs CPU (1.6 µs wall)", ratio: 512 }
 * ```
 */
export const run: Suite = (options) => runPeers(options);

/** A framework as the suite loads it: its id, and how to build its side (which may throw). */
export interface PeerLoader {
  readonly id: string;
  readonly load: () => Promise<Peer>;
}

/**
 * `run` over the given frameworks, reporting on `log` which API each one uses or why it
 * was skipped.
 *
 * @example
 * ```ts
 * await runPeers({ quick: true }, [{ id: "broken", load: async () => { throw new Error("needs Node 26") } }]);
 * // logs "peers: broken skipped: needs Node 26", returns weft's and the floors' figures only
 * ```
 */
export async function runPeers({ quick }: { readonly quick: boolean }, loaders: readonly PeerLoader[] = PEERS, log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<Metric[]> {
  // Quick mode (the smoke run) keeps every side and step but a tenth of the batch.
  const items = batchItems(quick ? BATCH_SIZE / 10 : BATCH_SIZE);
  const peers = await loadPeers(items, loaders, log);
  const callOptions = quick ? { rounds: 3, sampleMs: 3 } : { rounds: 21, sampleMs: 40 };
  const batchOptions = quick ? { rounds: 2, sampleMs: 3 } : { rounds: 15, sampleMs: 40 };

  const chain = await interleaved({ plain: plainChain, weft: weftChain, weft_jit: (x) => weftJitChain(x), ...Object.fromEntries(peers.map((p) => [p.id, (x: number) => p.chain(x)])) }, callOptions);
  const fanout = await interleaved({ plain: plainFanOut, weft: weftFanOut, weft_jit: (x) => weftJitFanOut(x), ...Object.fromEntries(peers.map((p) => [p.id, (x: number) => p.fanout(x)])) }, callOptions);
  const batched = peers.filter((p) => p.batch);
  const batch = await interleaved({ plain: () => plainBatch(items), weft: () => weftBatch(items), ...Object.fromEntries(batched.map((p) => [p.id, () => p.batch!(items)])) }, batchOptions);

  const labels: Record<string, string> = { plain: "plain", weft: "weft", weft_jit: "weft jit", ...Object.fromEntries(peers.map((p) => [p.id, p.label])) };
  const metrics: Metric[] = [];

  // Chain and fan-out: per-step figures over the floor.
  const perStep = (costs: Record<string, CallCost>, workload: "chain" | "fanout", steps: number, what: string) => {
    const floor = costs.plain!;
    metrics.push(
      { name: `peer_${workload}_plain_cpu_us`, value: round(floor.cpuUs / steps), unit: "µs CPU/step", baseline: `${what}: the bodies awaited directly (the floor), per step` },
      { name: `peer_${workload}_plain_wall_us`, value: round(floor.wallUs / steps), unit: "µs wall/step", baseline: `${what}: the floor, per step` },
    );
    const over: Record<string, { cpu: number; wall: number }> = {};
    for (const side of Object.keys(costs).filter((s) => s !== "plain")) {
      const cost = costs[side]!;
      over[side] = { cpu: (cost.cpuUs - floor.cpuUs) / steps, wall: (cost.wallUs - floor.wallUs) / steps };
      metrics.push(
        { name: `peer_${workload}_${side}_cpu_us`, value: round(over[side].cpu), unit: "µs CPU/step over the floor", baseline: `${what}: ${labels[side]}, ${cost.calls} calls × ${cost.rounds} rounds` },
        { name: `peer_${workload}_${side}_wall_us`, value: round(over[side].wall), unit: "µs wall/step over the floor", baseline: `${what}: ${labels[side]}` },
      );
    }
    return over;
  };
  const chainOver = perStep(chain, "chain", CHAIN_STEPS, `${CHAIN_STEPS}-step chain`);
  const fanOver = perStep(fanout, "fanout", FANOUT_BRANCHES + 1, `${FANOUT_BRANCHES}-way fan-out + join`);

  // Batch: whole-batch figures.
  const batchWhat = `batch of ${items.length} I/O items at concurrency ${BATCH_CONCURRENCY}`;
  for (const side of Object.keys(batch)) {
    const cost = batch[side]!;
    metrics.push(
      { name: `peer_batch_${side}_wall_ms`, value: round(cost.wallUs / 1000), unit: "ms wall", baseline: `${batchWhat}: ${side === "plain" ? "a hand-written pool (the floor)" : labels[side]}, ${cost.calls} batches × ${cost.rounds} rounds` },
      { name: `peer_batch_${side}_cpu_ms`, value: round(cost.cpuUs / 1000), unit: "ms CPU", baseline: `${batchWhat}: ${side === "plain" ? "the floor" : labels[side]}` },
    );
  }
  const weftBatchMs = batch.weft!.wallUs / 1000;
  const poolRatio = round(weftBatchMs / (batch.plain!.wallUs / 1000));
  metrics.push({ name: "weft_batch_wall_over_pool", value: poolRatio, unit: "× (weft vmap ÷ hand-written pool, wall)", baseline: `${batchWhat}: weft ${show(weftBatchMs, "ms")}, pool ${show(batch.plain!.wallUs / 1000, "ms")}`, ratio: poolRatio });

  // Ratios, peer ÷ weft.
  for (const peer of peers) {
    const step = (over: Record<string, { cpu: number; wall: number }>, what: string, name: string, floorText: string) => {
      const ratio = round(over[peer.id]!.cpu / over.weft!.cpu);
      metrics.push({
        name,
        value: ratio,
        unit: `× (${peer.label} ÷ weft, CPU per step)`,
        baseline: `${peer.version}: ${what}, overhead per step over ${floorText}: ${peer.label} ${show(over[peer.id]!.cpu, "µs")} CPU (${show(over[peer.id]!.wall, "µs")} wall), weft ${show(over.weft!.cpu, "µs")} CPU (${show(over.weft!.wall, "µs")} wall)`,
        ratio,
      });
    };
    step(chainOver, `${CHAIN_STEPS}-step chain`, `${peer.id}_step_overhead_ratio`, "plain awaits");
    step(fanOver, `${FANOUT_BRANCHES}-way fan-out + join`, `${peer.id}_fanout_overhead_ratio`, "Promise.all of the bodies");
    if (batch[peer.id]) {
      const peerMs = batch[peer.id]!.wallUs / 1000;
      const ratio = round(peerMs / weftBatchMs);
      metrics.push({
        name: `${peer.id}_batch_wall_ratio`,
        value: ratio,
        unit: `× (${peer.label} ÷ weft, wall)`,
        baseline: `${peer.version}: ${batchWhat}, wall: ${peer.label} ${show(peerMs, "ms")} (${show(batch[peer.id]!.cpuUs / 1000, "ms")} CPU), weft ${show(weftBatchMs, "ms")} (${show(batch.weft!.cpuUs / 1000, "ms")} CPU), pool ${show(batch.plain!.wallUs / 1000, "ms")}`,
        ratio,
      });
    }
  }
  return metrics;
}

if (process.argv[1]?.endsWith("peers.bench.js")) console.table(await run({ quick: process.argv.includes("--quick") }));
