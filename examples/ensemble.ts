/**
 * Ember's "ensemble and judge" on `models()`: five independent model calls answer a
 * question, then a judge model picks the best answer as structured output (a `Verdict`).
 *
 * The model comes from config (`"default"`): the demo sets it to the offline `local`
 * provider (with realistic latency), or to any OpenAI-compatible endpoint when
 * `OPENAI_BASE_URL` / `OPENAI_API_KEY` are set. Nothing below changes between the two.
 */
import { jit, localProvider, models, op } from "weft";

/** The judge's structured output. */
export interface Verdict {
  /**
   * Which answer is best.
   * @integer
   * @minimum 1
   * @maximum 5
   */
  readonly best: number;
  readonly reason: string;
}

/** The offline ensemble's provider: deterministic, 40-120 ms per reply. */
models.register("ember", localProvider({ latencyMs: [40, 120] }));

/** The model the demo uses: an OpenAI-compatible endpoint when one is configured, else the local one. */
export function demoModel(env: NodeJS.ProcessEnv = process.env): string {
  return env.OPENAI_BASE_URL || env.OPENAI_API_KEY ? `openai:${env.OPENAI_MODEL || "gpt-4o-mini"}` : "ember:chat";
}

/** Picks the best of five answers; its return type is the structured output the judge model must produce. */
export const judge = op({ kind: "io" }, async (question: string, answers: string[]): Promise<Verdict> => {
  const listed = answers.map((a, i) => `${i + 1}. ${a}`).join("\n");
  // The transformer injects Verdict's schema here: it goes to the model, and the reply is checked against it.
  return models.object<Verdict>("default", `Question: ${question}\n\nCandidate answers:\n${listed}\n\nWhich answer is best? Reply with its number (1-5) and a one-sentence reason.`, { temperature: 0 });
});

/** Five answers (different seeds, so different samples), then a verdict: written sequentially. */
export async function ensemble(question: string): Promise<Verdict> {
  const a = await models("default", question, { temperature: 0.8, seed: 1, maxTokens: 120 });
  const b = await models("default", question, { temperature: 0.8, seed: 2, maxTokens: 120 });
  const c = await models("default", question, { temperature: 0.8, seed: 3, maxTokens: 120 });
  const d = await models("default", question, { temperature: 0.8, seed: 4, maxTokens: 120 });
  const e = await models("default", question, { temperature: 0.8, seed: 5, maxTokens: 120 });
  return judge(question, [a, b, c, d, e]);
}

/** The same, jitted: the trace shows the five calls are independent, so they run at once. */
export const ensembleJit = jit(ensemble);
