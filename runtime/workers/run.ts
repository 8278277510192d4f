/**
 * Running op bodies outside `invoke`: one body inline, a fused chain, a chunk of items.
 * The same code runs on the main thread (inline and async executors, fallbacks) and inside
 * a worker, so a chain or chunk behaves the same wherever it is placed.
 *
 * A chain step or chunk item is a call of its op through the kernel (`callOp` with a
 * call site that runs it here): input validation, the body in a child context frame with
 * its span, output validation, the caller's deadline and signal, and errors surfaced as
 * any call surfaces them (an `OpError` naming the op, or a deadline, cancellation or the
 * op's own validation error as it is).
 */
import { Frame, abortReason, isThenable, raceAbort, runIn } from "../context.js";
import { callOp, type CallSite, type OpEntry } from "../invoke.js";
import { withActiveSpan } from "../telemetry.js";
import type { ArgSource, FusedChain } from "../../compiler/chain.js";
import { lookup } from "../registry.js";
import { recordDuration } from "./cost.js";

/** One item's outcome in a chunk (see runtime/executor.ts). */
export type { ChunkResult as ItemResult } from "../executor.js";
import type { ChunkResult as ItemResult } from "../executor.js";

/**
 * A chain step with its op found in the registry.
 *
 * @example
 * ```ts
 * const steps: ResolvedStep[] = [{ entry: lookup(id)!, argsFrom: undefined }];
 * ```
 */
export interface ResolvedStep {
  readonly entry: OpEntry;
  readonly argsFrom: readonly ArgSource[] | undefined;
}

/**
 * Per-op body time collected while running: op id -> [total ms, runs].
 *
 * @example
 * ```ts
 * const sink: TimingSink = new Map();
 * runChain(steps, args, frame, true, sink);
 * ```
 */
export type TimingSink = Map<string, [totalMs: number, runs: number]>;

/**
 * Runs one op body in the current thread, in `frame` (with its span active), and records
 * its duration in the cost model when it is synchronous.
 *
 * @example
 * ```ts
 * entry.runBody = (entry, frame, self, args) => runInline(entry, frame, self, args);
 * ```
 */
export function runInline(entry: OpEntry, frame: Frame, thisArg: unknown, args: readonly unknown[]): unknown {
  // Every call while the op is new, then one in eight: enough for the moving average, and
  // the clock stays off the hot path of a well-known op.
  const timed = entry.calls < 16 || (entry.calls & 7) === 0;
  entry.calls++;
  const start = timed ? performance.now() : 0;
  const out = frame.span
    ? withActiveSpan(frame.span, () => runIn(frame, entry.impl, thisArg, args))
    : runIn(frame, entry.impl, thisArg, args);
  // Only synchronous bodies are CPU work worth weighing; an async one mostly waits.
  if (timed && !isThenable(out)) recordDuration(entry.desc.id, performance.now() - start);
  return out;
}

/**
 * The arguments of step `index`: its `argsFrom` wiring, or by default the chain's inputs
 * for the first step and the previous step's output for every other.
 *
 * @example
 * ```ts
 * argsOf({ entry, argsFrom: [{ from: "input", index: 1 }, { from: "step", index: 0, path: ["text"] }] }, 1, inputs, outputs);
 * ```
 */
export function argsOf(step: ResolvedStep, index: number, inputs: readonly unknown[], outputs: readonly unknown[]): readonly unknown[] {
  const wiring = step.argsFrom;
  // The inputs as they are: bodies get them through Reflect.apply, which copies anyway.
  if (wiring === undefined) return index === 0 ? inputs : [outputs[index - 1]];
  const args = new Array<unknown>(wiring.length);
  for (let i = 0; i < wiring.length; i++) {
    const source = wiring[i]!;
    switch (source.from) {
      case "input":
        args[i] = follow(inputs[source.index], source.path);
        break;
      case "step":
        args[i] = follow(outputs[source.index], source.path);
        break;
      case "const":
        args[i] = source.value;
        break;
      default: {
        const never: never = source;
        throw new TypeError(`unknown argument source ${JSON.stringify(never)}`);
      }
    }
  }
  return args;
}

function follow(value: unknown, path: readonly (string | number)[] | undefined): unknown {
  if (path === undefined) return value;
  let at = value;
  for (const key of path) at = (at as Record<string | number, unknown> | null | undefined)?.[key];
  return at;
}

/**
 * Checks a chain's wiring before anything runs: a step may read only task inputs and
 * earlier steps. Throws a `RangeError` naming the step otherwise.
 *
 * @example
 * ```ts
 * checkWiring([{ opId: a }, { opId: b, argsFrom: [{ from: "step", index: 1 }] }]); // throws: step 1 reads step 1
 * ```
 */
export function checkWiring(chain: ReadonlyArray<{ readonly opId: string; readonly argsFrom?: readonly ArgSource[] }>): void {
  if (chain.length === 0) throw new RangeError("a fused chain needs at least one step");
  chain.forEach((step, i) => {
    for (const source of step.argsFrom ?? []) {
      if (source.from === "step" && !(Number.isInteger(source.index) && source.index >= 0 && source.index < i)) {
        throw new RangeError(`fused chain step ${i} (${step.opId}) reads step ${source.index}; a step may read only earlier steps`);
      }
      if (source.from === "input" && !(Number.isInteger(source.index) && source.index >= 0)) {
        throw new RangeError(`fused chain step ${i} (${step.opId}) reads input ${source.index}`);
      }
    }
  });
}

/** Call sites for chain steps and chunk items: here, validating or not, timed into a sink. */
const HERE_CHECKED: CallSite = Object.freeze({ here: true, validate: true });
const HERE_UNCHECKED: CallSite = Object.freeze({ here: true, validate: false });

function siteOf(validate: boolean, sink: TimingSink | undefined): CallSite {
  if (sink === undefined) return validate ? HERE_CHECKED : HERE_UNCHECKED;
  return { here: true, validate, timing: (entry, ms) => note(sink, entry.desc.id, ms) };
}

function note(sink: TimingSink, id: string, ms: number): void {
  const t = sink.get(id);
  if (t) {
    t[0] += ms;
    t[1] += 1;
  } else sink.set(id, [ms, 1]);
}

/**
 * Runs a fused chain once: each step's output feeds the next (or as `argsFrom` wires it);
 * the result is the last step's output. Synchronous while every step is, so a chain of
 * CPU bodies pays no promise hop per step; a promise once any step is async.
 *
 * @example
 * ```ts
 * const out = await runChain(steps, [text], frame, true, undefined);
 * ```
 */
export function runChain(steps: readonly ResolvedStep[], inputs: readonly unknown[], frame: Frame, validate: boolean, sink: TimingSink | undefined): unknown {
  return continueChain(steps, inputs, new Array<unknown>(steps.length), 0, frame, siteOf(validate, sink));
}

function continueChain(steps: readonly ResolvedStep[], inputs: readonly unknown[], outputs: unknown[], from: number, frame: Frame, site: CallSite): unknown {
  for (let i = from; i < steps.length; i++) {
    const step = steps[i]!;
    // Each step is a call of its op through THE kernel, here: checks, child frame and
    // span, the caller's deadline and signal, surfaced errors. Ops with a policy of their
    // own are never chain members (policyRefusal), so no member needs an attempt loop.
    const out = callOp(step.entry, frame, undefined, argsOf(step, i, inputs, outputs), undefined, site);
    if (isThenable(out)) {
      return Promise.resolve(out).then((value) => {
        outputs[i] = value;
        return continueChain(steps, inputs, outputs, i + 1, frame, site);
      });
    }
    outputs[i] = out;
  }
  return outputs[steps.length - 1];
}

/**
 * Runs a chain (one op is a chain of one step) over many argument lists, one after the
 * other, and returns a result per item: a failing item never stops the others. The
 * frame's signal firing does: the whole chunk then fails with the abort reason.
 *
 * @example
 * ```ts
 * const results = await runItems(steps, [[1], [2], [3]], frame, true, sink);
 * results[1]; // { ok: true, value: ... } or { ok: false, error: OpError }
 * ```
 */
export function runItems(
  steps: readonly ResolvedStep[],
  items: readonly (readonly unknown[])[],
  frame: Frame,
  validate: boolean,
  sink: TimingSink | undefined,
): ItemResult[] | Promise<ItemResult[]> {
  const results = new Array<ItemResult>(items.length);
  const name = steps[0]?.entry.desc.name ?? "chunk";
  const fail = (error: unknown): ItemResult => {
    // An abort of the chunk itself is not one item's failure.
    if (frame.signal.aborted) throw abortReason(frame.signal, name);
    return { ok: false, error };
  };
  const from = (start: number): ItemResult[] | Promise<ItemResult[]> => {
    for (let i = start; i < items.length; i++) {
      if (frame.signal.aborted) throw abortReason(frame.signal, name);
      let out: unknown;
      try {
        out = runChain(steps, items[i]!, frame, validate, sink);
      } catch (error) {
        results[i] = fail(error);
        continue;
      }
      if (isThenable(out)) {
        return Promise.resolve(out)
          .then(
            (value): ItemResult => ({ ok: true, value }),
            (error: unknown) => fail(error),
          )
          .then((result) => {
            results[i] = result;
            return from(i + 1);
          });
      }
      results[i] = { ok: true, value: out };
    }
    return results;
  };
  return from(0);
}

/**
 * The registry entries of a chain's steps; throws naming the first id that is not a
 * registered op (only registered ops ever run by id).
 *
 * @example
 * ```ts
 * resolveChain([{ opId: "file:///app/ops.js#tokenize" }])[0].entry.desc.name; // "tokenize"
 * ```
 */
export function resolveChain(chain: FusedChain): ResolvedStep[] {
  checkWiring(chain);
  return chain.map((step, i) => {
    const entry = lookup(step.opId);
    if (!entry) throw new TypeError(`fused chain step ${i} names op ${step.opId}, which is not registered`);
    return { entry, argsFrom: step.argsFrom };
  });
}

/**
 * The chain for a chunk target: an op id is a chain of one step.
 *
 * @example
 * ```ts
 * chainOf("file:///app/ops.js#heavy"); // [{ opId: "file:///app/ops.js#heavy" }]
 * ```
 */
export function chainOf(target: string | FusedChain): FusedChain {
  return typeof target === "string" ? [{ opId: target }] : target;
}

export { raceAbort } from "../context.js";

/**
 * Runs `fn` in this thread and settles as a promise: a throw becomes a rejection, and a
 * promise it returns still rejects at once when `frame`'s signal fires.
 *
 * @example
 * ```ts
 * return settleInline(() => runChain(steps, args, frame, true, undefined), frame, "tokenize");
 * ```
 */
export function settleInline<T>(fn: () => T | Promise<T>, frame: Frame, op: string): Promise<T> {
  try {
    const out = fn();
    return isThenable(out) ? raceAbort(Promise.resolve(out), frame.signal, op) : Promise.resolve(out);
  } catch (error) {
    return Promise.reject(error);
  }
}
