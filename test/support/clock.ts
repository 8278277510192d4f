/**
 * A fake clock for deadline, retry and backoff tests: time moves only when the test says.
 *
 * It fakes `setTimeout`, `setInterval` and `Date`, which is all the time weft reads: its own
 * deadline timers, and Effect's default `Clock` (whose `sleep` and `timeout` call the global
 * `setTimeout`, and whose `currentTimeMillis` calls `Date.now()`, when they run). It leaves
 * `setImmediate`, `process.nextTick` and microtasks real: Effect's scheduler runs fibers on
 * them, so faking them would stall every Effect, and tests settle on them (`setImmediate`).
 */
import { afterEach, beforeEach, vi } from "vitest";

export interface FakeClock {
  /** Moves time forward by `ms`, firing every timer due on the way (and awaiting their callbacks). */
  advance(ms: number): Promise<void>;
  /** Timers scheduled and not yet fired or cleared. */
  pending(): number;
  /** The fake `Date.now()`. */
  now(): number;
  /**
   * Awaits `promise`, moving time to the next timer whenever nothing else is left to run
   * (fibers continue on real `setImmediate`, so each step lets them schedule their next timer).
   */
  run<T>(promise: Promise<T>): Promise<T>;
}

const turn = () => new Promise<void>((r) => setImmediate(r));

/** Installs a fake clock before each test of the calling `describe` (or file); real timers come back after each. */
export function useFakeClock(): FakeClock {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"], now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  return {
    advance: async (ms) => {
      await vi.advanceTimersByTimeAsync(ms);
    },
    pending: () => vi.getTimerCount(),
    now: () => Date.now(),
    run: async <T>(promise: Promise<T>) => {
      let settled = false;
      const done = promise.finally(() => {
        settled = true;
      });
      done.catch(() => undefined);
      for (let step = 0; step < 10_000 && !settled; step++) {
        for (let i = 0; i < 3 && !settled; i++) await turn();
        if (!settled && vi.getTimerCount() > 0) await vi.advanceTimersToNextTimerAsync();
      }
      return done;
    },
  };
}
