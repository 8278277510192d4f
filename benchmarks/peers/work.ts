/**
 * The work every side of the peer comparison runs: the same step bodies, the same
 * workloads, and the plain-code floors the frameworks are measured against.
 *
 *   chain   10 trivial async steps in sequence, each reading the previous one's output
 *   fan-out 5 trivial async steps on the same input, then a join of their five outputs
 *   batch   1,000 items through one step with simulated I/O, at most 16 in flight
 *
 * The bodies are async and trivial, so a framework does its real promise plumbing while the
 * bodies cost next to nothing: what a side adds over the floor is its own overhead. Every
 * body is a distinct function, so no framework could merge two steps as duplicates.
 */

/** Steps in the chain. */
export const CHAIN_STEPS = 10;
/** Branches of the fan-out (then one join step). */
export const FANOUT_BRANCHES = 5;
/** Items in the batch. */
export const BATCH_SIZE = 1000;
/**
 * Items in flight in the batch, on every side (weft's `vmap` `concurrency`, LCEL's
 * `maxConcurrency`, Mastra's `foreach` `concurrency`, LangGraph's `maxConcurrency`,
 * Effect's `concurrency`). 16 is weft's default for async work; LCEL's and LangGraph's
 * default is unbounded, so it is set explicitly everywhere.
 */
export const BATCH_CONCURRENCY = 16;

// The chain's steps: s0 ... s9.
export async function s0(x: number): Promise<number> {
  return x + 1;
}
export async function s1(x: number): Promise<number> {
  return x * 2;
}
export async function s2(x: number): Promise<number> {
  return x - 3;
}
export async function s3(x: number): Promise<number> {
  return x + 4;
}
export async function s4(x: number): Promise<number> {
  return x * 3;
}
export async function s5(x: number): Promise<number> {
  return x - 5;
}
export async function s6(x: number): Promise<number> {
  return x + 6;
}
export async function s7(x: number): Promise<number> {
  return x % 1000;
}
export async function s8(x: number): Promise<number> {
  return x + 8;
}
export async function s9(x: number): Promise<number> {
  return x - 9;
}
/** The chain's steps in order, for sides that build their chain from a list. */
export const CHAIN = [s0, s1, s2, s3, s4, s5, s6, s7, s8, s9] as const;

// The fan-out's branches and join.
export async function inc(x: number): Promise<number> {
  return x + 1;
}
export async function dbl(x: number): Promise<number> {
  return x * 2;
}
export async function dec(x: number): Promise<number> {
  return x - 1;
}
export async function triple(x: number): Promise<number> {
  return x * 3;
}
export async function add5(x: number): Promise<number> {
  return x + 5;
}
/** The five branch outputs, by branch. */
export interface Parts {
  a: number;
  b: number;
  c: number;
  d: number;
  e: number;
}
export async function join(p: Parts): Promise<number> {
  return p.a + p.b + p.c + p.d + p.e;
}
/** The branches by the key their output has in `Parts`. */
export const BRANCHES = { a: inc, b: dbl, c: dec, d: triple, e: add5 } as const;

/** Simulated I/O: one trip through the event loop's check phase, as a socket reply would take. */
export async function fetchLike(x: number): Promise<number> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  return x * 2;
}

// ---- the floors: the same bodies with no framework

export async function plainChain(x: number): Promise<number> {
  return s9(await s8(await s7(await s6(await s5(await s4(await s3(await s2(await s1(await s0(x))))))))));
}

export async function plainFanOut(x: number): Promise<number> {
  const [a, b, c, d, e] = await Promise.all([inc(x), dbl(x), dec(x), triple(x), add5(x)]);
  return join({ a, b, c, d, e });
}

/** A hand-written bounded pool: `concurrency` lanes, each taking the next item when it finishes one. */
export async function plainBatch(items: readonly number[], concurrency: number = BATCH_CONCURRENCY): Promise<number[]> {
  const out = new Array<number>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fetchLike(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return out;
}

/** The batch's input: 0 ... BATCH_SIZE − 1. */
export function batchItems(size: number = BATCH_SIZE): number[] {
  return Array.from({ length: size }, (_, i) => i);
}
