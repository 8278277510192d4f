/**
 * The `Runtime` object: one place that owns the process's runtime state, behind today's
 * free functions (`configure`, `subscribe`, `registerExecutor`, `configureWorkers`,
 * `closeWorkers`, the op registry, the cost model), which act on the runtime in force.
 *
 * What it owns:
 * - settings (`configure`: concurrency, the one validation switch, retry jitter source);
 * - the op table (a new runtime starts with the ops defined so far: they are the program's
 *   code; ops defined while it is in force are registered in it);
 * - the cost model (measured body times, the round trip);
 * - the table of named executors (the built-ins plus `registerExecutor`'s);
 * - the process-wide worker pool (its options, and its threads once started);
 * - event listeners (`subscribe`).
 *
 * The default runtime is in force from the start. `use()` puts another in force and
 * returns a function that puts the previous one back: tests build a fresh runtime instead
 * of resetting globals one by one. Dispatch reads the state in force the way it always did
 * (module bindings swapped by `use()`), so it costs nothing per call.
 */
import type { OpEntry } from "./entry.js";
import { builtinExecutors, installExecutors, type Executor } from "./executor.js";
import { installListeners, type Listener } from "./events.js";
import { registeredOps, installOps } from "./registry.js";
import { installSettings, newSettings, type Settings } from "./settings.js";
import { installCostModel, newCostModel, type CostModel } from "./workers/cost.js";
import { installSharedPool, sharedPoolInForce, type SharedPool } from "./workers/pool.js";

/**
 * A runtime's state, swapped in and out as one. Internal.
 *
 * @example
 * ```ts
 * const rt = new Runtime();
 * const restore = rt.use();
 * try { configure({ validate: false }); await work(); } finally { restore(); await rt.close(); }
 * ```
 */
export class Runtime {
  readonly settings: Settings;
  readonly ops: Map<string, OpEntry>;
  readonly costs: CostModel;
  readonly executors: Map<string, Executor>;
  readonly pool: SharedPool;
  readonly listeners: Set<Listener>;

  /** Whether this runtime's closing stops its pool's threads (not when it shares the pool in force). */
  private readonly ownsPool: boolean;

  /**
   * `pool: "shared"` shares the worker pool in force (its options and threads) instead of
   * starting from a pool of its own: tests that want fresh state without restarting threads.
   */
  constructor(options: { readonly pool?: "own" | "shared" } = {}) {
    const unknown = Object.keys(options).find((k) => k !== "pool");
    if (unknown !== undefined) throw new TypeError(`Runtime: unknown option "${unknown}"`);
    if (options.pool !== undefined && options.pool !== "own" && options.pool !== "shared") throw new TypeError(`Runtime: pool must be "own" or "shared", received ${JSON.stringify(options.pool)}`);
    this.ownsPool = options.pool !== "shared";
    this.settings = newSettings();
    this.ops = new Map([...registeredOps()].map((entry) => [entry.desc.id, entry]));
    this.costs = newCostModel();
    this.executors = builtinExecutors();
    this.pool = this.ownsPool ? { options: {}, pool: undefined } : sharedPoolInForce();
    this.listeners = new Set();
  }

  /** Puts this runtime in force; returns a function that puts the previous one back. */
  use(): () => void {
    const previous = install(this);
    return () => {
      install(previous);
    };
  }

  /** Stops this runtime's worker threads (if it started any; a shared pool is left running). */
  async close(): Promise<void> {
    if (!this.ownsPool) return;
    const pool = this.pool.pool;
    this.pool.pool = undefined;
    await pool?.close();
  }
}

/** The state parts in force, as a runtime-shaped record (for restoring). */
type Parts = Pick<Runtime, "settings" | "ops" | "costs" | "executors" | "pool" | "listeners">;

function install(next: Parts): Parts {
  return {
    settings: installSettings(next.settings),
    ops: installOps(next.ops),
    costs: installCostModel(next.costs),
    executors: installExecutors(next.executors),
    pool: installSharedPool(next.pool),
    listeners: installListeners(next.listeners),
  };
}
