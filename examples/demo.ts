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
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Cancelled, DeadlineExceeded, SqliteStore, ValidationError, data, models, subscribe, traceRecorder, vmap, withContext, type JournalRecord } from "weft";
import { answer, answerEager, itemOf, readQuestions, roles, searchService, setUp, type Answer, type DeskSetup, type Question } from "./desk.js";
import { planWaves } from "./plan-view.js";

/** How the demo runs. */
export interface DemoOptions {
  /** A small batch and short latencies. */
  readonly quick?: boolean;
  /** An OpenAI-compatible base URL (up to `/v1`); the local provider when absent. */
  readonly endpoint?: string | undefined;
  /** The model the endpoint serves. */
  readonly model?: string | undefined;
  /** The questions, one JSON object a line. Default examples/data/questions.jsonl. */
  readonly questions?: string | undefined;
  /**
   * The JavaScript of examples/desk-run.ts, the batch's process in section 7. Default:
   * desk-run.js beside this file (a test running this file from its TypeScript source gives a build).
   */
  readonly runner?: string | undefined;
}

const log = (line = "") => console.log(line);
const ms = (x: number) => `${Math.round(x).toLocaleString("en-US")} ms`;

/** examples/data/questions.jsonl, beside this file's source (also when run from the build). */
function questionsFile(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const dir of [here, path.resolve(here, "../../examples")]) {
    const file = path.join(dir, "data/questions.jsonl");
    if (existsSync(file)) return file;
  }
  throw new Error("demo: examples/data/questions.jsonl not found; pass --questions FILE");
}

/** Runs the demo, printing each section. */
export async function demo(options: DemoOptions = {}): Promise<void> {
  const env = process.env;
  const endpoint = options.endpoint ?? (env.OPENAI_BASE_URL || undefined) ?? (env.OPENAI_API_KEY ? "https://api.openai.com/v1" : undefined);
  const setup: DeskSetup = { quick: options.quick ?? false, endpoint, model: options.model ?? (env.OPENAI_MODEL || undefined) };
  const config = setUp(setup);
  const file = options.questions ?? questionsFile();
  const { lines, all, valid } = readQuestions(file, setup.quick);

  const where = setup.endpoint ? `${setup.endpoint} (${roles.writer.slice("desk:".length)})` : `the offline local provider (${setup.quick ? "12–28" : "60–140"} ms a call)`;
  log(`weft demo: a support desk answering ${all.length} questions from ${path.relative(process.cwd(), file) || file}`);
  log(`models on ${where}; ${os.cpus()[0]?.model.trim() ?? "this machine"}, ${os.availableParallelism()} cores, Node ${process.version}`);

  // The whole demo is traced (OpenTelemetry SDK + context manager) and its usage tracked.
  const recorder = traceRecorder();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(recorder)] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  const dir = mkdtempSync(path.join(os.tmpdir(), "weft-demo-"));
  try {
    const { usage: u } = await withContext({ config }, () => models.track(() => sections({ setup, file, lines, all, valid, recorder, dir, runner: options.runner ?? fileURLToPath(new URL("./desk-run.js", import.meta.url)) })));
    log(`\n9. Usage and cost, rolled up from every model call this process made above (models.track; section 7's ran in its child processes)`);
    const cost = u.unpricedCalls > 0 ? `cost unknown for ${u.unpricedCalls} calls (set config.prices)` : `$${u.costUsd.toFixed(4)}${setup.endpoint ? "" : " at $0.15 / $0.60 per million tokens"}`;
    log(`   ${u.calls} model calls, ${u.inputTokens.toLocaleString("en-US")} input + ${u.outputTokens.toLocaleString("en-US")} output tokens, ${cost}`);
  } finally {
    await provider.shutdown();
    trace.disable();
    context.disable();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Sections {
  readonly setup: DeskSetup;
  readonly file: string;
  readonly lines: readonly string[];
  readonly all: readonly Question[];
  readonly valid: readonly Question[];
  readonly recorder: ReturnType<typeof traceRecorder>;
  readonly dir: string;
  readonly runner: string;
}

async function sections({ setup, file, lines, all, valid, recorder, dir, runner }: Sections): Promise<void> {
  const first = valid[0]!;

  log(`\n1. The pipeline, jitted: one trace of answer() became this plan (a wave's calls start together)`);
  const view = await answer.inspect(first);
  planWaves(view.json ?? "{}").forEach((wave, i) => log(`   wave ${i + 1}  ${wave.join(" ‖ ")}`));

  log(`\n2. One question, traced: OpenTelemetry spans as a waterfall (draft and critique overlap)`);
  recorder.clear();
  await answer(first);
  log(recorder.waterfall({ traces: 1, barWidth: 28, nameWidth: 30 }).trimEnd().replace(/^/gm, "   "));
  const spans = recorder.spans({ traces: 1 });
  const span = (name: string) => spans.find((s) => s.name === name);
  const d = span("draft");
  const c = span("critique");
  const overlap = d !== undefined && c !== undefined ? Math.min(d.endMs, c.endMs) - Math.max(d.startMs, c.startMs) : 0;
  log(overlap > 0 ? `   draft ‖ critique: their spans overlap for ${ms(overlap)}` : `   draft ‖ critique: their spans did not overlap`);

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
  try {
    await withContext({ timeout: "300ms" }, () => answer(valid[2]!));
    log(`   no deadline error: the slow search finished within 300 ms`);
  } catch (error) {
    if (!(error instanceof DeadlineExceeded)) throw error;
    log(`   ${error.name}: ${error.message} (settled at ${ms(performance.now() - started)}); the search was abandoned and its signal fired, so nothing is left running`);
  } finally {
    searchService.slowMs = 0;
  }

  log(`\n5. The file as one batch, per-item results: a bad line is rejected with its path, the rest answered`);
  if (!setup.endpoint) log(`   (the offline judge's verdicts are deterministic stand-ins, not judgements: approval and confidence are unrelated; --endpoint gives real ones)`);
  const results = await vmap(answer, { concurrency: 8, onError: "collect" })(all as Question[]);
  for (const r of results) {
    const q = all[r.index]!;
    if (r.ok) log(`   ${q.id.padEnd(4)} ${q.topic.padEnd(8)} ${r.value.verdict.approved ? "✓ approved" : "✗ needs work"} (confidence ${r.value.verdict.confidence.toFixed(2)})`);
    else {
      const cause = r.error instanceof ValidationError ? r.error : (r.error as { cause?: unknown }).cause;
      log(`   ${q.id.padEnd(4)} line ${lines.findIndex((l) => l.includes(`"id":"${q.id}"`)) + 1}: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(r.error)}`);
    }
  }
  const failed = results.filter((r) => !r.ok).length;
  log(`   ${results.length - failed} answered, ${failed} rejected`);

  log(`\n6. A cancelled batch keeps its finished items: the caller cancels once 3 answers are in`);
  const controller = new AbortController();
  const partial = await withContext({ signal: controller.signal }, () =>
    vmap(answer, { concurrency: 2, onError: "collect", onProgress: (p) => p.done >= 3 && controller.abort() })(valid as Question[]),
  );
  const kept = partial.filter((r) => r.ok);
  const cancelledItems = partial.filter((r) => !r.ok && r.error instanceof Cancelled);
  log(`   kept ${kept.length} answers (${kept.map((r) => valid[r.index]!.id).join(", ")}), ${cancelledItems.length} items Cancelled, ${partial.length} results for ${valid.length} items: none lost`);

  log(`\n7. A crash mid-batch, resumed: a child process runs the batch under durable() (a SQLite journal); once ${STOP_AT} answers are journaled it says so, the demo kills it (SIGKILL) and a fresh process resumes the run`);
  const { killed, finished, inFlight, fresh } = await crashAndResume(runner, setup, file, dir);
  const ids = (items: readonly number[]) => items.map((i) => valid[i]!.id).join(", ") || "none";
  log(`   killed:    pid ${killed.pid} by ${killed.signal} with ${finished.length} answers journaled (${ids(finished)}) and ${killed.journaledCalls} op calls; ${inFlight.length} answers in flight (${ids(inFlight)})`);
  log(`   resumed:   pid ${fresh.pid}, once the dead process's lease expired (${ms(fresh.waitedMs)}): ${fresh.fromJournal.length} answers from the journal, ${fresh.computed.length} computed (${ids(fresh.computed)}), ${fresh.answers.length} answers in all`);
  log(`   repeated:  ${fresh.repeatedAnswers} finished answers and ${fresh.repeatedCalls} journaled op calls ran again; ${fresh.inFlightAgain} op calls in flight at the kill ran again (counted from both processes' op:attempt events)`);

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
  const same = (x: readonly Answer[]) => JSON.stringify(x) === JSON.stringify(eager);
  if (!same(jitted) || !same(mapped)) throw new Error("demo: eager, jit and jit + vmap disagree");
  if (!setup.endpoint && !same(fresh.answers)) throw new Error("demo: the resumed run of section 7 disagrees with the uninterrupted runs");
  const ways = [["eager", eagerMs], ["jit", jitMs], ["jit + vmap", vmapMs]] as const;
  const fastest = [...ways].sort((a, b) => a[1] - b[1])[0]![0];
  log(`   eager (plain sequential code)     ${ms(eagerMs).padStart(9)}`);
  log(`   jit (draft ‖ critique)            ${ms(jitMs).padStart(9)}   ${(eagerMs / jitMs).toFixed(1)}× eager`);
  log(`   jit + vmap (8 questions at once)  ${ms(vmapMs).padStart(9)}   ${(eagerMs / vmapMs).toFixed(1)}× eager, ${(jitMs / vmapMs).toFixed(1)}× jit`);
  log(`   fastest: ${fastest}; all three gave the same answers${setup.endpoint ? "" : ", as did the resumed run of section 7"}`);
}

/** Section 7 kills the batch's process once this many answers are journaled. */
const STOP_AT = 4;

/** One run of examples/desk-run.ts: its pid, how it ended, its stdout lines and stderr. */
interface Child {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string[];
  readonly stderr: string;
}

/**
 * Runs the desk's batch in a process of its own (`script`: desk-run.js); with `stopAt`,
 * kills it with SIGKILL as soon as it reports that many answers journaled.
 */
function deskRun(script: string, setup: DeskSetup, args: readonly string[], stopAt?: number): Promise<Child> {
  const endpoint = setup.endpoint ? ["--endpoint", setup.endpoint, ...(setup.model ? ["--model", setup.model] : [])] : [];
  const child = spawn(process.execPath, [script, ...args, ...(setup.quick ? ["--quick"] : []), ...(stopAt === undefined ? [] : ["--stop-at", String(stopAt)]), ...endpoint], { stdio: ["ignore", "pipe", "pipe"] });
  const stdout: string[] = [];
  let stderr = "";
  let rest = "";
  child.stdout.on("data", (chunk: Buffer) => {
    const parts = (rest + chunk.toString()).split("\n");
    rest = parts.pop()!;
    for (const line of parts) {
      stdout.push(line);
      // The child stops still after this line, so the kill lands exactly at that journal state.
      if (stopAt !== undefined && line.startsWith("journaled ")) child.kill("SIGKILL");
    }
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ pid: child.pid!, code, signal, stdout, stderr }));
  });
}

/**
 * Section 7: the batch runs under durable() in a child process, killed with SIGKILL once
 * `STOP_AT` answers are journaled; a fresh process resumes the run. What finished before the
 * kill is read from the journal; what ran where, from the op bodies both processes logged.
 */
async function crashAndResume(runner: string, setup: DeskSetup, file: string, dir: string) {
  const db = path.join(dir, "desk.db");
  const bodies = path.join(dir, "bodies.log");
  const args = ["--db", db, "--run", "desk-batch", "--questions", file, "--log", bodies];
  const killed = await deskRun(runner, setup, args, STOP_AT);
  if (killed.signal !== "SIGKILL") throw new Error(`demo: the batch's process was to be killed at ${STOP_AT} answers, but it ended with code ${killed.code}: ${killed.stderr.trim()}`);

  // What the killed process finished: its journal, read before anything resumes.
  const store = new SqliteStore(db);
  let journal: JournalRecord[];
  try {
    // The SQLite store answers synchronously.
    journal = store.journal("desk-batch") as JournalRecord[];
  } finally {
    store.close();
  }
  const journaled = new Set(journal.map((r) => r.key));
  const finished = journal.flatMap((r) => (itemOf(r.key)?.whole ? [itemOf(r.key)!.index] : [])).sort((a, b) => a - b);

  const resumer = await deskRun(runner, setup, args);
  if (resumer.code !== 0) throw new Error(`demo: resuming the batch failed (code ${resumer.code}): ${resumer.stderr.trim()}`);
  const { answers, waitedMs } = JSON.parse(resumer.stdout.at(-1) ?? "{}") as { answers: Answer[]; waitedMs: number };

  // Each line: pid, op, step id (the node's journal key once it finished).
  const ran = readFileSync(bodies, "utf8").split("\n").filter(Boolean).map((l) => l.split("\t") as [string, string, string]);
  const by = (pid: number) => ran.filter(([p]) => p === String(pid)).map(([, , step]) => step);
  const before = by(killed.pid);
  const after = by(resumer.pid);
  const items = (steps: readonly string[]) => [...new Set(steps.flatMap((s) => (itemOf(s) ? [itemOf(s)!.index] : [])))].sort((a, b) => a - b);
  const computed = items(after);
  const done = new Set(finished);
  const earlier = new Set(before);
  return {
    killed: { pid: killed.pid, signal: killed.signal, journaledCalls: journal.length - finished.length },
    finished,
    inFlight: items(before).filter((i) => !done.has(i)),
    fresh: {
      pid: resumer.pid,
      waitedMs,
      answers,
      computed,
      fromJournal: answers.map((_, i) => i).filter((i) => !computed.includes(i)),
      repeatedAnswers: computed.filter((i) => done.has(i)).length,
      repeatedCalls: after.filter((s) => journaled.has(s)).length,
      inFlightAgain: after.filter((s) => earlier.has(s) && !journaled.has(s)).length,
    },
  };
}

// Run when executed (npm run demo), not when imported; Node runs a script by its real path.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const { values } = parseArgs({ options: { quick: { type: "boolean" }, endpoint: { type: "string" }, model: { type: "string" }, questions: { type: "string" } }, strict: true });
  await demo({ quick: values.quick === true || process.env.WEFT_DEMO_QUICK === "1", endpoint: values.endpoint, model: values.model, questions: values.questions });
}
