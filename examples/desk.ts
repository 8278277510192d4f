/**
 * The demo's pipeline: a support desk answering customer questions. Each question is
 * looked up in a knowledge base (a search service that is sometimes slow or busy), then a
 * writer model drafts an answer while a critic model lists what a good answer must cover
 * (in parallel: neither needs the other), and a judge model checks the draft against the
 * critique and returns a typed `Verdict` (structured output, checked against its schema).
 *
 * Offline, the models are the deterministic `local` provider with realistic latency
 * (`desk:*`); `useEndpoint()` points the same pipeline at any OpenAI-compatible server.
 */
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { getContext, jit, localProvider, models, op, openaiCompatible } from "weft";

/** One customer question, one line of questions.jsonl. */
export interface Question {
  readonly id: string;
  readonly topic: "billing" | "account" | "outage";
  readonly text: string;
}

/** A knowledge-base passage. */
export interface Passage {
  readonly source: string;
  readonly text: string;
}

/** The judge's structured output. */
export interface Verdict {
  /** Whether the draft can be sent as it is. */
  readonly approved: boolean;
  /**
   * How sure the judge is.
   * @minimum 0
   * @maximum 1
   */
  readonly confidence: number;
  readonly reason: string;
}

/** What the pipeline returns per question. */
export interface Answer {
  readonly id: string;
  readonly draft: string;
  readonly verdict: Verdict;
}

/** Model ids per role: `desk:*` (local) until `useEndpoint` changes them. */
export const roles = { writer: "desk:writer", critic: "desk:critic", judge: "desk:judge" };

/** Registers the offline provider; `scale` multiplies its latency (the quick mode uses less). */
export function useLocal(scale = 1): void {
  models.register("desk", localProvider({ latencyMs: [Math.round(60 * scale), Math.round(140 * scale)] }));
  Object.assign(roles, { writer: "desk:writer", critic: "desk:critic", judge: "desk:judge" });
}

/** Points every role at an OpenAI-compatible endpoint (`baseURL` up to `/v1`) and one model. */
export function useEndpoint(baseURL: string, model: string, apiKey = process.env.OPENAI_API_KEY): void {
  models.register("desk", openaiCompatible({ name: "endpoint", baseURL, ...(apiKey ? { apiKey } : {}) }));
  Object.assign(roles, { writer: `desk:${model}`, critic: `desk:${model}`, judge: `desk:${model}` });
}

/** Where the desk's models run: an OpenAI-compatible endpoint, or the local provider (`quick`: short latencies). */
export interface DeskSetup {
  readonly quick: boolean;
  readonly endpoint?: string | undefined;
  readonly model?: string | undefined;
}

/** Prices per million tokens for the offline models, so the cost line has something to add up. */
export const PRICES = { input: 0.15, output: 0.6 };

/**
 * Points the desk at its models and sets the search service's latency; returns the config
 * its calls run with (the offline models' prices).
 */
export function setUp(setup: DeskSetup): Readonly<Record<string, unknown>> {
  if (setup.endpoint) useEndpoint(setup.endpoint, setup.model ?? "gpt-4o-mini");
  else useLocal(setup.quick ? 0.2 : 1);
  searchService.latencyMs = setup.quick ? 5 : 30;
  return setup.endpoint ? {} : { prices: { [roles.writer]: PRICES, [roles.critic]: PRICES, [roles.judge]: PRICES } };
}

/**
 * The questions of a JSONL file (`quick`: the first 10 lines), with the lines as read:
 * `all` as parsed (a bad line stays in, for the batch to reject), `valid` those with a text.
 */
export function readQuestions(file: string, quick: boolean): { lines: string[]; all: Question[]; valid: Question[] } {
  const lines = readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "");
  const records = lines.map((l) => JSON.parse(l) as Question);
  const all = quick ? records.slice(0, 10) : records;
  return { lines, all, valid: all.filter((q) => typeof q.text === "string") };
}

/**
 * The knowledge base's search service, with the faults a real one has: `busy` makes the
 * next calls fail with a 503 (a transient failure, retried), `slowMs` makes a lookup that
 * long (it stops when the call's signal fires), `searches` counts the lookups made.
 */
export const searchService = { busy: 0, slowMs: 0, searches: 0, latencyMs: 30 };

const ARTICLES: Record<Question["topic"], readonly Passage[]> = {
  billing: [
    { source: "kb/billing-cycles", text: "Plan changes take effect at once; the difference is prorated on the next invoice." },
    { source: "kb/refunds", text: "Duplicate charges are refunded within 5 business days once confirmed by support." },
  ],
  account: [
    { source: "kb/ownership", text: "Owners can transfer a workspace from Settings, Members, Transfer ownership." },
    { source: "kb/recovery", text: "Recovery codes restore access; without them, support verifies identity by email." },
  ],
  outage: [
    { source: "status/incidents", text: "Check status.example.com; incidents list affected regions and workarounds." },
    { source: "kb/webhooks", text: "Failed webhooks are retried for 24 hours; the delivery log shows each attempt." },
  ],
};

/**
 * Looks a question up in the knowledge base; retried with backoff when the service is busy.
 * It returns the passages as text: the writer and the critic take strings, since the jit
 * orders calls that take the same object one after the other (either may mutate it).
 */
export const retrieve = op({ retry: { times: 3, backoff: { initial: "40ms", factor: 2, jitter: 0 } } }, async (question: Question): Promise<string> => {
  const { signal } = getContext();
  searchService.searches++;
  if (searchService.busy > 0) {
    searchService.busy--;
    await sleep(5, undefined, { signal });
    throw Object.assign(new Error("search service busy (503)"), { status: 503 });
  }
  await sleep(searchService.slowMs || searchService.latencyMs, undefined, { signal });
  return ARTICLES[question.topic].map((p) => `[${p.source}] ${p.text}`).join("\n");
});

/** The writer drafts a reply from the passages. */
export const draft = op(async (id: string, question: string, passages: string): Promise<string> =>
  models(roles.writer, `Ticket ${id}. Answer the customer in three sentences, citing the passages.\n${passages}\n\nCustomer: ${question}`, { temperature: 0.3, seed: 7, maxTokens: 160 }),
);

/** The critic lists what a good reply must cover. */
export const critique = op(async (question: string, passages: string): Promise<string> =>
  models(roles.critic, `List the facts a correct reply to this customer must state.\n${passages}\n\nCustomer: ${question}`, { temperature: 0, maxTokens: 120 }),
);

/** The judge checks the draft against the critique; its return type is the structured output. */
export const judge = op(async (id: string, question: string, reply: string, checklist: string): Promise<Verdict> =>
  models.object<Verdict>(roles.judge, `Ticket ${id}. Customer: ${question}\n\nDraft reply:\n${reply}\n\nChecklist:\n${checklist}\n\nCan the draft be sent as it is?`, { temperature: 0 }),
);

/** One question through the desk, written as plain sequential code. */
export async function answerEager(question: Question): Promise<Answer> {
  const passages = await retrieve(question);
  const reply = await draft(question.id, question.text, passages);
  const checklist = await critique(question.text, passages);
  const verdict = await judge(question.id, question.text, reply, checklist);
  return { id: question.id, draft: reply, verdict };
}

/** The same function, jitted: the trace shows draft and critique are independent, so they run together. */
export const answer = jit(answerEager);

/**
 * The batch item a step id or journal key of a durable `vmap(answer)` belongs to:
 * `run(r)/vmap(answer)#0[3]/jit(answer)#0/n1/retrieve#0` is item 3; the item's own record
 * (its answer, journaled when it finished) is the key ending at `[3]`.
 */
export function itemOf(key: string): { readonly index: number; readonly whole: boolean } | undefined {
  const match = /\/vmap\(answer\)#\d+\[(\d+)\](.*)$/.exec(key);
  return match ? { index: Number(match[1]), whole: match[2] === "" } : undefined;
}
