/**
 * `models.object<T>()` with `T`'s schema injected by the transformer: this file is compiled
 * by the weft vite plugin, as a user's would be.
 */
import { describe, expect, it } from "vitest";
import { ValidationError, models } from "weft";
import { startMockOpenAI } from "weft/testing";
import { openaiCompatible } from "weft";

interface Score {
  /** @minimum 1 @maximum 5 */
  readonly stars: number;
  readonly label: "good" | "bad";
  readonly notes?: Note[];
}
interface Note {
  readonly text: string;
}

describe("models.object<T>() with the transformer", () => {
  it("the local provider answers with a value of T, from T's injected schema", async () => {
    const score = await models.object<Score>("local:judge", "Rate this answer");
    expect(score.stars).toBeGreaterThanOrEqual(1);
    expect(score.stars).toBeLessThanOrEqual(5);
    expect(["good", "bad"]).toContain(score.label);
  });

  it("sends T's schema (with its definitions) and re-asks when the reply breaks a constraint", async () => {
    const mock = await startMockOpenAI({ port: 0, replies: [{ json: { stars: 9, label: "good" } }, { json: { stars: 4, label: "good", notes: [{ text: "fine" }] } }] });
    try {
      models.register("objmock", openaiCompatible({ name: "objmock", baseURL: mock.url }));
      const score = await models.object<Score>("objmock:gpt-test", "Rate it");
      expect(score).toEqual({ stars: 4, label: "good", notes: [{ text: "fine" }] });
      const sent = (mock.requests[0]!.body as { response_format: { json_schema: { schema: { properties: Record<string, unknown>; $defs?: Record<string, unknown> } } } }).response_format.json_schema.schema;
      expect(sent.properties.stars).toMatchObject({ type: "number", minimum: 1, maximum: 5 });
      expect(sent.properties.label).toMatchObject({ enum: ["bad", "good"] });
      expect(Object.keys(sent.$defs ?? {})).toContain("Note");
      const reask = (mock.requests[1]!.body as { messages: { content: string }[] }).messages.at(-1)!.content;
      expect(reask).toMatch(/stars: expected <= 5, received 9/);
    } finally {
      await mock.close();
    }
  });

  it("an explicit schema wins, and no T and no schema is a clear error", async () => {
    await expect(models.object("local:judge", "Rate")).rejects.toThrow(/no schema for T/);
    const error = await models.object("local:judge", "Rate", { schema: { type: "object", properties: { n: { type: "integer", minimum: 3, maximum: 3 } }, required: ["n"] } });
    expect(error).toEqual({ n: 3 });
    expect(ValidationError).toBeDefined();
  });
});
