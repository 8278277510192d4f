/**
 * The peers suite's handling of frameworks that cannot run here or run wrong, in quick
 * mode with stand-in frameworks (so only weft and the floors are measured). No timing is
 * asserted: only which metrics exist, what is logged, and what fails.
 */
import { describe, expect, it } from "vitest";
import { runPeers, type PeerLoader } from "../benchmarks/peers.bench.js";
import type { Peer } from "../benchmarks/peers/peer.js";
import { plainChain, plainFanOut } from "../benchmarks/peers/work.js";

/** A stand-in framework that computes what the floors compute, with no batch construct. */
function standIn(id: string, overrides: Partial<Peer> = {}): PeerLoader {
  return { id, load: async () => ({ id, label: id, version: `${id} 0.0.0`, api: { chain: "plain", fanout: "plain" }, chain: plainChain, fanout: plainFanOut, ...overrides }) };
}

describe("the peers suite", () => {
  it("skips a framework that fails to load or to run, with its reason, and measures the rest", async () => {
    const lines: string[] = [];
    const metrics = await runPeers(
      { quick: true },
      [
        { id: "unloadable", load: async () => Promise.reject(new Error("needs Node 26\nsecond line")) },
        standIn("crashing", { chain: async () => Promise.reject(new Error("no storage configured")) }),
        standIn("standin"),
      ],
      (line) => lines.push(line),
    );
    expect(lines).toContain("peers: unloadable skipped: needs Node 26");
    expect(lines).toContain("peers: crashing skipped: no storage configured");
    expect(lines.some((l) => l.startsWith("peers: standin 0.0.0: chain plain; fan-out plain; batch none"))).toBe(true);

    const names = metrics.map((m) => m.name);
    expect(names.filter((n) => n.includes("unloadable") || n.includes("crashing"))).toEqual([]);
    // A framework with no batch construct gets step ratios and no batch figures.
    expect(names).toEqual(expect.arrayContaining(["standin_step_overhead_ratio", "standin_fanout_overhead_ratio", "peer_chain_standin_cpu_us", "peer_fanout_standin_wall_us"]));
    expect(names.filter((n) => n.includes("standin") && n.includes("batch"))).toEqual([]);
    // weft and the floors are always measured.
    expect(names).toEqual(expect.arrayContaining(["peer_chain_plain_cpu_us", "peer_chain_weft_cpu_us", "peer_chain_weft_jit_cpu_us", "peer_fanout_weft_jit_cpu_us", "peer_batch_plain_wall_ms", "peer_batch_weft_wall_ms", "weft_batch_wall_over_pool"]));
    for (const m of metrics) expect(Number.isFinite(m.value), m.name).toBe(true);
  }, 60_000);

  it("fails, naming the framework and workload, when a framework computes something else", async () => {
    await expect(runPeers({ quick: true }, [standIn("wrong", { fanout: async (x) => (await plainFanOut(x)) + 1 })], () => {})).rejects.toThrow(/wrong fan-out results differ from the floor's/);
    await expect(runPeers({ quick: true }, [standIn("short", { batch: async (items) => items.slice(1).map((x) => x * 2) })], () => {})).rejects.toThrow(/short batch results differ/);
  }, 60_000);
});
