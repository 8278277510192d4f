import { describe, expect, it } from "vitest";
import { check } from "../../compiler/check.js";
import { GraphBuilder, type Node } from "../../compiler/ir.js";
import { fuse } from "../../compiler/passes/fuse.js";
import { place, placementOf, ROUND_TRIP_MS } from "../../compiler/passes/place.js";
import { desc } from "./fixtures.js";

const fetchText = desc("fetchText", "io");
const cheap = desc("cheap", "cpu");
const heavy = desc("heavy", "cpu");
const unknown = desc("unknown", "cpu");
const forcedWorker = desc("forcedWorker", "cpu", { policy: { placement: "worker" } });
const forcedInline = desc("forcedInline", "cpu", { policy: { placement: "inline" } });
const asyncPure = desc("cachedLookup", "pure", { async: true });
const means: Record<string, number> = { [cheap.id]: 0.01, [heavy.id]: 5, [forcedInline.id]: 50, [forcedWorker.id]: 0.001 };
const cost = (d: { id: string }) => ({ meanMs: means[d.id] });

const placements = (nodes: readonly Node[]) => Object.fromEntries(nodes.flatMap((n) => (n.kind === "op" || n.kind === "fused" ? [[n.kind === "op" ? n.desc.name : `fused %${n.id}`, n.placement]] : [])));

describe("place", () => {
  it("runs io and async ops on the event loop, and prices sync ops against the worker round trip", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const ops = [fetchText, cheap, heavy, unknown, forcedWorker, forcedInline, asyncPure].map((d) => b.op(d, [q]));
    const g = b.output(b.pack({ kind: "array", items: ops.map((_, index) => ({ kind: "hole" as const, index })) }, ops));
    const out = place(g, { cost });
    expect(check(out)).toEqual([]);
    expect(placements(out.nodes)).toEqual({
      fetchText: "async",
      cheap: "inline",
      heavy: "worker",
      unknown: "inline",
      forcedWorker: "worker",
      forcedInline: "inline",
      cachedLookup: "async",
    });
    expect(place(out, { cost })).toBe(out);
  });

  it("keeps an op inline until it costs two round trips", () => {
    const b = new GraphBuilder();
    const g = b.output(b.op(cheap, [b.input()]));
    const at = (meanMs: number, roundTripMs?: number) => placementOf(place(g, { cost: () => ({ meanMs }), ...(roundTripMs === undefined ? {} : { roundTripMs }) }).nodes[1]!);
    expect(at(2 * ROUND_TRIP_MS - 0.001)).toBe("inline");
    expect(at(2 * ROUND_TRIP_MS)).toBe("worker");
    expect(at(0.5, 1)).toBe("inline");
  });

  it("sends a fused chain of cheap ops to a worker when together they are worth it", () => {
    const b = new GraphBuilder();
    let x = b.input();
    for (let i = 0; i < 8; i++) x = b.op(cheap, [x]);
    const g = fuse(b.output(x));
    const each = (meanMs: number) => placements(place(g, { cost: () => ({ meanMs }) }).nodes);
    expect(each(0.05)).toEqual({ "fused %12": "worker" });
    expect(each(0.01)).toEqual({ "fused %12": "inline" });
    expect(placements(place(g).nodes)).toEqual({ "fused %12": "inline" });
  });

  it("places ops inside cond branches and map bodies, not inside fused bodies", () => {
    const b = new GraphBuilder();
    const xs = b.input();
    const g = b.output(b.map(xs, [], b.subgraph(2, (body, [item]) => body.op(heavy, [item!]))));
    const out = place(g, { cost });
    const map = out.nodes[1];
    expect(map?.kind === "map" && placements(map.body.nodes)).toEqual({ heavy: "worker" });
  });

  it("gives unplaced nodes the placement the executor would use", () => {
    const b = new GraphBuilder();
    const q = b.input();
    const g = b.output(b.op(cheap, [b.op(fetchText, [q])]));
    expect(g.nodes.map(placementOf)).toEqual(["inline", "async", "inline", "inline"]);
  });
});
