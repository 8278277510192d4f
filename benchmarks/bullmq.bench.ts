/**
 * Scale-out on BullMQ, against raw BullMQ on the same Redis in the same run:
 *
 *   (a) `bullmq_throughput_ratio`: a vmap of 5,000 trivial io items (all in flight, one
 *       item per job) placed on the BullMQ executor, against raw BullMQ adding the same 5,000 jobs in bulk
 *       and waiting for their completions. Both sides are served by one worker in this
 *       process with the same concurrency and job retention (weft's `startWorker`, a raw
 *       BullMQ `Worker` whose processor returns its input), both queues keep the same
 *       events stream length, and both learn of completions from a `QueueEvents` stream. Rounds alternate; the ratio is raw ms ÷ weft ms over the
 *       medians (1.0: weft's jobs flow as fast as BullMQ's own).
 *   (b) `bullmq_step_latency_us`: one call at a time through the executor, against a raw
 *       round trip (`add`, then `waitUntilFinished`), alternating; ratio weft ÷ raw.
 *
 * Redis: `$WEFT_REDIS_URL` when set, else a private redis-server started here (as the tests
 * do); with neither, the suite reports nothing and says why.
 */
import { performance } from "node:perf_hooks";
import { BullMQExecutor, registerExecutor, startWorker, vmap, withContext } from "weft";
import { median, round, type Metric, type Suite } from "./harness.js";
import { OPS_MODULE, echo } from "./bullmq.ops.js";
import { redisSkip, startRedis, type TestRedis } from "../test/support/redis.js";

const CONCURRENCY = 64;
/** What weft's side uses: the executor's events stream length, `startWorker`'s default retention. */
const EVENTS_MAX_LEN = 100_000;
const KEEP_SECONDS = 86_400;

export const run: Suite = async ({ quick }) => {
  let own: TestRedis | undefined;
  let url = process.env.WEFT_REDIS_URL;
  if (!url) {
    if (redisSkip) {
      process.stderr.write(`bench: bullmq skipped: ${redisSkip}\n`);
      return [];
    }
    own = await startRedis();
    url = own.url;
  }
  const { Queue, QueueEvents, Worker } = await import("bullmq");
  const n = quick ? 200 : 5000;
  const rounds = quick ? 1 : 3;
  const steps = quick ? 20 : 300;
  const connection = { url, maxRetriesPerRequest: null };
  const tag = `${process.pid}-${Date.now()}`;

  const remote = new BullMQExecutor({ redis: url, queue: `bench-weft-${tag}` });
  const unregister = registerExecutor("bench", remote);
  const onRemote = <T>(f: () => Promise<T>) => withContext({ placement: "remote:bench" }, f);
  const served = await startWorker({ redis: url, queue: `bench-weft-${tag}`, concurrency: CONCURRENCY, ops: [OPS_MODULE] });

  // Raw BullMQ with the settings weft's side runs with, so the ratio is what weft adds:
  // the same events stream length as the executor's queue, and finished jobs kept as long
  // as `startWorker` keeps them (a resumed coordinator reads replies back), removed by age.
  const rawName = `bench-raw-${tag}`;
  const queue = new Queue(rawName, { connection, streams: { events: { maxLen: EVENTS_MAX_LEN } } });
  const events = new QueueEvents(rawName, { connection });
  const keep = { age: KEEP_SECONDS };
  const worker = new Worker(rawName, async (job) => (job.data as { x: number }).x, { connection, concurrency: CONCURRENCY, removeOnComplete: keep, removeOnFail: keep });
  await Promise.all([events.waitUntilReady(), worker.waitUntilReady()]);

  const items = Array.from({ length: n }, (_, i) => i);
  const weftBatch = async () => {
    // One item per job (`chunkSize: 1`), as raw BullMQ adds them: the same 5,000 jobs.
    const out = await onRemote(() => vmap(echo, { concurrency: n, chunkSize: 1 })(items));
    if (out[n - 1] !== n - 1) throw new Error(`bullmq bench: weft returned ${out[n - 1]} for item ${n - 1}`);
  };
  let batch = 0;
  const rawBatch = async () => {
    const prefix = `b${batch++}-`;
    let done = 0;
    const finished = new Promise<void>((resolve) => {
      const onDone = ({ jobId }: { jobId: string }) => {
        if (jobId.startsWith(prefix) && ++done === n) {
          events.off("completed", onDone);
          resolve();
        }
      };
      events.on("completed", onDone);
    });
    await queue.addBulk(items.map((x) => ({ name: "echo", data: { x }, opts: { jobId: `${prefix}${x}` } })));
    await finished;
  };
  const weftStep = () => onRemote(() => echo(1));
  const rawStep = async () => {
    const job = await queue.add("echo", { x: 1 });
    await job.waitUntilFinished(events);
  };

  try {
    // Warm both paths (connections, scripts loaded, JIT of the hot code).
    await weftBatch();
    await rawBatch();
    const weftMs: number[] = [];
    const rawMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const [fn, into] of r % 2 === 0 ? ([[weftBatch, weftMs], [rawBatch, rawMs]] as const) : ([[rawBatch, rawMs], [weftBatch, weftMs]] as const)) {
        const t = performance.now();
        await fn();
        into.push(performance.now() - t);
      }
    }
    const weftUs: number[] = [];
    const rawUs: number[] = [];
    for (let i = 0; i < steps; i++) {
      for (const [fn, into] of i % 2 === 0 ? ([[weftStep, weftUs], [rawStep, rawUs]] as const) : ([[rawStep, rawUs], [weftStep, weftUs]] as const)) {
        const t = performance.now();
        await fn();
        into.push((performance.now() - t) * 1000);
      }
    }
    const w = median(weftMs);
    const raw = median(rawMs);
    const stepWeft = median(weftUs);
    const stepRaw = median(rawUs);
    return [
      {
        name: "bullmq_throughput_ratio",
        value: round(raw / w),
        unit: "× raw",
        baseline: `${n} trivial io items: weft ${round(w)} ms (${round((n / w) * 1000)} jobs/s), raw BullMQ addBulk ${round(raw)} ms (${round((n / raw) * 1000)} jobs/s), one in-process worker each, concurrency ${CONCURRENCY}`,
      },
      {
        name: "bullmq_step_latency_us",
        value: round(stepWeft),
        unit: "µs/step",
        baseline: `a raw BullMQ round trip (add, waitUntilFinished): ${round(stepRaw)} µs`,
        ratio: round(stepWeft / stepRaw),
      },
    ] satisfies Metric[];
  } finally {
    unregister();
    await remote.close();
    await served.close();
    await worker.close();
    await events.close();
    await queue.close();
    await own?.dispose();
  }
};
