/**
 * Mastra workflows, as its documentation builds them: each body a `createStep` with zod
 * input and output schemas (Mastra requires them; they validate each step's data, as
 * weft's build-time schemas do), composed with `createWorkflow(...)`: ten `.then()` steps
 * for the chain, `.parallel([5 steps]).then(join)` for the fan-out (the join reads the
 * branches' outputs keyed by step id), and `.foreach(step, { concurrency: 16 })` for the
 * batch (its default is 1), each `.commit()`ed. Every call is a new run:
 * `await workflow.createRun()` then `run.start({ inputData })`. No `Mastra` instance, so no
 * storage and no observability exporter.
 */
import type { Peer } from "./peer.js";
import { installedVersion } from "./peer.js";
import { BATCH_CONCURRENCY, BRANCHES, CHAIN, fetchLike, join } from "./work.js";

/** Loads the Mastra side. */
export async function load(): Promise<Peer> {
  const { createStep, createWorkflow } = await import("@mastra/core/workflows");
  const { z } = await import("zod");
  const num = z.number();
  const step = <const Id extends string>(id: Id, body: (x: number) => Promise<number>) => createStep({ id, inputSchema: num, outputSchema: num, execute: async ({ inputData }) => body(inputData) });

  let chainBuilder = createWorkflow({ id: "peers-chain", inputSchema: num, outputSchema: num });
  CHAIN.forEach((body, i) => {
    chainBuilder = chainBuilder.then(step(`s${i}`, body));
  });
  const chain = chainBuilder.commit();

  const parts = z.object({ a: num, b: num, c: num, d: num, e: num });
  const fanout = createWorkflow({ id: "peers-fanout", inputSchema: num, outputSchema: num })
    .parallel([step("a", BRANCHES.a), step("b", BRANCHES.b), step("c", BRANCHES.c), step("d", BRANCHES.d), step("e", BRANCHES.e)])
    .then(createStep({ id: "join", inputSchema: parts, outputSchema: num, execute: async ({ inputData }) => join(inputData) }))
    .commit();

  const batch = createWorkflow({ id: "peers-batch", inputSchema: z.array(num), outputSchema: z.array(num) })
    .foreach(step("fetch", fetchLike), { concurrency: BATCH_CONCURRENCY })
    .commit();

  /** A run's result: anything but success is an error, not a figure. */
  function success<T>(result: { status: string; result?: T; error?: unknown }): T {
    if (result.status !== "success") throw new Error(`Mastra run ended ${result.status}: ${String(result.error)}`);
    return result.result as T;
  }

  return {
    id: "mastra",
    label: "Mastra",
    version: installedVersion("@mastra/core"),
    api: {
      chain: "createWorkflow().then(createStep) × 10, commit(); createRun().start() per call",
      fanout: "createWorkflow().parallel([5 steps]).then(join), commit(); createRun().start()",
      batch: `createWorkflow().foreach(step, { concurrency: ${BATCH_CONCURRENCY} }), commit(); createRun().start()`,
    },
    chain: async (x) => success(await (await chain.createRun()).start({ inputData: x })),
    fanout: async (x) => success(await (await fanout.createRun()).start({ inputData: x })),
    batch: async (items) => success(await (await batch.createRun()).start({ inputData: [...items] })),
  };
}
