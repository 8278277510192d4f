/**
 * `weft clean`: removes what weft generated or cached for a project: the `weft gen` manifest
 * and its checks file, and the op result cache in the durable store. Runs, journals, dead
 * letters and approvals are kept (they are state, not cache).
 */
import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import { manifestChecksFile } from "../../decorators/descriptor.js";
import { stringOption, type Verb } from "../command.js";
import { STORE_OPTION, openStore } from "../store.js";

export const clean: Verb = {
  name: "clean",
  summary: "remove generated manifests and cached op results (runs are kept)",
  usage: ["[-p <tsconfig>] [--store <path>] [--dry-run]"],
  options: {
    project: { type: "string", short: "p", value: "<tsconfig>", description: "the project whose weft.manifest.json to remove (default: ./tsconfig.json)" },
    store: STORE_OPTION,
    "dry-run": { type: "boolean", description: "print what would be removed; remove nothing" },
  },
  run(input) {
    const dry = input.values["dry-run"] === true;
    const project = path.resolve(input.io.cwd, stringOption(input, "project") ?? "tsconfig.json");
    const manifest = input.io.env.WEFT_MANIFEST ? path.resolve(input.io.cwd, input.io.env.WEFT_MANIFEST) : path.join(path.dirname(project), "weft.manifest.json");
    const lines: string[] = [];
    for (const file of [manifest, manifestChecksFile(manifest)]) {
      if (!existsSync(file)) continue;
      if (!dry) rmSync(file);
      lines.push(`${dry ? "would remove" : "removed"} ${file}`);
    }
    let store: ReturnType<typeof openStore> | undefined;
    try {
      store = openStore(input);
    } catch {
      store = undefined; // no store: no cache to clear
    }
    if (store) {
      try {
        if (dry) lines.push(`would clear the cached results in ${store.file}`);
        else {
          const count = store.cacheClear();
          lines.push(`removed ${count} cached result${count === 1 ? "" : "s"} from ${store.file}`);
        }
      } finally {
        store.close();
      }
    }
    input.io.out(lines.length > 0 ? lines.join("\n") : "nothing to clean");
    return 0;
  },
};
