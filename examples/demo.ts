/**
 * `npm run demo`: what weft does, on this machine.
 *
 *   1. the pymai quick-start, as ops on Modules composed with Sequential
 *   2. Ember's ensemble-and-judge on models(): eager vs jit, usage and cost, the jitted graph
 *      (the offline local provider, or any OpenAI-compatible endpoint when OPENAI_BASE_URL /
 *      OPENAI_API_KEY are set; OPENAI_MODEL picks the model)
 *   3. the similarity pipeline over thousands of pairs: eager vs jit vs jit + vmap
 *
 * `--quick` (or WEFT_DEMO_QUICK=1) runs a small batch, for the test that keeps it working.
 */
import os from "node:os";
import { pathToFileURL } from "node:url";
import { models, vmap, withContext, type UsageReport } from "weft";
import { main as quickstart } from "./quickstart.js";
import { demoModel, ensemble, ensembleJit } from "./ensemble.js";
import { compare, compareJit, generatePairs } from "./similarity.js";
import { progressBar } from "./progress.js";


async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await fn();
  return [value, performance.now() - start];
}

const ms = (x: number) => `${x.toFixed(0).padStart(6)} ms`;

/** Runs the demo; `quick` uses a small batch (the test that keeps the demo working does). */
export async function demo({ quick = false }: { readonly quick?: boolean } = {}): Promise<void> {
  console.log(`weft demo on ${os.cpus()[0]?.model.trim() ?? "this machine"}, ${os.availableParallelism()} cores, Node ${process.version}\n`);

  console.log("1. The pymai quick-start: Tokenize -> Embed -> Similarity -> Humanize\n");
  await quickstart();

  const model = demoModel();
  console.log(`\n2. Ensemble and judge on models(): five calls to ${model}, then a judge (structured output)\n`);
  await withContext({ config: { model } }, async () => {
    const question = "Why is the sky blue during the day but red at sunset?";
    const [eager, eagerMs] = await timed(() => models.track(() => ensemble(question)));
    const [jitted, jitFirstMs] = await timed(() => models.track(() => ensembleJit(question)));
    const [again, jitMs] = await timed(() => models.track(() => ensembleJit(question)));
    const local = model.startsWith("ember:");
    console.log(`  verdict: answer ${jitted.value.best} — ${jitted.value.reason.slice(0, 70)}`);
    if (local) console.log(`  same as eager: ${JSON.stringify(eager.value) === JSON.stringify(jitted.value) && JSON.stringify(again.value) === JSON.stringify(jitted.value)}`);
    console.log(`  eager ${ms(eagerMs)}   jit first call (trace + compile + run) ${ms(jitFirstMs)}   jit ${ms(jitMs)}   speedup ${(eagerMs / jitMs).toFixed(1)}×`);
    console.log(`  usage, eager: ${usageLine(eager.usage)}`);
    console.log(`  usage, jit:   ${usageLine(again.usage)}`);
    const view = await ensembleJit.inspect(question);
    console.log("\n  the jitted graph (Mermaid):\n");
    console.log(view.mermaid?.replace(/^/gm, "    "));
  });

  const count = quick ? 60 : 3000;
  console.log(`\n3. Similarity over ${count} text pairs (tokenise, 4,096-dim hashed TF-IDF, cosine)\n`);
  const pairs = generatePairs(count);
  const [eagerOut, eagerBatchMs] = await timed(async () => {
    const out: string[] = [];
    for (const pair of pairs) out.push(await compare(pair));
    return out;
  });
  const [jitOut, jitBatchMs] = await timed(async () => {
    const out: string[] = [];
    for (const pair of pairs) out.push(await compareJit(pair));
    return out;
  });
  const [vmapOut, vmapMs] = await timed(() => vmap(compareJit, { concurrency: 64, onProgress: progressBar("jit + vmap") })(pairs));
  const close = vmapOut.filter((s) => s.startsWith("close")).length;
  console.log(`  ${close} of ${count} pairs are close; eager, jit and jit + vmap agree: ${same(eagerOut, jitOut) && same(eagerOut, vmapOut)}`);
  console.log(`  eager ${ms(eagerBatchMs)}   jit ${ms(jitBatchMs)}   jit + vmap ${ms(vmapMs)}   (${(eagerBatchMs / vmapMs).toFixed(2)}× eager)`);
}

function usageLine(u: UsageReport): string {
  const cost = u.unpricedCalls > 0 ? `cost unknown for ${u.unpricedCalls} calls (set config.prices)` : `$${u.costUsd.toFixed(6)}`;
  return `${u.calls} calls, ${u.inputTokens} input + ${u.outputTokens} output tokens, ${cost}`;
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// Run when executed (npm run demo), not when imported (the test imports it).
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await demo({ quick: process.argv.includes("--quick") || process.env.WEFT_DEMO_QUICK === "1" });
}
