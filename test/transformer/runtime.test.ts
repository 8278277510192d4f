/**
 * End to end through weft itself: this file is compiled by the weft vite plugin (see
 * vitest.config.ts), so its ops get their descriptors from the transformer, and calling
 * them runs the real runtime's validation.
 */
import { describe, expect, it } from "vitest";
import { describeOp, Module, op, ValidationError } from "weft";

/** What an answer is judged against. */
interface Rubric {
  criteria: {
    name: string;
    /** @minimum 0 */
    weight: number;
  }[];
}

type Verdict = { kind: "pass"; score: number } | { kind: "fail"; reasons: string[] };

let bodyRuns = 0;

/** Judges an answer. */
const judge = op(async (answer: string, rubric: Rubric): Promise<Verdict> => {
  bodyRuns++;
  if (answer === "lie") return { kind: "pass", score: "high" } as unknown as Verdict;
  return answer.length > rubric.criteria.length ? { kind: "pass", score: answer.length } : { kind: "fail", reasons: ["too short"] };
});

class Scorer extends Module {
  @op
  async score(values: number[], scale?: number): Promise<number> {
    return values.reduce((a, b) => a + b, 0) * (scale ?? 1);
  }
}

describe("ops compiled by the weft vite plugin", () => {
  it("carry the transformer's descriptor", () => {
    const desc = describeOp(judge)!;
    expect(desc.typed).toBe(true);
    expect(desc.doc).toBe("Judges an answer.");
    expect(desc.params).toEqual([
      { name: "answer", schema: { type: "string" } },
      { name: "rubric", schema: { $ref: "#/$defs/Rubric" } },
    ]);
    expect(desc.returns).toEqual({ $ref: "#/$defs/Verdict" });
    expect(desc.defs?.Rubric).toEqual({
      description: "What an answer is judged against.",
      type: "object",
      properties: {
        criteria: {
          type: "array",
          items: { type: "object", properties: { name: { type: "string" }, weight: { type: "number", minimum: 0 } }, required: ["name", "weight"] },
        },
      },
      required: ["criteria"],
    });
  });

  it("reject bad input before the body runs, naming parameter and path", async () => {
    const before = bodyRuns;
    const error = await judge("fine", { criteria: [{ name: "x", weight: -1 }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toBe("judge: invalid input: rubric at $.criteria[0].weight: expected >= 0, received -1");
    expect(bodyRuns).toBe(before);
  });

  it("check the output against the return type", async () => {
    await expect(judge("ok answer", { criteria: [] })).resolves.toEqual({ kind: "pass", score: 9 });
    const error = await judge("lie", { criteria: [] }).catch((e: unknown) => e);
    expect((error as ValidationError).issues[0]).toMatchObject({ direction: "output", parameter: "return", path: "$.score", expected: "number", received: '"high"' });
  });

  it("validate method ops, with optional parameters", async () => {
    const scorer = new Scorer();
    await expect(scorer.score([1, 2], 2)).resolves.toBe(6);
    await expect(scorer.score([1, 2])).resolves.toBe(3);
    await expect(scorer.score([1, "2" as unknown as number])).rejects.toThrow("Scorer.score: invalid input: values at $[1]: expected number, received \"2\"");
  });
});
