/** `weft cache clear [op]`: cached op results in the durable store. */
import type { Verb } from "../command.js";
import { STORE_OPTION, withStore } from "../store.js";

const clear: Verb = {
  name: "clear",
  summary: "remove cached op results (of one op id, or all)",
  usage: ["[<op-id>] [--store <path>]"],
  options: { store: STORE_OPTION },
  positionals: { min: 0, max: 1, names: "<op-id>" },
  async run(input) {
    const op = input.positionals[0];
    // The durable driver loads the op-call kernel: imported here, so `--help` stays quick.
    const { clearCache } = await import("../../runtime/durable/index.js");
    const removed = await withStore(input, (store) => clearCache(op, { store }));
    input.io.out(`removed ${removed} cached result${removed === 1 ? "" : "s"}${op ? ` of ${op}` : ""}`);
    return 0;
  },
};

export const cache: Verb = {
  name: "cache",
  summary: "manage the op result cache",
  subcommands: [clear],
};
