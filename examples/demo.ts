/**
 * `npm run demo`: what weft does, on this machine.
 *
 *   1. the pymai quick-start, as ops on Modules composed with Sequential
 *   2. Ember's ensemble-and-judge graph: eager vs jit, and the jitted graph
 *   3. the similarity pipeline over thousands of pairs: eager vs jit vs jit + vmap
 *
 * `--quick` (or WEFT_DEMO_QUICK=1) runs a small batch, for the test that keeps it working.
 */
import os from "node:os";
import { pathToFileURL } from "node:url";
import { vmap } from "weft";
import { main as quickstart } from "./quickstart.js";
import { ensemble, ensembleJit } from "./ensemble.js";
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

  console.log("\n2. Ensemble and judge: five model calls, then a judge\n");
  const question = "Why is the sky blue during the day but red at sunset?";
  const [eager, eagerMs] = await timed(() => ensemble(question));
  const [jitted, jitFirstMs] = await timed(() => ensembleJit(question));
  const [, jitMs] = await timed(() => ensembleJit(question));
  console.log(`  verdict: ${jitted.best} (${jitted.votes}/5 confident) — same as eager: ${JSON.stringify(eager) === JSON.stringify(jitted)}`);
  console.log(`  eager ${ms(eagerMs)}   jit first call (trace + compile + run) ${ms(jitFirstMs)}   jit ${ms(jitMs)}   speedup ${(eagerMs / jitMs).toFixed(1)}×`);
  const view = await ensembleJit.inspect(question);
  console.log("\n  the jitted graph (Mermaid):\n");
  console.log(view.mermaid?.replace(/^/gm, "    "));

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

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// Run when executed (npm run demo), not when imported (the test imports it).
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await demo({ quick: process.argv.includes("--quick") || process.env.WEFT_DEMO_QUICK === "1" });
}
