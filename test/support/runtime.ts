/**
 * Fresh runtime state for tests: one helper instead of resetting globals piece by piece.
 * A fresh `Runtime` (runtime/runtime.ts) starts from default settings, the ops defined so
 * far, an empty cost model, the built-in executors, a worker pool of its own (or the one in
 * force, with `pool: "shared"`) and no listeners; afterwards the previous runtime is back
 * whole and the fresh one's threads are closed.
 */
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import type { Runtime } from "../../runtime/runtime.js";

/** What the helpers need of a runtime: the source's `Runtime` or the JavaScript build's (worker tests). */
export interface RuntimeLike {
  use(): () => void;
  close(): Promise<void>;
}

/** Builds a fresh runtime; worker tests pass the built weft's, e.g. `() => new w.runtime.Runtime()`. */
export type MakeRuntime<R extends RuntimeLike> = () => R | Promise<R>;

// Loaded when first used: worker tests run weft from its build and never load the source's.
const fromSource: MakeRuntime<Runtime> = async () => new (await import("../../runtime/runtime.js")).Runtime();

/**
 * A fresh runtime in force for each test of the enclosing file or `describe`; returns a
 * function giving the one in force.
 *
 * @example
 * ```ts
 * freshRuntimeEach();
 * it("turns validation off for this test only", () => { configure({ validate: false }); ... });
 * ```
 */
export function freshRuntimeEach(): () => Runtime;
export function freshRuntimeEach<R extends RuntimeLike>(make: MakeRuntime<R>): () => R;
export function freshRuntimeEach(make: MakeRuntime<RuntimeLike> = fromSource): () => RuntimeLike {
  return scoped(beforeEach, afterEach, make);
}

/**
 * A fresh runtime in force for the whole enclosing file or `describe` (from its
 * `beforeAll` to its `afterAll`); returns a function giving it.
 *
 * @example
 * ```ts
 * freshRuntimeAll(() => new w.runtime.Runtime());
 * ```
 */
export function freshRuntimeAll(): () => Runtime;
export function freshRuntimeAll<R extends RuntimeLike>(make: MakeRuntime<R>): () => R;
export function freshRuntimeAll(make: MakeRuntime<RuntimeLike> = fromSource): () => RuntimeLike {
  return scoped(beforeAll, afterAll, make);
}

function scoped(before: typeof beforeEach, after: typeof afterEach, make: MakeRuntime<RuntimeLike>): () => RuntimeLike {
  let current: { readonly rt: RuntimeLike; readonly restore: () => void } | undefined;
  before(async () => {
    const rt = await make();
    current = { rt, restore: rt.use() };
  });
  after(async () => {
    const was = current;
    current = undefined;
    if (!was) return;
    was.restore();
    await was.rt.close();
  });
  return () => {
    if (!current) throw new Error("freshRuntime: no runtime in force outside a test (or its hooks)");
    return current.rt;
  };
}
