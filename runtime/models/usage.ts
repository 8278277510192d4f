/**
 * Usage and cost: every model call's tokens, priced per model, rolled up into ledgers.
 *
 * A ledger is a scope (`models.track(fn)`), found through its own AsyncLocalStorage so it
 * flows wherever weft's context flows: into nested ops, jitted plans and vmap items. A
 * call records into every enclosing ledger and into the process-wide one. Inside a ledger,
 * totals are also kept per model, per tenant, and per op on the call's path (every op,
 * jitted function and vmap the call ran under, named as in step ids).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { BudgetExceeded, type Budget } from "./errors.js";
import type { Price, TokenUsage } from "./provider.js";

/** Totals of some model calls. */
export interface Usage extends TokenUsage {
  readonly totalTokens: number;
  /** US dollars, from the price table; calls of unpriced models add 0 and count in `unpricedCalls`. */
  readonly costUsd: number;
  readonly calls: number;
  readonly unpricedCalls: number;
}

/** A ledger's totals, overall and broken down. */
export interface UsageReport extends Usage {
  readonly byModel: Readonly<Record<string, Usage>>;
  readonly byTenant: Readonly<Record<string, Usage>>;
  /** Per op, jitted function (`jit(name)`) and vmap (`vmap(name)`) on the calls' paths. */
  readonly byOp: Readonly<Record<string, Usage>>;
}

/** One call's usage as recorded. Internal. */
export interface CallRecord {
  readonly model: string;
  readonly tenant: string | undefined;
  /** The call's step id: `pipeline#0/jit(ensemble)#0/models.chat#3`. */
  readonly stepId: string;
  readonly usage: TokenUsage;
  readonly costUsd: number | undefined;
}

class Totals {
  inputTokens = 0;
  outputTokens = 0;
  cachedInputTokens = 0;
  reasoningTokens = 0;
  costUsd = 0;
  calls = 0;
  unpricedCalls = 0;
  add(record: CallRecord): void {
    this.inputTokens += record.usage.inputTokens;
    this.outputTokens += record.usage.outputTokens;
    this.cachedInputTokens += record.usage.cachedInputTokens;
    this.reasoningTokens += record.usage.reasoningTokens;
    if (record.costUsd === undefined) this.unpricedCalls++;
    else this.costUsd += record.costUsd;
    this.calls++;
  }
  get totalTokens(): number {
    return this.inputTokens + this.outputTokens;
  }
  snapshot(): Usage {
    const { inputTokens, outputTokens, cachedInputTokens, reasoningTokens, costUsd, calls, unpricedCalls } = this;
    return { inputTokens, outputTokens, cachedInputTokens, reasoningTokens, totalTokens: inputTokens + outputTokens, costUsd, calls, unpricedCalls };
  }
}

function snapshotAll(map: Map<string, Totals>): Record<string, Usage> {
  const out: Record<string, Usage> = {};
  for (const [key, totals] of map) out[key] = totals.snapshot();
  return out;
}

/** A usage scope. Internal: users see `UsageReport`s. */
export class Ledger {
  private readonly total = new Totals();
  private readonly byModel = new Map<string, Totals>();
  private readonly byTenant = new Map<string, Totals>();
  private readonly byOp = new Map<string, Totals>();
  /** Tokens and dollars of calls sent but not yet settled, so concurrent calls share the budget. */
  private reservedTokens = 0;
  private reservedCost = 0;

  constructor(
    readonly parent: Ledger | undefined,
    readonly budget: Budget | undefined,
  ) {}

  record(record: CallRecord): void {
    this.total.add(record);
    bucket(this.byModel, record.model).add(record);
    if (record.tenant !== undefined) bucket(this.byTenant, record.tenant).add(record);
    for (const name of pathOps(record.stepId)) bucket(this.byOp, name).add(record);
  }

  /** Throws `BudgetExceeded` when `tokens` (and `costUsd`) more would break this ledger's budget; else reserves them. */
  reserve(model: string, tokens: number, costUsd: number | undefined): void {
    const budget = this.budget;
    if (budget?.tokens !== undefined) {
      const used = this.total.totalTokens + this.reservedTokens;
      if (used + tokens > budget.tokens) throw new BudgetExceeded(model, "tokens", budget.tokens, used, tokens);
    }
    if (budget?.costUsd !== undefined) {
      const used = this.total.costUsd + this.reservedCost;
      if (used + (costUsd ?? 0) > budget.costUsd || (costUsd === undefined && used >= budget.costUsd)) {
        throw new BudgetExceeded(model, "costUsd", budget.costUsd, used, costUsd ?? 0);
      }
    }
    this.reservedTokens += tokens;
    this.reservedCost += costUsd ?? 0;
  }

  release(tokens: number, costUsd: number | undefined): void {
    this.reservedTokens -= tokens;
    this.reservedCost -= costUsd ?? 0;
  }

  report(): UsageReport {
    return { ...this.total.snapshot(), byModel: snapshotAll(this.byModel), byTenant: snapshotAll(this.byTenant), byOp: snapshotAll(this.byOp) };
  }
}

function bucket(map: Map<string, Totals>, key: string): Totals {
  let totals = map.get(key);
  if (!totals) map.set(key, (totals = new Totals()));
  return totals;
}

/** The distinct op names on a step id's path, the model op itself (the last segment) excluded. */
function pathOps(stepId: string): Iterable<string> {
  // A call made at the top level has no ops above it.
  if (!stepId.includes("/")) return NO_OPS;
  const names = new Set<string>();
  const segments = stepId.split("/");
  for (let i = 0; i < segments.length - 1; i++) names.add(segments[i]!.replace(/#\d+$/, ""));
  return names;
}

const NO_OPS: readonly string[] = Object.freeze([]);

/** The process-wide ledger: every call since start (or since `resetGlobal`). */
let global = new Ledger(undefined, undefined);
let globalOnly: readonly Ledger[] = [global];
const scopes = new AsyncLocalStorage<Ledger>();

/** The innermost ledger of the current async context, the global one outside any. Internal. */
export function currentLedger(): Ledger {
  return scopes.getStore() ?? global;
}

/** Every ledger a call made here records into, innermost first, the global one last. Internal. */
export function ledgers(): readonly Ledger[] {
  const inner = scopes.getStore();
  // Outside any scope (most calls): the one global ledger, no array to build.
  if (inner === undefined) return globalOnly;
  const out: Ledger[] = [];
  for (let l: Ledger | undefined = inner; l !== undefined; l = l.parent) out.push(l);
  out.push(global);
  return out;
}

/** Runs `fn` in a new ledger under the current one. Internal: `models.track`. */
export async function track<T>(fn: () => T | PromiseLike<T>, budget: Budget | undefined): Promise<{ value: Awaited<T>; usage: UsageReport }> {
  const ledger = new Ledger(scopes.getStore(), budget);
  const value = await scopes.run(ledger, fn);
  return { value, usage: ledger.report() };
}

/** Replaces the process-wide ledger with an empty one; returns the old report. Internal. */
export function resetGlobal(): UsageReport {
  const old = global.report();
  global = new Ledger(undefined, undefined);
  globalOnly = [global];
  return old;
}

/** The cost of `usage` at `price`, in US dollars. */
export function costOf(usage: TokenUsage, price: Price): number {
  const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
  return ((usage.inputTokens - cached) * price.input + cached * (price.cachedInput ?? price.input) + usage.outputTokens * price.output) / 1e6;
}
