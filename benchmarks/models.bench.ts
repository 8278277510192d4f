/**
 * `model_call_overhead_us`: what a weft model call adds over a raw `fetch` of the same
 * request to the same server (the mock OpenAI server from weft/testing, on 127.0.0.1, in
 * this process), beside the AI SDK's `generateText` and the official `openai` client on
 * that server. Measured side by side in one run (`interleaved`), as CPU time per call: the
 * server's own work is the same in every task and cancels out of each difference.
 */
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText } from "ai";
import OpenAI from "openai";
import { models, openaiCompatible } from "weft";
import { startMockOpenAI } from "weft/testing";
import { interleaved, round, type Metric, type Suite } from "./harness.js";

export const run: Suite = async ({ quick }) => {
  const mock = await startMockOpenAI({ port: 0, reply: () => ({ text: "Rayleigh scattering makes the sky blue.", usage: { prompt_tokens: 12, completion_tokens: 7 } }) });
  try {
    const apiKey = "sk-bench-000000000000";
    models.register("bench", openaiCompatible({ name: "bench", baseURL: mock.url, apiKey }));
    const sdk = createOpenAICompatible({ name: "bench", baseURL: mock.url, apiKey });
    const sdkModel = sdk("gpt-bench");
    const client = new OpenAI({ baseURL: mock.url, apiKey, maxRetries: 0 });
    const prompt = "Why is the sky blue?";
    const headers = { "content-type": "application/json", authorization: `Bearer ${apiKey}` };
    const url = `${mock.url}/chat/completions`;
    let sink = 0;
    const cost = await interleaved(
      {
        fetch: async () => {
          const response = await fetch(url, { method: "POST", headers, body: JSON.stringify({ model: "gpt-bench", messages: [{ role: "user", content: prompt }] }) });
          const json = (await response.json()) as { choices: { message: { content: string } }[] };
          sink += json.choices[0]!.message.content.length;
        },
        // The same, cancellable: weft always passes the call's signal, and undici pays for listening to it.
        fetchSignal: async () => {
          const controller = new AbortController();
          const response = await fetch(url, { method: "POST", headers, body: JSON.stringify({ model: "gpt-bench", messages: [{ role: "user", content: prompt }] }), signal: controller.signal });
          const json = (await response.json()) as { choices: { message: { content: string } }[] };
          sink += json.choices[0]!.message.content.length;
        },
        weft: async () => {
          sink += (await models("bench:gpt-bench", prompt)).length;
        },
        aiSdk: async () => {
          sink += (await generateText({ model: sdkModel, prompt, maxRetries: 0 })).text.length;
        },
        openai: async () => {
          const reply = await client.chat.completions.create({ model: "gpt-bench", messages: [{ role: "user", content: prompt }] });
          sink += reply.choices[0]!.message.content!.length;
        },
      },
      { rounds: quick ? 3 : 15, sampleMs: quick ? 20 : 150 },
    );
    if (sink === -1) console.log(sink);
    const over = (name: string) => cost[name]!.cpuUs - cost.fetch!.cpuUs;
    const base = `raw fetch of the same request: ${round(cost.fetch!.cpuUs)} µs CPU (${round(cost.fetch!.wallUs)} µs wall) per call, mock server in-process`;
    const metrics: Metric[] = [
      { name: "model_call_overhead_us", value: round(over("weft")), unit: "µs/call (CPU)", baseline: base, ratio: round(cost.weft!.cpuUs / cost.fetch!.cpuUs) },
      { name: "model_call_ai_sdk_overhead_us", value: round(over("aiSdk")), unit: "µs/call (CPU)", baseline: "AI SDK generateText over raw fetch, same server", ratio: round(cost.aiSdk!.cpuUs / cost.fetch!.cpuUs) },
      { name: "model_call_openai_client_overhead_us", value: round(over("openai")), unit: "µs/call (CPU)", baseline: "openai client over raw fetch, same server", ratio: round(cost.openai!.cpuUs / cost.fetch!.cpuUs) },
      { name: "model_call_overhead_vs_cancellable_fetch_us", value: round(cost.weft!.cpuUs - cost.fetchSignal!.cpuUs), unit: "µs/call (CPU)", baseline: `raw fetch with an AbortSignal: ${round(cost.fetchSignal!.cpuUs)} µs CPU per call` },
      { name: "model_call_wall_overhead_us", value: round(cost.weft!.wallUs - cost.fetch!.wallUs), unit: "µs/call (wall)", baseline: "weft over raw fetch, wall clock" },
    ];
    return metrics;
  } finally {
    await mock.close();
  }
};
