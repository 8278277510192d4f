/**
 * Effect, used as its documentation composes async work: each step is `Effect.promise`
 * over the body, the chain is an `Effect.gen` program yielding the steps in turn, the
 * fan-out is `Effect.all` over a record of the five branches with unbounded concurrency
 * piped into the join, and the batch is `Effect.forEach` with `{ concurrency: 16 }`. Each
 * call runs its program with `Effect.runPromise`, as an application's edge would.
 */
import { Effect } from "effect";
import type { Peer } from "./peer.js";
import { installedVersion } from "./peer.js";
import { BATCH_CONCURRENCY, BRANCHES, CHAIN, fetchLike, join } from "./work.js";

/** Loads the Effect side. */
export async function load(): Promise<Peer> {
  const step = (body: (x: number) => Promise<number>) => (x: number) => Effect.promise(() => body(x));
  const chainSteps = CHAIN.map(step);
  const chain = (x: number) =>
    Effect.gen(function* () {
      let value = x;
      for (const s of chainSteps) value = yield* s(value);
      return value;
    });
  const branches = {
    a: step(BRANCHES.a),
    b: step(BRANCHES.b),
    c: step(BRANCHES.c),
    d: step(BRANCHES.d),
    e: step(BRANCHES.e),
  };
  const fanout = (x: number) =>
    Effect.all({ a: branches.a(x), b: branches.b(x), c: branches.c(x), d: branches.d(x), e: branches.e(x) }, { concurrency: "unbounded" }).pipe(Effect.flatMap((parts) => Effect.promise(() => join(parts))));
  const fetchStep = step(fetchLike);
  return {
    id: "effect",
    label: "Effect",
    version: installedVersion("effect"),
    api: {
      chain: "Effect.gen yielding Effect.promise steps, Effect.runPromise",
      fanout: "Effect.all({ a, …, e }, { concurrency: \"unbounded\" }) then the join",
      batch: `Effect.forEach(items, step, { concurrency: ${BATCH_CONCURRENCY} })`,
    },
    chain: (x) => Effect.runPromise(chain(x)),
    fanout: (x) => Effect.runPromise(fanout(x)),
    batch: (items) => Effect.runPromise(Effect.forEach(items, fetchStep, { concurrency: BATCH_CONCURRENCY })),
  };
}
