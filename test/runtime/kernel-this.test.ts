/** `vmap(instance.method)` keeps `this`: an op method read from an instance is bound to it. */
import { describe, expect, it } from "vitest";
import { describeOp, vmap } from "weft";
import { LegacyJudge } from "../fixtures/legacy-decorators/judge.js";
import { Tc39Judge } from "../fixtures/tc39-judge.js";

describe.each([
  ["TC39 decorators", Tc39Judge],
  ["legacy experimentalDecorators", LegacyJudge],
])("an op method read off its instance (%s)", (_mode, Judge) => {
  it("maps with vmap(instance.method), every item running on that instance", async () => {
    const judge = new Judge("small");
    expect(await vmap(judge.score)(["a", "bb", "ccc"])).toEqual([1, 2, 3]);
    expect(judge.calls).toBe(3);
  });

  it("keeps `this` when detached, and is the same op as the prototype's method", async () => {
    const judge = new Judge("small");
    const score = judge.score;
    expect(await score("four")).toBe(4);
    expect(describeOp(score)).toBe(describeOp(Judge.prototype.score));
  });

  it("keeps a .with() handle's config when mapped", async () => {
    const judge = new Judge("small");
    const heavy = judge.with({ config: { weight: 10 } });
    expect(await vmap(heavy.score)(["ab"])).toEqual([20]);
    expect(judge.calls).toBe(1);
  });
});
