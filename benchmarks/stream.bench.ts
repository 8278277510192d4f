/**
 * Streams: `stream_overhead_ns_per_item`, the cost per item of one pipeline (filter, map,
 * batch 32, a sink that counts) over 200,000 numbers from a chunked source (an array),
 * over a plain loop doing the same work, beside the same pipeline on Effect's Stream
 * (`fromIterable`, `filter`, `map`, `grouped(32)`, `runForEach`), hand-written async
 * generators, and Node's `Readable` (`Readable.from`, `.filter`, `.map`, batched in the
 * consuming loop). All five run in one process, in rotated interleaved rounds
 * (`interleaved`); figures are medians of CPU time. Every side's result is checked.
 */
import { Readable } from "node:stream";
import { Effect, Stream } from "effect";
import { data } from "weft";
import { interleaved, round, type Metric, type Suite } from "./harness.js";

const keep = (n: number): boolean => n % 3 !== 0;
const double = (n: number): number => n * 2;
const SIZE = 32;

function expected(items: readonly number[]): number {
  let batches = 0;
  let inBatch = 0;
  let sum = 0;
  for (const n of items) {
    if (!keep(n)) continue;
    sum += double(n);
    if (++inBatch === SIZE) {
      batches++;
      inBatch = 0;
    }
  }
  return sum + (batches + (inBatch > 0 ? 1 : 0)) * 1e12;
}

/** The same work without a stream: the floor every side is measured over. */
async function plain(items: readonly number[]): Promise<number> {
  let batch: number[] = [];
  let out = 0;
  for (const n of items) {
    if (!keep(n)) continue;
    batch.push(double(n));
    if (batch.length === SIZE) {
      out += sink(batch);
      batch = [];
    }
  }
  if (batch.length > 0) out += sink(batch);
  return out;
}

function sink(batch: readonly number[]): number {
  let s = 1e12;
  for (const n of batch) s += n;
  return s;
}

async function weft(items: readonly number[]): Promise<number> {
  let out = 0;
  await data
    .stream(items)
    .filter(keep)
    .map(double)
    .batch(SIZE)
    .run((b) => void (out += sink(b)));
  return out;
}

function effect(items: readonly number[]): Promise<number> {
  let out = 0;
  return Effect.runPromise(
    Stream.fromIterable(items).pipe(
      Stream.filter(keep),
      Stream.map(double),
      Stream.grouped(SIZE),
      Stream.runForEach((b) => Effect.sync(() => void (out += sink(b)))),
    ),
  ).then(() => out);
}

async function generators(items: readonly number[]): Promise<number> {
  async function* from(xs: readonly number[]) {
    for (const x of xs) yield x;
  }
  async function* filter(xs: AsyncIterable<number>) {
    for await (const x of xs) if (keep(x)) yield x;
  }
  async function* map(xs: AsyncIterable<number>) {
    for await (const x of xs) yield double(x);
  }
  async function* batch(xs: AsyncIterable<number>) {
    let b: number[] = [];
    for await (const x of xs) {
      b.push(x);
      if (b.length === SIZE) {
        yield b;
        b = [];
      }
    }
    if (b.length > 0) yield b;
  }
  let out = 0;
  for await (const b of batch(map(filter(from(items))))) out += sink(b);
  return out;
}

async function readable(items: readonly number[]): Promise<number> {
  let out = 0;
  let b: number[] = [];
  for await (const x of Readable.from(items).filter(keep).map(double) as AsyncIterable<number>) {
    b.push(x);
    if (b.length === SIZE) {
      out += sink(b);
      b = [];
    }
  }
  if (b.length > 0) out += sink(b);
  return out;
}

export const run: Suite = async ({ quick }) => {
  const n = quick ? 20_000 : 200_000;
  const items = Array.from({ length: n }, (_, i) => i);
  const want = expected(items);
  const sides = { plain, weft, effect, generators, readable };
  for (const [name, f] of Object.entries(sides)) {
    const got = await f(items);
    if (got !== want) throw new Error(`stream bench: ${name} computed ${got}, expected ${want}`);
  }
  const cost = await interleaved(
    Object.fromEntries(Object.entries(sides).map(([name, f]) => [name, () => f(items)])),
    { rounds: quick ? 3 : 15, sampleMs: quick ? 20 : 150 },
  );
  const over = (side: keyof typeof sides) => ((cost[side]!.cpuUs - cost.plain!.cpuUs) * 1000) / n;
  const weftNs = over("weft");
  const effectNs = over("effect");
  return [
    {
      name: "stream_overhead_ns_per_item",
      value: round(weftNs),
      unit: "ns/item",
      baseline: `Effect Stream: ${round(effectNs)} ns; async generators: ${round(over("generators"))} ns; Node Readable: ${round(over("readable"))} ns (filter, map, batch 32 over ${n.toLocaleString("en-US")} items, CPU over a plain loop)`,
      ratio: round(weftNs / effectNs),
    },
    { name: "stream_overhead_vs_effect", value: round(weftNs / effectNs), unit: "× Effect", baseline: "stream_overhead_ns_per_item over Effect Stream's, same pipeline, same run" },
    { name: "stream_effect_overhead_ns_per_item", value: round(effectNs), unit: "ns/item", baseline: "the same pipeline on Effect's Stream" },
    { name: "stream_generators_overhead_ns_per_item", value: round(over("generators")), unit: "ns/item", baseline: "the same pipeline as hand-written async generators" },
    { name: "stream_readable_overhead_ns_per_item", value: round(over("readable")), unit: "ns/item", baseline: "the same pipeline on Node's Readable" },
  ] satisfies Metric[];
};
