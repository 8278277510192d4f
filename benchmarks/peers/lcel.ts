/**
 * LangChain.js LCEL (`@langchain/core` runnables), as its documentation composes steps:
 * each body a `RunnableLambda`, the chain a `RunnableSequence` of the ten, the fan-out a
 * `RunnableMap` (= `RunnableParallel`) of the five piped into the join lambda, and the
 * batch `lambda.batch(items, { maxConcurrency: 16 })` (its default is unbounded).
 *
 * Per `invoke`, LCEL copies the config, builds a callback manager, opens and closes a run
 * for the composite and for each child (with a patched child config), and runs each
 * lambda's body inside `AsyncLocalStorage.run`; `batch` queues the items through an
 * `AsyncCaller` (p-queue and p-retry). No tracer is registered.
 */
import type { Peer } from "./peer.js";
import { disableLangSmith, installedVersion } from "./peer.js";
import { BATCH_CONCURRENCY, BRANCHES, CHAIN, fetchLike, join, type Parts } from "./work.js";

/** Loads the LCEL side. */
export async function load(): Promise<Peer> {
  disableLangSmith();
  const { RunnableLambda, RunnableMap, RunnableSequence } = await import("@langchain/core/runnables");
  const steps = CHAIN.map((body) => RunnableLambda.from(body));
  const chain = RunnableSequence.from<number, number>([steps[0]!, ...steps.slice(1, -1), steps.at(-1)!]);
  const fanout = RunnableMap.from<number, Parts>({
    a: RunnableLambda.from(BRANCHES.a),
    b: RunnableLambda.from(BRANCHES.b),
    c: RunnableLambda.from(BRANCHES.c),
    d: RunnableLambda.from(BRANCHES.d),
    e: RunnableLambda.from(BRANCHES.e),
  }).pipe(RunnableLambda.from(join));
  const fetchStep = RunnableLambda.from(fetchLike);
  return {
    id: "lcel",
    label: "LCEL",
    version: installedVersion("@langchain/core"),
    api: {
      chain: "RunnableSequence.from([10 × RunnableLambda]).invoke",
      fanout: "RunnableMap.from({ a, …, e }).pipe(join lambda).invoke",
      batch: `RunnableLambda.batch(items, { maxConcurrency: ${BATCH_CONCURRENCY} })`,
    },
    chain: (x) => chain.invoke(x),
    fanout: (x) => fanout.invoke(x),
    batch: (items) => fetchStep.batch([...items], { maxConcurrency: BATCH_CONCURRENCY }),
  };
}
