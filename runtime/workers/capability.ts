/**
 * Whether an op can run in a worker thread, and the one-time warning when it cannot.
 *
 * A worker re-imports the op's module by its locator and runs the same body there, so the
 * op needs a locator naming a JavaScript module, cloneable arguments and, for a method, a
 * `this` that is plain data. What weft cannot see: a body that reads module-level mutable
 * state or a class's `#private` fields sees the worker's own copy (fresh module state, no
 * private fields). Hence auto placement never moves method ops, and `placement: "inline"`
 * is the fix for a function op that depends on main-thread state.
 */
import { existsSync, realpathSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { workerData } from "node:worker_threads";
import type { OpLocator } from "../../decorators/descriptor.js";
import type { OpEntry } from "../invoke.js";
import { WORKER_MARK } from "./keys.js";
import { notCloneable } from "./protocol.js";
import { log } from "../log.js";

/**
 * True inside a weft pool worker: ops called there stay inline, so a worker never starts
 * a pool of its own.
 *
 * @example
 * ```ts
 * if (IN_POOL_WORKER) return runInline(entry, frame, thisArg, args);
 * ```
 */
export const IN_POOL_WORKER: boolean = (workerData as Record<string, unknown> | null)?.[WORKER_MARK] === true;

/**
 * The worker entry: the compiled worker.js beside this module.
 *
 * @example
 * ```ts
 * new Piscina({ filename: WORKER_ENTRY.href });
 * ```
 */
export const WORKER_ENTRY = new URL("./worker.js", import.meta.url);

let entryExists: boolean | undefined;

/**
 * Why no worker can start in this process, or `undefined` when one can. Workers run plain
 * Node, so they need weft's compiled JavaScript; running weft from its TypeScript sources
 * (a test runner compiling on the fly) leaves no worker entry to start.
 *
 * @example
 * ```ts
 * workersUnavailable(); // undefined when weft runs from dist/
 * ```
 */
export function workersUnavailable(): string | undefined {
  entryExists ??= WORKER_ENTRY.protocol === "file:" && existsSync(fileURLToPath(WORKER_ENTRY));
  return entryExists ? undefined : `weft's worker entry ${WORKER_ENTRY.href} does not exist (weft is running from TypeScript sources; worker threads need its compiled JavaScript)`;
}

const staticReasons = new WeakMap<OpEntry, string | null>();

function staticReason(entry: OpEntry): string | undefined {
  const known = staticReasons.get(entry);
  if (known !== undefined) return known ?? undefined;
  const reason = computeStaticReason(entry);
  staticReasons.set(entry, reason ?? null);
  return reason;
}

function computeStaticReason(entry: OpEntry): string | undefined {
  const unavailable = workersUnavailable();
  if (unavailable) return unavailable;
  const locator = entry.desc.locator;
  if (!locator) {
    return "it has no module locator, so a worker cannot import it (build with tspc and the weft transformer, or load a manifest; an op defined inside a function never has one)";
  }
  if (!/^file:.*\.[mc]?js$/.test(locator.module)) {
    return `its module ${locator.module} is not a JavaScript file a worker can import (worker threads run plain Node: run the compiled output)`;
  }
  if (locator.module === entryScript()) {
    return `it is defined in the program's entry script (${locator.module}), which a worker would import again, re-running its top level and its side effects; define cpu ops in a module of their own`;
  }
  return undefined;
}

let entryUrl: string | null | undefined;

/** The file URL of the script Node was started with (`node app.js`), symlinks resolved as Node resolves them. */
export function entryScript(): string | undefined {
  if (entryUrl === undefined) {
    const main = process.argv[1];
    try {
      entryUrl = main ? pathToFileURL(realpathSync(main)).href : null;
    } catch {
      entryUrl = null;
    }
  }
  return entryUrl ?? undefined;
}

/**
 * Why this call of `entry` cannot run in a worker, or `undefined` when it can.
 *
 * @example
 * ```ts
 * const why = whyNotWorker(entry, thisArg, args);
 * if (why) { warnInline(entry, why); return runInline(entry, frame, thisArg, args); }
 * ```
 */
export function whyNotWorker(entry: OpEntry, thisArg: unknown, args: readonly unknown[] | undefined): string | undefined {
  const fixed = staticReason(entry);
  if (fixed) return fixed;
  const locator = entry.desc.locator!;
  return whyNotSendable(locator, locator.member === undefined ? NO_THIS : thisArg, args, "cloned to a worker");
}

/** Passed as `thisArg` to `whyNotSendable`: the call has no instance to check. */
export const NO_THIS: unique symbol = Symbol("no this");

/**
 * Why a call's instance (a method op's `this`) or arguments cannot be sent where it is to
 * run, or `undefined`: a worker thread or a remote worker rebuilds the instance on the
 * exported class's prototype from its cloned fields, and the arguments by structured
 * clone. `sent` ends the reason (`"cloned to a worker"`, `"sent in a job"`).
 *
 * @example
 * ```ts
 * whyNotSendable(locator, NO_THIS, [() => 1], "sent in a job"); // "its arguments hold a function at args[0], which cannot be sent in a job"
 * ```
 */
export function whyNotSendable(locator: OpLocator, thisArg: unknown, args: readonly unknown[] | undefined, sent: string): string | undefined {
  if (thisArg !== NO_THIS) {
    if (thisArg === null || typeof thisArg !== "object") return "it is a method called without its instance";
    const ctor = (thisArg as { constructor?: { name?: unknown } }).constructor;
    if (ctor?.name !== locator.export) {
      return `its instance is a ${String(ctor?.name)}, not the exported class ${locator.export} a worker would rebuild it from`;
    }
    const why = notCloneable({ ...thisArg }, "this");
    if (why) return `its \`this\` holds ${why}, which cannot be ${sent} (keep the instance's fields plain data)`;
  }
  if (args !== undefined) {
    const why = notCloneable(args, "args");
    if (why) return `its arguments hold ${why}, which cannot be ${sent}`;
  }
  return undefined;
}

/**
 * Records that `entry` cannot run in a worker (found out by running it there once, for
 * example a result that would not survive the trip), so it stays inline from now on.
 *
 * @example
 * ```ts
 * markIncapable(entry, "its result holds an instance of Tokenizer");
 * ```
 */
export function markIncapable(entry: OpEntry, why: string): void {
  staticReasons.set(entry, why);
}

const warned = new Set<string>();

/**
 * Warns once per op that it runs inline although a worker was wanted, saying why and how
 * to silence it.
 *
 * @example
 * ```ts
 * warnInline(entry, "it has no module locator");
 * // (node) WeftInlineFallback: op "heavy" runs inline, not in a worker: it has no module locator. ...
 * ```
 */
export function warnInline(entry: OpEntry, why: string): void {
  if (warned.has(entry.desc.id)) return;
  warned.add(entry.desc.id);
  log.warn(
    `op "${entry.desc.name}" runs inline, not in a worker: ${why}. ` +
      `To keep it on the main thread without this warning, declare it with placement: "inline".`,
    { type: "WeftInlineFallback", code: "WEFT_INLINE_FALLBACK" },
  );
}
