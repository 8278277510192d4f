/**
 * Defining an op: the front doors' one call into the runtime. It registers the op in the
 * table (runtime/registry.ts) and lets the placement authority choose where its body runs
 * (runtime/workers/placement.ts). Kept apart from the table so the table depends on no
 * executor, and the executors (which look ops up by id) on no front door.
 */
import type { NativeBatch, OpDescriptor } from "../decorators/descriptor.js";
import type { OpEntry } from "./invoke.js";
import { register } from "./registry.js";
import { enableWorkerPlacement } from "./workers/placement.js";

/**
 * Registers an op and places it. Internal: `op()` and `@op` call it.
 *
 * @example
 * ```ts
 * const entry = defineOp(buildDescriptor(fn, fn.name, options, meta), fn, options.batch);
 * ```
 */
export function defineOp(desc: OpDescriptor, impl: (...args: never[]) => unknown, batch?: NativeBatch<never, unknown>): OpEntry {
  const entry = register(desc, impl, batch);
  // Sync CPU bodies may move to worker threads when the cost model says it pays.
  enableWorkerPlacement(entry);
  return entry;
}
