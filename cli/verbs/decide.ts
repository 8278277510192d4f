/** `weft approve|deny <run> <node>`: decide a risky call a durable run is waiting on. */
import os from "node:os";
import { CliError, stringOption, type Verb } from "../command.js";
import { STORE_OPTION, withStore } from "../store.js";

function decision(kind: "approve" | "deny"): Verb {
  return {
    name: kind,
    summary: `${kind} a risky op call a durable run is waiting on`,
    usage: [`<run> <node> [--by <name>] [--reason <text>] [--store <path>]`],
    description: `<node> is the call's key, as \`weft runs show <run>\` lists it under approvals. The waiting run\n${kind === "approve" ? "continues" : "fails that call with ApprovalDenied"}, in whichever process holds it.`,
    options: {
      by: { type: "string", value: "<name>", description: "who decides, for the record (default: the user name)" },
      reason: { type: "string", value: "<text>", description: "why, for the record" },
      store: STORE_OPTION,
    },
    positionals: { min: 2, max: 2, names: "<run> <node>" },
    async run(input) {
      const [run, key] = input.positionals as [string, string];
      // The durable driver loads the op-call kernel: imported here, so `--help` stays quick.
      const { approvals, decide } = await import("../../runtime/durable/index.js");
      return withStore(input, async (store) => {
        const reason = stringOption(input, "reason");
        const done = await decide({ store, run, key, decision: kind, by: stringOption(input, "by") ?? os.userInfo().username, ...(reason !== undefined && { reason }) });
        if (!done) {
          const pending = (await approvals({ store, run })).map((a) => a.key);
          throw new CliError(
            `no pending approval "${key}" in run "${run}"`,
            pending.length > 0 ? `pending in that run: ${pending.join(", ")}` : "`weft runs show <run>` lists its approvals",
          );
        }
        input.io.out(`${kind === "approve" ? "approved" : "denied"} ${key} in run ${run}`);
        return 0;
      });
    },
  };
}

export const approve = decision("approve");
export const deny = decision("deny");
