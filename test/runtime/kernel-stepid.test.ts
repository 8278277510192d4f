/**
 * One step-id recipe (`childStepId`) for op calls, jit runs and vmap batches: siblings
 * under one parent are numbered by one counter, whatever kind of step they are.
 */
import { describe, expect, it } from "vitest";
import { getContext, jit, op, vmap, withContext } from "weft";

const seen: string[] = [];
export const probe = op({ kind: "cpu" }, (n: number): number => {
  seen.push(getContext().stepId);
  return n;
});
export const twice = jit(async (n: number) => probe(await probe(n)));

describe("step ids", () => {
  it("number op calls, jit runs and vmap batches under one parent with one counter", async () => {
    await twice(0); // traced and compiled on its first call
    seen.length = 0;
    await withContext({ tenant: "t" }, async () => {
      await probe(1);
      await twice(2);
      await vmap(probe)([3]);
      await probe(4);
    });
    const roots = seen.map((id) => id.split("/")[0]);
    expect(roots).toEqual(["probe#0", "jit(twice)#1", "jit(twice)#1", expect.stringMatching(/#2$/), "probe#3"]);
  });
});
