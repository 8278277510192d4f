/**
 * One Runtime object owns settings, the op table, the cost model, the executor table, the
 * worker pool and event listeners: a fresh one put in force with `use()` starts from
 * defaults, and restoring puts every part of the previous state back at once.
 */
import { afterEach, describe, expect, it } from "vitest";
import { configure, inlineExecutor, op, registerExecutor, subscribe, type RuntimeEvent } from "weft";
import { Runtime } from "../../runtime/runtime.js";
import { settings } from "../../runtime/settings.js";
import { lookup } from "../../runtime/registry.js";
import { meanMs, recordDuration } from "../../runtime/workers/cost.js";
import { defaultPool } from "../../runtime/workers/pool.js";

export const add1 = op({ kind: "cpu" }, (n: number): number => n + 1);

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

describe("a fresh Runtime", () => {
  it("starts from default settings, and configure() inside it leaves the previous runtime's alone", () => {
    const before = configure({ concurrency: 7 });
    try {
      const rt = new Runtime();
      restore = rt.use();
      expect(settings.concurrency).toBe(Infinity);
      configure({ validate: false });
      expect(settings.validate).toBe(false);
      restore();
      restore = undefined;
      expect(settings).toMatchObject({ concurrency: 7, validate: true });
    } finally {
      configure(before);
    }
  });

  it("knows the ops defined so far; an op defined while it is in force is registered there only", async () => {
    const rt = new Runtime();
    restore = rt.use();
    await expect(add1(1)).resolves.toBe(2);
    const late = op((s: string) => s.length);
    expect(lookup(late.descriptor.id)).toBeDefined();
    restore();
    restore = undefined;
    expect(lookup(late.descriptor.id)).toBeUndefined();
    expect(lookup(add1.descriptor.id)).toBeDefined();
  });

  it("has its own listeners, executors, cost model and worker pool", async () => {
    const outer: RuntimeEvent[] = [];
    const stop = subscribe((e) => outer.push(e));
    const outerPool = defaultPool();
    recordDuration("runtime-object-test#op", 1);
    recordDuration("runtime-object-test#op", 1);
    try {
      const rt = new Runtime();
      restore = rt.use();
      const inner: RuntimeEvent[] = [];
      subscribe((e) => inner.push(e));
      registerExecutor("only-here", inlineExecutor);
      expect(meanMs("runtime-object-test#op")).toBeUndefined();
      expect(defaultPool()).not.toBe(outerPool);
      await add1.with({ placement: "remote:only-here" })(1);
      expect(inner.some((e) => e.type === "op:end" && e.op === "add1")).toBe(true);
      expect(outer).toEqual([]);
      restore();
      restore = undefined;
      await rt.close();
      expect(defaultPool()).toBe(outerPool);
      expect(meanMs("runtime-object-test#op")).toBe(1);
      // The inner registration went with its runtime: the name is unknown again.
      await expect(add1.with({ placement: "remote:only-here" })(1)).rejects.toThrow(/names no registered executor/);
      await add1(1);
      expect(outer.some((e) => e.type === "op:end" && e.op === "add1")).toBe(true);
    } finally {
      stop();
    }
  });
});
