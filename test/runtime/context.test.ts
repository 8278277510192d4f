import { describe, expect, it } from "vitest";
import { op, getContext, withContext, Module, type OpContext } from "weft";

const tick = () => new Promise<void>((r) => setImmediate(r));

describe("getContext", () => {
  it("returns a root context outside any op", () => {
    const ctx = getContext();
    expect(ctx.op).toBeUndefined();
    expect(ctx.deadline).toBeUndefined();
    expect(ctx.remainingMs).toBe(Infinity);
    expect(ctx.signal.aborted).toBe(false);
    expect(ctx.attempt).toBe(0);
  });

  it("sees the op's context after awaits, in nested ops and in parallel branches", async () => {
    const seen: Array<[string, string | undefined, unknown]> = [];
    const record = (where: string) => {
      const c = getContext();
      seen.push([where, c.op, c.config.mode]);
    };
    const leaf = op({ name: "leaf" }, async (label: string) => {
      await tick();
      record(label);
    });
    const root = op({ name: "root", config: { mode: "root-default" } }, async () => {
      record("before");
      await tick();
      record("after-await");
      await Promise.all([leaf("branch-a"), leaf("branch-b"), (async () => (await tick(), record("plain-branch")))()]);
      record("end");
    });
    await root();
    // The three branches interleave; sort them, keep the sequential steps in place.
    const branches = seen.slice(2, 5).sort(([a], [b]) => a.localeCompare(b));
    expect([...seen.slice(0, 2), ...branches, ...seen.slice(5)]).toEqual([
      ["before", "root", "root-default"],
      ["after-await", "root", "root-default"],
      ["branch-a", "leaf", "root-default"],
      ["branch-b", "leaf", "root-default"],
      ["plain-branch", "root", "root-default"],
      ["end", "root", "root-default"],
    ]);
  });

  it("isolates 100 concurrent calls with different contexts", async () => {
    const inner = op({ name: "inner" }, async () => {
      // A different number of event-loop turns per call: they interleave in a fixed order.
      for (let i = 0, n = (getContext().config.n as number) % 7; i < n; i++) await tick();
      const c = getContext();
      return `${c.tenant}:${String(c.config.n)}:${String(c.values.request)}`;
    });
    const outer = op({ name: "outer" }, async () => {
      await tick();
      return inner();
    });
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, n) => withContext({ tenant: `t${n}`, config: { n }, values: { request: `r${n}` } }, () => outer())),
    );
    expect(results).toEqual(Array.from({ length: 100 }, (_, n) => `t${n}:${n}:r${n}`));
  });

  it("gives every call a step id that names its place in the call tree", async () => {
    const ids: string[] = [];
    const child = op({ name: "child" }, () => void ids.push(getContext().stepId));
    const parent = op({ name: "parent" }, async () => {
      ids.push(getContext().stepId);
      await child();
      await child();
    });
    await withContext({}, async () => {
      await parent();
    });
    expect(ids).toHaveLength(3);
    expect(ids[0]).toMatch(/^parent#\d+$/);
    expect(ids.slice(1)).toEqual([`${ids[0]}/child#0`, `${ids[0]}/child#1`]);
  });

  it("carries tenant and user into nested ops", async () => {
    const who = op(async () => [getContext().tenant, getContext().user]);
    const wrapper = op(async () => who());
    expect(await withContext({ tenant: "acme", user: "ada" }, () => wrapper())).toEqual(["acme", "ada"]);
  });
});

describe("config precedence: op defaults < inherited < .with() < withContext", () => {
  const read = op({ name: "read", config: { a: "default", b: "default", c: "default", d: "default" } }, () => getContext().config);

  it("uses the op's defaults when nothing else is set", async () => {
    expect(await read()).toEqual({ a: "default", b: "default", c: "default", d: "default" });
  });

  it("lets config inherited from a calling op override defaults", async () => {
    const caller = op({ name: "caller", config: { b: "inherited" } }, () => read());
    expect(await caller()).toMatchObject({ a: "default", b: "inherited" });
  });

  it("lets .with() override inherited config", async () => {
    const caller = op({ name: "caller", config: { b: "inherited", c: "inherited" } }, () => read.with({ config: { c: "with" } })());
    expect(await caller()).toEqual({ a: "default", b: "inherited", c: "with", d: "default" });
  });

  it("lets withContext override everything, all the way down", async () => {
    const caller = op({ name: "caller", config: { b: "inherited", c: "inherited" } }, () => read.with({ config: { c: "with", d: "with" } })());
    const config = await withContext({ config: { d: "call" } }, () => caller());
    expect(config).toEqual({ a: "default", b: "inherited", c: "with", d: "call" });
  });

  it("applies a Module's .with() config to its op methods and what they call", async () => {
    class Reader extends Module {
      @op
      async direct(): Promise<OpContext["config"]> {
        return getContext().config;
      }
      @op
      async nested(): Promise<OpContext["config"]> {
        return read();
      }
    }
    const base = new Reader();
    const tuned = base.with({ config: { c: "module" } });
    expect(await tuned.direct()).toEqual({ c: "module" });
    expect(await tuned.nested()).toMatchObject({ c: "module", a: "default" });
    expect(await base.direct()).toEqual({});
  });
});
