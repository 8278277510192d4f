/**
 * One op call against a plain function call, in one run: a sync op, an async op and an op
 * with retry and timeout configured. Calls are batched (N per iteration) so timer
 * resolution and tinybench's own overhead do not dominate sub-microsecond figures.
 */
import { op } from "weft";
import { measure, round, type Metric, type Suite } from "./harness.js";

const N = 1000;

function add(x: number): number {
  return x + 1;
}
async function addAsync(x: number): Promise<number> {
  return x + 1;
}

const syncOp = op({ name: "bench.sync" }, add);
const asyncOp = op({ name: "bench.async" }, addAsync);
const policyOp = op({ name: "bench.policy", retry: { times: 3 }, timeout: "20s" }, addAsync);

export const run: Suite = async ({ quick }) => {
  let sink = 0;
  const t = await measure(
    {
      plainSync: () => {
        for (let i = 0; i < N; i++) sink += add(i);
      },
      plainAsync: async () => {
        for (let i = 0; i < N; i++) sink += await addAsync(i);
      },
      syncOp: async () => {
        for (let i = 0; i < N; i++) sink += await syncOp(i);
      },
      asyncOp: async () => {
        for (let i = 0; i < N; i++) sink += await asyncOp(i);
      },
      policyOp: async () => {
        for (let i = 0; i < N / 10; i++) sink += await policyOp(i);
      },
    },
    { time: quick ? 200 : 1000 },
  );
  if (sink === -1) console.log(sink);
  const per = (name: string, n = N) => t[name]! / n;
  const plainSync = per("plainSync");
  const plainAsync = per("plainAsync");
  const syncOpUs = per("syncOp");
  const asyncOpUs = per("asyncOp");
  const policyUs = per("policyOp", N / 10);
  const metrics: Metric[] = [
    // The headline: what a policy-free op adds over awaiting the same async function.
    { name: "op_call_overhead_us", value: round(asyncOpUs - plainAsync), unit: "µs/call", baseline: "await plain async fn", ratio: round(asyncOpUs / plainAsync) },
    { name: "op_call_sync_overhead_us", value: round(syncOpUs - plainSync), unit: "µs/call", baseline: "plain sync fn call", ratio: round(syncOpUs / plainSync) },
    { name: "op_call_policy_overhead_us", value: round(policyUs - plainAsync), unit: "µs/call", baseline: "await plain async fn", ratio: round(policyUs / plainAsync) },
  ];
  return metrics;
};
