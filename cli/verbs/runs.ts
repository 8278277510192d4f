/** `weft runs list|show|resume`: durable runs in the store. */
import { CliError, printListing, type Verb } from "../command.js";
import { STORE_OPTION, openStore, when, withStore } from "../store.js";
import { decode } from "../../runtime/durable/codec.js";
import { preview } from "../../runtime/validate.js";
import { loadEntry, ENTRY_OPTIONS } from "../entry.js";

// The durable driver loads the op-call kernel: imported when a verb runs, so `--help` stays quick.
const durableApi = () => import("../../runtime/durable/index.js");

const json = { type: "boolean", description: "print JSON" } as const;

const list: Verb = {
  name: "list",
  summary: "list the runs: status, nodes done, dead letters, pending approvals",
  usage: ["[--json] [--store <path>]"],
  options: { json, store: STORE_OPTION },
  async run(input) {
    const { listRuns } = await durableApi();
    const runs = await withStore(input, (store) => listRuns({ store }));
    return printListing(input, runs, {
      empty: "no runs",
      headers: ["run", "status", "nodes", "dead letters", "approvals", "updated", "error"],
      row: (r) => [r.id, r.live ? `${r.status} (live)` : r.status, String(r.nodesDone), String(r.deadLetters), String(r.pendingApprovals), when(r.updatedAt), r.error ?? ""],
    });
  },
};

const show: Verb = {
  name: "show",
  summary: "show one run: its status, its journaled nodes, dead letters and approvals",
  usage: ["<run> [--json] [--store <path>]"],
  options: { json, store: STORE_OPTION },
  positionals: { min: 1, max: 1, names: "<run>" },
  async run(input) {
    const id = input.positionals[0]!;
    const { listRuns, approvals } = await durableApi();
    return withStore(input, async (store) => {
      const summary = (await listRuns({ store })).find((r) => r.id === id);
      if (!summary) throw new CliError(`no run "${id}" in ${store.file}`, "list the runs with `weft runs list`");
      const nodes = store.journal(id).map((n) => ({ key: n.key, value: safePreview(n.value) }));
      const letters = store.deadLetters(id).map((d) => ({ node: d.node, index: d.index, error: d.error, attempts: d.attempts, status: d.status }));
      const pending = await approvals({ store, run: id, all: true });
      const record = store.getRun(id);
      const result = record?.result ? safePreview(record.result) : undefined;
      if (input.values.json) {
        input.io.out(JSON.stringify({ ...summary, result, nodes, deadLetters: letters, approvals: pending }, null, 2));
        return 0;
      }
      const lines = [
        `run ${id}: ${summary.status}${summary.live ? ` (live, held by ${summary.owner})` : ""}`,
        `  created ${when(summary.createdAt)}, updated ${when(summary.updatedAt)}`,
        ...(summary.error ? [`  error: ${summary.error}`] : []),
        ...(result !== undefined ? [`  result: ${result}`] : []),
        `  nodes journaled: ${nodes.length}`,
        ...nodes.map((n) => `    ${n.key} = ${n.value}`),
      ];
      if (letters.length > 0) lines.push(`  dead letters: ${letters.length}`, ...letters.map((d) => `    ${d.node} [${d.index}] ${d.status}, ${d.attempts} attempts: ${d.error}`));
      if (pending.length > 0) lines.push(`  approvals: ${pending.length}`, ...pending.map((a) => `    ${a.key} (${a.op}) ${a.status}${a.by ? ` by ${a.by}` : ""}: ${a.reason}`));
      input.io.out(lines.join("\n"));
      return 0;
    });
  },
};

const resume: Verb = {
  name: "resume",
  summary: "drive a run again from its module's entry function: journaled nodes are skipped",
  usage: ["<run> <module> [--export <name>] [--force] [--store <path>]"],
  description:
    "Imports <module> (a built .js file) and calls its export (default: main) inside durable({ run }), so\n" +
    "every node the run finished returns its journaled value and only the rest runs. --force resumes\n" +
    "over changed code (values the current schemas refuse are computed again).",
  options: { ...ENTRY_OPTIONS, force: { type: "boolean", description: "resume even though an op or plan changed since the run began" }, store: STORE_OPTION },
  positionals: { min: 2, max: 2, names: "<run> <module>" },
  async run(input) {
    const [id, module] = input.positionals as [string, string];
    const store = openStore(input);
    const exists = store.getRun(id) !== undefined;
    if (!exists) {
      store.close();
      throw new CliError(`no run "${id}" in ${store.file}`, "list the runs with `weft runs list`");
    }
    store.close();
    const fn = await loadEntry(input, module);
    const { durable, configureDurable, closeDurable } = await durableApi();
    configureDurable({ path: store.file });
    try {
      const value = await durable({ run: id, ...(input.values.force ? { force: true } : {}) }, () => fn());
      input.io.out(`run ${id}: completed${value === undefined ? "" : `, result ${preview(value, false, 200)}`}`);
      return 0;
    } finally {
      closeDurable();
    }
  },
};

function safePreview(bytes: Uint8Array): string {
  try {
    return preview(decode(bytes), false, 120);
  } catch (error) {
    return `(cannot decode: ${(error as Error).message})`;
  }
}

export const runs: Verb = {
  name: "runs",
  summary: "list, show and resume durable runs",
  subcommands: [list, show, resume],
};

