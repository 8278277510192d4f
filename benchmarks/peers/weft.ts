/**
 * weft's side: the steps as ops (the transformer injects each one's JSON Schemas, so every
 * call validates its number in and out), composed three ways:
 * - eager: an async function awaiting the ops (the fan-out with `Promise.all`);
 * - jit: the same program written as awaits in order, traced once into a plan that starts
 *   each op as soon as its inputs are ready (so the five branches run at once);
 * - `vmap(op, { concurrency })` for the batch.
 */
import { jit, op, vmap } from "weft";
import { BATCH_CONCURRENCY, add5, dbl, dec, fetchLike, inc, join, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, triple } from "./work.js";

const c0 = op({ name: "peers.s0" }, s0);
const c1 = op({ name: "peers.s1" }, s1);
const c2 = op({ name: "peers.s2" }, s2);
const c3 = op({ name: "peers.s3" }, s3);
const c4 = op({ name: "peers.s4" }, s4);
const c5 = op({ name: "peers.s5" }, s5);
const c6 = op({ name: "peers.s6" }, s6);
const c7 = op({ name: "peers.s7" }, s7);
const c8 = op({ name: "peers.s8" }, s8);
const c9 = op({ name: "peers.s9" }, s9);

const wInc = op({ name: "peers.inc" }, inc);
const wDbl = op({ name: "peers.dbl" }, dbl);
const wDec = op({ name: "peers.dec" }, dec);
const wTriple = op({ name: "peers.triple" }, triple);
const wAdd5 = op({ name: "peers.add5" }, add5);
const wJoin = op({ name: "peers.join" }, join);
const wFetch = op({ name: "peers.fetch" }, fetchLike);

/** The chain, eager: ten ops awaited in turn. */
export async function weftChain(x: number): Promise<number> {
  const a = await c0(x);
  const b = await c1(a);
  const c = await c2(b);
  const d = await c3(c);
  const e = await c4(d);
  const f = await c5(e);
  const g = await c6(f);
  const h = await c7(g);
  const i = await c8(h);
  return c9(i);
}

/** The chain, jitted: the same program, run as a compiled plan. */
export const weftJitChain = jit(weftChain);

/** The fan-out, eager: the five ops under `Promise.all`, then the join op. */
export async function weftFanOut(x: number): Promise<number> {
  const [a, b, c, d, e] = await Promise.all([wInc(x), wDbl(x), wDec(x), wTriple(x), wAdd5(x)]);
  return wJoin({ a, b, c, d, e });
}

/**
 * The fan-out, jitted: written as five awaits in order; the trace shows none reads another's
 * output, so the plan starts all five at once and the join when the last one settles.
 */
export const weftJitFanOut = jit(async (x: number): Promise<number> => {
  const a = await wInc(x);
  const b = await wDbl(x);
  const c = await wDec(x);
  const d = await wTriple(x);
  const e = await wAdd5(x);
  return wJoin({ a, b, c, d, e });
});

/** The batch: the I/O op mapped over the items, `BATCH_CONCURRENCY` in flight. */
export const weftBatch = vmap(wFetch, { concurrency: BATCH_CONCURRENCY });
