/** `weft dlq list|replay`: batch items that failed for good in durable runs. */
import { CliError, printListing, type Verb } from "../command.js";
import { STORE_OPTION, openStore, when, withStore } from "../store.js";
import { ENTRY_OPTIONS, loadEntry } from "../entry.js";

// The durable driver loads the op-call kernel: imported when a verb runs, so `--help` stays quick.
const durableApi = () => import("../../runtime/durable/index.js");
import { preview } from "../../runtime/validate.js";

const list: Verb = {
  name: "list",
  summary: "list dead letters: run, node, item index, error, attempts",
  usage: ["[<run>] [--all] [--json] [--store <path>]"],
  options: {
    all: { type: "boolean", description: "include replayed letters (default: open ones only)" },
    json: { type: "boolean", description: "print JSON" },
    store: STORE_OPTION,
  },
  positionals: { min: 0, max: 1, names: "<run>" },
  async run(input) {
    const run = input.positionals[0];
    const { deadLetters } = await durableApi();
    const letters = (await withStore(input, (store) => deadLetters({ store, ...(run !== undefined && { run }) }))).filter((d) => input.values.all || d.status === "open");
    return printListing(input, letters, {
      json: letters.map((d) => ({ ...d, input: preview(d.input, false, 200) })),
      empty: "no dead letters",
      headers: ["run", "node", "index", "status", "attempts", "at", "error"],
      row: (d) => [d.run, d.node, String(d.index), d.status, String(d.attempts), when(d.at), `${d.errorType}: ${d.error}`],
    });
  },
};

const replay: Verb = {
  name: "replay",
  summary: "run a run's dead letters again through its module's entry function",
  usage: ["<run> <module> [--export <name>] [--store <path>]"],
  description: "Reopens the run and calls the module's export inside it: journaled items are skipped, so only\nthe failed items run; each that succeeds now is marked replayed.",
  options: { ...ENTRY_OPTIONS, store: STORE_OPTION },
  positionals: { min: 2, max: 2, names: "<run> <module>" },
  async run(input) {
    const [run, module] = input.positionals as [string, string];
    const store = openStore(input);
    const open = store.deadLetters(run).filter((d) => d.status === "open").length;
    const file = store.file;
    store.close();
    if (open === 0) throw new CliError(`run "${run}" has no open dead letters`, "`weft dlq list` shows them");
    const fn = await loadEntry(input, module);
    const { deadLetters, replayDeadLetters, configureDurable, closeDurable } = await durableApi();
    configureDurable({ path: file });
    try {
      await replayDeadLetters({ run }, () => fn());
      const left = (await deadLetters({ run })).filter((d) => d.status === "open").length;
      input.io.out(`run ${run}: replayed ${open - left} of ${open} dead letters${left > 0 ? `; ${left} failed again` : ""}`);
      return left > 0 ? 1 : 0;
    } finally {
      closeDurable();
    }
  },
};

export const dlq: Verb = {
  name: "dlq",
  summary: "list and replay dead letters (batch items that failed for good)",
  subcommands: [list, replay],
};
