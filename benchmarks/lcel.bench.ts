/**
 * Side by side with LangChain.js LCEL (`@langchain/core` runnables) on the same work:
 *
 *   (a) a 3-step sequence of trivial steps      weft `Sequential(op, op, op)`   vs `RunnableSequence` of 3 `RunnableLambda`s
 *   (b) a 5-way parallel fan-out and a join     weft `jit` (5 independent ops   vs `RunnableMap` (= `RunnableParallel`) of 5
 *                                               then a join op; the plan runs      lambdas piped into a join lambda
 *                                               the five at once)
 *   (c) a batch of 1,000 items through a step   weft `vmap(op, { concurrency })` vs `lambda.batch(items, { maxConcurrency })`
 *       with simulated I/O (a setImmediate hop)
 *
 * Both sides run the very same step bodies (the functions below), and both composites
 * are one extra runnable/op around their steps, so the difference is framework overhead.
 *
 * What each side does per step, with no tracer registered on either side:
 * - LCEL, per `invoke`: `ensureConfig` copies the config, `getCallbackManagerForConfig`
 *   builds a callback manager (reading the tracing environment), `handleChainStart` makes a
 *   run id and a run manager, each child gets a patched config with a child callback
 *   manager, a lambda's body runs inside `AsyncLocalStorage.run` with that config, and
 *   `handleChainEnd` closes the run. `batch` queues every item through an `AsyncCaller`
 *   (p-queue + p-retry) limited to `maxConcurrency`.
 * - weft, per op call: derives a context frame (config, deadline, signal, step id) into
 *   AsyncLocalStorage, validates the input and the output against the JSON Schemas the
 *   transformer injected (these bodies take and return numbers), and asks OpenTelemetry for
 *   a span, which is one no-op check because no provider is registered. A jitted function
 *   additionally looks its plan up by input signature and runs it (start-when-ready); `vmap`
 *   splits the batch into items and runs them on `concurrency` lanes.
 *
 * Per-step overhead is (composite time − the same bodies awaited directly) ÷ steps, so the
 * bodies' own cost cancels out. Ratios are LCEL ÷ weft: above 1 means weft is faster.
 */
import { RunnableLambda, RunnableMap, RunnableSequence } from "@langchain/core/runnables";
import { Sequential, jit, op, vmap } from "weft";
import { measure, round, type Metric, type Suite } from "./harness.js";

/**
 * Items in flight in the batch benchmark, for both sides: weft's `vmap` `concurrency` and
 * LCEL's `maxConcurrency`. 16 is weft's default for async work; LCEL's default is unbounded,
 * so it is set explicitly to match.
 */
export const BATCH_CONCURRENCY = 16;
/** Items in the batch benchmark. */
export const BATCH_SIZE = 1000;

// LangSmith tracing is switched on by environment variables; a developer who has them set
// would otherwise benchmark (and send) LangSmith traces. Neither side gets a tracer here.
for (const key of ["LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING", "LANGSMITH_TRACING", "LANGSMITH_TRACING_V2"]) process.env[key] = "false";

// The shared step bodies: async and trivial, so both frameworks do their real promise
// plumbing while the bodies themselves cost next to nothing. Distinct bodies per branch,
// so no framework could merge them as duplicates.
async function inc(x: number): Promise<number> {
  return x + 1;
}
async function dbl(x: number): Promise<number> {
  return x * 2;
}
async function dec(x: number): Promise<number> {
  return x - 1;
}
async function triple(x: number): Promise<number> {
  return x * 3;
}
async function add5(x: number): Promise<number> {
  return x + 5;
}
interface Parts {
  a: number;
  b: number;
  c: number;
  d: number;
  e: number;
}
async function join(p: Parts): Promise<number> {
  return p.a + p.b + p.c + p.d + p.e;
}
/** Simulated I/O: one trip through the event loop's check phase, as a socket reply would take. */
async function fetchLike(x: number): Promise<number> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  return x * 2;
}

// weft: ops over the shared bodies.
const wInc = op({ name: "lcel.inc" }, inc);
const wDbl = op({ name: "lcel.dbl" }, dbl);
const wDec = op({ name: "lcel.dec" }, dec);
const wTriple = op({ name: "lcel.triple" }, triple);
const wAdd5 = op({ name: "lcel.add5" }, add5);
const wJoin = op({ name: "lcel.join" }, join);
const wFetch = op({ name: "lcel.fetch" }, fetchLike);

const weftSequence = Sequential(wInc, wDbl, wDec);
const weftFanOut = jit(async (x: number): Promise<number> => {
  // Five independent ops: the trace shows none reads another's output, so the plan starts
  // all five at once and the join as soon as the last one settles.
  const a = await wInc(x);
  const b = await wDbl(x);
  const c = await wDec(x);
  const d = await wTriple(x);
  const e = await wAdd5(x);
  return wJoin({ a, b, c, d, e });
});
const weftBatch = vmap(wFetch, { concurrency: BATCH_CONCURRENCY });

// LCEL: lambdas over the same bodies.
const lcelSequence = RunnableSequence.from([RunnableLambda.from(inc), RunnableLambda.from(dbl), RunnableLambda.from(dec)]);
const lcelFanOut = RunnableMap.from<number, Parts>({
  a: RunnableLambda.from(inc),
  b: RunnableLambda.from(dbl),
  c: RunnableLambda.from(dec),
  d: RunnableLambda.from(triple),
  e: RunnableLambda.from(add5),
}).pipe(RunnableLambda.from(join));
const lcelFetch = RunnableLambda.from(fetchLike);

/** The plain baselines: the same bodies awaited directly, with no framework. */
async function plainSequence(x: number): Promise<number> {
  return dec(await dbl(await inc(x)));
}
async function plainFanOut(x: number): Promise<number> {
  const [a, b, c, d, e] = await Promise.all([inc(x), dbl(x), dec(x), triple(x), add5(x)]);
  return join({ a, b, c, d, e });
}
/** A bounded pool of `concurrency` lanes, each taking the next item when it finishes one. */
async function plainBatch(items: readonly number[], concurrency: number): Promise<number[]> {
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

/** Fails loudly when the two sides disagree: a ratio over different work means nothing. */
async function checkSameResults(items: readonly number[]): Promise<void> {
  const pairs: Array<[string, unknown, unknown, unknown]> = [
    ["sequence", await plainSequence(7), await weftSequence(7), await lcelSequence.invoke(7)],
    ["fan-out", await plainFanOut(7), await weftFanOut(7), await lcelFanOut.invoke(7)],
    ["batch", await plainBatch(items, BATCH_CONCURRENCY), await weftBatch(items), await lcelFetch.batch([...items], { maxConcurrency: BATCH_CONCURRENCY })],
  ];
  for (const [name, plain, weft, lcel] of pairs) {
    const want = JSON.stringify(plain);
    if (JSON.stringify(weft) !== want || JSON.stringify(lcel) !== want) throw new Error(`lcel bench: ${name} results differ (plain ${want}, weft ${JSON.stringify(weft)}, lcel ${JSON.stringify(lcel)})`);
  }
}

/** One figure as text for a `baseline` column: a few digits and its unit. */
function show(value: number, unit: string): string {
  return `${round(value)} ${unit}`;
}

/**
 * Runs the LCEL side-by-side and returns `lcel_sequence_overhead_ratio`,
 * `lcel_parallel_overhead_ratio` and `lcel_batch_wall_ratio` (LCEL ÷ weft; above 1 means
 * weft is faster). Each metric's `baseline` spells out both sides' absolute figures.
 *
 * @example
 * ```ts
 * const metrics = await run({ quick: true });
 * // [{ name: "lcel_sequence_overhead_ratio", value: 12.3, unit: "×", baseline: "LCEL 25.1 µs/step vs weft 2.04 µs/step ...", ratio: 12.3 }, ...]
 * ```
 */
export const run: Suite = async ({ quick }) => {
  const items = Array.from({ length: BATCH_SIZE }, (_, i) => i);
  await checkSameResults(items);

  // Invocations per benchmark iteration, so timer resolution does not dominate µs figures.
  const N = 100;
  let sink = 0;
  // Each task awaits N invocations in turn; the same wrapper around every side, so it
  // cancels out of the per-step differences.
  const times = (f: (x: number) => Promise<number>) => async () => {
    for (let i = 0; i < N; i++) sink += await f(i);
  };
  const calls = await measure(
    {
      plainSequence: times(plainSequence),
      weftSequence: times(weftSequence),
      lcelSequence: times((x) => lcelSequence.invoke(x)),
      plainFanOut: times(plainFanOut),
      weftFanOut: times(weftFanOut),
      lcelFanOut: times((x) => lcelFanOut.invoke(x)),
    },
    { time: quick ? 100 : 1000, iterations: quick ? 3 : 10 },
  );
  const batches = await measure(
    {
      plainBatch: async () => {
        sink += (await plainBatch(items, BATCH_CONCURRENCY)).length;
      },
      weftBatch: async () => {
        sink += (await weftBatch(items)).length;
      },
      lcelBatch: async () => {
        sink += (await lcelFetch.batch(items, { maxConcurrency: BATCH_CONCURRENCY })).length;
      },
    },
    { time: quick ? 100 : 1500, iterations: quick ? 3 : 10 },
  );
  if (sink === -1) console.log(sink);

  // µs per step over the plain baseline: 3 steps in the sequence, 5 branches + 1 join.
  const perStep = (task: string, plain: string, steps: number) => (calls[task]! - calls[plain]!) / N / steps;
  const seq = { weft: perStep("weftSequence", "plainSequence", 3), lcel: perStep("lcelSequence", "plainSequence", 3) };
  const fan = { weft: perStep("weftFanOut", "plainFanOut", 6), lcel: perStep("lcelFanOut", "plainFanOut", 6) };
  const ms = (task: string) => batches[task]! / 1000;
  const batch = { plain: ms("plainBatch"), weft: ms("weftBatch"), lcel: ms("lcelBatch") };

  const seqRatio = round(seq.lcel / seq.weft);
  const fanRatio = round(fan.lcel / fan.weft);
  const batchRatio = round(batch.lcel / batch.weft);
  return [
    {
      name: "lcel_sequence_overhead_ratio",
      value: seqRatio,
      unit: "× (LCEL ÷ weft)",
      baseline: `3-step sequence overhead per step: LCEL ${show(seq.lcel, "µs")}, weft ${show(seq.weft, "µs")} (over awaiting the bodies directly)`,
      ratio: seqRatio,
    },
    {
      name: "lcel_parallel_overhead_ratio",
      value: fanRatio,
      unit: "× (LCEL ÷ weft)",
      baseline: `5-way fan-out + join overhead per step: LCEL ${show(fan.lcel, "µs")}, weft ${show(fan.weft, "µs")} (over Promise.all of the bodies)`,
      ratio: fanRatio,
    },
    {
      name: "lcel_batch_wall_ratio",
      value: batchRatio,
      unit: "× (LCEL ÷ weft)",
      baseline: `batch of ${BATCH_SIZE} I/O items at concurrency ${BATCH_CONCURRENCY}, wall: LCEL ${show(batch.lcel, "ms")}, weft ${show(batch.weft, "ms")}, plain pool ${show(batch.plain, "ms")}`,
      ratio: batchRatio,
    },
  ] satisfies Metric[];
};

if (process.argv[1]?.endsWith("lcel.bench.js")) console.table(await run({ quick: process.argv.includes("--quick") }));
