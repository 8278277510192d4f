/**
 * `model_call_overhead_us`: what a weft model call adds over a raw `fetch` of the same
 * request to the same server (the mock OpenAI server from weft/testing, on 127.0.0.1),
 * beside the AI SDK's `generateText` and the official `openai` client on that server.
 * Measured side by side in one run (`interleaved`), as CPU time per call of this process.
 *
 * What keeps the figure fair and steady on a shared, busy host:
 * - The server runs in a child process, so its CPU (parsing, the reply, its collections) is
 *   in no sample: every task sends the same bytes and gets the same reply, so the server's
 *   work would cancel out of each difference anyway, but it doubled the baseline and its
 *   noise. Only the client side is measured: what weft, the peers and fetch do.
 * - Each round alternates the tasks in short runs (`slices`), so a change in the host's load
 *   within a round lands on every task alike, and samples are sized in CPU time: on a busy
 *   host a call's wall time (waiting for the server's turn) grows several-fold, which left a
 *   wall-sized sample with a handful of calls.
 * - Collections run where they fall (once per round forced, never between runs), so each
 *   task pays for its own garbage inside its own samples.
 * - Each figure is the median over rounds of the difference within a round
 *   (`pairedCpuOverUs`), after a warm-up of two sample lengths per task.
 *
 * Both sides send the same bytes (method, headers, body) and parse the same JSON reply;
 * weft also validates the call, resolves the model, checks limits and budgets, records usage
 * and cost, and builds its result. `model_call_overhead_vs_cancellable_fetch_us` is the same
 * comparison for a call that can be cancelled: weft under `withContext({ signal })` against
 * fetch with an `AbortSignal`.
 *
 * `model_call_machinery_us` isolates weft's own work from the network: the same call to a
 * provider that answers at once, against calling that provider directly (the op kernel,
 * checks, model resolution, rate limiter, usage ledgers, result).
 */
import { spawn } from "node:child_process";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText } from "ai";
import OpenAI from "openai";
import { models, openaiCompatible, withContext, type ModelProvider } from "weft";
import { interleaved, pairedCpuOverUs, round, type Metric, type Suite } from "./harness.js";
import { startupBuild } from "./startup.bench.js";

// The mock server's process: it serves one canned reply, drops its request records as it
// goes (so its heap stays the same size), prints its URL and stops when its stdin closes.
const SERVER = `
const { startMockOpenAI } = await import(process.argv[1]);
const mock = await startMockOpenAI({ port: 0, reply: () => {
  if (mock.requests.length >= 256) mock.requests.length = 0;
  return { text: "Rayleigh scattering makes the sky blue.", usage: { prompt_tokens: 12, completion_tokens: 7 } };
} });
process.stdout.write(mock.url + "\\n");
process.stdin.on("end", () => void mock.close().then(() => process.exit(0)));
process.stdin.resume();
`;

/** The mock server in a child process, on the same weft build as this suite's. */
async function serve(): Promise<{ readonly url: string; close(): Promise<void> }> {
  // Compiled (npm run bench), weft resolves to dist/ beside .build/; under vitest, to the sources, so the child takes the repository's dist/.
  const testing = import.meta.url.endsWith(".js") ? new URL("../../dist/testing/index.js", import.meta.url).href : new URL("testing/index.js", startupBuild().entry).href;
  const child = spawn(process.execPath, ["--input-type=module", "-e", SERVER, testing], { stdio: ["pipe", "pipe", "inherit"], env: { ...process.env, NODE_OPTIONS: "" } });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      if (out.includes("\n")) resolve(out.trim());
    });
    child.once("exit", (code) => reject(new Error(`models bench: the mock server exited (${code}) before it listened`)));
  });
  return {
    url,
    close: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

export const run: Suite = async ({ quick }) => {
  const mock = await serve();
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
    const tasks = {
      fetch: async () => {
        const response = await fetch(url, { method: "POST", headers, body: JSON.stringify({ model: "gpt-bench", messages: [{ role: "user", content: prompt }] }) });
        const json = (await response.json()) as { choices: { message: { content: string } }[] };
        sink += json.choices[0]!.message.content.length;
      },
      // The same, cancellable: undici pays for listening to a signal (a listener, a weak
      // reference and a finalizer per request). weft hands fetch the call's signal only when
      // something can fire it (a deadline, a canceller), as here in `weftCancellable`.
      fetchSignal: async () => {
        const controller = new AbortController();
        const response = await fetch(url, { method: "POST", headers, body: JSON.stringify({ model: "gpt-bench", messages: [{ role: "user", content: prompt }] }), signal: controller.signal });
        const json = (await response.json()) as { choices: { message: { content: string } }[] };
        sink += json.choices[0]!.message.content.length;
      },
      weft: async () => {
        sink += (await models("bench:gpt-bench", prompt)).length;
      },
      weftCancellable: async () => {
        const controller = new AbortController();
        sink += (await withContext({ signal: controller.signal }, () => models("bench:gpt-bench", prompt))).length;
      },
      aiSdk: async () => {
        sink += (await generateText({ model: sdkModel, prompt, maxRetries: 0 })).text.length;
      },
      openai: async () => {
        const reply = await client.chat.completions.create({ model: "gpt-bench", messages: [{ role: "user", content: prompt }] });
        sink += reply.choices[0]!.message.content!.length;
      },
    };
    const cost = await interleaved(tasks, { rounds: quick ? 3 : 31, sampleMs: quick ? 20 : 120, slices: quick ? 2 : 6, calibrate: "cpu" });
    if (sink === -1) console.log(sink);
    const over = (name: string, base = "fetch") => pairedCpuOverUs(cost[name]!, cost[base]!);
    // The middle half of the rounds' differences: how far one round's figure strays on this host.
    const spread = (name: string, base = "fetch") => {
      const differences = cost[name]!.cpuSamples.map((x, i) => x - cost[base]!.cpuSamples[i]!).sort((a, b) => a - b);
      const at = (q: number) => Math.round(differences[Math.round(q * (differences.length - 1))]!);
      return `rounds' differences ${at(0.25)} to ${at(0.75)} µs (middle half of ${differences.length})`;
    };
    const base = `raw fetch of the same request: ${round(cost.fetch!.cpuUs)} µs CPU (${round(cost.fetch!.wallUs)} µs wall) per call, mock server in a child process; ${spread("weft")}`;
    const metrics: Metric[] = [
      { name: "model_call_overhead_us", value: round(over("weft")), unit: "µs/call (CPU)", baseline: base, ratio: round(cost.weft!.cpuUs / cost.fetch!.cpuUs) },
      { name: "model_call_ai_sdk_overhead_us", value: round(over("aiSdk")), unit: "µs/call (CPU)", baseline: "AI SDK generateText over raw fetch, same server", ratio: round(cost.aiSdk!.cpuUs / cost.fetch!.cpuUs) },
      { name: "model_call_openai_client_overhead_us", value: round(over("openai")), unit: "µs/call (CPU)", baseline: "openai client over raw fetch, same server", ratio: round(cost.openai!.cpuUs / cost.fetch!.cpuUs) },
      { name: "model_call_overhead_vs_cancellable_fetch_us", value: round(over("weftCancellable", "fetchSignal")), unit: "µs/call (CPU)", baseline: `a cancellable weft call (withContext({ signal })) over raw fetch with an AbortSignal: ${round(cost.fetchSignal!.cpuUs)} µs CPU per call; ${spread("weftCancellable", "fetchSignal")}` },
      { name: "model_call_wall_overhead_us", value: round(cost.weft!.wallUs - cost.fetch!.wallUs), unit: "µs/call (wall)", baseline: "weft over raw fetch, wall clock" },
    ];
    metrics.push(await machinery(quick));
    return metrics;
  } finally {
    await mock.close();
  }
};

/** weft's own CPU per model call, without the network: `models()` over a provider that answers at once, against calling it directly. */
async function machinery(quick: boolean): Promise<Metric> {
  const reply = { text: "Rayleigh scattering makes the sky blue.", usage: { inputTokens: 12, outputTokens: 7, cachedInputTokens: 0, reasoningTokens: 0 }, finishReason: "stop" };
  const instant: ModelProvider = { name: "instant", capabilities: { chat: true, stream: false, embed: false, jsonSchema: true }, generate: async () => reply };
  models.register("instant", instant);
  const prompt = "Why is the sky blue?";
  let sink = 0;
  const cost = await interleaved(
    {
      direct: async () => {
        sink += (await instant.generate({ model: "m", messages: [{ role: "user", content: prompt }], signal: new AbortController().signal })).text.length;
      },
      weft: async () => {
        sink += (await models("instant:m", prompt)).length;
      },
    },
    { rounds: quick ? 3 : 15, sampleMs: quick ? 10 : 60 },
  );
  if (sink === -1) console.log(sink);
  return { name: "model_call_machinery_us", value: round(pairedCpuOverUs(cost.weft!, cost.direct!)), unit: "µs/call (CPU)", baseline: `the provider called directly: ${round(cost.direct!.cpuUs)} µs CPU per call; no network` };
}
