/**
 * What can travel to a remote worker: the one rule the BullMQ executor and placement ask.
 * A worker on another machine loads the app's op modules itself (`--ops`) and finds an op by
 * its module path, export and member, then rebuilds arguments from structured clone; so an
 * op needs a file locator that is not the coordinator's entry script, and a call needs
 * arguments (and a method's `this`) that clone unchanged. What cannot travel is refused with the reason, never run elsewhere.
 */
import type { OpEntry } from "../invoke.js";
import { NO_THIS, entryScript, whyNotSendable } from "../workers/capability.js";

/**
 * Why `entry` (called with `thisArg` and `args`, when given) cannot run on a remote
 * worker, or `undefined` when it can.
 *
 * @example
 * ```ts
 * whyNotRemote(entry, undefined, [() => 1]); // "its arguments hold a function at args[0], which cannot be sent in a job"
 * ```
 */
export function whyNotRemote(entry: OpEntry, thisArg: unknown, args: readonly unknown[] | undefined): string | undefined {
  const locator = entry.desc.locator;
  if (!locator) {
    return "it has no module locator, so a remote worker cannot find it (build with tspc and the weft transformer, or load a manifest; an op defined inside a function, a closure, never has one)";
  }
  if (!locator.module.startsWith("file:")) return `its module ${locator.module} is not a file a worker process can load`;
  if (locator.module === entryScript()) {
    return `it is defined in the program's entry script (${locator.module}), which a worker would have to import, re-running its top level; define remote ops in a module of their own`;
  }
  // Chains and chunks have no instance; a call's is checked when it is a method's.
  return whyNotSendable(locator, locator.member !== undefined && thisArg !== undefined ? thisArg : NO_THIS, args, "sent in a job");
}
