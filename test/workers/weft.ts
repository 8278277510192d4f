/**
 * Loads weft and the worker fixtures from the JavaScript build (see build.ts), typed as
 * their sources. Every worker test goes through this, so all of them share one registry
 * with the worker threads.
 */
import { afterAll, beforeAll } from "vitest";
import { buildForWorkers } from "./build.js";

type Modules = {
  weft: typeof import("../../index.js");
  ops: typeof import("../fixtures/workers/ops.js");
  executors: typeof import("../../runtime/executors.js");
  pool: typeof import("../../runtime/workers/pool.js");
  placement: typeof import("../../runtime/workers/placement.js");
  cost: typeof import("../../runtime/workers/cost.js");
  protocol: typeof import("../../runtime/workers/protocol.js");
  serve: typeof import("../../runtime/workers/serve.js");
  keys: typeof import("../../runtime/workers/keys.js");
  context: typeof import("../../runtime/context.js");
  registry: typeof import("../../runtime/registry.js");
  errors: typeof import("../../runtime/errors.js");
  runtime: typeof import("../../runtime/runtime.js");
  build: ReturnType<typeof buildForWorkers>;
};

/**
 * Builds (or reuses) the JavaScript build and imports the modules worker tests use.
 *
 * @example
 * ```ts
 * const { ops, executors } = await loadWeft();
 * ```
 */
export async function loadWeft(): Promise<Modules> {
  const build = buildForWorkers();
  const [weft, ops, executors, pool, placement, cost, protocol, keys, context, registry, errors, serve, runtime] = await Promise.all([
    build.load<Modules["weft"]>("lib/index.js"),
    build.load<Modules["ops"]>("fixtures/ops.js"),
    build.load<Modules["executors"]>("lib/runtime/executors.js"),
    build.load<Modules["pool"]>("lib/runtime/workers/pool.js"),
    build.load<Modules["placement"]>("lib/runtime/workers/placement.js"),
    build.load<Modules["cost"]>("lib/runtime/workers/cost.js"),
    build.load<Modules["protocol"]>("lib/runtime/workers/protocol.js"),
    build.load<Modules["keys"]>("lib/runtime/workers/keys.js"),
    build.load<Modules["context"]>("lib/runtime/context.js"),
    build.load<Modules["registry"]>("lib/runtime/registry.js"),
    build.load<Modules["errors"]>("lib/runtime/errors.js"),
    build.load<Modules["serve"]>("lib/runtime/workers/serve.js"),
    build.load<Modules["runtime"]>("lib/runtime/runtime.js"),
  ]);
  return { weft, ops, executors, pool, placement, cost, protocol, keys, context, registry, errors, serve, runtime, build };
}

/**
 * For the enclosing suite: loads weft before its tests and closes the worker threads after
 * them. The returned object is filled in by the time the first test (or a later hook) runs.
 *
 * @example
 * ```ts
 * const w = useWeft();
 * it("...", async () => { await w.ops.square(3); });
 * ```
 */
export function useWeft(): Modules {
  const w = {} as Modules;
  beforeAll(async () => {
    Object.assign(w, await loadWeft());
  });
  afterAll(() => w.pool?.closeWorkers());
  return w;
}

/**
 * Makes the cost model believe `ops` take `ms` each (as if measured inline): worth a worker.
 *
 * @example
 * ```ts
 * pretendMeasured(w, [w.ops.square], 5);
 * ```
 */
export function pretendMeasured(w: Modules, ops: Array<{ descriptor: { id: string } }>, ms: number): void {
  for (const fn of ops) w.cost.recordDuration(fn.descriptor.id, ms * 10, 10);
}

/**
 * A fresh probe: shared memory a body reports through (slots in fixtures/workers/ops.ts).
 *
 * @example
 * ```ts
 * const probe = newProbe();
 * await untilSet(probe, STARTED);
 * ```
 */
export function newProbe(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(16));
}

/**
 * Resolves once `probe[slot]` is non-zero: an event, not a timer.
 *
 * @example
 * ```ts
 * await untilSet(probe, SAW_ABORT);
 * ```
 */
export async function untilSet(probe: Int32Array, slot: number): Promise<void> {
  while (Atomics.load(probe, slot) === 0) {
    const wait = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string } }).waitAsync(probe, slot, 0);
    if (wait.async) await wait.value;
  }
}
