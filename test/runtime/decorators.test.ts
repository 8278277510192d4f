import { describe, expect, it } from "vitest";
import { Effect } from "effect";
import { describeOp, OpError } from "weft";
import { LegacyJudge } from "../fixtures/legacy-decorators/judge.js";
import { Tc39Judge } from "../fixtures/tc39-judge.js";

// One behaviour suite, run against a class compiled in each decorator mode.
describe.each([
  ["TC39 decorators", Tc39Judge],
  ["legacy experimentalDecorators", LegacyJudge],
])("@op on Module methods (%s)", (_mode, Judge) => {
  it("turns the method into an op that returns a promise and keeps `this`", async () => {
    const judge = new Judge("small");
    const result = judge.score("four");
    expect(result).toBeInstanceOf(Promise);
    expect(await result).toBe(4);
    expect(judge.calls).toBe(1);
  });

  it("registers a descriptor for the method", () => {
    const desc = describeOp(Judge.prototype.score);
    expect(desc).toMatchObject({ kind: "io", async: true });
    expect(desc!.name.endsWith("score")).toBe(true);
  });

  it("applies the decorator's policy", async () => {
    const judge = new Judge("small");
    expect(await judge.flaky()).toBe(3);
    expect(judge.calls).toBe(3);
  });

  it("configures a handle with .with(), leaving the instance and its private fields intact", async () => {
    const judge = new Judge("small");
    const heavy = judge.with({ config: { weight: 10 } });
    expect(await heavy.score("four")).toBe(40);
    expect(await judge.score("four")).toBe(4);
    expect(heavy.model).toBe("small");
    expect(judge.calls).toBe(2);
    expect(heavy.calls).toBe(2);
  });

  it("lets .with() override the method's retry policy", async () => {
    const judge = new Judge("small").with({ retry: { times: 0 } });
    const error = await judge.flaky().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpError);
    expect(error).toMatchObject({ attempts: 1 });
  });

  it("offers an Effect-native entry", async () => {
    const judge = new Judge("small").with({ config: { weight: 2 } });
    const program = Effect.map(judge.effect("score", "abc"), (n) => n + 1);
    expect(await Effect.runPromise(program)).toBe(7);
    const failure = await Effect.runPromise(Effect.flip(new Judge("x").with({ retry: { times: 0 } }).effect("flaky")));
    expect(failure).toBeInstanceOf(OpError);
  });
});

describe("legacy decorators name the op after its class", () => {
  it("uses Class.method when no name is given", () => {
    expect(describeOp(LegacyJudge.prototype.score)?.name).toBe("LegacyJudge.score");
  });
});
