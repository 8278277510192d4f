/**
 * Rate limits per provider: requests per minute and tokens per minute as token buckets, a
 * cap on concurrent requests, and a pause when the provider answered 429/503 with
 * `Retry-After`. Waiters are served in arrival order; a waiter whose signal fires leaves
 * the queue at once. Time comes from an injectable clock, so tests are exact.
 */
import type { ModelClock, RateLimits } from "./provider.js";

const MINUTE = 60_000;

class Bucket {
  private level: number;
  private last: number;
  constructor(
    readonly capacity: number,
    now: number,
  ) {
    this.level = capacity;
    this.last = now;
  }
  /** Milliseconds until `amount` is available (0: take it now). A request larger than the capacity waits for a full bucket. */
  waitFor(amount: number, now: number): number {
    this.level = Math.min(this.capacity, this.level + ((now - this.last) * this.capacity) / MINUTE);
    this.last = now;
    const need = Math.min(amount, this.capacity);
    return this.level >= need ? 0 : Math.ceil(((need - this.level) * MINUTE) / this.capacity);
  }
  take(amount: number): void {
    this.level -= amount;
  }
  /** Returns tokens reserved but not used (an estimate above the actual count), or takes more. */
  adjust(delta: number): void {
    this.level = Math.min(this.capacity, this.level - delta);
  }
}

/** A permit to send one request; release it when the request settles. */
export interface Permit {
  /** Settles the token estimate with the actual count. */
  release(actualTokens?: number): void;
}

/** One provider's limits. Internal. */
export class RateLimiter {
  private readonly requests: Bucket | undefined;
  private readonly tokens: Bucket | undefined;
  private readonly concurrency: number;
  private active = 0;
  private readonly slotWaiters: Array<() => void> = [];
  /** Requests pass the buckets one at a time, in order. */
  private turn: Promise<void> = Promise.resolve();
  private pausedUntil = 0;
  /** Requests waiting for (or passing) the buckets. */
  private queued = 0;

  constructor(
    limits: RateLimits,
    private readonly clock: ModelClock,
    name: string,
  ) {
    for (const key of ["rpm", "tpm", "concurrency"] as const) {
      const value = limits[key];
      if (value !== undefined && !(value > 0)) throw new RangeError(`${name}: rateLimits.${key} must be > 0, received ${value}`);
    }
    const unknown = Object.keys(limits).filter((k) => k !== "rpm" && k !== "tpm" && k !== "concurrency");
    if (unknown.length > 0) throw new TypeError(`${name}: unknown rateLimits option ${unknown.map((k) => `"${k}"`).join(", ")} (expected rpm, tpm, concurrency)`);
    const now = clock.now();
    this.requests = limits.rpm === undefined ? undefined : new Bucket(limits.rpm, now);
    this.tokens = limits.tpm === undefined ? undefined : new Bucket(limits.tpm, now);
    this.concurrency = limits.concurrency ?? Infinity;
  }

  /** Whether requests need a token estimate (a tokens-per-minute bucket). */
  get countsTokens(): boolean {
    return this.tokens !== undefined;
  }

  /** Stops sending until `until` (epoch ms on the limiter's clock): the provider said `Retry-After`. */
  pause(until: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, until);
  }

  /**
   * A permit at once when nothing limits this request (no buckets, no pause, no queue, a
   * free slot), else undefined: `acquire` then waits. Most providers have no limits, and
   * their calls should not pay for a promise here.
   */
  tryAcquire(signal: AbortSignal): Permit | undefined {
    if (this.requests || this.tokens || this.queued !== 0 || this.active >= this.concurrency) return undefined;
    if (this.pausedUntil !== 0 && this.pausedUntil > this.clock.now()) return undefined;
    if (signal.aborted) throw signal.reason;
    this.active++;
    return this.permit(0);
  }

  /** Waits for a slot, a request and `estimatedTokens` tokens; rejects with the signal's reason if it fires first. */
  async acquire(estimatedTokens: number, signal: AbortSignal): Promise<Permit> {
    await this.slot(signal);
    // The common case, no buckets and no pause: nothing to wait for, and no listener to add.
    if (!this.requests && !this.tokens && this.queued === 0 && (this.pausedUntil === 0 || this.pausedUntil <= this.clock.now())) {
      if (signal.aborted) {
        this.freeSlot();
        throw signal.reason;
      }
      return this.permit(0);
    }
    this.queued++;
    let estimate = 0;
    try {
      const previous = this.turn;
      let done!: () => void;
      const mine = new Promise<void>((resolve) => (done = resolve));
      // The next waiter goes after the previous one and this one, even if this one leaves early.
      this.turn = previous.then(() => mine);
      try {
        await waitOrAbort(previous, signal);
        for (;;) {
          if (signal.aborted) throw signal.reason;
          const now = this.clock.now();
          const wait = Math.max(this.pausedUntil - now, this.requests?.waitFor(1, now) ?? 0, this.tokens?.waitFor(estimatedTokens, now) ?? 0);
          if (wait <= 0) break;
          await this.clock.sleep(wait, signal);
        }
        this.requests?.take(1);
        this.tokens?.take(estimatedTokens);
        estimate = estimatedTokens;
      } finally {
        done();
      }
    } catch (error) {
      this.queued--;
      this.freeSlot();
      throw error;
    }
    this.queued--;
    return this.permit(estimate);
  }

  private permit(estimate: number): Permit {
    let released = false;
    return {
      release: (actual) => {
        if (released) return;
        released = true;
        if (actual !== undefined) this.tokens?.adjust(actual - estimate);
        this.freeSlot();
      },
    };
  }

  private slot(signal: AbortSignal): Promise<void> {
    if (this.active < this.concurrency) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener("abort", onAbort);
        this.active++;
        resolve();
      };
      const onAbort = () => {
        const i = this.slotWaiters.indexOf(grant);
        if (i >= 0) this.slotWaiters.splice(i, 1);
        reject(signal.reason);
      };
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      this.slotWaiters.push(grant);
    });
  }

  private freeSlot(): void {
    this.active--;
    this.slotWaiters.shift()?.();
  }
}

function waitOrAbort(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}
