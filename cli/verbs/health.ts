/** `weft health`: the config, the store, each configured provider and any registered check. */
import { stringOption, table, UsageError, type Verb } from "../command.js";
import { health as runHealth } from "../../runtime/health.js";

export const health: Verb = {
  name: "health",
  summary: "check the config, the durable store and each configured model provider",
  usage: ["[--provider <name>]... [--timeout <duration>] [--json]"],
  description: "Exit 0 when every check passes, 1 when any fails (each is listed with what it found).",
  options: {
    provider: { type: "string", multiple: true, value: "<name>", description: "check only this provider (repeatable)" },
    timeout: { type: "string", value: "<duration>", description: "each check's deadline (default 5s)" },
    json: { type: "boolean", description: "print JSON" },
  },
  async run(input) {
    const timeout = stringOption(input, "timeout");
    if (timeout !== undefined && !/^\d+(\.\d+)?(ms|s|m)?$/.test(timeout)) throw new UsageError(`--timeout: expected a duration such as 500ms or 5s, received "${timeout}"`);
    const providers = input.values.provider as readonly string[] | undefined;
    const report = await runHealth({ ...(timeout !== undefined && { timeout: /\d$/.test(timeout) ? Number(timeout) : (timeout as `${number}s`) }), ...(providers && { providers }) });
    if (input.values.json) input.io.out(JSON.stringify(report, null, 2));
    else {
      input.io.out(table(["check", "ok", "ms", "detail"], report.checks.map((c) => [c.name, c.ok ? "ok" : "FAIL", String(c.ms), c.detail])));
      if (!report.ok) input.io.err(`weft health: ${report.checks.filter((c) => !c.ok).map((c) => c.name).join(", ")} failed; see the table above`);
    }
    return report.ok ? 0 : 1;
  },
};
