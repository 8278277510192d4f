import { describe, expect, it } from "vitest";
import { op, configure } from "weft";
import { freshRuntimeEach } from "../support/runtime.js";

/** A body that waits until the test opens its gate: concurrency is observed, not timed. */
function gated() {
  const waiting: Array<() => void> = [];
  let running = 0;
  let peak = 0;
  return {
    enter: async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((resolve) => waiting.push(resolve));
      running--;
    },
    openOne: () => waiting.shift()?.(),
    get running() {
      return running;
    },
    get peak() {
      return peak;
    },
    get waiting() {
      return waiting.length;
    },
  };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

// Each test runs in a fresh runtime: what one configures never reaches the next.
freshRuntimeEach();

describe("concurrency limits", () => {
  it("runs at most `concurrency` calls of one op at a time, starting the next as one ends", async () => {
    const gate = gated();
    const limited = op({ name: "limited", concurrency: 2 }, () => gate.enter());
    const all = Promise.all(Array.from({ length: 6 }, () => limited()));
    await flush();
    expect(gate.running).toBe(2);
    for (let done = 0; done < 6; done++) {
      gate.openOne();
      await flush();
      expect(gate.running).toBe(Math.min(2, 5 - done));
    }
    await all;
    expect(gate.peak).toBe(2);
  });

  it("bounds concurrent top-level calls globally", async () => {
    configure({ concurrency: 3 });
    const gate = gated();
    const a = op({ name: "a" }, () => gate.enter());
    const b = op({ name: "b" }, () => gate.enter());
    const all = Promise.all([a(), b(), a(), b(), a()]);
    await flush();
    expect(gate.running).toBe(3);
    while (gate.waiting > 0) {
      gate.openOne();
      await flush();
    }
    await all;
    expect(gate.peak).toBe(3);
  });

  it("runs nested calls under their caller's permit, so a global limit of 1 cannot deadlock", async () => {
    configure({ concurrency: 1 });
    const leaf = op({ name: "leaf" }, async (x: number) => x + 1);
    const middle = op({ name: "middle" }, async (x: number) => Promise.all([leaf(x), leaf(x + 10)]));
    const root = op({ name: "root" }, async (x: number) => middle(x));
    expect(await Promise.all([root(1), root(2)])).toEqual([
      [2, 12],
      [3, 13],
    ]);
  });

  it("rejects a limit that is not a whole number >= 1", () => {
    expect(() => op({ concurrency: 0 }, () => 1)).toThrow("concurrency must be a whole number >= 1, received 0");
    expect(() => configure({ concurrency: 0 })).toThrow("configure: concurrency must be >= 1, received 0");
  });
});
