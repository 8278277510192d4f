/**
 * Compile time: `optimize` (checker on, as `jit` runs it) plus `plan`, for seeded random
 * programs of 100 and 1,000 op nodes (with property reads, packs, consts, repeated pure
 * calls, staged conds and maps). The trace phase is measured by the JIT's own suite.
 *
 * Linearity is the point: `compile_ms_1000` is reported against ten times `compile_ms_100`
 * measured in the same run, so a ratio near 1 means linear and a quadratic pass shows up
 * as a ratio near 10.
 */
import { optimize } from "../compiler/optimize.js";
import { plan } from "../compiler/plan.js";
import { randomGraph } from "../test/compiler/random-graph.js";
import { measure, round, type Metric } from "./harness.js";

// Every sync op is worth a worker: the place pass then prices every fused group too.
const cost = () => ({ meanMs: 1 });

/**
 * Runs the compile benchmarks.
 *
 * @example
 * ```ts
 * const metrics = await run({ quick: true }); // [{ name: "compile_ms_100", value: 0.3, unit: "ms" }, ...]
 * ```
 */
export async function run({ quick }: { readonly quick: boolean } = { quick: false }): Promise<Metric[]> {
  const small = randomGraph(100, 100);
  const large = randomGraph(1000, 1000);
  let sink = 0;
  const t = await measure(
    {
      compile100: () => {
        sink += plan(optimize(small, { cost })).steps.length;
      },
      compile1000: () => {
        sink += plan(optimize(large, { cost })).steps.length;
      },
      compile1000Unchecked: () => {
        sink += plan(optimize(large, { cost, check: false })).steps.length;
      },
    },
    { time: quick ? 200 : 1500 },
  );
  if (sink === -1) console.log(sink);
  const ms = (name: string) => t[name]! / 1000;
  const ms100 = ms("compile100");
  const ms1000 = ms("compile1000");
  return [
    { name: "compile_ms_100", value: round(ms100), unit: "ms" },
    { name: "compile_ms_1000", value: round(ms1000), unit: "ms", baseline: "10 × compile_ms_100 (linear)", ratio: round(ms1000 / (10 * ms100)) },
    { name: "compile_unchecked_ms_1000", value: round(ms("compile1000Unchecked")), unit: "ms", baseline: "compile_ms_1000 (checker on)", ratio: round(ms("compile1000Unchecked") / ms1000) },
  ];
}
