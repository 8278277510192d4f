/** `weft models list|test [id]`: the configured model providers, and one real call. */
import { CliError, printListing, type Verb } from "../command.js";
import { configuredProviders, resolveModel } from "../../runtime/models/registry.js";
import { getConfig } from "../../runtime/config/config.js";

const json = { type: "boolean", description: "print JSON" } as const;

const list: Verb = {
  name: "list",
  summary: "list the configured providers and the models each offers",
  usage: ["[--json]"],
  options: { json },
  async run(input) {
    const rows: { provider: string; model: string; default: boolean; source: string }[] = [];
    const fallback = String(getConfig("models.default"));
    for (const p of configuredProviders()) {
      const provider = resolveModel(`${p.name}:${p.model ?? "any"}`, {}).provider;
      let names: readonly string[] = p.model ? [p.model] : [];
      let source = p.model ? "config" : "";
      if (provider.listModels) {
        try {
          names = await provider.listModels(AbortSignal.timeout(10_000));
          source = "provider";
        } catch (error) {
          throw new CliError(`provider ${p.name}: listing its models failed: ${(error as Error).message}`, "check it with `weft health`");
        }
      }
      for (const model of names) rows.push({ provider: p.name, model: `${p.name}:${model}`, default: `${p.name}:${model}` === fallback, source });
    }
    return printListing(input, rows, { json: { default: fallback, models: rows }, headers: ["model", "default", "from"], row: (r) => [r.model, r.default ? "*" : "", r.source] });
  },
};

const test: Verb = {
  name: "test",
  summary: "make one call to a model and print its latency, usage and cost",
  usage: ["[<id>] [--prompt <text>] [--json]"],
  description: "<id> is provider:model (default: the config's models.default).",
  options: { prompt: { type: "string", value: "<text>", description: 'what to send (default: "Say hello.")' }, json },
  positionals: { min: 0, max: 1, names: "<id>" },
  async run(input) {
    const id = input.positionals[0] ?? "default";
    const prompt = (input.values.prompt as string | undefined) ?? "Say hello.";
    // models() loads the op-call kernel: imported here, so `--help` stays quick.
    const { models: api } = await import("../../runtime/models/models.js");
    const started = performance.now();
    const result = await api.generate(id, prompt, { maxTokens: 32 });
    const ms = performance.now() - started;
    const resolved = resolveModel(id, { model: getConfig("models.default") });
    const out = { model: resolved.id, latencyMs: Math.round(ms), usage: result.usage, text: result.text };
    if (input.values.json) input.io.out(JSON.stringify(out, null, 2));
    else {
      const u = result.usage;
      input.io.out(
        [
          `${resolved.id}: ${Math.round(ms)} ms`,
          `  usage: ${u.inputTokens} input + ${u.outputTokens} output tokens`,
          `  cost:  ${u.costUsd === undefined ? "unpriced" : `$${u.costUsd.toFixed(6)}`}`,
          `  reply: ${result.text.slice(0, 200).replace(/\s+/g, " ")}`,
        ].join("\n"),
      );
    }
    return 0;
  },
};

export const models: Verb = {
  name: "models",
  summary: "list the configured models, and test one with a real call",
  subcommands: [list, test],
};
