/**
 * Modules weft loads on first use rather than at `import("weft")`: the jit driver and
 * compiler, batching, streams, durable runs, model providers, config files, health and
 * metrics. Every program pays for what it imports at start-up (each file costs Node a
 * resolve, a read and a compile); a script whose ops never jit, stream or run durably should
 * not pay for those parts.
 *
 * A lazy module is loaded synchronously the first time it is needed, with `require`: Node
 * loads an ES module synchronously since 22.12 and returns the same instance an `import`
 * of the same file would, so state is never duplicated. Where `require` cannot reach weft's
 * files (its TypeScript sources run by vitest, whose modules `require` cannot see),
 * `preloadLazyModules()` loads every one with `import` first (test/support/ does).
 */
import { createRequire } from "node:module";

/** A module loaded on first call. Internal. */
export interface LazyModule<M> {
  /** The module, loaded now if it is not yet. */
  (): M;
  /** The module, loaded with `import` if it is not yet. */
  readonly load: () => Promise<M>;
  /** Whether it is loaded. */
  readonly loaded: () => boolean;
}

const all: LazyModule<unknown>[] = [];

/**
 * A module of weft's own, loaded on first use. `specifier` is relative to `from` (the
 * caller's `import.meta.url`); `load` is the same module as a dynamic `import`, which
 * bundlers and vitest follow. Internal.
 */
export function lazyModule<M>(specifier: string, from: string, load: () => Promise<M>): LazyModule<M> {
  let mod: M | undefined;
  const get = (() => {
    if (mod !== undefined) return mod;
    try {
      mod = createRequire(from)(specifier) as M;
    } catch (error) {
      if ((error as { code?: string }).code !== "MODULE_NOT_FOUND") throw error;
      throw new Error(`weft: could not load its module ${specifier} (from ${from}) on first use. If weft is bundled, keep it external (esbuild --external:weft); if its TypeScript sources run directly, call preloadLazyModules() first`, { cause: error });
    }
    return mod;
  }) as LazyModule<M>;
  Object.assign(get, {
    load: async () => (mod ??= await load()),
    loaded: () => mod !== undefined,
  });
  all.push(get as LazyModule<unknown>);
  return get;
}

/** Loads every lazy module with `import`, including those the loaded ones declare. Internal. */
export async function preloadLazyModules(): Promise<void> {
  for (let i = 0; i < all.length; i++) await all[i]!.load();
}
