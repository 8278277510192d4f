/**
 * The parameters and results of the model ops (`models.chat`, `models.object`,
 * `models.stream`, `models.embed`), as JSON Schemas: what a transformer would have derived
 * from their types. Every call is checked against them, by the checks generated from them
 * (checks.generated.ts, written by transformers/checks.ts's generator and kept equal to
 * them by test/models/checks.test.ts), as an op built with the transformer is.
 */
import type { JsonSchema } from "../../decorators/descriptor.js";

const MESSAGE: JsonSchema = {
  type: "object",
  properties: { role: { enum: ["system", "user", "assistant"] }, content: { type: "string" } },
  required: ["role", "content"],
  additionalProperties: false,
};
const PROMPT: JsonSchema = { anyOf: [{ type: "string" }, { type: "array", items: MESSAGE }] };
const MODEL_ID: JsonSchema = { type: "string", minLength: 1 };
const CHAT_OPTIONS: JsonSchema = {
  type: "object",
  properties: {
    temperature: { type: "number", minimum: 0 },
    maxTokens: { type: "integer", minimum: 1 },
    topP: { type: "number", minimum: 0, maximum: 1 },
    stop: { type: "array", items: { type: "string" } },
    seed: { type: "integer" },
    system: { type: "string" },
    // Internal to models.object: the schema the reply must match.
    schema: { type: "object", properties: { name: { type: "string" }, schema: { type: ["object", "boolean"] } }, required: ["name", "schema"], additionalProperties: false },
  },
  additionalProperties: false,
};
const OBJECT_OPTIONS: JsonSchema = {
  type: "object",
  properties: {
    ...(CHAT_OPTIONS as { properties: Record<string, unknown> }).properties,
    schema: { type: ["object", "boolean"] },
    schemaName: { type: "string", pattern: "^[A-Za-z0-9_-]{1,64}$" },
    defs: { type: "object" },
  },
  additionalProperties: false,
};
const EMBED_OPTIONS: JsonSchema = { type: "object", properties: { dimensions: { type: "integer", minimum: 1 } }, additionalProperties: false };
const EMBED_INPUT: JsonSchema = { anyOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] };
const VECTOR: JsonSchema = { type: "array", items: { type: "number" } };
const RESULT: JsonSchema = {
  type: "object",
  properties: { text: { type: "string" }, model: { type: "string" }, usage: { type: "object" }, finishReason: { type: "string" }, requestId: { type: "string" } },
  required: ["text", "model", "usage", "finishReason"],
};

/** One op's signature: its parameters (name, schema, optional) and its result's schema. */
export interface ModelOpSignature {
  readonly params: readonly (readonly [name: string, schema: JsonSchema, optional?: boolean])[];
  readonly returns: JsonSchema | undefined;
}

/** The model ops' signatures, by op name. */
export const MODEL_OPS = {
  "models.chat": { params: [["model", MODEL_ID], ["prompt", PROMPT], ["options", CHAT_OPTIONS, true]], returns: RESULT },
  "models.object": { params: [["model", MODEL_ID], ["prompt", PROMPT], ["options", OBJECT_OPTIONS], ["conversation", {}]], returns: undefined },
  "models.stream": { params: [["model", MODEL_ID], ["prompt", PROMPT], ["options", CHAT_OPTIONS, true], ["sink", {}]], returns: RESULT },
  "models.embed": { params: [["model", MODEL_ID], ["input", EMBED_INPUT], ["options", EMBED_OPTIONS, true]], returns: { anyOf: [VECTOR, { type: "array", items: VECTOR }] } },
} as const satisfies Readonly<Record<string, ModelOpSignature>>;

/** A model op's name. */
export type ModelOpName = keyof typeof MODEL_OPS;
