/**
 * `weft/testing`: tools for testing code built on weft.
 *
 * @example
 * ```ts
 * import { startMockOpenAI } from "weft/testing";
 * const mock = await startMockOpenAI({ port: 0 });
 * // ... point an OpenAI-compatible provider at mock.url ...
 * await mock.close();
 * ```
 */
export { prng } from "../runtime/models/tokens.js";
export { startMockOpenAI, type MockOpenAI, type MockOpenAIOptions, type MockReply, type MockRequest } from "./mock-openai.js";
