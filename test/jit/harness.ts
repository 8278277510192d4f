/**
 * Shared tools of the JIT tests: a call log that op bodies write to, the differential
 * check (a jitted function against the same function run eagerly), a capture of
 * `process.emitWarning` warnings, and gates that let a test decide when an op finishes.
 *
 * What "the same op calls" means (the contract the differential tests hold the JIT to):
 * - `io` and `cpu` ops: the jitted run makes exactly the calls the eager run makes, as a
 *   multiset of (op name, arguments). Order may differ: independent calls run in parallel.
 * - `pure` ops: the optimiser may merge calls with identical arguments (CSE), so the jitted
 *   run makes each distinct (op, arguments) call at least once and at most as often as
 *   the eager run; it never makes a pure call the eager run did not make.
 * - No op runs while tracing: tracing is abstract, so a first call costs no extra calls.
 * - When the eager run fails, the jitted run fails the same way and has made every call the
 *   eager run made; it may also have started ops the eager run never reached, when they do
 *   not depend on the failed one (they ran in parallel with it and were cancelled).
 */
import { expect } from "vitest";
import { jit, type JitOptions, type Jitted, type OpKind } from "weft";

export { logged, note, type Call, type Outcome } from "./calls.js";
import { logged, type Call, type Outcome } from "./calls.js";

const key = (c: Call) => `${c.op}${c.args}`;

function counts(list: readonly Call[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of list) out.set(key(c), (out.get(key(c)) ?? 0) + 1);
  return out;
}

/** Asserts the contract above: effectful calls identical as a multiset, pure calls deduplicated at most. */
export function expectSameCalls(jitted: readonly Call[], eager: readonly Call[]): void {
  const effectful = (list: readonly Call[]) => list.filter((c) => c.kind !== "pure").map(key).sort();
  expect(effectful(jitted), "io and cpu calls (op and arguments)").toEqual(effectful(eager));
  const jp = counts(jitted.filter((c) => c.kind === "pure"));
  const ep = counts(eager.filter((c) => c.kind === "pure"));
  expect([...jp.keys()].sort(), "distinct pure calls").toEqual([...ep.keys()].sort());
  for (const [k, n] of jp) expect(n, `pure call ${k}: at most as often as eager`).toBeLessThanOrEqual(ep.get(k)!);
}

/** Asserts every call in `eager` is in `jitted` (as a multiset), for runs that failed. */
export function expectCallsInclude(jitted: readonly Call[], eager: readonly Call[]): void {
  const have = counts(jitted);
  const pure = new Set(eager.filter((c) => c.kind === "pure").map(key));
  for (const [k, n] of counts(eager)) expect(have.get(k) ?? 0, `call ${k}`).toBeGreaterThanOrEqual(pure.has(k) ? 1 : n);
}

/** Asserts two outcomes agree: equal values, or errors of the same class and cause. */
export function expectSameOutcome<T>(jitted: Outcome<T>, eager: Outcome<T>): void {
  if (eager.ok) {
    if (!jitted.ok) throw new Error(`eager returned ${JSON.stringify(eager.value)} but jit threw`, { cause: jitted.error });
    expect(jitted.value).toEqual(eager.value);
    return;
  }
  expect(jitted.ok, "jit must fail where eager fails").toBe(false);
  const je = (jitted as { error: unknown }).error as Error;
  const ee = eager.error as Error;
  expect(je.constructor).toBe(ee.constructor);
  // The jitted error may add where the call was made in the plan; the cause is the same.
  expect(String((je.cause as Error | undefined)?.message ?? je.message)).toBe(String((ee.cause as Error | undefined)?.message ?? ee.message));
}

// biome-ignore lint: any is needed for function-type variance
type AnyFn = (...args: any[]) => Promise<any>;

/**
 * The differential check: for each argument list, the jitted function returns what the
 * eager one returns (or fails the same way) with the same op calls. The jitted function
 * runs first for every input, so a stale cached result cannot hide behind a fresh one.
 * Returns the jitted function for further checks.
 */
export async function expectLikeEager<F extends AnyFn>(f: F, inputs: readonly Parameters<F>[], options: JitOptions | Jitted<F> = {}): Promise<Jitted<F>> {
  // A jitted function made where `f` is written is checked by the transformer's build-time
  // pass (which reads the function at the `jit(...)` site); one made here, from a parameter, is not.
  const jf = typeof options === "function" ? options : jit(f, options);
  for (const args of inputs) {
    const jitted = await logged(() => jf(...args));
    const eager = await logged(() => f(...args));
    expectSameOutcome(jitted.outcome, eager.outcome);
    if (eager.outcome.ok) expectSameCalls(jitted.calls, eager.calls);
    else expectCallsInclude(jitted.calls, eager.calls);
  }
  return jf;
}

/** Collects `process.emitWarning` warnings with code `WEFT_JIT_FALLBACK` until `stop()`. */
export function fallbackWarnings(): { readonly messages: string[]; settle(): Promise<string[]>; stop(): void } {
  const messages: string[] = [];
  const listen = (w: Error & { code?: string }) => {
    if (w.code === "WEFT_JIT_FALLBACK") messages.push(w.message);
  };
  process.on("warning", listen);
  return {
    messages,
    // `emitWarning` emits on a later tick: wait for it before reading.
    settle: async () => {
      await new Promise((r) => setImmediate(r));
      return messages;
    },
    stop: () => process.off("warning", listen),
  };
}

/** Lets the event loop run queued work (promise jobs and immediates), without timers. */
export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/**
 * Ops whose bodies wait until the test lets them finish: concurrency and start order are
 * observed, never timed. `enter(name)` is the body; `open(name)` finishes the oldest
 * waiting call of that name.
 */
export function gates() {
  const waiting = new Map<string, Array<{ resolve: () => void; reject: (e: unknown) => void }>>();
  const started: string[] = [];
  const finished: string[] = [];
  let running = 0;
  let peak = 0;
  return {
    /** The body of a gated op: waits for `open(name)` (or `fail(name)`), or for `signal` to abort. */
    enter(name: string, signal?: AbortSignal): Promise<void> {
      started.push(name);
      running++;
      peak = Math.max(peak, running);
      return new Promise<void>((resolve, reject) => {
        const list = waiting.get(name) ?? [];
        waiting.set(name, list);
        const entry = {
          resolve: () => {
            running--;
            finished.push(name);
            resolve();
          },
          reject: (e: unknown) => {
            running--;
            reject(e);
          },
        };
        list.push(entry);
        // Only a call still waiting reacts to its signal: one already opened has finished.
        signal?.addEventListener("abort", () => {
          const i = list.indexOf(entry);
          if (i < 0) return;
          list.splice(i, 1);
          entry.reject(signal.reason);
        });
      });
    },
    /** Finishes the oldest waiting call of `name`. */
    open(name: string): void {
      const next = waiting.get(name)?.shift();
      if (!next) throw new Error(`no call of ${name} is waiting (started: ${started.join(", ")})`);
      next.resolve();
    },
    /** Fails the oldest waiting call of `name` with `error`. */
    fail(name: string, error: unknown): void {
      const next = waiting.get(name)?.shift();
      if (!next) throw new Error(`no call of ${name} is waiting`);
      next.reject(error);
    },
    /** Names of calls now waiting. */
    get waiting(): string[] {
      return [...waiting.entries()].flatMap(([name, list]) => list.map(() => name)).sort();
    },
    started,
    finished,
    get running() {
      return running;
    },
    get peak() {
      return peak;
    },
  };
}

/** Lines recorded by `mark`, by label. */
export const marks = new Map<string, number>();

/**
 * Records the line it is called from under `label`, as stacks report it: the same stack
 * the tracer reads for source locations, so tests compare like with like whether or not
 * stacks are source-mapped.
 */
export function mark(label: string): void {
  const frame = new Error().stack!.split("\n")[2]!;
  marks.set(label, Number(/:(\d+):\d+\)?$/.exec(frame)![1]));
}
