/**
 * Process-wide settings of durable runs, caches and approvals: where the default store
 * lives, the clock, the lease length, the approval policy and whether `pure` ops cache.
 */
import path from "node:path";
import type { OpDescriptor } from "../../decorators/descriptor.js";
import type { OpContext } from "../context.js";
import { lazyModule } from "../lazy.js";
import type * as Sqlite from "./sqlite.js";
import type { SqliteStore } from "./sqlite.js";
import type { DurableStore } from "./store.js";
import { getConfig } from "../config/config.js";
import { registerGauge } from "../metrics.js";

// The SQLite store loads when the default store is first opened.
const sqlite = lazyModule<typeof Sqlite>("./sqlite.js", import.meta.url, () => import("./sqlite.js"));

/** A source of time, injectable for lease and TTL tests. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** What an approval policy decides for one call of a `risk: "high"` op. */
export type ApprovalVerdict = "allow" | "deny" | { readonly approve: string };

/**
 * Consulted before the body of every `risk: "high"` op call: `"allow"` runs it, `"deny"`
 * fails the call with `ApprovalDenied` (the body never runs), `{ approve: reason }`
 * suspends the call until someone decides (`decide`), from any process.
 */
export type ApprovalPolicy = (op: OpDescriptor, args: readonly unknown[], context: OpContext) => ApprovalVerdict;

/** What `configureDurable` sets. */
export interface DurableSettings {
  /** The SQLite file of the default store. Default: config `durable.path` (`$WEFT_DURABLE_PATH`), else `.weft/durable.db` in the working directory. */
  readonly path?: string;
  /** `"NORMAL"` (default) or `"FULL"` (an fsync per append: survives power loss). */
  readonly synchronous?: "NORMAL" | "FULL";
  /** Use this store instead of the SQLite file (a `MemoryStore` in tests). */
  readonly store?: DurableStore;
  readonly clock?: Clock;
  /** Lease length of a run. Default 30 s. */
  readonly leaseMs?: number;
  /** The approval policy. Default: every `risk: "high"` call needs a person's approval. */
  readonly approvals?: ApprovalPolicy;
  /** Cache the results of `pure` ops (those without `cache: false`). Default false. */
  readonly cachePure?: boolean;
  /** Default time a cached `pure` result is served. Default 1 hour. */
  readonly pureTtlMs?: number;
}

const KEYS = new Set(["path", "synchronous", "store", "clock", "leaseMs", "approvals", "cachePure", "pureTtlMs"]);

const SYSTEM_CLOCK: Clock = { now: () => Date.now() };

/** Asks for a person on every risky call unless a policy says otherwise. */
const ASK: ApprovalPolicy = (op) => ({ approve: `${op.name} is risk: high and no approval policy is configured` });

let configured: DurableStore | undefined;
let opened: SqliteStore | undefined;

/** The settings in force. Internal. */
export const durableSettings = {
  path: undefined as string | undefined,
  synchronous: "NORMAL" as "NORMAL" | "FULL",
  clock: SYSTEM_CLOCK,
  leaseMs: 30_000,
  approvals: ASK,
  cachePure: false,
  pureTtlMs: 3_600_000,
  /** The default store, opened on first use. */
  store(): DurableStore {
    if (configured) return configured;
    if (opened) return opened;
    const file = this.path ?? (getConfig("durable.path") as string | undefined) ?? path.join(process.cwd(), ".weft", "durable.db");
    const synchronous = this.synchronousSet ? this.synchronous : ((getConfig("durable.synchronous") as "NORMAL" | "FULL" | undefined) ?? this.synchronous);
    opened = new (sqlite().SqliteStore)(file, { synchronous });
    return opened;
  },
  /** True once `configureDurable` set `synchronous` (it then wins over the config files). */
  synchronousSet: false,
  /** The store given to `configureDurable({ store })`, if any. Internal: `health()` reads it. */
  configuredStore(): DurableStore | undefined {
    return configured;
  },
};

// Read at each metrics collection, from the store already in use (never opened for it).
registerGauge("weft.dlq.size", "dead letters not yet replayed", () => {
  const store = configured ?? opened;
  const letters = store?.deadLetters();
  // A store whose reads are asynchronous (a server database) reports no value here.
  return Array.isArray(letters) ? letters.filter((d) => d.status === "open").length : [];
});

/**
 * Sets where durable runs, caches, dead letters and approvals are kept, and how.
 *
 * @example
 * ```ts
 * configureDurable({ path: "/var/lib/app/weft.db", synchronous: "FULL", approvals: (op, args) => (args[0] as number) > 1000 ? { approve: "large transfer" } : "allow" });
 * ```
 */
export function configureDurable(next: DurableSettings): void {
  for (const key of Object.keys(next)) if (!KEYS.has(key)) throw new TypeError(`configureDurable: unknown option "${key}" (expected one of ${[...KEYS].join(", ")})`);
  if (next.synchronous !== undefined && next.synchronous !== "NORMAL" && next.synchronous !== "FULL") {
    throw new TypeError(`configureDurable: synchronous must be "NORMAL" or "FULL", received ${JSON.stringify(next.synchronous)}`);
  }
  if (next.leaseMs !== undefined && !(next.leaseMs > 0)) throw new RangeError(`configureDurable: leaseMs must be > 0, received ${next.leaseMs}`);
  if (next.path !== undefined || next.synchronous !== undefined || next.store !== undefined) {
    opened?.close();
    opened = undefined;
    configured = next.store;
  }
  if (next.path !== undefined) durableSettings.path = next.path;
  if (next.synchronous !== undefined) {
    durableSettings.synchronous = next.synchronous;
    durableSettings.synchronousSet = true;
  }
  if (next.clock !== undefined) durableSettings.clock = next.clock;
  if (next.leaseMs !== undefined) durableSettings.leaseMs = next.leaseMs;
  if (next.approvals !== undefined) durableSettings.approvals = next.approvals;
  if (next.cachePure !== undefined) durableSettings.cachePure = next.cachePure;
  if (next.pureTtlMs !== undefined) durableSettings.pureTtlMs = next.pureTtlMs;
}

/** Closes the default store's file (tests, and processes that want to release it early). */
export function closeDurable(): void {
  opened?.close();
  opened = undefined;
}
