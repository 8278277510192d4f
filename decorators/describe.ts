/**
 * Building an op's descriptor from what a decorator site gives: the function, its options
 * and the metadata the transformer injected. Pure parsing; the runtime registers the result.
 */
import type { InjectedMeta, OpDescriptor, OpKind, OpOptions } from "./descriptor.js";

const ASYNC_FUNCTION = Object.getPrototypeOf(async () => {}).constructor;
/** An `async function*` body (a token stream) is async too: it is never fused, folded or sent to a worker. */
const ASYNC_GENERATOR_FUNCTION = Object.getPrototypeOf(async function* () {}).constructor;

let anonymous = 0;

/**
 * Builds the descriptor for one op site. Internal.
 *
 * @example
 * ```ts
 * buildDescriptor(fn, fn.name, { kind: "cpu" }, meta).id; // "file:///app/ops.js#tokenize"
 * ```
 */
export function buildDescriptor(
  impl: (...args: never[]) => unknown,
  fallbackName: string,
  options: OpOptions,
  meta: InjectedMeta | undefined,
): OpDescriptor {
  const name = options.name ?? meta?.name ?? (fallbackName || "anonymous");
  const isAsync = impl instanceof ASYNC_FUNCTION || impl instanceof ASYNC_GENERATOR_FUNCTION;
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
    ...(meta?.stream === true && { stream: true as const }),
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
