/**
 * The op registry: every op weft knows, by id, with its descriptor stored as reflect-metadata
 * on the callable. Workers and the JIT find ops here; nothing outside it is ever run by id.
 */
import "reflect-metadata";
import type { InjectedMeta, NativeBatch, OpDescriptor, OpKind, OpOptions } from "./descriptor.js";
import { OpEntry } from "../runtime/invoke.js";
import { enableWorkerPlacement } from "../runtime/workers/placement.js";

/** The metadata key under which a callable's descriptor is stored. */
export const DESCRIPTOR_KEY = "weft:op";

const entries = new Map<string, OpEntry>();
let anonymous = 0;

/** Registers an op; an id seen before (a module evaluated again) is replaced. Internal. */
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
  // Sync CPU bodies may move to worker threads when the cost model says it pays.
  enableWorkerPlacement(entry);
  entries.set(desc.id, entry);
  return entry;
}

/** The registered op with this id. Internal. */
export function lookup(id: string): OpEntry | undefined {
  return entries.get(id);
}

/** Every registered op, for tooling. Internal. */
export function registeredOps(): IterableIterator<OpEntry> {
  return entries.values();
}

/** Records `desc` on `target` (and `key`, for methods) as reflect-metadata. Internal. */
export function attach(target: object, desc: OpDescriptor): void {
  Reflect.defineMetadata(DESCRIPTOR_KEY, desc, target);
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
  return Reflect.getMetadata(DESCRIPTOR_KEY, fn) as OpDescriptor | undefined;
}

const ASYNC_FUNCTION = Object.getPrototypeOf(async () => {}).constructor;

/** Builds the descriptor for one op site. Internal. */
export function buildDescriptor(
  impl: (...args: never[]) => unknown,
  fallbackName: string,
  options: OpOptions,
  meta: InjectedMeta | undefined,
): OpDescriptor {
  const name = options.name ?? meta?.name ?? (fallbackName || "anonymous");
  const isAsync = impl instanceof ASYNC_FUNCTION;
  const kind: OpKind = options.kind ?? (isAsync ? "io" : "cpu");
  const locator = meta?.locator;
  const id = locator ? `${locator.module}#${locator.export}${locator.member ? `.${locator.member}` : ""}` : `${name}@${++anonymous}`;
  const { name: _n, kind: _k, config, batch: _b, ...policy } = options;
  return Object.freeze({
    id,
    name,
    kind,
    async: isAsync,
    params: meta?.params ?? [],
    ...(meta?.returns !== undefined && { returns: meta.returns }),
    ...(meta?.defs !== undefined && { defs: meta.defs }),
    ...(meta?.checks !== undefined && { checks: meta.checks }),
    ...(meta?.doc !== undefined && { doc: meta.doc }),
    ...(locator !== undefined && { locator }),
    ...(meta?.hash !== undefined && { hash: meta.hash }),
    ...(meta?.source !== undefined && { source: meta.source }),
    policy: Object.freeze(policy),
    config: Object.freeze({ ...config }),
    typed: meta?.params !== undefined,
  });
}
