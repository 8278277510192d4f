/**
 * `npm run demo`: weft's promises kept, on one realistic pipeline (examples/desk.ts): a
 * support desk answering the questions of examples/data/questions.jsonl with retrieval, a
 * writer and a critic in parallel, and a judge that returns a typed `Verdict`.
 *
 *   1. the plan the jit built            5. a batch: per-item results, a bad input rejected
 *   2. one question as a trace            6. a cancelled batch keeps its finished items
 *   3. a transient failure, retried       7. a crash mid-batch, resumed without repeats
 *   4. a deadline cuts a slow call        8. speed, like with like   9. usage and cost
 *
 * Offline by default (the local provider, deterministic, with model-like latency).
 * `--quick` runs a small batch with short latencies (the test that keeps the demo honest);
 * `--endpoint URL [--model NAME]` runs the same demo against an OpenAI-compatible server
 * (`OPENAI_BASE_URL` / `OPENAI_API_KEY` / `OPENAI_MODEL` work too).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Cancelled, DeadlineExceeded, SqliteStore, ValidationError, data, durable, models, subscribe, traceRecorder, vmap, withContext, type UsageReport } from "weft";
import { answer, answerEager, crash, drafts, roles, searchService, useEndpoint, useLocal, type Answer, type Question } from "./desk.js";
import { planWaves } from "./plan-view.js";

/** How the demo runs. */
export interface DemoOptions {
  /** A small batch and short latencies. */
  readonly quick?: boolean;
  /** An OpenAI-compatible base URL (up to `/v1`); the local provider when absent. */
  readonly endpoint?: string;
  /** The model the endpoint serves. */
  readonly model?: string;
}

/** What the demo showed, for the test that checks each promise was kept. */
export interface DemoReport {
  readonly plan: readonly (readonly string[])[];
  readonly overlapped: boolean;
  readonly retries: readonly { readonly attempt: number; readonly delayMs: number }[];
  readonly deadline: DeadlineExceeded | undefined;
  readonly rejected: ValidationError | undefined;
  readonly answered: number;
  readonly cancelled: { readonly kept: number; readonly cancelled: number; readonly total: number };
  readonly resumed: { readonly crashedAfter: number; readonly fromJournal: number; readonly computed: number; readonly repeated: number };
  readonly usage: UsageReport;
  readonly speed: { readonly eagerMs: number; readonly jitMs: number; readonly vmapMs: number; readonly fastest: string };
}

// Prices per million tokens for the offline models, so the cost line has something to add up.
const PRICES = { input: 0.15, output: 0.6 };

const log = (line = "") => console.log(line);
const ms = (x: number) => `${Math.round(x).toLocaleString("en-US")} ms`;

/** The questions file, beside this file's source (also when run from the build). */
function questionsFile(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const dir of [here, path.resolve(here, "../../examples")]) {
    const file = path.join(dir, "data/questions.jsonl");
    try {
      readFileSync(file);
      return file;
    } catch {}
  }
  throw new Error("demo: examples/data/questions.jsonl not found");
}

/** Runs the demo and returns what it showed. */
export async function demo(options: DemoOptions = {}): Promise<DemoReport> {
  const quick = options.quick ?? false;
  const env = process.env;
  const endpoint = options.endpoint ?? env.OPENAI_BASE_URL ?? (env.OPENAI_API_KEY ? "https://api.openai.com/v1" : undefined);
  if (endpoint) useEndpoint(endpoint, options.model ?? env.OPENAI_MODEL ?? "gpt-4o-mini");
  else useLocal(quick ? 0.2 : 1);
  searchService.latencyMs = quick ? 5 : 30;
  const file = questionsFile();
  const lines = readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "");
  const records = lines.map((l) => JSON.parse(l) as Question);
  const all = quick ? records.slice(0, 10) : records;
  const valid = all.filter((q) => typeof q.text === "string");

  const where = endpoint ? `${endpoint} (${roles.writer.slice("desk:".length)})` : `the offline local provider (${quick ? "12–28" : "60–140"} ms a call)`;
  log(`weft demo: a support desk answering ${all.length} questions from ${path.relative(process.cwd(), file) || file}`);
  log(`models on ${where}; ${os.cpus()[0]?.model.trim() ?? "this machine"}, ${os.availableParallelism()} cores, Node ${process.version}`);

  // The whole demo is traced (OpenTelemetry SDK + context manager) and its usage tracked.
  const recorder = traceRecorder();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(recorder)] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  const dir = mkdtempSync(path.join(os.tmpdir(), "weft-demo-"));
  try {
    const config = endpoint ? {} : { prices: { [roles.writer]: PRICES, [roles.critic]: PRICES, [roles.judge]: PRICES } };
    const tracked = await withContext({ config }, () => models.track(() => sections(valid, all, lines, recorder, dir, endpoint)));
    const report = { ...tracked.value, usage: tracked.usage };
    const u = tracked.usage;
    log(`\n9. Usage and cost of everything above, rolled up from every model call (models.track)`);
    const cost = u.unpricedCalls > 0 ? `cost unknown for ${u.unpricedCalls} calls (set config.prices)` : `$${u.costUsd.toFixed(4)}${endpoint ? "" : " at $0.15 / $0.60 per million tokens"}`;
    log(`   ${u.calls} model calls, ${u.inputTokens.toLocaleString("en-US")} input + ${u.outputTokens.toLocaleString("en-US")} output tokens, ${cost}`);
    return report;
  } finally {
    await provider.shutdown();
    trace.disable();
    context.disable();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function sections(valid: readonly Question[], all: readonly Question[], lines: readonly string[], recorder: ReturnType<typeof traceRecorder>, dir: string, endpoint: string | undefined): Promise<Omit<DemoReport, "usage">> {
  const first = valid[0]!;

  log(`\n1. The pipeline, jitted: one trace of answer() became this plan (a wave's calls start together)`);
  const view = await answer.inspect(first);
  const plan = planWaves(view.json ?? "{}");
  plan.forEach((wave, i) => log(`   wave ${i + 1}  ${wave.join(" ‖ ")}`));

  log(`\n2. One question, traced: OpenTelemetry spans as a waterfall (draft and critique overlap)`);
  recorder.clear();
  await answer(first);
  log(recorder.waterfall({ traces: 1, barWidth: 28, nameWidth: 30 }).trimEnd().replace(/^/gm, "   "));
  const spans = recorder.spans({ traces: 1 });
  const span = (name: string) => spans.find((s) => s.name === name);
  const d = span("draft");
  const c = span("critique");
  const overlapped = d !== undefined && c !== undefined && d.startMs < c.endMs && c.startMs < d.endMs;

  log(`\n3. A transient failure, retried with backoff: the search service answers 503 twice`);
  const retries: Array<{ attempt: number; delayMs: number }> = [];
  const stop = subscribe((e) => {
    if (e.type === "op:retry" && e.op === "retrieve") retries.push({ attempt: e.attempt, delayMs: e.delayMs });
  });
  searchService.busy = 2;
  let retried: Answer;
  try {
    retried = await answer(valid[1]!);
  } finally {
    stop();
  }
  for (const r of retries) log(`   retrieve attempt ${r.attempt} failed (503), next attempt after ${ms(r.delayMs)}`);
  log(`   attempt ${retries.length + 1} succeeded: ${retried.id} ${retried.verdict.approved ? "approved" : "not approved"}; the trace has each failed attempt as a span event`);

  log(`\n4. A deadline cuts a slow call: this search takes 5 s, the request allows 300 ms`);
  searchService.slowMs = 5000;
  const started = performance.now();
  let deadline: DeadlineExceeded | undefined;
  try {
    await withContext({ timeout: "300ms" }, () => answer(valid[2]!));
  } catch (error) {
    if (error instanceof DeadlineExceeded) deadline = error;
    else throw error;
  } finally {
    searchService.slowMs = 0;
  }
  log(`   ${deadline?.name}: ${deadline?.message} (settled at ${ms(performance.now() - started)}); the search was abandoned and its signal fired, so nothing is left running`);

  log(`\n5. The file as one batch, per-item results: a bad line is rejected with its path, the rest answered`);
  if (!endpoint) log(`   (the offline judge's verdicts are deterministic stand-ins, not judgements: approval and confidence are unrelated; --endpoint gives real ones)`);
  const results = await vmap(answer, { concurrency: 8, onError: "collect" })(all as Question[]);
  let rejected: ValidationError | undefined;
  for (const r of results) {
    const q = all[r.index]!;
    if (r.ok) log(`   ${q.id.padEnd(4)} ${q.topic.padEnd(8)} ${r.value.verdict.approved ? "✓ approved" : "✗ needs work"} (confidence ${r.value.verdict.confidence.toFixed(2)})`);
    else {
      const cause = r.error instanceof ValidationError ? r.error : (r.error as { cause?: unknown }).cause;
      if (cause instanceof ValidationError) rejected = cause;
      log(`   ${q.id.padEnd(4)} line ${lines.findIndex((l) => l.includes(`"id":"${q.id}"`)) + 1}: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(r.error)}`);
    }
  }
  const answered = results.filter((r) => r.ok).length;

  log(`\n6. A cancelled batch keeps its finished items: the caller cancels once 3 answers are in`);
  const controller = new AbortController();
  const partial = await withContext({ signal: controller.signal }, () =>
    vmap(answer, { concurrency: 2, onError: "collect", onProgress: (p) => p.done >= 3 && controller.abort() })(valid as Question[]),
  );
  const kept = partial.filter((r) => r.ok);
  const cancelledItems = partial.filter((r) => !r.ok && r.error instanceof Cancelled);
  log(`   kept ${kept.length} answers (${kept.map((r) => valid[r.index]!.id).join(", ")}), ${cancelledItems.length} items Cancelled, ${partial.length} results for ${valid.length} items: none lost`);

  log(`\n7. A crash mid-batch, resumed: each finished node is journaled (SQLite), so a restart repeats none`);
  const store = new SqliteStore(path.join(dir, "desk.db"));
  const run = `desk-${process.pid}`;
  const crashAt = valid[Math.min(5, valid.length - 1)]!.id;
  const batch = () => durable({ run, store }, () => vmap(answer, { concurrency: 2 })(valid as Question[]));
  drafts.started.clear();
  drafts.finished.clear();
  crash.finished.clear();
  crash.at = crashAt;
  let crashed = false;
  try {
    await batch();
  } catch {
    crashed = true;
  }
  crash.at = undefined;
  const draftsFirst = new Set(drafts.finished);
  const finishedFirst = new Set(crash.finished);
  drafts.started.clear();
  crash.finished.clear();
  const resumed = await batch();
  const computed = valid.filter((q) => crash.finished.has(q.id)).map((q) => q.id);
  const repeated = computed.filter((id) => finishedFirst.has(id)).length;
  // Only finished work counts: the calls in flight at the crash run again (at-least-once for them).
  const redrafted = [...drafts.started].filter((id) => draftsFirst.has(id)).length;
  store.close();
  log(`   first run: ${crashed ? "crashed" : "did not crash"} at ${crashAt} (simulated: the judge's process dies), ${finishedFirst.size} answers and ${draftsFirst.size} drafts finished`);
  log(`   resumed:   ${valid.length - computed.length} answers from the journal, ${computed.length} computed (${computed.join(", ")}); repeated: ${repeated} answers, ${redrafted} drafts; ${resumed.length} answers in all`);

  log(`\n8. Speed, like with like: the same ${valid.length} questions, three ways`);
  const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
    const t = performance.now();
    const v = await fn();
    return [v, performance.now() - t];
  };
  const [eager, eagerMs] = await timed(async () => {
    const out: Answer[] = [];
    for (const q of valid) out.push(await answerEager(q));
    return out;
  });
  const [jitted, jitMs] = await timed(async () => {
    const out: Answer[] = [];
    for (const q of valid) out.push(await answer(q));
    return out;
  });
  // As a stream, so the bar (data.progressBar: in place on a terminal, plain lines in a log) sees each answer arrive.
  const [mapped, vmapMs] = await timed(async () => {
    const results = await vmap(answer, { concurrency: 8 }).stream(valid, { onProgress: data.progressBar({ label: "   jit + vmap" }) }).collect();
    return results.sort((a, b) => a.index - b.index).map((r) => {
      if (!r.ok) throw r.error;
      return r.value;
    });
  });
  if (JSON.stringify(eager) !== JSON.stringify(jitted) || JSON.stringify(eager) !== JSON.stringify(mapped)) throw new Error("demo: eager, jit and jit + vmap disagree");
  const ways = [["eager", eagerMs], ["jit", jitMs], ["jit + vmap", vmapMs]] as const;
  const fastest = [...ways].sort((a, b) => a[1] - b[1])[0]![0];
  log(`   eager (plain sequential code)     ${ms(eagerMs).padStart(9)}`);
  log(`   jit (draft ‖ critique)            ${ms(jitMs).padStart(9)}   ${(eagerMs / jitMs).toFixed(1)}× eager`);
  log(`   jit + vmap (8 questions at once)  ${ms(vmapMs).padStart(9)}   ${(eagerMs / vmapMs).toFixed(1)}× eager, ${(jitMs / vmapMs).toFixed(1)}× jit`);
  log(`   fastest: ${fastest}; all three gave the same answers`);
  return { plan, overlapped, retries, deadline, rejected, answered, cancelled: { kept: kept.length, cancelled: cancelledItems.length, total: partial.length }, resumed: { crashedAfter: finishedFirst.size, fromJournal: valid.length - computed.length, computed: computed.length, repeated: repeated + redrafted }, speed: { eagerMs, jitMs, vmapMs, fastest } };
}

// Run when executed (npm run demo), not when imported (the test imports it).
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({ options: { quick: { type: "boolean" }, endpoint: { type: "string" }, model: { type: "string" } }, strict: true });
  const endpoint = values.endpoint ?? process.env.OPENAI_BASE_URL ?? (process.env.OPENAI_API_KEY ? "https://api.openai.com/v1" : undefined);
  await demo({ quick: values.quick === true || process.env.WEFT_DEMO_QUICK === "1", endpoint, model: values.model ?? process.env.OPENAI_MODEL });
}
