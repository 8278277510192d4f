/**
 * Ember's "ensemble and judge": several independent model calls answer a question, then a
 * judge picks the best. The model is local and deterministic with realistic latency, so
 * the demo runs offline; swap `LocalModel.complete` for an HTTP call and nothing else changes.
 */
import { Module, getContext, jit, op } from "weft";
import { rng } from "./similarity.js";

/** One candidate answer. */
export interface Answer {
  readonly model: string;
  readonly text: string;
  readonly confidence: number;
}

/** A verdict over the candidates. */
export interface Verdict {
  readonly best: string;
  readonly text: string;
  readonly votes: number;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Waits `ms`, or rejects when the context's signal fires (deadline or cancellation). */
function latency(ms: number): Promise<void> {
  const { signal } = getContext();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/** A deterministic stand-in for a language model: same prompt, same answer, 40-120 ms. */
export class LocalModel extends Module {
  constructor(readonly name: string) {
    super();
  }

  @op({ retry: { times: 2, backoff: { initial: "10ms" } }, timeout: "2s" })
  async complete(prompt: string): Promise<Answer> {
    const seed = hash(`${this.name}:${prompt}`);
    const next = rng(seed);
    await latency(40 + Math.floor(next() * 80));
    const confidence = Math.round(next() * 100) / 100;
    return { model: this.name, text: `${this.name} says: ${prompt.split(" ").slice(0, 4).join(" ")}… (${seed % 97})`, confidence };
  }
}

/** Picks the most confident answer, counting how many answers agree with its verdict. */
export const judge = op({ kind: "io" }, async (a: Answer, b: Answer, c: Answer, d: Answer, e: Answer): Promise<Verdict> => {
  await latency(30);
  const all = [a, b, c, d, e];
  const best = all.reduce((x, y) => (y.confidence > x.confidence ? y : x));
  return { best: best.model, text: best.text, votes: all.filter((x) => x.confidence >= 0.5).length };
});

const models = ["alpha", "beta", "gamma", "delta", "epsilon"].map((name) => new LocalModel(name));

/** Five answers, then a verdict: written sequentially. */
export async function ensemble(question: string): Promise<Verdict> {
  const a = await models[0]!.complete(question);
  const b = await models[1]!.complete(question);
  const c = await models[2]!.complete(question);
  const d = await models[3]!.complete(question);
  const e = await models[4]!.complete(question);
  return judge(a, b, c, d, e);
}

/** The same, jitted: the trace shows the five calls are independent, so they run at once. */
export const ensembleJit = jit(ensemble);
