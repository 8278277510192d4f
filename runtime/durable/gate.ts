/**
 * What stands before an op's body besides the journal: the approval gate for `risk: "high"`
 * ops and the result cache for ops that opt in (or `pure` ops when pure caching is on).
 */
import type { CachePolicy } from "../../decorators/descriptor.js";
import { abortReason, type Frame } from "../context.js";
import { toMillis } from "../duration.js";
import { dispatch, mergeConfig, nextStepId, type CallOverrides, type OpEntry } from "../invoke.js";
import { journaledStream, replayedStream } from "../checked-stream.js";
import { endSpan, startSpan } from "../telemetry.js";
import { preview } from "../validate.js";
import { canonical, decode, digest, encode } from "./codec.js";
import { ApprovalDenied, ApprovalRequired } from "./errors.js";
import { isThenable, opVersion, reenter, type DurableRun } from "./run.js";
import { durableSettings } from "./settings.js";

const DEFAULT_CONFIG_KEYS: readonly string[] = ["model", "temperature", "seed"];

interface ResolvedCache {
  readonly ttlMs: number;
  readonly configKeys: readonly string[];
}

const resolved = new WeakMap<OpEntry, ResolvedCache | null>();

/** The cache policy in force for `entry`, or `undefined` when its results are not cached. */
function cacheOf(entry: OpEntry): ResolvedCache | undefined {
  const policy = entry.desc.policy.cache;
  if (policy === undefined) {
    return entry.desc.kind === "pure" && durableSettings.cachePure ? { ttlMs: durableSettings.pureTtlMs, configKeys: DEFAULT_CONFIG_KEYS } : undefined;
  }
  if (policy === false) return undefined;
  let r = resolved.get(entry);
  if (r === undefined) {
    r = resolve(policy, entry.desc.name);
    resolved.set(entry, r);
  }
  return r ?? undefined;
}

function resolve(policy: CachePolicy, name: string): ResolvedCache {
  if (typeof policy !== "object" || policy === null) throw new TypeError(`${name}: cache must be { ttl } or false, received ${String(policy)}`);
  for (const key of Object.keys(policy)) if (key !== "ttl" && key !== "configKeys") throw new TypeError(`${name}: unknown cache option "${key}" (expected ttl, configKeys)`);
  const ttlMs = toMillis(policy.ttl, `${name}: cache.ttl`);
  if (!(ttlMs > 0)) throw new RangeError(`${name}: cache.ttl must be > 0, received ${String(policy.ttl)}`);
  return { ttlMs, configKeys: policy.configKeys ?? DEFAULT_CONFIG_KEYS };
}

/** Hits and misses of the result cache since the process started (or `resetCacheStats`). */
export interface CacheStats {
  readonly hits: number;
  readonly misses: number;
  /** Per op name. */
  readonly ops: Readonly<Record<string, { readonly hits: number; readonly misses: number }>>;
}

const counts = { hits: 0, misses: 0, ops: new Map<string, { hits: number; misses: number }>() };

function count(name: string, hit: boolean): void {
  let c = counts.ops.get(name);
  if (!c) counts.ops.set(name, (c = { hits: 0, misses: 0 }));
  if (hit) {
    counts.hits++;
    c.hits++;
  } else {
    counts.misses++;
    c.misses++;
  }
}

/** `cacheStats` (runtime/durable/index.ts documents it). */
export function cacheStats(): CacheStats {
  return { hits: counts.hits, misses: counts.misses, ops: Object.fromEntries([...counts.ops].map(([k, v]) => [k, { ...v }])) };
}

/** Zeroes the counters of `cacheStats`. */
export function resetCacheStats(): void {
  counts.hits = 0;
  counts.misses = 0;
  counts.ops.clear();
}

/** True when a call of `entry` outside a durable run needs the gate (approval or cache). */
export function needsGate(entry: OpEntry): boolean {
  return entry.desc.policy.risk === "high" || cacheOf(entry) !== undefined;
}

/** The approval gate, then the cache, then the body. See `Gate` in run.ts. */
export function gate(entry: OpEntry, parent: Frame, key: string, thisArg: unknown, args: readonly unknown[], overrides: CallOverrides | undefined): Promise<unknown> {
  if (entry.desc.policy.risk !== "high") return cached(entry, parent, key, thisArg, args, overrides);
  const run = parent.run as DurableRun | undefined;
  const policy = run?.options.approvals ?? durableSettings.approvals;
  const verdict = policy(entry.desc, args, parent);
  const name = entry.desc.name;
  const clock = run?.clock ?? durableSettings.clock;
  const record = (status: "allowed" | "denied", reason: string) =>
    run?.track(run.store.putApproval({ run: run.id, key, op: name, args: preview(args, false, 200), reason, status, requestedAt: clock.now(), decidedAt: clock.now(), by: "policy", why: reason }));
  if (verdict === "allow") {
    record("allowed", "the policy allowed it");
    return cached(entry, parent, key, thisArg, args, overrides);
  }
  if (verdict === "deny") {
    record("denied", "the policy denied it");
    return Promise.reject(new ApprovalDenied(name, "policy", undefined));
  }
  if (typeof verdict !== "object" || verdict === null || typeof verdict.approve !== "string") {
    return Promise.reject(new TypeError(`${name}: the approval policy must return "allow", "deny" or { approve: reason }, received ${preview(verdict)}`));
  }
  if (run === undefined) return Promise.reject(new ApprovalRequired(name, verdict.approve));
  return awaitApproval(run, entry, parent, key, thisArg, args, overrides, verdict.approve);
}

/**
 * A call the policy sent for approval: a decision already recorded (a resumed run) applies;
 * else the run is suspended, the request journaled, and the call waits for `decide`.
 */
async function awaitApproval(run: DurableRun, entry: OpEntry, parent: Frame, key: string, thisArg: unknown, args: readonly unknown[], overrides: CallOverrides | undefined, reason: string): Promise<unknown> {
  // The call dispatches after waiting: keep its ordinal, whatever its siblings take meanwhile.
  const frame = reenter(parent, key);
  const name = entry.desc.name;
  const existing = await run.store.approval(run.id, key);
  if (existing?.status === "approved") return cached(entry, frame, key, thisArg, args, overrides);
  if (existing?.status === "denied") throw new ApprovalDenied(name, existing.by ?? "?", existing.why);
  // Suspended before the request is visible, so whoever sees the request sees the run suspended.
  await run.suspend(true);
  try {
    if (existing?.status !== "pending") {
      await run.store.putApproval({ run: run.id, key, op: name, args: preview(args, false, 200), reason, status: "pending", requestedAt: run.clock.now(), decidedAt: undefined, by: undefined, why: undefined });
    }
    await waitForDecision(run, key, frame);
  } finally {
    await run.suspend(false);
  }
  return cached(entry, frame, key, thisArg, args, overrides);
}

/** Polls the store until the request under `key` is decided; rejects on deny or cancellation. */
function waitForDecision(run: DurableRun, key: string, frame: Frame): Promise<void> {
  const every = run.options.pollMs ?? 500;
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      frame.signal.removeEventListener("abort", onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAbort = () => finish(abortReason(frame.signal, nextStepId(frame, "approval")));
    const look = () => {
      timer = undefined;
      Promise.resolve(run.store.approval(run.id, key)).then((a) => {
        if (settled) return;
        if (a?.status === "approved") return finish();
        if (a?.status === "denied") return finish(new ApprovalDenied(a.op, a.by ?? "?", a.why));
        timer = setTimeout(look, every);
      }, finish);
    };
    if (frame.signal.aborted) return onAbort();
    frame.signal.addEventListener("abort", onAbort, { once: true });
    look();
  });
}

/**
 * The cache in front of the body (the body alone when the op does not cache). `key` is the
 * call's step id: a store that answers asynchronously dispatches after an await, so the call
 * re-enters `parent` at it.
 */
function cached(entry: OpEntry, parent: Frame, key: string, thisArg: unknown, args: readonly unknown[], overrides: CallOverrides | undefined): Promise<unknown> {
  const policy = cacheOf(entry);
  if (policy === undefined) return dispatch(entry, parent, thisArg, args, overrides);
  const desc = entry.desc;
  const run = parent.run as DurableRun | undefined;
  const store = run?.store ?? durableSettings.store();
  const clock = run?.clock ?? durableSettings.clock;
  const config = mergeConfig(entry, parent, overrides?.config);
  const picked: Record<string, unknown> = {};
  for (const k of policy.configKeys) if (config[k] !== undefined) picked[k] = config[k];
  const v = opVersion(entry);
  const cacheKey = digest(`${desc.id}\0${v.body}${v.schema}${v.config}\0${canonical([thisArg ?? null, args])}\0${canonical(picked)}`);
  const stream = desc.stream === true;
  const serve = (frame: Frame, hit: Uint8Array | undefined): Promise<unknown> => {
    // A stream op's cached value is its stream's items (as in a run's journal); an entry
    // that holds none (written before streams were kept this way) is a miss.
    let value: unknown;
    if (hit !== undefined) {
      try {
        value = decode(hit);
      } catch (error) {
        return Promise.reject(error);
      }
      if (stream) {
        value = replayedStream(value);
        if (value === undefined) hit = undefined;
      }
    }
    if (hit !== undefined) {
      count(desc.name, true);
      // The call takes its step id as a run would, and its span says it was served from the cache.
      const stepId = nextStepId(frame, desc.name);
      frame.children++;
      const span = startSpan({ name: desc.name, kind: desc.kind, stepId, parent: frame.span, attributes: { "weft.cache": "hit" } });
      if (span) endSpan(span, 0);
      return Promise.resolve(value);
    }
    count(desc.name, false);
    const put = (v: unknown): Promise<void> | void => store.cachePut(cacheKey, desc.id, encode(v, `cache of ${desc.name}`), clock.now() + policy.ttlMs);
    return dispatch(entry, frame, thisArg, args, overrides).then((v) => {
      // A stream is cached once it has ended (not failed, not closed early), before its
      // consumer sees the end.
      if (stream) return journaledStream(v as AsyncIterable<unknown>, async (items) => void (await put(items)));
      const done = put(v);
      return isThenable(done) ? done.then(() => v) : v;
    });
  };
  const hit = store.cacheGet(cacheKey, clock.now());
  return isThenable(hit) ? hit.then((h) => serve(reenter(parent, key), h)) : serve(parent, hit);
}

/** `clearCache` (runtime/durable/index.ts documents it). */
export async function clearCache(target?: { readonly descriptor: { readonly id: string } } | string, options: { readonly store?: import("./store.js").DurableStore } = {}): Promise<number> {
  const store = options.store ?? durableSettings.store();
  const id = typeof target === "string" ? target : target?.descriptor.id;
  return store.cacheClear(id);
}
