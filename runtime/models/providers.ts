/**
 * The built-in provider factories' front: each provider's module (request building, reply
 * and stream parsing, error mapping) loads when a provider of that kind is made, not with
 * weft.
 */
import { lazyModule } from "../lazy.js";
import type * as AiSdk from "./ai-sdk.js";
import type { AiSdkProviderOptions } from "./ai-sdk.js";
import type * as OpenAI from "./openai.js";
import type { OpenAICompatibleOptions } from "./openai.js";
import type { ModelProvider } from "./provider.js";

const openai = lazyModule<typeof OpenAI>("./openai.js", import.meta.url, () => import("./openai.js"));
const aiSdk = lazyModule<typeof AiSdk>("./ai-sdk.js", import.meta.url, () => import("./ai-sdk.js"));

/**
 * An OpenAI-compatible provider.
 *
 * @example
 * ```ts
 * models.register("vllm", openaiCompatible({ name: "vllm", baseURL: "http://127.0.0.1:8000/v1", rateLimits: { concurrency: 8 } }));
 * const text = await models("vllm:qwen2.5-7b-instruct", "Say hi");
 * ```
 */
export function openaiCompatible(options: OpenAICompatibleOptions): ModelProvider {
  return openai().openaiCompatible(options);
}

/**
 * A weft provider backed by AI SDK models.
 *
 * @example
 * ```ts
 * import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
 * const gateway = createOpenAICompatible({ name: "gateway", baseURL: "http://127.0.0.1:4000/v1" });
 * models.register("gateway", aiSdkProvider({ name: "gateway", languageModel: (id) => gateway(id), embeddingModel: (id) => gateway.embeddingModel(id) }));
 * await models("gateway:llama-3.1-8b", "Say hi");
 * ```
 */
export function aiSdkProvider(options: AiSdkProviderOptions): ModelProvider {
  return aiSdk().aiSdkProvider(options);
}
