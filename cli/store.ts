/**
 * The durable store the run, approval, dead-letter and cache verbs read: `--store <path>`,
 * else the config's `durable.path` (`WEFT_DURABLE_PATH`), else `.weft/durable.db` in the
 * working directory. A store that does not exist is an error, not a new empty file.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { CliError, stringOption, type OptionSpec, type VerbInput } from "./command.js";
import { getConfig } from "../runtime/config/config.js";
import { SqliteStore } from "../runtime/durable/sqlite.js";

export const STORE_OPTION: OptionSpec = { type: "string", value: "<path>", description: "the durable store (default: config durable.path, else .weft/durable.db)" };

/** Opens the store `input` names, or throws a CliError saying how to point at one. */
export function openStore(input: VerbInput): SqliteStore {
  const given = stringOption(input, "store");
  const configured = given ?? (getConfig("durable.path") as string | undefined);
  const file = path.resolve(input.io.cwd, configured ?? path.join(".weft", "durable.db"));
  if (!existsSync(file)) {
    throw new CliError(`no durable store at ${file}`, given ? "check the path" : "run a durable program first, or pass --store <path> (or set durable.path)");
  }
  return new SqliteStore(file);
}

/** Runs `fn` on the store and closes it. */
export async function withStore<T>(input: VerbInput, fn: (store: SqliteStore) => T | Promise<T>): Promise<T> {
  const store = openStore(input);
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

/** An epoch-ms time as ISO text. */
export function when(ms: number | undefined): string {
  return ms === undefined ? "" : new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");
}
