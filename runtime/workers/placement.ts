/**
 * Placement of single op calls: which executor runs each op's body.
 *
 *   placement "inline"           -> always the calling thread
 *   placement "worker"           -> always the pool (inline, with a warning, if it cannot)
 *   placement "remote:NAME"      -> always the executor registered as NAME
 *   placement "auto" / unset     -> inline, timed; the pool once the cost model says the
 *                                   op's mean is clearly above a worker round trip
 *
 * A pinned placement is recorded as `OpEntry.pinned` (the kernel looks the executor up per
 * call, so it wins over a block's `withContext({ placement })`); the cost model's choice
 * is wired through `OpEntry.runBody`. Either way the kernel (`callOp`) keeps doing
 * validation, retries, deadlines and spans around whichever executor runs the body.
 */
import type { Frame } from "../context.js";
import type { OpEntry } from "../invoke.js";
import { isThenable } from "../context.js";
import type { NodePlacement } from "../../compiler/ir.js";
import { IN_POOL_WORKER, markIncapable, warnInline, whyNotWorker } from "./capability.js";
import { notCloneable } from "./protocol.js";
import { prefersWorker } from "./cost.js";
import { runInline } from "./run.js";
import { workerExecutor } from "../executors.js";
import { REMOTE } from "../executor.js";

/**
 * Lets `entry` move to the worker pool under its placement policy, by setting its
 * `runBody`. Returns whether it did: io ops and async bodies stay on the event loop (they
 * wait rather than compute) unless `placement: "worker"` says otherwise, and inside a pool
 * worker nothing moves. Call it once per op, at registration.
 *
 * @example
 * ```ts
 * const entry = register(desc, fn);
 * enableWorkerPlacement(entry);
 * ```
 */
export function enableWorkerPlacement(entry: OpEntry): boolean {
  if (IN_POOL_WORKER) return false;
  const { kind, policy } = entry.desc;
  const pinned = policy.placement;
  if (pinned !== undefined && pinned !== "auto") {
    entry.pinned = pinned;
    return pinned === "worker";
  }
  if (kind === "io" || entry.desc.async) return false;
  entry.runBody = placedBody;
  return true;
}

/**
 * Where a call of `entry` runs if made now: the runtime's one placement decision, which
 * the JIT's place pass takes for op nodes, so a printed plan shows what will happen.
 * `"async"` for io ops and async bodies that stay on the event loop, `"worker"` when the
 * call goes to the pool, `"inline"` otherwise.
 *
 * @example
 * ```ts
 * optimize(g, { placeOp: (desc) => placementNow(lookup(desc.id)!) });
 * ```
 */
export function placementNow(entry: OpEntry): NodePlacement {
  const desc = entry.desc;
  const here: NodePlacement = desc.kind === "io" || desc.async ? "async" : "inline";
  const pinned = entry.pinned;
  if (pinned !== undefined && pinned.startsWith(REMOTE)) return pinned as NodePlacement;
  if (pinned !== "worker" && entry.runBody !== placedBody) return here;
  const method = desc.locator?.member !== undefined;
  // A function op the pool would send back inline (no locator, the entry script, ...) is inline.
  if (!method && whyNotWorker(entry, undefined, undefined) !== undefined) return here;
  if (pinned === "worker") return "worker";
  if (!method && prefersWorker(desc.id)) return "worker";
  return here;
}

/** The cost model's choice for an `auto` op: the worker executor once it pays, else here (timed). */
function placedBody(entry: OpEntry, frame: Frame, thisArg: unknown, args: readonly unknown[]): unknown {
  const desc = entry.desc;
  if (prefersWorker(desc.id)) {
    if (desc.locator?.member === undefined) return workerExecutor.run({ kind: "call", entry, thisArg, args }, frame);
    // A method's instance may hold #private fields, which a worker's copy would lack and
    // weft cannot detect: only the op's author can say it is safe to move.
    warnInline(entry, 'it is a method, and weft cannot tell whether its instance holds #private state a worker copy would lack; declare it with placement: "worker" if the instance is plain data');
  }
  const learning = entry.calls < LEARNING_CALLS;
  const out = runInline(entry, frame, thisArg, args);
  // While the cost model is still measuring (before the op can move), also learn whether
  // its results could come back from a worker: one that returns a class instance or a
  // function is kept inline before any worker runs it, instead of failing there once.
  if (learning && !isThenable(out)) {
    const why = notCloneable(out, "result");
    if (why) markIncapable(entry, `its result holds ${why}, which a worker cannot send back unchanged`);
  }
  return out;
}

/** Inline calls whose results are checked for the trip back: the cost model's warm-up and then some. */
const LEARNING_CALLS = 16;
