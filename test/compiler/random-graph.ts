/**
 * Seeded random programs for the differential tests and the compile benchmark: DAGs of
 * io/cpu/pure ops with property reads, packs, constants, repeated pure calls (for CSE),
 * staged conds and maps, and bodies that make every op's result depend on its arguments.
 */
import type { OpDescriptor, OpKind } from "../../decorators/descriptor.js";
import { GraphBuilder, type Graph, type NodeId } from "../../compiler/ir.js";
import { desc } from "./fixtures.js";

/** weft's one seeded PRNG (mulberry32): the same seed, the same program. */
export { prng } from "../../runtime/models/tokens.js";
import { prng } from "../../runtime/models/tokens.js";

const KINDS: readonly OpKind[] = ["io", "cpu", "pure"];
/** Five ops per kind, so repeated calls happen. */
export const OPS: readonly OpDescriptor[] = KINDS.flatMap((kind) => [0, 1, 2, 3, 4].map((i) => desc(`${kind}${i}`, kind, { async: false })));

function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}

const show = (v: unknown): string => (typeof v === "object" && v !== null ? JSON.stringify(v) : String(v));

/** Bodies for `OPS`: each returns `{ v, n }`, a digest of its name and arguments. */
export const BODIES: Readonly<Record<string, (...args: never[]) => unknown>> = Object.fromEntries(
  OPS.map((d) => [d.id, (...args: unknown[]) => ({ v: hash(`${d.name}(${args.map(show).join(",")})`), n: args.length })]),
);

/**
 * A random program with `ops` top-level op nodes taking `(text: string, flag: boolean)`.
 *
 * @example
 * ```ts
 * const g = randomGraph(7, 100);
 * ```
 */
export function randomGraph(seed: number, ops: number): Graph {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const b = new GraphBuilder();
  const text = b.input();
  const flag = b.input();
  const pool: NodeId[] = [text, b.constant("k"), b.constant(3)];
  const recent = () => (rand() < 0.7 ? pool.slice(-8) : pool);
  const calls: { d: OpDescriptor; args: NodeId[] }[] = [];
  for (let i = 0; i < ops; i++) {
    const r = rand();
    const repeat = r < 0.1 && calls.length > 0 ? pick(calls.filter((c) => c.d.kind === "pure")) : undefined;
    const d = repeat?.d ?? pick(OPS);
    const args = repeat?.args ?? Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(recent()));
    const id = b.op(d, args);
    calls.push({ d, args });
    pool.push(id);
    if (rand() < 0.3) pool.push(b.get(id, rand() < 0.5 ? "v" : "n"));
    if (rand() < 0.05) pool.push(b.constant(`c${i}`));
    if (rand() < 0.05) pool.push(b.pack({ kind: "array", items: [{ kind: "hole", index: 0 }, { kind: "lit", value: i }] }, [pick(pool)]));
    if (rand() < 0.03) pool.push(stagedCond(b, rand() < 0.5 ? flag : b.constant(rand() < 0.5), pick(pool), pick));
    if (rand() < 0.03) pool.push(stagedMap(b, [pick(pool), pick(pool)], pick));
  }
  const last = pool.slice(-8);
  return b.output(b.pack({ kind: "array", items: last.map((_, index) => ({ kind: "hole" as const, index })) }, last));
}

function stagedCond(b: GraphBuilder, pred: NodeId, capture: NodeId, pick: <T>(xs: readonly T[]) => T): NodeId {
  const then = b.subgraph(1, (s, [x]) => s.op(pick(OPS), [x!]));
  const otherwise = b.subgraph(1, (s, [y]) => s.get(s.op(pick(OPS), [y!, y!]), "v"));
  return b.cond(pred, [capture], then, otherwise);
}

function stagedMap(b: GraphBuilder, items: readonly NodeId[], pick: <T>(xs: readonly T[]) => T): NodeId {
  const array = b.pack({ kind: "array", items: items.map((_, index) => ({ kind: "hole" as const, index })) }, items);
  const body = b.subgraph(2, (s, [item, index]) => {
    const first = s.op(pick(OPS.filter((d) => d.kind === "cpu")), [item!, index!]);
    return s.op(pick(OPS.filter((d) => d.kind !== "io")), [s.get(first, "v")]);
  });
  return b.map(array, [], body);
}
