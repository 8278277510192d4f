/**
 * The op registry: every op weft knows, by id, with its descriptor kept beside the callable
 * (a weak map: no global polyfill to load, nothing left on the function). Workers and the JIT find ops here; nothing outside it is ever run by id.
 *
 * A table and nothing more: where a registered op's body runs is chosen by the placement
 * authority (runtime/workers/placement.ts), which `defineOp` (runtime/define.ts) consults
 * right after registering.
 */
import type { NativeBatch, OpDescriptor } from "../decorators/descriptor.js";
import { OpEntry } from "./invoke.js";

/** Each op callable's descriptor. */
const descriptors = new WeakMap<object, OpDescriptor>();

let entries = new Map<string, OpEntry>();

/** Makes `next` the op table in force; returns the previous one. Internal: `Runtime` swaps it. */
export function installOps(next: Map<string, OpEntry>): Map<string, OpEntry> {
  const previous = entries;
  entries = next;
  return previous;
}

/**
 * Registers an op; an id seen before (a module evaluated again) is replaced. Internal.
 *
 * @example
 * ```ts
 * const entry = register(desc, fn);
 * lookup(desc.id) === entry; // true
 * ```
 */
export function register(desc: OpDescriptor, impl: (...args: never[]) => unknown, batch?: NativeBatch<never, unknown>): OpEntry {
  const entry = new OpEntry(desc, impl);
  if (batch) {
    if (typeof batch.run !== "function") throw new TypeError(`${desc.name}: batch.run must be a function`);
    if (batch.maxBatch !== undefined && !(Number.isInteger(batch.maxBatch) && batch.maxBatch >= 1)) {
      throw new RangeError(`${desc.name}: batch.maxBatch must be a whole number >= 1, received ${batch.maxBatch}`);
    }
    // The batch call is validated per item by vmap (against the op's own schemas), so its
    // own descriptor carries none.
    const { returns: _r, defs: _d, checks: _c, ...rest } = desc;
    // `typed`: described by construction (vmap checks each item against the op's own schemas).
    const batchDesc: OpDescriptor = Object.freeze({ ...rest, id: `${desc.id}[batch]`, name: `${desc.name}[batch]`, params: [], typed: true });
    entry.batchEntry = new OpEntry(batchDesc, batch.run as (...args: never[]) => unknown);
    entry.batchMax = batch.maxBatch;
  }
  entries.set(desc.id, entry);
  return entry;
}

/**
 * The registered op with this id. Internal.
 *
 * @example
 * ```ts
 * lookup("file:///app/ops.js#tokenize")?.desc.name; // "tokenize"
 * ```
 */
export function lookup(id: string): OpEntry | undefined {
  return entries.get(id);
}

/**
 * Every registered op, for tooling. Internal.
 *
 * @example
 * ```ts
 * for (const entry of registeredOps()) console.log(entry.desc.id);
 * ```
 */
export function registeredOps(): IterableIterator<OpEntry> {
  return entries.values();
}

/**
 * Records `desc` as the descriptor of `target`. Internal.
 *
 * @example
 * ```ts
 * attach(wrapper, desc);
 * describeOp(wrapper) === desc; // true
 * ```
 */
export function attach(target: object, desc: OpDescriptor): void {
  descriptors.set(target, desc);
}

/**
 * The descriptor of an op: its name, kind, parameter schemas, policy and locator.
 *
 * @example
 * ```ts
 * const tokenize = op((text: string) => text.split(" "));
 * describeOp(tokenize)?.params[0]?.name; // "text"
 * describeOp(Judge.prototype.score)?.kind; // "io"
 * ```
 */
export function describeOp(fn: unknown): OpDescriptor | undefined {
  if (typeof fn !== "function") return undefined;
  // Along the prototype chain, as metadata lookups went: a function made from an op inherits its descriptor.
  for (let o: object | null = fn; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    const desc = descriptors.get(o);
    if (desc !== undefined) return desc;
  }
  return undefined;
}
