/**
 * `models.object<T>()` with `T`'s schema injected by the transformer: this file is compiled
 * by the weft vite plugin, as a user's would be.
 */
import { describe, expect, it } from "vitest";
import { ValidationError, models, subscribe, type RuntimeEvent } from "weft";
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

  it("an instance's object<T>() gets T's schema injected too, with the instance's defaults", async () => {
    const mock = await startMockOpenAI({ port: 0, replies: [{ json: { stars: 3, label: "bad" } }] });
    try {
      models.register("instmock", openaiCompatible({ name: "instmock", baseURL: mock.url }));
      const judge = models.instance("instmock:gpt-test", { temperature: 0 });
      const score = await judge.object<Score>("Rate it");
      expect(score).toEqual({ stars: 3, label: "bad" });
      const body = mock.requests[0]!.body as { temperature: number; response_format: { json_schema: { schema: { properties: Record<string, unknown> } } } };
      expect(body.temperature).toBe(0);
      expect(body.response_format.json_schema.schema.properties.stars).toMatchObject({ minimum: 1, maximum: 5 });
      // Through a property chain as well (`this.judge.object<T>()` in a Module).
      const holder = { judge: models.instance("local:judge") };
      const local = await holder.judge.object<Score>("Rate this answer");
      expect(["good", "bad"]).toContain(local.label);
    } finally {
      await mock.close();
    }
  });

  it("each re-ask is a retry of models.object: counted, evented, and fed the reply and the validation message", async () => {
    const mock = await startMockOpenAI({ port: 0, replies: [{ json: { stars: 0, label: "good" } }, { text: "not json at all" }, { json: { stars: 7, label: "meh" } }] });
    const events: RuntimeEvent[] = [];
    const stop = subscribe((e) => events.push(e));
    try {
      models.register("reaskmock", openaiCompatible({ name: "reaskmock", baseURL: mock.url }));
      const error = await models.object<Score>("reaskmock:gpt-test", "Rate it", { attempts: 3 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).op).toBe("models.object");
      expect(mock.requests).toHaveLength(3);
      const retries = events.filter((e) => e.type === "op:retry" && e.op === "models.object");
      expect(retries.map((e) => (e as { attempt: number }).attempt)).toEqual([1, 2]);
      expect(events.find((e) => e.type === "op:end" && e.op === "models.object")).toMatchObject({ attempts: 3 });
      const second = (mock.requests[1]!.body as { messages: { role: string; content: string }[] }).messages;
      expect(second.at(-2)).toEqual({ role: "assistant", content: JSON.stringify({ stars: 0, label: "good" }) });
      expect(second.at(-1)!.content).toMatch(/^That reply is invalid: return at \$\.stars: expected >= 1, received 0\./);
      const third = (mock.requests[2]!.body as { messages: { role: string; content: string }[] }).messages;
      expect(third).toHaveLength(second.length + 2);
      expect(third.at(-1)!.content).toMatch(/the reply is not JSON/);
    } finally {
      stop();
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
