/**
 * The desk's batch as a durable run in a process of its own: the process section 7 of the
 * demo starts, kills with SIGKILL mid-batch, then starts again to resume the run.
 *
 *   node desk-run.js --db FILE --run ID --questions FILE --log FILE [--quick] [--stop-at N]
 *                    [--endpoint URL --model NAME]
 *
 * Runs `vmap(answer)` over the file's valid questions under `durable()`, journaled in the
 * SQLite file `--db`. Each op body, as it starts, appends `<pid>\t<op>\t<step id>` to `--log`
 * with a synchronous write (from the `op:attempt` event), so the demo can count across
 * processes which bodies ran where; a journaled node's step id is its journal key.
 *
 * `--stop-at N`: once the journal holds N finished answers, the process writes
 * `journaled <item indexes>` to stdout and then does nothing at all (its thread waits) until
 * the demo kills it, so the kill lands exactly there, however loaded the machine is.
 *
 * A run left by a killed process stays locked until its lease expires (1 s here; heartbeats
 * renew it while the process lives): the resuming process waits it out (`RunLocked` says
 * until when), resumes, and prints `{"answers": [...], "waitedMs": n}`.
 */
import { appendFileSync, writeSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { RunLocked, SqliteStore, durable, subscribe, vmap, withContext, type JournalRecord } from "weft";
import { answer, itemOf, readQuestions, setUp } from "./desk.js";

const { values } = parseArgs({
  options: {
    db: { type: "string" },
    run: { type: "string" },
    questions: { type: "string" },
    log: { type: "string" },
    quick: { type: "boolean" },
    "stop-at": { type: "string" },
    endpoint: { type: "string" },
    model: { type: "string" },
  },
  strict: true,
});
const required = (name: "db" | "run" | "questions" | "log"): string => {
  const value = values[name];
  if (value === undefined) throw new Error(`desk-run: --${name} is required`);
  return value;
};
const [db, run, file, logFile] = [required("db"), required("run"), required("questions"), required("log")];
const stopAt = values["stop-at"] === undefined ? undefined : Number(values["stop-at"]);
if (stopAt !== undefined && !(stopAt >= 1)) throw new Error(`desk-run: --stop-at expects a count >= 1, received ${values["stop-at"]}`);

const quick = values.quick === true;
const config = setUp({ quick, endpoint: values.endpoint, model: values.model });
const { valid } = readQuestions(file, quick);

subscribe((e) => {
  if (e.type === "op:attempt") appendFileSync(logFile, `${process.pid}\t${e.op}\t${e.stepId}\n`);
});

/** The SQLite store, watched: after the append that brings the journal to `stopAt` answers, the process stops. */
class StoppingStore extends SqliteStore {
  private readonly finished = new Set<number>();

  override append(id: string, records: readonly JournalRecord[]): void {
    super.append(id, records);
    for (const r of records) {
      const item = itemOf(r.key);
      if (item?.whole) this.finished.add(item.index);
    }
    if (stopAt === undefined || this.finished.size < stopAt) return;
    writeSync(1, `journaled ${[...this.finished].join(",")}\n`);
    // Nothing more runs in this process: no timer, no I/O callback, no other append.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
    writeSync(2, "desk-run: waited 60 s at --stop-at without being killed\n");
    process.exit(3);
  }
}

const store = new StoppingStore(db);
const started = Date.now();
let waitedMs = 0;
try {
  for (;;) {
    try {
      const answers = await withContext({ config }, () => durable({ run, store, leaseMs: 1000 }, () => vmap(answer, { concurrency: 2 })(valid)));
      process.stdout.write(`${JSON.stringify({ answers, waitedMs })}\n`);
      break;
    } catch (error) {
      if (!(error instanceof RunLocked) || Date.now() - started > 30_000) throw error;
      // The killed process's lease: wait until it expires, then take the run over.
      const wait = Math.max(5, error.until - Date.now() + 5);
      waitedMs += wait;
      await sleep(wait);
    }
  }
} finally {
  store.close();
}
