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

/**
 * A class of a lazy module, usable before the module loads: `new`, `extends` and
 * `instanceof` behave as with the real class. Constructing it (or a subclass) loads the
 * module and links this front to the real class, prototype and statics, so a subclass of
 * the front inherits the real methods; `new Front()` returns an instance of the real class
 * itself. `instanceof Front` asks the real class (once loaded; nothing is an instance
 * before). Internal.
 *
 * @example
 * ```ts
 * const sqlite = lazyModule<typeof Sqlite>("./durable/sqlite.js", import.meta.url, () => import("./durable/sqlite.js"));
 * export const SqliteStore = lazyClass("SqliteStore", sqlite, (m) => m.SqliteStore);
 * ```
 */
export function lazyClass<M, C extends abstract new (...args: never[]) => object>(name: string, mod: LazyModule<M>, pick: (m: M) => C): C {
  let real: (new (...args: unknown[]) => object) | undefined;
  const link = () => {
    if (real !== undefined) return real;
    real = pick(mod()) as unknown as new (...args: unknown[]) => object;
    Object.setPrototypeOf(Front.prototype, real.prototype);
    Object.setPrototypeOf(Front, real);
    return real;
  };
  function Front(this: unknown, ...args: unknown[]): object {
    if (new.target === undefined) throw new TypeError(`Class constructor ${name} cannot be invoked without 'new'`);
    const Real = link();
    return Reflect.construct(Real, args, new.target === Front ? Real : new.target);
  }
  Object.defineProperty(Front, "name", { value: name });
  Object.defineProperty(Front, Symbol.hasInstance, {
    value(this: unknown, value: unknown): boolean {
      // A subclass of the front: the ordinary prototype-chain test.
      if (this !== Front) return Function.prototype[Symbol.hasInstance].call(this, value);
      return mod.loaded() && value instanceof (pick(mod()) as unknown as new () => object);
    },
  });
  return Front as unknown as C;
}

/** Loads every lazy module with `import`, including those the loaded ones declare. Internal. */
export async function preloadLazyModules(): Promise<void> {
  for (let i = 0; i < all.length; i++) await all[i]!.load();
}
